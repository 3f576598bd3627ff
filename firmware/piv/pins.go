package piv

import (
	"bytes"
	"errors"

	"github.com/tesseracard/tessera/apdu"
	"github.com/tesseracard/tessera/firmware"
	"github.com/tesseracard/tessera/firmware/pin"
	"github.com/tesseracard/tessera/firmware/profile"
)

// pinLen is the length of a PIN or PUK field in VERIFY, CHANGE REFERENCE
// DATA and RESET RETRY COUNTER: the value padded with FF (SP 800-73-4 Part 2
// §3.2.1). A profile whose PIN policy allows longer PINs (a password
// policy) widens the PIN field, not the PUK's, to its maximum length
// (profile.PIV.PINField); 8-byte PIN fields stay accepted.
const pinLen = 8

// unpad returns the value of an FF-padded PIN field and whether it is well
// formed: at least one byte, padding only FF and only at the end, no FF
// inside.
func unpad(field []byte) ([]byte, bool) {
	v := bytes.TrimRight(field, "\xFF")
	return v, len(v) > 0 && bytes.IndexByte(v, 0xFF) < 0
}

// wideField returns the width of a wide PIN field, or pinLen when the
// profile has none.
func (a *Applet) wideField() int { return a.p.PIV.PINField() }

// fieldOK reports whether n is the width of a PIN field (or, with puk set,
// of a PUK field).
func (a *Applet) fieldOK(n int, puk bool) bool {
	return n == pinLen || !puk && n == a.wideField()
}

