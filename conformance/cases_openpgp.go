package conformance

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/tesseracard/tessera/apdu"
)

// opgpCases are the OpenPGP application's (openpgp.go). The safe ones read
// only; the destructive ones use PW1 and PW3 and put them back, except
// those that generate keys or reset the application, which run on the
// simulator only.
func opgpCases() []Case {
	cases := []Case{
		{
			ID: "OPGP-7.2.1-SELECT", Title: "SELECT by the AID's first 6 bytes and by the full AID answers 9000; the AID (4F) is 16 bytes: D276000124, application 01, version 3.x, manufacturer, serial, RFU 0000",
			Ref: refOpenPGP + " §4.2.1 (AID), §7.2.1 (SELECT)", Class: Safe,
			Run: opgpSelect,
		},
		{
			ID: "OPGP-4.4.1-APPDATA", Title: "the application related data (6E) holds the AID, historical bytes, extended capabilities (10 bytes), algorithm attributes C1-C3, PW status bytes, fingerprints and CA fingerprints (20 bytes a key) and dates (4 a key), for 3 keys or more, each as GET DATA answers it alone",
			Ref: refOpenPGP + " §4.4.1 (DOs for GET DATA), §4.4.3.1", Class: Safe,
			Run: opgpAppDataCase,
		},
		{
			ID: "OPGP-4.4.3.11-ALGINFO", Title: "the algorithm information (FA) lists only C1, C2, C3 and DA entries, each well-formed algorithm attributes (RSA 01 nnnn eeee ff, ECC 12/13/16 and a curve OID), and each key's current attributes (6E) among its entries; a card answering 6A88 has none (skipped)",
			Ref: refOpenPGP + " §4.4.3.11 (algorithm information), §4.4.3.10 (algorithm attributes)", Class: Safe,
			Run: opgpAlgInfoCase,
		},
		{
			ID: "OPGP-6-HISTORICAL", Title: "the historical bytes (5F52) start with category indicator 00, carry the card capabilities (73) and end with the status indicator: life cycle 05, 9000",
			Ref: refOpenPGP + " §6 (historical bytes); ISO/IEC 7816-4 §8.1.1", Class: Safe,
			Run: opgpHistorical,
		},
		{
			ID: "OPGP-4.4.3.4-PWSTATUS", Title: "the PW status bytes (C4) are 7: PW1 validity 00 or 01, maximum lengths PW1 ≥ 6, RC, PW3 ≥ 8, then the PW1, RC and PW3 counters (PW1 and PW3 at most 3 on a card as delivered)",
			Ref: refOpenPGP + " §4.4.3.4 (PW status bytes), §4.3 (user verification)", Class: Safe,
			Run: opgpPWStatusCase,
		},
		{
			ID: "OPGP-7.2.2-STATUS", Title: "VERIFY without data answers 63CX with C4's counter for 81, 82 (PW1) and 83 (PW3), alike as 4 bytes (case 1) and with P3 = 00, and spends nothing (6A80 for all, a YubiKey's, is a departure)",
			Ref: refOpenPGP + " §7.2.2 (VERIFY); ISO/IEC 7816-4 §11.5.6", Class: Safe,
			Run: opgpStatusCase,
		},
		{
			ID: "OPGP-7.2.8-PUTDATA-NO-PW3", Title: "PUT DATA of the name (5B) without PW3 answers 6982 (the suite writes the name the card holds, so nothing changes even if accepted)",
			Ref: refOpenPGP + " §7.2.8 (PUT DATA), §4.4.1 (access conditions)", Class: Safe,
			Run: func(ctx context.Context, e *Env) error {
				name, err := e.opgpName(ctx)
				if err != nil {
					return err
				}
				return e.run(ctx, step("PUT DATA 5B without PW3", opgpPutDataCmd(opgpTagName, name), apdu.SWSecurityStatusNotSatisfied))
			},
		},
		{
			ID: "OPGP-7.2.15-CHALLENGE", Title: "GET CHALLENGE answers as many random bytes as asked (up to C0's maximum), a new value each time",
			Ref: refOpenPGP + " §7.2.15 (GET CHALLENGE), §4.4.3.7 (extended capabilities)", Class: Safe,
			Run: opgpChallenge,
		},
		{
			ID: "OPGP-SELECT-FAIL", Title: "a SELECT of an absent application answers 6A82 and leaves OpenPGP selected",
			Ref: refOpenPGP + " §7.2.1; ISO/IEC 7816-4 §11.2.2", Class: Safe,
			Run: func(ctx context.Context, e *Env) error {
				if err := e.run(ctx, step("SELECT of an absent application", selectCmd([]byte{0xD2, 0x76, 0x00, 0x01, 0x24, 0x7F}), apdu.SWFileNotFound)); err != nil {
					return err
				}
				_, err := e.opgpPWStatus(ctx)
				return err
			},
		},
		{
			ID: "OPGP-SERIAL-YUBIKEY", Title: "on a YubiKey (the management application answers), the AID's serial is the device's serial (READ CONFIG) in BCD and the manufacturer Yubico (0006); skipped elsewhere",
			Ref: refOpenPGP + " §4.2.1 (AID: manufacturer, serial); " + refYKMgmt + ": DeviceInfo.parse", Class: Safe,
			Run: opgpSerialYubiKey,
		},
		{
			ID: "OPGP-7.2.2-VERIFY", Title: "a wrong PW1 answers 6982 (or 63CX) and costs a try before the compare; the right one answers 9000, refills the counter and verifies 82 only, not 81; P1 = FF clears it",
			Ref: refOpenPGP + " §7.2.2 (VERIFY), §4.3", Class: Destructive, Needs: NeedOpenPGPPW,
			Run: opgpVerifyCase,
		},
		{
			ID: "OPGP-7.2.2-VERIFY-LONG", Title: "VERIFY with a PW1 longer than C4's maximum answers 6A80 or 6700 and spends no try",
			Ref: refOpenPGP + " §7.2.2, §4.4.3.4 (maximum length)", Class: Destructive, Needs: NeedOpenPGPPW,
			Run: opgpVerifyLong,
		},
		{
			ID: "OPGP-7.2.2-BLOCK", Title: "wrong PW1s block it: the right PW1 then answers 6983 and its status 6983; RESET RETRY COUNTER after PW3 unblocks it with a full counter",
			Ref: refOpenPGP + " §7.2.2, §7.2.4 (RESET RETRY COUNTER, P1 02)", Class: Destructive, Needs: NeedOpenPGPPW,
			Run: opgpBlock,
		},
		{
			ID: "OPGP-7.2.2-PW3", Title: "a wrong PW3 costs a try; the right PW3 refills its counter (one try only: the suite never blocks PW3)",
			Ref: refOpenPGP + " §7.2.2, §4.3", Class: Destructive, Needs: NeedOpenPGPPW,
			Run: func(ctx context.Context, e *Env) error {
				full, err := e.opgpTries(ctx)
				if err != nil {
					return err
				}
				if full.pw3 < 3 {
					return Skipf("PW3 has %d tries left: the suite spends one only with 3 or more", full.pw3)
				}
				sw, err := e.SW(ctx, opgpVerifyCmd(opgpPW3, opgpWrong(e.opgpPW3(), 8)))
				if err != nil {
					return err
				}
				if err := opgpWrongAnswer("VERIFY 83 with a wrong PW3", sw, full.pw3-1); err != nil {
					return err
				}
				less := full
				less.pw3--
				if err := e.opgpExpectTries(ctx, "after a wrong PW3", less); err != nil {
					return err
				}
				if err := e.opgpVerify(ctx, opgpPW3); err != nil {
					return err
				}
				return e.opgpExpectTries(ctx, "after the right PW3", full)
			},
		},
		{
			ID: "OPGP-7.2.2-TEAR", Title: "a power cut during a wrong VERIFY of PW1 never gives the try back",
			Ref: refOpenPGP + " §7.2.2 (the counter is decremented before the compare)", Class: Destructive, Needs: NeedOpenPGPPW | NeedPowerCut,
			Run: func(ctx context.Context, e *Env) error {
				if _, err := e.PowerCutter(); err != nil {
					return err
				}
				full, err := e.opgpTries(ctx)
				if err != nil {
					return err
				}
				return tearWrongVerify(ctx, e, full.pw1, tearProbe{
					wrong:       opgpVerifyCmd(opgpPW1, opgpWrong(e.opgpPW1(), 6)),
					wrongAnswer: opgpWrongAnswer,
					reselect:    e.selectApp,
					tries: func(ctx context.Context) (int, error) {
						c, err := e.opgpTries(ctx)
						return c.pw1, err
					},
					refill: func(ctx context.Context) error { return e.opgpVerify(ctx, opgpPW1) },
				})
			},
		},
		{
			ID: "OPGP-7.2.3-CHANGE-PW1", Title: "CHANGE REFERENCE DATA of PW1: a wrong old PW1 costs a try, a new one under 6 characters is refused spending nothing, the right one sets the new PW1 (the old then wrong)",
			Ref: refOpenPGP + " §7.2.3 (CHANGE REFERENCE DATA), §4.3 (PW1 at least 6 characters)", Class: Destructive, Needs: NeedOpenPGPPW,
			Run: opgpChangePW1,
		},
		{
			ID: "OPGP-7.2.3-TEAR", Title: "a power cut at any write of CHANGE REFERENCE DATA of PW1 leaves the old PW1 or the new one valid, never neither, and PW1's counter never above what it was",
			Ref: refOpenPGP + " §7.2.3; ISO/IEC 7816-4 §7.5 (reference data)", Class: Destructive, Needs: NeedOpenPGPPW | NeedPowerCut,
			Run: opgpChangeTear,
		},
		{
			ID: "OPGP-7.2.3-CHANGE-PW3", Title: "CHANGE REFERENCE DATA of PW3 with the right PW3 sets a new one, which then verifies; changed back",
			Ref: refOpenPGP + " §7.2.3", Class: Destructive, Needs: NeedOpenPGPPW,
			Run: func(ctx context.Context, e *Env) error {
				pw3, nw := e.opgpPW3(), opgpWrong(e.opgpPW3(), 8)
				if err := e.run(ctx, step("CHANGE REFERENCE DATA 83 to a new PW3", opgpChangeCmd(opgpPW3, pw3, nw), apdu.SWSuccess)); err != nil {
					return err
				}
				back := step("CHANGE REFERENCE DATA 83 back", opgpChangeCmd(opgpPW3, nw, pw3), apdu.SWSuccess)
				e.Cleanup(func(ctx context.Context) error { return e.run(ctx, back) })
				if err := e.selectApp(ctx); err != nil {
					return err
				}
				if err := e.run(ctx, step("VERIFY 83 with the new PW3", opgpVerifyCmd(opgpPW3, nw), apdu.SWSuccess), back); err != nil {
					return err
				}
				e.cleanups = nil
				return e.opgpVerify(ctx, opgpPW3)
			},
		},
		{
			ID: "OPGP-7.2.4-RESET-PW3", Title: "RESET RETRY COUNTER of PW1 (P1 02) answers 6982 without PW3, and after PW3 sets a new PW1 with a full counter",
			Ref: refOpenPGP + " §7.2.4 (RESET RETRY COUNTER)", Class: Destructive, Needs: NeedOpenPGPPW,
			Run: opgpResetByPW3,
		},
		{
			ID: "OPGP-7.2.4-RESET-RC", Title: "a resetting code set by PUT DATA D3 (after PW3) is counted in C4; a wrong one costs a try; the right one sets a new PW1; an empty D3 removes it",
			Ref: refOpenPGP + " §7.2.4, §4.3.4 (resetting code), §7.2.8 (PUT DATA D3)", Class: Destructive, Needs: NeedOpenPGPPW,
			Run: opgpResetByRC,
		},
		{
			ID: "OPGP-7.2.8-PUTDATA", Title: "PUT DATA of the name (5B) answers 6982 with PW1 verified, 9000 after PW3, and GET DATA 65 shows it",
			Ref: refOpenPGP + " §7.2.8 (PUT DATA), §4.4.3.3 (cardholder related data)", Class: Destructive, Needs: NeedOpenPGPPW,
			Run: opgpPutData,
		},
		{
			ID: "OPGP-4.4.1-PRIVATE-DO", Title: "the private-use DOs (where C0 announces them): 0101 written after PW1 and read by anyone, 0102 written after PW3, 0103 written and read after PW1 (6982 before), 0104 written and read after PW3 (6982 with PW1)",
			Ref: refOpenPGP + " §4.4.1 (private use DOs 0101-0104 and their access conditions), §4.4.3.7 (extended capabilities)", Class: Destructive, Needs: NeedOpenPGPPW,
			Run: opgpPrivateDOs,
		},
		{
			ID: "OPGP-7.2.14-GENERATE", Title: "GENERATE of the signature key (RSA 2048) answers 6982 without PW3; with it a public key (81, 82) that reading back answers as 256 bytes and 61xx, with or without Le; the fingerprint (C7) and date (CE) PUT after it show in 6E",
			Ref: refOpenPGP + " §7.2.14 (GENERATE ASYMMETRIC KEY PAIR), §4.4.3.6; ISO/IEC 7816-4 §5.1.3 (61xx)", Class: Destructive, Needs: NeedOpenPGPPW | NeedOpenPGPKeys,
			Run: opgpGenerateCase,
		},
		{
			ID: "OPGP-7.2.10-CDS-RSA2048", Title: "PSO:COMPUTE DIGITAL SIGNATURE answers 6982 without PW1 (81); after it signs a SHA-256 DigestInfo with the RSA 2048 key, PKCS#1 v1.5, verified with the public key",
			Ref: refOpenPGP + " §7.2.10 (PSO:CDS), §7.2.10.2 (DigestInfo)", Class: Destructive, Needs: NeedOpenPGPPW | NeedOpenPGPKeys,
			Run: func(ctx context.Context, e *Env) error { return e.opgpSignCase(ctx, opgpRSA2048) },
		},
		{
			ID: "OPGP-7.2.10-CDS-P256", Title: "PSO:CDS with an ECDSA P-256 signature key signs a SHA-256 hash as r||s (64 bytes), verified with the public key",
			Ref: refOpenPGP + " §7.2.10, §4.4.3.9 (algorithm attributes)", Class: Destructive, Needs: NeedOpenPGPPW | NeedOpenPGPKeys,
			Run: func(ctx context.Context, e *Env) error { return e.opgpSignCase(ctx, opgpECDSAP256) },
		},
		{
			ID: "OPGP-7.2.10-CDS-P384", Title: "PSO:CDS with an ECDSA P-384 signature key signs a SHA-384 hash as r||s (96 bytes), verified with the public key",
			Ref: refOpenPGP + " §7.2.10, §4.4.3.9", Class: Destructive, Needs: NeedOpenPGPPW | NeedOpenPGPKeys,
			Run: func(ctx context.Context, e *Env) error { return e.opgpSignCase(ctx, opgpECDSAP384) },
		},
		{
			ID: "OPGP-7.2.10-CDS-BP256", Title: "PSO:CDS with an ECDSA brainpoolP256r1 signature key (attributes 13 + OID 1.3.36.3.3.2.8.1.1.7; a card that refuses them skips) signs a SHA-256 hash as r||s (64 bytes), verified host-side",
			Ref: refOpenPGP + " §7.2.10, §4.4.3.9; RFC 5639 §3.4; SEC 1 §4.1.4", Class: Destructive, Needs: NeedOpenPGPPW | NeedOpenPGPKeys,
			Run: func(ctx context.Context, e *Env) error { return e.opgpSignCase(ctx, brainpoolP256r1().attrECDSA) },
		},
		{
			ID: "OPGP-7.2.10-CDS-RSA4096", Title: "PSO:CDS with an RSA 4096 signature key signs a SHA-256 DigestInfo (a 512-byte signature, fetched with GET RESPONSE), verified with the public key",
			Ref: refOpenPGP + " §7.2.10, §4.4.3.9", Class: Destructive, Needs: NeedOpenPGPPW | NeedOpenPGPKeys,
			Run: func(ctx context.Context, e *Env) error { return e.opgpSignCase(ctx, opgpRSA4096) },
		},
		{
			ID: "OPGP-7.2.10-CDS-ED25519", Title: "PSO:CDS with an Ed25519 signature key signs the message (64 bytes R||S), verified with the public key",
			Ref: refOpenPGP + " §7.2.10, §4.4.3.9; RFC 8032", Class: Destructive, Needs: NeedOpenPGPPW | NeedOpenPGPKeys,
			Run: func(ctx context.Context, e *Env) error { return e.opgpSignCase(ctx, opgpEd25519) },
		},
		{
			ID: "OPGP-4.4.3.4-PW1-ONCE", Title: "with C4's first byte 00 one VERIFY 81 allows one signature (the second answers 6982), with 01 several; the signature counter (93) counts each",
			Ref: refOpenPGP + " §4.4.3.4 (PW1 validity), §4.4.3.8 (digital signature counter)", Class: Destructive, Needs: NeedOpenPGPPW | NeedOpenPGPKeys,
			Run: opgpPW1Once,
		},
		{
			ID: "OPGP-7.2.11-DECIPHER-RSA2048", Title: "PSO:DECIPHER answers 6982 with only 81 verified; after 82 it answers the message of a PKCS#1 v1.5 cryptogram (00 padding indicator, chained: 257 bytes) made host-side with the public key",
			Ref: refOpenPGP + " §7.2.11 (PSO:DECIPHER), §7.2.2; ISO/IEC 7816-4 §5.1.1.1 (chaining)", Class: Destructive, Needs: NeedOpenPGPPW | NeedOpenPGPKeys,
			Run: opgpDecipherRSA,
		},
		{
			ID: "OPGP-7.2.11-DECIPHER-P256", Title: "PSO:DECIPHER with an ECDH P-256 key answers the shared secret x the host computes with the card's public key",
			Ref: refOpenPGP + " §7.2.11 (ECDH: A6 7F49 86)", Class: Destructive, Needs: NeedOpenPGPPW | NeedOpenPGPKeys,
			Run: func(ctx context.Context, e *Env) error { return e.opgpECDH(ctx, opgpECDHP256, ecdh.P256()) },
		},
		{
			ID: "OPGP-7.2.11-DECIPHER-P384", Title: "PSO:DECIPHER with an ECDH P-384 key answers the 48-byte shared secret x the host computes with the card's public key",
			Ref: refOpenPGP + " §7.2.11 (ECDH: A6 7F49 86)", Class: Destructive, Needs: NeedOpenPGPPW | NeedOpenPGPKeys,
			Run: func(ctx context.Context, e *Env) error { return e.opgpECDH(ctx, opgpECDHP384, ecdh.P384()) },
		},
		{
			ID: "OPGP-7.2.11-DECIPHER-BP256", Title: "PSO:DECIPHER with an ECDH brainpoolP256r1 key (a card that refuses the attributes skips) answers the 32-byte shared secret x the host computes with the card's public key",
			Ref: refOpenPGP + " §7.2.11 (ECDH: A6 7F49 86); RFC 5639 §3.4; SEC 1 §3.3.1", Class: Destructive, Needs: NeedOpenPGPPW | NeedOpenPGPKeys,
			Run: func(ctx context.Context, e *Env) error { return e.opgpECDH(ctx, brainpoolP256r1().attrECDH, nil) },
		},
		{
			ID: "OPGP-7.2.11-DECIPHER-X25519", Title: "PSO:DECIPHER with an X25519 key answers the 32-byte shared secret the host computes with the card's public key",
			Ref: refOpenPGP + " §7.2.11; RFC 7748", Class: Destructive, Needs: NeedOpenPGPPW | NeedOpenPGPKeys,
			Run: func(ctx context.Context, e *Env) error { return e.opgpECDH(ctx, opgpX25519, ecdh.X25519()) },
		},
		{
			ID: "OPGP-7.2.13-INTAUTH", Title: "INTERNAL AUTHENTICATE answers 6982 without PW1 (82); after it the authentication key (RSA 2048) signs a DigestInfo, verified with the public key",
			Ref: refOpenPGP + " §7.2.13 (INTERNAL AUTHENTICATE)", Class: Destructive, Needs: NeedOpenPGPPW | NeedOpenPGPKeys,
			Run: opgpIntAuth,
		},
		{
			ID: "OPGP-4.4.3.12-IMPORT", Title: "key import (PUT DATA DB, extended header list) answers 6982 without PW3; with it an Ed25519 signature key and a P-256 authentication key made host-side sign (PSO:CDS, INTERNAL AUTHENTICATE) as the host's public keys verify, read back as those keys, and DE says imported",
			Ref: refOpenPGP + " §4.4.3.12 (private key template), §7.2.8 (PUT DATA odd INS), §4.4.3.8 (key information)", Class: Destructive, Needs: NeedOpenPGPPW | NeedOpenPGPKeys,
			Run: opgpImport,
		},
		{
			ID: "OPGP-YK-TOUCH", Title: "on a YubiKey (D6 answers GET DATA) with a sensor the suite drives (a simulated card), PSO:CDS with touch policy D6 on (01) is refused without a touch (6985, or 6982) and not counted, signs with one; cached (03) signs on the last touch at once and, where the suite moves the card's clock, refuses 16 seconds later",
			Ref: refOpenPGP + " §4.4.1 (DOs D6-D8, user interaction flag); Yubico yubikit, openpgp.py: UIF", Class: Destructive, Needs: NeedOpenPGPPW | NeedOpenPGPKeys,
			Run: opgpTouch,
		},
		{
			ID: "OPGP-7.2.16-TERMINATE", Title: "TERMINATE DF answers 6982 without PW3; after it 9000, and ACTIVATE FILE brings the application back as delivered: factory PW1 and PW3, no name, no keys, counter 0",
			Ref: refOpenPGP + " §7.2.16 (TERMINATE DF), §7.2.17 (ACTIVATE FILE)", Class: Destructive, Needs: NeedOpenPGPPW | NeedTerminate,
			Run: opgpTerminate,
		},
	}
	cases = append(cases, opgpAttestCases()...)
	for i := range cases {
		cases[i].App = AppOpenPGP
	}
	return cases
}

