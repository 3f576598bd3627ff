package piv

import (
	"bytes"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"fmt"
	"math/big"
	"strings"
	"testing"

	"github.com/tesseracard/tessera/apdu"
	"github.com/tesseracard/tessera/firmware/nvm"
	"github.com/tesseracard/tessera/firmware/pin"
	"github.com/tesseracard/tessera/firmware/profile"
	"github.com/tesseracard/tessera/pivalg"
)

func TestSelectAPT(t *testing.T) {
	yk := newTestCard(t, "yubikey-5.7")
	got := yk.expect("00 A4 04 00 09 A0 00 00 03 08 00 00 10 00 00", apdu.SWSuccess)
	if want := h("61 11 4F 06 00 00 10 00 01 00 79 07 4F 05 A0 00 00 03 08"); !bytes.Equal(got, want) {
		t.Errorf("yubikey-5.7 SELECT = % X, want % X", got, want)
	}
	def := newTestCard(t, "default")
	got = def.expect("00 A4 04 00 05 A0 00 00 03 08", apdu.SWSuccess)
	tmpl, ok, err := apdu.FindTLV(got, 0x61)
	if err != nil || !ok {
		t.Fatalf("default SELECT = % X: no 61 template", got)
	}
	ac, ok, _ := apdu.FindTLV(tmpl, 0xAC)
	if !ok {
		t.Fatalf("default SELECT carries no AC algorithms: % X", got)
	}
	tlvs, _ := apdu.ParseTLVs(ac)
	var algs []byte
	for _, t := range tlvs {
		if t.Tag == 0x80 {
			algs = append(algs, t.Value...)
		}
	}
	for _, want := range []byte{0x03, 0x0A, 0x07, 0x11, 0x14, 0x16, 0xE0, 0xE1} {
		if bytes.IndexByte(algs, want) < 0 {
			t.Errorf("AC lacks algorithm %02X", want)
		}
	}
	for _, sm := range []byte{0x27, 0x2E} {
		if bytes.IndexByte(algs, sm) >= 0 {
			t.Errorf("AC offers secure-messaging suite %02X", sm)
		}
	}
	// Other applications' AIDs: 6A82, and PIV stays selected.
	def.expect("00 A4 04 00 08 A0 00 00 05 27 20 01 01", apdu.SWFileNotFound)
	def.expect("00 FD 00 00", apdu.SWSuccess)
}

func TestYubiKeyGoldenAnswers(t *testing.T) {
	tc := newTestCard(t, "yubikey-5.7")
	golden := []struct{ cmd, resp string }{
		{"00 FD 00 00", "05 07 01 9000"},
		{"00 FD 00 00 00", "05 07 01 9000"},
		{"00 F8 00 00", "01 BD 27 A9 9000"},
		{"00 F7 00 9B", "01 01 0A 02 02 00 01 05 01 01 9000"},
		{"00 F7 00 80", "01 01 FF 05 01 01 06 02 03 03 9000"},
		{"00 F7 00 81", "01 01 FF 05 01 01 06 02 03 03 9000"},
		{"00 F7 00 9A", "6A88"},
		{"00 20 00 80", "63C3"},
		{"00 20 00 80 08 36 31 35 38 32 32 35 31", "63C2"},
		{"00 20 00 80 08 36 31 35 38 32 32 35 31", "63C1"},
		{"00 20 00 80 08 36 31 35 38 32 32 35 31", "6983"},
		{"00 24 00 81 10 36 31 35 38 32 32 35 31 36 31 35 38 32 32 35 31", "63C2"},
		{"00 24 00 81 10 36 31 35 38 32 32 35 31 36 31 35 38 32 32 35 31", "63C1"},
		{"00 24 00 81 10 36 31 35 38 32 32 35 31 36 31 35 38 32 32 35 31", "6983"},
		{"00 FB 00 00", "9000"},
		{"00 F7 00 80", "01 01 FF 05 01 01 06 02 03 03 9000"},
		{"00 F7 00 9B", "01 01 0A 02 02 00 01 05 01 01 9000"},
		{"00 20 00 80 08 31 32 33 34 35 36 FF FF", "9000"},
		{"00 20 00 80", "9000"},
		{"00 CB 3F FF 05 5C 03 5F C1 0A", "6A82"},
	}
	for _, g := range golden {
		data, sw := tc.send(g.cmd)
		got := fmt.Sprintf("% X", append(data, sw.SW1(), sw.SW2()))
		if want := fmt.Sprintf("% X", h(g.resp)); got != want {
			t.Errorf("%s: got %s, want %s", g.cmd, got, want)
		}
	}
}

func TestProfilesDifferOnMalformedPIN(t *testing.T) {
	tests := []struct {
		profile     string
		oneDigit    apdu.StatusWord
		triesAfter  string
		lastWrongSW apdu.StatusWord
	}{
		{"yubikey-5.7", apdu.RetriesSW(2), "63C2", apdu.SWAuthMethodBlocked},
		{"piv", apdu.SWIncorrectData, "63C3", apdu.RetriesSW(0)},
	}
	for _, tt := range tests {
		tc := newTestCard(t, tt.profile)
		tc.expect("00 20 00 80 08 30 FF FF FF FF FF FF FF", tt.oneDigit)
		tc.expect("00 20 00 80", apdu.StatusWord(h(tt.triesAfter)[0])<<8|apdu.StatusWord(h(tt.triesAfter)[1]))
		tc.expect("00 20 00 80 07 31 32 33 34 35 36 FF", apdu.SWIncorrectData) // wrong length: never compared
		for tc.verifyPIN("000000") != tt.lastWrongSW {
			if _, sw := tc.send("00 20 00 80"); sw == apdu.SWAuthMethodBlocked {
				t.Fatalf("%s: blocked without answering %04X", tt.profile, uint16(tt.lastWrongSW))
			}
		}
		tc.expect("00 20 00 80", apdu.SWAuthMethodBlocked)
	}
}

