package openpgp

import (
	"bytes"
	"crypto"
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"math/big"
	"testing"

	"github.com/tesseracard/tessera/apdu"
)

// Algorithm attributes as gpg writes them.
var (
	attrEd25519 = h("16 2B 06 01 04 01 DA 47 0F 01")
	attrX25519  = h("12 2B 06 01 04 01 97 55 01 05 01")
)

// pubPoint returns the 86 point of a 7F49 answer.
func pubPoint(t testing.TB, resp []byte, tag apdu.Tag) []byte {
	t.Helper()
	tmpl, ok, err := apdu.FindTLV(resp, 0x7F49)
	if err != nil || !ok {
		t.Fatalf("answer % X: no 7F49 (%v)", resp, err)
	}
	v, ok, err := apdu.FindTLV(tmpl, tag)
	if err != nil || !ok {
		t.Fatalf("7F49 % X: no %X (%v)", tmpl, uint32(tag), err)
	}
	return v
}

// generateEd25519 makes the card generate an Ed25519 key in slot ref
// (B6 or A4) and returns its public key.
func (tc *testCard) generateEd25519(ref byte) ed25519.PublicKey {
	tc.t.Helper()
	tc.admin()
	attrTag := uint16(tagAlgSig)
	if ref == keyAut {
		attrTag = tagAlgAut
	}
	tc.mustRaw(putData(attrTag, attrEd25519), apdu.SWSuccess)
	resp := tc.mustRaw(command(0x00, 0x47, 0x80, 0x00, []byte{ref, 0x00}), apdu.SWSuccess)
	return ed25519.PublicKey(pubPoint(tc.t, resp, 0x86))
}

// TestGenerateAndSignEd25519: GENERATE needs PW3, reads back with P1 81,
// sets key information DE to generated; PSO:CDS needs PW1 81, verifies with
// the public key, and advances counter 93; PW1 stays valid for several
// signatures with C4 byte 1 01, for one with 00; generating the signature
// key again resets the counter.
func TestGenerateAndSignEd25519(t *testing.T) {
	tc := newTestCard(t)
	tc.must(cmdSelect, apdu.SWSuccess)
	tc.must("00 47 81 00 02 B6 00", apdu.SWReferenceNotFound) // no key yet
	tc.must("00 47 80 00 02 B6 00", apdu.SWSecurityStatusNotSatisfied)
	pub := tc.generateEd25519(keySig)
	if got := pubPoint(t, tc.must("00 47 81 00 02 B6 00 00", apdu.SWSuccess), 0x86); !bytes.Equal(got, pub) {
		t.Errorf("read public key = % X, want the generated % X", got, pub)
	}
	if got := tc.getData(tagKeyInfo); !bytes.Equal(got, h("01 01 02 00 03 00")) {
		t.Errorf("DE = % X, want signature key generated", got)
	}
	msg := []byte("message to sign")
	cds := command(0x00, 0x2A, 0x9E, 0x9A, msg)
	tc.mustRaw(cds, apdu.SWSecurityStatusNotSatisfied)
	tc.must(verifyPW1Other, apdu.SWSuccess)
	tc.mustRaw(cds, apdu.SWSecurityStatusNotSatisfied) // 82 is not 81
	tc.must(verifyPW1Sign, apdu.SWSuccess)
	for i := 1; i <= 2; i++ {
		sig := tc.mustRaw(cds, apdu.SWSuccess)
		if !ed25519.Verify(pub, msg, sig) {
			t.Fatalf("signature %d does not verify", i)
		}
		if got := tc.getData(tagSecSupport); !bytes.Equal(got, []byte{0x7A, 5, 0x93, 3, 0, 0, byte(i)}) {
			t.Errorf("7A after %d signatures = % X", i, got)
		}
	}
	tc.must(verifyPW3, apdu.SWSuccess)
	tc.mustRaw(putData(tagPWStatus, []byte{0x00}), apdu.SWSuccess)
	tc.must(verifyPW1Sign, apdu.SWSuccess)
	tc.mustRaw(cds, apdu.SWSuccess)
	tc.mustRaw(cds, apdu.SWSecurityStatusNotSatisfied) // PW1 valid for one signature
	tc.must("00 20 00 81", 0x63C3)
	tc.must("00 47 80 00 02 B6 00", apdu.SWSuccess)
	if got := tc.getData(tagSecSupport); !bytes.Equal(got, h("7A 05 93 03 000000")) {
		t.Errorf("7A after a new signature key = % X, want 0", got)
	}
}

