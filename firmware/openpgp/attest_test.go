package openpgp

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"testing"
	"time"

	"github.com/tesseracard/tessera/apdu"
	"github.com/tesseracard/tessera/firmware"
	"github.com/tesseracard/tessera/firmware/attest"
	"github.com/tesseracard/tessera/firmware/nvm"
)

// testCA is a card attestation authority for the tests: a root key and
// its self-signed certificate.
type testCA struct {
	key  *ecdsa.PrivateKey
	cert *x509.Certificate
}

func newTestCA(t testing.TB) *testCA {
	t.Helper()
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, err := attest.Root(rand.Reader, pkix.Name{CommonName: "test attestation root"}, time.Now(), k)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{k, c}
}

func (ca *testCA) issuer(*firmware.Context) (crypto.Signer, *x509.Certificate, error) {
	return ca.key, ca.cert, nil
}

// attestCard is a YubiKey card whose attestation authority is ca.
func attestCard(t testing.TB, ca *testCA, sensor TouchSource) *testCard {
	t.Helper()
	return newCardWith(t, testProfile(t, "yubikey-5.7", ""), nvm.NewTearable(&nvm.Memory{}), Options{Touch: sensor, AttestationCA: ca.issuer})
}

// readCert reads occurrence occ of 7F21 as ykman does: SELECT DATA, GET DATA.
func (tc *testCard) readCert(occ byte) []byte {
	tc.t.Helper()
	tc.mustRaw(command(0x00, 0xA5, occ, 0x04, h("60 04 5C 02 7F 21")), apdu.SWSuccess)
	return tc.getData(tagCert)
}

// ext returns the value of Yubico's OpenPGP extension n of c.
func ext(c *x509.Certificate, n int) ([]byte, bool) {
	for _, e := range c.Extensions {
		if e.Id.Equal(attest.OID(attest.ArcOpenPGP, n)) {
			return e.Value, true
		}
	}
	return nil, false
}