func TestPINChangeUnblockAndPolicy(t *testing.T) {
	tc := newTestCard(t, "default")
	tc.expect("00 24 00 80 10 "+pinField("123456")+pinField("12345"), apdu.SWIncorrectData) // too short: no try spent
	tc.expect("00 20 00 80", apdu.RetriesSW(3))
	tc.expect("00 24 00 80 10 "+pinField("000000")+pinField("654321"), apdu.RetriesSW(2))
	tc.expect("00 24 00 80 10 "+pinField("123456")+pinField("654321"), apdu.SWSuccess)
	tc.expect("00 F7 00 80", apdu.SWSuccess)
	if md := tc.expect("00 F7 00 80", apdu.SWSuccess); !bytes.Contains(md, h("05 01 00 06 02 03 03")) {
		t.Errorf("metadata after change = % X, want not default, 3 of 3", md)
	}
	for range 3 {
		tc.verifyPIN("000000")
	}
	tc.expect("00 2C 00 80 10 "+pinField("00000000")+pinField("111111"), apdu.RetriesSW(2))
	tc.expect("00 2C 00 80 10 "+pinField("12345678")+pinField("111111"), apdu.SWSuccess)
	if sw := tc.verifyPIN("111111"); sw != apdu.SWSuccess {
		t.Errorf("VERIFY new PIN after unblock: %04X", uint16(sw))
	}
	tc.expect("00 20 FF 80", apdu.SWSuccess)
	tc.expect("00 20 00 80", apdu.RetriesSW(3))
	tc.expect("00 20 00 81 08 "+pinField("12345678"), apdu.SWReferenceNotFound)
}

func TestManagementKeyAuthentication(t *testing.T) {
	def := newTestCard(t, "default")
	if sw := def.authenticate(pivalg.TDES, defaultMgmt); sw != apdu.SWSuccess {
		t.Fatalf("3DES mutual authentication: %04X", uint16(sw))
	}
	// P1 00 means 3DES; external authentication.
	resp := def.expect("00 87 00 9B 04 7C 02 81 00", apdu.SWSuccess)
	chal, _, _ := apdu.FindTLV(resp[2:], 0x81)
	enc := make([]byte, 8)
	blockCipher(t, pivalg.TDES, defaultMgmt).Encrypt(enc, chal)
	def.expectCmd(apdu.Command{INS: 0x87, P1: 0x00, P2: 0x9B, Data: apdu.Nest(0x7C, apdu.AppendTLV(nil, 0x82, enc))}, apdu.SWSuccess)
	// A wrong key is refused.
	wrong := bytes.Repeat([]byte{0x11}, 24)
	if sw := def.authenticate(pivalg.TDES, wrong); sw != apdu.SWSecurityStatusNotSatisfied {
		t.Errorf("wrong key: %04X, want 6982", uint16(sw))
	}
	def.expect("00 87 0A 9B 04 7C 02 80 00", apdu.SWIncorrectP1P2) // AES to a 3DES key
	def.expect("00 87 03 9B 16 7C 14 80 08 0000000000000000 81 08 0000000000000000", apdu.SWConditionsNotSatisfied)

	yk := newTestCard(t, "yubikey-5.7")
	if sw := yk.authenticate(pivalg.AES192, defaultMgmt); sw != apdu.SWSuccess {
		t.Fatalf("AES-192 mutual authentication: %04X", uint16(sw))
	}
	// SET MANAGEMENT KEY to AES-256, then authenticate with it.
	newKey := bytes.Repeat([]byte{0x5A}, 32)
	yk.expectCmd(apdu.Command{INS: 0xFF, P1: 0xFF, P2: 0xFF, Data: append([]byte{pivalg.AES256, 0x9B, 32}, newKey...)}, apdu.SWSuccess)
	if md := yk.expect("00 F7 00 9B", apdu.SWSuccess); !bytes.Equal(md, h("01 01 0C 02 02 00 01 05 01 00")) {
		t.Errorf("metadata after SET MANAGEMENT KEY = % X", md)
	}
	if sw := yk.authenticate(pivalg.AES256, newKey); sw != apdu.SWSuccess {
		t.Errorf("AES-256 with the new key: %04X", uint16(sw))
	}
	if _, err := yk.c.Reset(); err != nil {
		t.Fatal(err)
	}
	yk.expect("00 A4 04 00 05 A0 00 00 03 08", apdu.SWSuccess)
	yk.expectCmd(apdu.Command{INS: 0xFF, P1: 0xFF, P2: 0xFF, Data: append([]byte{pivalg.AES256, 0x9B, 32}, newKey...)}, apdu.SWSecurityStatusNotSatisfied)
}

// hostVerify checks a signature from the card with Go's crypto.
func hostVerify(t *testing.T, pub crypto.PublicKey, digest, msg, sig []byte) {
	t.Helper()
	var ok bool
	switch p := pub.(type) {
	case *rsa.PublicKey:
		ok = rsa.VerifyPKCS1v15(p, crypto.SHA256, digest, sig) == nil
	case *ecdsa.PublicKey:
		ok = ecdsa.VerifyASN1(p, digest, sig)
	case ed25519.PublicKey:
		ok = ed25519.Verify(p, msg, sig)
	}
	if !ok {
		t.Errorf("%T signature does not verify", pub)
	}
}