func opgpSelect(ctx context.Context, e *Env) error {
	if err := e.run(ctx, step("SELECT by the first 6 bytes of the AID", selectCmd(opgpAID()), apdu.SWSuccess)); err != nil {
		return err
	}
	r, err := e.Transmit(ctx, opgpGetDataCmd(opgpTagAID))
	if err != nil {
		return err
	}
	aid := r.Data
	switch {
	case r.SW != apdu.SWSuccess:
		return fmt.Errorf("GET DATA 4F answered %s, want 9000", swText(r.SW))
	case len(aid) != 16:
		return fmt.Errorf("the AID (4F) % X is %d bytes, want 16", aid, len(aid))
	case !bytes.HasPrefix(aid, opgpAID()):
		return fmt.Errorf("the AID % X does not start with D276000124 01", aid)
	case aid[6] != 0x03 || aid[7]>>4 > 9 || aid[7]&0x0F > 9:
		return fmt.Errorf("the AID's version %02X%02X is not 3.x in BCD", aid[6], aid[7])
	case aid[14] != 0 || aid[15] != 0:
		return fmt.Errorf("the AID's last two bytes (RFU) are %02X%02X, want 0000", aid[14], aid[15])
	}
	if err := e.run(ctx, step("SELECT by the full AID", selectCmd(aid), apdu.SWSuccess)); err != nil {
		return err
	}
	again, err := e.opgpGet(ctx, opgpTagAID)
	if err != nil {
		return err
	}
	if !bytes.Equal(again, aid) {
		return fmt.Errorf("after SELECT by the full AID, 4F answered % X, before % X", again, aid)
	}
	return nil
}

