package conformance

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/asn1"
	"fmt"
	"strconv"

	"github.com/tesseracard/tessera/apdu"
)

// refYKOpenPGPAttest is where the YubiKey's OpenPGP attestation is
// described: the instruction, the key numbers, the DOs and the read-back
// in Yubico's yubikit (openpgp.py: INS.GET_ATTESTATION, KEY_REF,
// DO.ATT_CERTIFICATE, attest_key), the statement's extensions and its
// place in the key's cardholder certificate on Yubico's developer pages.
const refYKOpenPGPAttest = "Yubico yubikit, openpgp.py: attest_key, KEY_REF, DO.ATT_CERTIFICATE; Yubico developers, PGP/Attestation and the OpenPGP attestation OID arc (1.3.6.1.4.1.41482.5)"

// The YubiKey's OpenPGP attestation (yubikit openpgp.py): GET ATTESTATION,
// class 80, P1 the key (01 signature, 02 decryption, 03 authentication);
// the attestation key's certificate FC.
const (
	claProprietary        = 0x80
	insOPGPGetAttestation = 0xFB
	opgpTagAttCert        = 0x00FC
	opgpTagCert           = 0x7F21
)

// opgpAttestCmd is GET ATTESTATION of key number p1.
func opgpAttestCmd(p1 byte) apdu.Command {
	return apdu.Command{CLA: claProprietary, INS: insOPGPGetAttestation, P1: p1}
}

// opgpSelectCertCmd is SELECT DATA of occurrence occ of 7F21 (§7.2.5).
func opgpSelectCertCmd(occ byte) apdu.Command {
	return apdu.Command{INS: 0xA5, P1: occ, P2: 0x04, Data: []byte{0x60, 0x04, 0x5C, 0x02, 0x7F, 0x21}}
}

func opgpAttestCases() []Case {
	return []Case{{
		ID:    "OPGP-YK-ATTEST",
		Title: "on a YubiKey with an attestation certificate (FC), GET ATTESTATION (80 FB 01 00) answers 6982 without PW1, refuses a P1 naming no key; after PW1 it writes into the signature key's cardholder certificate (7F21 occurrence 2, SELECT DATA) a certificate issued by FC over the key the card generated, with Yubico's extensions 5.2 (generated) and 5.7 (the AID's serial); an imported key is not attested (its certificate stays)",
		Ref:   refYKOpenPGPAttest + "; " + refOpenPGP + " §7.2.5 (SELECT DATA)", Class: Destructive, Needs: NeedOpenPGPPW | NeedOpenPGPKeys,
		Run: opgpAttest,
	}}
}