// parsePublic decodes GENERATE's 7F49 answer the way piv-go does.
func parsePublic(t *testing.T, alg byte, resp []byte) crypto.PublicKey {
	t.Helper()
	inner, ok, err := apdu.FindTLV(resp, 0x7F49)
	if err != nil || !ok {
		t.Fatalf("GENERATE answer % X has no 7F49", resp[:min(len(resp), 16)])
	}
	tlvs, _ := tlvMap(inner)
	switch alg {
	case pivalg.RSA1024, pivalg.RSA2048, pivalg.RSA3072, pivalg.RSA4096:
		if !bytes.Equal(tlvs[0x82], []byte{1, 0, 1}) {
			t.Errorf("RSA exponent % X, want 01 00 01", tlvs[0x82])
		}
		return &rsa.PublicKey{N: new(big.Int).SetBytes(tlvs[0x81]), E: 65537}
	case pivalg.P256, pivalg.P384:
		c := elliptic.P256()
		if alg == pivalg.P384 {
			c = elliptic.P384()
		}
		pub, err := ecdsa.ParseUncompressedPublicKey(c, tlvs[0x86])
		if err != nil {
			t.Fatal(err)
		}
		return pub
	case pivalg.Ed25519:
		return ed25519.PublicKey(tlvs[0x86])
	case pivalg.X25519:
		pub, err := ecdh.X25519().NewPublicKey(tlvs[0x86])
		if err != nil {
			t.Fatal(err)
		}
		return pub
	}
	return nil
}

func generate(t *testing.T, tc *testCard, slot, alg byte, extra ...byte) crypto.PublicKey {
	t.Helper()
	tmpl := apdu.Nest(0xAC, append(apdu.AppendTLV(nil, 0x80, []byte{alg}), extra...))
	resp := tc.expectCmd(apdu.Command{INS: 0x47, P2: slot, Data: tmpl}, apdu.SWSuccess)
	return parsePublic(t, alg, resp)
}

// sign asks the card to sign with slot's key and returns the signature.
func sign(t *testing.T, tc *testCard, slot, alg byte, input []byte) ([]byte, apdu.StatusWord) {
	t.Helper()
	dyn := apdu.Nest(0x7C, apdu.AppendTLV(nil, 0x82, nil), apdu.AppendTLV(nil, 0x81, input))
	resp, sw := tc.cmd(apdu.Command{INS: 0x87, P1: alg, P2: slot, Data: dyn})
	if sw != apdu.SWSuccess {
		return nil, sw
	}
	inner, _, _ := apdu.FindTLV(resp, 0x7C)
	out, ok, _ := apdu.FindTLV(inner, 0x82)
	if !ok {
		t.Fatalf("GENERAL AUTHENTICATE answer % X lacks 82", resp)
	}
	return out, sw
}

// pkcs1Block is the PKCS #1 v1.5 type-1 block a host builds for a SHA-256
// signature.
func pkcs1Block(size int, digest []byte) []byte {
	prefix := h("3031300d060960864801650304020105000420")
	t := append(prefix, digest...)
	b := bytes.Repeat([]byte{0xFF}, size)
	b[0], b[1] = 0, 1
	b[size-len(t)-1] = 0
	copy(b[size-len(t):], t)
	return b
}

func TestGenerateAndSignEveryAlgorithm(t *testing.T) {
	algs := []byte{pivalg.RSA1024, pivalg.RSA2048, pivalg.P256, pivalg.P384, pivalg.Ed25519, pivalg.X25519}
	if !testing.Short() {
		algs = append(algs, pivalg.RSA3072, pivalg.RSA4096)
	}
	msg := []byte("Tessera signs this")
	digest := sha256.Sum256(msg)
	for _, alg := range algs {
		t.Run(fmt.Sprintf("%02X", alg), func(t *testing.T) {
			tc := newTestCard(t, "default")
			tc.mustAuthenticate()
			pub := generate(t, tc, slotAuthentication, alg)
			if sw := tc.verifyPIN("123456"); sw != apdu.SWSuccess {
				t.Fatal(sw)
			}
			var input []byte
			switch p := pub.(type) {
			case *rsa.PublicKey:
				input = pkcs1Block(p.Size(), digest[:])
			case *ecdsa.PublicKey:
				input = digest[:]
			case ed25519.PublicKey:
				input = msg
			case *ecdh.PublicKey:
				// X25519 cannot sign; it agrees a key.
				if _, sw := sign(t, tc, slotAuthentication, alg, digest[:]); sw != apdu.SWIncorrectData {
					t.Errorf("X25519 sign: %04X, want 6A80", uint16(sw))
				}
				host, _ := ecdh.X25519().GenerateKey(rand.Reader)
				want, _ := host.ECDH(p)
				got := agree(t, tc, slotAuthentication, alg, host.PublicKey().Bytes())
				if !bytes.Equal(got, want) {
					t.Errorf("X25519 shared secret differs")
				}
				return
			}
			sig, sw := sign(t, tc, slotAuthentication, alg, input)
			if sw != apdu.SWSuccess {
				t.Fatalf("sign: %04X", uint16(sw))
			}
			hostVerify(t, pub, digest[:], msg, sig)
			if md := tc.expect(fmt.Sprintf("00 F7 00 9A"), apdu.SWSuccess); !bytes.HasPrefix(md, []byte{0x01, 0x01, alg, 0x02, 0x02, pinPolicyOnce, touchNever, 0x03, 0x01, originGenerated}) {
				t.Errorf("metadata % X", md[:10])
			}
		})
	}
}

