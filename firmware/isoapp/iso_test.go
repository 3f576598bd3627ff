package isoapp

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/asn1"
	"encoding/hex"
	"fmt"
	"math/big"
	"strings"
	"testing"

	"github.com/tesseracard/tessera/apdu"
	"github.com/tesseracard/tessera/firmware/nvm"
	"github.com/tesseracard/tessera/firmware/profile"
	"github.com/tesseracard/tessera/internal/cardtest"
)

func TestSelectAnswers(t *testing.T) {
	tc := newTestCard(t)
	if got := tc.must(cmdSelectApp, apdu.SWSuccess); hex.EncodeToString(got) != "000606" {
		t.Errorf("SELECT = %X, want 000606 (API 00.06, ECC and GET CHALLENGE)", got)
	}
	// By a 5-byte prefix too, and with P2 0C.
	tc.must("00 A4 04 0C 05 F276A288BC", apdu.SWSuccess)
	tc.must("00 A4 04 00 07 A0000003080000", apdu.SWFileNotFound) // PIV: not on this card
	if got := tc.must("00 A4 00 00 02 3F00 00", apdu.SWSuccess); hex.EncodeToString(got) != "6f07820138830"+"23f00" {
		t.Errorf("SELECT MF = %X", got)
	}
	tc.must("00 CA DF 30 00", apdu.SWINSNotSupported) // another driver's probe
}