// TestInternalAuthenticate: INTERNAL AUTHENTICATE signs with the
// authentication key, with PW1 82.
func TestInternalAuthenticate(t *testing.T) {
	tc := newTestCard(t)
	pub := tc.generateEd25519(keyAut)
	challenge := []byte("ssh challenge")
	ia := command(0x00, 0x88, 0x00, 0x00, challenge)
	tc.mustRaw(ia, apdu.SWSecurityStatusNotSatisfied)
	tc.must(verifyPW1Sign, apdu.SWSuccess)
	tc.mustRaw(ia, apdu.SWSecurityStatusNotSatisfied)
	tc.must(verifyPW1Other, apdu.SWSuccess)
	if sig := tc.mustRaw(ia, apdu.SWSuccess); !ed25519.Verify(pub, challenge, sig) {
		t.Error("INTERNAL AUTHENTICATE signature does not verify")
	}
	tc.mustRaw(command(0x00, 0x88, 0x01, 0x00, challenge), apdu.SWIncorrectP1P2)
	if got := tc.getData(tagSecSupport); !bytes.Equal(got, h("7A 05 93 03 000000")) {
		t.Errorf("7A = % X: INTERNAL AUTHENTICATE counted as a signature", got)
	}
}

// TestDecipherX25519: PSO:DECIPHER with the X25519 decryption key answers
// the shared secret the host computes, with PW1 82 only.
func TestDecipherX25519(t *testing.T) {
	tc := newTestCard(t)
	tc.admin()
	tc.mustRaw(putData(tagAlgDec, attrX25519), apdu.SWSuccess)
	cardPub := pubPoint(t, tc.must("00 47 80 00 02 B8 00 00", apdu.SWSuccess), 0x86)
	eph, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	peer, err := ecdh.X25519().NewPublicKey(cardPub)
	if err != nil {
		t.Fatal(err)
	}
	want, err := eph.ECDH(peer)
	if err != nil {
		t.Fatal(err)
	}
	data := apdu.Nest(0xA6, apdu.Nest(0x7F49, apdu.AppendTLV(nil, 0x86, eph.PublicKey().Bytes())))
	dec := command(0x00, 0x2A, 0x80, 0x86, data)
	tc.mustRaw(dec, apdu.SWSecurityStatusNotSatisfied)
	tc.must(verifyPW1Sign, apdu.SWSuccess)
	tc.mustRaw(dec, apdu.SWSecurityStatusNotSatisfied)
	tc.must(verifyPW1Other, apdu.SWSuccess)
	if got := tc.mustRaw(dec, apdu.SWSuccess); !bytes.Equal(got, want) {
		t.Errorf("DECIPHER = % X, want % X", got, want)
	}
	tc.mustRaw(command(0x00, 0x2A, 0x80, 0x87, data), apdu.SWIncorrectP1P2)
}

