package apdu

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

// h decodes spaced hexadecimal, failing the test on bad input.
func h(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

// seq returns n bytes 00, 01, 02, ...
func seq(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}

func equalCommand(a, b Command) bool {
	return a.CLA == b.CLA && a.INS == b.INS && a.P1 == b.P1 && a.P2 == b.P2 &&
		bytes.Equal(a.Data, b.Data) && a.Ne == b.Ne && a.Extended == b.Extended
}

func TestParseCommandGolden(t *testing.T) {
	gaData := append(h(t, "7C 24 82 00 81 20"), seq(32)...)
	tests := []struct {
		name string
		in   string
		want Command
	}{
		{"case 1 PIN status (OpenSC)", "00 20 00 80",
			Command{CLA: 0x00, INS: 0x20, P1: 0x00, P2: 0x80}},
		{"case 2S GET VERSION Le=00", "00 FD 00 00 00",
			Command{INS: 0xFD, Ne: 256}},
		{"case 2S GET VERSION Le=03 (OpenSC)", "00 FD 00 00 03",
			Command{INS: 0xFD, Ne: 3}},
		{"case 2S GET RESPONSE", "00 C0 00 00 00",
			Command{INS: 0xC0, Ne: 256}},
		{"case 3S SELECT PIV", "00 A4 04 00 05 A0 00 00 03 08",
			Command{INS: 0xA4, P1: 0x04, Data: h(t, "A0 00 00 03 08")}},
		{"case 4S SELECT PIV (OpenSC)", "00 A4 04 00 09 A0 00 00 03 08 00 00 10 00 00",
			Command{INS: 0xA4, P1: 0x04, Data: h(t, "A0 00 00 03 08 00 00 10 00"), Ne: 256}},
		{"case 3S VERIFY", "00 20 00 80 08 31 32 33 34 35 36 FF FF",
			Command{INS: 0x20, P2: 0x80, Data: h(t, "31 32 33 34 35 36 FF FF")}},
		{"case 4S VERIFY (ykpiv on T=1)", "00 20 00 80 08 31 32 33 34 35 36 FF FF 00",
			Command{INS: 0x20, P2: 0x80, Data: h(t, "31 32 33 34 35 36 FF FF"), Ne: 256}},
		{"case 3S GENERAL AUTHENTICATE sign", "00 87 11 9A 26 " + hex.EncodeToString(gaData),
			Command{INS: 0x87, P1: 0x11, P2: 0x9A, Data: gaData}},
		{"case 4S GENERAL AUTHENTICATE sign", "00 87 11 9A 26 " + hex.EncodeToString(gaData) + " 00",
			Command{INS: 0x87, P1: 0x11, P2: 0x9A, Data: gaData, Ne: 256}},
		{"case 3S GENERAL AUTHENTICATE witness request", "00 87 03 9B 04 7C 02 80 00",
			Command{INS: 0x87, P1: 0x03, P2: 0x9B, Data: h(t, "7C 02 80 00")}},
		{"case 4S GET DATA CHUID", "00 CB 3F FF 05 5C 03 5F C1 05 00",
			Command{INS: 0xCB, P1: 0x3F, P2: 0xFF, Data: h(t, "5C 03 5F C1 05"), Ne: 256}},
		{"case 4S Lc=FF Le=01", "00 DB 3F FF FF " + hex.EncodeToString(seq(255)) + " 01",
			Command{INS: 0xDB, P1: 0x3F, P2: 0xFF, Data: seq(255), Ne: 1}},
		{"case 3S chained PUT DATA", "10 DB 3F FF 03 5C 01 7E",
			Command{CLA: 0x10, INS: 0xDB, P1: 0x3F, P2: 0xFF, Data: h(t, "5C 01 7E")}},
		{"case 2E READ BINARY Le=0100", "00 B0 00 00 00 01 00",
			Command{INS: 0xB0, Ne: 256, Extended: true}},
		{"case 2E Le=0000", "00 B0 00 00 00 00 00",
			Command{INS: 0xB0, Ne: 65536, Extended: true}},
		{"case 2E Le=0001", "00 B0 00 00 00 00 01",
			Command{INS: 0xB0, Ne: 1, Extended: true}},
		{"case 3E", "00 DB 3F FF 00 00 03 5C 01 7E",
			Command{INS: 0xDB, P1: 0x3F, P2: 0xFF, Data: h(t, "5C 01 7E"), Extended: true}},
		{"case 4E GET DATA CHUID", "00 CB 3F FF 00 00 05 5C 03 5F C1 05 00 00",
			Command{INS: 0xCB, P1: 0x3F, P2: 0xFF, Data: h(t, "5C 03 5F C1 05"), Ne: 65536, Extended: true}},
		{"case 4E Le=FFFF", "00 CB 3F FF 00 00 01 7E FF FF",
			Command{INS: 0xCB, P1: 0x3F, P2: 0xFF, Data: h(t, "7E"), Ne: 65535, Extended: true}},
		{"case 3E Lc=0100", "00 DB 3F FF 00 01 00 " + hex.EncodeToString(seq(256)),
			Command{INS: 0xDB, P1: 0x3F, P2: 0xFF, Data: seq(256), Extended: true}},
		{"reserved CLA and INS are framing-valid", "FF 61 00 00",
			Command{CLA: 0xFF, INS: 0x61}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := h(t, tt.in)
			got, err := ParseCommand(in)
			if err != nil {
				t.Fatalf("ParseCommand(%X) error: %v", in, err)
			}
			if !equalCommand(got, tt.want) {
				t.Errorf("ParseCommand(%X) = %+v, want %+v", in, got, tt.want)
			}
			if len(got.Data) == 0 && got.Data != nil {
				t.Errorf("ParseCommand(%X).Data = %#v, want nil", in, got.Data)
			}
			if cap(got.Data) != len(got.Data) {
				t.Errorf("cap(Data) = %d, want %d (clipped)", cap(got.Data), len(got.Data))
			}
			out, err := got.Marshal()
			if err != nil {
				t.Fatalf("Marshal() error: %v", err)
			}
			if !bytes.Equal(out, in) {
				t.Errorf("Marshal() = %X, want %X", out, in)
			}
			if app, _ := got.AppendMarshal([]byte{0xAA}); !bytes.Equal(app, append([]byte{0xAA}, in...)) {
				t.Errorf("AppendMarshal(AA) = %X, want AA%X", app, in)
			}
			if s, want := got.String(), strings.ToUpper(spaced(in)); s != want {
				t.Errorf("String() = %q, want %q", s, want)
			}
		})
	}
}

