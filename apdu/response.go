package apdu

// MaxResponseData is the longest response data field, ISO/IEC 7816-4 §5.1:
// Nr never exceeds the largest Ne, 65536.
const MaxResponseData = MaxExtendedNe

// Response is a response APDU, ISO/IEC 7816-4 §5.1: an optional data field
// followed by the status word SW1-SW2.
type Response struct {
	// Data is the response data field; nil (or empty) when absent.
	// ParseResponse sets it to a subslice of its input.
	Data []byte
	// SW is the trailer SW1-SW2.
	SW StatusWord
}

// ParseResponse parses a response APDU: its last two bytes are SW1-SW2 and
// any bytes before them are the data field. It does not judge the status
// word; use r.SW.Err for that.
//
// ParseResponse returns a [*ParseError] wrapping [ErrTruncated] if b is
// shorter than 2 bytes, or wrapping [ErrMalformed] if the data field is
// longer than [MaxResponseData].
//
// The returned Data is a subslice of b (capacity clipped to its length), or
// nil when b holds only the status word; parsing allocates nothing.
func ParseResponse(b []byte) (Response, error) {
	const what = "response"
	n := len(b) - 2
	switch {
	case n < 0:
		return Response{}, truncated(what, len(b), "shorter than the 2-byte status word")
	case n > MaxResponseData:
		return Response{}, malformed(what, MaxResponseData, "data field longer than 65536 bytes")
	}
	r := Response{SW: SWFromBytes(b[n], b[n+1])}
	if n > 0 {
		r.Data = b[:n:n]
	}
	return r, nil
}

// Marshal returns the encoding of r: its data followed by SW1 and SW2.
// Marshal does not check the data length; ParseResponse rejects data longer
// than [MaxResponseData].
func (r Response) Marshal() []byte {
	return r.AppendMarshal(make([]byte, 0, len(r.Data)+2))
}

// AppendMarshal appends the encoding of r to dst and returns the extended
// slice.
func (r Response) AppendMarshal(dst []byte) []byte {
	dst = append(dst, r.Data...)
	return append(dst, r.SW.SW1(), r.SW.SW2())
}

// Err returns r.SW.Err(): nil for 9000, an [*AuthError] for 63Cx and 6983,
// the StatusWord otherwise.
func (r Response) Err() error { return r.SW.Err() }

// String returns the encoding of r as spaced hexadecimal bytes, e.g.
// "01 02 90 00", for traces. It prints the data in full: do not log
// responses that carry secrets.
func (r Response) String() string {
	return string(appendHex(make([]byte, 0, 3*(len(r.Data)+2)), r.Marshal()))
}