func opgpAttest(ctx context.Context, e *Env) error {
	r, err := e.Transmit(ctx, opgpGetDataCmd(opgpTagAttCert))
	if err != nil {
		return err
	}
	if r.SW != apdu.SWSuccess || len(r.Data) == 0 {
		return Skipf("no OpenPGP attestation: GET DATA FC answered %s and %d bytes (a YubiKey 5.2+ extension)", swText(r.SW), len(r.Data))
	}
	fc, err := x509.ParseCertificate(r.Data)
	if err != nil {
		return fmt.Errorf("the attestation certificate (FC) does not parse: %w", err)
	}
	aid, err := e.opgpGet(ctx, opgpTagAID)
	if err != nil {
		return err
	}
	if len(aid) != 16 {
		return fmt.Errorf("the AID (4F) % X is %d bytes, want 16", aid, len(aid))
	}
	serial, err := strconv.Atoi(fmt.Sprintf("%X", aid[10:14])) // BCD, as a YubiKey writes it
	if err != nil {
		return fmt.Errorf("the AID's serial %X is not BCD", aid[10:14])
	}
	pub, err := e.opgpGenerate(ctx, opgpKeySig, opgpEd25519)
	if err != nil {
		return err
	}
	if err := e.selectApp(ctx); err != nil { // PW3 no longer verified
		return err
	}
	if err := e.run(ctx, step("GET ATTESTATION of the signature key without PW1", opgpAttestCmd(0x01), apdu.SWSecurityStatusNotSatisfied)); err != nil {
		return err
	}
	if err := e.opgpVerify(ctx, opgpPW1Sig); err != nil {
		return err
	}
	for _, p1 := range []byte{0x00, 0x04} {
		if sw, err := e.SW(ctx, opgpAttestCmd(p1)); err != nil {
			return err
		} else if sw == apdu.SWSuccess {
			return fmt.Errorf("GET ATTESTATION with P1 %02X (no key) answered 9000", p1)
		}
	}
	if _, err := e.opgpOp(ctx, "GET ATTESTATION of the signature key", opgpAttestCmd(0x01)); err != nil {
		return err
	}
	der, err := e.opgpCert(ctx, 2)
	if err != nil {
		return err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return fmt.Errorf("the signature key's cardholder certificate after GET ATTESTATION does not parse: %w", err)
	}
	if err := leaf.CheckSignatureFrom(fc); err != nil {
		return fmt.Errorf("the attestation is not issued by the attestation certificate (FC): %w", err)
	}
	if k, ok := leaf.PublicKey.(ed25519.PublicKey); !ok || !k.Equal(pub) {
		return fmt.Errorf("the attestation certifies %T, not the signature key the card generated", leaf.PublicKey)
	}
	for _, x := range []struct {
		n    int
		want int
		what string
	}{{2, 1, "key source (1: generated)"}, {7, serial, "serial"}} {
		v, err := attestationInt(leaf, x.n)
		if err != nil {
			return err
		}
		if v != x.want {
			return fmt.Errorf("attestation extension 1.3.6.1.4.1.41482.5.%d (%s) = %d, want %d", x.n, x.what, v, x.want)
		}
	}
	// A key imported is not attested, and its certificate stays.
	seed := make([]byte, ed25519.SeedSize)
	if _, err := rand.Read(seed); err != nil {
		return err
	}
	if err := e.opgpVerify(ctx, opgpPW3); err != nil {
		return err
	}
	if err := e.run(ctx, step("key import of an Ed25519 signature key", opgpImportCmd(opgpKeySig, seed), apdu.SWSuccess)); err != nil {
		return err
	}
	if sw, err := e.SW(ctx, opgpAttestCmd(0x01)); err != nil {
		return err
	} else if sw == apdu.SWSuccess {
		return fmt.Errorf("GET ATTESTATION of an imported signature key answered 9000")
	}
	if after, err := e.opgpCert(ctx, 2); err != nil {
		return err
	} else if !bytes.Equal(after, der) {
		return fmt.Errorf("a refused GET ATTESTATION changed the signature key's cardholder certificate")
	}
	return nil
}

// opgpCert reads occurrence occ of the cardholder certificate 7F21.
func (e *Env) opgpCert(ctx context.Context, occ byte) ([]byte, error) {
	if err := e.run(ctx, step(fmt.Sprintf("SELECT DATA of 7F21 occurrence %d", occ), opgpSelectCertCmd(occ), apdu.SWSuccess)); err != nil {
		return nil, err
	}
	return e.opgpGet(ctx, opgpTagCert)
}

// attestationInt reads Yubico's OpenPGP attestation extension 5.n as a
// DER INTEGER.
func attestationInt(c *x509.Certificate, n int) (int, error) {
	oid := asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 41482, 5, n}
	for _, x := range c.Extensions {
		if x.Id.Equal(oid) {
			var v int
			if _, err := asn1.Unmarshal(x.Value, &v); err != nil {
				return 0, fmt.Errorf("attestation extension %s % X is not a DER INTEGER: %w", oid, x.Value, err)
			}
			return v, nil
		}
	}
	return 0, fmt.Errorf("the attestation has no extension %s", oid)
}