// TestGetAttestation: for each key, GET ATTESTATION (80 FB P1 00) with PW1
// writes a certificate into the key's 7F21 occurrence (SIG 2, DEC 1, AUT
// 0) that chains key ← FC ← the card's attestation CA, over the slot's
// public key, with Yubico's extensions; the other occurrences stay.
func TestGetAttestation(t *testing.T) {
	ca := newTestCA(t)
	for _, tt := range []struct {
		name string
		p1   byte
		occ  byte
		attr uint16
		val  []byte
		crt  byte
		sub  string
	}{
		{"signature", 0x01, 2, tagAlgSig, attrEd25519, keySig, "YubiKey OPGP Attestation SIG"},
		{"decryption", 0x02, 1, tagAlgDec, attrX25519, keyDec, "YubiKey OPGP Attestation DEC"},
		{"authentication", 0x03, 0, tagAlgAut, h("13" + oidP256), keyAut, "YubiKey OPGP Attestation AUT"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tc := attestCard(t, ca, nil)
			fc, err := x509.ParseCertificate(tc.getDataAfterSelect(tagAttCert))
			if err != nil {
				t.Fatalf("FC: %v", err)
			}
			if err := fc.CheckSignatureFrom(ca.cert); err != nil {
				t.Fatalf("FC is not issued by the card's attestation CA: %v", err)
			}
			tc.admin()
			tc.mustRaw(putData(tagName, []byte("Doe<<Jane")), apdu.SWSuccess)
			tc.mustRaw(putData(tt.attr, tt.val), apdu.SWSuccess)
			pubT := tc.mustRaw(command(0x00, 0x47, 0x80, 0x00, []byte{tt.crt, 0x00}), apdu.SWSuccess)
			tc.mustRaw(putData(tagFprSig+uint16(2-tt.occ), bytes.Repeat([]byte{0xAB}, 20)), apdu.SWSuccess)
			tc.must(verifyPW1Sign, apdu.SWSuccess)
			other := [3][]byte{tc.readCert(0), tc.readCert(1), tc.readCert(2)}
			tc.mustRaw([]byte{0x80, 0xFB, tt.p1, 0x00}, apdu.SWSuccess)
			der := tc.readCert(tt.occ)
			leaf, err := x509.ParseCertificate(der)
			if err != nil {
				t.Fatalf("7F21 occurrence %d: %v", tt.occ, err)
			}
			roots, mids := x509.NewCertPool(), x509.NewCertPool()
			roots.AddCert(ca.cert)
			mids.AddCert(fc)
			if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: mids, CurrentTime: fc.NotBefore.Add(time.Minute)}); err != nil {
				t.Errorf("Verify = %v, want key ← FC ← CA", err)
			}
			al := algorithmOf(&firmware.Context{Store: tc.c.Store()}, tt.crt)
			tmpl, _, _ := apdu.FindTLV(pubT, 0x7F49)
			spki, err := x509.MarshalPKIXPublicKey(goPublic(t, al, tmpl))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(leaf.RawSubjectPublicKeyInfo, spki) {
				t.Errorf("attested key differs from the slot's key")
			}
			if leaf.Subject.CommonName != tt.sub {
				t.Errorf("subject %q, want %q", leaf.Subject.CommonName, tt.sub)
			}
			var source, serial int
			var name string
			var fpr, version, uif, form []byte
			for _, e := range []struct {
				n int
				v any
			}{{1, &name}, {2, &source}, {3, &version}, {4, &fpr}, {7, &serial}, {8, &uif}, {9, &form}} {
				v, ok := ext(leaf, e.n)
				if !ok {
					t.Fatalf("extension 5.%d missing", e.n)
				}
				if _, err := asn1.Unmarshal(v, e.v); err != nil {
					t.Fatalf("extension 5.%d % X: %v", e.n, v, err)
				}
			}
			if name != "Doe<<Jane" || source != 1 || !bytes.Equal(version, []byte{5, 7, 1}) || !bytes.Equal(fpr, bytes.Repeat([]byte{0xAB}, 20)) ||
				serial != int(testProfile(t, "yubikey-5.7", "").Serial) || !bytes.Equal(uif, []byte{0x00}) || !bytes.Equal(form, []byte{0x03}) {
				t.Errorf("extensions: name %q source %d version % X fingerprint % X serial %d UIF % X form % X", name, source, version, fpr, serial, uif, form)
			}
			if _, ok := ext(leaf, 6); ok != (tt.crt == keySig) {
				t.Errorf("signature counter extension present %v, want %v", ok, tt.crt == keySig)
			}
			for occ := range byte(3) {
				if occ != tt.occ && !bytes.Equal(tc.readCert(occ), other[occ]) {
					t.Errorf("7F21 occurrence %d changed", occ)
				}
			}
		})
	}
}

// getDataAfterSelect selects the application and reads DO tag.
func (tc *testCard) getDataAfterSelect(tag uint16) []byte {
	tc.t.Helper()
	tc.must(cmdSelect, apdu.SWSuccess)
	return tc.getData(tag)
}

// TestGetAttestationRefuses: the status words of GET ATTESTATION that
// does not attest, each leaving the key's certificate as it was.
func TestGetAttestationRefuses(t *testing.T) {
	ca := newTestCA(t)
	withKey := func(tc *testCard) {
		tc.generateEd25519(keySig)
		tc.must(verifyPW1Sign, apdu.SWSuccess)
	}
	for _, tt := range []struct {
		name  string
		setup func(tc *testCard)
		cmd   string
		want  apdu.StatusWord
	}{
		{"empty slot", func(tc *testCard) { tc.admin(); tc.must(verifyPW1Sign, apdu.SWSuccess) }, "80 FB 01 00", apdu.SWIncorrectData},
		{"imported key", func(tc *testCard) {
			tc.admin()
			tc.mustRaw(putData(tagAlgSig, attrEd25519), apdu.SWSuccess)
			tc.mustRaw(importEd25519(bytes.Repeat([]byte{0x42}, 32)), apdu.SWSuccess)
			tc.must(verifyPW1Sign, apdu.SWSuccess)
		}, "80 FB 01 00", apdu.SWIncorrectData},
		{"PW1 not verified", func(tc *testCard) { tc.generateEd25519(keySig); tc.must(cmdSelect, apdu.SWSuccess) }, "80 FB 01 00", apdu.SWSecurityStatusNotSatisfied},
		{"PW3 is not PW1", func(tc *testCard) { tc.generateEd25519(keySig) }, "80 FB 01 00", apdu.SWSecurityStatusNotSatisfied},
		{"P1 00", withKey, "80 FB 00 00", apdu.SWIncorrectP1P2},
		{"P1 04", withKey, "80 FB 04 00", apdu.SWIncorrectP1P2},
		{"P1 81, the attestation key", withKey, "80 FB 81 00", apdu.SWIncorrectP1P2},
		{"P2 01", withKey, "80 FB 01 01", apdu.SWIncorrectP1P2},
		{"CLA 00", withKey, "00 FB 01 00", apdu.SWINSNotSupported},
		{"no attestation certificate", func(tc *testCard) {
			withKey(tc)
			tc.must(verifyPW3, apdu.SWSuccess)
			tc.mustRaw(putData(tagAttCert, nil), apdu.SWSuccess)
		}, "80 FB 01 00", apdu.SWConditionsNotSatisfied},
		{"attestation key deleted by new attributes", func(tc *testCard) {
			withKey(tc)
			tc.must(verifyPW3, apdu.SWSuccess)
			tc.mustRaw(putData(tagAlgAtt, attrEd25519), apdu.SWSuccess)
		}, "80 FB 01 00", apdu.SWConditionsNotSatisfied},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tc := attestCard(t, ca, nil)
			tt.setup(tc)
			before, _ := tc.c.Store().Get(certKey(2))
			tc.must(tt.cmd, tt.want)
			if after, _ := tc.c.Store().Get(certKey(2)); !bytes.Equal(before, after) {
				t.Errorf("the signature key's certificate changed")
			}
		})
	}
}

