package pcapng

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"
)

// Block types and option codes of pcapng (draft-ietf-opsawg-pcapng §4, §3.5).
const (
	blockSHB = 0x0A0D0D0A // Section Header Block
	blockIDB = 0x00000001 // Interface Description Block
	blockEPB = 0x00000006 // Enhanced Packet Block

	byteOrderMagic = 0x1A2B3C4D

	optEndOfOpt   = 0
	optComment    = 1
	optSHBUserApp = 4
)

// LinkTypeUSBLinuxMmapped is LINKTYPE_USB_LINUX_MMAPPED: USB packets as
// Linux usbmon's memory-mapped interface gives them, each behind a 64-byte
// header (tcpdump.org link-layer header types, 220).
const LinkTypeUSBLinuxMmapped = 220

// MaxPacket bounds the data of one packet: Writer refuses anything longer,
// and it is the snapshot length the interface declares.
const MaxPacket = 256 << 10

// maxComment bounds a packet comment: an option's length is 16 bits.
const maxComment = 0xFFFF

// ErrTooLong is returned by WritePacket for a packet longer than MaxPacket
// or a comment longer than 65535 bytes, and by TraceWriter.Write for an
// APDU longer than an extended APDU can be.
var ErrTooLong = errors.New("pcapng: packet too long")

// Writer writes one pcapng section with one interface: NewWriter writes
// the section and interface headers, WritePacket one Enhanced Packet Block
// per call, each with a single Write to the underlying writer. After the
// first write error every call returns it.
type Writer struct {
	w   io.Writer
	err error
}

// NewWriter writes a Section Header Block naming Tessera as the
// application that wrote the file and an Interface Description Block with
// linkType, microsecond timestamps and a snapshot length of MaxPacket.
func NewWriter(w io.Writer, linkType uint16) (*Writer, error) {
	pw := &Writer{w: w}
	var shb []byte
	shb = binary.LittleEndian.AppendUint32(shb, byteOrderMagic)
	shb = binary.LittleEndian.AppendUint16(shb, 1)          // major version
	shb = binary.LittleEndian.AppendUint16(shb, 0)          // minor version
	shb = binary.LittleEndian.AppendUint64(shb, ^uint64(0)) // section length: not given
	shb = appendOption(shb, optSHBUserApp, []byte("tessera"))
	shb = appendOption(shb, optEndOfOpt, nil)
	pw.block(blockSHB, shb)

	var idb []byte
	idb = binary.LittleEndian.AppendUint16(idb, linkType)
	idb = binary.LittleEndian.AppendUint16(idb, 0) // reserved
	idb = binary.LittleEndian.AppendUint32(idb, MaxPacket)
	pw.block(blockIDB, idb) // no options: if_tsresol defaults to microseconds
	if pw.err != nil {
		return nil, pw.err
	}
	return pw, nil
}

// WritePacket writes data as captured whole at ts, with comment as its
// opt_comment when not empty. A time before 1970 or a packet longer than
// MaxPacket is refused.
func (w *Writer) WritePacket(ts time.Time, data []byte, comment string) error {
	if w.err != nil {
		return w.err
	}
	if len(data) > MaxPacket {
		return fmt.Errorf("writing a packet of %d bytes: %w (at most %d)", len(data), ErrTooLong, MaxPacket)
	}
	if len(comment) > maxComment {
		return fmt.Errorf("writing a packet comment of %d bytes: %w (at most %d)", len(comment), ErrTooLong, maxComment)
	}
	us := ts.UnixMicro()
	if us < 0 {
		return fmt.Errorf("pcapng: packet time %s is before 1970", ts.UTC().Format(time.RFC3339Nano))
	}
	body := make([]byte, 0, 20+len(data)+3+len(comment)+12)
	body = binary.LittleEndian.AppendUint32(body, 0) // interface ID
	body = binary.LittleEndian.AppendUint32(body, uint32(uint64(us)>>32))
	body = binary.LittleEndian.AppendUint32(body, uint32(us))
	body = binary.LittleEndian.AppendUint32(body, uint32(len(data))) // captured length
	body = binary.LittleEndian.AppendUint32(body, uint32(len(data))) // original length
	body = appendPadded(body, data)
	if comment != "" {
		body = appendOption(body, optComment, []byte(comment))
		body = appendOption(body, optEndOfOpt, nil)
	}
	w.block(blockEPB, body)
	return w.err
}

// block writes a block: type, total length, body (already padded to 32
// bits), total length again.
func (w *Writer) block(typ uint32, body []byte) {
	if w.err != nil {
		return
	}
	n := uint32(12 + len(body))
	b := make([]byte, 0, n)
	b = binary.LittleEndian.AppendUint32(b, typ)
	b = binary.LittleEndian.AppendUint32(b, n)
	b = append(b, body...)
	b = binary.LittleEndian.AppendUint32(b, n)
	if _, err := w.w.Write(b); err != nil {
		w.err = fmt.Errorf("writing pcapng: %w", err)
	}
}

// appendOption appends an option: code, length, value padded to 32 bits.
func appendOption(b []byte, code uint16, value []byte) []byte {
	b = binary.LittleEndian.AppendUint16(b, code)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(value)))
	return appendPadded(b, value)
}

// appendPadded appends data and zero bytes up to a multiple of 4.
func appendPadded(b, data []byte) []byte {
	b = append(b, data...)
	return append(b, make([]byte, (4-len(data)%4)%4)...)
}
