package conformance

import (
	"context"
	"fmt"

	"github.com/tesseracard/tessera/apdu"
)

// verifyRight verifies the PIN, which must succeed.
func (e *Env) verifyRight(ctx context.Context) error {
	return e.run(ctx, step("VERIFY with the right PIN", verifyCmd(e.creds.PIN), apdu.SWSuccess))
}

// refill verifies the PIN, which refills its counter, and clears its
// security status again.
func (e *Env) refill(ctx context.Context) error {
	if err := e.verifyRight(ctx); err != nil {
		return err
	}
	return e.Logout(ctx)
}

// full returns the PIN's tries left, with the PIN not verified; at the start
// of a case the counter is full.
func (e *Env) full(ctx context.Context) (int, error) {
	n, err := e.Tries(ctx)
	if err == nil && n < 2 {
		err = fmt.Errorf("the PIN has %d tries left: the case needs at least 2", n)
	}
	return n, err
}

// expectTries checks the PIN's counter (not verified) is want.
func (e *Env) expectTries(ctx context.Context, what string, want int) error {
	sw, err := e.Status(ctx)
	if err != nil {
		return err
	}
	switch got, ok := sw.Retries(); {
	case sw == apdu.SWSuccess:
		return fmt.Errorf("%s: VERIFY without data answered 9000: the PIN is verified, want it not verified with %d tries left", what, want)
	case !ok && want == 0 && sw == apdu.SWAuthMethodBlocked:
		return nil
	case !ok:
		return fmt.Errorf("%s: VERIFY without data answered %s, want 63C%X", what, swText(sw), want)
	case got != want:
		return fmt.Errorf("%s: the PIN has %d tries left, want %d", what, got, want)
	}
	return nil
}

// blockingTry checks the answer to the wrong try that exhausts a counter:
// 63C0, or 6983 as a YubiKey answers (a departure).
func (e *Env) blockingTry(what string, sw apdu.StatusWord) error {
	if sw == apdu.SWAuthMethodBlocked {
		e.Departure(DepartureBlocking6983, "%s: the try that blocked it answered 6983, not 63C0", what)
		return nil
	}
	return expectSW(what+": the try that blocks it", sw, apdu.RetriesSW(0))
}

