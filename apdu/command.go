package apdu

import "fmt"

// Limits of the Lc and Le fields, ISO/IEC 7816-4 §5.1.
const (
	MaxShortNc    = 255   // longest data field of a short command
	MaxShortNe    = 256   // largest Ne of a short command (Le = 00)
	MaxExtendedNc = 65535 // longest data field of an extended command
	MaxExtendedNe = 65536 // largest Ne of an extended command (Le = 0000)
)

// CLAChaining is the command chaining bit (b5) of an interindustry class
// byte, ISO/IEC 7816-4 §5.1.1.1: set on every command of a chain but the
// last.
const CLAChaining byte = 0x10

// Command is a command APDU, ISO/IEC 7816-4 §5.1: a four-byte header, an
// optional data field (Lc and data) and an optional expected length (Le).
//
// The zero value is the case 1 command 00 00 00 00.
type Command struct {
	CLA, INS, P1, P2 byte

	// Data is the command data field; Nc is len(Data). It is nil (or empty)
	// when the command has no data field. ParseCommand sets it to a subslice
	// of its input.
	Data []byte

	// Ne is the maximum number of response data bytes expected: 0 when
	// there is no Le field, 1..256 in short form (Le = 00 means 256) and
	// 1..65536 in extended form (Le = 0000 means 65536).
	Ne int

	// Extended reports that the command was parsed from the extended-length
	// form, or requests that form when marshalling. Marshal uses the
	// extended form anyway when Nc > 255 or Ne > 256. A command with
	// neither data nor Le (case 1) has no length fields, so Extended has no
	// effect on it.
	Extended bool
}

// ParseCommand parses a command APDU in any of the cases of ISO/IEC 7816-4
// §5.1 (Table 1 and its notes). With B5 the byte after the header and L the
// length of the input:
//
//   - case 1: L = 4, no Lc and no Le;
//   - case 2S: L = 5, Le = B5 (00 means 256);
//   - case 3S: B5 ≠ 00 and L = 5+B5, Lc = B5;
//   - case 4S: B5 ≠ 00 and L = 6+B5, Lc = B5 and the last byte is Le;
//   - case 2E: B5 = 00 and L = 7, Le = B6B7 (0000 means 65536);
//   - case 3E: B5 = 00, Lc = B6B7 ≠ 0000 and L = 7+Lc;
//   - case 4E: B5 = 00, Lc = B6B7 ≠ 0000 and L = 9+Lc, the last two bytes
//     are Le (0000 means 65536).
//
// Any other input is malformed and ParseCommand returns a [*ParseError]
// wrapping [ErrMalformed], or [ErrTruncated] when a length field declares
// more bytes than follow or the input is shorter than 4 bytes.
//
// ParseCommand checks the framing only: it accepts any CLA and INS byte,
// including values ISO/IEC 7816-3 reserves (CLA FF, INS 6X and 9X), so that
// a card can answer them with a status word.
//
// The returned Data is a subslice of b (capacity clipped to its length), not
// a copy; parsing allocates nothing. Extended records which form was used,
// so Marshal reproduces b exactly.
func ParseCommand(b []byte) (Command, error) {
	const what = "command"
	if len(b) < 4 {
		return Command{}, truncated(what, len(b), "shorter than the 4-byte header")
	}
	c := Command{CLA: b[0], INS: b[1], P1: b[2], P2: b[3]}
	body := b[4:]
	switch {
	case len(body) == 0: // case 1
		return c, nil

	case len(body) == 1: // case 2S
		c.Ne = shortNe(body[0])
		return c, nil

	case body[0] != 0: // short Lc: case 3S or 4S
		nc := int(body[0])
		switch after := len(body) - 1 - nc; {
		case after < 0:
			return Command{}, truncated(what, len(b), "Lc exceeds the remaining bytes")
		case after > 1:
			return Command{}, malformed(what, 5+nc+1, "bytes after Le")
		case after == 1: // case 4S
			c.Ne = shortNe(body[len(body)-1])
		}
		c.Data = body[1 : 1+nc : 1+nc]
		return c, nil

	case len(body) == 2: // 00 and one byte: neither 2S nor extended
		return Command{}, truncated(what, len(b), "extended length field shorter than 3 bytes")

	case len(body) == 3: // case 2E
		c.Ne = extendedNe(body[1], body[2])
		c.Extended = true
		return c, nil

	default: // extended Lc: case 3E or 4E
		nc := int(body[1])<<8 | int(body[2])
		if nc == 0 {
			return Command{}, malformed(what, 5, "extended Lc of 0000 followed by more bytes")
		}
		switch after := len(body) - 3 - nc; {
		case after < 0:
			return Command{}, truncated(what, len(b), "Lc exceeds the remaining bytes")
		case after == 1:
			return Command{}, truncated(what, len(b), "extended Le shorter than 2 bytes")
		case after > 2:
			return Command{}, malformed(what, 7+nc+2, "bytes after Le")
		case after == 2: // case 4E
			c.Ne = extendedNe(body[len(body)-2], body[len(body)-1])
		}
		c.Data = body[3 : 3+nc : 3+nc]
		c.Extended = true
		return c, nil
	}
}