func agree(t *testing.T, tc *testCard, slot, alg byte, peer []byte) []byte {
	t.Helper()
	dyn := apdu.Nest(0x7C, apdu.AppendTLV(nil, 0x82, nil), apdu.AppendTLV(nil, 0x85, peer))
	resp := tc.expectCmd(apdu.Command{INS: 0x87, P1: alg, P2: slot, Data: dyn}, apdu.SWSuccess)
	inner, _, _ := apdu.FindTLV(resp, 0x7C)
	out, _, _ := apdu.FindTLV(inner, 0x82)
	return out
}

func TestECDHAndRSADecrypt(t *testing.T) {
	tc := newTestCard(t, "default")
	tc.mustAuthenticate()
	pub := generate(t, tc, slotKeyManagement, pivalg.P256).(*ecdsa.PublicKey)
	tc.verifyPIN("123456")
	host, _ := ecdh.P256().GenerateKey(rand.Reader)
	cardPub, _ := pub.ECDH()
	want, _ := host.ECDH(cardPub)
	if got := agree(t, tc, slotKeyManagement, pivalg.P256, host.PublicKey().Bytes()); !bytes.Equal(got, want) {
		t.Errorf("P-256 shared secret differs")
	}
	rsaPub := generate(t, tc, slotKeyManagement, pivalg.RSA2048).(*rsa.PublicKey)
	ct, _ := rsa.EncryptPKCS1v15(rand.Reader, rsaPub, []byte("session key"))
	block, sw := sign(t, tc, slotKeyManagement, pivalg.RSA2048, ct)
	if sw != apdu.SWSuccess {
		t.Fatal(sw)
	}
	if i := bytes.IndexByte(block[2:], 0); block[1] != 2 || i < 0 || string(block[3+i:]) != "session key" {
		t.Errorf("RSA decrypt returned a block that does not unpad to the plaintext")
	}
}

func TestKeyPolicies(t *testing.T) {
	touched := 0
	allow := true
	p, _ := profile.Builtin("default")
	tc := newTestCardWith(t, p, nvm.NewTearable(&nvm.Memory{}), Options{Touch: TouchFunc(func(byte) bool { touched++; return allow })})
	tc.mustAuthenticate()
	digest := sha256.Sum256([]byte("x"))
	generate(t, tc, slotSignature, pivalg.P256)                                   // 9C: PIN always
	generate(t, tc, slotCardAuthentication, pivalg.P256)                          // 9E: PIN never
	generate(t, tc, 0x82, pivalg.P256, 0xAA, 0x01, 0x01, 0xAB, 0x01, touchAlways) // retired: never, touch always
	if _, sw := sign(t, tc, slotSignature, pivalg.P256, digest[:]); sw != apdu.SWSecurityStatusNotSatisfied {
		t.Errorf("9C without PIN: %04X, want 6982", uint16(sw))
	}
	if _, sw := sign(t, tc, slotCardAuthentication, pivalg.P256, digest[:]); sw != apdu.SWSuccess {
		t.Errorf("9E without PIN: %04X, want 9000", uint16(sw))
	}
	tc.verifyPIN("123456")
	if _, sw := sign(t, tc, slotSignature, pivalg.P256, digest[:]); sw != apdu.SWSuccess {
		t.Errorf("9C right after VERIFY: %04X", uint16(sw))
	}
	if _, sw := sign(t, tc, slotSignature, pivalg.P256, digest[:]); sw != apdu.SWSecurityStatusNotSatisfied {
		t.Errorf("9C second signature without a new VERIFY: %04X, want 6982", uint16(sw))
	}
	if _, sw := sign(t, tc, 0x82, pivalg.P256, digest[:]); sw != apdu.SWSuccess || touched != 1 {
		t.Errorf("touch-always key: %04X after %d touches", uint16(sw), touched)
	}
	allow = false
	if _, sw := sign(t, tc, 0x82, pivalg.P256, digest[:]); sw != apdu.SWSecurityStatusNotSatisfied {
		t.Errorf("touch-always key with no touch: %04X, want 6982", uint16(sw))
	}
	if md := tc.expect("00 F7 00 82", apdu.SWSuccess); !bytes.HasPrefix(md, h("01 01 11 02 02 01 02")) {
		t.Errorf("metadata 82 = % X", md[:7])
	}
}