func opgpAppDataCase(ctx context.Context, e *Env) error {
	d, err := e.opgpAppData(ctx)
	if err != nil {
		return err
	}
	for _, want := range []struct {
		tag        apdu.Tag
		size, each int // size 0: any; each: a multiple of it, a YubiKey's attestation key adding one
	}{{0x4F, 16, 0}, {0x5F52, 0, 0}, {0xC0, 10, 0}, {0xC1, 0, 0}, {0xC2, 0, 0}, {0xC3, 0, 0}, {0xC4, 7, 0}, {0xC5, 60, 20}, {0xC6, 60, 20}, {0xCD, 12, 4}} {
		v, ok := d.get(want.tag)
		switch {
		case !ok:
			return fmt.Errorf("the application related data has no %X", uint16(want.tag))
		case want.each != 0 && (len(v) < want.size || len(v)%want.each != 0):
			return fmt.Errorf("%X in the application related data is %d bytes, want %d (%d for each key)", uint16(want.tag), len(v), want.size, want.each)
		case want.each == 0 && want.size != 0 && len(v) != want.size:
			return fmt.Errorf("%X in the application related data is %d bytes, want %d", uint16(want.tag), len(v), want.size)
		case want.size == 0 && len(v) == 0:
			return fmt.Errorf("%X in the application related data is empty", uint16(want.tag))
		}
	}
	for _, tag := range []uint16{opgpTagAID, opgpTagHistorical, opgpTagPWStatus, 0xC1, 0xC2, 0xC3} {
		alone, err := e.opgpGet(ctx, tag)
		if err != nil {
			return err
		}
		if in, _ := d.get(apdu.Tag(tag)); !bytes.Equal(alone, in) {
			return fmt.Errorf("GET DATA %04X answered % X, the application related data holds % X", tag, alone, in)
		}
	}
	return nil
}

func opgpHistorical(ctx context.Context, e *Env) error {
	h, err := e.opgpGet(ctx, opgpTagHistorical)
	if err != nil {
		return err
	}
	if len(h) < 4 || h[0] != 0x00 {
		return fmt.Errorf("the historical bytes % X do not start with the category indicator 00", h)
	}
	body, status := h[1:len(h)-3], h[len(h)-3:]
	if status[1] != 0x90 || status[2] != 0x00 || status[0] != 0x05 {
		return fmt.Errorf("the historical bytes % X end with % X, want the status indicator 05 90 00 (operational, 9000)", h, status)
	}
	capabilities := false
	for i := 0; i < len(body); {
		tag, n := body[i]>>4, int(body[i]&0x0F)
		if i+1+n > len(body) {
			return fmt.Errorf("the historical bytes % X: compact TLV at %d runs past the end", h, i)
		}
		if tag == 0x7 && n == 3 {
			capabilities = true
		}
		i += 1 + n
	}
	if !capabilities {
		return fmt.Errorf("the historical bytes % X carry no card capabilities (73, 3 bytes)", h)
	}
	return nil
}

func opgpPWStatusCase(ctx context.Context, e *Env) error {
	c4, err := e.opgpPWStatus(ctx)
	if err != nil {
		return err
	}
	if c4[0] == 0xFF {
		e.Departure(DepartureOpenPGPValidityFF, "C4's PW1 validity byte is FF")
	}
	switch {
	case c4[0] > 1 && c4[0] != 0xFF:
		return fmt.Errorf("C4's PW1 validity byte is %02X, want 00 or 01", c4[0])
	case int(c4[1]&0x7F) < 6:
		return fmt.Errorf("C4's maximum PW1 length is %d, under the 6 PW1 must allow", c4[1]&0x7F)
	case int(c4[3]) < 8:
		return fmt.Errorf("C4's maximum PW3 length is %d, under the 8 PW3 must allow", c4[3])
	case c4[4] > 3 && e.fresh, c4[6] > 3 && e.fresh:
		return fmt.Errorf("C4's counters PW1 %d and PW3 %d on a card as delivered, want 3 at most", c4[4], c4[6])
	case e.fresh && (c4[4] == 0 || c4[6] == 0):
		return fmt.Errorf("C4's counters PW1 %d and PW3 %d on a card as delivered: blocked", c4[4], c4[6])
	}
	return nil
}