func shortNe(le byte) int {
	if le == 0 {
		return MaxShortNe
	}
	return int(le)
}

func extendedNe(hi, lo byte) int {
	if n := int(hi)<<8 | int(lo); n != 0 {
		return n
	}
	return MaxExtendedNe
}

// extended reports whether c is marshalled in extended form.
func (c Command) extended() bool {
	return (len(c.Data) > 0 || c.Ne > 0) &&
		(c.Extended || len(c.Data) > MaxShortNc || c.Ne > MaxShortNe)
}

func (c Command) check() error {
	if len(c.Data) > MaxExtendedNc {
		return fmt.Errorf("%w: data field of %d bytes exceeds %d", ErrInvalidCommand, len(c.Data), MaxExtendedNc)
	}
	if c.Ne < 0 || c.Ne > MaxExtendedNe {
		return fmt.Errorf("%w: Ne %d outside 0..%d", ErrInvalidCommand, c.Ne, MaxExtendedNe)
	}
	return nil
}

// encodedLen returns the length of the encoding of a checked command.
func (c Command) encodedLen() int {
	n := 4 + len(c.Data)
	switch {
	case c.extended():
		n++ // leading 00
		if len(c.Data) > 0 {
			n += 2
		}
		if c.Ne > 0 {
			n += 2
		}
	default:
		if len(c.Data) > 0 {
			n++
		}
		if c.Ne > 0 {
			n++
		}
	}
	return n
}

// Marshal encodes c in the shortest form ISO/IEC 7816-4 §5.1 allows for it:
// short, unless c.Extended is set, Nc > 255 or Ne > 256. Ne = 256 in short
// form and Ne = 65536 in extended form are encoded as Le = 00 and 0000.
//
// For every command returned by ParseCommand, Marshal returns the parsed
// bytes, and for every command c it accepts, ParseCommand(Marshal(c))
// returns c with Extended reporting the form Marshal chose (and Data nil
// if empty).
//
// Marshal returns an error wrapping [ErrInvalidCommand] when Nc > 65535, or
// Ne is negative or larger than 65536.
func (c Command) Marshal() ([]byte, error) {
	if err := c.check(); err != nil {
		return nil, err
	}
	return c.appendMarshal(make([]byte, 0, c.encodedLen())), nil
}

// AppendMarshal appends the encoding of c, as produced by [Command.Marshal],
// to dst and returns the extended slice. On error it returns dst unchanged.
func (c Command) AppendMarshal(dst []byte) ([]byte, error) {
	if err := c.check(); err != nil {
		return dst, err
	}
	return c.appendMarshal(dst), nil
}

func (c Command) appendMarshal(dst []byte) []byte {
	dst = append(dst, c.CLA, c.INS, c.P1, c.P2)
	nc := len(c.Data)
	if c.extended() {
		dst = append(dst, 0)
		if nc > 0 {
			dst = append(dst, byte(nc>>8), byte(nc))
			dst = append(dst, c.Data...)
		}
		if c.Ne > 0 {
			dst = append(dst, byte(c.Ne>>8), byte(c.Ne)) // 65536 → 00 00
		}
		return dst
	}
	if nc > 0 {
		dst = append(dst, byte(nc))
		dst = append(dst, c.Data...)
	}
	if c.Ne > 0 {
		dst = append(dst, byte(c.Ne)) // 256 → 00
	}
	return dst
}