func TestDataObjects(t *testing.T) {
	tc := newTestCard(t, "default")
	tc.expect("00 CB 3F FF 05 5C 03 5F C1 05", apdu.SWFileNotFound)
	cert := bytes.Repeat([]byte{0x30, 0x82, 0x0B, 0xB8}, 750) // 3000 bytes standing in for a certificate
	obj := certObject(cert)
	put := apdu.Command{INS: 0xDB, P1: 0x3F, P2: 0xFF, Data: append(h("5C 03 5F C1 05"), apdu.AppendTLV(nil, 0x53, obj)...)}
	tc.expectCmd(put, apdu.SWSecurityStatusNotSatisfied)
	tc.mustAuthenticate()
	tc.expectCmd(put, apdu.SWSuccess)
	// GET DATA back, through 61xx pieces.
	out := tc.c.Process(h("00 CB 3F FF 05 5C 03 5F C1 05 00"))
	if r, _ := apdu.ParseResponse(out); len(r.Data) != 256 || r.SW != apdu.SWBytesRemaining {
		t.Errorf("first piece: %d bytes, SW %04X; want 256 and 6100", len(r.Data), uint16(r.SW))
	}
	got := tc.expect("00 CB 3F FF 05 5C 03 5F C1 05", apdu.SWSuccess)
	if want := apdu.AppendTLV(nil, 0x53, obj); !bytes.Equal(got, want) {
		t.Errorf("GET DATA returned %d bytes, want the %d stored", len(got), len(want))
	}
	// Too big, PIN-protected, delete.
	big := apdu.Command{INS: 0xDB, P1: 0x3F, P2: 0xFF, Data: append(h("5C 03 5F C1 0A"), apdu.AppendTLV(nil, 0x53, make([]byte, maxObject+1))...)}
	tc.expectCmd(big, apdu.SWNotEnoughMemory)
	tc.expectCmd(apdu.Command{INS: 0xDB, P1: 0x3F, P2: 0xFF, Data: h("5C 03 5F C1 09 53 03 88 01 00")}, apdu.SWSuccess)
	tc.expect("00 CB 3F FF 05 5C 03 5F C1 09", apdu.SWSecurityStatusNotSatisfied)
	tc.verifyPIN("123456")
	tc.expect("00 CB 3F FF 05 5C 03 5F C1 09", apdu.SWSuccess)
	tc.expectCmd(apdu.Command{INS: 0xDB, P1: 0x3F, P2: 0xFF, Data: h("5C 03 5F C1 05 53 00")}, apdu.SWSuccess)
	tc.expect("00 CB 3F FF 05 5C 03 5F C1 05", apdu.SWFileNotFound)
	// Discovery object under its own tag.
	tc.expectCmd(apdu.Command{INS: 0xDB, P1: 0x3F, P2: 0xFF, Data: h("5C 01 7E 7E 12 4F 0B A0 00 00 03 08 00 00 10 00 01 00 5F 2F 02 40 00")}, apdu.SWSuccess)
	if got := tc.expect("00 CB 3F FF 03 5C 01 7E", apdu.SWSuccess); !bytes.HasPrefix(got, h("7E 12 4F 0B")) {
		t.Errorf("discovery object = % X", got)
	}
}

func TestWrongInputs(t *testing.T) {
	tests := []struct {
		name string
		auth bool
		apdu string
		want apdu.StatusWord
	}{
		{"generate without auth", false, "00 47 00 9A 05 AC 03 80 01 11", apdu.SWSecurityStatusNotSatisfied},
		{"generate bad algorithm", true, "00 47 00 9A 05 AC 03 80 01 99", apdu.SWIncorrectData},
		{"generate bad slot", true, "00 47 00 9B 05 AC 03 80 01 11", apdu.SWIncorrectP1P2},
		{"generate in F9", true, "00 47 00 F9 05 AC 03 80 01 11", apdu.SWIncorrectP1P2},
		{"generate no template", true, "00 47 00 9A 03 80 01 11", apdu.SWIncorrectData},
		{"generate bad PIN policy", true, "00 47 00 9A 08 AC 06 80 01 11 AA 01 07", apdu.SWIncorrectData},
		{"generate bad P1", true, "00 47 01 9A 05 AC 03 80 01 11", apdu.SWIncorrectP1P2},
		{"sign empty slot", false, "00 87 11 9A 26 7C 24 82 00 81 20 " + strings.Repeat("11", 32), apdu.SWIncorrectData},
		{"general authenticate no 7C", false, "00 87 11 9A 04 82 00 81 00", apdu.SWIncorrectData},
		{"general authenticate bad slot", false, "00 87 11 77 04 7C 02 82 00", apdu.SWReferenceNotFound},
		{"get data bad P1P2", false, "00 CB 3F 00 05 5C 03 5F C1 05", apdu.SWIncorrectP1P2},
		{"get data unknown tag", false, "00 CB 3F FF 05 5C 03 5F C2 05", apdu.SWIncorrectData},
		{"get data no 5C", false, "00 CB 3F FF 05 5D 03 5F C1 05", apdu.SWIncorrectData},
		{"get data trailing", false, "00 CB 3F FF 06 5C 03 5F C1 05 00", apdu.SWIncorrectData},
		{"put data without auth", false, "00 DB 3F FF 07 5C 03 5F C1 05 53 00", apdu.SWSecurityStatusNotSatisfied},
		{"put data wrong wrapper", true, "00 DB 3F FF 07 5C 03 5F C1 05 54 00", apdu.SWIncorrectData},
		{"verify bad reference", false, "00 20 00 82 08 31 32 33 34 35 36 FF FF", apdu.SWReferenceNotFound},
		{"verify bad P1", false, "00 20 01 80 08 31 32 33 34 35 36 FF FF", apdu.SWIncorrectP1P2},
		{"verify long", false, "00 20 00 80 09 31 32 33 34 35 36 FF FF FF", apdu.SWIncorrectData},
		{"change bad length", false, "00 24 00 80 08 31 32 33 34 35 36 FF FF", apdu.SWIncorrectData},
		{"reset retry bad reference", false, "00 2C 00 81 10 " + pinField("12345678") + pinField("123456"), apdu.SWReferenceNotFound},
		{"metadata unknown", false, "00 F7 00 77", apdu.SWReferenceNotFound},
		{"version with data", false, "00 FD 00 00 01 00", apdu.SWWrongLength},
		{"version bad P1", false, "00 FD 01 00", apdu.SWIncorrectP1P2},
		{"attest empty slot", false, "00 F9 9A 00", apdu.SWIncorrectData},
		{"attest bad slot", false, "00 F9 9B 00", apdu.SWIncorrectP1P2},
		{"set retries without auth", false, "00 FA 05 05", apdu.SWSecurityStatusNotSatisfied},
		{"reset not blocked", false, "00 FB 00 00", apdu.SWConditionsNotSatisfied},
		{"set mgmt key short", true, "00 FF FF FF 05 03 9B 03 01 02", apdu.SWIncorrectData},
		{"set mgmt key bad alg", true, "00 FF FF FF 1B 07 9B 18 " + strings.Repeat("01", 24), apdu.SWIncorrectData},
		{"set mgmt key bad P2", true, "00 FF FF 00 1B 03 9B 18 " + strings.Repeat("01", 24), apdu.SWIncorrectP1P2},
		{"import bad slot", true, "00 FE 11 9B 22 06 20 " + strings.Repeat("01", 32), apdu.SWIncorrectP1P2},
		{"import short scalar", true, "00 FE 11 9A 05 06 03 01 02 03", apdu.SWIncorrectData},
		{"import unknown alg", true, "00 FE 99 9A 05 06 03 01 02 03", apdu.SWIncorrectP1P2},
		{"move to same slot", true, "00 F6 9A 9A", apdu.SWIncorrectP1P2},
		{"move empty slot", true, "00 F6 9C 9A", apdu.SWReferenceNotFound},
		{"move F9", true, "00 F6 9A F9", apdu.SWIncorrectP1P2},
		{"class 80", false, "80 FD 00 00", apdu.SWCLANotSupported},
		{"unknown instruction", false, "00 12 00 00", apdu.SWINSNotSupported},
	}
	for _, tt := range tests {
		tc := newTestCard(t, "default")
		if tt.auth {
			tc.mustAuthenticate()
		}
		before, _ := tc.tm.Load()
		if _, sw := tc.send(tt.apdu); sw != tt.want {
			t.Errorf("%s: %s → %04X, want %04X", tt.name, tt.apdu, uint16(sw), uint16(tt.want))
		}
		if after, _ := tc.tm.Load(); !bytes.Equal(before, after) {
			t.Errorf("%s: a refused command changed persistent memory", tt.name)
		}
	}
}

