package isoapp

import (
	"errors"

	"github.com/tesseracard/tessera/apdu"
	"github.com/tesseracard/tessera/firmware"
	"github.com/tesseracard/tessera/firmware/pin"
)

// PIN and PUK formats: the PIN is 4–16 bytes and kept zero-padded to 16,
// the PUK exactly 16 bytes.
const (
	refLen    = 16
	minPINLen = 4
)

// pinObject and pukObject return the PIN and the PUK, with the profile's
// try-counter quirks.
func (a *Applet) pinObject(env *firmware.Context) *pin.Object {
	return pin.New(env.Store, keyPIN).WithQuirks(a.counterQuirks())
}
func (a *Applet) pukObject(env *firmware.Context) *pin.Object {
	return pin.New(env.Store, keyPUK).WithQuirks(a.counterQuirks())
}

// counterQuirks are the try-counter quirks of the PIN and the PUK.
func (a *Applet) counterQuirks() pin.Quirks {
	return pin.Quirks{NoDecrement: a.q.NoDecrement, RestoreBeforeCompare: a.q.RestoreBeforeCompare}
}

// malformedPIN answers a VERIFY whose PIN cannot be right (of the wrong
// length): 6700, no try spent. The quirk malformed-pin-spends-try is read
// here and nowhere else: the card then spends a try all the same.
func (a *Applet) malformedPIN(env *firmware.Context) error {
	if p := a.pinObject(env); a.q.MalformedPINSpendsTry && p.Exists() {
		err := p.Verify(nil)
		if err != nil && !errors.Is(err, pin.ErrWrong) && !errors.Is(err, pin.ErrBlocked) {
			return err // a power cut or a storage failure
		}
	}
	return apdu.SWWrongLength
}

// newPINAllowed checks a new zero-padded PIN: at least 4 bytes, else 6A80.
// The quirk pin-policy-not-enforced is read here and nowhere else.
func (a *Applet) newPINAllowed(v []byte) error {
	if pinLen(v) < minPINLen && !a.q.PINPolicyNotEnforced {
		return apdu.SWIncorrectData
	}
	return nil
}

// padded returns v zero-padded to 16 bytes.
func padded(v []byte) []byte {
	out := make([]byte, refLen)
	copy(out, v)
	return out
}

// pinReference checks P1-P2 of VERIFY and RESET RETRY COUNTER: P1 00, and
// the PIN's reference in P2.
func pinReference(cmd apdu.Command) error {
	switch {
	case cmd.P1 != 0x00:
		return apdu.SWIncorrectP1P2
	case cmd.P2 != pinRef:
		return apdu.SWReferenceNotFound
	}
	return nil
}

// verify is VERIFY of the PIN (P2 01). Without data it reports the tries
// left (63Cx), or 9000 while no PIN is set.
func (a *Applet) verify(env *firmware.Context, cmd apdu.Command) error {
	if err := pinReference(cmd); err != nil {
		return err
	}
	if n := len(cmd.Data); n > refLen || (n > 0 && n < minPINLen) {
		return a.malformedPIN(env) // no try spent on a PIN that cannot be right
	}
	p := a.pinObject(env)
	if !p.Exists() {
		if len(cmd.Data) == 0 {
			return nil
		}
		return apdu.SWReferenceDataUnusable
	}
	if len(cmd.Data) == 0 {
		st, err := p.Status()
		if err != nil {
			return err
		}
		if st.Blocked() {
			return pin.AuthError(pin.ErrBlocked)
		}
		return apdu.RetriesSW(st.Tries)
	}
	if err := p.Verify(padded(cmd.Data)); err != nil {
		env.Security.Revoke(pinRef)
		return pin.AuthError(err)
	}
	env.Security.Grant(pinRef)
	return nil
}

// changeReferenceData sets the PUK (P1 01 P2 02, in the creation state),
// then the PIN (P1 01 P2 01, once the PUK is set), or changes the PIN (P1
// 00 P2 01: old and new, 16 bytes each).
func (a *Applet) changeReferenceData(env *firmware.Context, cmd apdu.Command) error {
	lc, err := lifeCycle(env.Store)
	if err != nil {
		return err
	}
	switch {
	case cmd.P1 == 0x01 && cmd.P2 == pukRef:
		if lc != stateCreation {
			return apdu.SWConditionsNotSatisfied
		}
		if len(cmd.Data) != refLen {
			return apdu.SWWrongLength
		}
		return a.initReference(env, a.pukObject(env), cmd.Data, a.opt.PUKRetries, stateInitialisation)
	case cmd.P1 == 0x01 && cmd.P2 == pinRef:
		if lc != stateInitialisation {
			return apdu.SWConditionsNotSatisfied
		}
		if len(cmd.Data) < minPINLen || len(cmd.Data) > refLen {
			return apdu.SWWrongLength
		}
		return a.initReference(env, a.pinObject(env), padded(cmd.Data), a.opt.PINRetries, stateOperational)
	case cmd.P1 == 0x00 && cmd.P2 == pinRef:
		if lc != stateOperational {
			return apdu.SWConditionsNotSatisfied
		}
		if len(cmd.Data) != 2*refLen {
			return apdu.SWWrongLength
		}
		newPIN := cmd.Data[refLen:]
		if err := a.newPINAllowed(newPIN); err != nil {
			return err
		}
		err := a.pinObject(env).Change(cmd.Data[:refLen], newPIN, pin.Policy{}, env.Rand)
		if err != nil {
			env.Security.Revoke(pinRef)
			return pin.AuthError(err)
		}
		return nil
	case cmd.P1 > 0x01:
		return apdu.SWIncorrectP1P2
	}
	return apdu.SWReferenceNotFound
}

// initReference writes a first PUK or PIN and the next life cycle state in
// one transaction.
func (a *Applet) initReference(env *firmware.Context, o *pin.Object, value []byte, limit int, next byte) error {
	tx, err := env.Store.Begin()
	if err != nil {
		return err
	}
	defer tx.Abort()
	if err := o.Init(tx, value, limit, false, false, env.Rand); err != nil {
		return err
	}
	if err := tx.Put(keyLifeCycle, []byte{next}); err != nil {
		return err
	}
	return tx.Commit()
}

// pinLen is the length of a zero-padded PIN without its padding.
func pinLen(v []byte) int {
	n := len(v)
	for n > 0 && v[n-1] == 0 {
		n--
	}
	return n
}

// resetRetryCounter is RESET RETRY COUNTER with the PUK (16 bytes) and a new
// PIN (4–16 bytes): the PUK's counter restored and the PIN set with a full
// counter in one write. Before the card is operational it answers 6986.
func (a *Applet) resetRetryCounter(env *firmware.Context, cmd apdu.Command) error {
	if err := pinReference(cmd); err != nil {
		return err
	}
	lc, err := lifeCycle(env.Store)
	if err != nil {
		return err
	}
	if lc != stateOperational {
		return apdu.SWCommandNotAllowed
	}
	if len(cmd.Data) < refLen+minPINLen || len(cmd.Data) > 2*refLen {
		return apdu.SWWrongLength
	}
	newPIN := padded(cmd.Data[refLen:])
	if err := a.newPINAllowed(newPIN); err != nil {
		return err
	}
	err = pin.Unblock(a.pukObject(env), a.pinObject(env), cmd.Data[:refLen], newPIN, pin.Policy{}, env.Rand)
	return pin.AuthError(err)
}
