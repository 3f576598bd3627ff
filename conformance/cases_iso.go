package conformance

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha1"
	"fmt"
	"math/big"

	"github.com/tesseracard/tessera/apdu"
)

// refIso is the reference the ISO application's cases cite with a section.
const refIso = "IsoApplet v0 (API 00.06) as OpenSC 0.23.0 drives it (card-isoApplet.c)"

// File identifiers the cases create and delete: D5Ax, D5Bx, D5Cx and D5Dx,
// which no PKCS#15 layout of pkcs15-init uses.
const (
	fidOpen      uint16 = 0xD5A1 // EF: read always, update and delete with the PIN
	fidNever     uint16 = 0xD5A2 // EF: read and update never
	fidGuardedDF uint16 = 0xD5A3 // DF: create EF with the PIN, create DF never
	fidInDF      uint16 = 0xD5A4
	fidInDF2     uint16 = 0xD5A5
	fidRule30    uint16 = 0xD5A6
	fidBounds    uint16 = 0xD5A7
	fidTwice     uint16 = 0xD5A8
	fidAbsent    uint16 = 0xD5A9 // never created
	fidRulesOff  uint16 = 0xD5AF
	fidFullDF    uint16 = 0xD5B0
	fidChildren  uint16 = 0xD5C0 // D5C0 to D5DE: the children of fidFullDF
	maxDFKids           = 30
)

// isoAppCases are the ISO 7816 file-system application's: SELECT, the file
// system and its access rules, the PIN/PUK life cycle, and the status words
// of wrong lengths and wrong states. The destructive ones need a card in
// the creation state (no PUK, no PIN): a fresh simulated card, or a real
// one that the first of them personalises.
func isoAppCases() []Case {
	cases := append(isoSafeCases(), isoLifeCycleCases()...)
	cases = append(cases, isoFileCases()...)
	for i := range cases {
		cases[i].App = AppISO
		if cases[i].Class == Destructive {
			cases[i].Needs |= NeedPIN | NeedPUK
		}
	}
	return cases
}