// pinCases are VERIFY and CHANGE REFERENCE DATA of the PIN.
func pinCases() []Case {
	return []Case{
		{
			ID: "VE05.09", Title: "re-SELECT of PIV, and SELECT of an absent application, keep the PIN verified",
			Ref: "SP 800-73-4 Part 2 §3.1.1; SP 800-85A-4 VE05.09, VE05.10", Class: Destructive, Needs: NeedPIN,
			Run: func(ctx context.Context, e *Env) error {
				if err := e.verifyRight(ctx); err != nil {
					return err
				}
				for _, aid := range [][]byte{pivAID(), absentAID()} {
					if _, err := e.SW(ctx, selectCmd(aid)); err != nil {
						return err
					}
					if err := e.run(ctx, step(fmt.Sprintf("VERIFY without data after SELECT % X", aid), statusCmd(), apdu.SWSuccess)); err != nil {
						return err
					}
				}
				return nil
			},
		},
		{
			ID: "VE05.19", Title: "a wrong PIN answers 63CX, decrements the counter and clears the PIN's security status",
			Ref: "SP 800-73-4 Part 2 §3.2.1; SP 800-85A-4 VE05.19", Class: Destructive, Needs: NeedPIN,
			Run: pinCase(func(ctx context.Context, e *Env, c counters) error {
				if err := e.verifyRight(ctx); err != nil {
					return err
				}
				s := step("a wrong PIN", verifyCmd(wrongValue(e.creds.PIN, len(e.creds.PIN))), apdu.RetriesSW(c.pin-1))
				sw, err := e.SW(ctx, s.cmd)
				if err != nil {
					return err
				}
				if sw == apdu.SWWarningNoInfo {
					return fmt.Errorf("a wrong PIN answered 6300, which gives no count: want 63C%X", c.pin-1)
				}
				return e.answered(ctx, s, sw, "after the wrong PIN", c.pinLeft(c.pin-1))
			}),
		},
		{
			ID: "VE05.17", Title: "at zero tries the PIN is blocked: even the right PIN answers 6983, across a reset",
			Ref: "SP 800-73-4 Part 2 §3.2.1; SP 800-85A-4 VE05.17", Class: Destructive, Needs: NeedPIN | NeedPUK,
			Run: pinCase(func(ctx context.Context, e *Env, c counters) error {
				full := c.pin
				wrong := wrongValue(e.creds.PIN, len(e.creds.PIN))
				for left := full - 1; left >= 0; left-- {
					sw, err := e.VerifyPIN(ctx, wrong)
					if err != nil {
						return err
					}
					if left == 0 {
						if err := e.blockingTry("the PIN", sw); err != nil {
							return err
						}
						break
					}
					if err := expectSW(fmt.Sprintf("wrong PIN %d of %d", full-left, full), sw, apdu.RetriesSW(left)); err != nil {
						return err
					}
				}
				check := func(when string) error {
					return e.run(ctx,
						step(when+", VERIFY with the right PIN", verifyCmd(e.creds.PIN), apdu.SWAuthMethodBlocked),
						step(when+", VERIFY without data", statusCmd(), apdu.SWAuthMethodBlocked))
				}
				if err := check("blocked"); err != nil {
					return err
				}
				if _, ok := e.card.(Resetter); !ok {
					return nil
				}
				if err := e.Reset(ctx); err != nil {
					return err
				}
				return check("blocked, after a reset")
			}),
		},
		{
			ID: "VE05.22C", Title: "VERIFY with P1 = FF clears the PIN's security status and keeps its counter",
			Ref: "SP 800-73-4 Part 2 §3.2.1; SP 800-85A-4 VE05.22C", Class: Destructive, Needs: NeedPIN,
			Run: pinCase(func(ctx context.Context, e *Env, c counters) error {
				if err := e.verifyRight(ctx); err != nil {
					return err
				}
				logout := step("VERIFY with P1 = FF", apdu.Command{INS: apdu.InsVerify, P1: 0xFF, P2: refPIN}, apdu.SWSuccess)
				if err := e.counted(ctx, logout, "after VERIFY with P1 = FF", c); err != nil {
					return err
				}
				return e.verifyRight(ctx)
			}),
		},
		{
			ID: "VE05.22D", Title: "a malformed PIN answers 6A80 and spends no try",
			Ref: "SP 800-73-4 Part 2 §3.2.1; SP 800-85A-4 VE05.22D", Class: Destructive, Needs: NeedPIN,
			Run: pinCase(func(ctx context.Context, e *Env, c counters) error {
				// A field of 7 bytes: never to be compared.
				short := step("VERIFY with a 7-byte PIN field", apdu.Command{INS: apdu.InsVerify, P2: refPIN, Data: []byte("123456\xFF")}, apdu.SWIncorrectData)
				if err := e.counted(ctx, short, "after the 7-byte PIN field (answered 6A80)", c); err != nil {
					return err
				}
				for _, m := range []struct {
					what  string
					field []byte
				}{
					{"a PIN field with FF inside", []byte("1\xFF23456\xFF")},
					{"a one-digit PIN", []byte("0\xFF\xFF\xFF\xFF\xFF\xFF\xFF")},
					// SP 800-73-4's PIN field is 8 bytes: a wider one is
					// malformed, even holding the right PIN (last: a card
					// with a password policy verifies it).
					{"a 12-byte PIN field holding the right PIN", pad(e.creds.PIN, 12)},
				} {
					s := step("VERIFY with "+m.what, apdu.Command{INS: apdu.InsVerify, P2: refPIN, Data: m.field}, apdu.SWIncorrectData)
					sw, err := e.SW(ctx, s.cmd)
					if err != nil {
						return err
					}
					if sw == apdu.SWSuccess && len(m.field) > 8 {
						if err := e.passwordField(ctx, len(m.field)); err != nil {
							return err
						}
						if err := e.Logout(ctx); err != nil {
							return err
						}
						continue
					}
					if n, ok := sw.Retries(); ok && n == c.pin-1 {
						if err := e.expectTries(ctx, "after "+m.what+" (answered "+swText(sw)+")", c.pin-1); err != nil {
							return err
						}
						e.Departure(DepartureMalformedPINCounts, "%s answered %s: compared and counted as a wrong try", m.what, swText(sw))
						if err := e.refill(ctx); err != nil {
							return err
						}
						continue
					}
					if err := e.answered(ctx, s, sw, "after "+m.what+" (answered 6A80)", c); err != nil {
						return err
					}
				}
				return nil
			}),
		},
		{
			ID: "VE05.22A-LEN", Title: "CHANGE REFERENCE DATA to a PIN shorter than 6 digits answers 6A80 and changes nothing",
			Ref: "SP 800-73-4 Part 2 §3.2.2 (the PIN: 6 to 8 digits); SP 800-85A-4 VE05.22A", Class: Destructive, Needs: NeedPIN,
			Run: pinCase(func(ctx context.Context, e *Env, c counters) error {
				return e.refusedNewPIN(ctx, c, "a 5-digit PIN", "12345", "")
			}),
		},
		{
			ID: "VE05.22A-CHARSET", Title: "CHANGE REFERENCE DATA to a PIN of other characters than digits answers 6A80",
			Ref: "SP 800-73-4 Part 2 §3.2.2 (the PIN: ASCII digits only); SP 800-85A-4 VE05.22A", Class: Destructive, Needs: NeedPIN,
			Run: pinCase(func(ctx context.Context, e *Env, c counters) error {
				return e.refusedNewPIN(ctx, c, "a PIN of letters and digits", "12ab56", DepartureAnyPINCharacters)
			}),
		},
		{
			ID: "VE05.26", Title: "a successful CHANGE REFERENCE DATA sets the new PIN, verifies it and refills the counter",
			Ref: "SP 800-73-4 Part 2 §3.2.2; SP 800-85A-4 VE05.26", Class: Destructive, Needs: NeedPIN,
			Run: pinCase(func(ctx context.Context, e *Env, c counters) error {
				nw := otherPIN(e.creds.PIN)
				if err := e.change(ctx, e.creds.PIN, nw); err != nil {
					return err
				}
				e.Cleanup(func(ctx context.Context) error { return e.change(ctx, nw, e.creds.PIN) })
				if err := e.run(ctx, step("VERIFY without data after the change", statusCmd(), apdu.SWSuccess)); err != nil {
					return err
				}
				if err := e.Logout(ctx); err != nil {
					return err
				}
				if err := e.expectTries(ctx, "after the change", c.pin); err != nil {
					return err
				}
				return e.run(ctx,
					step("VERIFY with the new PIN", verifyCmd(nw), apdu.SWSuccess),
					step("VERIFY with the old PIN", verifyCmd(e.creds.PIN), apdu.RetriesSW(c.pin-1)))
			}),
		},
		{
			ID: "VE05.27", Title: "CHANGE REFERENCE DATA with a wrong old PIN answers 63CX, counts the try and clears the status",
			Ref: "SP 800-73-4 Part 2 §3.2.2; SP 800-85A-4 VE05.27", Class: Destructive, Needs: NeedPIN,
			Run: pinCase(func(ctx context.Context, e *Env, c counters) error {
				if err := e.verifyRight(ctx); err != nil {
					return err
				}
				wrong := wrongValue(e.creds.PIN, len(e.creds.PIN))
				s := step("CHANGE REFERENCE DATA with a wrong old PIN", changeCmd(refPIN, wrong, otherPIN(e.creds.PIN)), apdu.RetriesSW(c.pin-1))
				sw, err := e.SW(ctx, s.cmd)
				if err != nil {
					return err
				}
				if sw == apdu.SWSuccess {
					e.Cleanup(func(ctx context.Context) error { return e.change(ctx, otherPIN(e.creds.PIN), e.creds.PIN) })
				}
				return e.answered(ctx, s, sw, "after the failed change", c.pinLeft(c.pin-1))
			}),
		},
		{
			ID: "VE05.28A", Title: "CHANGE REFERENCE DATA of a key reference that is no PIN answers 6A88 and spends nothing",
			Ref: "SP 800-73-4 Part 2 §3.2.2; SP 800-85A-4 VE05.28A", Class: Destructive, Needs: NeedPIN,
			Run: pinCase(func(ctx context.Context, e *Env, c counters) error {
				cmd := changeCmd(0x9A, wrongValue(e.creds.PIN, 6), otherPIN(e.creds.PIN))
				return e.counted(ctx, step("CHANGE REFERENCE DATA of reference 9A", cmd, apdu.SWReferenceNotFound), "after it", c)
			}),
		},
		{
			ID: "PIV-RESET", Title: "a reset clears the PIN's security status",
			Ref: "SP 800-73-4 Part 2 §3.2.1 (security status); ISO/IEC 7816-4 (security status is volatile: a reset clears it)", Class: Destructive, Needs: NeedPIN | NeedReset,
			Run: func(ctx context.Context, e *Env) error {
				if err := e.verifyRight(ctx); err != nil {
					return err
				}
				if err := e.Reset(ctx); err != nil {
					return err
				}
				sw, err := e.Status(ctx)
				if err != nil {
					return err
				}
				if sw == apdu.SWSuccess {
					return fmt.Errorf("after a reset, VERIFY without data answered 9000: the PIN is still verified")
				}
				if _, ok := sw.Retries(); !ok {
					return fmt.Errorf("after a reset, VERIFY without data answered %s, want 63CX", swText(sw))
				}
				return nil
			},
		},
		{
			ID: "PIN-TEAR", Title: "a power cut during a wrong VERIFY never gives a try back",
			Ref: "SP 800-85A-4 VE05.19 (the counter); the pre-decrement rule of Java Card OwnerPIN", Class: Destructive, Needs: NeedPIN | NeedPowerCut,
			Run: pinTear,
		},
	}
}

