package apdu

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestParseTLV(t *testing.T) {
	tests := []struct {
		name      string
		in        string
		wantTag   Tag
		wantValue string
		wantRest  string
	}{
		{"one-byte tag", "53 03 01 02 03", 0x53, "01 02 03", ""},
		{"empty value", "82 00", 0x82, "", ""},
		{"with rest", "80 01 AA 81 00", 0x80, "AA", "81 00"},
		{"three-byte tag 5FC105", "5F C1 05 02 AB CD 7E", 0x5FC105, "AB CD", "7E"},
		{"two-byte tag 7F49", "7F 49 03 86 01 04", 0x7F49, "86 01 04", ""},
		{"four-byte tag", "DF 81 82 03 01 00", 0xDF818203, "00", ""},
		{"EMV-style low tag number", "9F 01 01 FF", 0x9F01, "FF", ""},
		{"non-minimal 81 length", "53 81 05 01 02 03 04 05", 0x53, "01 02 03 04 05", ""},
		{"non-minimal 82 length", "53 82 00 01 AA", 0x53, "AA", ""},
		{"non-minimal 84 length", "53 84 00 00 00 01 AA BB", 0x53, "AA", "BB"},
		{"83 length", "53 83 00 00 02 AA BB", 0x53, "AA BB", ""},
		{"00 is a tag", "00 00 00 00", 0x00, "", "00 00"},
		{"FF starts a multi-byte tag", "FF 01 00", 0xFF01, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := h(t, tt.in)
			got, rest, err := ParseTLV(in)
			if err != nil {
				t.Fatalf("ParseTLV(%X) error: %v", in, err)
			}
			if got.Tag != tt.wantTag || !bytes.Equal(got.Value, h(t, tt.wantValue)) || !bytes.Equal(rest, h(t, tt.wantRest)) {
				t.Errorf("ParseTLV(%X) = %v %X, rest %X, want %v %s, rest %s",
					in, got.Tag, got.Value, rest, tt.wantTag, tt.wantValue, tt.wantRest)
			}
			if cap(got.Value) != len(got.Value) {
				t.Errorf("cap(Value) = %d, want %d", cap(got.Value), len(got.Value))
			}
		})
	}
}

func TestParseTLVLargeRSAKey(t *testing.T) {
	// GENERATE RSA-2048 response: 7F49 82 0109 { 81 82 0100 n, 82 03 010001 }.
	n := seq(256)
	key := Nest(0x7F49, AppendTLV(nil, 0x81, n), AppendTLV(nil, 0x82, []byte{1, 0, 1}))
	if want := []byte{0x7F, 0x49, 0x82, 0x01, 0x09, 0x81, 0x82, 0x01, 0x00}; !bytes.HasPrefix(key, want) {
		t.Fatalf("Nest(7F49, ...) = % X..., want prefix % X", key[:9], want)
	}
	tlv, rest, err := ParseTLV(key)
	if err != nil || tlv.Tag != 0x7F49 || len(rest) != 0 || len(tlv.Value) != 0x109 {
		t.Fatalf("ParseTLV(key) = %v (%d bytes), rest %X, %v; want 7F49 with 265 bytes", tlv.Tag, len(tlv.Value), rest, err)
	}
	gotN, ok, err := FindTLV(tlv.Value, 0x81)
	if err != nil || !ok || !bytes.Equal(gotN, n) {
		t.Errorf("FindTLV(value, 81) = %d bytes, %v, %v; want the modulus", len(gotN), ok, err)
	}
	gotE, ok, err := FindTLV(tlv.Value, 0x82)
	if err != nil || !ok || !bytes.Equal(gotE, []byte{1, 0, 1}) {
		t.Errorf("FindTLV(value, 82) = %X, %v, %v; want 010001", gotE, ok, err)
	}
}