// TestRSADefaultKey: the factory attributes are RSA 2048; a generated key
// signs a DigestInfo with PKCS#1 v1.5, as GnuPG sends it.
func TestRSADefaultKey(t *testing.T) {
	tc := newTestCard(t)
	tc.admin()
	resp := tc.must("00 47 80 00 02 B6 00 00", apdu.SWSuccess)
	pub := &rsa.PublicKey{N: new(big.Int).SetBytes(pubPoint(t, resp, 0x81)), E: int(new(big.Int).SetBytes(pubPoint(t, resp, 0x82)).Int64())}
	if pub.N.BitLen() != 2048 {
		t.Fatalf("modulus of %d bits, want 2048", pub.N.BitLen())
	}
	digest := sha256.Sum256([]byte("message"))
	di := append(h("30 31 30 0D 06 09 60 86 48 01 65 03 04 02 01 05 00 04 20"), digest[:]...)
	tc.must(verifyPW1Sign, apdu.SWSuccess)
	sig := tc.mustRaw(command(0x00, 0x2A, 0x9E, 0x9A, di), apdu.SWSuccess)
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig); err != nil {
		t.Errorf("signature does not verify: %v", err)
	}
}

// TestAlgorithmChangeDeletesKey: new attributes drop the key of the old
// ones (DE back to 00) with its fingerprint and date; the same attributes keep it; unsupported ones are
// refused with 6A80.
func TestAlgorithmChangeDeletesKey(t *testing.T) {
	tc := newTestCard(t)
	tc.generateEd25519(keySig)
	fpr := bytes.Repeat([]byte{0xAB}, 20)
	tc.mustRaw(putData(0x00C7, fpr), apdu.SWSuccess)
	tc.mustRaw(putData(0x00C8, fpr), apdu.SWSuccess)
	tc.mustRaw(putData(0x00CE, h("01020304")), apdu.SWSuccess)
	tc.mustRaw(putData(tagAlgSig, attrEd25519), apdu.SWSuccess)
	if got := tc.getData(tagKeyInfo); got[1] != originGenerated {
		t.Errorf("DE = % X after the same attributes, want the key kept", got)
	}
	tc.mustRaw(putData(tagAlgSig, attrX25519), apdu.SWIncorrectData) // not a signature algorithm
	tc.mustRaw(putData(tagAlgSig, h("13 2A 86 48 CE 3D 03 01 07")), apdu.SWSuccess)
	if got := tc.getData(tagKeyInfo); got[1] != originNone {
		t.Errorf("DE = % X after new attributes, want the key gone", got)
	}
	if got := tc.getData(tagFingerprints); !bytes.Equal(got, append(append(make([]byte, 20), fpr...), make([]byte, 20)...)) {
		t.Errorf("C5 = % X after new attributes, want the signature key's fingerprint gone, the others kept", got)
	}
	if got := tc.getData(tagDates); !bytes.Equal(got, make([]byte, 12)) {
		t.Errorf("CD = % X after new attributes, want the date gone", got)
	}
	if got := tc.getData(tagAlgSig); !bytes.Equal(got, h("13 2A 86 48 CE 3D 03 01 07")) {
		t.Errorf("C1 = % X, want P-256 ECDSA", got)
	}
	tc.must("00 47 81 00 02 B6 00", apdu.SWReferenceNotFound)
}

// TestKeyCommandsRefuseBadInput: a bad CRT, P1-P2, or an absent key get
// status words.
func TestKeyCommandsRefuseBadInput(t *testing.T) {
	tc := newTestCard(t)
	tc.admin()
	tc.must(verifyPW1Sign, apdu.SWSuccess)
	tc.must(verifyPW1Other, apdu.SWSuccess)
	for _, tt := range []struct {
		cmd string
		sw  apdu.StatusWord
	}{
		{"00 47 80 00 02 B7 00", apdu.SWIncorrectData},
		{"00 47 80 00 03 B6 00 00", apdu.SWIncorrectData},
		{"00 47 82 00 02 B6 00", apdu.SWIncorrectP1P2},
		{"00 47 80 01 02 B6 00", apdu.SWIncorrectP1P2},
		{"00 2A 9E 9A 03 010203", apdu.SWReferenceNotFound},
		{"00 2A 80 86 03 010203", apdu.SWReferenceNotFound},
		{"00 88 00 00 03 010203", apdu.SWReferenceNotFound},
		{"00 2A 9E 9B 03 010203", apdu.SWIncorrectP1P2},
		{"00 DB 3F FE 02 4D 00", apdu.SWIncorrectP1P2},
		{"00 DB 3F FF 02 4D 00", apdu.SWIncorrectData},
	} {
		tc.must(tt.cmd, tt.sw)
	}
}