// policy returns the profile's PIN policy as a pin.Policy. The quirk
// pin-policy-not-enforced is read here and nowhere else: any value that
// fits the PIN field is then accepted.
func (a *Applet) policy() pin.Policy {
	if a.p.HasQuirk(profile.QuirkPINPolicyNotEnforced) {
		return pin.Policy{MaxLen: a.wideField()}
	}
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

// pinObject returns the PIN or PUK object stored under key, with the
// profile's try-counter quirks.
func (a *Applet) pinObject(env *firmware.Context, key string) *pin.Object {
	return pin.New(env.Store, key).WithQuirks(a.pinQuirks)
}

// candidate checks a presented PIN (or, with puk set, PUK) field. A
// malformed field answers 6A80 without spending a try (SP 800-85A-4
// VE05.22D), unless the profile says that, as on a YubiKey, a field of the
// right width is compared and counts as a wrong try. The PIN policy applies
// to PINs only: a PUK may hold any 8 bytes.
func (a *Applet) candidate(env *firmware.Context, field []byte, puk bool) ([]byte, error) {
	if !a.fieldOK(len(field), puk) {
		return nil, a.malformedPIN(env, puk)
	}
	v, ok := unpad(field)
	if !ok || !puk && a.policy().Check(v) != nil {
		if !a.p.PIV.Behaviour.MalformedPINCountsAsWrong {
			return nil, a.malformedPIN(env, puk)
		}
	}
	return v, nil
}

// malformedPIN answers a malformed PIN or PUK field: 6A80, no try spent.
// The quirk malformed-pin-spends-try is read here and nowhere else: the
// card then spends a try all the same.
func (a *Applet) malformedPIN(env *firmware.Context, puk bool) error {
	if a.p.HasQuirk(profile.QuirkMalformedPINSpendsTry) {
		key := keyPIN
		if puk {
			key = keyPUK
		}
		err := a.pinObject(env, key).Verify(nil)
		if err != nil && !errors.Is(err, pin.ErrWrong) && !errors.Is(err, pin.ErrBlocked) {
			return err // a power cut or a storage failure
		}
	}
	return apdu.SWIncorrectData
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
func (a *Applet) verify(env *firmware.Context, cmd apdu.Command) error {
	if cmd.P2 == refTOTP && a.p.PIV.TOTP {
		return a.totpVerify(env, cmd)
	}
	if cmd.P2 != refPIN {
		return apdu.SWReferenceNotFound
	}
	switch {
	case cmd.P1 == 0xFF:
		if len(cmd.Data) != 0 {
			return apdu.SWWrongLength
		}
		env.Security.Revoke(refPIN)
		env.Security.Revoke(refPINAlways)
		return nil
	case cmd.P1 != 0x00:
		return apdu.SWIncorrectP1P2
	case len(cmd.Data) == 0:
		if env.Security.Has(refPIN) {
			return nil
		}
		st, err := pin.New(env.Store, keyPIN).Status()
		if err != nil {
			return err
		}
		if st.Blocked() {
			return apdu.SWAuthMethodBlocked
		}
		return apdu.RetriesSW(st.Tries)
	}
	v, err := a.candidate(env, cmd.Data, false)
	if err != nil {
		return err
	}
	env.Security.Revoke(refPIN)
	env.Security.Revoke(refPINAlways)
	if err := a.pinObject(env, keyPIN).Verify(v); err != nil {
		return a.pinError(err)
	}
	env.Security.Grant(refPIN)
	env.Security.Grant(refPINAlways)
	return nil
}

// changeReference is CHANGE REFERENCE DATA (§3.2.2) for the PIN (80) or PUK
// (81): old and new, each a padded field of the same width. On success the
// PIN is verified, as §3.2.2 says (SP 800-85A-4 VE05.26).
func (a *Applet) changeReference(env *firmware.Context, cmd apdu.Command) error {
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
	puk := cmd.P2 == refPUK
	if puk && a.p.PIV.AdminReset {
		return apdu.SWConditionsNotSatisfied // no PUK is the user's
	}
	half := len(cmd.Data) / 2
	if len(cmd.Data)%2 != 0 || !a.fieldOK(half, puk) {
		return apdu.SWIncorrectData
	}
	old, err := a.candidate(env, cmd.Data[:half], puk)
	if err != nil {
		return err
	}
	nw, ok := unpad(cmd.Data[half:])
	if !ok {
		return apdu.SWIncorrectData
	}
	if !puk {
		env.Security.Revoke(refPIN)
		env.Security.Revoke(refPINAlways)
	}
	p := a.policy()
	if puk {
		p = pin.Policy{MaxLen: pinLen}
	}
	if err := a.pinError(a.pinObject(env, key).Change(old, nw, p, env.Rand)); err != nil {
		return err
	}
	if !puk {
		env.Security.Grant(refPIN)
		env.Security.Grant(refPINAlways)
	}
	return nil
}

// resetRetry is RESET RETRY COUNTER (§3.2.3): the PUK, an 8-byte padded
// field, then the new PIN, a PIN field.
func (a *Applet) resetRetry(env *firmware.Context, cmd apdu.Command) error {
	if cmd.P2 != refPIN {
		return apdu.SWReferenceNotFound
	}
	if a.p.PIV.AdminReset {
		return a.adminReset(env, cmd)
	}
	if cmd.P1 != 0 {
		return apdu.SWIncorrectP1P2
	}
	if len(cmd.Data) < pinLen || !a.fieldOK(len(cmd.Data)-pinLen, false) {
		return apdu.SWIncorrectData
	}
	puk, err := a.candidate(env, cmd.Data[:pinLen], true)
	if err != nil {
		return err
	}
	nw, ok := unpad(cmd.Data[pinLen:])
	if !ok || a.policy().Check(nw) != nil {
		if !a.p.PIV.Behaviour.MalformedPINCountsAsWrong {
			return apdu.SWIncorrectData
		}
		// A YubiKey checks the PUK before the new PIN: ykman's `piv reset`
		// blocks the PUK with an empty PUK and an empty new PIN, counting on
		// 63Cx and then 6983 (yubikit piv.py PivSession.reset). A right PUK
		// keeps its counter and the malformed PIN is refused.
		env.Security.Revoke(refPIN)
		env.Security.Revoke(refPINAlways)
		if err := a.pinObject(env, keyPUK).Verify(puk); err != nil {
			return a.pinError(err)
		}
		return apdu.SWIncorrectData
	}
	env.Security.Revoke(refPIN)
	env.Security.Revoke(refPINAlways)
	return a.pinError(pin.Unblock(a.pinObject(env, keyPUK), pin.New(env.Store, keyPIN), puk, nw, a.policy(), env.Rand))
}

// adminReset is RESET RETRY COUNTER on a profile with piv.admin_reset (the
// virtual-token persona), where no PUK is the user's: P1 00 (PUK and new
// PIN) answers 6985; P1 02, new reference data only (ISO/IEC 7816-4
// §11.5.10), is the administrator's reset. It needs the management key
// (6982), takes a PIN field holding the new PIN, which the PIN policy must
// allow (6A80), and sets it with a full counter and no must-change flag.
// Keys and data objects stay.
func (a *Applet) adminReset(env *firmware.Context, cmd apdu.Command) error {
	switch cmd.P1 {
	case 0x00:
		return apdu.SWConditionsNotSatisfied
	case 0x02:
	default:
		return apdu.SWIncorrectP1P2
	}
	if err := needMgmt(env); err != nil {
		return err
	}
	if !a.fieldOK(len(cmd.Data), false) {
		return apdu.SWIncorrectData
	}
	nw, ok := unpad(cmd.Data)
	if !ok || a.policy().Check(nw) != nil {
		return apdu.SWIncorrectData
	}
	env.Security.Revoke(refPIN)
	env.Security.Revoke(refPINAlways)
	return a.pinError(a.pinObject(env, keyPIN).Reset(env.Store, nw, a.policy(), env.Rand))
}

// setRetries is the YubiKey's SET PIN RETRIES (FA): P1 PIN tries, P2 PUK
// tries. It needs the management key and the PIN, and sets both to their
// factory values with the new limits.
func (a *Applet) setRetries(env *firmware.Context, cmd apdu.Command) error {
	if !env.Security.Has(refMgmtKey) || !env.Security.Has(refPIN) && a.setRetriesNeedsPIN() {
		return apdu.SWSecurityStatusNotSatisfied
	}
	if cmd.P1 < 1 || cmd.P1 > pin.MaxTries || cmd.P2 < 1 || cmd.P2 > pin.MaxTries {
		return apdu.SWIncorrectP1P2
	}
	if len(cmd.Data) != 0 {
		return apdu.SWWrongLength
	}
	tx, err := env.Store.Begin()
	if err != nil {
		return err
	}
	defer tx.Abort()
	if err := a.factoryPINs(env, tx, int(cmd.P1), int(cmd.P2)); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	env.Security.Revoke(refPIN)
	env.Security.Revoke(refPINAlways)
	return nil
}

// reset is the YubiKey's RESET (FB): allowed only when both PIN and PUK are
// blocked (6985 otherwise). It deletes every key and data object and
// restores the factory PIN, PUK and management key; the serial number and
// the attestation key and certificate stay.
func (a *Applet) reset(env *firmware.Context, cmd apdu.Command) error {
	if err := noParams(cmd); err != nil {
		return err
	}
	blocked := 0
	for _, key := range []string{keyPIN, keyPUK} {
		st, err := pin.New(env.Store, key).Status()
		if err != nil {
			return err
		}
		if st.Blocked() {
			blocked++
		}
	}
	if blocked < a.resetNeedsBlocked() {
		return apdu.SWConditionsNotSatisfied
	}
	tx, err := env.Store.Begin()
	if err != nil {
		return err
	}
	defer tx.Abort()
	for _, k := range env.Store.Keys(keyPrefix) {
		if k != keyPrefix+slotKey(slotAttestation) {
			tx.Delete(k)
		}
	}
	for _, k := range env.Store.Keys(objPrefix) {
		if k != objPrefix+objectKey(objAttestationCert) {
			tx.Delete(k)
		}
	}
	if err := a.factoryCredentials(env, tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	env.Security.Clear()
	return nil
}

func pinStatus(env *firmware.Context, key string) (pin.Status, error) {
	return pin.New(env.Store, key).Status()
}
