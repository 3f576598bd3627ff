package conformance

import (
	"context"
	"errors"
	"fmt"

	"github.com/tesseracard/tessera/apdu"
	"github.com/tesseracard/tessera/tokenstate"
)

// tokenState reads the card's token state object (Tessera's vendor data
// object 5FFF20, GET DATA without the PIN; package tokenstate
// documents it). ok is false when the card has none: every card but a
// Tessera persona.
func (e *Env) tokenState(ctx context.Context) (st tokenstate.State, ok bool, err error) {
	r, err := e.Transmit(ctx, getDataCmd(tokenstate.TagBytes()))
	if err != nil || r.SW != apdu.SWSuccess {
		return tokenstate.State{}, false, err
	}
	body, rest, err := apdu.ParseTLV(r.Data)
	if err != nil || body.Tag != 0x53 || len(rest) != 0 {
		return tokenstate.State{}, false, fmt.Errorf("GET DATA %X answered % X: not one 53 TLV", tokenstate.TagBytes(), r.Data)
	}
	st, err = tokenstate.Parse(body.Value)
	if err != nil {
		return tokenstate.State{}, false, fmt.Errorf("GET DATA %X: %w", tokenstate.TagBytes(), err)
	}
	return st, true, nil
}

// errNotPersona: the card's answer is no documented persona difference.
var errNotPersona = errors.New("not a persona difference")

// personaKeyRefusal explains a private-key operation's refusal, sw, by a
// documented persona difference, which it notes: 6982 with the PIN
// verified while the PIN is a transport PIN (DeparturePersonaTransportPIN)
// or while the card needs a TOTP code per operation (DeparturePersonaTOTP);
// 6985 with the signature quota spent (DeparturePersonaQuota). The card's
// token state object must say so; otherwise it returns errNotPersona.
func (e *Env) personaKeyRefusal(ctx context.Context, what string, sw apdu.StatusWord) error {
	if sw != apdu.SWSecurityStatusNotSatisfied && sw != apdu.SWConditionsNotSatisfied {
		return errNotPersona
	}
	st, ok, err := e.tokenState(ctx)
	switch {
	case err != nil:
		return err
	case !ok:
		return errNotPersona
	case sw == apdu.SWSecurityStatusNotSatisfied && st.PIN == tokenstate.Transport:
		e.Departure(DeparturePersonaTransportPIN, "%s answered 6982: the PIN is still a transport PIN, to be changed before any key use", what)
	case sw == apdu.SWSecurityStatusNotSatisfied && st.TOTP != nil:
		e.Departure(DeparturePersonaTOTP, "%s answered 6982: each private-key operation needs a fresh TOTP code (VERIFY to key reference 90)", what)
	case sw == apdu.SWConditionsNotSatisfied && st.SignaturesLeft != nil && *st.SignaturesLeft == 0:
		e.Departure(DeparturePersonaQuota, "%s answered 6985: the signature quota is spent", what)
	default:
		return errNotPersona
	}
	return nil
}

// signOrPersona checks the answer sw to a private-key operation that
// should succeed: nil for 9000; for a refusal that a persona difference
// explains, the difference is noted and done is true (the case can check
// no more); otherwise an error naming what.
func (e *Env) signOrPersona(ctx context.Context, what string, sw apdu.StatusWord) (done bool, err error) {
	if sw == apdu.SWSuccess {
		return false, nil
	}
	switch err := e.personaKeyRefusal(ctx, what, sw); {
	case err == nil:
		return true, nil
	case !errors.Is(err, errNotPersona):
		return true, err
	}
	return true, expectSW(what, sw, apdu.SWSuccess)
}

// passwordField checks that a card which verified a PIN field of n bytes,
// wider than SP 800-73-4's 8, is a persona whose token state object gives
// that width (a password policy), and notes the persona difference.
func (e *Env) passwordField(ctx context.Context, n int) error {
	st, ok, err := e.tokenState(ctx)
	if err != nil {
		return err
	}
	if !ok || st.Policy.FieldLength != n {
		return fmt.Errorf("VERIFY with a %d-byte PIN field answered 9000: SP 800-73-4 Part 2 §3.2.1 expects 6A80 for a field other than 8 bytes", n)
	}
	e.Departure(DeparturePersonaPasswordField, "VERIFY took a %d-byte PIN field, the width of the card's password policy (%s)", n, st.Policy)
	return nil
}
