//go:build cgo

package ifd

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/tesseracard/tessera/simulator/ifdlink"
)

// goRC maps ifdlink's decode errors to frame.c's results.
func goRC(err error) int {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, ifdlink.ErrShort):
		return rcShort
	case errors.Is(err, ifdlink.ErrLength):
		return rcBadLength
	case errors.Is(err, ifdlink.ErrType):
		return rcBadType
	case errors.Is(err, ifdlink.ErrPayload):
		return rcBadPayload
	}
	return 99
}

var requests = []ifdlink.Type{ifdlink.APDU, ifdlink.PowerOn, ifdlink.PowerOff, ifdlink.Reset, ifdlink.Presence}

// checkSame decodes b as the answer to req with the C decoder and with
// ifdlink's, and fails unless both say the same.
func checkSame(t *testing.T, req ifdlink.Type, b []byte) {
	t.Helper()
	typ, payload, n, rc := Decode(byte(req), b)
	f, gn, err := ifdlink.DecodeAnswer(req, b)
	if rc != goRC(err) {
		t.Fatalf("answer to %v % X: C decoder %d, Go decoder %v", req, b, rc, err)
	}
	if rc != 0 {
		return
	}
	if typ != byte(f.Type) || n != gn || !bytes.Equal(payload, f.Payload) {
		t.Fatalf("answer to %v % X: C %02X % X (%d bytes), Go %v % X (%d bytes)", req, b, typ, payload, n, f.Type, f.Payload, gn)
	}
	if n > len(b) || len(payload) > maxPayload {
		t.Fatalf("answer to %v: C decoder reports %d bytes of %d, payload %d", req, n, len(b), len(payload))
	}
}

func TestConstants(t *testing.T) {
	if maxPayload != ifdlink.MaxPayload || maxATR != ifdlink.MaxATR {
		t.Errorf("frame.h TIF_MAX_PAYLOAD %d, TIF_MAX_ATR %d; ifdlink %d, %d", maxPayload, maxATR, ifdlink.MaxPayload, ifdlink.MaxATR)
	}
	for _, f := range []ifdlink.Frame{{Type: ifdlink.APDU, Payload: make([]byte, 300)}, {Type: ifdlink.Presence}, {Type: ifdlink.APDU, Payload: make([]byte, ifdlink.MaxPayload)}} {
		want, err := ifdlink.Append(nil, f)
		if err != nil {
			t.Fatal(err)
		}
		if got := PutHeader(byte(f.Type), len(f.Payload)); !bytes.Equal(got, want[:ifdlink.HeaderSize]) {
			t.Errorf("tif_put_header(%v, %d) = % X, want % X", f.Type, len(f.Payload), got, want[:ifdlink.HeaderSize])
		}
	}
}

// TestDecodeAgrees runs both decoders over the frames at the edges of the
// table: every type against every request, payloads at each bound.
func TestDecodeAgrees(t *testing.T) {
	for _, req := range requests {
		for typ := 0; typ < 256; typ++ {
			for _, n := range []int{0, 1, 2, 3, ifdlink.MaxATR, ifdlink.MaxATR + 1, 300, ifdlink.MaxPayload} {
				b := make([]byte, ifdlink.HeaderSize+n)
				binary.BigEndian.PutUint32(b, uint32(n+1))
				b[4] = byte(typ)
				checkSame(t, req, b)
				checkSame(t, req, b[:len(b)-1])
			}
		}
		for _, l := range []uint32{0, ifdlink.MaxPayload + 2, 1 << 31, 0xFFFFFFFF} {
			b := make([]byte, 8)
			binary.BigEndian.PutUint32(b, l)
			b[4] = byte(req | ifdlink.Answer)
			checkSame(t, req, b)
		}
	}
}

// FuzzDecode: the driver's decoder, fed any bytes as the answer to any
// request, stays inside them and agrees with ifdlink's.
func FuzzDecode(f *testing.F) {
	f.Add(byte(1), []byte{0, 0, 0, 3, 0x81, 0x90, 0x00})
	f.Add(byte(5), []byte{0, 0, 0, 2, 0x85, 0x3b})
	f.Add(byte(2), []byte{0, 0, 0, 1, 0xfe})
	f.Add(byte(3), []byte{0xff, 0xff, 0xff, 0xff, 0x83})
	f.Fuzz(func(t *testing.T, req byte, b []byte) {
		checkSame(t, ifdlink.Type(req), b)
	})
}