// TestStatusWords holds the application's answers to malformed and
// out-of-order commands, each on a card prepared by setup.
func TestStatusWords(t *testing.T) {
	tests := []struct {
		name  string
		setup func(*testCard)
		cmd   string
		want  apdu.StatusWord
	}{
		{"proprietary class", fresh, "80 A4 00 00 02 3F00", apdu.SWCLANotSupported},
		{"unknown instruction", fresh, "00 CB 3F FF 00", apdu.SWINSNotSupported},
		{"select: bad P2", fresh, "00 A4 00 01 02 3F00", apdu.SWIncorrectP1P2},
		{"select: child DF P1", fresh, "00 A4 01 00 02 5015", apdu.SWIncorrectP1P2},
		{"select: odd path", fresh, "00 A4 08 00 03 501544", apdu.SWWrongLength},
		{"select: FID of 3 bytes", fresh, "00 A4 00 00 03 3F0000", apdu.SWWrongLength},
		{"select: absent path", fresh, "00 A4 08 00 04 50154401 00", apdu.SWFileNotFound},
		{"select: path through an EF", withDF, "00 A4 08 00 06 5015 4401 4402 00", apdu.SWFileNotFound},
		{"read: MF is no EF", fresh, "00 B0 00 00 10", apdu.SWCommandNotAllowed},
		{"read: no Le", withDF, "00 B0 00 00", apdu.SWWrongLength},
		{"read: at the end", withDF, "00 B0 00 40 10", apdu.SWWrongP1P2},
		{"read: short EF identifier", withDF, "00 B0 81 00 10", apdu.SWIncorrectP1P2},
		{"update: past the end", withDF, "00 D6 00 3F 02 0102", apdu.SWWrongP1P2},
		{"update: no data", withDF, "00 D6 00 00", apdu.SWWrongLength},
		{"update: without PIN", func(tc *testCard) {
			withDF(tc)
			tc.must(cmdSelectApp, apdu.SWSuccess)
			tc.must("00 A4 08 0C 04 50154401", apdu.SWSuccess)
		}, "00 D6 00 00 01 01", apdu.SWSecurityStatusNotSatisfied},
		{"create: used FID", withDF, "00 E0 00 00 17 6F 15 81 02 00 40 82 01 01 83 02 44 01 86 08 FF 90 90 90 90 90 90 00", apdu.SWReferenceDataUnusable},
		{"create: FID 3F00", loggedIn, "00 E0 00 00 17 6F 15 81 02 00 40 82 01 01 83 02 3F 00 86 08 FF 90 90 90 90 90 90 00", apdu.SWIncorrectData},
		{"create: 86 of 7 bytes", loggedIn, "00 E0 00 00 16 6F 14 81 02 00 40 82 01 01 83 02 44 07 86 07 FF 90 90 90 90 90 90", apdu.SWReferenceDataUnusable},
		{"create: no FID", loggedIn, "00 E0 00 00 09 6F 07 81 02 00 40 82 01 01", apdu.SWIncorrectData},
		{"create: linear EF", loggedIn, "00 E0 00 00 0D 6F 0B 81 02 00 40 82 01 02 83 02 44 07", apdu.SWIncorrectData},
		{"create: too big", loggedIn, "00 E0 00 00 0D 6F 0B 81 02 80 00 82 01 01 83 02 44 07", apdu.SWIncorrectData},
		{"create: not a template", loggedIn, "00 E0 00 00 04 62 02 82 00", apdu.SWIncorrectData},
		{"create: in a DF whose rule is never", func(tc *testCard) {
			loggedIn(tc)
			tc.must("00 E0 00 00 17 6F 15 81 02 13 88 82 01 38 83 02 50 16 86 08 FF 00 00 00 00 FF FF 00", apdu.SWSuccess)
		}, "00 E0 00 00 0D 6F 0B 81 02 00 10 82 01 01 83 02 44 09", apdu.SWSecurityStatusNotSatisfied},
		{"delete: MF", loggedIn, "00 E4 00 00 02 3F00", apdu.SWConditionsNotSatisfied},
		{"delete: absent", loggedIn, "00 E4 00 00 02 4444", apdu.SWFileNotFound},
		{"delete: without PIN", func(tc *testCard) { withDF(tc); tc.must(cmdSelectApp, apdu.SWSuccess) }, "00 E4 00 00 02 4401", apdu.SWSecurityStatusNotSatisfied},
		{"set PIN before PUK", fresh, cmdSetPIN, apdu.SWConditionsNotSatisfied},
		{"set PUK of 15 bytes", fresh, "00 24 01 02 0F 303132333435363738396162636465", apdu.SWWrongLength},
		{"set PUK twice", withPUK, cmdSetPUK, apdu.SWConditionsNotSatisfied},
		{"set PIN of 3 bytes", withPUK, "00 24 01 01 03 313233", apdu.SWWrongLength},
		{"set PIN of 17 bytes", withPUK, "00 24 01 01 11 3132333435363738393031323334353637", apdu.SWWrongLength},
		{"set PIN twice", operational, cmdSetPIN, apdu.SWConditionsNotSatisfied},
		{"change before the PIN is set", withPUK, "00 24 00 01 20 31323334353600000000000000000000 36353433323100000000000000000000", apdu.SWConditionsNotSatisfied},
		{"change: 31 bytes", operational, "00 24 00 01 1F 31323334353600000000000000000000 363534333231000000000000000000", apdu.SWWrongLength},
		{"change: new PIN of 3", operational, "00 24 00 01 20 31323334353600000000000000000000 36353400000000000000000000000000", apdu.SWIncorrectData},
		{"change the PUK", operational, "00 24 00 02 20 30313233343536373839616263646566 30313233343536373839616263646567", apdu.SWReferenceNotFound},
		{"verify: no PIN yet", withPUK, cmdVerifyPIN, apdu.SWReferenceDataUnusable},
		{"verify: status without PIN", withPUK, "00 20 00 01", apdu.SWSuccess},
		{"verify: status", operational, "00 20 00 01", apdu.RetriesSW(3)},
		{"verify: PUK reference", operational, "00 20 00 02 10 30313233343536373839616263646566", apdu.SWReferenceNotFound},
		{"verify: 17 bytes", operational, "00 20 00 01 11 3132333435360000000000000000000000", apdu.SWWrongLength},
		{"verify: wrong", operational, cmdWrongPIN, apdu.RetriesSW(2)},
		{"verify: 3 bytes", operational, "00 20 00 01 03 313233", apdu.SWWrongLength},
		{"verify: 3 bytes, no PIN yet", withPUK, "00 20 00 01 03 313233", apdu.SWWrongLength},
		{"verify: blocked", blocked, cmdVerifyPIN, apdu.SWAuthMethodBlocked},
		{"verify: status when blocked", blocked, "00 20 00 01", apdu.SWAuthMethodBlocked},
		{"unblock before operational", withPUK, "00 2C 00 01 20 30313233343536373839616263646566 31323334353600000000000000000000", apdu.SWCommandNotAllowed},
		{"unblock: 19 bytes", blocked, "00 2C 00 01 13 30313233343536373839616263646566 313233", apdu.SWWrongLength},
		{"unblock: wrong PUK", blocked, "00 2C 00 01 20 30303030303030303030303030303030 31323334353600000000000000000000", apdu.RetriesSW(4)},
		{"MSE without PIN", operational, "00 22 41 B6 06 80 01 11 84 01 00", apdu.SWSecurityStatusNotSatisfied},
		{"MSE: bad P1", loggedIn, "00 22 81 B6 06 80 01 11 84 01 00", apdu.SWIncorrectP1P2},
		{"MSE: bad template", loggedIn, "00 22 41 A4 06 80 01 11 84 01 00", apdu.SWIncorrectP1P2},
		{"MSE: slot 16", loggedIn, "00 22 41 B6 06 80 01 11 84 01 10", apdu.SWIncorrectData},
		{"MSE: ECDSA to decipher", loggedIn, "00 22 41 B8 06 80 01 21 84 01 00", apdu.SWIncorrectData},
		{"MSE: no key reference", loggedIn, "00 22 41 B6 03 80 01 11", apdu.SWIncorrectData},
		{"sign without MSE", loggedIn, "00 2A 9E 9A 04 01020304 00", apdu.SWConditionsNotSatisfied},
		{"sign with an empty slot", func(tc *testCard) { loggedIn(tc); tc.must("00 22 41 B6 06 80 01 11 84 01 07", apdu.SWSuccess) }, "00 2A 9E 9A 04 01020304 00", apdu.SWReferenceNotFound},
		{"generate without MSE", loggedIn, "00 46 42 00 00", apdu.SWConditionsNotSatisfied},
		{"generate on an unknown curve", keygenEnv("EC"), "00 46 00 00 0F 81 01 07 82 01 00 83 01 03 84 01 04 85 01 05 00", apdu.SWIncorrectData},
		{"PSO: bad P1P2", loggedIn, "00 2A 9E 9B 04 01020304 00", apdu.SWIncorrectP1P2},
		{"import: bad P1P2", keygenEnv("EC"), "00 DB 3F FE 02 E0 00", apdu.SWIncorrectP1P2},
		{"import: RSA template for EC", keygenEnv("EC"), "00 DB 3F FF 03 7F48 00", apdu.SWIncorrectData},
		{"import: d = 0", keygenEnv("EC"), "00 DB 3F FF D5 E0 81 D2" + p256Params + "8801 00", apdu.SWIncorrectData},
		{"challenge: no Le", fresh, "00 84 00 00", apdu.SWWrongLength},
		{"challenge: bad P1", fresh, "00 84 01 00 08", apdu.SWIncorrectP1P2},
		{"chaining refused for VERIFY", operational, "10 20 00 01 06 313233343536", apdu.SWChainingNotSupported},
		{"chaining refused for UPDATE", withDF, "10 D6 00 00 01 01", apdu.SWChainingNotSupported},
		{"get response with nothing pending", fresh, "00 C0 00 00 10", apdu.SWConditionsNotSatisfied},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tc := newTestCard(t)
			tt.setup(tc)
			before := isoRecords(tc.c.Store())
			if _, sw := tc.send(tt.cmd); sw != tt.want {
				t.Fatalf("%s: SW %04X, want %04X", tt.cmd, uint16(sw), uint16(tt.want))
			}
			if after := isoRecords(tc.c.Store()); after != before {
				t.Errorf("a refused command changed persistent state")
			}
		})
	}
}

