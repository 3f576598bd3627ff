package openpgp

import (
	"errors"

	"github.com/tesseracard/tessera/apdu"
	"github.com/tesseracard/tessera/firmware"
	"github.com/tesseracard/tessera/firmware/pin"
)

// Password indexes in pwLengths.
const (
	iPW1 = 0
	iRC  = 1
	iPW3 = 2
)

// minLen is the shortest value of password i.
func minLen(i int) int {
	switch i {
	case iPW1:
		return minPW1
	case iRC:
		return minRC
	}
	return minPW3
}

// wellFormed reports whether v can be password i: of its lengths.
func wellFormed(i int, v []byte) bool { return len(v) >= minLen(i) && len(v) <= maxPW }

// malformed answers a password that cannot be right: 6700, no try spent.
// The quirk malformed-pin-spends-try is read here and nowhere else: the
// card then spends a try of o all the same.
func (a *Applet) malformed(o *pin.Object) error {
	if a.q.MalformedPINSpendsTry && o.Exists() {
		if err := o.Verify(nil); err != nil && !errors.Is(err, pin.ErrWrong) && !errors.Is(err, pin.ErrBlocked) {
			return err // a power cut or a storage failure
		}
	}
	return apdu.SWWrongLength
}

// policy is the rule a new value of password i must keep. The quirk
// pin-policy-not-enforced is read here and nowhere else.
func (a *Applet) policy(i int) pin.Policy {
	if a.q.PINPolicyNotEnforced {
		return pin.Policy{MaxLen: maxPW}
	}
	return pin.Policy{MinLen: minLen(i), MaxLen: maxPW}
}

// wrongAnswer is the answer to a password value Object.Verify refused
// (VERIFY, CHANGE REFERENCE DATA's old value, RESET RETRY COUNTER's
// resetting code). OpenPGP Card 3.4 §7.2.2: 63Cx with the tries left, 6983
// once blocked. A YubiKey profile's application (a.yubikey, read here and
// in verify's status query) answers as a YubiKey 4 or 5 does: 6982 to a
// wrong value (Yubico's yubikit reads the tries from C4 then, and takes
// 63Cx only from firmware before 4), and 6983 to the one that exhausts
// the counter, as the profile's PIN answers do (its PIV application's,
// recorded from a YubiKey 5.7.1: departure yubikey-blocking-6983).
func (a *Applet) wrongAnswer(err error) error {
	var we *pin.WrongError
	if a.yubikey && errors.As(err, &we) {
		if we.Retries == 0 {
			return apdu.SWAuthMethodBlocked
		}
		return &apdu.AuthError{Retries: we.Retries, SW: apdu.SWSecurityStatusNotSatisfied}
	}
	return pin.AuthError(err)
}

// verify is VERIFY (OpenPGP Card 3.4 §7.2.2): P2 81 (PW1 for signing), 82
// (PW1 for the rest) or 83 (PW3). Without data it answers 9000 if the
// password is verified, else the tries left (63Cx, 6983 blocked); on a
// YubiKey profile always 6A80, as a YubiKey 5 does (OpenSC issue 2565 and
// pull request 3397, logged from firmware 5.4.3; the open YubiKey NEO
// applet checks the length first too), whatever the password's status.
// P1 FF, without data, forgets the verification.
func (a *Applet) verify(env *firmware.Context, cmd apdu.Command) error {
	if cmd.P2 < refPW1Sign || cmd.P2 > refPW3 {
		return apdu.SWIncorrectP1P2
	}
	switch {
	case cmd.P1 == 0xFF:
		if len(cmd.Data) != 0 {
			return apdu.SWWrongLength
		}
		env.Security.Revoke(cmd.P2)
		return nil
	case cmd.P1 != 0x00:
		return apdu.SWIncorrectP1P2
	}
	i, o := iPW1, pw1(env, a.q)
	if cmd.P2 == refPW3 {
		i, o = iPW3, pw3(env, a.q)
	}
	if len(cmd.Data) == 0 {
		if a.yubikey {
			return apdu.SWIncorrectData
		}
		if env.Security.Has(cmd.P2) {
			return nil
		}
		st, err := o.Status()
		if err != nil {
			return pin.AuthError(err)
		}
		if st.Blocked() {
			return pin.AuthError(pin.ErrBlocked)
		}
		return apdu.RetriesSW(st.Tries)
	}
	env.Security.Revoke(cmd.P2)
	if !wellFormed(i, cmd.Data) {
		return a.malformed(o)
	}
	if err := o.Verify(cmd.Data); err != nil {
		return a.wrongAnswer(err)
	}
	env.Security.Grant(cmd.P2)
	return nil
}

// changeReferenceData is CHANGE REFERENCE DATA (§7.2.3): P1 00, P2 81
// (PW1) or 83 (PW3); the data are the current value and the new one. The
// current value's length is the card's to know. The old value is verified
// (a wrong one spends a try) before the new value and its length are
// written in one transaction.
func (a *Applet) changeReferenceData(env *firmware.Context, cmd apdu.Command) error {
	if cmd.P1 != 0x00 || (cmd.P2 != refPW1Sign && cmd.P2 != refPW3) {
		return apdu.SWIncorrectP1P2
	}
	i, o := iPW1, pw1(env, a.q)
	if cmd.P2 == refPW3 {
		i, o = iPW3, pw3(env, a.q)
	}
	n := pwLengths(env.Store)[i]
	if len(cmd.Data) <= n {
		return a.malformed(o)
	}
	old, value := cmd.Data[:n], cmd.Data[n:]
	if err := a.policy(i).Check(value); err != nil {
		return apdu.SWWrongLength
	}
	if err := o.Verify(old); err != nil {
		env.Security.Revoke(cmd.P2)
		if i == iPW1 {
			env.Security.Revoke(refPW1Other)
		}
		return a.wrongAnswer(err)
	}
	return a.setPassword(env, i, o, value)
}