// change changes the PIN from old to nw, which must succeed.
func (e *Env) change(ctx context.Context, old, nw string) error {
	return e.run(ctx, step("CHANGE REFERENCE DATA of the PIN", changeCmd(refPIN, old, nw), apdu.SWSuccess))
}

// refusedNewPIN checks CHANGE REFERENCE DATA to the bad PIN nw answers 6A80,
// spends no try (the counters c, read first) and leaves the PIN as it was.
// A card that accepts it is put back; with departure set, accepting it is
// that departure.
func (e *Env) refusedNewPIN(ctx context.Context, c counters, what, nw, departure string) error {
	s := step("CHANGE REFERENCE DATA to "+what, changeCmd(refPIN, e.creds.PIN, nw), apdu.SWIncorrectData)
	sw, err := e.SW(ctx, s.cmd)
	if err != nil {
		return err
	}
	if sw == apdu.SWSuccess {
		putBack := func(ctx context.Context) error { return e.change(ctx, nw, e.creds.PIN) }
		if departure == "" {
			e.Cleanup(putBack)
			return fmt.Errorf("CHANGE REFERENCE DATA to %s was accepted", what)
		}
		e.Departure(departure, "CHANGE REFERENCE DATA to %s was accepted", what)
		return putBack(ctx)
	}
	if err := e.answered(ctx, s, sw, "after it", c); err != nil {
		return err
	}
	return e.verifyRight(ctx)
}

