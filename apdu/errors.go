package apdu

import (
	"errors"
	"fmt"
	"strconv"
)

var (
	// ErrMalformed is wrapped by every error that reports bytes which are not
	// a well-formed command APDU, response APDU or BER-TLV encoding.
	ErrMalformed = errors.New("apdu: malformed input")

	// ErrTruncated is wrapped by parse errors for input that ends before the
	// encoding it starts is complete, for example a length field that
	// declares more bytes than follow. It wraps ErrMalformed, so
	// errors.Is(err, ErrMalformed) holds for truncated input too.
	ErrTruncated = fmt.Errorf("%w: truncated", ErrMalformed)

	// ErrInvalidCommand is wrapped by the errors of [Command.Marshal],
	// [Command.AppendMarshal] and [SplitChain] when a Command cannot be
	// encoded: its data field is longer than 65535 bytes, its Ne is outside
	// 0..65536, or it cannot be split into a chain.
	ErrInvalidCommand = errors.New("apdu: invalid command")
)

// ParseError describes why some bytes could not be parsed. The parsers of
// this package return it as a *ParseError.
//
// Reason and What are constant strings, so building a ParseError costs one
// small allocation however large the input.
type ParseError struct {
	// What names the encoding being parsed: "command", "response" or "TLV".
	What string
	// Offset is the index in the input of the first byte found wrong, or the
	// length of the input when more bytes were needed.
	Offset int
	// Reason says what is wrong, e.g. "Lc exceeds the remaining bytes".
	Reason string
	// Err is ErrTruncated or ErrMalformed.
	Err error
}

// Error returns "apdu: malformed <What> at byte <Offset>: <Reason>".
func (e *ParseError) Error() string {
	return "apdu: malformed " + e.What + " at byte " + strconv.Itoa(e.Offset) + ": " + e.Reason
}

// Unwrap returns e.Err, which is ErrTruncated or ErrMalformed.
func (e *ParseError) Unwrap() error { return e.Err }

func malformed(what string, offset int, reason string) error {
	return &ParseError{What: what, Offset: offset, Reason: reason, Err: ErrMalformed}
}

func truncated(what string, offset int, reason string) error {
	return &ParseError{What: what, Offset: offset, Reason: reason, Err: ErrTruncated}
}