// TestLifeCycleAndAccess walks the life cycle: before a PIN exists file
// operations are unrestricted; once it does, the tag-86 rules apply and the
// PIN opens the 90 ones.
func TestLifeCycleAndAccess(t *testing.T) {
	tc := newTestCard(t)
	fresh(tc)
	// Creation state: a DF whose rules say "PIN" is still open to all.
	tc.must(cmdCreateDF, apdu.SWSuccess)
	tc.must(cmdCreateEF, apdu.SWSuccess)
	tc.must("00 D6 00 00 03 414243", apdu.SWSuccess)
	tc.must(cmdSetPUK, apdu.SWSuccess)
	tc.must(cmdSetPIN, apdu.SWSuccess)
	tc.must("00 D6 00 00 03 414243", apdu.SWSecurityStatusNotSatisfied)
	if got := tc.must("00 B0 00 00 03", apdu.SWSuccess); string(got) != "ABC" {
		t.Errorf("READ = %q, want ABC (read rule 00)", got)
	}
	if got := tc.must("00 B0 00 3E 00", apdu.SWSuccess); len(got) != 2 {
		t.Errorf("READ at 3E with Le 256 = %d bytes, want the 2 left", len(got))
	}
	tc.must(cmdVerifyPIN, apdu.SWSuccess)
	tc.must("00 D6 00 01 01 5A", apdu.SWSuccess)
	tc.send(cmdWrongPIN) // a wrong PIN revokes the verification
	tc.must("00 D6 00 01 01 5A", apdu.SWSecurityStatusNotSatisfied)
	tc.must(cmdVerifyPIN, apdu.SWSuccess)
	tc.c.Reset()
	tc.must(cmdSelectApp, apdu.SWSuccess)
	tc.must("00 A4 08 0C 04 50154401", apdu.SWSuccess)
	tc.must("00 D6 00 01 01 5A", apdu.SWSecurityStatusNotSatisfied) // reset forgets it
	if got := tc.must("00 A4 08 00 04 50154401 00", apdu.SWSuccess); hex.EncodeToString(got) != "6f1581020040820101830244018608ff909090909090"+"00" {
		t.Errorf("FCI = %X, want the template as created", got)
	}
	// Delete the DF: the EF goes with it, the current file falls back.
	tc.must(cmdVerifyPIN, apdu.SWSuccess)
	tc.must("00 E4 00 00 02 5015", apdu.SWSuccess)
	tc.must("00 A4 08 00 04 50154401 00", apdu.SWFileNotFound)
	tc.must("00 A4 00 00 02 4401", apdu.SWFileNotFound)
	if keys := tc.c.Store().Keys("iso/f/"); len(keys) != 0 {
		t.Errorf("records left after deleting the DF: %v", keys)
	}
	// 30 children per DF.
	for i := range 30 {
		tc.must("00 A4 00 0C 02 3F00", apdu.SWSuccess)
		tc.must(fmt.Sprintf("00 E0 00 00 0D 6F 0B 81 02 00 01 82 01 01 83 02 10 %02X", i), apdu.SWSuccess)
	}
	tc.must("00 A4 00 0C 02 3F00", apdu.SWSuccess)
	tc.must("00 E0 00 00 0D 6F 0B 81 02 00 01 82 01 01 83 02 11 00", apdu.SWNotEnoughMemory)
}