func isoSafeCases() []Case {
	return []Case{
		{
			ID: "ISOAPP-SELECT", Title: "SELECT of the application answers its API version 00.06 and features 06 (ECC, GET CHALLENGE)",
			Ref: refIso + ": SELECT answer; ISO/IEC 7816-4 §11.1.1", Class: Safe,
			Run: func(ctx context.Context, e *Env) error {
				r, err := e.Transmit(ctx, isoSelectCmd())
				if err != nil {
					return err
				}
				if r.SW != apdu.SWSuccess || !bytes.Equal(r.Data, []byte{0x00, 0x06, 0x06}) {
					return fmt.Errorf("SELECT % X answered % X %s, want 00 06 06 9000 (OpenSC 0.23.0 needs major version 00)", isoAID(), r.Data, swText(r.SW))
				}
				noFCI := isoSelectCmd()
				noFCI.P2, noFCI.Ne = 0x0C, 0
				return e.run(ctx, step("SELECT of the application with P2 = 0C", noFCI, apdu.SWSuccess))
			},
		},
		{
			ID: "ISOAPP-SELECT-MF", Title: "SELECT of the MF by its FID 3F00 answers its FCI 6F07 820138 83023F00, and nothing with P2 = 0C",
			Ref: refIso + ": SELECT MF; ISO/IEC 7816-4 §11.1.1", Class: Safe,
			Run: func(ctx context.Context, e *Env) error {
				for _, p2 := range []byte{0x00, 0x0C} {
					r, err := e.Transmit(ctx, selectFIDCmd(0x3F00, p2))
					if err != nil {
						return err
					}
					want := mfFCI()
					if p2 == 0x0C {
						want = nil
					}
					if r.SW != apdu.SWSuccess || !bytes.Equal(r.Data, want) {
						return fmt.Errorf("SELECT 3F00 with P2 = %02X answered % X %s, want % X 9000", p2, r.Data, swText(r.SW), want)
					}
				}
				return nil
			},
		},
		{
			ID: "ISOAPP-SELECT-ABSENT", Title: "SELECT of an absent file, by FID or by path, answers 6A82 and keeps the MF current",
			Ref: refIso + ": SELECT by path; ISO/IEC 7816-4 §11.1.1, §7.1.1", Class: Safe,
			Run: func(ctx context.Context, e *Env) error {
				if sw, err := e.SW(ctx, selectFIDCmd(fidAbsent, 0x0C)); err != nil {
					return err
				} else if sw == apdu.SWSuccess {
					return Skipf("file %04X exists on this card", fidAbsent)
				}
				return e.run(ctx,
					step(fmt.Sprintf("SELECT of the absent FID %04X", fidAbsent), selectFIDCmd(fidAbsent, 0x00), apdu.SWFileNotFound),
					step(fmt.Sprintf("SELECT of the absent path %04X", fidAbsent), selectPathCmd(0x00, fidAbsent), apdu.SWFileNotFound),
					step(fmt.Sprintf("SELECT of the absent path 3F00/%04X/%04X with P2 = 0C", fidAbsent, fidAbsent), selectPathCmd(0x0C, fidAbsent, fidAbsent), apdu.SWFileNotFound),
					step("READ BINARY after the failed SELECTs (the MF, a DF, still current)", readCmd(0, 16), apdu.SWCommandNotAllowed),
				)
			},
		},
		{
			ID: "ISOAPP-SELECT-AID", Title: "SELECT of an absent application answers 6A82 and leaves the application selected",
			Ref: "ISO/IEC 7816-4 §11.1.1, §7.1.1 (a failed SELECT keeps the current file)", Class: Safe,
			Run: func(ctx context.Context, e *Env) error {
				return e.run(ctx,
					step(fmt.Sprintf("SELECT of the absent AID % X", absentAID()), selectCmd(absentAID()), apdu.SWFileNotFound),
					step("SELECT 3F00 after the failed SELECT", selectFIDCmd(0x3F00, 0x0C), apdu.SWSuccess),
				)
			},
		},
		{
			ID: "ISOAPP-NO-EF", Title: "READ BINARY with no current EF (the MF current) answers 6986",
			Ref: refIso + ": READ BINARY; ISO/IEC 7816-4 §5.6 Table 6 (6986 no current EF)", Class: Safe,
			Run: func(ctx context.Context, e *Env) error {
				return e.run(ctx,
					step("READ BINARY right after SELECT of the application", readCmd(0, 16), apdu.SWCommandNotAllowed),
					step("SELECT 3F00", selectFIDCmd(0x3F00, 0x0C), apdu.SWSuccess),
					step("READ BINARY with the MF current", readCmd(0, 256), apdu.SWCommandNotAllowed),
				)
			},
		},
		{
			ID: "ISOAPP-READ-PARAMS", Title: "READ BINARY with a short EF identifier in P1 answers 6A86, without Le 6700",
			Ref: "ISO/IEC 7816-4 §11.3.3 (P1 b8 = 1: short EF identifier), §5.1 (case 1 has no Le)", Class: Safe,
			Run: func(ctx context.Context, e *Env) error {
				return e.run(ctx,
					step("READ BINARY with P1 = 81 (short EF identifier 1, not offered)", readCmd(0x8100, 16), apdu.SWIncorrectP1P2, apdu.SWFunctionNotSupported),
					step("READ BINARY without Le (4 bytes)", apdu.Command{INS: apdu.InsReadBinary}, apdu.SWWrongLength),
				)
			},
		},
		{
			ID: "ISOAPP-CHALLENGE", Title: "GET CHALLENGE answers exactly Le random bytes (1 to 256); without Le 6700, P1-P2 not 0000 6A86",
			Ref: refIso + ": GET CHALLENGE; ISO/IEC 7816-4 §11.5.3", Class: Safe,
			Run: func(ctx context.Context, e *Env) error {
				var got [][]byte
				for _, n := range []int{1, 8, 8, 256} {
					r, err := e.Transmit(ctx, apdu.Command{INS: apdu.InsGetChallenge, Ne: n})
					if err != nil {
						return err
					}
					if r.SW != apdu.SWSuccess || len(r.Data) != n {
						return fmt.Errorf("GET CHALLENGE with Le = %d answered %d bytes and %s, want %d bytes and 9000", n, len(r.Data), swText(r.SW), n)
					}
					got = append(got, r.Data)
				}
				if bytes.Equal(got[1], got[2]) {
					return fmt.Errorf("two GET CHALLENGE of 8 bytes answered the same % X", got[1])
				}
				return e.run(ctx,
					step("GET CHALLENGE without Le", apdu.Command{INS: apdu.InsGetChallenge}, apdu.SWWrongLength),
					step("GET CHALLENGE with P1 = 01", apdu.Command{INS: apdu.InsGetChallenge, P1: 0x01, Ne: 8}, apdu.SWIncorrectP1P2),
				)
			},
		},
		{
			ID: "ISOAPP-VERIFY-STATUS", Title: "VERIFY without data spends nothing: 9000 while no PIN is set, else 63CX or 6983; reference 02 is no VERIFY reference",
			Ref: refIso + ": VERIFY (Lc = 0); ISO/IEC 7816-4 §11.5.6", Class: Safe,
			Run: func(ctx context.Context, e *Env) error {
				first, err := e.isoPINStatus(ctx)
				if err != nil {
					return err
				}
				if _, tries := first.Retries(); !tries && first != apdu.SWSuccess && first != apdu.SWAuthMethodBlocked {
					return fmt.Errorf("VERIFY without data answered %s, want 9000, 63CX or 6983", swText(first))
				}
				return e.run(ctx,
					step("VERIFY without data, again", isoStatusCmd(), first),
					step("VERIFY without data of reference 02 (the PUK)", apdu.Command{INS: apdu.InsVerify, P2: isoRefPUK}, apdu.SWReferenceNotFound, apdu.SWIncorrectP1P2),
				)
			},
		},
		{
			ID: "ISOAPP-CHAIN", Title: "command chaining of an instruction other than 2A, 46, DB answers 6884",
			Ref: refIso + ": chaining only for PSO, GENERATE, PUT DATA; ISO/IEC 7816-4 §5.1.1.1", Class: Safe,
			Run: func(ctx context.Context, e *Env) error {
				chained := selectFIDCmd(0x3F00, 0x0C)
				chained.CLA = apdu.CLAChaining
				return e.run(ctx,
					step("SELECT 3F00 with CLA 10", chained, apdu.SWChainingNotSupported),
					step("SELECT 3F00 after the refused chain", selectFIDCmd(0x3F00, 0x0C), apdu.SWSuccess),
				)
			},
		},
		{
			ID: "ISOAPP-NO-PIN", Title: "MANAGE SECURITY ENVIRONMENT and PSO COMPUTE DIGITAL SIGNATURE without VERIFY answer 6982",
			Ref: refIso + ": MSE SET needs VERIFY; ISO/IEC 7816-8 §5.2, §11.5.11 of 7816-4", Class: Safe,
			Run: func(ctx context.Context, e *Env) error {
				return e.run(ctx,
					step("MSE SET of a signature template (ECDSA, key 0)", mseCmd(0xB6, 0x21, 0x00), apdu.SWSecurityStatusNotSatisfied),
					step("MSE SET of a key generation template (EC, key 0)", mseCmd(0x00, 0xEC, 0x00), apdu.SWSecurityStatusNotSatisfied),
					step("PSO COMPUTE DIGITAL SIGNATURE", apdu.Command{INS: apdu.InsPerformSecurityOperation, P1: 0x9E, P2: 0x9A, Data: make([]byte, 20), Ne: 256}, apdu.SWSecurityStatusNotSatisfied),
				)
			},
		},
		{
			ID: "ISOAPP-INS-CLA", Title: "other drivers' probes (GET DATA CA, CB) answer 6D00; CLA 80 answers 6E00",
			Ref: refIso + ": detection (6D00 to other drivers' probes); ISO/IEC 7816-4 §5.6 Table 6", Class: Safe,
			Run: func(ctx context.Context, e *Env) error {
				return e.run(ctx,
					step("GET DATA 00 CA DF 30", apdu.Command{INS: apdu.InsGetData, P1: 0xDF, P2: 0x30, Ne: 256}, apdu.SWINSNotSupported),
					step("GET DATA 00 CB 3F FF", getDataCmd(objCHUID()), apdu.SWINSNotSupported),
					step("GET CHALLENGE with CLA 80", apdu.Command{CLA: 0x80, INS: apdu.InsGetChallenge, Ne: 8}, apdu.SWCLANotSupported),
				)
			},
		},
	}
}

