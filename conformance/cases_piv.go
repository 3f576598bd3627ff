package conformance

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"encoding/asn1"
	"fmt"
	"math/big"

	"github.com/tesseracard/tessera/apdu"
	"github.com/tesseracard/tessera/hostdriver"
	"github.com/tesseracard/tessera/pivalg"
)

// pivSafeCases read the PIV application: SELECT, GET DATA, and the answers
// to commands that change nothing.
func pivSafeCases() []Case {
	return []Case{
		{
			ID: "VE05.07", Title: "SELECT by the full AID and by its first 5 bytes answers the application property template",
			Ref: "SP 800-73-4 Part 2 §3.1.1, Table 3; SP 800-85A-4 VE05.05, VE05.07", Class: Safe,
			Run: func(ctx context.Context, e *Env) error {
				for _, aid := range [][]byte{pivAID(), pivRID()} {
					r, err := e.Transmit(ctx, selectCmd(aid))
					if err != nil {
						return err
					}
					if err := expectSW(fmt.Sprintf("SELECT % X", aid), r.SW, apdu.SWSuccess); err != nil {
						return err
					}
					if err := checkAPT(r.Data); err != nil {
						return fmt.Errorf("SELECT % X answered % X: %w", aid, r.Data, err)
					}
				}
				return nil
			},
		},
		{
			ID: "VE05.10", Title: "SELECT of an absent application answers 6A82 and leaves PIV selected",
			Ref: "SP 800-73-4 Part 2 §3.1.1; SP 800-85A-4 VE05.10", Class: Safe,
			Run: func(ctx context.Context, e *Env) error {
				if err := e.run(ctx, step(fmt.Sprintf("SELECT of the absent AID % X", absentAID()), selectCmd(absentAID()), apdu.SWFileNotFound)); err != nil {
					return err
				}
				return pivStillAnswers(ctx, e, "after the failed SELECT")
			},
		},
		{
			ID: "VE05.22B", Title: "VERIFY of a key reference that is no PIN answers 6A88",
			Ref: "SP 800-73-4 Part 2 §3.2.1; SP 800-85A-4 VE05.22B", Class: Safe,
			Run: func(ctx context.Context, e *Env) error {
				cmd := apdu.Command{INS: apdu.InsVerify, P2: refPUK, Ne: 256}
				return e.run(ctx, step("VERIFY without data of reference 81 (the PUK is no VERIFY reference)", cmd, apdu.SWReferenceNotFound))
			},
		},
		{
			ID: "VE05.12A", Title: "GET DATA of an absent object answers 6A82",
			Ref: "SP 800-73-4 Part 2 §3.1.2; SP 800-85A-4 VE05.12A", Class: Safe,
			Run: func(ctx context.Context, e *Env) error {
				r, err := e.Transmit(ctx, getDataCmd(objRetired20()))
				if err != nil {
					return err
				}
				switch r.SW {
				case apdu.SWFileNotFound:
					return nil
				case apdu.SWSuccess:
					if err := checkObject(objRetired20(), r.Data); err != nil {
						return err
					}
					return Skipf("object %X is present on this card", objRetired20())
				}
				return expectSW(fmt.Sprintf("GET DATA %X", objRetired20()), r.SW, apdu.SWFileNotFound)
			},
		},
		{
			ID: "PIV-GETDATA-TLV", Title: "GET DATA answers exactly one BER-TLV, 53 (or 7E), with no trailing bytes",
			Ref: "SP 800-73-4 Part 2 §3.1.2; Part 1 §3 (data objects in tag 53)", Class: Safe,
			Run: func(ctx context.Context, e *Env) error {
				read := 0
				for _, tag := range readableObjects() {
					r, err := e.Transmit(ctx, getDataCmd(tag))
					if err != nil {
						return err
					}
					switch r.SW {
					case apdu.SWFileNotFound:
						continue
					case apdu.SWSuccess:
					default:
						return expectSW(fmt.Sprintf("GET DATA %X", tag), r.SW, apdu.SWSuccess, apdu.SWFileNotFound)
					}
					if err := checkObject(tag, r.Data); err != nil {
						return err
					}
					read++
				}
				if read == 0 {
					return Skipf("no readable data object on the card")
				}
				return nil
			},
		},
		{
			ID: "PIV-GETDATA-P1P2", Title: "GET DATA with P1-P2 other than 3FFF answers 6A86",
			Ref: "SP 800-73-4 Part 2 §3.1.2", Class: Safe,
			Run: func(ctx context.Context, e *Env) error {
				cmd := getDataCmd(objCHUID())
				cmd.P1, cmd.P2 = 0x00, 0x00
				return e.run(ctx, step("GET DATA with P1-P2 0000", cmd, apdu.SWIncorrectP1P2, apdu.SWWrongP1P2))
			},
		},
		{
			ID: "PIV-PIN-STATUS", Title: "VERIFY without data answers 63CX with the tries left, and spends none",
			Ref: "SP 800-73-4 Part 2 §3.2.1", Class: Safe,
			Run: func(ctx context.Context, e *Env) error {
				first, err := e.Status(ctx)
				if err != nil {
					return err
				}
				if first == apdu.SWWarningNoInfo {
					return fmt.Errorf("VERIFY without data answered 6300, which gives no count: SP 800-73-4 wants 63CX with X the tries left")
				}
				if !statusAnswer(first) {
					return fmt.Errorf("VERIFY without data answered %s, want 63CX (or 6983 when blocked)", swText(first))
				}
				for range 2 {
					again, err := e.Status(ctx)
					if err != nil {
						return err
					}
					if again != first {
						return fmt.Errorf("VERIFY without data answered %s, then %s: asking spent a try", swText(first), swText(again))
					}
				}
				return nil
			},
		},
		{
			ID: "VE05.36", Title: "GENERAL AUTHENTICATE with a key reference that is no key answers 6A86 or 6A88",
			Ref: "SP 800-73-4 Part 2 §3.2.4; SP 800-85A-4 VE05.36", Class: Safe,
			Run: func(ctx context.Context, e *Env) error {
				dyn := apdu.Nest(0x7C, apdu.AppendTLV(nil, 0x82, nil), apdu.AppendTLV(nil, 0x81, make([]byte, 32)))
				cmd := apdu.Command{INS: apdu.InsGeneralAuthenticate, P1: pivalg.P256, P2: 0x00, Data: dyn, Ne: 256}
				return e.run(ctx, step("GENERAL AUTHENTICATE with key reference 00", cmd, apdu.SWIncorrectP1P2, apdu.SWReferenceNotFound))
			},
		},
		{
			ID: "VE05.36A", Title: "GENERAL AUTHENTICATE with a malformed template answers 6A80",
			Ref: "SP 800-73-4 Part 2 §3.2.4; SP 800-85A-4 VE05.36A", Class: Safe,
			Run: func(ctx context.Context, e *Env) error {
				cmd := apdu.Command{INS: apdu.InsGeneralAuthenticate, P1: pivalg.P256, P2: 0x9A, Data: []byte{0x7C, 0x05, 0x82, 0x00, 0x81}, Ne: 256}
				return e.run(ctx, step("GENERAL AUTHENTICATE whose 7C says 5 bytes with 3 present", cmd, apdu.SWIncorrectData))
			},
		},
		{
			ID: "YK-VERSION", Title: "GET VERSION answers exactly three bytes (piv-go and yubico-piv-tool need it)",
			Ref: "Yubico PIV extension GET VERSION (INS FD); piv-go Open, ykpiv connect", Class: Safe,
			Run: func(ctx context.Context, e *Env) error {
				r, err := e.Transmit(ctx, apdu.Command{INS: apdu.InsGetVersion, Ne: 256})
				if err != nil {
					return err
				}
				if r.SW == apdu.SWINSNotSupported {
					return Skipf("the card does not offer GET VERSION, a YubiKey extension")
				}
				if r.SW != apdu.SWSuccess || len(r.Data) != 3 {
					return fmt.Errorf("GET VERSION answered % X and %s, want 3 bytes and 9000", r.Data, swText(r.SW))
				}
				return nil
			},
		},
	}
}