func opgpStatusCase(ctx context.Context, e *Env) error {
	before, err := e.opgpTries(ctx)
	if err != nil {
		return err
	}
	noQuery := false // the card answers 6A80 to the first: then to all
	for i, p := range []struct {
		ref   byte
		tries int
	}{{opgpPW1Sig, before.pw1}, {opgpPW1, before.pw1}, {opgpPW3, before.pw3}} {
		short, err := e.Raw(ctx, []byte{0x00, apdu.InsVerify, 0x00, p.ref})
		if err != nil {
			return err
		}
		long, err := e.Raw(ctx, []byte{0x00, apdu.InsVerify, 0x00, p.ref, 0x00})
		if err != nil {
			return err
		}
		want := apdu.RetriesSW(p.tries)
		if p.tries == 0 {
			want = apdu.SWAuthMethodBlocked
		}
		if i == 0 {
			noQuery = e.opgpNoStatusQuery(fmt.Sprintf("VERIFY %02X without data", p.ref), short.SW)
		}
		if noQuery {
			want = apdu.SWIncorrectData
		}
		if err := expectSW(fmt.Sprintf("VERIFY %02X without data, 4 bytes (case 1)", p.ref), short.SW, want); err != nil {
			return err
		}
		if err := expectSW(fmt.Sprintf("VERIFY %02X without data, P3 = 00", p.ref), long.SW, want); err != nil {
			return err
		}
	}
	return e.opgpExpectTries(ctx, "after six VERIFY without data", before)
}

// opgpName returns the name (5B) in the cardholder related data.
func (e *Env) opgpName(ctx context.Context) ([]byte, error) {
	v, err := e.opgpGet(ctx, opgpTagCardholder)
	if err != nil {
		return nil, err
	}
	name, _, err := apdu.FindTLV(v, opgpTagName)
	if err != nil {
		return nil, fmt.Errorf("the cardholder related data (65) % X: %w", v, err)
	}
	return name, nil
}

func opgpChallenge(ctx context.Context, e *Env) error {
	d, err := e.opgpAppData(ctx)
	if err != nil {
		return err
	}
	c0, _ := d.get(0xC0)
	if len(c0) < 4 || c0[0]&0x40 == 0 {
		return Skipf("the card does not announce GET CHALLENGE (C0 % X)", c0)
	}
	limit := int(binary.BigEndian.Uint16(c0[2:4]))
	var last []byte
	for _, n := range []int{8, 8, 32} {
		n = min(n, limit)
		r, err := e.Transmit(ctx, apdu.Command{INS: apdu.InsGetChallenge, Ne: n})
		if err != nil {
			return err
		}
		if r.SW != apdu.SWSuccess || len(r.Data) != n {
			return fmt.Errorf("GET CHALLENGE of %d bytes answered %d bytes and %s", n, len(r.Data), swText(r.SW))
		}
		if bytes.Equal(r.Data, last) {
			return fmt.Errorf("GET CHALLENGE answered % X twice", r.Data)
		}
		last = r.Data
	}
	return nil
}

func opgpVerifyCase(ctx context.Context, e *Env) error {
	full, err := e.opgpTries(ctx)
	if err != nil {
		return err
	}
	if full.pw1 < 2 {
		return fmt.Errorf("PW1 has %d tries left: the case needs 2", full.pw1)
	}
	sw, err := e.SW(ctx, opgpVerifyCmd(opgpPW1, opgpWrong(e.opgpPW1(), 6)))
	if err != nil {
		return err
	}
	if err := opgpWrongAnswer("VERIFY 82 with a wrong PW1", sw, full.pw1-1); err != nil {
		return err
	}
	less := full
	less.pw1--
	if err := e.opgpExpectTries(ctx, "after a wrong PW1", less); err != nil {
		return err
	}
	if err := e.opgpStatusIs(ctx, opgpPW1, "after a wrong PW1", apdu.RetriesSW(less.pw1)); err != nil {
		return err
	}
	if err := e.opgpVerify(ctx, opgpPW1); err != nil {
		return err
	}
	if err := e.opgpExpectTries(ctx, "after the right PW1", full); err != nil {
		return err
	}
	if err := e.opgpStatusIs(ctx, opgpPW1, "after the right PW1", apdu.SWSuccess); err != nil {
		return err
	}
	if err := e.opgpStatusIs(ctx, opgpPW1Sig, "after VERIFY 82 (PW1 for other operations than signing)", apdu.RetriesSW(full.pw1)); err != nil {
		return err
	}
	if err := e.run(ctx, step("VERIFY 82 with P1 = FF", opgpLogoutCmd(opgpPW1), apdu.SWSuccess)); err != nil {
		return err
	}
	return e.opgpStatusIs(ctx, opgpPW1, "after VERIFY with P1 = FF", apdu.RetriesSW(full.pw1))
}

func opgpVerifyLong(ctx context.Context, e *Env) error {
	c4, err := e.opgpPWStatus(ctx)
	if err != nil {
		return err
	}
	n := int(c4[1]&0x7F) + 1
	if n > apdu.MaxShortNc {
		return Skipf("C4's maximum PW1 length %d leaves no longer password for a short VERIFY", n-1)
	}
	before, err := e.opgpTries(ctx)
	if err != nil {
		return err
	}
	if err := e.run(ctx, step(fmt.Sprintf("VERIFY 82 with %d characters, one more than C4's maximum", n), opgpVerifyCmd(opgpPW1, opgpWrong(e.opgpPW1(), n)), apdu.SWIncorrectData, apdu.SWWrongLength)); err != nil {
		return err
	}
	return e.opgpExpectTries(ctx, "after VERIFY with a PW1 too long", before)
}

func opgpBlock(ctx context.Context, e *Env) error {
	full, err := e.opgpTries(ctx)
	if err != nil {
		return err
	}
	wrong := opgpVerifyCmd(opgpPW1, opgpWrong(e.opgpPW1(), 6))
	for left := full.pw1 - 1; left >= 0; left-- {
		sw, err := e.SW(ctx, wrong)
		if err != nil {
			return err
		}
		if err := opgpWrongAnswer(fmt.Sprintf("VERIFY 82 with a wrong PW1, %d tries left after it", left), sw, left); err != nil {
			return err
		}
	}
	blocked := full
	blocked.pw1 = 0
	if err := e.opgpExpectTries(ctx, "after as many wrong PW1s as it had tries", blocked); err != nil {
		return err
	}
	if err := e.run(ctx, step("VERIFY 82 with the right PW1, blocked", opgpVerifyCmd(opgpPW1, e.opgpPW1()), apdu.SWAuthMethodBlocked)); err != nil {
		return err
	}
	if err := e.opgpStatusIs(ctx, opgpPW1, "PW1 blocked", apdu.SWAuthMethodBlocked); err != nil {
		return err
	}
	if err := e.opgpVerify(ctx, opgpPW3); err != nil {
		return err
	}
	if err := e.run(ctx, step("RESET RETRY COUNTER of PW1 after PW3", opgpResetByPW3Cmd(e.opgpPW1()), apdu.SWSuccess)); err != nil {
		return err
	}
	if err := e.opgpExpectTries(ctx, "after RESET RETRY COUNTER", full); err != nil {
		return err
	}
	return e.opgpVerify(ctx, opgpPW1)
}