// spaced formats b as lowercase spaced hex (callers upper-case it).
func spaced(b []byte) string {
	var sb strings.Builder
	for i, x := range b {
		if i > 0 {
			sb.WriteByte(' ')
		}
		sb.WriteString(hex.EncodeToString([]byte{x}))
	}
	return sb.String()
}

func TestParseCommandDataAliasesInput(t *testing.T) {
	in := h(t, "00 CB 3F FF 05 5C 03 5F C1 05 00")
	c, err := ParseCommand(in)
	if err != nil {
		t.Fatal(err)
	}
	if &c.Data[0] != &in[5] {
		t.Errorf("Data is not a subslice of the input")
	}
	_ = append(c.Data, 0x99)
	if in[10] != 0x00 {
		t.Errorf("appending to Data overwrote the Le byte: got %02X, want 00", in[10])
	}
}

func TestParseCommandAllocations(t *testing.T) {
	in := h(t, "00 CB 3F FF 00 00 05 5C 03 5F C1 05 00 00")
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := ParseCommand(in); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("ParseCommand allocations = %v, want 0", allocs)
	}
}

func TestParseCommandMalformed(t *testing.T) {
	tests := []struct {
		name      string
		in        string
		truncated bool
	}{
		{"empty", "", true},
		{"1 byte", "00", true},
		{"2 bytes", "00 A4", true},
		{"3 bytes", "00 A4 04", true},
		{"short Lc longer than data", "00 A4 04 00 05 A0 00 00 03", true},
		{"short Lc=FF with 1 byte", "00 DB 3F FF FF 01", true},
		{"short Lc shorter than data: 2 bytes after", "00 A4 04 00 05 A0 00 00 03 08 00 00", false},
		{"short 4S with trailing garbage", "00 CB 3F FF 05 5C 03 5F C1 05 00 FF FF", false},
		{"P3=00 followed by one byte", "00 A4 04 00 00 05", true},
		{"extended Lc=0000 with more bytes", "00 DB 3F FF 00 00 00 01", false},
		{"extended Lc=0000 followed by Le", "00 CB 3F FF 00 00 00 00 00", false},
		{"extended Lc longer than data", "00 DB 3F FF 00 00 05 5C 03", true},
		{"extended Lc=FFFF with little data", "00 DB 3F FF 00 FF FF 01 02 03", true},
		{"extended Le of one byte", "00 CB 3F FF 00 00 01 7E 00", true},
		{"extended trailing garbage", "00 CB 3F FF 00 00 01 7E 00 00 00", false},
		{"extended 3E but short-looking", "00 DB 3F FF 00 00 01 7E 01 02 03 04", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := h(t, tt.in)
			got, err := ParseCommand(in)
			if err == nil {
				t.Fatalf("ParseCommand(%X) = %+v, want error", in, got)
			}
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("ParseCommand(%X) error %v, want it to wrap ErrMalformed", in, err)
			}
			if gotT := errors.Is(err, ErrTruncated); gotT != tt.truncated {
				t.Errorf("errors.Is(%v, ErrTruncated) = %v, want %v", err, gotT, tt.truncated)
			}
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("ParseCommand(%X) error %T, want *ParseError", in, err)
			}
			if pe.Offset < 0 || pe.Offset > len(in) {
				t.Errorf("ParseError.Offset = %d, want within 0..%d", pe.Offset, len(in))
			}
			if !strings.HasPrefix(err.Error(), "apdu: malformed command at byte ") {
				t.Errorf("Error() = %q, want prefix %q", err.Error(), "apdu: malformed command at byte ")
			}
		})
	}
}

