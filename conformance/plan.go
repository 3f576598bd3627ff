package conformance

import (
	"context"
	"fmt"
	"slices"

	"github.com/tesseracard/tessera/apdu"
)

// plan is what the suite found out, before running any destructive case on
// a card that must be left as it was, about what it can put back. Each
// field ending in Err says why the cases needing that credential are
// refused ("" when they may run).
type plan struct {
	notes   []string
	pinFull int // the PIN's tries when its counter is full
	pukFull int // the PUK's tries when full; -1: the card does not say
	pinErr  string
	pukErr  string
	mgmtErr string
	keyErr  string
	slots   []byte // the slots the NeedSlot cases may use (Options.Slots)
	mgmtAlg byte
	// broken is set when a case could not put the card back: no further
	// destructive case runs.
	broken string
	iso    isoPlan  // the ISO application's (iso.go)
	opgp   opgpPlan // the OpenPGP application's (openpgp.go)
}

// refusal returns why c must not run on this card, or "".
func (p *plan) refusal(c *Case) string {
	n := c.Needs
	switch {
	case p.broken != "":
		return p.broken
	case c.App == AppISO:
		return p.iso.refused
	case c.App == AppOpenPGP:
		return p.opgp.refusal(c)
	case n&NeedBlockPUK != 0:
		return "blocks the PUK, which only a full reset of the card undoes: run it on the simulator (--target sim)"
	case n&(NeedPIN|NeedPUK) != 0 && p.pinErr != "":
		return p.pinErr
	case n&NeedPUK != 0 && p.pukErr != "":
		return p.pukErr
	case n&(NeedMgmt|NeedSlot) != 0 && p.mgmtErr != "":
		return p.mgmtErr
	case n&NeedSlot != 0 && len(p.slots) == 0:
		return "generates keys, replacing the key of its slot: name the slots it may use with --slots (e.g. --slots 9a,9c,9d,9e)"
	case n&NeedSlot != 0 && p.keyErr != "":
		return p.keyErr
	}
	return ""
}

// useSlots records the key slots the NeedSlot cases may use, with a note
// when any such case is to run.
func (p *plan) useSlots(slots []byte, cases []Case) {
	p.slots = slots
	if len(slots) == 0 || !slices.ContainsFunc(cases, func(c Case) bool { return c.Needs&NeedSlot != 0 }) {
		return
	}
	p.note("key cases may replace and then delete the keys of the slots named, and touch no other: % X", slots)
}

func (p *plan) note(format string, args ...any) {
	p.notes = append(p.notes, fmt.Sprintf(format, args...))
}

// makePlan checks each credential on the card in the way that risks least,
// and only where a mistake cannot block anything: the PIN only with two
// tries or more left, the PUK only when the card reports its counter and
// two tries or more are left.
func makePlan(ctx context.Context, card Card, creds Credentials) *plan {
	p := &plan{pukFull: -1}
	fail := func(why string) *plan {
		p.pinErr, p.pukErr, p.mgmtErr, p.keyErr = why, why, why, why
		p.note("no destructive case runs: %s", why)
		return p
	}
	e := newEnv(card, creds, false, p)
	if err := e.begin(ctx); err != nil {
		return fail(err.Error())
	}
	if _, ok := card.(Resetter); !ok {
		p.note("the card cannot be reset: cases needing a reset are skipped")
	}
	p.checkPIN(ctx, e)
	if p.pinErr == "" {
		p.checkPUK(ctx, e)
	} else {
		p.pukErr = "the PUK is checked only with a usable PIN: " + p.pinErr
	}
	p.checkMgmt(ctx, e)
	return p
}

