package pcapng

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"testing"
	"time"
)

// packet is one Enhanced Packet Block read back.
type packet struct {
	ts      time.Time
	data    []byte
	comment string
}

// readFile walks a little-endian pcapng file as Writer writes it: one
// section, one interface, then Enhanced Packet Blocks. It checks every
// block's framing and returns the interface's link type and the packets.
func readFile(b []byte) (linkType uint16, pkts []packet, err error) {
	le := binary.LittleEndian
	for n := 0; len(b) > 0; n++ {
		if len(b) < 12 {
			return 0, nil, fmt.Errorf("block %d: %d bytes left, less than a block", n, len(b))
		}
		typ, size := le.Uint32(b), le.Uint32(b[4:])
		if size < 12 || size%4 != 0 || int(size) > len(b) {
			return 0, nil, fmt.Errorf("block %d: total length %d with %d bytes left", n, size, len(b))
		}
		if le.Uint32(b[size-4:]) != size {
			return 0, nil, fmt.Errorf("block %d: trailing length %d, want %d", n, le.Uint32(b[size-4:]), size)
		}
		body := b[8 : size-4]
		b = b[size:]
		switch {
		case n == 0:
			if typ != blockSHB || len(body) < 16 || le.Uint32(body) != byteOrderMagic || le.Uint16(body[4:]) != 1 {
				return 0, nil, fmt.Errorf("block 0: not a little-endian pcapng 1.x section header")
			}
		case n == 1:
			if typ != blockIDB || len(body) < 8 {
				return 0, nil, fmt.Errorf("block 1: type %#x, want an interface description", typ)
			}
			linkType = le.Uint16(body)
		case typ == blockEPB:
			if len(body) < 20 || le.Uint32(body) != 0 {
				return 0, nil, fmt.Errorf("block %d: a packet block of %d bytes or not on interface 0", n, len(body))
			}
			us := uint64(le.Uint32(body[4:]))<<32 | uint64(le.Uint32(body[8:]))
			capLen, origLen := int(le.Uint32(body[12:])), int(le.Uint32(body[16:]))
			padded := (capLen + 3) &^ 3
			if capLen != origLen || 20+padded > len(body) {
				return 0, nil, fmt.Errorf("block %d: captured %d of %d bytes in a body of %d", n, capLen, origLen, len(body))
			}
			p := packet{ts: time.UnixMicro(int64(us)).UTC(), data: body[20 : 20+capLen]}
			for opts := body[20+padded:]; len(opts) > 0; {
				if len(opts) < 4 {
					return 0, nil, fmt.Errorf("block %d: a truncated option", n)
				}
				code, l := le.Uint16(opts), int(le.Uint16(opts[2:]))
				if code == optEndOfOpt {
					break
				}
				if 4+(l+3)&^3 > len(opts) {
					return 0, nil, fmt.Errorf("block %d: option %d of %d bytes overruns the block", n, code, l)
				}
				if code == optComment {
					p.comment = string(opts[4 : 4+l])
				}
				opts = opts[4+(l+3)&^3:]
			}
			pkts = append(pkts, p)
		default:
			return 0, nil, fmt.Errorf("block %d: unexpected type %#x", n, typ)
		}
	}
	return linkType, pkts, nil
}

func TestWriterLayout(t *testing.T) {
	var buf bytes.Buffer
	w, err := NewWriter(&buf, LinkTypeUSBLinuxMmapped)
	if err != nil {
		t.Fatal(err)
	}
	ts := time.Unix(0x1_0000_0002, 3000) // 3 µs past a second that needs the high word
	if err := w.WritePacket(ts, []byte{0xAA, 0xBB, 0xCC}, ""); err != nil {
		t.Fatal(err)
	}
	if err := w.WritePacket(ts, []byte{0x01}, "hi!!!"); err != nil {
		t.Fatal(err)
	}
	usec := uint64(0x1_0000_0002)*1e6 + 3
	hi, lo := uint32(usec>>32), uint32(usec)
	le := func(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	want := cat(
		// Section Header Block: 44 bytes, magic, version 1.0, length -1,
		// shb_userappl "tessera" (7 bytes, padded to 8), end of options.
		le(0x0A0D0D0A), le(44), le(0x1A2B3C4D), []byte{1, 0, 0, 0},
		bytes.Repeat([]byte{0xFF}, 8),
		[]byte{4, 0, 7, 0}, []byte("tessera\x00"), []byte{0, 0, 0, 0},
		le(44),
		// Interface Description Block: link type 220, snapshot length.
		le(1), le(20), []byte{220, 0, 0, 0}, le(MaxPacket), le(20),
		// Enhanced Packet Block, 3 bytes padded to 4, no options.
		le(6), le(36), le(0), le(hi), le(lo), le(3), le(3), []byte{0xAA, 0xBB, 0xCC, 0}, le(36),
		// Enhanced Packet Block with a 5-byte comment padded to 8.
		le(6), le(52), le(0), le(hi), le(lo), le(1), le(1), []byte{1, 0, 0, 0},
		[]byte{1, 0, 5, 0}, []byte("hi!!!\x00\x00\x00"), []byte{0, 0, 0, 0}, le(52),
	)
	if got := buf.Bytes(); !bytes.Equal(got, want) {
		t.Errorf("file =\n% X\nwant\n% X", got, want)
	}

	lt, pkts, err := readFile(buf.Bytes())
	if err != nil {
		t.Fatalf("reading back: %v", err)
	}
	if lt != LinkTypeUSBLinuxMmapped || len(pkts) != 2 {
		t.Fatalf("read back link type %d and %d packets, want 220 and 2", lt, len(pkts))
	}
	if !pkts[1].ts.Equal(ts) || pkts[1].comment != "hi!!!" || !bytes.Equal(pkts[0].data, []byte{0xAA, 0xBB, 0xCC}) {
		t.Errorf("read back %+v", pkts)
	}
}

type failingWriter struct{ n int }

var errDiskFull = errors.New("disk full")

func (f *failingWriter) Write(b []byte) (int, error) {
	if f.n == 0 {
		return 0, errDiskFull
	}
	f.n--
	return len(b), nil
}

func TestWriterErrors(t *testing.T) {
	if _, err := NewWriter(&failingWriter{n: 1}, 1); !errors.Is(err, errDiskFull) {
		t.Errorf("NewWriter on a failing writer = %v, want %v", err, errDiskFull)
	}
	fw := &failingWriter{n: 2}
	w, err := NewWriter(fw, 1)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1, 0)
	for i := range 2 { // the first failure sticks
		if err := w.WritePacket(now, []byte{1}, ""); !errors.Is(err, errDiskFull) {
			t.Errorf("WritePacket #%d after a write error = %v, want %v", i, err, errDiskFull)
		}
	}

	w, err = NewWriter(&bytes.Buffer{}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.WritePacket(now, make([]byte, MaxPacket+1), ""); !errors.Is(err, ErrTooLong) {
		t.Errorf("WritePacket(%d bytes) = %v, want %v", MaxPacket+1, err, ErrTooLong)
	}
	if err := w.WritePacket(now, nil, string(make([]byte, maxComment+1))); !errors.Is(err, ErrTooLong) {
		t.Errorf("WritePacket(long comment) = %v, want %v", err, ErrTooLong)
	}
	if err := w.WritePacket(time.Unix(-1, 0), nil, ""); err == nil {
		t.Error("WritePacket(1969) = nil, want an error")
	}
	if err := w.WritePacket(now, []byte{1}, ""); err != nil {
		t.Errorf("WritePacket after refused packets = %v, want nil", err)
	}
}
