package hostdriver

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"github.com/tesseracard/tessera/apdu"
)

// TokenStateObject is the tag of Tessera's token state object, a vendor
// PIV data object that a field token (a Tessera persona) answers to GET
// DATA without the PIN: the PIN policy, the delivery state of the PIN and
// PUK, the TOTP authorisation and the signatures left. Its layout is
// documented in package piv of the firmware and in the README ("The token
// state object"); ParseTokenState reads it.
func TokenStateObject() []byte { return []byte{0x5F, 0xFF, 0x20} }

// HolderIDObject is the tag of the vendor PIV data object in which a
// virtual token (a Tessera persona) holds its holder's identity number,
// readable without the PIN. It sits next to the token state object, clear
// of the 5FFF00..5FFF15 objects YubiKey tools use (5FFF10 is
// yubico-piv-tool's MSCMAP). The signature quota of a cloud-signature
// token is 5FFF22, also reported by the token state object.
func HolderIDObject() []byte { return []byte{0x5F, 0xFF, 0x21} }

// Delivery states of a PIN or PUK in the token state object.
const (
	// CredentialPersonal: the holder has set the value.
	CredentialPersonal = "personal"
	// CredentialFactory: the card's published factory value (123456,
	// 12345678 on most cards), still set.
	CredentialFactory = "factory-default"
	// CredentialIssued: a random value the card drew at issue and the
	// holder received in an envelope, not yet changed.
	CredentialIssued = "issued"
	// CredentialTransport: a transport PIN: it verifies, but no key may be
	// used until it is changed.
	CredentialTransport = "transport"
	// CredentialAdminOnly: the PUK is not the user's; only an
	// administrator resets the PIN.
	CredentialAdminOnly = "administrator-reset-only"
)

// credentialStates maps the object's state bytes to names, in order.
func credentialStates() []string {
	return []string{CredentialPersonal, CredentialFactory, CredentialIssued, CredentialTransport, CredentialAdminOnly}
}

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

// TOTPState is a cloud-signature card's TOTP authorisation.
type TOTPState struct {
	Enrolled bool
	Blocked  bool
	Tries    int // wrong codes left
	Limit    int
}

// TokenState is the content of the token state object.
type TokenState struct {
	PIN, PUK string // delivery states: CredentialPersonal, ...
	Policy   PINPolicy
	TOTP     *TOTPState // nil: the card needs no TOTP code
	// SignaturesLeft is the signature quota left; nil: no quota.
	SignaturesLeft *int
}

// ErrTokenState is wrapped by every error of ParseTokenState.
var ErrTokenState = errors.New("hostdriver: malformed token state object")

// ParseTokenState parses the content of the token state object (unwrapped
// from tag 53): simple BER-TLVs 80 PIN state, 81 PUK state, 82 PIN policy
// (5 bytes), 83 TOTP (3 bytes), 84 signatures left (4 bytes). Tags it does
// not know are skipped, so fields can be added; 80, 81 and 82 are
// required. It parses by hand over apdu.ParseTLV, as every PIV object here.
func ParseTokenState(b []byte) (TokenState, error) {
	var st TokenState
	seen := map[apdu.Tag]bool{}
	for len(b) > 0 {
		t, rest, err := apdu.ParseTLV(b)
		if err != nil {
			return TokenState{}, fmt.Errorf("%w: %v", ErrTokenState, err)
		}
		b = rest
		if seen[t.Tag] {
			return TokenState{}, fmt.Errorf("%w: tag %X twice", ErrTokenState, uint32(t.Tag))
		}
		seen[t.Tag] = true
		v := t.Value
		switch t.Tag {
		case 0x80, 0x81:
			names := credentialStates()
			if len(v) != 1 || int(v[0]) >= len(names) {
				return TokenState{}, fmt.Errorf("%w: state % X under tag %X", ErrTokenState, v, uint32(t.Tag))
			}
			if t.Tag == 0x80 {
				st.PIN = names[v[0]]
			} else {
				st.PUK = names[v[0]]
			}
		case 0x82:
			if len(v) != 5 || v[2] > 2 || v[3]&^0x07 != 0 {
				return TokenState{}, fmt.Errorf("%w: PIN policy % X", ErrTokenState, v)
			}
			st.Policy = PINPolicy{
				MinLength: int(v[0]), MaxLength: int(v[1]), Charset: []string{"any", "digits", "alphanumeric"}[v[2]],
				RequireUpper: v[3]&0x01 != 0, RequireLower: v[3]&0x02 != 0, RequireDigit: v[3]&0x04 != 0,
				FieldLength: int(v[4]),
			}
		case 0x83:
			if len(v) != 3 || v[0] > 2 || v[1] > v[2] {
				return TokenState{}, fmt.Errorf("%w: TOTP state % X", ErrTokenState, v)
			}
			st.TOTP = &TOTPState{Enrolled: v[0] != 0, Blocked: v[0] == 2, Tries: int(v[1]), Limit: int(v[2])}
		case 0x84:
			if len(v) != 4 {
				return TokenState{}, fmt.Errorf("%w: signatures left % X", ErrTokenState, v)
			}
			n := int(binary.BigEndian.Uint32(v))
			st.SignaturesLeft = &n
		}
	}
	for _, tag := range []apdu.Tag{0x80, 0x81, 0x82} {
		if !seen[tag] {
			return TokenState{}, fmt.Errorf("%w: no tag %X", ErrTokenState, uint32(tag))
		}
	}
	return st, nil
}

// Marshal encodes st as the token state object's content, the inverse of
// ParseTokenState (a card or a test double writes it).
func (st TokenState) Marshal() []byte {
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
	out = apdu.AppendTLV(out, 0x82, []byte{byte(p.MinLength), byte(p.MaxLength), index(p.Charset, []string{"any", "digits", "alphanumeric"}), classes, byte(p.FieldLength)})
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