func TestParseErrorMessage(t *testing.T) {
	_, err := ParseCommand(h(t, "00 A4 04 00 05 A0 00 00 03 08 00 00"))
	const want = "apdu: malformed command at byte 11: bytes after Le"
	if err == nil || err.Error() != want {
		t.Errorf("ParseCommand error = %v, want %q", err, want)
	}
}

func TestCommandMarshal(t *testing.T) {
	tests := []struct {
		name string
		c    Command
		want string
	}{
		{"case 1", Command{INS: 0x20, P2: 0x80}, "00 20 00 80"},
		{"case 1 ignores Extended", Command{INS: 0x20, P2: 0x80, Extended: true}, "00 20 00 80"},
		{"empty non-nil data is absent", Command{INS: 0x20, P2: 0x80, Data: []byte{}}, "00 20 00 80"},
		{"Ne 256 short", Command{INS: 0xC0, Ne: 256}, "00 C0 00 00 00"},
		{"Ne 257 goes extended", Command{INS: 0xC0, Ne: 257}, "00 C0 00 00 00 01 01"},
		{"Ne 65536 extended", Command{INS: 0xC0, Ne: 65536}, "00 C0 00 00 00 00 00"},
		{"Extended forces form", Command{INS: 0xCB, P1: 0x3F, P2: 0xFF, Data: h(t, "5C 01 7E"), Ne: 256, Extended: true},
			"00 CB 3F FF 00 00 03 5C 01 7E 01 00"},
		{"Nc 256 goes extended with Le", Command{INS: 0xDB, Data: make([]byte, 256), Ne: 1},
			"00 DB 00 00 00 01 00 " + hex.EncodeToString(make([]byte, 256)) + " 00 01"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.c.Marshal()
			if err != nil {
				t.Fatalf("Marshal() error: %v", err)
			}
			if want := h(t, tt.want); !bytes.Equal(got, want) {
				t.Errorf("Marshal() = %X, want %X", got, want)
			}
		})
	}
}

func TestCommandMarshalInvalid(t *testing.T) {
	tests := []struct {
		name string
		c    Command
	}{
		{"Nc 65536", Command{Data: make([]byte, 65536)}},
		{"Ne -1", Command{Ne: -1}},
		{"Ne 65537", Command{Ne: 65537}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, err := tt.c.Marshal(); !errors.Is(err, ErrInvalidCommand) {
				t.Errorf("Marshal() = %X, %v, want error wrapping ErrInvalidCommand", got, err)
			}
			dst := []byte{1, 2}
			got, err := tt.c.AppendMarshal(dst)
			if !errors.Is(err, ErrInvalidCommand) || !bytes.Equal(got, dst) {
				t.Errorf("AppendMarshal(0102) = %X, %v, want 0102 and ErrInvalidCommand", got, err)
			}
			if s := tt.c.String(); !strings.Contains(s, "invalid") {
				t.Errorf("String() = %q, want it to say invalid", s)
			}
		})
	}
}

