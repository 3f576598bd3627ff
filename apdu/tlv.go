package apdu

import "fmt"

// BER-TLV, ISO/IEC 7816-4 §5.2.2, is parsed and built here by hand, without
// encoding/asn1 or x/crypto/cryptobyte. Both of those implement DER, and PIV
// data is not DER: SP 800-73-4 and YubiKey use multi-byte tags such as
// 5FC105 (an object ID) and 7F49 (a public key), which cryptobyte refuses
// outright and encoding/asn1 can only reach through reflection and struct
// tags, and cards and middleware emit non-minimal lengths such as 81 05,
// which both reject. Here a tag is just its bytes, and lengths are read
// liberally and written minimally.

// Tag is a BER-TLV tag field, ISO/IEC 7816-4 §5.2.2.1, written as its bytes
// read as a big-endian number: 0x53, 0x7F49, 0x5FC105. Tags of one to four
// bytes are supported.
//
// A multi-byte tag always begins with a byte whose low five bits are set, so
// the number determines the bytes: Tag(0x53) is the one byte 53 and
// Tag(0x7F49) the two bytes 7F 49.
type Tag uint32

// byteLen returns the number of bytes of t's encoding.
func (t Tag) byteLen() int {
	switch {
	case t <= 0xFF:
		return 1
	case t <= 0xFFFF:
		return 2
	case t <= 0xFFFFFF:
		return 3
	}
	return 4
}

// Constructed reports whether t is the tag of a constructed data object,
// whose value is itself a sequence of data objects: bit b6 (0x20) of its
// first byte is set (ISO/IEC 7816-4 §5.2.2.1). 7C and 7F49 are
// constructed; 53 and 5FC105 are not.
func (t Tag) Constructed() bool {
	return byte(t>>(8*(t.byteLen()-1)))&0x20 != 0
}

// AppendTo appends the bytes of t to dst and returns the extended slice. It
// writes the bytes as given, without checking that they form a valid tag.
func (t Tag) AppendTo(dst []byte) []byte {
	for i := t.byteLen() - 1; i >= 0; i-- {
		dst = append(dst, byte(t>>(8*i)))
	}
	return dst
}

// String returns t's bytes in hexadecimal, e.g. "5FC105".
func (t Tag) String() string {
	b := make([]byte, 0, 8)
	for i := t.byteLen() - 1; i >= 0; i-- {
		x := byte(t >> (8 * i))
		b = append(b, hexDigit(x>>4), hexDigit(x))
	}
	return string(b)
}

// TLV is one BER-TLV data object, ISO/IEC 7816-4 §5.2.2. For a
// constructed tag, Value holds the encoded child objects; parse them with
// [ParseTLVs] or [FindTLV].
type TLV struct {
	Tag Tag
	// Value is the value field. ParseTLV sets it to a subslice of its input.
	Value []byte
}

// Marshal returns the encoding of t with a minimal length field; see
// [AppendTLV].
func (t TLV) Marshal() []byte {
	return t.AppendMarshal(make([]byte, 0, EncodedLen(t.Tag, len(t.Value))))
}

// AppendMarshal appends the encoding of t to dst; see [AppendTLV].
func (t TLV) AppendMarshal(dst []byte) []byte {
	return AppendTLV(dst, t.Tag, t.Value)
}

// ParseTLV parses the data object at the start of b and returns it with
// the bytes that follow it.
//
// The tag field may be one to four bytes long (a first byte with its low
// five bits set continues on bytes with b8 set, up to one with b8 clear);
// the first subsequent byte may not be 80. Tag bytes are taken literally:
// the bytes 00 and FF, which ISO/IEC 7816-4 allows as padding between data
// objects, are not skipped; 00 parses as a one-byte tag and FF starts a
// multi-byte one.
//
// The length field may be short (00..7F) or long (81 to 84 followed by one
// to four bytes). Non-minimal lengths such as 81 05 are accepted; 80
// (indefinite length) and 85..FF are not.
//
// ParseTLV returns a [*ParseError] wrapping [ErrTruncated] if b ends inside
// the tag, the length or the value, and wrapping [ErrMalformed] for an
// invalid tag or length field. A huge declared length is reported without
// allocating. The returned Value and rest are subslices of b.
func ParseTLV(b []byte) (t TLV, rest []byte, err error) {
	return parseTLV(b, 0)
}

