package piv

import (
	"encoding/binary"
	"errors"

	"github.com/tesseracard/tessera/apdu"
	"github.com/tesseracard/tessera/firmware"
	"github.com/tesseracard/tessera/firmware/pin"
)

// objTokenState is Tessera's vendor data object that tells a host, without
// the PIN, what a field token's holder must know before using it: the PIN
// policy, whether the PIN and PUK are still those the card was delivered
// with (a published factory value, an issued envelope value, or a
// transport PIN that blocks every key until changed), the TOTP
// authorisation and the signatures left. Only persona profiles
// (profile.PIV.Persona) have it; it is computed at each GET DATA from the
// card's state, never stored, and PUT DATA cannot write it (6A80, as for
// any tag outside the card's objects). It lies outside the 5FFF00..5FFF15
// range that YubiKey tools name (ADMIN DATA, attestation, MSCMAP,
// MSROOTS), so no host software that knows those reads it by mistake; the
// persona's stored objects sit next to it for the same reason: 5FFF21 the
// holder ID (objHolderID), 5FFF22 the signatures left (objQuota).
//
// Content (GET DATA answers 53 L content; every field is a simple BER-TLV,
// fields may be added, a host skips tags it does not know):
//
//	80 01 PIN state (tokenPersonal .. tokenTransport)
//	81 01 PUK state (tokenPersonal .. tokenIssued, or tokenNoUserPUK)
//	82 05 PIN policy: min length | max length | charset (00 any, 01 digits,
//	      02 letters and digits) | required classes (bit 01 an upper-case
//	      letter, 02 a lower-case letter, 04 a digit) | PIN field width
//	83 03 TOTP authorisation (profile piv.totp only): state (00 not
//	      enrolled, 01 enrolled, 02 blocked) | wrong codes left | limit
//	84 04 signatures left, big-endian (profile piv.signature_quota only)
const objTokenState = 0x5FFF20

// PIN and PUK states in the token state object (tags 80 and 81).
const (
	tokenPersonal  = 0x00 // changed by the holder
	tokenFactory   = 0x01 // the profile's published factory value
	tokenIssued    = 0x02 // the random value drawn at issue (the envelope), not yet changed
	tokenTransport = 0x03 // a transport PIN: no key may be used until it is changed
	tokenNoUserPUK = 0x04 // the PUK is not the user's: only an administrator resets the PIN
)

// TOTP states in the token state object (tag 83).
const (
	totpNotEnrolled = 0x00
	totpEnrolled    = 0x01
	totpBlocked     = 0x02
)

// tokenState builds the token state object's content from the card's
// persistent state. It reads nothing secret and spends nothing.
func (a *Applet) tokenState(env *firmware.Context) ([]byte, error) {
	v := a.p.PIV
	pinSt, err := pinStatus(env, keyPIN)
	if err != nil {
		return nil, err
	}
	pukSt, err := pinStatus(env, keyPUK)
	if err != nil {
		return nil, err
	}
	state := func(st pin.Status, random bool) byte {
		switch {
		case st.MustChange:
			return tokenTransport
		case st.Default && random:
			return tokenIssued
		case st.Default:
			return tokenFactory
		}
		return tokenPersonal
	}
	pukState := state(pukSt, v.RandomPUK)
	if v.AdminReset {
		pukState = tokenNoUserPUK
	}
	pol := a.policy()
	charset := map[string]byte{pin.Digits: 0x01, pin.Alphanumeric: 0x02}[pol.Allowed]
	var classes byte
	for bit, on := range map[byte]bool{0x01: pol.RequireUpper, 0x02: pol.RequireLower, 0x04: pol.RequireDigit} {
		if on {
			classes |= bit
		}
	}
	out := apdu.AppendTLV(nil, 0x80, []byte{state(pinSt, v.RandomPIN)})
	out = apdu.AppendTLV(out, 0x81, []byte{pukState})
	out = apdu.AppendTLV(out, 0x82, []byte{byte(pol.MinLen), byte(pol.MaxLen), charset, classes, byte(a.wideField())})
	if v.TOTP {
		t := []byte{totpNotEnrolled, 0, totpTries}
		switch r, err := loadTOTP(env.Store); {
		case err == nil && r.tries == 0:
			t[0] = totpBlocked
		case err == nil:
			t[0], t[1] = totpEnrolled, r.tries
		case !errors.Is(err, errNoTOTP):
			return nil, err
		}
		out = apdu.AppendTLV(out, 0x83, t)
	}
	if v.SignatureQuota > 0 {
		st, err := ReadCloudState(env.Store)
		if err != nil {
			return nil, err
		}
		out = apdu.AppendTLV(out, 0x84, binary.BigEndian.AppendUint32(nil, uint32(st.Quota)))
	}
	return out, nil
}