// TestGetChallenge: Ne random bytes, up to C0's maximum.
func TestGetChallenge(t *testing.T) {
	tc := newTestCard(t)
	tc.must(cmdSelect, apdu.SWSuccess)
	a := tc.must("00 84 00 00 10", apdu.SWSuccess)
	b := tc.must("00 84 00 00 10", apdu.SWSuccess)
	if len(a) != 16 || bytes.Equal(a, b) {
		t.Errorf("GET CHALLENGE = % X then % X, want 16 fresh bytes each", a, b)
	}
	tc.must("00 84 00 00 00", apdu.SWWrongLength) // 256 > FF
	tc.must("00 84 00 01 10", apdu.SWIncorrectP1P2)
}

// TestTerminateActivate: TERMINATE DF needs PW3 verified or blocked; a
// terminated application answers SELECT and everything but ACTIVATE FILE
// with 6285; ACTIVATE FILE restores the factory state; on an operational
// application ACTIVATE FILE changes nothing.
func TestTerminateActivate(t *testing.T) {
	tc := newTestCard(t)
	tc.generateEd25519(keySig)
	tc.mustRaw(putData(tagName, []byte("Doe<<J")), apdu.SWSuccess)
	tc.must("00 44 00 00", apdu.SWSuccess) // operational: no change
	if got := tc.getData(tagName); string(got) != "Doe<<J" {
		t.Fatalf("name after ACTIVATE on an operational card = %q", got)
	}
	tc.must(cmdSelect, apdu.SWSuccess)
	tc.must("00 E6 00 00", apdu.SWSecurityStatusNotSatisfied)
	tc.must(verifyPW1Other, apdu.SWSuccess)
	tc.must("00 E6 00 00", apdu.SWSecurityStatusNotSatisfied)
	tc.must(verifyPW3, apdu.SWSuccess)
	tc.must("00 E6 00 00", apdu.SWSuccess)
	tc.must("00 CA 00 6E 00", swTerminated)
	tc.must(verifyPW3, swTerminated)
	tc.power()
	tc.must(cmdSelect, swTerminated)
	tc.must("00 CA 00 4F 00", swTerminated)
	tc.must("00 44 00 00 00", apdu.SWSuccess) // as ykman sends it
	tc.must(cmdSelect, apdu.SWSuccess)
	for _, tt := range []struct {
		tag  uint16
		want string
	}{
		{tagName, ""}, {tagKeyInfo, "010002000300"}, {tagPWStatus, "017F7F7F030003"}, {tagAlgSig, "010800002000"}, {tagSecSupport, "7A059303000000"},
	} {
		if got := tc.getData(tt.tag); !bytes.Equal(got, h(tt.want)) {
			t.Errorf("after ACTIVATE: %04X = % X, want %s", tt.tag, got, tt.want)
		}
	}
	tc.must(verifyPW1Sign, apdu.SWSuccess)
	tc.must(verifyPW3, apdu.SWSuccess)
}

// TestTerminateWithPW3Blocked: with PW3 blocked TERMINATE DF needs nothing,
// and ACTIVATE FILE brings PW3 back.
func TestTerminateWithPW3Blocked(t *testing.T) {
	tc := newTestCard(t)
	tc.must(cmdSelect, apdu.SWSuccess)
	for range 3 {
		tc.send(wrongPW3)
	}
	tc.must(verifyPW3, apdu.SWAuthMethodBlocked)
	tc.must("00 E6 00 00", apdu.SWSuccess)
	tc.must("00 44 00 00", apdu.SWSuccess)
	tc.must(cmdSelect, apdu.SWSuccess)
	tc.must(verifyPW3, apdu.SWSuccess)
}
