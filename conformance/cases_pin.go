package conformance

import (
	"context"
	"fmt"

	"github.com/tesseracard/tessera/apdu"
)

// verifyRight verifies the PIN, which must succeed.
func (e *Env) verifyRight(ctx context.Context) error {
	sw, err := e.VerifyPIN(ctx, e.creds.PIN)
	if err != nil {
		return err
	}
	return expectSW("VERIFY with the right PIN", sw, apdu.SWSuccess)
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
					sw, err := e.Status(ctx)
					if err != nil {
						return err
					}
					if err := expectSW(fmt.Sprintf("VERIFY without data after SELECT % X", aid), sw, apdu.SWSuccess); err != nil {
						return err
					}
				}
				return nil
			},
		},
		{
			ID: "VE05.19", Title: "a wrong PIN answers 63CX, decrements the counter and clears the PIN's security status",
			Ref: "SP 800-73-4 Part 2 §3.2.1; SP 800-85A-4 VE05.19", Class: Destructive, Needs: NeedPIN,
			Run: func(ctx context.Context, e *Env) error {
				full, err := e.full(ctx)
				if err != nil {
					return err
				}
				if err := e.verifyRight(ctx); err != nil {
					return err
				}
				sw, err := e.VerifyPIN(ctx, wrongValue(e.creds.PIN, len(e.creds.PIN)))
				if err != nil {
					return err
				}
				if sw == apdu.SWWarningNoInfo {
					return fmt.Errorf("a wrong PIN answered 6300, which gives no count: want 63C%X", full-1)
				}
				if err := expectSW("a wrong PIN", sw, apdu.RetriesSW(full-1)); err != nil {
					return err
				}
				return e.expectTries(ctx, "after the wrong PIN", full-1)
			},
		},
		{
			ID: "VE05.17", Title: "at zero tries the PIN is blocked: even the right PIN answers 6983, across a reset",
			Ref: "SP 800-73-4 Part 2 §3.2.1; SP 800-85A-4 VE05.17", Class: Destructive, Needs: NeedPIN | NeedPUK,
			Run: func(ctx context.Context, e *Env) error {
				full, err := e.full(ctx)
				if err != nil {
					return err
				}
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
					for _, c := range []struct {
						what string
						cmd  apdu.Command
					}{{"VERIFY with the right PIN", verifyCmd(e.creds.PIN)}, {"VERIFY without data", statusCmd()}} {
						sw, err := e.SW(ctx, c.cmd)
						if err != nil {
							return err
						}
						if err := expectSW(when+", "+c.what, sw, apdu.SWAuthMethodBlocked); err != nil {
							return err
						}
					}
					return nil
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
			},
		},
		{
			ID: "VE05.22C", Title: "VERIFY with P1 = FF clears the PIN's security status and keeps its counter",
			Ref: "SP 800-73-4 Part 2 §3.2.1; SP 800-85A-4 VE05.22C", Class: Destructive, Needs: NeedPIN,
			Run: func(ctx context.Context, e *Env) error {
				full, err := e.full(ctx)
				if err != nil {
					return err
				}
				if err := e.verifyRight(ctx); err != nil {
					return err
				}
				sw, err := e.SW(ctx, apdu.Command{INS: insVerify, P1: 0xFF, P2: refPIN})
				if err != nil {
					return err
				}
				if err := expectSW("VERIFY with P1 = FF", sw, apdu.SWSuccess); err != nil {
					return err
				}
				if err := e.expectTries(ctx, "after VERIFY with P1 = FF", full); err != nil {
					return err
				}
				return e.verifyRight(ctx)
			},
		},
		{
			ID: "VE05.22D", Title: "a malformed PIN answers 6A80 and spends no try",
			Ref: "SP 800-73-4 Part 2 §3.2.1; SP 800-85A-4 VE05.22D", Class: Destructive, Needs: NeedPIN,
			Run: func(ctx context.Context, e *Env) error {
				full, err := e.full(ctx)
				if err != nil {
					return err
				}
				// A field of 7 bytes: never to be compared.
				sw, err := e.SW(ctx, apdu.Command{INS: insVerify, P2: refPIN, Data: []byte("123456\xFF")})
				if err != nil {
					return err
				}
				if err := expectSW("VERIFY with a 7-byte PIN field", sw, apdu.SWIncorrectData); err != nil {
					return err
				}
				if err := e.expectTries(ctx, "after the 7-byte PIN field (answered 6A80)", full); err != nil {
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
					sw, err := e.SW(ctx, apdu.Command{INS: insVerify, P2: refPIN, Data: m.field})
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
					if n, ok := sw.Retries(); ok && n == full-1 {
						if err := e.expectTries(ctx, "after "+m.what+" (answered "+swText(sw)+")", full-1); err != nil {
							return err
						}
						e.Departure(DepartureMalformedPINCounts, "%s answered %s: compared and counted as a wrong try", m.what, swText(sw))
						if err := e.verifyRight(ctx); err != nil { // refill the counter
							return err
						}
						if err := e.Logout(ctx); err != nil {
							return err
						}
						continue
					}
					if err := expectSW("VERIFY with "+m.what, sw, apdu.SWIncorrectData); err != nil {
						return err
					}
					if err := e.expectTries(ctx, "after "+m.what+" (answered 6A80)", full); err != nil {
						return err
					}
				}
				return nil
			},
		},
		{
			ID: "VE05.22A-LEN", Title: "CHANGE REFERENCE DATA to a PIN shorter than 6 digits answers 6A80 and changes nothing",
			Ref: "SP 800-73-4 Part 2 §3.2.2 (the PIN: 6 to 8 digits); SP 800-85A-4 VE05.22A", Class: Destructive, Needs: NeedPIN,
			Run: func(ctx context.Context, e *Env) error {
				return e.refusedNewPIN(ctx, "a 5-digit PIN", "12345", "")
			},
		},
		{
			ID: "VE05.22A-CHARSET", Title: "CHANGE REFERENCE DATA to a PIN of other characters than digits answers 6A80",
			Ref: "SP 800-73-4 Part 2 §3.2.2 (the PIN: ASCII digits only); SP 800-85A-4 VE05.22A", Class: Destructive, Needs: NeedPIN,
			Run: func(ctx context.Context, e *Env) error {
				return e.refusedNewPIN(ctx, "a PIN of letters and digits", "12ab56", DepartureAnyPINCharacters)
			},
		},
		{
			ID: "VE05.26", Title: "a successful CHANGE REFERENCE DATA sets the new PIN, verifies it and refills the counter",
			Ref: "SP 800-73-4 Part 2 §3.2.2; SP 800-85A-4 VE05.26", Class: Destructive, Needs: NeedPIN,
			Run: func(ctx context.Context, e *Env) error {
				full, err := e.full(ctx)
				if err != nil {
					return err
				}
				nw := otherPIN(e.creds.PIN)
				if err := e.change(ctx, e.creds.PIN, nw); err != nil {
					return err
				}
				e.Cleanup(func(ctx context.Context) error { return e.change(ctx, nw, e.creds.PIN) })
				sw, err := e.Status(ctx)
				if err != nil {
					return err
				}
				if err := expectSW("VERIFY without data after the change", sw, apdu.SWSuccess); err != nil {
					return err
				}
				if err := e.Logout(ctx); err != nil {
					return err
				}
				if err := e.expectTries(ctx, "after the change", full); err != nil {
					return err
				}
				if sw, err = e.VerifyPIN(ctx, nw); err != nil {
					return err
				}
				if err := expectSW("VERIFY with the new PIN", sw, apdu.SWSuccess); err != nil {
					return err
				}
				if sw, err = e.VerifyPIN(ctx, e.creds.PIN); err != nil {
					return err
				}
				return expectSW("VERIFY with the old PIN", sw, apdu.RetriesSW(full-1))
			},
		},
		{
			ID: "VE05.27", Title: "CHANGE REFERENCE DATA with a wrong old PIN answers 63CX, counts the try and clears the status",
			Ref: "SP 800-73-4 Part 2 §3.2.2; SP 800-85A-4 VE05.27", Class: Destructive, Needs: NeedPIN,
			Run: func(ctx context.Context, e *Env) error {
				full, err := e.full(ctx)
				if err != nil {
					return err
				}
				if err := e.verifyRight(ctx); err != nil {
					return err
				}
				wrong := wrongValue(e.creds.PIN, len(e.creds.PIN))
				sw, err := e.SW(ctx, changeCmd(refPIN, wrong, otherPIN(e.creds.PIN)))
				if err != nil {
					return err
				}
				if sw == apdu.SWSuccess {
					e.Cleanup(func(ctx context.Context) error { return e.change(ctx, otherPIN(e.creds.PIN), e.creds.PIN) })
				}
				if err := expectSW("CHANGE REFERENCE DATA with a wrong old PIN", sw, apdu.RetriesSW(full-1)); err != nil {
					return err
				}
				return e.expectTries(ctx, "after the failed change", full-1)
			},
		},
		{
			ID: "VE05.28A", Title: "CHANGE REFERENCE DATA of a key reference that is no PIN answers 6A88 and spends nothing",
			Ref: "SP 800-73-4 Part 2 §3.2.2; SP 800-85A-4 VE05.28A", Class: Destructive, Needs: NeedPIN,
			Run: func(ctx context.Context, e *Env) error {
				full, err := e.full(ctx)
				if err != nil {
					return err
				}
				sw, err := e.SW(ctx, changeCmd(0x9A, wrongValue(e.creds.PIN, 6), otherPIN(e.creds.PIN)))
				if err != nil {
					return err
				}
				if err := expectSW("CHANGE REFERENCE DATA of reference 9A", sw, apdu.SWReferenceNotFound); err != nil {
					return err
				}
				return e.expectTries(ctx, "after it", full)
			},
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
	sw, err := e.SW(ctx, changeCmd(refPIN, old, nw))
	if err != nil {
		return err
	}
	return expectSW("CHANGE REFERENCE DATA of the PIN", sw, apdu.SWSuccess)
}

