package openpgp

import (
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"

	"github.com/tesseracard/tessera/apdu"
	"github.com/tesseracard/tessera/firmware"
	"github.com/tesseracard/tessera/firmware/attest"
	"github.com/tesseracard/tessera/firmware/nvm"
)

// The YubiKey's OpenPGP attestation (YubiKey 5.2 and later; Yubico's
// "OpenPGP Attestation" developer page and OID arc, ykman's yubikit
// openpgp.py): an attestation key (CRT B6 { 84 01 81 }) with its algorithm
// attributes DA, fingerprint DB, generation date DD, touch policy D9 and
// certificate FC; GET ATTESTATION (CLA 80, INS FB, P1 the key: 01
// signature, 02 decryption, 03 authentication) makes the card issue, with
// the attestation key, a certificate over a key it generated, and store it
// as that key's cardholder certificate: occurrence 2 of 7F21 for the
// signature key, 1 for decryption, 0 for authentication (what ykman's
// SELECT DATA reads back).

// attestAlgorithm is the attestation key's factory algorithm: ECDSA P-256
// (our choice; a YubiKey's factory key is Yubico's).
func attestAlgorithm() []byte {
	return []byte{algECDSA, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07}
}

// attestationRecords are the store keys of the attestation key, which a
// factory reset of the application keeps: the key, its attributes,
// fingerprint, CA fingerprint, generation date and certificate.
func attestationRecords() []string {
	return []string{keyKeyPrefix + refName(keyAtt), keyAlgPrefix + refName(keyAtt),
		doKey(tagFprAtt), doKey(tagCAFprAtt), doKey(tagDateAtt), doKey(tagAttCert)}
}

// attestationInstalled reports whether the application ever had its
// attestation key: the key or its attributes DA are recorded (a key that
// new attributes deleted stays deleted).
func attestationInstalled(env *firmware.Context) bool {
	for _, k := range []string{keyKeyPrefix + refName(keyAtt), keyAlgPrefix + refName(keyAtt)} {
		if _, ok := env.Store.Get(k); ok {
			return true
		}
	}
	return false
}

// newAttestation makes a YubiKey application's attestation key, of the
// attestation attributes, and its certificate FC, issued by the card's
// attestation authority (Options.AttestationCA) or, without one,
// self-signed, and writes both through tx. It returns them for use.
func (a *Applet) newAttestation(env *firmware.Context, tx *nvm.Tx) (crypto.Signer, *x509.Certificate, error) {
	k, err := newKeyPair(algorithmOf(env, keyAtt), env.Rand)
	if err != nil {
		return nil, nil, err
	}
	signer, ok := k.signer()
	if !ok {
		return nil, nil, fmt.Errorf("openpgp: the attestation key cannot sign")
	}
	name := pkix.Name{CommonName: "Tessera OpenPGP Attestation", SerialNumber: fmt.Sprint(a.serial)}
	var der []byte
	if caKey, caCert, caErr := a.issuer(env); caErr == nil {
		der, err = attest.Intermediate(env.Rand, name, signer.Public(), caCert, caKey)
	} else {
		der, err = attest.Root(env.Rand, name, env.Now(), signer)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("openpgp: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, err
	}
	if err := tx.Put(keyKeyPrefix+refName(keyAtt), append([]byte{originGenerated}, k.record()...)); err != nil {
		return nil, nil, err
	}
	if err := tx.Put(doKey(tagAttCert), der); err != nil {
		return nil, nil, err
	}
	return signer, cert, nil
}

// issuer is the card's attestation authority, if the card has one.
func (a *Applet) issuer(env *firmware.Context) (crypto.Signer, *x509.Certificate, error) {
	if a.attestationCA == nil {
		return nil, nil, apdu.SWConditionsNotSatisfied
	}
	return a.attestationCA(env)
}

// attested is a key GET ATTESTATION can certify: its reference, its
// number in P1, the occurrence of 7F21 that receives the certificate, and
// the word in the certificate's subject.
type attested struct {
	ref  byte
	occ  byte
	name string
}

// attestedKey returns the key P1 names: 01 signature, 02 decryption, 03
// authentication (yubikit's KEY_REF).
func attestedKey(p1 byte) (attested, bool) {
	switch p1 {
	case 0x01:
		return attested{keySig, 2, "SIG"}, true
	case 0x02:
		return attested{keyDec, 1, "DEC"}, true
	case 0x03:
		return attested{keyAut, 0, "AUT"}, true
	}
	return attested{}, false
}

// getAttestation is GET ATTESTATION (CLA 80, INS FB, P1 the key, P2 00).
// It needs PW1 (81 or 82; ykman verifies 81 first) and a key the card
// generated; the attestation key's touch policy D9 is enforced
// (Applet.touch) after those checks, before the certificate is made. The
// certificate replaces the key's cardholder certificate (7F21) in one
// write; the answer has no data. Status words, our reading where Yubico
// publishes none: 6A86 for another P1 or P2, 6982 without PW1, 6A80 for an
// empty slot or an imported key (as PIV's ATTEST answers on a YubiKey),
// 6985 when the attestation key or its certificate is missing or unusable
// or no touch came.
func (a *Applet) getAttestation(env *firmware.Context, cmd apdu.Command) error {
	key, ok := attestedKey(cmd.P1)
	if !ok || cmd.P2 != 0x00 {
		return apdu.SWIncorrectP1P2
	}
	if !env.Security.Has(refPW1Sign) && !env.Security.Has(refPW1Other) {
		return errNotAllowed
	}
	if keyOrigin(env, key.ref) != originGenerated {
		return apdu.SWIncorrectData
	}
	k, err := a.loadKey(env, key.ref)
	if err != nil {
		return err
	}
	tx, err := env.Store.Begin()
	if err != nil {
		return err
	}
	defer tx.Abort()
	var signer crypto.Signer
	var issuer *x509.Certificate
	if attestationInstalled(env) {
		signer, issuer, err = a.attestationKey(env)
	} else {
		// A card whose state was written before the attestation key
		// existed gets it now, with the statement in one transaction (at
		// power-on it would draw new random values at every cut and
		// repeated power-on).
		signer, issuer, err = a.newAttestation(env, tx)
	}
	if err != nil {
		return err
	}
	if err := a.touch(env, keyAtt); err != nil {
		return err
	}
	exts, err := a.statementExtensions(env, key)
	if err != nil {
		return err
	}
	pub, err := k.publicKey()
	if err != nil {
		return err
	}
	der, err := attest.Statement(env.Rand, "YubiKey OPGP Attestation "+key.name, exts, pub, issuer, signer)
	if err != nil {
		return fmt.Errorf("openpgp: %w", err)
	}
	if len(der) > maxCert {
		return apdu.SWConditionsNotSatisfied
	}
	if err := tx.Put(certKey(key.occ), der); err != nil {
		return err
	}
	return tx.Commit()
}

// attestationKey returns the attestation key and its certificate FC, or
// 6985 when either is missing or unusable.
func (a *Applet) attestationKey(env *firmware.Context) (crypto.Signer, *x509.Certificate, error) {
	k, err := a.loadKey(env, keyAtt)
	if err != nil {
		return nil, nil, apdu.SWConditionsNotSatisfied
	}
	signer, ok := k.signer()
	if !ok {
		return nil, nil, apdu.SWConditionsNotSatisfied
	}
	der, _ := env.Store.Get(doKey(tagAttCert))
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, apdu.SWConditionsNotSatisfied
	}
	return signer, cert, nil
}