// checkAPT checks a SELECT answer is the application property template:
// 61 { 4F PIX of the PIV application, 79 { 4F the NIST RID }, ... }.
func checkAPT(b []byte) error {
	t, rest, err := apdu.ParseTLV(b)
	if err != nil || t.Tag != 0x61 || len(rest) != 0 {
		return fmt.Errorf("not one application property template 61")
	}
	aid, ok, err := apdu.FindTLV(t.Value, 0x4F)
	if err != nil || !ok || !bytes.Equal(aid, pivPIX()) && !bytes.Equal(aid, pivAID()) {
		return fmt.Errorf("its application identifier (4F) is % X, want % X", aid, pivPIX())
	}
	auth, ok, err := apdu.FindTLV(t.Value, 0x79)
	if err != nil || !ok {
		return fmt.Errorf("no coexistent tag allocation authority (79)")
	}
	if rid, ok, err := apdu.FindTLV(auth, 0x4F); err != nil || !ok || !bytes.Equal(rid, pivRID()) {
		return fmt.Errorf("its tag allocation authority (79 4F) is % X, want % X", rid, pivRID())
	}
	return nil
}

// checkObject checks a GET DATA answer is exactly one BER-TLV: 53, or the
// object's own tag for the discovery object.
func checkObject(tag, b []byte) error {
	want := apdu.Tag(0x53)
	if bytes.Equal(tag, []byte{0x7E}) {
		want = 0x7E
	}
	t, rest, err := apdu.ParseTLV(b)
	switch {
	case err != nil:
		return fmt.Errorf("GET DATA %X answered %d bytes that are no BER-TLV: %v", tag, len(b), err)
	case t.Tag != want:
		return fmt.Errorf("GET DATA %X answered tag %X, want %X", tag, uint32(t.Tag), uint32(want))
	case len(rest) != 0:
		return fmt.Errorf("GET DATA %X answered the object and %d trailing bytes (% X): clients such as yubico-piv-tool refuse it", tag, len(rest), rest)
	}
	return nil
}