func TestUnblockAndChange(t *testing.T) {
	tc := newTestCard(t)
	blocked(tc)
	tc.must("00 2C 00 01 14 30313233343536373839616263646566 39393939", apdu.SWSuccess)
	tc.must("00 20 00 01 04 39393939", apdu.SWSuccess)
	tc.must("00 20 00 01", apdu.RetriesSW(3))
	tc.must("00 24 00 01 20 39393939000000000000000000000000 31313131313131313131313131313131", apdu.SWSuccess)
	tc.must("00 20 00 01 10 31313131313131313131313131313131", apdu.SWSuccess)
	tc.must("00 20 00 01 04 39393939", apdu.RetriesSW(2))
	// Five wrong PUKs block the PUK.
	for i := 4; i >= 0; i-- {
		want := apdu.RetriesSW(i)
		tc.must("00 2C 00 01 20 30303030303030303030303030303030 31323334353600000000000000000000", want)
	}
	tc.must("00 2C 00 01 20 30313233343536373839616263646566 31323334353600000000000000000000", apdu.SWAuthMethodBlocked)
}

// ecParamsTLV is the explicit domain parameters of a curve as OpenSC sends
// them.
func ecParamsTLV(c *curve) []byte {
	field := func(x *big.Int) []byte { return x.FillBytes(make([]byte, c.Size)) }
	var out []byte
	out = apdu.AppendTLV(out, 0x81, field(c.P))
	out = apdu.AppendTLV(out, 0x82, field(c.A))
	out = apdu.AppendTLV(out, 0x83, field(c.B))
	out = apdu.AppendTLV(out, 0x84, c.Marshal(c.Gx, c.Gy))
	out = apdu.AppendTLV(out, 0x85, c.N.Bytes())
	return apdu.AppendTLV(out, 0x87, []byte{0, 1})
}

// chained sends a command with chaining in pieces of at most 255 bytes and
// follows 61xx.
func (tc *testCard) chained(cla, ins, p1, p2 byte, data []byte) ([]byte, apdu.StatusWord) {
	tc.t.Helper()
	parts, err := apdu.SplitChain(apdu.Command{CLA: cla, INS: ins, P1: p1, P2: p2, Data: data, Ne: 256}, 255)
	if err != nil {
		tc.t.Fatal(err)
	}
	var resp []byte
	var sw apdu.StatusWord
	for _, p := range parts {
		raw, err := p.Marshal()
		if err != nil {
			tc.t.Fatal(err)
		}
		resp, sw = tc.fetch(raw)
		if sw != apdu.SWSuccess {
			return resp, sw
		}
	}
	return resp, sw
}