func TestParseTLVMalformed(t *testing.T) {
	tests := []struct {
		name      string
		in        string
		truncated bool
		offset    int
	}{
		{"empty", "", true, 0},
		{"tag only", "53", true, 1},
		{"multi-byte tag cut", "5F C1", true, 2},
		{"multi-byte tag cut after first", "5F", true, 1},
		{"tag longer than 4 bytes", "5F 81 82 83 04 00", false, 4},
		{"first subsequent tag byte 80", "5F 80 01 00", false, 1},
		{"value truncated", "53 05 01 02", true, 4},
		{"81 length cut", "53 81", true, 2},
		{"82 length cut", "53 82 01", true, 3},
		{"indefinite length", "53 80 01 00 00", false, 1},
		{"5 length bytes", "53 85 00 00 00 00 01 AA", false, 1},
		{"length byte FF", "53 FF", false, 1},
		{"huge declared length", "53 84 FF FF FF FF 00", true, 7},
		{"82 length past end", "7F 49 82 01 09 81 82", true, 7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := h(t, tt.in)
			got, _, err := ParseTLV(in)
			if err == nil {
				t.Fatalf("ParseTLV(%X) = %v %X, want error", in, got.Tag, got.Value)
			}
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("ParseTLV(%X) error %v, want it to wrap ErrMalformed", in, err)
			}
			if gotT := errors.Is(err, ErrTruncated); gotT != tt.truncated {
				t.Errorf("errors.Is(%v, ErrTruncated) = %v, want %v", err, gotT, tt.truncated)
			}
			var pe *ParseError
			if !errors.As(err, &pe) || pe.Offset != tt.offset || pe.What != "TLV" {
				t.Errorf("ParseTLV(%X) error = %#v, want *ParseError for TLV at offset %d", in, err, tt.offset)
			}
			// The sequence parsers report the same error, but an empty
			// sequence is valid.
			if len(in) > 0 {
				if _, err := ParseTLVs(in); !errors.Is(err, ErrMalformed) {
					t.Errorf("ParseTLVs(%X) error = %v, want ErrMalformed", in, err)
				}
				if _, _, err := FindTLV(in, 0x01); !errors.Is(err, ErrMalformed) {
					t.Errorf("FindTLV(%X) error = %v, want ErrMalformed", in, err)
				}
			}
		})
	}
}

