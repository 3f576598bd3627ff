package piv

import (
	"bytes"
	"errors"

	"github.com/tesseracard/tessera/apdu"
	"github.com/tesseracard/tessera/firmware"
	"github.com/tesseracard/tessera/firmware/pin"
)

// pinLen is the length of a PIN or PUK field in VERIFY, CHANGE REFERENCE
// DATA and RESET RETRY COUNTER: the value padded with FF (SP 800-73-4 Part 2
// §3.2.1).
const pinLen = 8

// unpad returns the value of an 8-byte FF-padded PIN field and whether it is
// well formed: 1..8 bytes, padding only FF and only at the end, no FF inside.
func unpad(field []byte) ([]byte, bool) {
	v := bytes.TrimRight(field, "\xFF")
	return v, len(v) > 0 && bytes.IndexByte(v, 0xFF) < 0
}

// policy returns the profile's PIN policy as a pin.Policy.
func (a *Applet) policy() pin.Policy {
	pp := a.p.PIV.PINPolicy
	p := pin.Policy{MinLen: pp.MinLength, MaxLen: pp.MaxLength, RequireUpper: pp.RequireUpper, RequireLower: pp.RequireLower, RequireDigit: pp.RequireDigit}
	switch pp.Charset {
	case "digits":
		p.Allowed = pin.Digits
	case "alphanumeric":
		p.Allowed = pin.Alphanumeric
	}
	return p
}

// candidate checks a presented PIN (or, with puk set, PUK) field. A
// malformed field answers 6A80 without spending a try (SP 800-85A-4
// VE05.22D), unless the profile says that, as on a YubiKey, it is compared
// and counts as a wrong try. The PIN policy applies to PINs only: a PUK may
// hold any 8 bytes.
func (a *Applet) candidate(field []byte, puk bool) ([]byte, error) {
	if len(field) != pinLen {
		return nil, apdu.SWIncorrectData
	}
	v, ok := unpad(field)
	if !ok || !puk && a.policy().Check(v) != nil {
		if !a.p.PIV.Behaviour.MalformedPINCountsAsWrong {
			return nil, apdu.SWIncorrectData
		}
	}
	return v, nil
}

// pinError maps a firmware/pin error to the status word the card answers.
func (a *Applet) pinError(err error) error {
	var we *pin.WrongError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &we):
		if we.Retries == 0 && a.p.PIV.Behaviour.BlockingAnswers6983 {
			return apdu.SWAuthMethodBlocked
		}
		return apdu.RetriesSW(we.Retries)
	case errors.Is(err, pin.ErrBlocked):
		return apdu.SWAuthMethodBlocked
	case errors.Is(err, pin.ErrPolicy):
		return apdu.SWIncorrectData
	}
	return err
}

// verify is VERIFY (SP 800-73-4 Part 2 §3.2.1): with data, checks the PIN;
// without, reports the status without spending a try; with P1 = FF, resets
// the PIN's security status.
func (a *Applet) verify(ctx *firmware.Context, cmd apdu.Command) error {
	if cmd.P2 != refPIN {
		return apdu.SWReferenceNotFound
	}
	switch {
	case cmd.P1 == 0xFF:
		if len(cmd.Data) != 0 {
			return apdu.SWWrongLength
		}
		ctx.Security.Revoke(refPIN)
		ctx.Security.Revoke(refPINAlways)
		return nil
	case cmd.P1 != 0x00:
		return apdu.SWIncorrectP1P2
	case len(cmd.Data) == 0:
		if ctx.Security.Has(refPIN) {
			return nil
		}
		st, err := pin.New(ctx.Store, keyPIN).Status()
		if err != nil {
			return err
		}
		if st.Blocked() {
			return apdu.SWAuthMethodBlocked
		}
		return apdu.RetriesSW(st.Tries)
	}
	v, err := a.candidate(cmd.Data, false)
	if err != nil {
		return err
	}
	ctx.Security.Revoke(refPIN)
	ctx.Security.Revoke(refPINAlways)
	if err := pin.New(ctx.Store, keyPIN).Verify(v); err != nil {
		return a.pinError(err)
	}
	ctx.Security.Grant(refPIN)
	ctx.Security.Grant(refPINAlways)
	return nil
}