// pinTear cuts the power after each write a wrong VERIFY makes, one cut per
// attempt, and checks the counter never goes back up: once a cut after k
// writes has cost the try, a cut after more writes must cost it too. A
// card that restores the counter before comparing (and decrements again
// after) would give a try back to a cut during the compare.
func pinTear(ctx context.Context, e *Env) error {
	if _, err := e.PowerCutter(); err != nil {
		return err
	}
	full, err := e.full(ctx)
	if err != nil {
		return err
	}
	return tearWrongVerify(ctx, e, full, tearProbe{
		wrong:    verifyCmd(wrongValue(e.creds.PIN, len(e.creds.PIN))),
		reselect: e.Select,
		tries:    e.Tries,
		refill:   e.refill,
	})
}

// tearProbe is what tearWrongVerify needs of an application: its wrong
// VERIFY, and how to select it again after a power cut, read the PIN's
// tries and refill them.
type tearProbe struct {
	wrong apdu.Command
	// wrongAnswer checks the answer of a wrong VERIFY that completes, left
	// the tries it leaves; nil: 63CX.
	wrongAnswer func(what string, sw apdu.StatusWord, left int) error
	reselect    func(context.Context) error
	tries       func(context.Context) (int, error)
	refill      func(context.Context) error
}

// tearWrongVerify is pinTear's loop, for an application described by p
// whose PIN has full tries.
func tearWrongVerify(ctx context.Context, e *Env, full int, p tearProbe) error {
	pc, err := e.PowerCutter()
	if err != nil {
		return err
	}
	raw, _ := p.wrong.Marshal()
	costAt := -1 // the fewest writes after which a cut cost the try
	for k := 0; k < 16; k++ {
		if err := pc.ArmPowerCut(ctx, k); err != nil {
			return err
		}
		out, err := e.send(ctx, raw)
		if err == nil {
			if err := pc.ArmPowerCut(ctx, -1); err != nil {
				return err
			}
			r, perr := apdu.ParseResponse(out)
			if perr != nil {
				return perr
			}
			what := fmt.Sprintf("the wrong PIN with a power cut planned after %s (it made fewer)", writes(k))
			if p.wrongAnswer != nil {
				return p.wrongAnswer(what, r.SW, full-1)
			}
			return expectSW(what, r.SW, apdu.RetriesSW(full-1))
		}
		if err := pc.PowerCycle(ctx); err != nil {
			return err
		}
		if err := p.reselect(ctx); err != nil {
			return err
		}
		tries, err := p.tries(ctx)
		if err != nil {
			return err
		}
		switch {
		case tries > full:
			return fmt.Errorf("a power cut after %s of a wrong VERIFY left %d tries, more than the %d before", writes(k), tries, full)
		case tries < full-1:
			return fmt.Errorf("a power cut after %s of one wrong VERIFY left %d tries, from %d", writes(k), tries, full)
		case tries == full-1 && costAt < 0:
			costAt = k
		case tries == full && costAt >= 0:
			return fmt.Errorf("a power cut after %s of a wrong VERIFY cost the try, but one after %s gave it back: the counter is restored before the compare, so cutting the power during the compare gives free tries", writes(costAt), writes(k))
		}
		if err := p.refill(ctx); err != nil {
			return err
		}
	}
	return fmt.Errorf("a wrong VERIFY still had not finished after 16 writes")
}