func TestParseTLVHugeLengthNoAllocation(t *testing.T) {
	in := h(t, "53 84 FF FF FF FF 00 01 02")
	allocs := testing.AllocsPerRun(100, func() {
		if _, _, err := ParseTLV(in); err == nil {
			t.Fatal("ParseTLV accepted a 4 GiB length")
		}
	})
	// The only allocation is the *ParseError itself.
	if allocs > 1 {
		t.Errorf("ParseTLV(huge length) allocations = %v, want at most 1", allocs)
	}
	ok := h(t, "7F 49 82 00 03 86 01 04")
	allocs = testing.AllocsPerRun(100, func() {
		if _, _, err := ParseTLV(ok); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("ParseTLV(valid) allocations = %v, want 0", allocs)
	}
}

func TestParseTLVs(t *testing.T) {
	in := h(t, "01 01 11 02 02 00 01 03 01 00 05 01 01 06 03 01 03 03")
	got, err := ParseTLVs(in)
	if err != nil {
		t.Fatalf("ParseTLVs error: %v", err)
	}
	want := []TLV{
		{0x01, h(t, "11")},
		{0x02, h(t, "00 01")},
		{0x03, h(t, "00")},
		{0x05, h(t, "01")},
		{0x06, h(t, "01 03 03")},
	}
	if len(got) != len(want) {
		t.Fatalf("ParseTLVs returned %d objects, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i].Tag != want[i].Tag || !bytes.Equal(got[i].Value, want[i].Value) {
			t.Errorf("ParseTLVs()[%d] = %v %X, want %v %X", i, got[i].Tag, got[i].Value, want[i].Tag, want[i].Value)
		}
	}
	if cap(got) != len(want) {
		t.Errorf("cap(ParseTLVs()) = %d, want %d", cap(got), len(want))
	}
	if got, err := ParseTLVs(nil); got != nil || err != nil {
		t.Errorf("ParseTLVs(nil) = %v, %v, want nil, nil", got, err)
	}
	// The error offset counts from the start of the whole sequence.
	_, err = ParseTLVs(h(t, "01 01 11 02 05 00"))
	var pe *ParseError
	if !errors.As(err, &pe) || pe.Offset != 6 || !errors.Is(err, ErrTruncated) {
		t.Errorf("ParseTLVs(truncated second object) error = %v, want truncated at byte 6", err)
	}
	_, err = ParseTLVs(h(t, "01 01 11 5F 80 00"))
	if !errors.As(err, &pe) || pe.Offset != 4 {
		t.Errorf("ParseTLVs(bad tag in second object) error = %v, want offset 4", err)
	}
}

func TestFindTLVNested(t *testing.T) {
	// GET DATA response carrying a CHUID-like object and a witness response.
	resp := h(t, "53 0B 30 03 AA BB CC 34 04 01 02 03 04")
	obj, ok, err := FindTLV(resp, 0x53)
	if err != nil || !ok {
		t.Fatalf("FindTLV(resp, 53) = %X, %v, %v", obj, ok, err)
	}
	guid, ok, err := FindTLV(obj, 0x34)
	if err != nil || !ok || !bytes.Equal(guid, h(t, "01 02 03 04")) {
		t.Errorf("FindTLV(53 value, 34) = %X, %v, %v, want 01020304", guid, ok, err)
	}
	// 34 is not at the top level of resp.
	if v, ok, err := FindTLV(resp, 0x34); ok || err != nil {
		t.Errorf("FindTLV(resp, 34) = %X, %v, %v, want not found", v, ok, err)
	}
	// A match before garbage is returned; the garbage is not examined.
	if v, ok, err := FindTLV(h(t, "80 01 AA 5F"), 0x80); !ok || err != nil || !bytes.Equal(v, []byte{0xAA}) {
		t.Errorf("FindTLV(80 01 AA 5F, 80) = %X, %v, %v, want AA, true, nil", v, ok, err)
	}
	// Witness: 7C 0A 80 08 <8>.
	auth := Nest(0x7C, AppendTLV(nil, 0x80, seq(8)))
	dat, _, _ := FindTLV(auth, 0x7C)
	wit, ok, err := FindTLV(dat, 0x80)
	if !ok || err != nil || !bytes.Equal(wit, seq(8)) {
		t.Errorf("FindTLV(7C value, 80) = %X, %v, %v, want the witness", wit, ok, err)
	}
}

func TestAppendTLVMinimal(t *testing.T) {
	tests := []struct {
		tag  Tag
		n    int
		want string // tag and length field
	}{
		{0x53, 0, "53 00"},
		{0x53, 5, "53 05"},
		{0x53, 127, "53 7F"},
		{0x53, 128, "53 81 80"},
		{0x53, 255, "53 81 FF"},
		{0x53, 256, "53 82 01 00"},
		{0x7F49, 265, "7F 49 82 01 09"},
		{0x5FC105, 65535, "5F C1 05 82 FF FF"},
		{0x53, 65536, "53 83 01 00 00"},
		{0x00, 1, "00 01"},
		{0xDF818203, 3, "DF 81 82 03 03"},
	}
	for _, tt := range tests {
		value := seq(tt.n)
		want := append(h(t, tt.want), value...)
		if got := AppendTLV(nil, tt.tag, value); !bytes.Equal(got, want) {
			t.Errorf("AppendTLV(%v, %d bytes) = % X..., want % X...", tt.tag, tt.n, got[:min(8, len(got))], want[:min(8, len(want))])
		}
		if got := AppendTagLen([]byte{0xEE}, tt.tag, tt.n); !bytes.Equal(got, append([]byte{0xEE}, h(t, tt.want)...)) {
			t.Errorf("AppendTagLen(EE, %v, %d) = % X, want EE %s", tt.tag, tt.n, got, tt.want)
		}
		if got, want := EncodedLen(tt.tag, tt.n), len(want); got != want {
			t.Errorf("EncodedLen(%v, %d) = %d, want %d", tt.tag, tt.n, got, want)
		}
		if got := (TLV{tt.tag, value}).Marshal(); !bytes.Equal(got, want) {
			t.Errorf("TLV{%v, %d bytes}.Marshal() differs from AppendTLV", tt.tag, tt.n)
		}
	}
	// A non-minimal input length is re-encoded minimally.
	tlv, _, err := ParseTLV(h(t, "53 81 05 01 02 03 04 05"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := tlv.Marshal(), h(t, "53 05 01 02 03 04 05"); !bytes.Equal(got, want) {
		t.Errorf("Marshal() = % X, want % X", got, want)
	}
}

func TestAppendTagLenPanics(t *testing.T) {
	defer func() {
		if r := recover(); r == nil || !strings.Contains(r.(string), "length -1") {
			t.Errorf("AppendTagLen(-1) recovered %v, want a length panic", r)
		}
	}()
	AppendTagLen(nil, 0x53, -1)
}

func TestTag(t *testing.T) {
	tests := []struct {
		tag         Tag
		constructed bool
		bytes       string
	}{
		{0x53, false, "53"},
		{0x7C, true, "7C"},
		{0x7F49, true, "7F49"},
		{0x5FC105, false, "5FC105"},
		{0x70, true, "70"},
		{0x00, false, "00"},
		{0xBF818203, true, "BF818203"},
	}
	for _, tt := range tests {
		if got := tt.tag.Constructed(); got != tt.constructed {
			t.Errorf("Tag(%s).Constructed() = %v, want %v", tt.bytes, got, tt.constructed)
		}
		if got := tt.tag.String(); got != tt.bytes {
			t.Errorf("Tag(%#x).String() = %q, want %q", uint32(tt.tag), got, tt.bytes)
		}
		if got := tt.tag.AppendTo([]byte{1}); !bytes.Equal(got, append([]byte{1}, h(t, tt.bytes)...)) {
			t.Errorf("Tag(%s).AppendTo(01) = % X, want 01 %s", tt.bytes, got, tt.bytes)
		}
	}
}

func TestNest(t *testing.T) {
	got := Nest(0x7C, AppendTLV(nil, 0x82, nil), AppendTLV(nil, 0x81, seq(32)))
	want := append(h(t, "7C 24 82 00 81 20"), seq(32)...)
	if !bytes.Equal(got, want) {
		t.Errorf("Nest(7C, 82 00, 81 20 ...) = % X, want % X", got, want)
	}
	if got, want := Nest(0x7C), h(t, "7C 00"); !bytes.Equal(got, want) {
		t.Errorf("Nest(7C) = % X, want % X", got, want)
	}
	if len(got) != cap(got) {
		t.Errorf("Nest allocated cap %d for %d bytes", cap(got), len(got))
	}
}