// refusedNewPIN checks CHANGE REFERENCE DATA to the bad PIN nw answers 6A80,
// spends no try and leaves the PIN as it was. A card that accepts it is put
// back; with departure set, accepting it is that departure.
func (e *Env) refusedNewPIN(ctx context.Context, what, nw, departure string) error {
	full, err := e.full(ctx)
	if err != nil {
		return err
	}
	sw, err := e.SW(ctx, changeCmd(refPIN, e.creds.PIN, nw))
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
	if err := expectSW("CHANGE REFERENCE DATA to "+what, sw, apdu.SWIncorrectData); err != nil {
		return err
	}
	if err := e.expectTries(ctx, "after it", full); err != nil {
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
	pc, err := e.PowerCutter()
	if err != nil {
		return err
	}
	full, err := e.full(ctx)
	if err != nil {
		return err
	}
	wrong := verifyCmd(wrongValue(e.creds.PIN, len(e.creds.PIN)))
	raw, _ := wrong.Marshal()
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
			if err := expectSW(fmt.Sprintf("the wrong PIN with a power cut planned after %s (it made fewer)", writes(k)), r.SW, apdu.RetriesSW(full-1)); err != nil {
				return err
			}
			return nil
		}
		if err := pc.PowerCycle(ctx); err != nil {
			return err
		}
		if err := e.Select(ctx); err != nil {
			return err
		}
		tries, err := e.Tries(ctx)
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
		if err := e.verifyRight(ctx); err != nil { // refill the counter
			return err
		}
		if err := e.Logout(ctx); err != nil {
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
			Run: func(ctx context.Context, e *Env) error {
				full, err := e.full(ctx)
				if err != nil {
					return err
				}
				puk, _, pukKnown, err := e.PUKTries(ctx)
				if err != nil {
					return err
				}
				cmd := resetRetryCmd(wrongValue(e.creds.PUK, 8), e.creds.PIN)
				cmd.P2 = refPUK
				sw, err := e.SW(ctx, cmd)
				if err != nil {
					return err
				}
				if err := expectSW("RESET RETRY COUNTER of reference 81", sw, apdu.SWReferenceNotFound); err != nil {
					return err
				}
				return e.expectCounters(ctx, "after it", full, puk, pukKnown)
			},
		},
		{
			ID: "VE05.31", Title: "RESET RETRY COUNTER with the right PUK sets the new PIN and refills its counter",
			Ref: "SP 800-73-4 Part 2 §3.2.3; SP 800-85A-4 VE05.31", Class: Destructive, Needs: NeedPIN | NeedPUK,
			Run: func(ctx context.Context, e *Env) error {
				full, err := e.full(ctx)
				if err != nil {
					return err
				}
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
				if err := e.expectTries(ctx, "after RESET RETRY COUNTER", full); err != nil {
					return err
				}
				if sw, err = e.VerifyPIN(ctx, nw); err != nil {
					return err
				}
				return expectSW("VERIFY with the PIN RESET RETRY COUNTER set", sw, apdu.SWSuccess)
			},
		},
		{
			ID: "VE05.32", Title: "a wrong PUK answers 63CX, decrements the PUK's counter and leaves the PIN unverified",
			Ref: "SP 800-73-4 Part 2 §3.2.3; SP 800-85A-4 VE05.32", Class: Destructive, Needs: NeedPIN | NeedPUK,
			Run: func(ctx context.Context, e *Env) error {
				full, err := e.full(ctx)
				if err != nil {
					return err
				}
				puk, _, pukKnown, err := e.PUKTries(ctx)
				if err != nil {
					return err
				}
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
				case pukKnown && left != puk-1:
					return fmt.Errorf("RESET RETRY COUNTER with a wrong PUK answered %s, with %d PUK tries before", swText(sw), puk)
				}
				if !pukKnown {
					puk = left + 1
				}
				return e.expectCounters(ctx, "after the wrong PUK", full, puk-1, pukKnown)
			},
		},
		{
			ID: "VE05.33", Title: "a wrong PUK with a malformed new PIN answers 6A80 and spends nothing, or 63CX and counts the PUK try",
			Ref: "SP 800-73-4 Part 2 §3.2.3; SP 800-85A-4 VE05.33", Class: Destructive, Needs: NeedPIN | NeedPUK,
			Run: func(ctx context.Context, e *Env) error {
				full, err := e.full(ctx)
				if err != nil {
					return err
				}
				puk, _, pukKnown, err := e.PUKTries(ctx)
				if err != nil {
					return err
				}
				cmd := apdu.Command{INS: insResetRetry, P2: refPIN, Data: append(pad(wrongValue(e.creds.PUK, 8), 8), []byte("1\xFF23456\xFF")...)}
				sw, err := e.SW(ctx, cmd)
				if err != nil {
					return err
				}
				if persona, err := noUserPUK(ctx, e, sw); persona {
					return err
				}
				after := puk
				if n, ok := sw.Retries(); ok {
					if pukKnown && n != puk-1 {
						return fmt.Errorf("RESET RETRY COUNTER with a wrong PUK answered %s, with %d PUK tries before", swText(sw), puk)
					}
					after = n
				} else if err := expectSW("RESET RETRY COUNTER with a wrong PUK and a malformed PIN", sw, apdu.SWIncorrectData, apdu.RetriesSW(puk-1)); err != nil {
					return err
				}
				if err := e.expectCounters(ctx, "after it", full, after, pukKnown); err != nil {
					return err
				}
				return e.verifyRight(ctx) // the PIN was not changed
			},
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
				sw, err := e.SW(ctx, resetRetryCmd(e.creds.PUK, nw))
				if err != nil {
					return err
				}
				if err := expectSW("RESET RETRY COUNTER with the right PUK, blocked", sw, apdu.SWAuthMethodBlocked); err != nil {
					return err
				}
				return e.verifyRight(ctx) // the PIN was not reset
			},
		},
	}
}

// expectCounters checks the PIN (not verified) has pin tries left, and the
// PUK puk when the card reports it.
func (e *Env) expectCounters(ctx context.Context, what string, pin, puk int, pukKnown bool) error {
	if err := e.expectTries(ctx, what, pin); err != nil {
		return err
	}
	if !pukKnown {
		return nil
	}
	got, _, ok, err := e.PUKTries(ctx)
	if err != nil || !ok {
		return err
	}
	if got != puk {
		return fmt.Errorf("%s: the PUK has %d tries left, want %d", what, got, puk)
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