// verifyECDSA checks a DER signature over SHA-1(msg) with public point pub
// (ecgeneric's verification, itself checked against OpenSSL's signatures).
func verifyECDSA(c *curve, pub, msg, der []byte) bool {
	var sig struct{ R, S *big.Int }
	if rest, err := asn1.Unmarshal(der, &sig); err != nil || len(rest) != 0 {
		return false
	}
	qx, qy, ok := c.Unmarshal(pub)
	if !ok {
		return false
	}
	d := sha1.Sum(msg)
	return c.Verify(qx, qy, d[:], sig.R, sig.S)
}

// TestEveryCurve generates a key on each curve of the reference with its
// explicit parameters, signs a 300-byte message (chained, as OpenSC sends
// it) with ECDSA-SHA1, and verifies the signature.
func TestEveryCurve(t *testing.T) {
	msg := make([]byte, 300)
	for i := range msg {
		msg[i] = byte(i)
	}
	for i, c := range curves() {
		t.Run(c.Name, func(t *testing.T) {
			tc := newTestCard(t)
			loggedIn(tc)
			tc.must(fmt.Sprintf("00 22 41 00 06 80 01 EC 84 01 %02X", i), apdu.SWSuccess)
			resp, sw := tc.chained(0x00, 0x46, 0x00, 0x00, ecParamsTLV(c))
			if sw != apdu.SWSuccess {
				t.Fatalf("GENERATE: %04X", uint16(sw))
			}
			tlv, _, err := apdu.ParseTLV(resp)
			if err != nil || tlv.Tag != 0x7F49 {
				t.Fatalf("GENERATE answered %X", resp)
			}
			pub, ok, _ := apdu.FindTLV(tlv.Value, 0x86)
			if !ok {
				t.Fatal("no public point (86)")
			}
			if _, _, ok := c.Unmarshal(pub); !ok {
				t.Fatalf("public point %X is not on %s", pub, c.Name)
			}
			tc.must(fmt.Sprintf("00 22 41 B6 0A 80 01 21 81 02 5015 84 01 %02X", i), apdu.SWSuccess)
			sig, sw := tc.chained(0x00, 0x2A, 0x9E, 0x9A, msg)
			if sw != apdu.SWSuccess {
				t.Fatalf("PSO: %04X", uint16(sw))
			}
			if !verifyECDSA(c, pub, msg, sig) {
				t.Errorf("signature %X does not verify", sig)
			}
			if c.std != nil {
				pk, err := ecdsa.ParseUncompressedPublicKey(c.std, pub)
				if err != nil {
					t.Fatal(err)
				}
				d := sha1.Sum(msg)
				if !ecdsa.VerifyASN1(pk, d[:], sig) {
					t.Errorf("crypto/ecdsa rejects the signature")
				}
			}
		})
	}
}

