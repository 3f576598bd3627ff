// Package ifdlink is the wire format between Tessera's pcsc-lite reader
// driver (ifd/ifdhandler.c) and `tessera sim --bridge ifd`: one unix socket
// per card, the driver asking and the simulator answering, one exchange at
// a time. The C side's decoder is ifd/frame.c; both follow the same table
// (docs/ifd-bridge.md), and ifd's differential fuzz test holds them to it.
//
// Every message, both ways, is a 4-byte big-endian length L and L bytes: a
// 1-byte type and L-1 bytes of payload, 1 <= L <= 1+MaxPayload.
package ifdlink

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Sizes.
const (
	// HeaderSize is the length field and the type.
	HeaderSize = 5
	// MaxPayload is the longest payload: pcsc-lite's
	// MAX_BUFFER_SIZE_EXTENDED, an extended APDU with its header, Lc, Le and
	// status word.
	MaxPayload = 65548
	// MaxATR is the longest ATR (ISO/IEC 7816-3 §8.2.1), pcsc-lite's
	// MAX_ATR_SIZE.
	MaxATR = 33
)

// Type is a message's type.
type Type byte

// Requests, from the driver.
const (
	APDU     Type = 0x01 // a command APDU, at least 4 bytes
	PowerOn  Type = 0x02 // no payload; answered with the ATR
	PowerOff Type = 0x03 // no payload; answered with no payload
	Reset    Type = 0x04 // no payload: a warm reset; answered with the ATR
	Presence Type = 0x05 // no payload; answered with the ATR, or nothing when no card is present
)

// Answers, from the simulator: a request's type with Answer set, or NoCard.
const (
	Answer Type = 0x80
	NoCard Type = 0xFE // no payload: no card in the reader (removed, mute)
)

func (t Type) String() string {
	switch t {
	case APDU:
		return "APDU"
	case PowerOn:
		return "power on"
	case PowerOff:
		return "power off"
	case Reset:
		return "reset"
	case Presence:
		return "presence"
	case NoCard:
		return "no card"
	}
	if t&Answer != 0 && (t &^ Answer).isRequest() {
		return (t &^ Answer).String() + " answer"
	}
	return fmt.Sprintf("type %02X", byte(t))
}

func (t Type) isRequest() bool { return t >= APDU && t <= Presence }

// Errors. Every error the package returns for bytes it was given wraps one
// of these; after ErrLength the stream cannot be resynchronised.
var (
	// ErrLength: a frame whose length field is 0 or past 1+MaxPayload.
	ErrLength = errors.New("ifdlink: bad frame length")
	// ErrType: a type that is not a request, or not an answer to the
	// request asked.
	ErrType = errors.New("ifdlink: unexpected frame type")
	// ErrPayload: a payload that type cannot have (an APDU under 4 bytes, a
	// response without a status word, an ATR past 33 bytes, ...).
	ErrPayload = errors.New("ifdlink: bad payload")
	// ErrShort: the bytes end inside the frame (Decode only).
	ErrShort = errors.New("ifdlink: frame cut short")
)

// Frame is one message.
type Frame struct {
	Type    Type
	Payload []byte
}

// parseHeader returns the type and the payload's length of a 5-byte header.
func parseHeader(hdr []byte) (Type, int, error) {
	l := binary.BigEndian.Uint32(hdr)
	if l < 1 || l > 1+MaxPayload {
		return 0, 0, fmt.Errorf("%w: %d", ErrLength, l)
	}
	return Type(hdr[4]), int(l - 1), nil
}

// CheckRequest checks a request from the driver.
func CheckRequest(f Frame) error {
	switch f.Type {
	case APDU:
		if len(f.Payload) < 4 {
			return fmt.Errorf("%w: a %d-byte command APDU (want at least 4)", ErrPayload, len(f.Payload))
		}
	case PowerOn, PowerOff, Reset, Presence:
		if len(f.Payload) != 0 {
			return fmt.Errorf("%w: %d bytes with %v (want none)", ErrPayload, len(f.Payload), f.Type)
		}
	default:
		return fmt.Errorf("%w: %v is not a request", ErrType, f.Type)
	}
	return nil
}

// CheckAnswer checks an answer to req (what the driver checks).
func CheckAnswer(req Type, f Frame) error {
	n := len(f.Payload)
	if f.Type == NoCard {
		if n != 0 {
			return fmt.Errorf("%w: %d bytes with %v (want none)", ErrPayload, n, f.Type)
		}
		return nil
	}
	if !req.isRequest() || f.Type != req|Answer {
		return fmt.Errorf("%w: %v to a %v request", ErrType, f.Type, req)
	}
	ok := true
	switch req {
	case APDU:
		ok = n >= 2
	case PowerOn, Reset:
		ok = n >= 1 && n <= MaxATR
	case PowerOff:
		ok = n == 0
	case Presence:
		ok = n <= MaxATR
	}
	if !ok {
		return fmt.Errorf("%w: %d bytes with %v", ErrPayload, n, f.Type)
	}
	return nil
}

// Read reads one frame from r into buf (grown if needed, never past
// HeaderSize+MaxPayload) and returns it, its payload aliasing the returned
// buffer. A stream that ends between frames is io.EOF; inside one,
// io.ErrUnexpectedEOF.
func Read(r io.Reader, buf []byte) (Frame, []byte, error) {
	if cap(buf) < HeaderSize {
		buf = make([]byte, HeaderSize, HeaderSize+512)
	}
	hdr := buf[:HeaderSize]
	if _, err := io.ReadFull(r, hdr); err != nil {
		return Frame{}, buf, err
	}
	t, n, err := parseHeader(hdr)
	if err != nil {
		return Frame{}, buf, err
	}
	if cap(buf) < HeaderSize+n {
		nb := make([]byte, HeaderSize+n)
		copy(nb, hdr)
		buf = nb
	}
	payload := buf[HeaderSize : HeaderSize+n]
	if _, err := io.ReadFull(r, payload); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return Frame{}, buf, err
	}
	return Frame{Type: t, Payload: payload}, buf, nil
}

// Append appends the frame f to dst.
func Append(dst []byte, f Frame) ([]byte, error) {
	if len(f.Payload) > MaxPayload {
		return dst, fmt.Errorf("%w: %d bytes of payload to send, limit %d", ErrLength, len(f.Payload), MaxPayload)
	}
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(f.Payload))+1)
	dst = append(dst, byte(f.Type))
	return append(dst, f.Payload...), nil
}

// DecodeAnswer decodes the answer to req at the start of b, as the driver
// does (ifd/frame.c's tif_decode): the frame and its size in b.
func DecodeAnswer(req Type, b []byte) (Frame, int, error) {
	if len(b) < HeaderSize {
		return Frame{}, 0, ErrShort
	}
	t, n, err := parseHeader(b)
	if err != nil {
		return Frame{}, 0, err
	}
	if len(b)-HeaderSize < n {
		return Frame{}, 0, ErrShort
	}
	f := Frame{Type: t, Payload: b[HeaderSize : HeaderSize+n]}
	if err := CheckAnswer(req, f); err != nil {
		return Frame{}, 0, err
	}
	return f, HeaderSize + n, nil
}