// statementExtensions are Yubico's OpenPGP attestation extensions
// (1.3.6.1.4.1.41482.5.n, Yubico's OpenPGP attestation OID arc), each
// value DER-encoded: 1 the cardholder name (UTF8String, DO 5B), 2 the
// key's source (INTEGER 1: generated), 3 the firmware version (OCTET
// STRING of 3 bytes), 4 the key's fingerprint (OCTET STRING, C7-C9), 5 its
// generation date (OCTET STRING, CE-D0), 6 the signature counter
// (INTEGER, the signature key only), 7 the serial number (INTEGER), 8 the
// touch policy (OCTET STRING, byte 1 of D6-D8), 9 the form factor (OCTET
// STRING).
func (a *Applet) statementExtensions(env *firmware.Context, key attested) ([]pkix.Extension, error) {
	fpr, date := fprDateTags(key.ref)
	name, _ := env.Store.Get(doKey(tagName))
	uif, ok := env.Store.Get(doKey(uifTag(key.ref)))
	if !ok || len(uif) == 0 {
		uif = []byte{uifOff}
	}
	v := a.version
	values := []struct {
		n int
		v any
	}{
		{1, asn1.RawValue{Tag: asn1.TagUTF8String, Bytes: name}},
		{2, 1},
		{3, []byte{v.Major, v.Minor, v.Patch}},
		{4, fixedDO(env, fpr, 20)},
		{5, fixedDO(env, date, 4)},
		{6, int64(sigCount(env.Store))},
		{7, int64(a.serial)},
		{8, uif[:1]},
		{9, []byte{attest.FormFactorUSBCKeychain}},
	}
	var exts []pkix.Extension
	for _, e := range values {
		if e.n == 6 && key.ref != keySig {
			continue
		}
		der, err := asn1.Marshal(e.v)
		if err != nil {
			return nil, err
		}
		exts = append(exts, pkix.Extension{Id: attest.OID(attest.ArcOpenPGP, e.n), Value: der})
	}
	return exts, nil
}

// fixedDO is the value of DO tag, n bytes (zeros while absent).
func fixedDO(env *firmware.Context, tag uint16, n int) []byte {
	v, ok := env.Store.Get(doKey(tag))
	if !ok || len(v) != n {
		return make([]byte, n)
	}
	return v
}

// loadKey returns the stored key ref, parsed (through the key cache).
func (a *Applet) loadKey(env *firmware.Context, ref byte) (keyPair, error) {
	rec, err := privateKey(env, ref)
	if err != nil {
		return keyPair{}, err
	}
	return a.keys.load(algorithmOf(env, ref), rec)
}

// signer returns k as a crypto.Signer: RSA, ECDSA and Ed25519 keys.
func (k keyPair) signer() (crypto.Signer, bool) {
	switch {
	case k.rsa != nil:
		return k.rsa, true
	case k.ecdsa != nil:
		return k.ecdsa, true
	case k.ed25519 != nil:
		return k.ed25519, true
	}
	return nil, false
}

// publicKey returns k's public key as Go's crypto types hold it; a key on
// a brainpool curve, which Go has no type for, as its
// attest.SubjectPublicKeyInfo.
func (k keyPair) publicKey() (crypto.PublicKey, error) {
	switch {
	case k.ecdh != nil:
		return k.ecdh.PublicKey(), nil
	case k.gen != nil:
		var oid asn1.ObjectIdentifier
		if _, err := asn1.Unmarshal(apdu.AppendTLV(nil, 0x06, k.curve.oid), &oid); err != nil {
			return nil, fmt.Errorf("openpgp: %s OID: %w", k.curve.name, err)
		}
		spki, err := attest.ECPublicKeyInfo(oid, k.curve.gen.Marshal(k.gen.x, k.gen.y))
		if err != nil {
			return nil, fmt.Errorf("openpgp: %w", err)
		}
		return spki, nil
	}
	s, _ := k.signer()
	return s.Public(), nil
}