func TestImportKeysAndAttest(t *testing.T) {
	tc := newTestCard(t, "default")
	tc.mustAuthenticate()
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	d, _ := ecKey.Bytes()
	tc.expectCmd(apdu.Command{INS: 0xFE, P1: pivalg.P256, P2: 0x9A, Data: append(apdu.AppendTLV(nil, 0x06, d), h("AA 01 01")...)}, apdu.SWSuccess)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	var rsaData []byte
	for i, v := range []*big.Int{rsaKey.Primes[0], rsaKey.Primes[1], rsaKey.Precomputed.Dp, rsaKey.Precomputed.Dq, rsaKey.Precomputed.Qinv} {
		rsaData = apdu.AppendTLV(rsaData, apdu.Tag(i+1), v.FillBytes(make([]byte, 128)))
	}
	tc.expectCmd(apdu.Command{INS: 0xFE, P1: pivalg.RSA2048, P2: 0x9D, Data: rsaData}, apdu.SWSuccess)
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	tc.expectCmd(apdu.Command{INS: 0xFE, P1: pivalg.Ed25519, P2: 0x9E, Data: apdu.AppendTLV(nil, 0x07, edKey.Seed())}, apdu.SWSuccess)

	digest := sha256.Sum256([]byte("imported"))
	sig, sw := sign(t, tc, 0x9A, pivalg.P256, digest[:])
	if sw != apdu.SWSuccess {
		t.Fatalf("sign with imported P-256 (PIN never): %04X", uint16(sw))
	}
	hostVerify(t, &ecKey.PublicKey, digest[:], nil, sig)
	tc.verifyPIN("123456")
	sig, _ = sign(t, tc, 0x9D, pivalg.RSA2048, pkcs1Block(256, digest[:]))
	hostVerify(t, &rsaKey.PublicKey, digest[:], nil, sig)
	sig, _ = sign(t, tc, 0x9E, pivalg.Ed25519, []byte("imported"))
	hostVerify(t, edKey.Public(), nil, []byte("imported"), sig)
	if md := tc.expect("00 F7 00 9D", apdu.SWSuccess); !bytes.HasPrefix(md, h("01 01 07 02 02 02 01 03 01 02")) {
		t.Errorf("imported key metadata % X", md[:10])
	}
	// Imported keys cannot be attested; generated ones can.
	tc.expect("00 F9 9A 00", apdu.SWIncorrectData)
	pub := generate(t, tc, 0x9C, pivalg.P384, 0xAA, 0x01, pinPolicyAlways, 0xAB, 0x01, touchCached)
	der := tc.expect("00 F9 9C 00", apdu.SWSuccess)
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	f9obj := tc.expect("00 CB 3F FF 05 5C 03 5F FF 01", apdu.SWSuccess)
	f9der, _, _ := apdu.FindTLV(f9obj[4:], 0x70)
	f9, err := x509.ParseCertificate(f9der)
	if err != nil {
		t.Fatal(err)
	}
	if err := cert.CheckSignatureFrom(f9); err != nil {
		t.Errorf("attestation does not verify against the F9 certificate: %v", err)
	}
	if !cert.PublicKey.(*ecdsa.PublicKey).Equal(pub) {
		t.Errorf("attested public key differs from the generated one")
	}
	ext := map[string][]byte{}
	for _, e := range cert.Extensions {
		ext[e.Id.String()] = e.Value
	}
	var serial int64
	asn1.Unmarshal(ext["1.3.6.1.4.1.41482.3.7"], &serial)
	if !bytes.Equal(ext["1.3.6.1.4.1.41482.3.3"], []byte{5, 7, 1}) || serial != 10000001 || !bytes.Equal(ext["1.3.6.1.4.1.41482.3.8"], []byte{pinPolicyAlways, touchCached}) {
		t.Errorf("attestation extensions %x", ext)
	}
}