// TestRSA generates and imports RSA-2048 keys and uses them for PKCS#1 v1.5
// signatures and decryption.
func TestRSA(t *testing.T) {
	tc := newTestCard(t)
	loggedIn(tc)
	tc.must("00 22 41 00 06 80 01 F3 84 01 00", apdu.SWSuccess)
	resp, sw := tc.fetch(h("00 46 42 00 00"))
	if sw != apdu.SWSuccess {
		t.Fatalf("GENERATE: %04X", uint16(sw))
	}
	tlv, _, err := apdu.ParseTLV(resp)
	if err != nil || tlv.Tag != 0x7F49 {
		t.Fatalf("GENERATE answered %X", resp)
	}
	n, _, _ := apdu.FindTLV(tlv.Value, 0x81)
	e, _, _ := apdu.FindTLV(tlv.Value, 0x82)
	if hex.EncodeToString(e) != "010001" || len(n) != 256 {
		t.Fatalf("public key: n %d bytes, e %X", len(n), e)
	}
	generated := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: 65537}

	imported, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	imported.Precompute()
	tc.must("00 22 41 00 06 80 01 F3 84 01 01", apdu.SWSuccess)
	// 7F48 {92 p, 93 q, 94 qInv, 95 dp, 96 dq}
	crtTemplate := func(values ...*big.Int) []byte {
		var parts [][]byte
		for i, v := range values {
			parts = append(parts, apdu.AppendTLV(nil, apdu.Tag(0x92+i), v.Bytes()))
		}
		return apdu.Nest(0x7F48, parts...)
	}
	pc := imported.Precomputed
	crt := crtTemplate(imported.Primes[0], imported.Primes[1], pc.Qinv, pc.Dp, pc.Dq)
	if _, sw := tc.chained(0x00, 0xDB, 0x3F, 0xFF, crt); sw != apdu.SWSuccess {
		t.Fatalf("PUT DATA of an RSA key (%d bytes): %04X", len(crt), uint16(sw))
	}
	// A mismatched CRT value is refused.
	bad := crtTemplate(imported.Primes[0], imported.Primes[1], pc.Qinv, pc.Dq, pc.Dp)
	if _, sw := tc.chained(0x00, 0xDB, 0x3F, 0xFF, bad); sw != apdu.SWIncorrectData {
		t.Errorf("PUT DATA of mismatched CRT values: %04X, want 6A80", uint16(sw))
	}

	digest := sha256.Sum256([]byte("tessera"))
	prefix := h("3031300d060960864801650304020105000420")
	for ref, pub := range map[byte]*rsa.PublicKey{0: generated, 1: &imported.PublicKey} {
		tc.must(fmt.Sprintf("00 22 41 B6 0A 80 01 11 81 02 5015 84 01 %02X", ref), apdu.SWSuccess)
		sig, sw := tc.sendRaw(append(append(h("00 2A 9E 9A 33"), append(prefix, digest[:]...)...), 0x00))
		if sw != apdu.SWSuccess {
			t.Fatalf("slot %d: sign: %04X", ref, uint16(sw))
		}
		if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig); err != nil {
			t.Errorf("slot %d: signature does not verify: %v", ref, err)
		}
		ct, err := rsa.EncryptPKCS1v15(rand.Reader, pub, []byte("secret"))
		if err != nil {
			t.Fatal(err)
		}
		tc.must(fmt.Sprintf("00 22 41 B8 0A 80 01 11 81 02 5015 84 01 %02X", ref), apdu.SWSuccess)
		plain, sw := tc.chained(0x00, 0x2A, 0x80, 0x86, append([]byte{0}, ct...))
		if sw != apdu.SWSuccess || string(plain) != "secret" {
			t.Errorf("slot %d: decipher = %q %04X", ref, plain, uint16(sw))
		}
	}
	// The environment binds the operation: a signature key set for
	// deciphering is refused.
	tc.must("00 22 41 B8 0A 80 01 11 81 02 5015 84 01 00", apdu.SWSuccess)
	tc.must("00 2A 9E 9A 04 01020304 00", apdu.SWConditionsNotSatisfied)
	// An RSA key with ECDSA.
	tc.must("00 22 41 B6 0A 80 01 21 81 02 5015 84 01 00", apdu.SWSuccess)
	tc.must("00 2A 9E 9A 04 01020304 00", apdu.SWConditionsNotSatisfied)
}

func TestImportEC(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := key.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	tc := newTestCard(t)
	keygenEnv("EC")(tc)
	tc.must("00 DB 3F FF F4 E0 81 F1"+p256Params+"8820"+hex.EncodeToString(raw), apdu.SWSuccess)
	tc.must("00 22 41 B6 0A 80 01 21 81 02 5015 84 01 02", apdu.SWSuccess)
	sig := tc.must("00 2A 9E 9A 05 68656C6C6F 00", apdu.SWSuccess)
	d := sha1.Sum([]byte("hello"))
	if !ecdsa.VerifyASN1(&key.PublicKey, d[:], sig) {
		t.Error("signature with the imported key does not verify")
	}
}

func TestGetChallenge(t *testing.T) {
	tc := newTestCard(t)
	fresh(tc)
	for _, n := range []int{1, 10, 255} {
		if got := tc.must(fmt.Sprintf("00 84 00 00 %02X", n), apdu.SWSuccess); len(got) != n {
			t.Errorf("Le %d: %d bytes", n, len(got))
		}
	}
	a := tc.must("00 84 00 00 00", apdu.SWSuccess)
	b := tc.must("00 84 00 00 00", apdu.SWSuccess)
	if len(a) != 256 || string(a) == string(b) {
		t.Errorf("Le 256: %d bytes, repeated: %v", len(a), string(a) == string(b))
	}
}

