// Package tokenstate is the codec of Tessera's token state object, a vendor
// PIV data object (tag 5FFF20) that a field token (a Tessera persona)
// answers to GET DATA without the PIN: what its holder must know before
// using it — the PIN policy, whether the PIN and PUK are still those the
// card was delivered with (a published factory value, an issued envelope
// value, or a transport PIN that blocks every key until changed), the TOTP
// authorisation and the signatures left.
//
// The card (package firmware/piv) builds the object with [State.Marshal]
// and the host (hostdriver's diagnostics, tests) reads it with [Parse]: one
// codec, both directions. The package imports only apdu, so the firmware
// and the host side may both use it.
//
// # Layout
//
// GET DATA answers 53 L content; the content is a sequence of simple
// BER-TLVs, and fields may be added (a reader skips tags it does not know):
//
//	80 01 PIN state (00 personal, 01 factory default, 02 issued, 03 transport)
//	81 01 PUK state (as the PIN's, or 04: administrator reset only)
//	82 05 PIN policy: min length | max length | charset (00 any, 01 digits,
//	      02 letters and digits) | required classes (bit 01 an upper-case
//	      letter, 02 a lower-case letter, 04 a digit) | PIN field width
//	83 03 TOTP authorisation (cards with TOTP only): state (00 not
//	      enrolled, 01 enrolled, 02 blocked) | wrong codes left | limit
//	84 04 signatures left, big-endian (cards with a signature quota only)
//
// Tags 80, 81 and 82 are always present. The object lies outside the
// 5FFF00..5FFF15 range that YubiKey tools name, so no host software that
// knows those reads it by mistake. This layout is public: cards and hosts
// of every version read it.
package tokenstate

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"github.com/tesseracard/tessera/apdu"
)

// Tag is the token state object's data object tag.
const Tag apdu.Tag = 0x5FFF20

// TagBytes returns Tag as the three bytes of a GET DATA tag list (5C 03
// 5F FF 20).
func TagBytes() []byte {
	return []byte{byte(Tag >> 16 & 0xFF), byte(Tag >> 8 & 0xFF), byte(Tag & 0xFF)}
}

// Delivery states of a PIN or PUK (tags 80 and 81).
const (
	// Personal: the holder has set the value.
	Personal = "personal"
	// Factory: the card's published factory value (123456, 12345678 on
	// most cards), still set.
	Factory = "factory-default"
	// Issued: a random value the card drew at issue and the holder
	// received in an envelope, not yet changed.
	Issued = "issued"
	// Transport: a transport PIN: it verifies, but no key may be used
	// until it is changed.
	Transport = "transport"
	// AdminOnly: the PUK is not the user's; only an administrator resets
	// the PIN.
	AdminOnly = "administrator-reset-only"
)

// credentialStates maps the object's state bytes to names, in order.
func credentialStates() []string { return []string{Personal, Factory, Issued, Transport, AdminOnly} }

// charsets maps the policy's charset byte to names, in order.
func charsets() []string { return []string{"any", "digits", "alphanumeric"} }

// PINPolicy is the PIN policy a card enforces on new PINs.
type PINPolicy struct {
	MinLength int `json:"min_length"`
	MaxLength int `json:"max_length"`
	// Charset is any, digits or alphanumeric (ASCII letters and digits).
	Charset      string `json:"charset"`
	RequireUpper bool   `json:"require_upper"`
	RequireLower bool   `json:"require_lower"`
	RequireDigit bool   `json:"require_digit"`
	// FieldLength is the width of the PIN field of VERIFY, CHANGE
	// REFERENCE DATA and RESET RETRY COUNTER: 8 (SP 800-73-4), or more
	// for a password policy.
	FieldLength int `json:"field_length"`
}

// TOTP is a cloud-signature card's TOTP authorisation.
type TOTP struct {
	Enrolled bool
	Blocked  bool // implies Enrolled
	Tries    int  // wrong codes left
	Limit    int
}

// State is the content of the token state object.
type State struct {
	PIN, PUK string // delivery states: Personal, Factory, ...
	Policy   PINPolicy
	TOTP     *TOTP // nil: the card needs no TOTP code
	// SignaturesLeft is the signature quota left; nil: no quota.
	SignaturesLeft *int
}

// ErrMalformed is wrapped by every error of Parse.
var ErrMalformed = errors.New("tokenstate: malformed token state object")

