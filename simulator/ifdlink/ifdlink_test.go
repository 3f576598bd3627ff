package ifdlink

import (
	"bytes"
	"encoding/hex"
	"errors"
	"io"
	"testing"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDecodeAnswer(t *testing.T) {
	tests := []struct {
		name    string
		req     Type
		in      string
		want    Frame
		wantErr error
	}{
		{"response", APDU, "0000000381" + "9000", Frame{APDU | Answer, []byte{0x90, 0x00}}, nil},
		{"response with data", APDU, "0000000681" + "0102039000" + "ff", Frame{APDU | Answer, unhex(t, "0102039000")}, nil},
		{"no card", APDU, "00000001fe", Frame{NoCard, []byte{}}, nil},
		{"no card with bytes", Presence, "00000002fe00", Frame{}, ErrPayload},
		{"response without SW", APDU, "000000028190", Frame{}, ErrPayload},
		{"ATR", PowerOn, "0000000382" + "3b00", Frame{PowerOn | Answer, unhex(t, "3b00")}, nil},
		{"empty ATR", Reset, "0000000184", Frame{}, ErrPayload},
		{"ATR too long", PowerOn, "0000002382" + string(bytes.Repeat([]byte("3b"), 34)), Frame{}, ErrPayload},
		{"absent", Presence, "0000000185", Frame{Presence | Answer, []byte{}}, nil},
		{"present", Presence, "00000002853b", Frame{Presence | Answer, []byte{0x3b}}, nil},
		{"powered off", PowerOff, "0000000183", Frame{PowerOff | Answer, []byte{}}, nil},
		{"power off with bytes", PowerOff, "000000028300", Frame{}, ErrPayload},
		{"answer to another request", PowerOn, "0000000381" + "9000", Frame{}, ErrType},
		{"request as answer", APDU, "0000000301" + "9000", Frame{}, ErrType},
		{"length 0", APDU, "00000000", Frame{}, ErrShort},
		{"length 0 with type", APDU, "0000000081", Frame{}, ErrLength},
		{"length past the limit", APDU, "0001000e81", Frame{}, ErrLength},
		{"huge length", APDU, "ffffffff81", Frame{}, ErrLength},
		{"cut short", APDU, "000000058190", Frame{}, ErrShort},
		{"empty", APDU, "", Frame{}, ErrShort},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, n, err := DecodeAnswer(tt.req, unhex(t, tt.in))
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("DecodeAnswer(%v, %s) error = %v, want %v", tt.req, tt.in, err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if f.Type != tt.want.Type || !bytes.Equal(f.Payload, tt.want.Payload) || n != HeaderSize+len(tt.want.Payload) {
				t.Errorf("DecodeAnswer(%v, %s) = %v % X, %d; want %v % X", tt.req, tt.in, f.Type, f.Payload, n, tt.want.Type, tt.want.Payload)
			}
		})
	}
}

func TestCheckRequest(t *testing.T) {
	tests := []struct {
		f       Frame
		wantErr error
	}{
		{Frame{APDU, unhex(t, "00a40400")}, nil},
		{Frame{APDU, unhex(t, "00a404")}, ErrPayload},
		{Frame{PowerOn, nil}, nil},
		{Frame{PowerOff, nil}, nil},
		{Frame{Reset, nil}, nil},
		{Frame{Presence, nil}, nil},
		{Frame{Presence, []byte{0}}, ErrPayload},
		{Frame{APDU | Answer, unhex(t, "9000")}, ErrType},
		{Frame{0, nil}, ErrType},
		{Frame{0x06, nil}, ErrType},
	}
	for _, tt := range tests {
		if err := CheckRequest(tt.f); !errors.Is(err, tt.wantErr) {
			t.Errorf("CheckRequest(%v % X) = %v, want %v", tt.f.Type, tt.f.Payload, err, tt.wantErr)
		}
	}
}

func TestReadAppend(t *testing.T) {
	var stream []byte
	frames := []Frame{
		{Presence, []byte{}},
		{APDU, unhex(t, "00a4040005a000000308")},
		{APDU, bytes.Repeat([]byte{0xab}, MaxPayload)},
		{PowerOff, []byte{}},
	}
	for _, f := range frames {
		var err error
		if stream, err = Append(stream, f); err != nil {
			t.Fatal(err)
		}
	}
	r := bytes.NewReader(stream)
	var buf []byte
	for i, want := range frames {
		f, nb, err := Read(r, buf)
		buf = nb
		if err != nil {
			t.Fatalf("frame %d: Read: %v", i, err)
		}
		if f.Type != want.Type || !bytes.Equal(f.Payload, want.Payload) {
			t.Errorf("frame %d = %v (%d bytes), want %v (%d bytes)", i, f.Type, len(f.Payload), want.Type, len(want.Payload))
		}
	}
	if _, _, err := Read(r, buf); err != io.EOF {
		t.Errorf("Read at the end = %v, want io.EOF", err)
	}
	if _, _, err := Read(bytes.NewReader(unhex(t, "0000000501a4")), nil); err != io.ErrUnexpectedEOF {
		t.Errorf("Read of a cut frame = %v, want io.ErrUnexpectedEOF", err)
	}
	if _, _, err := Read(bytes.NewReader(unhex(t, "7fffffff01")), nil); !errors.Is(err, ErrLength) {
		t.Errorf("Read of a huge frame = %v, want ErrLength", err)
	}
	if _, err := Append(nil, Frame{APDU, make([]byte, MaxPayload+1)}); !errors.Is(err, ErrLength) {
		t.Errorf("Append past MaxPayload = %v, want ErrLength", err)
	}
}

// FuzzRead: any bytes read as frames never panic nor allocate past the
// bound, and a frame read back appends to the bytes it was read from.
func FuzzRead(f *testing.F) {
	f.Add(unhex(f, "0000000101"))
	f.Add(unhex(f, "0000000501a4040000"))
	f.Add(unhex(f, "0001000d01"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r := bytes.NewReader(b)
		var buf []byte
		off := 0
		for {
			fr, nb, err := Read(r, buf)
			buf = nb
			if err != nil {
				return
			}
			if cap(buf) > HeaderSize+MaxPayload {
				t.Fatalf("buffer grew to %d", cap(buf))
			}
			_ = CheckRequest(fr)
			out, err := Append(nil, fr)
			if err != nil {
				t.Fatalf("Append of a frame Read returned: %v", err)
			}
			if !bytes.Equal(out, b[off:off+len(out)]) {
				t.Fatalf("Append(Read(% X)) = % X", b[off:off+len(out)], out)
			}
			off += len(out)
		}
	})
}