// changeReference is CHANGE REFERENCE DATA (§3.2.2) for the PIN (80) or PUK
// (81): old and new, each an 8-byte padded field.
func (a *Applet) changeReference(ctx *firmware.Context, cmd apdu.Command) error {
	var key string
	switch cmd.P2 {
	case refPIN:
		key = keyPIN
	case refPUK:
		key = keyPUK
	default:
		return apdu.SWReferenceNotFound
	}
	if cmd.P1 != 0 {
		return apdu.SWIncorrectP1P2
	}
	if len(cmd.Data) != 2*pinLen {
		return apdu.SWIncorrectData
	}
	old, err := a.candidate(cmd.Data[:pinLen], cmd.P2 == refPUK)
	if err != nil {
		return err
	}
	nw, ok := unpad(cmd.Data[pinLen:])
	if !ok {
		return apdu.SWIncorrectData
	}
	if cmd.P2 == refPIN {
		ctx.Security.Revoke(refPIN)
		ctx.Security.Revoke(refPINAlways)
	}
	p := a.policy()
	if cmd.P2 == refPUK {
		p = pin.Policy{MaxLen: pinLen}
	}
	return a.pinError(pin.New(ctx.Store, key).Change(old, nw, p, ctx.Rand))
}

// resetRetry is RESET RETRY COUNTER (§3.2.3): PUK and new PIN, each an
// 8-byte padded field.
func (a *Applet) resetRetry(ctx *firmware.Context, cmd apdu.Command) error {
	if cmd.P2 != refPIN {
		return apdu.SWReferenceNotFound
	}
	if cmd.P1 != 0 {
		return apdu.SWIncorrectP1P2
	}
	if len(cmd.Data) != 2*pinLen {
		return apdu.SWIncorrectData
	}
	puk, err := a.candidate(cmd.Data[:pinLen], true)
	if err != nil {
		return err
	}
	nw, ok := unpad(cmd.Data[pinLen:])
	if !ok {
		return apdu.SWIncorrectData
	}
	ctx.Security.Revoke(refPIN)
	ctx.Security.Revoke(refPINAlways)
	return a.pinError(pin.Unblock(pin.New(ctx.Store, keyPUK), pin.New(ctx.Store, keyPIN), puk, nw, a.policy(), ctx.Rand))
}

// setRetries is the YubiKey's SET PIN RETRIES (FA): P1 PIN tries, P2 PUK
// tries. It needs the management key and the PIN, and sets both to their
// factory values with the new limits.
func (a *Applet) setRetries(ctx *firmware.Context, cmd apdu.Command) error {
	if !ctx.Security.Has(refMgmtKey) || !ctx.Security.Has(refPIN) {
		return apdu.SWSecurityStatusNotSatisfied
	}
	if cmd.P1 < 1 || cmd.P1 > pin.MaxTries || cmd.P2 < 1 || cmd.P2 > pin.MaxTries {
		return apdu.SWIncorrectP1P2
	}
	if len(cmd.Data) != 0 {
		return apdu.SWWrongLength
	}
	tx, err := ctx.Store.Begin()
	if err != nil {
		return err
	}
	defer tx.Abort()
	v := a.p.PIV
	if err := pin.New(ctx.Store, keyPIN).Init(tx, []byte(v.PIN), int(cmd.P1), true, false, ctx.Rand); err != nil {
		return err
	}
	if err := pin.New(ctx.Store, keyPUK).Init(tx, []byte(v.PUK), int(cmd.P2), true, false, ctx.Rand); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	ctx.Security.Revoke(refPIN)
	ctx.Security.Revoke(refPINAlways)
	return nil
}

// reset is the YubiKey's RESET (FB): allowed only when both PIN and PUK are
// blocked (6985 otherwise). It deletes every key and data object and
// restores the factory PIN, PUK and management key; the serial number and
// the attestation key and certificate stay.
func (a *Applet) reset(ctx *firmware.Context, cmd apdu.Command) error {
	if err := noParams(cmd); err != nil {
		return err
	}
	for _, key := range []string{keyPIN, keyPUK} {
		st, err := pin.New(ctx.Store, key).Status()
		if err != nil {
			return err
		}
		if !st.Blocked() {
			return apdu.SWConditionsNotSatisfied
		}
	}
	tx, err := ctx.Store.Begin()
	if err != nil {
		return err
	}
	defer tx.Abort()
	for _, k := range ctx.Store.Keys(keyPrefix) {
		if k != keyPrefix+slotKey(slotAttestation) {
			tx.Delete(k)
		}
	}
	for _, k := range ctx.Store.Keys(objPrefix) {
		if k != objPrefix+objectKey(objAttestationCert) {
			tx.Delete(k)
		}
	}
	if err := a.factoryCredentials(ctx, tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	ctx.Security.Clear()
	return nil
}

func pinStatus(ctx *firmware.Context, key string) (pin.Status, error) {
	return pin.New(ctx.Store, key).Status()
}