// noUserPUK reports whether sw, the answer to RESET RETRY COUNTER with a
// PUK, says that the card has no PUK its user may use (6985), and then
// notes the persona difference and checks that the PIN is unchanged.
func noUserPUK(ctx context.Context, e *Env, sw apdu.StatusWord) (bool, error) {
	if sw != apdu.SWConditionsNotSatisfied {
		return false, nil
	}
	e.Departure(DeparturePersonaNoUserPUK, "RESET RETRY COUNTER with a PUK answered 6985: no PUK is the user's")
	return true, e.verifyRight(ctx)
}

// pukCases are RESET RETRY COUNTER: the PUK.
func pukCases() []Case {
	return []Case{
		{
			ID: "VE05.29", Title: "RESET RETRY COUNTER of a reference other than the PIN answers 6A88 and spends nothing",
			Ref: "SP 800-73-4 Part 2 §3.2.3; SP 800-85A-4 VE05.29", Class: Destructive, Needs: NeedPIN | NeedPUK,
			Run: pukCase(func(ctx context.Context, e *Env, c counters) error {
				cmd := resetRetryCmd(wrongValue(e.creds.PUK, 8), e.creds.PIN)
				cmd.P2 = refPUK
				return e.counted(ctx, step("RESET RETRY COUNTER of reference 81", cmd, apdu.SWReferenceNotFound), "after it", c)
			}),
		},
		{
			ID: "VE05.31", Title: "RESET RETRY COUNTER with the right PUK sets the new PIN and refills its counter",
			Ref: "SP 800-73-4 Part 2 §3.2.3; SP 800-85A-4 VE05.31", Class: Destructive, Needs: NeedPIN | NeedPUK,
			Run: pinCase(func(ctx context.Context, e *Env, c counters) error {
				if _, err := e.VerifyPIN(ctx, wrongValue(e.creds.PIN, len(e.creds.PIN))); err != nil {
					return err
				}
				nw := otherPIN(e.creds.PIN)
				sw, err := e.SW(ctx, resetRetryCmd(e.creds.PUK, nw))
				if err != nil {
					return err
				}
				if persona, err := noUserPUK(ctx, e, sw); persona {
					return err
				}
				if err := expectSW("RESET RETRY COUNTER with the right PUK", sw, apdu.SWSuccess); err != nil {
					return err
				}
				e.Cleanup(func(ctx context.Context) error { return e.change(ctx, nw, e.creds.PIN) })
				if sw, err = e.Status(ctx); err != nil {
					return err
				}
				if sw == apdu.SWSuccess {
					if err := e.Logout(ctx); err != nil {
						return err
					}
				}
				if err := e.expectTries(ctx, "after RESET RETRY COUNTER", c.pin); err != nil {
					return err
				}
				return e.run(ctx, step("VERIFY with the PIN RESET RETRY COUNTER set", verifyCmd(nw), apdu.SWSuccess))
			}),
		},
		{
			ID: "VE05.32", Title: "a wrong PUK answers 63CX, decrements the PUK's counter and leaves the PIN unverified",
			Ref: "SP 800-73-4 Part 2 §3.2.3; SP 800-85A-4 VE05.32", Class: Destructive, Needs: NeedPIN | NeedPUK,
			Run: pukCase(func(ctx context.Context, e *Env, c counters) error {
				if err := e.verifyRight(ctx); err != nil {
					return err
				}
				sw, err := e.SW(ctx, resetRetryCmd(wrongValue(e.creds.PUK, 8), otherPIN(e.creds.PIN)))
				if err != nil {
					return err
				}
				if persona, err := noUserPUK(ctx, e, sw); persona {
					return err
				}
				left, ok := sw.Retries()
				switch {
				case !ok:
					return fmt.Errorf("RESET RETRY COUNTER with a wrong PUK: card answered %s, want 63CX", swText(sw))
				case c.pukKnown && left != c.puk-1:
					return fmt.Errorf("RESET RETRY COUNTER with a wrong PUK answered %s, with %d PUK tries before", swText(sw), c.puk)
				}
				return e.expectCounters(ctx, "after the wrong PUK", c.pukLeft(c.puk-1))
			}),
		},
		{
			ID: "VE05.33", Title: "a wrong PUK with a malformed new PIN answers 6A80 and spends nothing, or 63CX and counts the PUK try",
			Ref: "SP 800-73-4 Part 2 §3.2.3; SP 800-85A-4 VE05.33", Class: Destructive, Needs: NeedPIN | NeedPUK,
			Run: pukCase(func(ctx context.Context, e *Env, c counters) error {
				cmd := apdu.Command{INS: apdu.InsResetRetryCounter, P2: refPIN, Data: append(pad(wrongValue(e.creds.PUK, 8), 8), []byte("1\xFF23456\xFF")...)}
				sw, err := e.SW(ctx, cmd)
				if err != nil {
					return err
				}
				if persona, err := noUserPUK(ctx, e, sw); persona {
					return err
				}
				after := c
				if n, ok := sw.Retries(); ok {
					if c.pukKnown && n != c.puk-1 {
						return fmt.Errorf("RESET RETRY COUNTER with a wrong PUK answered %s, with %d PUK tries before", swText(sw), c.puk)
					}
					after = c.pukLeft(n)
				} else if err := expectSW("RESET RETRY COUNTER with a wrong PUK and a malformed PIN", sw, apdu.SWIncorrectData, apdu.RetriesSW(c.puk-1)); err != nil {
					return err
				}
				if err := e.expectCounters(ctx, "after it", after); err != nil {
					return err
				}
				return e.verifyRight(ctx) // the PIN was not changed
			}),
		},
		{
			ID: "VE05.30", Title: "a blocked PUK answers 6983, even the right one, and does not reset the PIN",
			Ref: "SP 800-73-4 Part 2 §3.2.3; SP 800-85A-4 VE05.30", Class: Destructive, Needs: NeedPIN | NeedPUK | NeedBlockPUK,
			Run: func(ctx context.Context, e *Env) error {
				wrong, nw := wrongValue(e.creds.PUK, 8), otherPIN(e.creds.PIN)
				prev := -1
				for i := 0; ; i++ {
					if i == 16 {
						return fmt.Errorf("16 wrong PUKs and the PUK is not blocked")
					}
					sw, err := e.SW(ctx, resetRetryCmd(wrong, nw))
					if err != nil {
						return err
					}
					if i == 0 {
						if persona, err := noUserPUK(ctx, e, sw); persona {
							return err
						}
					}
					if prev == 1 {
						if err := e.blockingTry("the PUK", sw); err != nil {
							return err
						}
						break
					}
					n, ok := sw.Retries()
					if !ok || prev >= 0 && n != prev-1 {
						return fmt.Errorf("wrong PUK %d answered %s after 63C%X", i+1, swText(sw), prev)
					}
					if n == 0 {
						break
					}
					prev = n
				}
				if err := e.run(ctx, step("RESET RETRY COUNTER with the right PUK, blocked", resetRetryCmd(e.creds.PUK, nw), apdu.SWAuthMethodBlocked)); err != nil {
					return err
				}
				return e.verifyRight(ctx) // the PIN was not reset
			},
		},
	}
}

// expectCounters checks the counters are c: the PIN (not verified) has
// c.pin tries left, and the PUK c.puk when the card reports it.
func (e *Env) expectCounters(ctx context.Context, what string, c counters) error {
	if err := e.expectTries(ctx, what, c.pin); err != nil {
		return err
	}
	if !c.pukKnown {
		return nil
	}
	got, _, ok, err := e.PUKTries(ctx)
	if err != nil || !ok {
		return err
	}
	if got != c.puk {
		return fmt.Errorf("%s: the PUK has %d tries left, want %d", what, got, c.puk)
	}
	return nil
}

// writes says "1 write" or "n writes".
func writes(n int) string {
	if n == 1 {
		return "1 write"
	}
	return fmt.Sprintf("%d writes", n)
}