func TestIsChained(t *testing.T) {
	tests := []struct {
		cla  byte
		want bool
	}{
		{0x00, false},
		{0x10, true},
		{0x1C, true}, // chained, secure messaging
		{0x13, true}, // chained, logical channel 3
		{0x0C, false},
		{0x40, false},
		{0x50, true},  // further interindustry, chained
		{0x30, false}, // reserved class
		{0x80, false},
		{0x90, false}, // proprietary: bit not defined
		{0xFF, false},
	}
	for _, tt := range tests {
		if got := (Command{CLA: tt.cla}).IsChained(); got != tt.want {
			t.Errorf("Command{CLA: %02X}.IsChained() = %v, want %v", tt.cla, got, tt.want)
		}
	}
}

func TestSplitChain(t *testing.T) {
	data := seq(600)
	c := Command{CLA: 0x00, INS: 0xDB, P1: 0x3F, P2: 0xFF, Data: data, Ne: 256}
	parts, err := SplitChain(c, 255)
	if err != nil {
		t.Fatalf("SplitChain error: %v", err)
	}
	wantLens := []int{255, 255, 90}
	if len(parts) != len(wantLens) {
		t.Fatalf("SplitChain returned %d parts, want %d", len(parts), len(wantLens))
	}
	var joined []byte
	for i, p := range parts {
		last := i == len(parts)-1
		if got, want := len(p.Data), wantLens[i]; got != want {
			t.Errorf("part %d: len(Data) = %d, want %d", i, got, want)
		}
		wantCLA, wantNe := byte(0x10), 0
		if last {
			wantCLA, wantNe = 0x00, 256
		}
		if p.CLA != wantCLA || p.Ne != wantNe {
			t.Errorf("part %d: CLA, Ne = %02X, %d, want %02X, %d", i, p.CLA, p.Ne, wantCLA, wantNe)
		}
		if p.IsChained() == last {
			t.Errorf("part %d: IsChained() = %v, want %v", i, p.IsChained(), !last)
		}
		if p.INS != c.INS || p.P1 != c.P1 || p.P2 != c.P2 || p.Extended {
			t.Errorf("part %d: header %+v, want INS, P1, P2 of original and short form", i, p)
		}
		b, err := p.Marshal()
		if err != nil {
			t.Fatalf("part %d: Marshal error: %v", i, err)
		}
		if !last && len(b) != 5+len(p.Data) {
			t.Errorf("part %d: encoded %d bytes, want %d (case 3S)", i, len(b), 5+len(p.Data))
		}
		joined = append(joined, p.Data...)
	}
	if !bytes.Equal(joined, data) {
		t.Errorf("joined parts differ from the original data")
	}
}

func TestSplitChainFits(t *testing.T) {
	c := Command{CLA: 0x84, INS: 0xDB, Data: seq(255), Ne: 3, Extended: true}
	parts, err := SplitChain(c, 255)
	if err != nil {
		t.Fatalf("SplitChain error: %v", err)
	}
	if len(parts) != 1 || !equalCommand(parts[0], c) {
		t.Errorf("SplitChain(fitting command) = %+v, want it alone, unchanged", parts)
	}
}

func TestSplitChainErrors(t *testing.T) {
	tests := []struct {
		name    string
		c       Command
		maxData int
	}{
		{"maxData 0", Command{Data: seq(10)}, 0},
		{"maxData 256", Command{Data: seq(10)}, 256},
		{"proprietary class", Command{CLA: 0x80, Data: seq(300)}, 255},
		{"already chained", Command{CLA: 0x10, Data: seq(300)}, 255},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, err := SplitChain(tt.c, tt.maxData); !errors.Is(err, ErrInvalidCommand) {
				t.Errorf("SplitChain() = %v, %v, want error wrapping ErrInvalidCommand", got, err)
			}
		})
	}
}