func opgpChangePW1(ctx context.Context, e *Env) error {
	full, err := e.opgpTries(ctx)
	if err != nil {
		return err
	}
	pw1 := e.opgpPW1()
	nw := opgpWrong(pw1, 6)
	wrongOld := opgpWrong(pw1, 7) // not nw's length: a card that splits old and new by the current PW1's length still sees a wrong old one
	sw, err := e.SW(ctx, opgpChangeCmd(opgpPW1Sig, wrongOld, nw))
	if err != nil {
		return err
	}
	if err := opgpWrongAnswer("CHANGE REFERENCE DATA 81 with a wrong old PW1", sw, full.pw1-1); err != nil {
		return err
	}
	less := full
	less.pw1--
	if err := e.opgpExpectTries(ctx, "after CHANGE REFERENCE DATA with a wrong old PW1", less); err != nil {
		return err
	}
	if err := e.opgpVerify(ctx, opgpPW1); err != nil {
		return err
	}
	const short = "12345"
	if sw, err = e.SW(ctx, opgpChangeCmd(opgpPW1Sig, pw1, short)); err != nil {
		return err
	}
	if sw == apdu.SWSuccess {
		e.Cleanup(func(ctx context.Context) error {
			return e.run(ctx, step("CHANGE REFERENCE DATA 81 back", opgpChangeCmd(opgpPW1Sig, short, pw1), apdu.SWSuccess))
		})
		return fmt.Errorf("CHANGE REFERENCE DATA 81 to a PW1 of 5 characters answered 9000: PW1 must be 6 or more")
	}
	if err := e.opgpExpectTries(ctx, "after CHANGE REFERENCE DATA to a PW1 of 5 characters", full); err != nil {
		return err
	}
	if err := e.run(ctx, step("CHANGE REFERENCE DATA 81 to a new PW1", opgpChangeCmd(opgpPW1Sig, pw1, nw), apdu.SWSuccess)); err != nil {
		return err
	}
	back := step("CHANGE REFERENCE DATA 81 back", opgpChangeCmd(opgpPW1Sig, nw, pw1), apdu.SWSuccess)
	e.Cleanup(func(ctx context.Context) error { return e.run(ctx, back) })
	if err := e.selectApp(ctx); err != nil {
		return err
	}
	if err := e.run(ctx, step("VERIFY 82 with the new PW1", opgpVerifyCmd(opgpPW1, nw), apdu.SWSuccess)); err != nil {
		return err
	}
	if sw, err = e.SW(ctx, opgpVerifyCmd(opgpPW1, pw1)); err != nil {
		return err
	}
	if err := opgpWrongAnswer("VERIFY 82 with the old PW1", sw, full.pw1-1); err != nil {
		return err
	}
	if err := e.run(ctx, back); err != nil {
		return err
	}
	e.cleanups = nil
	return e.opgpVerify(ctx, opgpPW1)
}

func opgpResetByPW3(ctx context.Context, e *Env) error {
	full, err := e.opgpTries(ctx)
	if err != nil {
		return err
	}
	pw1 := e.opgpPW1()
	nw := opgpWrong(pw1, 8)
	if err := e.opgpVerify(ctx, opgpPW1); err != nil {
		return err
	}
	if err := e.run(ctx, step("RESET RETRY COUNTER (P1 02) without PW3", opgpResetByPW3Cmd(nw), apdu.SWSecurityStatusNotSatisfied)); err != nil {
		return err
	}
	if err := e.opgpVerify(ctx, opgpPW1); err != nil {
		return err
	}
	wrong := opgpVerifyCmd(opgpPW1, opgpWrong(pw1, 6))
	if _, err := e.SW(ctx, wrong); err != nil {
		return err
	}
	if err := e.opgpVerify(ctx, opgpPW3); err != nil {
		return err
	}
	if err := e.run(ctx, step("RESET RETRY COUNTER (P1 02) after PW3", opgpResetByPW3Cmd(nw), apdu.SWSuccess)); err != nil {
		return err
	}
	back := step("RESET RETRY COUNTER back to PW1", opgpResetByPW3Cmd(pw1), apdu.SWSuccess)
	e.Cleanup(func(ctx context.Context) error {
		if err := e.opgpVerify(ctx, opgpPW3); err != nil {
			return err
		}
		return e.run(ctx, back)
	})
	if err := e.opgpExpectTries(ctx, "after RESET RETRY COUNTER", full); err != nil {
		return err
	}
	if err := e.run(ctx, step("VERIFY 82 with the new PW1", opgpVerifyCmd(opgpPW1, nw), apdu.SWSuccess), back); err != nil {
		return err
	}
	e.cleanups = nil
	return e.opgpVerify(ctx, opgpPW1)
}

func opgpResetByRC(ctx context.Context, e *Env) error {
	full, err := e.opgpTries(ctx)
	if err != nil {
		return err
	}
	if full.rc != 0 {
		return Skipf("the card has a resetting code (C4: %s), which the suite cannot put back", full)
	}
	const rc = "tessera-rc"
	pw1 := e.opgpPW1()
	nw := opgpWrong(pw1, 8)
	if err := e.opgpVerify(ctx, opgpPW3); err != nil {
		return err
	}
	remove := step("PUT DATA D3 empty (no resetting code)", opgpPutDataCmd(opgpTagResetCode, nil), apdu.SWSuccess)
	if err := e.run(ctx, step("PUT DATA D3 (the resetting code)", opgpPutDataCmd(opgpTagResetCode, []byte(rc)), apdu.SWSuccess)); err != nil {
		return err
	}
	e.Cleanup(func(ctx context.Context) error {
		if err := e.opgpVerify(ctx, opgpPW3); err != nil {
			return err
		}
		return e.run(ctx, remove, step("RESET RETRY COUNTER back to PW1", opgpResetByPW3Cmd(pw1), apdu.SWSuccess))
	})
	withRC, err := e.opgpTries(ctx)
	if err != nil {
		return err
	}
	rcFull := withRC.rc
	if withRC.pw1 != full.pw1 || withRC.pw3 != full.pw3 || rcFull < 2 {
		return fmt.Errorf("after setting a resetting code, C4 says %s, want RC 2 or more and the rest as before (%s)", withRC, full)
	}
	if err := e.selectApp(ctx); err != nil { // PW3 no longer verified
		return err
	}
	sw, err := e.SW(ctx, opgpResetByRCCmd(opgpWrong(rc, len(rc)), nw))
	if err != nil {
		return err
	}
	if err := opgpWrongAnswer("RESET RETRY COUNTER with a wrong resetting code", sw, rcFull-1); err != nil {
		return err
	}
	withRC.rc = rcFull - 1
	if err := e.opgpExpectTries(ctx, "after a wrong resetting code", withRC); err != nil {
		return err
	}
	if err := e.run(ctx, step("RESET RETRY COUNTER with the resetting code", opgpResetByRCCmd(rc, nw), apdu.SWSuccess),
		step("VERIFY 82 with the PW1 the resetting code set", opgpVerifyCmd(opgpPW1, nw), apdu.SWSuccess)); err != nil {
		return err
	}
	withRC.rc = rcFull
	if err := e.opgpExpectTries(ctx, "after the right resetting code", withRC); err != nil {
		return err
	}
	if err := e.opgpVerify(ctx, opgpPW3); err != nil {
		return err
	}
	if err := e.run(ctx, remove, step("RESET RETRY COUNTER back to PW1", opgpResetByPW3Cmd(pw1), apdu.SWSuccess)); err != nil {
		return err
	}
	e.cleanups = nil
	return e.opgpExpectTries(ctx, "after the resetting code was removed", full)
}

func opgpPutData(ctx context.Context, e *Env) error {
	old, err := e.opgpName(ctx)
	if err != nil {
		return err
	}
	name := []byte("Conformance<<Tessera")
	if bytes.Equal(old, name) {
		name = []byte("Tessera<<Conformance")
	}
	if err := e.opgpVerify(ctx, opgpPW1); err != nil {
		return err
	}
	if err := e.run(ctx, step("PUT DATA 5B with PW1 (82) verified", opgpPutDataCmd(opgpTagName, name), apdu.SWSecurityStatusNotSatisfied)); err != nil {
		return err
	}
	if err := e.opgpVerify(ctx, opgpPW3); err != nil {
		return err
	}
	if err := e.run(ctx, step("PUT DATA 5B after PW3", opgpPutDataCmd(opgpTagName, name), apdu.SWSuccess)); err != nil {
		return err
	}
	e.Cleanup(func(ctx context.Context) error {
		if err := e.opgpVerify(ctx, opgpPW3); err != nil {
			return err
		}
		return e.run(ctx, step("PUT DATA 5B back", opgpPutDataCmd(opgpTagName, old), apdu.SWSuccess))
	})
	got, err := e.opgpName(ctx)
	if err != nil {
		return err
	}
	if !bytes.Equal(got, name) {
		return fmt.Errorf("after PUT DATA 5B %q, the cardholder related data holds the name %q", name, got)
	}
	return nil
}

func opgpGenerateCase(ctx context.Context, e *Env) error {
	if err := e.opgpVerify(ctx, opgpPW1); err != nil {
		return err
	}
	if err := e.run(ctx, step("GENERATE of the signature key with only PW1 verified", opgpGenerateCmd(0x80, opgpKeySig), apdu.SWSecurityStatusNotSatisfied)); err != nil {
		return err
	}
	if _, err := e.opgpGenerate(ctx, opgpKeySig, opgpRSA2048); err != nil {
		return err
	}
	// The RSA 2048 public key is over 256 bytes: 256 and 61xx, then GET
	// RESPONSE; without Le too, never 6Cxx (ISO/IEC 7816-4 §5.1.3).
	for _, ne := range []int{256, 0} {
		read := opgpGenerateCmd(0x81, opgpKeySig)
		read.Ne = ne
		r, err := e.firstPiece(ctx, read)
		if err != nil {
			return err
		}
		if r.SW.SW1() != 0x61 || len(r.Data) != 256 {
			return fmt.Errorf("reading the RSA 2048 public key (47 81, %s) answered %d bytes and %s, want 256 bytes and 61xx", map[int]string{0: "no Le", 256: "Le 00"}[ne], len(r.Data), swText(r.SW))
		}
	}
	fp := sha256.Sum256([]byte("tessera conformance fingerprint"))
	date := []byte{0x65, 0x00, 0x00, 0x00}
	if err := e.run(ctx,
		step("PUT DATA C7 (the signature key's fingerprint)", opgpPutDataCmd(opgpTagFingerprint, fp[:20]), apdu.SWSuccess),
		step("PUT DATA CE (its generation date)", opgpPutDataCmd(opgpTagDate, date), apdu.SWSuccess)); err != nil {
		return err
	}
	d, err := e.opgpAppData(ctx)
	if err != nil {
		return err
	}
	fps, _ := d.get(0xC5)
	dates, _ := d.get(0xCD)
	if len(fps) < 60 || !bytes.Equal(fps[:20], fp[:20]) || len(dates) < 12 || !bytes.Equal(dates[:4], date) {
		return fmt.Errorf("after PUT DATA C7 and CE the application related data holds fingerprints % X and dates % X", fps, dates)
	}
	if de, ok := d.get(0xDE); ok {
		if len(de) < 2 || de[0] != 0x01 || de[1] != 0x01 {
			return fmt.Errorf("the key information (DE) % X does not say key 01 was generated on the card (01 01)", de)
		}
	}
	return nil
}