// adminCases use the management key: data objects, keys, and the
// authentication protocol itself.
func adminCases() []Case {
	return []Case{
		{
			ID: "VE05.36C", Title: "a management-key authentication interrupted by another command is rolled back",
			Ref: "SP 800-73-4 Part 2 §3.2.4, Appendix A; SP 800-85A-4 VE05.36C", Class: Destructive, Needs: NeedMgmt,
			Run: func(ctx context.Context, e *Env) error {
				alg, err := e.MgmtAlg(ctx)
				if err != nil {
					return err
				}
				block, err := hostdriver.ManagementKeyCipher(alg, e.creds.MgmtKey)
				if err != nil {
					return err
				}
				r, err := e.Transmit(ctx, apdu.Command{INS: apdu.InsGeneralAuthenticate, P1: alg, P2: refMgmt, Data: []byte{0x7C, 0x02, 0x80, 0x00}, Ne: 256})
				if err != nil {
					return err
				}
				wit, err := hostdriver.DynamicAuthData(r.Data, 0x80)
				if r.SW != apdu.SWSuccess || err != nil || len(wit) != block.BlockSize() {
					return fmt.Errorf("witness request answered % X and %s", r.Data, swText(r.SW))
				}
				plain := make([]byte, len(wit))
				block.Decrypt(plain, wit)
				if _, err := e.Status(ctx); err != nil { // the interruption
					return err
				}
				inner := apdu.AppendTLV(apdu.AppendTLV(nil, 0x80, plain), 0x81, make([]byte, len(wit)))
				sw, err := e.SW(ctx, apdu.Command{INS: apdu.InsGeneralAuthenticate, P1: alg, P2: refMgmt, Data: apdu.Nest(0x7C, inner), Ne: 256})
				if err != nil {
					return err
				}
				if sw == apdu.SWSuccess {
					return fmt.Errorf("the witness answered after an interrupting VERIFY was accepted: the authentication was not rolled back")
				}
				return e.Authenticate(ctx) // a whole authentication still works
			},
		},
		{
			ID: "VE05.37", Title: "PUT DATA needs the management key, checks P1-P2, and writes a chained object that GET DATA returns",
			Ref: "SP 800-73-4 Part 2 §3.3.1; SP 800-85A-4 VE05.37", Class: Destructive, Needs: NeedMgmt,
			Run: func(ctx context.Context, e *Env) error {
				tag := objRetiredCert1()
				orig, err := e.Transmit(ctx, getDataCmd(tag))
				if err != nil {
					return err
				}
				var before []byte // the content, nil when absent
				switch orig.SW {
				case apdu.SWFileNotFound:
				case apdu.SWSuccess:
					t, _, err := apdu.ParseTLV(orig.Data)
					if err != nil || t.Tag != 0x53 {
						return fmt.Errorf("GET DATA %X answered % X, not 53 { ... }", tag, orig.Data)
					}
					before = t.Value
				default:
					return expectSW(fmt.Sprintf("GET DATA %X", tag), orig.SW, apdu.SWSuccess, apdu.SWFileNotFound)
				}
				putBack := func(ctx context.Context) error {
					if err := e.Authenticate(ctx); err != nil {
						return err
					}
					sw, err := e.SW(ctx, putDataCmd(tag, before))
					if err == nil && sw != apdu.SWSuccess {
						err = fmt.Errorf("PUT DATA %X with its old content answered %s", tag, swText(sw))
					}
					return err
				}
				cert := make([]byte, 600)
				rand.Read(cert)
				content := append(apdu.AppendTLV(nil, 0x70, cert), 0x71, 0x01, 0x00, 0xFE, 0x00)
				sw, err := e.SW(ctx, putDataCmd(tag, content))
				if err != nil {
					return err
				}
				if sw == apdu.SWSuccess {
					e.Cleanup(putBack)
					return fmt.Errorf("PUT DATA %X without the management key was accepted", tag)
				}
				if err := expectSW("PUT DATA without the management key", sw, apdu.SWSecurityStatusNotSatisfied); err != nil {
					return err
				}
				if err := e.Authenticate(ctx); err != nil {
					return err
				}
				bad := putDataCmd(tag, content)
				bad.P2 = 0x00
				if sw, err = e.SW(ctx, bad); err != nil {
					return err
				}
				if sw == apdu.SWSuccess {
					e.Cleanup(putBack)
				}
				if err := expectSW("PUT DATA with P1-P2 3F00", sw, apdu.SWIncorrectP1P2, apdu.SWWrongP1P2); err != nil {
					return err
				}
				e.Cleanup(putBack)
				if err := e.run(ctx, step(fmt.Sprintf("PUT DATA %X of %d bytes, chained", tag, len(content)), putDataCmd(tag, content), apdu.SWSuccess)); err != nil {
					return err
				}
				back, err := e.Transmit(ctx, getDataCmd(tag))
				if err != nil {
					return err
				}
				if back.SW != apdu.SWSuccess || !bytes.Equal(back.Data, apdu.AppendTLV(nil, 0x53, content)) {
					return fmt.Errorf("GET DATA %X after PUT DATA answered %d bytes and %s, not the %d bytes written", tag, len(back.Data), swText(back.SW), len(content)+4)
				}
				return nil
			},
		},
		{
			ID: "VE05.36B", Title: "a PIN-protected key used without the PIN answers 6982, and signs once the PIN is verified",
			Ref: "SP 800-73-4 Part 1 Table 4b (9A needs the PIN); Part 2 §3.2.4; SP 800-85A-4 VE05.36B", Class: Destructive, Needs: NeedMgmt | NeedSlot | NeedPIN,
			Run: func(ctx context.Context, e *Env) error {
				slot, _, err := e.ScratchKey(ctx)
				if err != nil {
					return err
				}
				digest := sha256.Sum256([]byte("tessera conformance"))
				sw, _, err := e.Sign(ctx, pivalg.P256, slot, digest[:])
				if err != nil {
					return err
				}
				if sw == apdu.SWConditionsNotSatisfied {
					// Refused before the PIN is even looked at: a spent
					// quota, if the card's token state says so.
					_, err := e.signOrPersona(ctx, fmt.Sprintf("signing with %02X before VERIFY", slot), sw)
					return err
				}
				if err := expectSW(fmt.Sprintf("signing with %02X before VERIFY", slot), sw, apdu.SWSecurityStatusNotSatisfied); err != nil {
					return err
				}
				if err := e.verifyRight(ctx); err != nil {
					return err
				}
				sw, _, err = e.Sign(ctx, pivalg.P256, slot, digest[:])
				if err != nil {
					return err
				}
				_, err = e.signOrPersona(ctx, fmt.Sprintf("signing with %02X after VERIFY", slot), sw)
				return err
			},
		},
		{
			ID: "PIV-SIGN-ECDSA", Title: "an ECDSA signature is a DER SEQUENCE { r, s } that verifies with the generated key",
			Ref: "SP 800-73-4 Part 2 §3.2.4, §3.3.2; SP 800-78-4 (ECDSA signature, X9.62 Ecdsa-Sig-Value)", Class: Destructive, Needs: NeedMgmt | NeedSlot | NeedPIN,
			Run: func(ctx context.Context, e *Env) error {
				slot, pub, err := e.ScratchKey(ctx)
				if err != nil {
					return err
				}
				if err := e.verifyRight(ctx); err != nil {
					return err
				}
				digest := sha256.Sum256([]byte("tessera conformance"))
				sw, sig, err := e.Sign(ctx, pivalg.P256, slot, digest[:])
				if err != nil {
					return err
				}
				if done, err := e.signOrPersona(ctx, fmt.Sprintf("signing with %02X", slot), sw); done {
					return err
				}
				return checkECDSA(pub, digest[:], sig)
			},
		},
	}
}

// checkECDSA checks sig is a minimal DER Ecdsa-Sig-Value that verifies.
func checkECDSA(pub *ecdsa.PublicKey, digest, sig []byte) error {
	var v struct{ R, S *big.Int }
	rest, err := asn1.Unmarshal(sig, &v)
	if err != nil || len(rest) != 0 {
		if len(sig) == 64 {
			return fmt.Errorf("the signature is 64 bytes that are not DER: raw r‖s, not SEQUENCE { r, s }")
		}
		return fmt.Errorf("the signature (% X) is not a DER SEQUENCE { r, s }", sig)
	}
	if der, err := asn1.Marshal(v); err != nil || !bytes.Equal(der, sig) {
		return fmt.Errorf("the signature is not minimal DER (% X)", sig)
	}
	if !ecdsa.VerifyASN1(pub, digest, sig) {
		return fmt.Errorf("the signature does not verify with the public key GENERATE returned")
	}
	return nil
}