// TestGetAttestationTouch: the attestation key's touch policy D9 asks the
// sensor (for key 81) before the certificate is made; no touch answers
// 6985 and writes nothing.
func TestGetAttestationTouch(t *testing.T) {
	ca := newTestCA(t)
	for _, tt := range []struct {
		name string
		uif  byte
		give bool
		want apdu.StatusWord
		asks int
	}{
		{"off", uifOff, false, apdu.SWSuccess, 0},
		{"on, touched", uifOn, true, apdu.SWSuccess, 1},
		{"on, no touch", uifOn, false, apdu.SWConditionsNotSatisfied, 1},
		{"fixed, no touch", uifFixed, false, apdu.SWConditionsNotSatisfied, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := &fakeSensor{give: true}
			tc := attestCard(t, ca, s)
			tc.generateEd25519(keySig)
			tc.mustRaw(putData(tagUIFAtt, []byte{tt.uif, uifButton}), apdu.SWSuccess)
			tc.must(verifyPW1Sign, apdu.SWSuccess)
			s.give, s.asks = tt.give, nil
			tc.must("80 FB 01 00", tt.want)
			if len(s.asks) != tt.asks || tt.asks > 0 && s.asks[0] != keyAtt {
				t.Errorf("sensor asked %X, want %d asks for key 81", s.asks, tt.asks)
			}
			if _, ok := tc.c.Store().Get(certKey(2)); ok != (tt.want == apdu.SWSuccess) {
				t.Errorf("certificate written %v, want %v", ok, tt.want == apdu.SWSuccess)
			}
		})
	}
}

// TestAttestationSurvivesResetAndRestart: the attestation key and FC stay
// over a power cycle and over the factory reset (TERMINATE, ACTIVATE),
// which deletes the keys' certificates, attestations included.
func TestAttestationSurvivesResetAndRestart(t *testing.T) {
	tc := attestCard(t, newTestCA(t), nil)
	fc := tc.getDataAfterSelect(tagAttCert)
	da := tc.getData(tagAlgAtt)
	tc.generateEd25519(keySig)
	tc.must(verifyPW1Sign, apdu.SWSuccess)
	tc.must("80 FB 01 00", apdu.SWSuccess)
	tc.power()
	if got := tc.getDataAfterSelect(tagAttCert); !bytes.Equal(got, fc) {
		t.Fatalf("FC changed over a power cycle")
	}
	if len(tc.readCert(2)) == 0 {
		t.Fatalf("the attestation is gone after a power cycle")
	}
	tc.admin()
	tc.must("00 E6 00 00", apdu.SWSuccess)
	tc.must("00 44 00 00", apdu.SWSuccess)
	if got := tc.getDataAfterSelect(tagAttCert); !bytes.Equal(got, fc) {
		t.Errorf("FC changed over the factory reset")
	}
	if got := tc.getData(tagAlgAtt); !bytes.Equal(got, da) {
		t.Errorf("DA = % X after the reset, want % X", got, da)
	}
	if got := tc.readCert(2); len(got) != 0 {
		t.Errorf("the signature key's attestation survived the reset: % X", got)
	}
	tc.generateEd25519(keySig)
	tc.must(verifyPW1Sign, apdu.SWSuccess)
	tc.must("80 FB 01 00", apdu.SWSuccess)
}