func TestMoveDeleteKeyAndRetriesAndReset(t *testing.T) {
	tc := newTestCard(t, "default")
	tc.mustAuthenticate()
	generate(t, tc, 0x9A, pivalg.P256)
	tc.expect("00 F6 9D 9A", apdu.SWSuccess)
	tc.expect("00 F7 00 9A", apdu.SWReferenceNotFound)
	tc.expect("00 F7 00 9D", apdu.SWSuccess)
	tc.expect("00 F6 FF 9D", apdu.SWSuccess)
	tc.expect("00 F7 00 9D", apdu.SWReferenceNotFound)

	tc.expect("00 FA 05 06", apdu.SWSecurityStatusNotSatisfied) // needs the PIN too
	tc.verifyPIN("123456")
	// PIV's limits stay 1 to 15 (pin records hold more, for OpenPGP).
	tc.expect("00 FA 10 06", apdu.SWIncorrectP1P2)
	tc.expect("00 FA 05 10", apdu.SWIncorrectP1P2)
	tc.expect("00 FA 05 06", apdu.SWSuccess)
	if md := tc.expect("00 F7 00 80", apdu.SWSuccess); !bytes.HasSuffix(md, h("06 02 05 05")) {
		t.Errorf("PIN metadata after SET PIN RETRIES = % X", md)
	}
	if md := tc.expect("00 F7 00 81", apdu.SWSuccess); !bytes.HasSuffix(md, h("06 02 06 06")) {
		t.Errorf("PUK metadata after SET PIN RETRIES = % X", md)
	}
	// Block both, then RESET restores the factory state but keeps F9.
	generate(t, tc, 0x9A, pivalg.P256)
	for range 5 {
		tc.verifyPIN("000000")
	}
	for range 6 {
		tc.send("00 24 00 81 10 " + pinField("00000000") + pinField("00000000"))
	}
	tc.expect("00 FB 00 00", apdu.SWSuccess)
	tc.expect("00 F7 00 9A", apdu.SWReferenceNotFound)
	tc.expect("00 F7 00 80", apdu.SWSuccess)
	if md := tc.expect("00 F7 00 80", apdu.SWSuccess); !bytes.Equal(md, h("01 01 FF 05 01 01 06 02 03 03")) {
		t.Errorf("PIN metadata after RESET = % X", md)
	}
	tc.expect("00 F7 00 F9", apdu.SWSuccess)
	tc.expect("00 CB 3F FF 05 5C 03 5F FF 01", apdu.SWSuccess)
	if sw := tc.verifyPIN("123456"); sw != apdu.SWSuccess {
		t.Errorf("factory PIN after RESET: %04X", uint16(sw))
	}
}

func TestStateSurvivesPowerCycles(t *testing.T) {
	tc := newTestCard(t, "default")
	tc.mustAuthenticate()
	pub := generate(t, tc, 0x9E, pivalg.P256)
	tc.verifyPIN("000000")
	if _, err := tc.c.Reset(); err != nil {
		t.Fatal(err)
	}
	tc.expect("00 A4 04 00 05 A0 00 00 03 08", apdu.SWSuccess)
	tc.expect("00 20 00 80", apdu.RetriesSW(2))
	tc.expect("00 47 00 9A 05 AC 03 80 01 11", apdu.SWSecurityStatusNotSatisfied) // authentication did not survive
	md := tc.expect("00 F7 00 9E", apdu.SWSuccess)
	point, _ := pub.(*ecdsa.PublicKey).Bytes()
	if !bytes.HasSuffix(md, point) {
		t.Errorf("the 9E key changed across a reset")
	}
}

func TestTransportPINMustBeChangedBeforeKeyUse(t *testing.T) {
	tc := newTestCard(t, "default")
	tc.mustAuthenticate()
	generate(t, tc, slotCardAuthentication, pivalg.P256) // PIN never
	// Deliver the card with a transport PIN, as a token issuer does.
	if err := pin.New(tc.c.Store(), keyPIN).Init(tc.c.Store(), []byte("482913"), 3, false, true, rand.Reader); err != nil {
		t.Fatal(err)
	}
	digest := sha256.Sum256([]byte("x"))
	if _, sw := sign(t, tc, slotCardAuthentication, pivalg.P256, digest[:]); sw != apdu.SWSecurityStatusNotSatisfied {
		t.Errorf("key use with a transport PIN: %04X, want 6982", uint16(sw))
	}
	if sw := tc.verifyPIN("482913"); sw != apdu.SWSuccess {
		t.Fatalf("VERIFY transport PIN: %04X", uint16(sw))
	}
	if _, sw := sign(t, tc, slotCardAuthentication, pivalg.P256, digest[:]); sw != apdu.SWSecurityStatusNotSatisfied {
		t.Errorf("key use after verifying the transport PIN: %04X, want 6982", uint16(sw))
	}
	tc.expect("00 24 00 80 10 "+pinField("482913")+pinField("271828"), apdu.SWSuccess)
	if _, sw := sign(t, tc, slotCardAuthentication, pivalg.P256, digest[:]); sw != apdu.SWSuccess {
		t.Errorf("key use after the PIN was changed: %04X", uint16(sw))
	}
}