// interindustry reports whether cla is an interindustry class byte, ISO/IEC
// 7816-4 §5.1.1: first interindustry values 000x xxxx (00..1F) and further
// interindustry values 01xx xxxx (40..7F). Both place the chaining bit at
// b5 (0x10). 001x xxxx is reserved and 1xxx xxxx is proprietary.
func interindustry(cla byte) bool {
	return cla&0x80 == 0 && cla&0xE0 != 0x20
}

// IsChained reports whether c announces that more commands of the same
// chain follow: its class byte is interindustry (00..1F or 40..7F) with the
// command chaining bit [CLAChaining] set (ISO/IEC 7816-4 §5.1.1.1).
// Proprietary classes (80..FF) and the reserved classes 20..3F never count
// as chained, as ISO/IEC 7816-4 does not define the bit for them.
func (c Command) IsChained() bool {
	return interindustry(c.CLA) && c.CLA&CLAChaining != 0
}

// SplitChain splits c for command chaining (ISO/IEC 7816-4 §5.1.1.1) into
// commands with at most maxData data bytes each. All but the last have the
// class byte c.CLA|CLAChaining and no Le (Ne = 0); the last keeps c.CLA and
// c.Ne. Every part has Extended false, so parts are short commands unless
// the last one's Ne exceeds 256. Their Data are subslices of c.Data.
//
// A command whose data fits in maxData is returned alone, unchanged.
//
// SplitChain returns an error wrapping [ErrInvalidCommand] if maxData is
// outside 1..255, or if c must be split but its class byte is not
// interindustry or already has the chaining bit set.
func SplitChain(c Command, maxData int) ([]Command, error) {
	if maxData < 1 || maxData > MaxShortNc {
		return nil, fmt.Errorf("%w: chain part size %d outside 1..%d", ErrInvalidCommand, maxData, MaxShortNc)
	}
	if len(c.Data) <= maxData {
		return []Command{c}, nil
	}
	if !interindustry(c.CLA) {
		return nil, fmt.Errorf("%w: class %02X has no chaining bit", ErrInvalidCommand, c.CLA)
	}
	if c.CLA&CLAChaining != 0 {
		return nil, fmt.Errorf("%w: class %02X is already chained", ErrInvalidCommand, c.CLA)
	}
	parts := make([]Command, 0, (len(c.Data)+maxData-1)/maxData)
	for data := c.Data; len(data) > 0; {
		n := min(len(data), maxData)
		p := Command{CLA: c.CLA | CLAChaining, INS: c.INS, P1: c.P1, P2: c.P2, Data: data[:n:n]}
		data = data[n:]
		if len(data) == 0 {
			p.CLA, p.Ne = c.CLA, c.Ne
		}
		parts = append(parts, p)
	}
	return parts, nil
}

// String returns the encoding of c as spaced hexadecimal bytes, e.g.
// "00 A4 04 00 05 A0 00 00 03 08", for traces and test failures. If c
// cannot be marshalled it shows the header and the offending lengths.
//
// String prints the data field in full: do not log commands that carry
// secrets such as PINs or keys.
func (c Command) String() string {
	b, err := c.Marshal()
	if err != nil {
		return fmt.Sprintf("%02X %02X %02X %02X (invalid: Nc=%d Ne=%d)", c.CLA, c.INS, c.P1, c.P2, len(c.Data), c.Ne)
	}
	return string(appendHex(nil, b))
}

// appendHex appends b as uppercase hexadecimal bytes separated by spaces.
func appendHex(dst, b []byte) []byte {
	for i, x := range b {
		if i > 0 {
			dst = append(dst, ' ')
		}
		dst = append(dst, hexDigit(x>>4), hexDigit(x))
	}
	return dst
}
