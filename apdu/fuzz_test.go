package apdu

import (
	"bytes"
	"errors"
	"testing"
)

// The seed corpora live in testdata/fuzz/<FuzzName>/ and hold APDUs and
// data objects recorded from real PIV clients; the f.Add seeds below cover
// the remaining length forms.

// checkParseError fails unless err is a well-formed parse error for b.
func checkParseError(t *testing.T, b []byte, err error) {
	t.Helper()
	if !errors.Is(err, ErrMalformed) {
		t.Fatalf("error for %X does not wrap ErrMalformed: %v", b, err)
	}
	var pe *ParseError
	if !errors.As(err, &pe) {
		t.Fatalf("error for %X is %T, want *ParseError", b, err)
	}
	if pe.Offset < 0 || pe.Offset > len(b) {
		t.Fatalf("ParseError.Offset = %d for %d bytes of input", pe.Offset, len(b))
	}
}

func FuzzParseCommand(f *testing.F) {
	for _, s := range []string{
		"00 20 00 80",
		"00 FD 00 00 03",
		"00 B0 00 00 00 00 00",
		"00 DB 3F FF 00 00 03 5C 01 7E",
		"00 CB 3F FF 00 00 01 7E FF FF",
		"84 DB 3F FF 00 01 00 " + string(bytes.Repeat([]byte("00"), 256)),
		"00 A4 04 00 00 05",
	} {
		f.Add(h(f, s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseCommand(b)
		if err != nil {
			checkParseError(t, b, err)
			return
		}
		out, err := c.Marshal()
		if err != nil {
			t.Fatalf("Marshal(ParseCommand(%X)) error: %v", b, err)
		}
		if !bytes.Equal(out, b) {
			t.Fatalf("Marshal(ParseCommand(%X)) = %X", b, out)
		}
		c2, err := ParseCommand(out)
		if err != nil || !equalCommand(c, c2) {
			t.Fatalf("ParseCommand(Marshal(%+v)) = %+v, %v", c, c2, err)
		}

		// Splitting into a chain and joining the parts gives back the data.
		parts, err := SplitChain(c, 7)
		if err != nil {
			if len(c.Data) > 7 && interindustry(c.CLA) && !c.IsChained() {
				t.Fatalf("SplitChain(%+v, 7) error: %v", c, err)
			}
			return
		}
		var joined []byte
		for i, p := range parts {
			if len(parts) > 1 && p.IsChained() != (i < len(parts)-1) {
				t.Fatalf("part %d of %d: IsChained() = %v", i, len(parts), p.IsChained())
			}
			pb, err := p.Marshal()
			if err != nil {
				t.Fatalf("part %d Marshal error: %v", i, err)
			}
			want := p
			want.Extended = p.extended() // the last part goes extended if Ne > 256
			if got, err := ParseCommand(pb); err != nil || !equalCommand(got, want) {
				t.Fatalf("part %d: ParseCommand(%X) = %+v, %v, want %+v", i, pb, got, err, want)
			}
			joined = append(joined, p.Data...)
		}
		if !bytes.Equal(joined, c.Data) {
			t.Fatalf("joined chain data %X, want %X", joined, c.Data)
		}
	})
}

func FuzzParseResponse(f *testing.F) {
	f.Add([]byte{0x90})
	f.Add(h(f, "01 02 03 61 11"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseResponse(b)
		if err != nil {
			checkParseError(t, b, err)
			return
		}
		out := r.Marshal()
		if !bytes.Equal(out, b) {
			t.Fatalf("Marshal(ParseResponse(%X)) = %X", b, out)
		}
		r2, err := ParseResponse(out)
		if err != nil || r2.SW != r.SW || !bytes.Equal(r2.Data, r.Data) {
			t.Fatalf("ParseResponse(Marshal(%X)) = %X %04X, %v", b, r2.Data, uint16(r2.SW), err)
		}
		// Every status word has a description and a consistent Err.
		if r.SW.Error() == "" {
			t.Fatalf("%04X.Error() is empty", uint16(r.SW))
		}
		if err := r.SW.Err(); (err == nil) != r.SW.OK() || err != nil && !errors.Is(err, r.SW) {
			t.Fatalf("%04X.Err() = %v", uint16(r.SW), err)
		}
	})
}

func FuzzParseTLV(f *testing.F) {
	for _, s := range []string{
		"53 00",
		"53 83 00 00 01 AA",
		"DF 81 82 03 01 00",
		"5F 80 01 00",
		"53 80",
	} {
		f.Add(h(f, s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		tlv, rest, err := ParseTLV(b)
		if err != nil {
			checkParseError(t, b, err)
			return
		}
		consumed := b[:len(b)-len(rest)]
		if !bytes.Equal(b[len(consumed):], rest) {
			t.Fatalf("ParseTLV(%X) rest %X is not a suffix of the input", b, rest)
		}
		enc := tlv.Marshal()
		if got, want := len(enc), EncodedLen(tlv.Tag, len(tlv.Value)); got != want {
			t.Fatalf("len(Marshal()) = %d, EncodedLen = %d", got, want)
		}
		// The minimal encoding is never longer than the input, and equal
		// to it when the input was minimal.
		if len(enc) > len(consumed) || len(enc) == len(consumed) && !bytes.Equal(enc, consumed) {
			t.Fatalf("ParseTLV(%X) re-encoded as %X", consumed, enc)
		}
		tlv2, rest2, err := ParseTLV(enc)
		if err != nil || len(rest2) != 0 || tlv2.Tag != tlv.Tag || !bytes.Equal(tlv2.Value, tlv.Value) {
			t.Fatalf("ParseTLV(%X) = %v %X rest %X, %v, want %v %X", enc, tlv2.Tag, tlv2.Value, rest2, err, tlv.Tag, tlv.Value)
		}
		if enc2 := tlv2.Marshal(); !bytes.Equal(enc2, enc) {
			t.Fatalf("second Marshal = %X, first %X", enc2, enc)
		}
	})
}

func FuzzParseTLVs(f *testing.F) {
	f.Add([]byte{})
	f.Add(h(f, "7C 24 82 00 81 20 00 01 02 03 04 05 06 07 08 09 0A 0B 0C 0D 0E 0F 10 11 12 13 14 15 16 17 18 19 1A 1B 1C 1D 1E 1F"))
	f.Fuzz(func(t *testing.T, b []byte) {
		tlvs, err := ParseTLVs(b)
		if err != nil {
			checkParseError(t, b, err)
			// No object has tag FFFFFFFF (its last byte would continue the
			// tag), so FindTLV scans everything and must fail too.
			if _, found, ferr := FindTLV(b, 0xFFFFFFFF); found || ferr == nil {
				t.Fatalf("FindTLV(%X) = %v, %v on input ParseTLVs rejects", b, found, ferr)
			}
			return
		}
		if cap(tlvs) > len(b)/2 {
			t.Fatalf("ParseTLVs(%d bytes) allocated capacity %d", len(b), cap(tlvs))
		}
		var enc []byte
		for _, tlv := range tlvs {
			enc = tlv.AppendMarshal(enc)
		}
		if len(enc) > len(b) {
			t.Fatalf("re-encoding of %X is longer: %X", b, enc)
		}
		tlvs2, err := ParseTLVs(enc)
		if err != nil || len(tlvs2) != len(tlvs) {
			t.Fatalf("ParseTLVs(%X) = %d objects, %v, want %d", enc, len(tlvs2), err, len(tlvs))
		}
		for i := range tlvs {
			if tlvs2[i].Tag != tlvs[i].Tag || !bytes.Equal(tlvs2[i].Value, tlvs[i].Value) {
				t.Fatalf("object %d: %v %X, want %v %X", i, tlvs2[i].Tag, tlvs2[i].Value, tlvs[i].Tag, tlvs[i].Value)
			}
		}
		if len(tlvs) > 0 {
			first := tlvs[0]
			v, found, err := FindTLV(b, first.Tag)
			if err != nil || !found || !bytes.Equal(v, first.Value) {
				t.Fatalf("FindTLV(%X, %v) = %X, %v, %v, want %X", b, first.Tag, v, found, err, first.Value)
			}
			for _, tlv := range tlvs {
				if tlv.Tag.Constructed() {
					_, _ = ParseTLVs(tlv.Value) // must not panic
				}
			}
		}
	})
}