// opgpSignCase generates a signature key of attr and checks PSO:CDS.
func (e *Env) opgpSignCase(ctx context.Context, attr []byte) error {
	pub, err := e.opgpGenerate(ctx, opgpKeySig, attr)
	if err != nil {
		return err
	}
	if err := e.selectApp(ctx); err != nil { // PW3 no longer verified
		return err
	}
	in := opgpSignInput(pub, []byte("tessera conformance: PSO:CDS"))
	if err := e.opgpVerify(ctx, opgpPW1); err != nil {
		return err
	}
	if err := e.run(ctx, step("PSO:CDS with PW1 verified for 82 only", opgpCDSCmd(in), apdu.SWSecurityStatusNotSatisfied)); err != nil {
		return err
	}
	if err := e.opgpVerify(ctx, opgpPW1Sig); err != nil {
		return err
	}
	sig, err := e.opgpOp(ctx, "PSO:CDS", opgpCDSCmd(in))
	if err != nil {
		return err
	}
	return opgpVerifySignature(pub, in, sig)
}

// opgpSignInput is what PSO:CDS and INTERNAL AUTHENTICATE are given for
// msg: a SHA-256 DigestInfo for RSA, the hash for ECDSA (SHA-384 on
// P-384), the message for EdDSA.
func opgpSignInput(pub crypto.PublicKey, msg []byte) []byte {
	h := sha256.Sum256(msg)
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return append(digestInfoSHA256(), h[:]...)
	case ed25519.PublicKey:
		return msg
	case *ecdsa.PublicKey:
		if k.Curve.Params().BitSize == 384 {
			h384 := sha512.Sum384(msg)
			return h384[:]
		}
	}
	return h[:]
}

// opgpOp sends a key operation, which must answer 9000, and returns its
// answer.
func (e *Env) opgpOp(ctx context.Context, what string, cmd apdu.Command) ([]byte, error) {
	r, err := e.Transmit(ctx, cmd)
	if err != nil {
		return nil, err
	}
	if r.SW != apdu.SWSuccess {
		return nil, fmt.Errorf("%s answered %s, want 9000", what, swText(r.SW))
	}
	return r.Data, nil
}

// opgpSigCount reads the digital signature counter (93 in 7A).
func (e *Env) opgpSigCount(ctx context.Context) (int, error) {
	v, err := e.opgpGet(ctx, opgpTagSecSupport)
	if err != nil {
		return 0, err
	}
	c, ok, err := apdu.FindTLV(v, 0x93)
	if err != nil || !ok || len(c) != 3 {
		return 0, fmt.Errorf("the security support template (7A) % X has no 3-byte signature counter (93)", v)
	}
	return int(c[0])<<16 | int(c[1])<<8 | int(c[2]), nil
}

func opgpPW1Once(ctx context.Context, e *Env) error {
	pub, err := e.opgpGenerate(ctx, opgpKeySig, opgpRSA2048)
	if err != nil {
		return err
	}
	in := opgpSignInput(pub, []byte("tessera conformance: PW1 validity"))
	count := func(want int, when string) error {
		n, err := e.opgpSigCount(ctx)
		if err == nil && n != want {
			err = fmt.Errorf("%s the signature counter (93) is %d, want %d", when, n, want)
		}
		return err
	}
	if err := count(0, "after GENERATE of the signature key,"); err != nil {
		return err
	}
	signs := 0
	for _, validity := range []byte{0x00, 0x01} {
		if err := e.opgpVerify(ctx, opgpPW3); err != nil {
			return err
		}
		if err := e.run(ctx, step(fmt.Sprintf("PUT DATA C4 %02X", validity), opgpPutDataCmd(opgpTagPWStatus, []byte{validity}), apdu.SWSuccess)); err != nil {
			return err
		}
		c4, err := e.opgpPWStatus(ctx)
		if err != nil {
			return err
		}
		if c4[0] != validity {
			return fmt.Errorf("after PUT DATA C4 %02X, C4's first byte is %02X", validity, c4[0])
		}
		if err := e.opgpVerify(ctx, opgpPW1Sig); err != nil {
			return err
		}
		sig, err := e.opgpOp(ctx, "the first PSO:CDS after VERIFY 81", opgpCDSCmd(in))
		if err != nil {
			return err
		}
		if err := opgpVerifySignature(pub, in, sig); err != nil {
			return err
		}
		signs++
		if err := count(signs, "after a signature,"); err != nil {
			return err
		}
		second := step("a second PSO:CDS with C4's first byte 00 (PW1 valid for one signature)", opgpCDSCmd(in), apdu.SWSecurityStatusNotSatisfied)
		if validity == 0x01 {
			second = step("a second PSO:CDS with C4's first byte 01 (PW1 valid for several)", opgpCDSCmd(in), apdu.SWSuccess)
			signs++
		}
		if err := e.run(ctx, second); err != nil {
			return err
		}
		if err := count(signs, "after the second PSO:CDS,"); err != nil {
			return err
		}
	}
	return nil
}

func opgpDecipherRSA(ctx context.Context, e *Env) error {
	pub, err := e.opgpGenerate(ctx, opgpKeyDec, opgpRSA2048)
	if err != nil {
		return err
	}
	if err := e.selectApp(ctx); err != nil {
		return err
	}
	msg := []byte("tessera conformance: a session key")
	ct, err := rsa.EncryptPKCS1v15(rand.Reader, pub.(*rsa.PublicKey), msg)
	if err != nil {
		return err
	}
	in := append([]byte{0x00}, ct...)
	if err := e.opgpVerify(ctx, opgpPW1Sig); err != nil {
		return err
	}
	if err := e.run(ctx, step("PSO:DECIPHER with PW1 verified for 81 only", opgpDecipherCmd(in), apdu.SWSecurityStatusNotSatisfied)); err != nil {
		return err
	}
	if err := e.opgpVerify(ctx, opgpPW1); err != nil {
		return err
	}
	got, err := e.opgpOp(ctx, "PSO:DECIPHER of an RSA 2048 cryptogram", opgpDecipherCmd(in))
	if err != nil {
		return err
	}
	if !bytes.Equal(got, msg) {
		return fmt.Errorf("PSO:DECIPHER answered % X, want the message % X", got, msg)
	}
	return nil
}

func (e *Env) opgpECDH(ctx context.Context, attr []byte, curve ecdh.Curve) error {
	pub, err := e.opgpGenerate(ctx, opgpKeyDec, attr)
	if err != nil {
		return err
	}
	var hostPoint, want []byte
	switch cardPub := pub.(type) {
	case *ecdh.PublicKey:
		host, err := curve.GenerateKey(rand.Reader)
		if err != nil {
			return err
		}
		if want, err = host.ECDH(cardPub); err != nil {
			return fmt.Errorf("the card's public key: %w", err)
		}
		hostPoint = host.PublicKey().Bytes()
	case *bpPublicKey: // curve is nil: the suite's own arithmetic
		if hostPoint, want, err = cardPub.ecdh(rand.Reader); err != nil {
			return fmt.Errorf("the card's public key: %w", err)
		}
	default:
		return fmt.Errorf("GENERATE answered a %T, want an ECDH key", pub)
	}
	in := apdu.Nest(0xA6, apdu.Nest(0x7F49, apdu.AppendTLV(nil, 0x86, hostPoint)))
	if err := e.opgpVerify(ctx, opgpPW1); err != nil {
		return err
	}
	got, err := e.opgpOp(ctx, "PSO:DECIPHER (ECDH)", opgpDecipherCmd(in))
	if err != nil {
		return err
	}
	if !bytes.Equal(got, want) {
		return fmt.Errorf("PSO:DECIPHER (ECDH) answered % X (%d bytes), want the shared secret % X (%d bytes)", got, len(got), want, len(want))
	}
	return nil
}

func opgpIntAuth(ctx context.Context, e *Env) error {
	pub, err := e.opgpGenerate(ctx, opgpKeyAut, opgpRSA2048)
	if err != nil {
		return err
	}
	if err := e.selectApp(ctx); err != nil {
		return err
	}
	in := opgpSignInput(pub, []byte("tessera conformance: a server's challenge"))
	if err := e.run(ctx, step("INTERNAL AUTHENTICATE without PW1", opgpIntAuthCmd(in), apdu.SWSecurityStatusNotSatisfied)); err != nil {
		return err
	}
	if err := e.opgpVerify(ctx, opgpPW1); err != nil {
		return err
	}
	sig, err := e.opgpOp(ctx, "INTERNAL AUTHENTICATE", opgpIntAuthCmd(in))
	if err != nil {
		return err
	}
	return opgpVerifySignature(pub, in, sig)
}