func (p *plan) checkPIN(ctx context.Context, e *Env) {
	sw, err := e.Status(ctx)
	if err == nil && sw == apdu.SWSuccess {
		if err = e.Logout(ctx); err == nil {
			sw, err = e.Status(ctx)
		}
	}
	tries, isRetries := sw.Retries()
	switch {
	case err != nil:
		p.pinErr = fmt.Sprintf("reading the PIN's status: %v", err)
	case sw == apdu.SWAuthMethodBlocked:
		p.pinErr = "the PIN is blocked"
	case !isRetries:
		p.pinErr = fmt.Sprintf("VERIFY without data answered %s, not the PIN's tries", swText(sw))
	case tries < 2:
		p.pinErr = fmt.Sprintf("the PIN has %d try left: a wrong --pin could block it", tries)
	}
	if p.pinErr != "" {
		p.note("PIN cases refused: %s", p.pinErr)
		return
	}
	sw, err = e.VerifyPIN(ctx, e.creds.PIN)
	switch _, wrong := sw.Retries(); {
	case err != nil:
		p.pinErr = fmt.Sprintf("verifying --pin: %v", err)
	case wrong || sw == apdu.SWAuthMethodBlocked:
		p.pinErr = fmt.Sprintf("--pin is wrong: the card answered %s", swText(sw))
	case sw != apdu.SWSuccess:
		p.pinErr = fmt.Sprintf("VERIFY with --pin answered %s", swText(sw))
	}
	if p.pinErr != "" {
		p.note("PIN cases refused: %s", p.pinErr)
		return
	}
	if t, _, ok, err := e.counter(ctx, refPIN); err == nil && ok {
		p.pinFull = t
	} else if err := e.Logout(ctx); err != nil {
		p.pinErr = fmt.Sprintf("cannot read the PIN's counter: %v", err)
		return
	} else if p.pinFull, err = e.Tries(ctx); err != nil {
		p.pinErr = err.Error()
		return
	}
	p.note("PIN: --pin verified; %d tries when full, restored after every case", p.pinFull)
}

func (p *plan) checkPUK(ctx context.Context, e *Env) {
	tries, limit, ok, err := e.PUKTries(ctx)
	switch {
	case err != nil:
		p.pukErr = fmt.Sprintf("reading the PUK's counter: %v", err)
	case !ok:
		p.pukErr = "the card does not report the PUK's counter (GET METADATA), so a wrong --puk could not be caught before it blocks the PUK"
	case tries < 2:
		p.pukErr = fmt.Sprintf("the PUK has %d try left: a wrong --puk could block it", tries)
	}
	if p.pukErr == "" {
		// The one way to check a PUK: use it. RESET RETRY COUNTER with the
		// current PIN as the new one changes nothing but the flags.
		sw, err := e.SW(ctx, resetRetryCmd(e.creds.PUK, e.creds.PIN))
		switch _, wrong := sw.Retries(); {
		case err != nil:
			p.pukErr = fmt.Sprintf("checking --puk: %v", err)
		case wrong:
			p.pukErr = fmt.Sprintf("--puk is wrong: the card answered %s", swText(sw))
		case sw != apdu.SWSuccess:
			p.pukErr = fmt.Sprintf("RESET RETRY COUNTER with --puk and --pin answered %s", swText(sw))
		}
	}
	if p.pukErr != "" {
		p.note("PUK cases refused: %s", p.pukErr)
		return
	}
	p.pukFull = limit
	p.note("PUK: --puk checked by RESET RETRY COUNTER to the same PIN; %d tries when full, restored after every case", limit)
	p.note("a YubiKey reports a PIN or PUK used in CHANGE REFERENCE DATA or RESET RETRY COUNTER as no longer the factory default, even when set to the same value")
}