// TestGetResponseRules: GET RESPONSE must ask for exactly what is pending
// (6Cxx otherwise, the data kept); another command while data are pending
// is refused with 6900, the data kept; SELECT of the application drops them.
func TestGetResponseRules(t *testing.T) {
	tc := newTestCard(t)
	keygenEnv("EC")(tc)
	first, sw := tc.send(ecGenP256)
	if sw != apdu.MoreDataSW(0x17) || len(first) != 256 {
		t.Fatalf("GENERATE: %d bytes, SW %04X; want 256 and 6117", len(first), uint16(sw))
	}
	tc.must("00 C0 00 00 00", apdu.WrongLeSW(0x17))
	tc.must("00 C0 00 00 10", apdu.WrongLeSW(0x17))
	tc.must("00 B0 00 00 10", 0x6900)
	tc.must("00 84 00 00 08", 0x6900)
	rest := tc.must("00 C0 00 00 17", apdu.SWSuccess)
	if tlv, _, err := apdu.ParseTLV(append(first, rest...)); err != nil || tlv.Tag != 0x7F49 {
		t.Fatalf("the public key did not survive the refusals: %v", err)
	}
	tc.must("00 C0 00 00 17", apdu.SWConditionsNotSatisfied) // nothing pending any more
	tc.must("00 22 41 00 06 80 01 EC 84 01 03", apdu.SWSuccess)
	tc.must(ecGenP256, apdu.MoreDataSW(0x17))
	tc.must(cmdSelectApp, apdu.SWSuccess)
	tc.must("00 C0 00 00 17", apdu.SWConditionsNotSatisfied)
}

// TestKeyCacheFollowsTheSlot: a key replaced in its slot signs with the new
// key at once (parsed keys are kept in RAM only while their record stands).
func TestKeyCacheFollowsTheSlot(t *testing.T) {
	tc := newTestCard(t)
	loggedIn(tc)
	msg := []byte("cache")
	d := sha1.Sum(msg)
	for round := range 3 {
		tc.must("00 22 41 00 06 80 01 EC 84 01 05", apdu.SWSuccess)
		resp, sw := tc.fetch(h(ecGenP256))
		if sw != apdu.SWSuccess {
			t.Fatalf("round %d: GENERATE: %04X", round, uint16(sw))
		}
		tlv, _, _ := apdu.ParseTLV(resp)
		point, _, _ := apdu.FindTLV(tlv.Value, 0x86)
		pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), point)
		if err != nil {
			t.Fatal(err)
		}
		tc.must("00 22 41 B6 06 80 01 21 84 01 05", apdu.SWSuccess)
		sig := tc.must("00 2A 9E 9A 05 6361636865 00", apdu.SWSuccess)
		if !ecdsa.VerifyASN1(pub, d[:], sig) {
			t.Fatalf("round %d: the signature is not by the key just generated in the slot", round)
		}
	}
}

// TestProfileSettings: the profile's try limits and key import switch.
func TestProfileSettings(t *testing.T) {
	p, _ := profile.Parse([]byte("base: iso-token\nname: strict-iso\niso:\n  pin_retries: 5\n  puk_retries: 2\n  key_import: false\n"))
	tc := &testCard{t: t, c: cardtest.NewCard(t, p, &nvm.Memory{}, 1, New(p.ISO))}
	tc.must(cmdSelectApp, apdu.SWSuccess)
	tc.must(cmdSetPUK, apdu.SWSuccess)
	tc.must(cmdSetPIN, apdu.SWSuccess)
	tc.must("00 20 00 01", apdu.RetriesSW(5))
	tc.must(cmdVerifyPIN, apdu.SWSuccess)
	tc.must("00 22 41 00 06 80 01 EC 84 01 00", apdu.SWSuccess)
	tc.must("00 DB 3F FF F4 E0 81 F1"+p256Params+"8820"+fmt.Sprintf("%064x", 7), 0x6900)
	tc.must("00 2C 00 01 20 30303030303030303030303030303030 31323334353600000000000000000000", apdu.RetriesSW(1))
	if _, err := profile.Parse([]byte("base: iso-token\nname: bad\niso:\n  pin_retries: 0\n")); err == nil || !strings.Contains(err.Error(), "iso.pin_retries: 0") {
		t.Errorf("a profile with iso.pin_retries 0: %v, want an error naming it", err)
	}
}