// TestAttestationInstalledOnOldState: a YubiKey store written before the
// attestation key existed keeps its records at power-on, and gets the key
// and FC at its first GET ATTESTATION, which its statement chains to.
func TestAttestationInstalledOnOldState(t *testing.T) {
	ca := newTestCA(t)
	tc := attestCard(t, ca, nil)
	dropAttestation(tc)
	tc.power()
	tc.generateEd25519(keySig)
	if got := tc.getData(tagAttCert); len(got) != 0 {
		t.Fatalf("FC before the first attestation: % X", got)
	}
	tc.must(verifyPW1Sign, apdu.SWSuccess)
	tc.must("80 FB 01 00", apdu.SWSuccess)
	fc, err := x509.ParseCertificate(tc.getData(tagAttCert))
	if err != nil {
		t.Fatalf("FC after the first attestation: %v", err)
	}
	leaf, err := x509.ParseCertificate(tc.readCert(2))
	if err != nil {
		t.Fatal(err)
	}
	if err := leaf.CheckSignatureFrom(fc); err != nil {
		t.Errorf("statement not issued by FC: %v", err)
	}
	if err := fc.CheckSignatureFrom(ca.cert); err != nil {
		t.Errorf("FC not issued by the card's CA: %v", err)
	}
}

// dropAttestation deletes the attestation key's records, as a state
// written before they existed lacks them.
func dropAttestation(tc *testCard) {
	tc.t.Helper()
	for _, k := range attestationRecords() {
		if err := tc.c.Store().Delete(k); err != nil {
			tc.t.Fatal(err)
		}
	}
}

// TestAttestationYubiKeyOnly: the plain OpenPGP card answers GET
// ATTESTATION as an unknown instruction and has none of the attestation
// DOs; the YubiKey has them, DA in the application related data too.
func TestAttestationYubiKeyOnly(t *testing.T) {
	plain := newTestCard(t)
	plain.admin()
	plain.must(verifyPW1Sign, apdu.SWSuccess)
	plain.must("80 FB 01 00", apdu.SWINSNotSupported)
	for _, tag := range []uint16{tagAlgAtt, tagFprAtt, tagCAFprAtt, tagDateAtt, tagAttCert, tagUIFAtt} {
		plain.mustRaw([]byte{0x00, 0xCA, byte(tag >> 8), byte(tag), 0x00}, apdu.SWReferenceNotFound)
		plain.mustRaw(putData(tag, []byte{1}), apdu.SWReferenceNotFound)
	}
	if _, ok, _ := apdu.FindTLV(plainDisc(t, plain), tagAlgAtt); ok {
		t.Errorf("the plain card's 6E carries DA")
	}
	yk := attestCard(t, newTestCA(t), nil)
	yk.admin()
	da, ok, _ := apdu.FindTLV(plainDisc(t, yk), tagAlgAtt)
	if !ok || !bytes.Equal(da, attestAlgorithm()) {
		t.Errorf("DA in 6E = % X (%v), want % X", da, ok, attestAlgorithm())
	}
	for _, tt := range []struct {
		tag  uint16
		good []byte
	}{{tagFprAtt, bytes.Repeat([]byte{1}, 20)}, {tagCAFprAtt, bytes.Repeat([]byte{2}, 20)}, {tagDateAtt, []byte{0x60, 0, 0, 0}}} {
		yk.mustRaw(putData(tt.tag, tt.good[:3]), apdu.SWWrongLength)
		yk.mustRaw(putData(tt.tag, tt.good), apdu.SWSuccess)
		if got := yk.getData(tt.tag); !bytes.Equal(got, tt.good) {
			t.Errorf("GET DATA %04X = % X, want % X", tt.tag, got, tt.good)
		}
	}
	yk.must(cmdSelect, apdu.SWSuccess)
	yk.mustRaw(putData(tagAttCert, []byte{0x30, 0x00}), apdu.SWSecurityStatusNotSatisfied)
}