// personalised is the Run of a case that starts on a card personalised
// with the suite's PIN and PUK (Env.isoPersonalised), given the PIN's tries
// when full.
func personalised(run func(ctx context.Context, e *Env, full int) error) func(context.Context, *Env) error {
	return func(ctx context.Context, e *Env) error {
		full, err := e.isoPersonalised(ctx)
		if err != nil {
			return err
		}
		return run(ctx, e, full)
	}
}

// needCreation returns a skip unless the card is in the creation state
// (no PIN set: VERIFY without data answers 9000).
func needCreation(ctx context.Context, e *Env) error {
	sw, err := e.isoPINStatus(ctx)
	if err != nil {
		return err
	}
	if sw != apdu.SWSuccess {
		return Skipf("needs the creation state, and a PIN is set (VERIFY without data answered %s)", swText(sw))
	}
	return nil
}

// refused are the answers of a command the life cycle state does not
// allow: 6985 or 6986 (ISO/IEC 7816-4), or 6A86 as IsoApplet answers a
// P1-P2 the state does not accept.
func refused() []apdu.StatusWord {
	return []apdu.StatusWord{apdu.SWConditionsNotSatisfied, apdu.SWCommandNotAllowed, apdu.SWIncorrectP1P2}
}

func isoLifeCycleCases() []Case {
	return []Case{
		{
			ID: "ISOAPP-AC-CREATION", Title: "before a PIN exists, file operations ignore the access rules, even FF (never)",
			Ref: refIso + ": PIN/PUK and life cycle (before a PIN exists, file operations are unrestricted)", Class: Destructive,
			Run: func(ctx context.Context, e *Env) error {
				if err := needCreation(ctx, e); err != nil {
					return err
				}
				e.isoFiles(fidRulesOff)
				never := &isoRules{read: 0xFF, update: 0xFF, createDF: 0xFF, deleteSelf: 0xFF}
				return e.run(ctx, selMF(),
					create("every rule FF", fidRulesOff, 8, never, apdu.SWSuccess),
					step("READ BINARY of it", readCmd(0, 8), apdu.SWSuccess),
					step("UPDATE BINARY of it", updateCmd(0, []byte{1, 2}), apdu.SWSuccess),
					step("DELETE FILE of it", deleteCmd(fidRulesOff), apdu.SWSuccess),
				)
			},
		},
		{
			ID: "ISOAPP-LIFECYCLE", Title: "the life cycle goes creation → PUK set → PIN set, each step once, and refuses every other order",
			Ref: refIso + ": PIN/PUK and life cycle", Class: Destructive,
			Run: func(ctx context.Context, e *Env) error {
				if err := needCreation(ctx, e); err != nil {
					return err
				}
				puk := []byte(isoSuitePUK)
				early := []isoStep{
					step("RESET RETRY COUNTER in the creation state", isoUnblockCmd(isoSuitePUK, isoSuitePIN), apdu.SWCommandNotAllowed),
					step("CHANGE REFERENCE DATA of the PIN in the creation state", isoChangeCmd(isoSuitePIN, isoSuitePIN), refused()...),
					step("setting the PIN before the PUK", setPINCmd([]byte(isoSuitePIN)), apdu.SWConditionsNotSatisfied, apdu.SWCommandNotAllowed),
					step("VERIFY without data after the refused PIN", isoStatusCmd(), apdu.SWSuccess),
					step("setting a 15-byte PUK", setPUKCmd(puk[:15]), apdu.SWWrongLength),
					step("setting a 17-byte PUK", setPUKCmd(append(puk, '0')), apdu.SWWrongLength),
					step("setting the PUK (16 bytes)", setPUKCmd(puk), apdu.SWSuccess),
					step("setting the PUK a second time", setPUKCmd(puk), refused()...),
					step("VERIFY without data with the PUK set and no PIN", isoStatusCmd(), apdu.SWSuccess),
					step("RESET RETRY COUNTER before the PIN is set", isoUnblockCmd(isoSuitePUK, isoSuitePIN), apdu.SWCommandNotAllowed),
					step("setting a 3-byte PIN", setPINCmd([]byte("123")), apdu.SWWrongLength),
					step("setting a 17-byte PIN", setPINCmd(bytes.Repeat([]byte("1"), 17)), apdu.SWWrongLength),
					step("setting the PIN (6 bytes)", setPINCmd([]byte(isoSuitePIN)), apdu.SWSuccess),
				}
				if err := e.run(ctx, early...); err != nil {
					return err
				}
				n, err := e.isoTries(ctx, "with the PIN set")
				if err != nil {
					return err
				}
				if n < 1 {
					return fmt.Errorf("a PIN just set has %d tries", n)
				}
				// Once a PIN is set, VERIFY without data reports its tries
				// whether or not it is verified (IsoApplet.java processVerify).
				return e.run(ctx,
					step("setting the PIN a second time", setPINCmd([]byte("654321")), refused()...),
					step("VERIFY with the PIN set", isoVerifyCmd(isoSuitePIN), apdu.SWSuccess),
					step("VERIFY without data with the PIN verified", isoStatusCmd(), apdu.RetriesSW(n)),
				)
			},
		},
		{
			ID: "ISOAPP-PIN-COUNT", Title: "wrong PINs count down 63CX to blocked (6983, even for the right PIN); a wrong PUK counts; RESET RETRY COUNTER unblocks",
			Ref: refIso + ": VERIFY (6983 once blocked), RESET RETRY COUNTER; ISO/IEC 7816-4 §11.5.6, §11.5.10", Class: Destructive,
			Run: personalised(func(ctx context.Context, e *Env, full int) error {
				wrong := "000000"
				for left := full - 1; left > 0; left-- {
					if err := e.run(ctx, step(fmt.Sprintf("wrong PIN %d of %d", full-left, full), isoVerifyCmd(wrong), apdu.RetriesSW(left))); err != nil {
						return err
					}
				}
				// The try that blocks the PIN: 63C0, or 6983 at once.
				if err := e.run(ctx, step(fmt.Sprintf("wrong PIN %d of %d, which blocks it", full, full), isoVerifyCmd(wrong), apdu.RetriesSW(0), apdu.SWAuthMethodBlocked)); err != nil {
					return err
				}
				if err := e.run(ctx,
					step("VERIFY with the right PIN once blocked", isoVerifyCmd(isoSuitePIN), apdu.SWAuthMethodBlocked),
					step("VERIFY without data once blocked", isoStatusCmd(), apdu.SWAuthMethodBlocked),
				); err != nil {
					return err
				}
				sw, err := e.SW(ctx, isoUnblockCmd("fedcba9876543210", isoSuitePIN))
				if err != nil {
					return err
				}
				if n, ok := sw.Retries(); !ok || n < 1 {
					return fmt.Errorf("RESET RETRY COUNTER with a wrong PUK answered %s, want 63CX with the PUK's tries left", swText(sw))
				}
				if err := e.run(ctx,
					step("RESET RETRY COUNTER with the PUK", isoUnblockCmd(isoSuitePUK, isoSuitePIN), apdu.SWSuccess),
					step("VERIFY without data after the unblock", isoStatusCmd(), apdu.RetriesSW(full)),
				); err != nil {
					return err
				}
				return e.isoVerify(ctx)
			}),
		},
		{
			ID: "ISOAPP-PIN-LENGTH", Title: "PIN commands of the wrong length answer 6700 and spend no try",
			Ref: refIso + ": VERIFY ≤ 16 bytes, CHANGE REFERENCE DATA Lc 32, RESET RETRY COUNTER Lc 20–32", Class: Destructive,
			Run: personalised(func(ctx context.Context, e *Env, full int) error {
				change := isoChangeCmd(isoSuitePIN, isoSuitePIN)
				unblock := isoUnblockCmd(isoSuitePUK, isoSuitePIN)
				with := func(c apdu.Command, data []byte) apdu.Command { c.Data = data; return c }
				return e.run(ctx,
					step("VERIFY with 17 bytes", with(isoVerifyCmd(isoSuitePIN), append(isoField(isoSuitePIN), 0)), apdu.SWWrongLength),
					step("CHANGE REFERENCE DATA with Lc 31", with(change, change.Data[:31]), apdu.SWWrongLength),
					step("CHANGE REFERENCE DATA with Lc 33", with(change, append(change.Data, 0)), apdu.SWWrongLength),
					step("RESET RETRY COUNTER with Lc 19", with(unblock, unblock.Data[:19]), apdu.SWWrongLength),
					step("RESET RETRY COUNTER with Lc 33", with(unblock, append(unblock.Data, 0)), apdu.SWWrongLength),
					step("VERIFY without data after the wrong lengths", isoStatusCmd(), apdu.RetriesSW(full)),
				)
			}),
		},
		{
			ID: "ISOAPP-VERIFY-SHORT", Title: "VERIFY with a PIN shorter than 4 bytes answers 6700 and spends no try",
			Ref: refIso + ": PIN 4–16 bytes; IsoApplet.java processVerify (Lc 1–3: SW_WRONG_LENGTH)", Class: Destructive,
			Run: personalised(func(ctx context.Context, e *Env, full int) error {
				return e.run(ctx,
					step("VERIFY with 3 bytes", apdu.Command{INS: apdu.InsVerify, P2: isoRefPIN, Data: []byte("123")}, apdu.SWWrongLength),
					step("VERIFY without data after it", isoStatusCmd(), apdu.RetriesSW(full)),
				)
			}),
		},
		{
			ID: "ISOAPP-CHANGE-PIN", Title: "CHANGE REFERENCE DATA with a wrong old PIN answers 63CX; with the right one it sets the new PIN; a new PIN under 4 bytes answers 6A80",
			Ref: refIso + ": CHANGE REFERENCE DATA; ISO/IEC 7816-4 §11.5.7", Class: Destructive,
			Run: personalised(func(ctx context.Context, e *Env, full int) error {
				const other = "654321"
				return e.run(ctx,
					step("CHANGE REFERENCE DATA with a wrong old PIN", isoChangeCmd("000000", other), apdu.RetriesSW(full-1)),
					step("CHANGE REFERENCE DATA with the right old PIN", isoChangeCmd(isoSuitePIN, other), apdu.SWSuccess),
					step("VERIFY with the old PIN", isoVerifyCmd(isoSuitePIN), apdu.RetriesSW(full-1)),
					step("VERIFY with the new PIN", isoVerifyCmd(other), apdu.SWSuccess),
					step("CHANGE REFERENCE DATA back", isoChangeCmd(other, isoSuitePIN), apdu.SWSuccess),
					step("VERIFY with the PIN changed back", isoVerifyCmd(isoSuitePIN), apdu.SWSuccess),
					step("CHANGE REFERENCE DATA to a 3-byte PIN", isoChangeCmd(isoSuitePIN, "123"), apdu.SWIncorrectData),
					step("VERIFY with the PIN kept", isoVerifyCmd(isoSuitePIN), apdu.SWSuccess),
				)
			}),
		},
		{
			ID: "ISOAPP-PIN-TEAR", Title: "a power cut during a wrong VERIFY never gives a try back",
			Ref: refIso + ": VERIFY; the pre-decrement rule of Java Card OwnerPIN, which IsoApplet's PIN is", Class: Destructive, Needs: NeedPowerCut,
			Run: personalised(func(ctx context.Context, e *Env, full int) error {
				return tearWrongVerify(ctx, e, full, tearProbe{
					wrong:    isoVerifyCmd("000000"),
					reselect: e.selectApp,
					tries:    func(ctx context.Context) (int, error) { return e.isoTries(ctx, "after the power cut") },
					refill: func(ctx context.Context) error {
						if err := e.isoVerify(ctx); err != nil {
							return err
						}
						return e.selectApp(ctx) // SELECT clears the PIN state
					},
				})
			}),
		},
	}
}