// Parse parses the content of the token state object (unwrapped from tag
// 53), as the package documentation lays it out. Tags it does not know are
// skipped, so fields can be added; 80, 81 and 82 are required, and no tag
// may appear twice. Every error wraps ErrMalformed. It parses by hand over
// apdu.ParseTLV, as every PIV object here.
func Parse(b []byte) (State, error) {
	var st State
	seen := map[apdu.Tag]bool{}
	for len(b) > 0 {
		t, rest, err := apdu.ParseTLV(b)
		if err != nil {
			return State{}, fmt.Errorf("%w: %v", ErrMalformed, err)
		}
		b = rest
		if seen[t.Tag] {
			return State{}, fmt.Errorf("%w: tag %X twice", ErrMalformed, uint32(t.Tag))
		}
		seen[t.Tag] = true
		v := t.Value
		switch t.Tag {
		case 0x80, 0x81:
			names := credentialStates()
			if len(v) != 1 || int(v[0]) >= len(names) {
				return State{}, fmt.Errorf("%w: state % X under tag %X", ErrMalformed, v, uint32(t.Tag))
			}
			if t.Tag == 0x80 {
				st.PIN = names[v[0]]
			} else {
				st.PUK = names[v[0]]
			}
		case 0x82:
			if len(v) != 5 || int(v[2]) >= len(charsets()) || v[3]&^0x07 != 0 {
				return State{}, fmt.Errorf("%w: PIN policy % X", ErrMalformed, v)
			}
			st.Policy = PINPolicy{
				MinLength: int(v[0]), MaxLength: int(v[1]), Charset: charsets()[v[2]],
				RequireUpper: v[3]&0x01 != 0, RequireLower: v[3]&0x02 != 0, RequireDigit: v[3]&0x04 != 0,
				FieldLength: int(v[4]),
			}
		case 0x83:
			if len(v) != 3 || v[0] > 2 || v[1] > v[2] {
				return State{}, fmt.Errorf("%w: TOTP state % X", ErrMalformed, v)
			}
			st.TOTP = &TOTP{Enrolled: v[0] != 0, Blocked: v[0] == 2, Tries: int(v[1]), Limit: int(v[2])}
		case 0x84:
			if len(v) != 4 {
				return State{}, fmt.Errorf("%w: signatures left % X", ErrMalformed, v)
			}
			n := int(binary.BigEndian.Uint32(v))
			st.SignaturesLeft = &n
		}
	}
	for _, tag := range []apdu.Tag{0x80, 0x81, 0x82} {
		if !seen[tag] {
			return State{}, fmt.Errorf("%w: no tag %X", ErrMalformed, uint32(tag))
		}
	}
	return st, nil
}

// Marshal encodes st as the token state object's content, the inverse of
// Parse: tags 80, 81, 82, then 83 when TOTP is set and 84 when
// SignaturesLeft is. A state or charset name it does not know is encoded
// as the first (personal, any).
func (st State) Marshal() []byte {
	index := func(s string, names []string) byte {
		for i, n := range names {
			if n == s {
				return byte(i)
			}
		}
		return 0
	}
	p := st.Policy
	var classes byte
	for bit, on := range map[byte]bool{0x01: p.RequireUpper, 0x02: p.RequireLower, 0x04: p.RequireDigit} {
		if on {
			classes |= bit
		}
	}
	out := apdu.AppendTLV(nil, 0x80, []byte{index(st.PIN, credentialStates())})
	out = apdu.AppendTLV(out, 0x81, []byte{index(st.PUK, credentialStates())})
	out = apdu.AppendTLV(out, 0x82, []byte{byte(p.MinLength), byte(p.MaxLength), index(p.Charset, charsets()), classes, byte(p.FieldLength)})
	if t := st.TOTP; t != nil {
		state := byte(0)
		switch {
		case t.Blocked:
			state = 2
		case t.Enrolled:
			state = 1
		}
		out = apdu.AppendTLV(out, 0x83, []byte{state, byte(t.Tries), byte(t.Limit)})
	}
	if st.SignaturesLeft != nil {
		out = apdu.AppendTLV(out, 0x84, binary.BigEndian.AppendUint32(nil, uint32(*st.SignaturesLeft)))
	}
	return out
}

// String describes the policy in words, e.g. "8-12 characters, letters
// and digits, with an upper-case letter, a lower-case letter and a digit;
// PIN field of 12 bytes".
func (p PINPolicy) String() string {
	chars := map[string]string{"any": "any characters", "digits": "digits only", "alphanumeric": "letters and digits"}[p.Charset]
	s := fmt.Sprintf("%d-%d characters, %s", p.MinLength, p.MaxLength, chars)
	var need []string
	for _, r := range []struct {
		on   bool
		what string
	}{{p.RequireUpper, "an upper-case letter"}, {p.RequireLower, "a lower-case letter"}, {p.RequireDigit, "a digit"}} {
		if r.on {
			need = append(need, r.what)
		}
	}
	switch len(need) {
	case 0:
	case 1:
		s += ", with " + need[0]
	default:
		s += ", with " + strings.Join(need[:len(need)-1], ", ") + " and " + need[len(need)-1]
	}
	return s + fmt.Sprintf("; PIN field of %d bytes", p.FieldLength)
}