func (p *plan) checkMgmt(ctx context.Context, e *Env) {
	alg, err := e.MgmtAlg(ctx)
	if err == nil {
		p.mgmtAlg = alg
		err = e.Authenticate(ctx)
	}
	if err != nil {
		p.mgmtErr = err.Error()
		p.keyErr = p.mgmtErr
		p.note("management key cases refused: %s", p.mgmtErr)
		return
	}
	p.note("management key: authenticated (algorithm %02X)", alg)
	// Proof that the card can delete the keys the key cases make: DELETE
	// KEY of an empty slot (GET METADATA 6A88), which changes nothing.
	empty := byte(0)
	for _, slot := range keySlots() {
		if slot == slotAttestation {
			continue
		}
		_, sw, err := e.Metadata(ctx, slot)
		switch {
		case err != nil:
			p.keyErr = err.Error()
		case sw == apdu.SWReferenceNotFound:
			empty = slot
		case sw != apdu.SWSuccess:
			p.keyErr = fmt.Sprintf("the card does not report which key slots hold a key (GET METADATA answered %s), so a key case could not tell what it replaces", swText(sw))
		}
		if p.keyErr != "" || empty != 0 {
			break
		}
	}
	if p.keyErr == "" && empty == 0 {
		p.keyErr = "every key slot holds a key, so the suite cannot check that the card deletes keys (DELETE KEY of an empty slot) before it makes any"
	}
	if p.keyErr == "" {
		if sw, err := e.SW(ctx, apdu.Command{INS: apdu.InsMoveKey, P1: 0xFF, P2: empty}); err != nil {
			p.keyErr = err.Error()
		} else if sw != apdu.SWReferenceNotFound && sw != apdu.SWSuccess {
			p.keyErr = fmt.Sprintf("the card cannot delete a key (DELETE KEY, YubiKey 5.7, answered %s), so a generated key could not be removed", swText(sw))
		}
	}
	if p.keyErr != "" {
		p.note("key cases refused: %s", p.keyErr)
	}
}

// restore puts the card back after destructive case c: its cleanups, last
// first, then the PIN's and PUK's counters, then a check that the counters
// are as the plan found them.
func (e *Env) restore(ctx context.Context, c *Case) error {
	for i := len(e.cleanups) - 1; i >= 0; i-- {
		if err := e.cleanups[i](ctx); err != nil {
			return err
		}
	}
	if c.App == AppISO {
		return e.isoRestore(ctx)
	}
	if c.App == AppOpenPGP {
		return e.opgpRestore(ctx)
	}
	if c.Needs&(NeedPIN|NeedPUK) == 0 {
		return nil
	}
	if err := e.begin(ctx); err != nil {
		return err
	}
	p := e.plan
	sw, err := e.VerifyPIN(ctx, e.creds.PIN)
	if err != nil {
		return err
	}
	if sw == apdu.SWAuthMethodBlocked && p.pukErr == "" {
		if sw, err = e.SW(ctx, resetRetryCmd(e.creds.PUK, e.creds.PIN)); err != nil {
			return err
		}
	}
	if sw != apdu.SWSuccess {
		return fmt.Errorf("the PIN could not be verified again: %s", swText(sw))
	}
	if p.pukFull >= 0 {
		if err := e.restorePUK(ctx); err != nil {
			return err
		}
	}
	return e.checkCounters(ctx)
}

// restorePUK refills the PUK's counter by using the PUK, if it is short.
func (e *Env) restorePUK(ctx context.Context) error {
	full := e.plan.pukFull
	for _, cmd := range []apdu.Command{resetRetryCmd(e.creds.PUK, e.creds.PIN), changeCmd(refPUK, e.creds.PUK, e.creds.PUK)} {
		tries, _, ok, err := e.PUKTries(ctx)
		if err != nil || !ok || tries >= full {
			return err
		}
		if sw, err := e.SW(ctx, cmd); err != nil {
			return err
		} else if sw != apdu.SWSuccess {
			return fmt.Errorf("using the PUK to refill its counter answered %s", swText(sw))
		}
	}
	if tries, _, _, err := e.PUKTries(ctx); err != nil || tries < full {
		return fmt.Errorf("the PUK has %d tries left, not %d, and using it does not refill them", tries, full)
	}
	return nil
}

// checkCounters checks the PIN's and PUK's counters are full.
func (e *Env) checkCounters(ctx context.Context) error {
	p := e.plan
	tries, _, ok, err := e.counter(ctx, refPIN)
	if err != nil {
		return err
	}
	if !ok {
		if err := e.Logout(ctx); err != nil {
			return err
		}
		if tries, err = e.Tries(ctx); err != nil {
			return err
		}
	}
	if tries != p.pinFull {
		return fmt.Errorf("the PIN has %d tries left, not %d", tries, p.pinFull)
	}
	if p.pukFull >= 0 {
		tries, _, _, err := e.PUKTries(ctx)
		if err != nil {
			return err
		}
		if tries != p.pukFull {
			return fmt.Errorf("the PUK has %d tries left, not %d", tries, p.pukFull)
		}
	}
	return nil
}