// TestRSARawOperation checks both RSA paths give the raw private-key
// operation: a PKCS #1 v1.5 signature block (Go's signer) and any other block
// (a PSS encoding, a decryption).
func TestRSARawOperation(t *testing.T) {
	tc := newTestCard(t, "default")
	tc.mustAuthenticate()
	pub := generate(t, tc, slotCardAuthentication, pivalg.RSA2048, 0xAA, 0x01, pinPolicyNever).(*rsa.PublicKey)
	digest := sha256.Sum256([]byte("raw"))
	other := make([]byte, 256)
	rand.Read(other)
	other[0] = 0
	for _, in := range [][]byte{pkcs1Block(256, digest[:]), other} {
		out, sw := sign(t, tc, slotCardAuthentication, pivalg.RSA2048, in)
		if sw != apdu.SWSuccess {
			t.Fatalf("RSA operation: %04X", uint16(sw))
		}
		back := new(big.Int).Exp(new(big.Int).SetBytes(out), big.NewInt(int64(pub.E)), pub.N)
		if !bytes.Equal(back.FillBytes(make([]byte, 256)), in) {
			t.Errorf("out^e mod n differs from the block sent (first bytes % X)", in[:4])
		}
	}
	if _, ok := pkcs1Type1(append([]byte{0, 1, 0xFF, 0xFF, 0}, make([]byte, 20)...)); ok {
		t.Errorf("a block with 2 bytes of FF padding taken as PKCS #1 type 1")
	}
}

// TestResetRetryChecksPUKFirst: ykman's `piv reset` blocks the PUK with
// RESET RETRY COUNTER carrying an empty PUK and an empty new PIN, and counts
// on 63Cx down to 6983 (yubikit piv.py PivSession.reset). A YubiKey-like card
// compares the PUK before it looks at the new PIN; the strict profile refuses
// the malformed field without spending a try (SP 800-85A-4 VE05.22D).
func TestResetRetryChecksPUKFirst(t *testing.T) {
	empty := "00 2C 00 80 10 " + pinField("") + pinField("")
	for _, name := range []string{"default", "yubikey-5.7"} {
		tc := newTestCard(t, name)
		// The right PUK with a malformed new PIN: refused, PUK counter kept.
		tc.expect("00 2C 00 80 10 "+pinField("12345678")+pinField(""), apdu.SWIncorrectData)
		tc.expect("00 2C 00 80 10 "+pinField("12345678")+pinField("12"), apdu.SWIncorrectData)
		if md := tc.expect("00 F7 00 81", apdu.SWSuccess); !bytes.Contains(md, h("06 02 03 03")) {
			t.Errorf("%s: PUK metadata after a right PUK = % X, want 3 of 3 tries", name, md)
		}
		tc.expect(empty, apdu.RetriesSW(2))
		tc.expect(empty, apdu.RetriesSW(1))
		tc.expect(empty, apdu.SWAuthMethodBlocked)
		tc.expect(empty, apdu.SWAuthMethodBlocked)
		for range 3 {
			tc.verifyPIN("")
		}
		tc.expect("00 FB 00 00", apdu.SWSuccess)
		if sw := tc.verifyPIN("123456"); sw != apdu.SWSuccess {
			t.Errorf("%s: VERIFY factory PIN after reset = %04X", name, uint16(sw))
		}
	}
	strict := newTestCard(t, "piv")
	strict.expect(empty, apdu.SWIncorrectData)
	strict.expect("00 2C 00 80 10 "+pinField("00000000")+pinField("12"), apdu.SWIncorrectData)
	if md := strict.expect("00 F7 00 81", apdu.SWSuccess); !bytes.Contains(md, h("06 02 03 03")) {
		t.Errorf("piv: PUK metadata after malformed fields = % X, want 3 of 3 tries", md)
	}
}

// TestAttestEveryAlgorithm: ATTEST answers a certificate for a generated
// key of every algorithm, X25519 included (piv-go's Attest of an X25519 key
// got 6F00 while Go's x509 made the certificate), signed by F9 and carrying
// the key.
func TestAttestEveryAlgorithm(t *testing.T) {
	tc := newTestCard(t, "default")
	tc.mustAuthenticate()
	f9obj := tc.expect("00 CB 3F FF 05 5C 03 5F FF 01", apdu.SWSuccess)
	f9der, _, _ := apdu.FindTLV(f9obj[4:], 0x70)
	f9, err := x509.ParseCertificate(f9der)
	if err != nil {
		t.Fatal(err)
	}
	for _, alg := range []byte{pivalg.P256, pivalg.P384, pivalg.Ed25519, pivalg.X25519, pivalg.RSA1024} {
		pub := generate(t, tc, 0x9D, alg)
		der, sw := tc.cmd(apdu.Command{INS: 0xF9, P1: 0x9D})
		if sw != apdu.SWSuccess {
			t.Errorf("ATTEST of a generated %02X key = %04X, want 9000", alg, uint16(sw))
			continue
		}
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			t.Errorf("alg %02X: %v", alg, err)
			continue
		}
		if err := cert.CheckSignatureFrom(f9); err != nil {
			t.Errorf("alg %02X: attestation does not verify against F9: %v", alg, err)
		}
		// Go's ParseCertificate leaves an X25519 key unparsed; the
		// subjectPublicKeyInfo itself parses.
		got, err := x509.ParsePKIXPublicKey(cert.RawSubjectPublicKeyInfo)
		if eq, ok := got.(interface{ Equal(crypto.PublicKey) bool }); err != nil || !ok || !eq.Equal(pub) {
			t.Errorf("alg %02X: attested public key %T (%v) differs from the generated one", alg, got, err)
		}
		if len(cert.Extensions) != 4 {
			t.Errorf("alg %02X: %d extensions, want Yubico's 4", alg, len(cert.Extensions))
		}
	}
}