// plainDisc returns the discretionary data 73 of the application related data.
func plainDisc(t *testing.T, tc *testCard) []byte {
	t.Helper()
	ad := tc.getWhole(tagAppData)
	d, ok, err := apdu.FindTLV(ad, tagDiscretion)
	if !ok || err != nil {
		t.Fatalf("6E % X: no 73 (%v)", ad, err)
	}
	return d
}

// TestImportAttestationKey: ykman's keys import att (PUT DATA DA, then
// key import with CRT B6 84 01 81, PW3) replaces the attestation key; the
// next attestation is signed by it; generating it is refused.
func TestImportAttestationKey(t *testing.T) {
	tc := attestCard(t, newTestCA(t), nil)
	tc.admin()
	tc.mustRaw(putData(tagAlgAtt, attrEd25519), apdu.SWSuccess)
	tc.mustRaw(importAttEd25519(bytes.Repeat([]byte{0x07}, 32)), apdu.SWSuccess)
	tc.must("00 47 80 00 05 B6 03 84 01 81 00", apdu.SWIncorrectData)
	pub := pubPoint(t, tc.must("00 47 81 00 05 B6 03 84 01 81 00", apdu.SWSuccess), 0x86)
	want := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{0x07}, 32)).Public().(ed25519.PublicKey)
	if !bytes.Equal(pub, want) {
		t.Fatalf("attestation public key % X, want % X", pub, want)
	}
	tc.generateEd25519(keySig)
	tc.must(verifyPW1Sign, apdu.SWSuccess)
	tc.must("80 FB 01 00", apdu.SWSuccess)
	leaf, err := x509.ParseCertificate(tc.readCert(2))
	if err != nil {
		t.Fatal(err)
	}
	if leaf.SignatureAlgorithm != x509.PureEd25519 || !ed25519.Verify(want, leaf.RawTBSCertificate, leaf.Signature) {
		t.Errorf("attestation (%v) not signed by the imported key", leaf.SignatureAlgorithm)
	}
}

// TestAttestationKeyDeletedStaysDeleted: new attributes DA delete the
// attestation key; a power-on does not make another.
func TestAttestationKeyDeletedStaysDeleted(t *testing.T) {
	tc := attestCard(t, newTestCA(t), nil)
	tc.generateEd25519(keySig)
	tc.mustRaw(putData(tagAlgAtt, attrEd25519), apdu.SWSuccess)
	tc.power()
	tc.must(cmdSelect, apdu.SWSuccess)
	tc.must(verifyPW1Sign, apdu.SWSuccess)
	tc.must("80 FB 01 00", apdu.SWConditionsNotSatisfied)
	tc.must("00 47 81 00 05 B6 03 84 01 81 00", apdu.SWReferenceNotFound)
}

// TestAttestationWithoutCA: a YubiKey card without an attestation
// authority (no PIV beside it) makes FC self-signed, and its statements
// chain to it.
func TestAttestationWithoutCA(t *testing.T) {
	tc := newCardOf(t, testProfile(t, "yubikey-5.7", ""), nvm.NewTearable(&nvm.Memory{}))
	fc, err := x509.ParseCertificate(tc.getDataAfterSelect(tagAttCert))
	if err != nil {
		t.Fatal(err)
	}
	if err := fc.CheckSignatureFrom(fc); err != nil || !fc.IsCA {
		t.Errorf("FC without a CA: self-signed %v, CA %v", err, fc.IsCA)
	}
	tc.generateEd25519(keyAut)
	tc.must(verifyPW1Other, apdu.SWSuccess)
	tc.must("80 FB 03 00", apdu.SWSuccess)
	leaf, err := x509.ParseCertificate(tc.readCert(0))
	if err != nil {
		t.Fatal(err)
	}
	if err := leaf.CheckSignatureFrom(fc); err != nil {
		t.Errorf("statement not issued by FC: %v", err)
	}
	if leaf.Subject.CommonName != "YubiKey OPGP Attestation AUT" {
		t.Errorf("subject %q", leaf.Subject.CommonName)
	}
}