func opgpTerminate(ctx context.Context, e *Env) error {
	if err := e.opgpVerify(ctx, opgpPW3); err != nil {
		return err
	}
	if err := e.run(ctx, step("PUT DATA 5B", opgpPutDataCmd(opgpTagName, []byte("Terminated<<To Be")), apdu.SWSuccess)); err != nil {
		return err
	}
	if err := e.selectApp(ctx); err != nil {
		return err
	}
	if err := e.run(ctx, step("TERMINATE DF without PW3", apdu.Command{INS: insTerminateDF}, apdu.SWSecurityStatusNotSatisfied, apdu.SWConditionsNotSatisfied)); err != nil {
		return err
	}
	if err := e.opgpVerify(ctx, opgpPW3); err != nil {
		return err
	}
	if err := e.run(ctx,
		step("TERMINATE DF after PW3", apdu.Command{INS: insTerminateDF}, apdu.SWSuccess),
		step("SELECT of the terminated application", selectCmd(opgpAID()), swTerminated, apdu.SWSuccess),
		step("ACTIVATE FILE", apdu.Command{INS: insActivateFile}, apdu.SWSuccess),
		step("SELECT after ACTIVATE FILE", selectCmd(opgpAID()), apdu.SWSuccess),
		step("VERIFY 82 with the factory PW1", opgpVerifyCmd(opgpPW1, opgpFactoryPW1), apdu.SWSuccess),
		step("VERIFY 83 with the factory PW3", opgpVerifyCmd(opgpPW3, opgpFactoryPW3), apdu.SWSuccess)); err != nil {
		return err
	}
	name, err := e.opgpName(ctx)
	if err != nil {
		return err
	}
	if len(name) != 0 {
		return fmt.Errorf("after TERMINATE DF and ACTIVATE FILE the name is %q, want none", name)
	}
	d, err := e.opgpAppData(ctx)
	if err != nil {
		return err
	}
	if fps, _ := d.get(0xC5); !allZero(fps) {
		return fmt.Errorf("after TERMINATE DF and ACTIVATE FILE the fingerprints are % X, want zeros", fps)
	}
	if n, err := e.opgpSigCount(ctx); err != nil || n != 0 {
		return fmt.Errorf("after TERMINATE DF and ACTIVATE FILE the signature counter is %d (%v), want 0", n, err)
	}
	return nil
}

func allZero(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}

// opgpImportCmd is PUT DATA (odd INS DB, P1P2 3FFF) of a private key: the
// extended header list 4D { CRT of key, 7F48 { 92 len(d) }, 5F48 d }
// (§4.4.3.12): an ECC private key alone, the card computing its public key.
func opgpImportCmd(key byte, d []byte) apdu.Command {
	return apdu.Command{INS: apdu.InsPutDataOdd, P1: 0x3F, P2: 0xFF, Data: apdu.Nest(0x4D,
		[]byte{key, 0x00}, apdu.AppendTLV(nil, 0x7F48, []byte{0x92, byte(len(d))}), apdu.AppendTLV(nil, 0x5F48, d))}
}

func opgpImport(ctx context.Context, e *Env) error {
	seed := make([]byte, ed25519.SeedSize)
	if _, err := rand.Read(seed); err != nil {
		return err
	}
	sigKey := ed25519.NewKeyFromSeed(seed)
	autKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	d, err := autKey.Bytes()
	if err != nil {
		return err
	}
	if err := e.opgpVerify(ctx, opgpPW1); err != nil {
		return err
	}
	if err := e.run(ctx, step("key import with only PW1 verified", opgpImportCmd(opgpKeySig, seed), apdu.SWSecurityStatusNotSatisfied)); err != nil {
		return err
	}
	if err := e.opgpVerify(ctx, opgpPW3); err != nil {
		return err
	}
	for _, k := range []struct {
		key       byte
		attr, d   []byte
		pub       crypto.PublicKey
		what      string
		op        func([]byte) apdu.Command
		verifyRef byte
	}{
		{opgpKeySig, opgpEd25519, seed, sigKey.Public(), "PSO:CDS with the imported Ed25519 key", opgpCDSCmd, opgpPW1Sig},
		{opgpKeyAut, opgpECDSAP256, d, &autKey.PublicKey, "INTERNAL AUTHENTICATE with the imported P-256 key", opgpIntAuthCmd, opgpPW1},
	} {
		if err := e.opgpSetAlgorithm(ctx, k.key, k.attr); err != nil {
			return err
		}
		if err := e.run(ctx, step(fmt.Sprintf("key import of key %02X", k.key), opgpImportCmd(k.key, k.d), apdu.SWSuccess)); err != nil {
			return err
		}
		r, err := e.Transmit(ctx, opgpGenerateCmd(0x81, k.key))
		if err != nil {
			return err
		}
		back, err := opgpPublicKey(r.Data, k.attr)
		if err != nil || r.SW != apdu.SWSuccess {
			return fmt.Errorf("reading the imported key %02X's public key answered %s: %v", k.key, swText(r.SW), err)
		}
		if !back.(interface{ Equal(crypto.PublicKey) bool }).Equal(k.pub) {
			return fmt.Errorf("the imported key %02X's public key is not the one the host made", k.key)
		}
		in := opgpSignInput(k.pub, []byte("tessera conformance: an imported key"))
		if err := e.opgpVerify(ctx, k.verifyRef); err != nil {
			return err
		}
		sig, err := e.opgpOp(ctx, k.what, k.op(in))
		if err != nil {
			return err
		}
		if err := opgpVerifySignature(k.pub, in, sig); err != nil {
			return fmt.Errorf("%s: %w", k.what, err)
		}
	}
	dd, err := e.opgpAppData(ctx)
	if err != nil {
		return err
	}
	if de, ok := dd.get(0xDE); ok && (len(de) < 6 || de[0] != 0x01 || de[1] != 0x02 || de[4] != 0x03 || de[5] != 0x02) {
		return fmt.Errorf("the key information (DE) % X does not say keys 01 and 03 were imported (02)", de)
	}
	return nil
}

func opgpPrivateDOs(ctx context.Context, e *Env) error {
	d, err := e.opgpAppData(ctx)
	if err != nil {
		return err
	}
	if c0, _ := d.get(0xC0); len(c0) == 0 || c0[0]&0x08 == 0 {
		return Skipf("the card does not announce private-use DOs (C0 % X)", c0)
	}
	// What each DO holds now, read with the password it needs, to put back.
	if err := e.opgpVerify(ctx, opgpPW1); err != nil {
		return err
	}
	if err := e.opgpVerify(ctx, opgpPW3); err != nil {
		return err
	}
	old := map[uint16][]byte{}
	for _, tag := range []uint16{0x0101, 0x0102, 0x0103, 0x0104} {
		if old[tag], err = e.opgpGet(ctx, tag); err != nil {
			return err
		}
	}
	e.Cleanup(func(ctx context.Context) error {
		if err := e.selectApp(ctx); err != nil {
			return err
		}
		if err := e.opgpVerify(ctx, opgpPW1); err != nil {
			return err
		}
		if err := e.opgpVerify(ctx, opgpPW3); err != nil {
			return err
		}
		for tag, v := range old {
			if err := e.run(ctx, step(fmt.Sprintf("PUT DATA %04X back", tag), opgpPutDataCmd(tag, v), apdu.SWSuccess)); err != nil {
				return err
			}
		}
		return nil
	})
	value := func(tag uint16) []byte { return []byte(fmt.Sprintf("tessera conformance %04X", tag)) }
	if err := e.selectApp(ctx); err != nil { // no password verified
		return err
	}
	if err := e.run(ctx,
		step("GET DATA 0103 without PW1", opgpGetDataCmd(0x0103), apdu.SWSecurityStatusNotSatisfied),
		step("GET DATA 0104 without PW3", opgpGetDataCmd(0x0104), apdu.SWSecurityStatusNotSatisfied),
		step("PUT DATA 0101 without PW1", opgpPutDataCmd(0x0101, value(0x0101)), apdu.SWSecurityStatusNotSatisfied)); err != nil {
		return err
	}
	if err := e.opgpVerify(ctx, opgpPW1); err != nil {
		return err
	}
	if err := e.run(ctx,
		step("PUT DATA 0101 after PW1", opgpPutDataCmd(0x0101, value(0x0101)), apdu.SWSuccess),
		step("PUT DATA 0103 after PW1", opgpPutDataCmd(0x0103, value(0x0103)), apdu.SWSuccess),
		step("PUT DATA 0102 with PW1 only", opgpPutDataCmd(0x0102, value(0x0102)), apdu.SWSecurityStatusNotSatisfied),
		step("PUT DATA 0104 with PW1 only", opgpPutDataCmd(0x0104, value(0x0104)), apdu.SWSecurityStatusNotSatisfied),
		step("GET DATA 0104 with PW1 only", opgpGetDataCmd(0x0104), apdu.SWSecurityStatusNotSatisfied)); err != nil {
		return err
	}
	if err := e.opgpVerify(ctx, opgpPW3); err != nil {
		return err
	}
	if err := e.run(ctx,
		step("PUT DATA 0102 after PW3", opgpPutDataCmd(0x0102, value(0x0102)), apdu.SWSuccess),
		step("PUT DATA 0104 after PW3", opgpPutDataCmd(0x0104, value(0x0104)), apdu.SWSuccess)); err != nil {
		return err
	}
	for _, tag := range []uint16{0x0101, 0x0102, 0x0103, 0x0104} {
		got, err := e.opgpGet(ctx, tag)
		if err != nil {
			return err
		}
		if !bytes.Equal(got, value(tag)) {
			return fmt.Errorf("GET DATA %04X answered %q after PUT DATA of %q", tag, got, value(tag))
		}
	}
	if err := e.selectApp(ctx); err != nil {
		return err
	}
	for _, tag := range []uint16{0x0101, 0x0102} {
		got, err := e.opgpGet(ctx, tag)
		if err != nil {
			return fmt.Errorf("without a password: %w", err)
		}
		if !bytes.Equal(got, value(tag)) {
			return fmt.Errorf("without a password GET DATA %04X answered %q, want %q", tag, got, value(tag))
		}
	}
	return nil
}