// parseTLV is ParseTLV reporting error offsets plus base.
func parseTLV(b []byte, base int) (TLV, []byte, error) {
	const what = "TLV"
	if len(b) == 0 {
		return TLV{}, nil, truncated(what, base, "missing tag")
	}
	tag := Tag(b[0])
	i := 1
	if b[0]&0x1F == 0x1F { // multi-byte tag
		for {
			if i == 4 {
				return TLV{}, nil, malformed(what, base+i, "tag longer than 4 bytes")
			}
			if i == len(b) {
				return TLV{}, nil, truncated(what, base+i, "tag continues past the input")
			}
			x := b[i]
			if i == 1 && x == 0x80 {
				return TLV{}, nil, malformed(what, base+i, "tag's first subsequent byte is 80")
			}
			tag = tag<<8 | Tag(x)
			i++
			if x&0x80 == 0 {
				break
			}
		}
	}

	if i == len(b) {
		return TLV{}, nil, truncated(what, base+i, "missing length")
	}
	first := b[i]
	i++
	var n uint64
	switch {
	case first < 0x80:
		n = uint64(first)
	case first == 0x80:
		return TLV{}, nil, malformed(what, base+i-1, "indefinite length")
	case first > 0x84:
		return TLV{}, nil, malformed(what, base+i-1, "length field longer than 5 bytes")
	default:
		k := int(first & 0x7F)
		if len(b)-i < k {
			return TLV{}, nil, truncated(what, base+len(b), "length continues past the input")
		}
		for _, x := range b[i : i+k] {
			n = n<<8 | uint64(x)
		}
		i += k
	}
	if n > uint64(len(b)-i) {
		return TLV{}, nil, truncated(what, base+len(b), "value extends past the input")
	}
	end := i + int(n)
	return TLV{Tag: tag, Value: b[i:end:end]}, b[end:], nil
}

// ParseTLVs parses b as a concatenation of data objects, such as the value
// of a constructed data object or a command data field. It returns nil for
// empty input. Only the top level is parsed: the values of constructed
// objects are left encoded.
//
// ParseTLVs returns the error of the first object [ParseTLV] rejects, with
// its offset counted from the start of b. It validates all of b before
// allocating a slice of exactly the number of objects found (at most
// len(b)/2, as each takes at least two bytes).
func ParseTLVs(b []byte) ([]TLV, error) {
	n := 0
	for rest := b; len(rest) > 0; n++ {
		var err error
		if _, rest, err = parseTLV(rest, len(b)-len(rest)); err != nil {
			return nil, err
		}
	}
	if n == 0 {
		return nil, nil
	}
	tlvs := make([]TLV, 0, n)
	for rest := b; len(rest) > 0; {
		var t TLV
		t, rest, _ = parseTLV(rest, 0)
		tlvs = append(tlvs, t)
	}
	return tlvs, nil
}

// FindTLV returns the value of the first top-level data object with the
// given tag in the concatenation b. It does not descend into constructed
// objects: to find 82 inside 7C{82 ...}, find 7C first and then search its
// value.
//
// FindTLV parses only as far as the match, so bytes after it are not
// checked; found is false and err nil when b holds no such object. err is
// the error of [ParseTLV] for the first malformed object before a match.
func FindTLV(b []byte, tag Tag) (value []byte, found bool, err error) {
	for rest := b; len(rest) > 0; {
		var t TLV
		if t, rest, err = parseTLV(rest, len(b)-len(rest)); err != nil {
			return nil, false, err
		}
		if t.Tag == tag {
			return t.Value, true, nil
		}
	}
	return nil, false, nil
}

// lengthLen returns the size of the minimal length field for n.
func lengthLen(n int) int {
	switch {
	case n < 0 || uint64(n) > 0xFFFFFFFF:
		panic(fmt.Sprintf("apdu: BER-TLV length %d outside 0..4294967295", n))
	case n < 0x80:
		return 1
	case n <= 0xFF:
		return 2
	case n <= 0xFFFF:
		return 3
	case n <= 0xFFFFFF:
		return 4
	}
	return 5
}

// AppendTagLen appends the tag field of tag and the minimal length field for
// a value of n bytes (ISO/IEC 7816-4 §5.2.2.2): one byte up to 127, then 81,
// 82, 83 or 84 followed by one to four bytes. The caller appends the n
// value bytes. It panics if n is negative or exceeds 2³²-1.
func AppendTagLen(dst []byte, tag Tag, n int) []byte {
	dst = tag.AppendTo(dst)
	k := lengthLen(n)
	if k == 1 {
		return append(dst, byte(n))
	}
	dst = append(dst, 0x80|byte(k-1))
	for i := k - 2; i >= 0; i-- {
		dst = append(dst, byte(n>>(8*i)))
	}
	return dst
}

// AppendTLV appends the data object tag-length-value to dst, with a minimal
// length field, and returns the extended slice. The output therefore
// satisfies DER's length rule, which Go's encoding/asn1 (and so piv-go)
// requires. It panics if len(value) exceeds 2³²-1.
func AppendTLV(dst []byte, tag Tag, value []byte) []byte {
	return append(AppendTagLen(dst, tag, len(value)), value...)
}

// EncodedLen returns the length of the encoding of a data object with the
// given tag and an n-byte value, as written by [AppendTLV]. It panics if n
// is negative or exceeds 2³²-1.
func EncodedLen(tag Tag, n int) int {
	return tag.byteLen() + lengthLen(n) + n
}

// Nest returns a data object with the given tag whose value is the
// concatenation of children, usually themselves encoded data objects. It
// allocates once. For example, the dynamic authentication template of a
// GENERAL AUTHENTICATE signature request, 7C{82 00, 81 L challenge}, is
//
//	apdu.Nest(0x7C, apdu.AppendTLV(nil, 0x82, nil), apdu.AppendTLV(nil, 0x81, challenge))
func Nest(tag Tag, children ...[]byte) []byte {
	n := 0
	for _, c := range children {
		n += len(c)
	}
	out := AppendTagLen(make([]byte, 0, EncodedLen(tag, n)), tag, n)
	for _, c := range children {
		out = append(out, c...)
	}
	return out
}