// selMF is SELECT of the MF without an answer, so that CREATE FILE creates
// in the MF.
func selMF() isoStep { return step("SELECT 3F00", selectFIDCmd(0x3F00, 0x0C), apdu.SWSuccess) }

func sel(fid uint16) isoStep {
	return step(fmt.Sprintf("SELECT %04X", fid), selectFIDCmd(fid, 0x0C), apdu.SWSuccess)
}

func create(what string, fid uint16, size int, rules *isoRules, want ...apdu.StatusWord) isoStep {
	return step(fmt.Sprintf("CREATE FILE %04X (%s)", fid, what), createCmd(fid, size, rules), want...)
}

func isoFileCases() []Case {
	ok, denied := apdu.SWSuccess, apdu.SWSecurityStatusNotSatisfied
	return []Case{
		{
			ID: "ISOAPP-AC-RULES", Title: "access rules 00, 90/10 and FF: always, with the PIN verified, never (6982)",
			Ref: refIso + ": access control (FCP tag 86); ISO/IEC 7816-4 §7.4.3 Table 20", Class: Destructive,
			Run: personalised(func(ctx context.Context, e *Env, _ int) error {
				e.isoFiles(fidOpen, fidNever, fidGuardedDF)
				if err := e.run(ctx,
					selMF(), create("read 00, update 90, delete 10", fidOpen, 16, &isoRules{update: 0x90, deleteSelf: 0x10}, ok),
					selMF(), create("read and update FF", fidNever, 16, &isoRules{read: 0xFF, update: 0xFF}, ok),
					selMF(), create("DF: create EF 10, create DF FF", fidGuardedDF, 0, &isoRules{update: 0x10, createDF: 0xFF}, ok),
				); err != nil {
					return err
				}
				// Each check without the PIN, then with it.
				checks := []struct {
					what             string
					sel              uint16
					cmd              apdu.Command
					without, withPIN apdu.StatusWord
				}{
					{"READ BINARY (rule 00)", fidOpen, readCmd(0, 16), ok, ok},
					{"UPDATE BINARY (rule 90)", fidOpen, updateCmd(0, []byte{7}), denied, ok},
					{"READ BINARY (rule FF)", fidNever, readCmd(0, 16), denied, denied},
					{"UPDATE BINARY (rule FF)", fidNever, updateCmd(0, []byte{7}), denied, denied},
					{fmt.Sprintf("CREATE FILE of EF %04X in the DF (rule 10)", fidInDF), fidGuardedDF, createCmd(fidInDF, 8, nil), denied, ok},
					{fmt.Sprintf("CREATE FILE of DF %04X in the DF (rule FF)", fidInDF2), fidGuardedDF, createCmd(fidInDF2, 0, nil), denied, denied},
					{"DELETE FILE (rule 10)", 0x3F00, deleteCmd(fidOpen), denied, ok},
				}
				for _, pass := range []bool{false, true} {
					if pass {
						if err := e.isoVerify(ctx); err != nil {
							return err
						}
					}
					for _, c := range checks {
						want, when := c.without, "without the PIN"
						if pass {
							want, when = c.withPIN, "with the PIN verified"
						}
						if err := e.run(ctx, sel(c.sel), step(c.what+", "+when, c.cmd, want)); err != nil {
							return err
						}
					}
				}
				return nil
			}),
		},
		{
			ID: "ISOAPP-AC-30", Title: "an access rule x with x & 9F = 10 (here 30) needs the PIN, as 90 does",
			Ref: refIso + ": access control (90: x & 9F == 10, PIN verified); IsoFileSystem.java authenticateAction", Class: Destructive,
			Run: personalised(func(ctx context.Context, e *Env, _ int) error {
				e.isoFiles(fidRule30)
				return e.run(ctx,
					selMF(), create("read 30", fidRule30, 8, &isoRules{read: 0x30}, ok),
					step("READ BINARY (rule 30) without the PIN", readCmd(0, 8), denied),
					step("VERIFY", isoVerifyCmd(isoSuitePIN), ok),
					sel(fidRule30),
					step("READ BINARY (rule 30) with the PIN verified", readCmd(0, 8), ok),
				)
			}),
		},
		{
			ID: "ISOAPP-EF", Title: "an EF reads back what was written; SELECT answers its FCI as created; past the end 6B00",
			Ref: refIso + ": CREATE FILE, SELECT by path, READ/UPDATE BINARY; ISO/IEC 7816-4 §11.2", Class: Destructive,
			Run: func(ctx context.Context, e *Env) error {
				e.isoFiles(fidBounds)
				content := []byte("Tessera ISO EF, 20 B")
				fcp := createCmd(fidBounds, len(content), nil)
				if err := e.run(ctx, selMF(),
					step(fmt.Sprintf("CREATE FILE %04X (20 bytes, no rules)", fidBounds), fcp, ok),
					step("UPDATE BINARY of the whole EF", updateCmd(0, content), ok),
					step("UPDATE BINARY past the end (offset 15, 6 bytes)", updateCmd(15, make([]byte, 6)), apdu.SWWrongP1P2),
				); err != nil {
					return err
				}
				reads := []struct {
					off, ne int
					want    []byte
				}{{0, 256, content}, {16, 10, content[16:]}, {5, 3, content[5:8]}}
				for _, rd := range reads {
					r, err := e.Transmit(ctx, readCmd(rd.off, rd.ne))
					if err != nil {
						return err
					}
					if r.SW != ok || !bytes.Equal(r.Data, rd.want) {
						return fmt.Errorf("READ BINARY offset %d Le %d answered %q %s, want %q 9000", rd.off, rd.ne, r.Data, swText(r.SW), rd.want)
					}
				}
				if err := e.run(ctx, step("READ BINARY at the end (offset 20)", readCmd(20, 1), apdu.SWWrongP1P2)); err != nil {
					return err
				}
				r, err := e.Transmit(ctx, selectPathCmd(0x00, fidBounds))
				if err != nil {
					return err
				}
				if r.SW != ok || !bytes.Equal(r.Data, fcp.Data) {
					return fmt.Errorf("SELECT of path %04X answered % X %s, want the FCP it was created with, % X", fidBounds, r.Data, swText(r.SW), fcp.Data)
				}
				return nil
			},
		},
		{
			ID: "ISOAPP-CREATE-ERRORS", Title: "CREATE FILE with a FID used anywhere, or tag 86 not 8 bytes, answers 6984; DELETE of an absent file 6A82",
			Ref: refIso + ": CREATE FILE, DELETE FILE", Class: Destructive,
			Run: func(ctx context.Context, e *Env) error {
				e.isoFiles(fidTwice, fidFullDF)
				bad := createWithSA(fidAbsent, 8, make([]byte, 7))
				return e.run(ctx, selMF(),
					create("an EF", fidTwice, 8, nil, ok),
					selMF(), create("the same FID again", fidTwice, 8, nil, apdu.SWReferenceDataUnusable),
					selMF(), create("a DF", fidFullDF, 0, nil, ok),
					create(fmt.Sprintf("in DF %04X, the FID of an EF of the MF", fidFullDF), fidTwice, 8, nil, apdu.SWReferenceDataUnusable),
					selMF(), step("CREATE FILE with a 7-byte tag 86", bad, apdu.SWReferenceDataUnusable),
					step(fmt.Sprintf("DELETE FILE of the absent %04X", fidAbsent), deleteCmd(fidAbsent), apdu.SWFileNotFound),
				)
			},
		},
		{
			ID: "ISOAPP-DF-FULL", Title: "a DF holds 30 files: the 31st answers 6A84; DELETE FILE of the DF deletes them all",
			Ref: refIso + ": limits (30 children per DF); ISO/IEC 7816-4 §5.6 Table 6 (6A84)", Class: Destructive,
			Run: func(ctx context.Context, e *Env) error {
				e.isoFiles(fidFullDF)
				steps := []isoStep{selMF(), create("a DF", fidFullDF, 0, nil, ok)}
				for i := range maxDFKids + 1 {
					want := ok
					if i == maxDFKids {
						want = apdu.SWNotEnoughMemory
					}
					steps = append(steps, sel(fidFullDF), create(fmt.Sprintf("child %d", i+1), fidChildren+uint16(i), 1, nil, want))
				}
				steps = append(steps,
					step(fmt.Sprintf("DELETE FILE %04X", fidFullDF), deleteCmd(fidFullDF), ok),
					step(fmt.Sprintf("SELECT of its child %04X", fidChildren), selectFIDCmd(fidChildren, 0x0C), apdu.SWFileNotFound),
				)
				return e.run(ctx, steps...)
			},
		},
		{
			ID: "ISOAPP-KEY-EC", Title: "an EC P-256 key generated in a slot (explicit parameters) signs a chained 300-byte message, ECDSA with SHA-1",
			Ref: refIso + ": MSE SET, GENERATE (EC), SIGN (alg 21); ISO/IEC 7816-8 §5.1, §5.2", Class: Destructive,
			Run: personalised(func(ctx context.Context, e *Env, _ int) error {
				if err := e.isoVerify(ctx); err != nil {
					return err
				}
				if err := e.run(ctx, step("MSE SET of key generation (EC, slot 15)", mseCmd(0x00, 0xEC, isoKeySlot), ok)); err != nil {
					return err
				}
				r, err := e.Transmit(ctx, apdu.Command{INS: apdu.InsGenerateKeyPair, Data: p256Params(), Ne: 256})
				if err != nil {
					return err
				}
				if r.SW != ok {
					return fmt.Errorf("GENERATE ASYMMETRIC KEY PAIR (P-256) answered %s", swText(r.SW))
				}
				pub, err := parseP256(r.Data)
				if err != nil {
					return fmt.Errorf("GENERATE answered % X: %w", r.Data, err)
				}
				msg := bytes.Repeat([]byte("Tessera "), 300/8+1)[:300]
				if err := e.run(ctx, step("MSE SET of signature (ECDSA, slot 15)", mseCmd(0xB6, 0x21, isoKeySlot), ok)); err != nil {
					return err
				}
				r, err = e.Transmit(ctx, apdu.Command{INS: apdu.InsPerformSecurityOperation, P1: 0x9E, P2: 0x9A, Data: msg, Ne: 256})
				if err != nil {
					return err
				}
				digest := sha1.Sum(msg)
				if r.SW != ok || !ecdsa.VerifyASN1(pub, digest[:], r.Data) {
					return fmt.Errorf("PSO COMPUTE DIGITAL SIGNATURE of 300 bytes answered % X %s: not an ECDSA signature of the message's SHA-1 by the generated key", r.Data, swText(r.SW))
				}
				if err := e.selectApp(ctx); err != nil {
					return err
				}
				return e.run(ctx, step("MSE SET after re-SELECT (PIN no longer verified)", mseCmd(0xB6, 0x21, isoKeySlot), denied))
			}),
		},
		{
			ID: "ISOAPP-GET-RESPONSE", Title: "GET RESPONSE asks for exactly what is pending (else 6Cxx); another command meanwhile is refused with 6900, the data kept",
			Ref: refIso + ": GET RESPONSE; ISO/IEC 7816-4 §5.3.4, §7.6.1", Class: Destructive,
			Run: personalised(func(ctx context.Context, e *Env, _ int) error {
				if err := e.isoVerify(ctx); err != nil {
					return err
				}
				if err := e.run(ctx, step("MSE SET of key generation (EC, slot 15)", mseCmd(0x00, 0xEC, isoKeySlot), ok)); err != nil {
					return err
				}
				r, err := e.firstPiece(ctx, apdu.Command{INS: apdu.InsGenerateKeyPair, Data: p256Params(), Ne: 256})
				if err != nil {
					return err
				}
				left, more := r.SW.BytesRemaining()
				if !more || len(r.Data) != 256 || left == 0 {
					return fmt.Errorf("GENERATE (P-256) answered %d bytes and %s, want 256 bytes and 61xx (the public key is longer)", len(r.Data), swText(r.SW))
				}
				first := r.Data
				for _, ne := range []int{256, left + 1} {
					g, err := e.RawCmd(ctx, apdu.Command{INS: apdu.InsGetResponse, Ne: ne})
					if err != nil {
						return err
					}
					if err := expectSW(fmt.Sprintf("GET RESPONSE with Le %d for %d pending bytes", ne%256, left), g.SW, apdu.WrongLeSW(left)); err != nil {
						return err
					}
				}
				g, err := e.RawCmd(ctx, apdu.Command{INS: apdu.InsReadBinary, Ne: 16})
				if err != nil {
					return err
				}
				if err := expectSW("READ BINARY while a response is pending", g.SW, 0x6900); err != nil {
					return err
				}
				g, err = e.RawCmd(ctx, apdu.Command{INS: apdu.InsGetResponse, Ne: left})
				if err != nil {
					return err
				}
				if err := expectSW("GET RESPONSE with the exact Le", g.SW, ok); err != nil {
					return err
				}
				if _, err := parseP256(append(first, g.Data...)); err != nil {
					return fmt.Errorf("the public key fetched after the refusals is damaged: %w", err)
				}
				return nil
			}),
		},
	}
}

// p256Params returns NIST P-256's explicit domain parameters as GENERATE
// takes them: 81 p, 82 a, 83 b, 84 G (uncompressed), 85 n, 87 cofactor 1.
func p256Params() []byte {
	c := elliptic.P256().Params()
	fixed := func(v *big.Int) []byte { return v.FillBytes(make([]byte, 32)) }
	a := new(big.Int).Sub(c.P, big.NewInt(3))
	g := append(append([]byte{0x04}, fixed(c.Gx)...), fixed(c.Gy)...)
	var b []byte
	for _, t := range []struct {
		tag apdu.Tag
		v   []byte
	}{{0x81, fixed(c.P)}, {0x82, fixed(a)}, {0x83, fixed(c.B)}, {0x84, g}, {0x85, fixed(c.N)}, {0x87, []byte{0x00, 0x01}}} {
		b = apdu.AppendTLV(b, t.tag, t.v)
	}
	return b
}
