package piv

import (
	"errors"

	"github.com/tesseracard/tessera/firmware"
	"github.com/tesseracard/tessera/firmware/pin"
	"github.com/tesseracard/tessera/tokenstate"
)

// objTokenState is Tessera's vendor data object that tells a host, without
// the PIN, what a field token's holder must know before using it: the PIN
// policy, whether the PIN and PUK are still those the card was delivered
// with (a published factory value, an issued envelope value, or a
// transport PIN that blocks every key until changed), the TOTP
// authorisation and the signatures left. Only persona profiles
// (profile.PIV.Persona) have it; it is computed at each GET DATA from the
// card's state, never stored, and PUT DATA cannot write it (6A80, as for
// any tag outside the card's objects). Its content and layout belong to
// package tokenstate, the one codec the card and the host share. The
// persona's stored objects sit next to it, clear of the 5FFF00..5FFF15
// objects YubiKey tools use: 5FFF21 the holder ID (objHolderID), 5FFF22 the
// signatures left (objQuota).
const objTokenState = tokenstate.Tag

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
	state := func(st pin.Status, random bool) string {
		switch {
		case st.MustChange:
			return tokenstate.Transport
		case st.Default && random:
			return tokenstate.Issued
		case st.Default:
			return tokenstate.Factory
		}
		return tokenstate.Personal
	}
	pol := a.policy()
	st := tokenstate.State{
		PIN: state(pinSt, v.RandomPIN),
		PUK: state(pukSt, v.RandomPUK),
		Policy: tokenstate.PINPolicy{
			MinLength: pol.MinLen, MaxLength: pol.MaxLen,
			Charset:      map[string]string{pin.Digits: "digits", pin.Alphanumeric: "alphanumeric"}[pol.Allowed],
			RequireUpper: pol.RequireUpper, RequireLower: pol.RequireLower, RequireDigit: pol.RequireDigit,
			FieldLength: a.wideField(),
		},
	}
	if v.AdminReset {
		st.PUK = tokenstate.AdminOnly
	}
	if v.TOTP {
		st.TOTP = &tokenstate.TOTP{Limit: totpTries}
		switch r, err := loadTOTP(env.Store); {
		case err == nil && r.tries == 0:
			st.TOTP.Enrolled, st.TOTP.Blocked = true, true
		case err == nil:
			st.TOTP.Enrolled, st.TOTP.Tries = true, int(r.tries)
		case !errors.Is(err, errNoTOTP):
			return nil, err
		}
	}
	if v.SignatureQuota > 0 {
		cs, err := ReadCloudState(env.Store)
		if err != nil {
			return nil, err
		}
		quota := int(cs.Quota)
		st.SignaturesLeft = &quota
	}
	return st.Marshal(), nil
}