// setPassword writes value as password i with a full counter, and its
// length, in one transaction.
func (a *Applet) setPassword(env *firmware.Context, i int, o *pin.Object, value []byte) error {
	tx, err := env.Store.Begin()
	if err != nil {
		return err
	}
	defer tx.Abort()
	if err := o.Reset(tx, value, pin.Policy{MaxLen: maxPW}, env.Rand); err != nil {
		return pin.AuthError(err)
	}
	if err := putLength(env.Store, tx, i, len(value)); err != nil {
		return err
	}
	return tx.Commit()
}

// resetRetryCounter is RESET RETRY COUNTER (§7.2.4) of PW1 (P2 81): P1 00
// with the resetting code followed by the new PW1, or P1 02 with PW3
// verified and the new PW1 alone.
func (a *Applet) resetRetryCounter(env *firmware.Context, cmd apdu.Command) error {
	if cmd.P2 != refPW1Sign {
		return apdu.SWIncorrectP1P2
	}
	var value []byte
	switch cmd.P1 {
	case 0x00:
		code := rc(env, a.q)
		if !code.Exists() {
			return apdu.SWSecurityStatusNotSatisfied
		}
		n := pwLengths(env.Store)[iRC]
		if len(cmd.Data) <= n {
			return a.malformed(code)
		}
		value = cmd.Data[n:]
		if err := a.policy(iPW1).Check(value); err != nil {
			return apdu.SWWrongLength
		}
		if err := code.Verify(cmd.Data[:n]); err != nil {
			return a.wrongAnswer(err)
		}
	case 0x02:
		if err := need(env, refPW3); err != nil {
			return err
		}
		value = cmd.Data
		if err := a.policy(iPW1).Check(value); err != nil {
			return apdu.SWWrongLength
		}
	default:
		return apdu.SWIncorrectP1P2
	}
	return a.setPassword(env, iPW1, pw1(env, a.q), value)
}

// setResettingCode is PUT DATA D3 (PW3 verified): a new resetting code with
// a full counter of the card's resetting code limit (rcLimit), or none with
// empty data.
func (a *Applet) setResettingCode(env *firmware.Context, v []byte) error {
	tx, err := env.Store.Begin()
	if err != nil {
		return err
	}
	defer tx.Abort()
	if len(v) == 0 {
		if err := tx.Delete(keyRC); err != nil {
			return err
		}
	} else {
		if err := a.policy(iRC).Check(v); err != nil {
			return apdu.SWWrongLength
		}
		if err := rc(env, a.q).Init(tx, v, rcLimit(env.Store), false, false, env.Rand); err != nil {
			return err
		}
	}
	if err := putLength(env.Store, tx, iRC, len(v)); err != nil {
		return err
	}
	return tx.Commit()
}

// setPINRetries is a YubiKey's SET PIN RETRIES (INS F2, P1-P2 0000, PW3):
// the retry limits of PW1, the resetting code and PW3, one byte each, each
// password's counter then full; the values are kept (as on a YubiKey from
// 4.3.1 on). Each limit is 1 to maxTries (99, ykman's range; Yubico's own
// device test sets PW3 to 25); anything else answers 6A80 and changes
// nothing. C4 shows the tries (a wrong password answers 6982 here, as on a
// YubiKey: wrongAnswer).
// The resetting code's limit is kept apart from the code (keyRCLimit) in
// the same transaction, so that a resetting code set later by PUT DATA D3
// gets it, as on a YubiKey; the factory reset brings back 3. A limit of 0
// for the resetting code (accepted by a YubiKey 5: Yubico's device test
// sends 5 0 25) removes the code and leaves the kept limit as it was.
func (a *Applet) setPINRetries(env *firmware.Context, cmd apdu.Command) error {
	if err := p1p2(cmd, 0x0000); err != nil {
		return err
	}
	if err := need(env, refPW3); err != nil {
		return err
	}
	if len(cmd.Data) != 3 {
		return apdu.SWWrongLength
	}
	n1, nrc, n3 := int(cmd.Data[0]), int(cmd.Data[1]), int(cmd.Data[2])
	if n1 < 1 || n1 > maxTries || n3 < 1 || n3 > maxTries || nrc > maxTries {
		return apdu.SWIncorrectData
	}
	tx, err := env.Store.Begin()
	if err != nil {
		return err
	}
	defer tx.Abort()
	if err := pw1(env, a.q).SetLimit(tx, n1); err != nil {
		return err
	}
	if err := pw3(env, a.q).SetLimit(tx, n3); err != nil {
		return err
	}
	if nrc != 0 {
		if err := tx.Put(keyRCLimit, []byte{byte(nrc)}); err != nil {
			return err
		}
	}
	if code := rc(env, a.q); code.Exists() {
		if nrc == 0 {
			err = tx.Delete(keyRC)
			if err == nil {
				err = putLength(env.Store, tx, iRC, 0)
			}
		} else {
			err = code.SetLimit(tx, nrc)
		}
		if err != nil {
			return err
		}
	}
	return tx.Commit()
}