func opgpSerialYubiKey(ctx context.Context, e *Env) error {
	aid, err := e.opgpGet(ctx, opgpTagAID)
	if err != nil {
		return err
	}
	if len(aid) != 16 {
		return fmt.Errorf("the AID (4F) % X is %d bytes, want 16", aid, len(aid))
	}
	r, err := e.Transmit(ctx, selectCmd(mgmtAID()))
	if err != nil {
		return err
	}
	if r.SW != apdu.SWSuccess {
		return Skipf("not a YubiKey: SELECT of the management application answered %s", swText(r.SW))
	}
	m, err := e.readConfig(ctx)
	if err != nil {
		return err
	}
	serial := 0
	for _, b := range m[mgmtTagSerial] {
		serial = serial<<8 | int(b)
	}
	if want := fmt.Sprintf("%08d", serial); fmt.Sprintf("%X", aid[10:14]) != want || aid[8] != 0x00 || aid[9] != 0x06 {
		return fmt.Errorf("the AID's manufacturer %02X%02X and serial %X, READ CONFIG's serial %d: want 0006 and %s", aid[8], aid[9], aid[10:14], serial, want)
	}
	return nil
}

// opgpChangeTear cuts the power after k writes of CHANGE REFERENCE DATA of
// PW1, for k = 0, 1, ... until the change completes: after each cut
// the counter is not above what it was and one of the old and the new PW1
// verifies (a wrong try of the old one first is refilled by the new), and
// the new one is changed back.
func opgpChangeTear(ctx context.Context, e *Env) error {
	pc, err := e.PowerCutter()
	if err != nil {
		return err
	}
	full, err := e.opgpTries(ctx)
	if err != nil {
		return err
	}
	pw1, nw := e.opgpPW1(), opgpWrong(e.opgpPW1(), 8)
	change, _ := opgpChangeCmd(opgpPW1Sig, pw1, nw).Marshal()
	for k := 0; k < 16; k++ {
		if err := pc.ArmPowerCut(ctx, k); err != nil {
			return err
		}
		out, err := e.send(ctx, change)
		if err == nil {
			if err := pc.ArmPowerCut(ctx, -1); err != nil {
				return err
			}
			if r, perr := apdu.ParseResponse(out); perr != nil || r.SW != apdu.SWSuccess {
				return fmt.Errorf("CHANGE REFERENCE DATA with a power cut planned after %s (it made fewer) answered % X", writes(k), out)
			}
			return e.run(ctx, step("CHANGE REFERENCE DATA back", opgpChangeCmd(opgpPW1Sig, nw, pw1), apdu.SWSuccess))
		}
		if err := pc.PowerCycle(ctx); err != nil {
			return err
		}
		if err := e.selectApp(ctx); err != nil {
			return err
		}
		c, err := e.opgpTries(ctx)
		if err != nil {
			return err
		}
		if c.pw1 > full.pw1 {
			return fmt.Errorf("a power cut after %s of CHANGE REFERENCE DATA left PW1 %d tries, more than the %d before", writes(k), c.pw1, full.pw1)
		}
		oldOK, err := e.SW(ctx, opgpVerifyCmd(opgpPW1, pw1))
		if err != nil {
			return err
		}
		if oldOK == apdu.SWSuccess {
			continue // the old PW1 holds, its counter refilled
		}
		newOK, err := e.SW(ctx, opgpVerifyCmd(opgpPW1, nw))
		if err != nil {
			return err
		}
		if newOK != apdu.SWSuccess {
			return fmt.Errorf("after a power cut at %s of CHANGE REFERENCE DATA neither the old PW1 (%s) nor the new one (%s) verifies", writes(k), swText(oldOK), swText(newOK))
		}
		if err := e.run(ctx, step("CHANGE REFERENCE DATA back after the cut", opgpChangeCmd(opgpPW1Sig, nw, pw1), apdu.SWSuccess)); err != nil {
			return err
		}
	}
	return fmt.Errorf("CHANGE REFERENCE DATA still had not finished after 16 writes")
}

// opgpTouch checks the YubiKey's touch policy of the signature key (D6)
// with the card's sensor set to give no touch or every touch; skipped on a
// real card (the suite never asks a person to touch) and where D6 is
// absent or fixed.
func opgpTouch(ctx context.Context, e *Env) error {
	t, err := e.toucher()
	if err != nil {
		return err
	}
	r, err := e.Transmit(ctx, opgpGetDataCmd(opgpTagUIFSig))
	if err != nil {
		return err
	}
	if r.SW != apdu.SWSuccess {
		return Skipf("no touch policy: GET DATA D6 answered %s (D6 is a YubiKey extension)", swText(r.SW))
	}
	orig, err := e.opgpGet(ctx, opgpTagUIFSig)
	if err != nil {
		return err
	}
	if len(orig) != 2 || orig[1] != opgpUIFButton {
		return fmt.Errorf("the touch policy D6 is % X, want 2 bytes ending in 20 (button)", orig)
	}
	if orig[0] == opgpUIFFixed || orig[0] == opgpUIFCachedFixed {
		return Skipf("the signature key's touch policy is fixed (%02X): only a reset changes it", orig[0])
	}
	pub, err := e.opgpGenerate(ctx, opgpKeySig, opgpEd25519)
	if err != nil {
		return err
	}
	setUIF := func(uif []byte) error {
		return e.run(ctx, step(fmt.Sprintf("PUT DATA D6 % X after PW3", uif), opgpPutDataCmd(opgpTagUIFSig, uif), apdu.SWSuccess))
	}
	if err := setUIF([]byte{opgpUIFOn, opgpUIFButton}); err != nil {
		return err
	}
	e.Cleanup(func(ctx context.Context) error {
		if err := e.opgpVerify(ctx, opgpPW3); err != nil {
			return err
		}
		return setUIF(orig)
	})
	if err := e.opgpVerify(ctx, opgpPW1Sig); err != nil {
		return err
	}
	in := opgpSignInput(pub, []byte("tessera conformance: touch"))
	type touchStep struct {
		what  string
		uif   byte // set before the step when not 0
		mode  string
		clock time.Duration
		ok    bool
	}
	steps := []touchStep{
		{"policy on, no touch given", 0, "never", 0, false},
		{"policy on, a touch given", 0, "auto", 0, true},
		{"policy on, no touch given again", 0, "never", 0, false},
		{"policy cached, a touch given", opgpUIFCached, "auto", 0, true},
		{"policy cached, no touch given, at once", 0, "never", 0, true},
	}
	if _, ok := e.card.(ClockAdvancer); ok {
		steps = append(steps, touchStep{"policy cached, no touch given, 16 seconds after the last touch", 0, "never", touchCacheTime + time.Second, false})
	}
	for _, s := range steps {
		if s.uif != 0 {
			if err := e.opgpVerify(ctx, opgpPW3); err != nil {
				return err
			}
			if err := setUIF([]byte{s.uif, opgpUIFButton}); err != nil {
				return err
			}
		}
		if err := t.SetTouchMode(s.mode); err != nil {
			return err
		}
		if s.clock > 0 {
			e.card.(ClockAdvancer).AdvanceClock(s.clock)
		}
		before, err := e.opgpSigCount(ctx)
		if err != nil {
			return err
		}
		what := "PSO:CDS, touch " + s.what
		if s.ok {
			sig, err := e.opgpOp(ctx, what, opgpCDSCmd(in))
			if err != nil {
				return err
			}
			if err := opgpVerifySignature(pub, in, sig); err != nil {
				return fmt.Errorf("%s: %w", what, err)
			}
			continue
		}
		if err := e.run(ctx, step(what, opgpCDSCmd(in), apdu.SWConditionsNotSatisfied, apdu.SWSecurityStatusNotSatisfied)); err != nil {
			return err
		}
		if after, err := e.opgpSigCount(ctx); err != nil || after != before {
			return errors.Join(err, fmt.Errorf("%s: the signature counter went from %d to %d", what, before, after))
		}
	}
	return nil
}
