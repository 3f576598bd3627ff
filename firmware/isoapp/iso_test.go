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
	field := func(x *big.Int) []byte { return x.FillBytes(make([]byte, c.size)) }
	var out []byte
	out = apdu.AppendTLV(out, 0x81, field(c.p))
	out = apdu.AppendTLV(out, 0x82, field(c.a))
	out = apdu.AppendTLV(out, 0x83, field(c.b))
	out = apdu.AppendTLV(out, 0x84, c.marshal(c.gx, c.gy))
	out = apdu.AppendTLV(out, 0x85, c.n.Bytes())
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

// verifyECDSA checks a DER signature over SHA-1(msg) with public point pub,
// by the textbook equation.
func verifyECDSA(c *curve, pub, msg, der []byte) bool {
	var sig struct{ R, S *big.Int }
	if rest, err := asn1.Unmarshal(der, &sig); err != nil || len(rest) != 0 {
		return false
	}
	if sig.R.Sign() <= 0 || sig.S.Sign() <= 0 || sig.R.Cmp(c.n) >= 0 || sig.S.Cmp(c.n) >= 0 {
		return false
	}
	qx, qy, ok := c.unmarshal(pub)
	if !ok {
		return false
	}
	d := sha1.Sum(msg)
	e := hashToInt(d[:], c.n)
	w := new(big.Int).ModInverse(sig.S, c.n)
	u1 := new(big.Int).Mul(e, w)
	u1.Mod(u1, c.n)
	u2 := new(big.Int).Mul(sig.R, w)
	u2.Mod(u2, c.n)
	x1, y1 := c.affineMult(c.gx, c.gy, u1)
	x2, y2 := c.affineMult(qx, qy, u2)
	x, _ := c.add(x1, y1, x2, y2)
	return x != nil && new(big.Int).Mod(x, c.n).Cmp(sig.R) == 0
}

func onCurve(c *curve, x, y *big.Int) bool {
	lhs := new(big.Int).Mul(y, y)
	lhs.Mod(lhs, c.p)
	rhs := new(big.Int).Exp(x, big.NewInt(3), c.p)
	rhs.Add(rhs, new(big.Int).Mul(c.a, x)).Add(rhs, c.b).Mod(rhs, c.p)
	return lhs.Cmp(rhs) == 0
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
		t.Run(c.name, func(t *testing.T) {
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
			x, y, ok := c.unmarshal(pub)
			if !ok || !onCurve(c, x, y) {
				t.Fatalf("public point %X is not on %s", pub, c.name)
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

// TestCurveArithmetic checks k·G against key pairs OpenSSL made, for the
// curves the standard library lacks.
func TestCurveArithmetic(t *testing.T) {
	vectors := map[string][2]string{
		"P-192":           {"0a2f417787f6eeaf7bcd27d4b56e769e8e6fc08c3df9df4b", "0401143354220ff9bbfa2ec61c87dae0c09f9588475440be8bbf1baffb598db25cdda5068ccf6006af8a9b4e05a0031150"},
		"brainpoolP192r1": {"73852ffcb0c971a06d27c14883efc7de324143d2f2941690", "048b3bedb38b57349235824f9daed836b36484133549f234845bdafc8cf7211c1bed00945ac9e9e4467429330b8b38f6e6"},
		"brainpoolP224r1": {"80ad17b2f65132e7484016a50d9e26ee5244517a4c7e6cb6b93e11e6", "04b89b377a846643299967cc208f3c2c1a25c28fab480b1560008c9aa816dcc4871da98a1a688d769b53e3375ab43bfde10fe7a3d16d0041a1"},
		"brainpoolP256r1": {"2ba6d61d77cd74a0dcc975d801ced1ecbb9c7584a34d397c0c4b3b55765fa78b", "043867e9606d487b67b8aa8898df1edb5525128d978bc6f6915bbe81d05535ba6005e2e57cf110529d9a773e3a330ffca7cfca62cf3870ffc684a4fc8f7f65c008"},
		"brainpoolP320r1": {"78b175b62135c594ef61584b0f7e77b0e0c3c76dab0e69f30941a4ce0bb16388697d82277d75d29a", "047b125078310a75ac099678c0141fd5f2f59dd4eab3c961fa01f8d9d256452911df76509300290a51846235db21122b439360dde2ad942886439f04488ad58c087780283ce3be8f7a1c5b8f62f63913c0"},
		"secp192k1":       {"0aa4037f85966db924f627379c5be92bbe3c6b1a7a71aeb9", "045f764dc63bcad2e4ec19a50df3c478dfb39ef605260c137406958ee4f81db3f15a2d78b961eb571e1fbc758be8928c89"},
		"secp256k1":       {"7fa01251b2f842d8b3881ac4c9e48def820de78b690afe68e343724ae00da81a", "04f48d5d00a3ed8e905f40154471a44b415b86353af774358ac61e2b9ed25bd7c35d0570f7359e75156a9a888408265e734bfe5e6e7635cdb19e32882fbd3fc15a"},
	}
	for _, c := range curves() {
		if c.std != nil {
			continue
		}
		v, ok := vectors[c.name]
		if !ok {
			t.Errorf("%s: no test vector", c.name)
			continue
		}
		x, y := c.scalarBaseMult(new(big.Int).SetBytes(h(v[0])))
		if got := hex.EncodeToString(c.marshal(x, y)); got != v[1] {
			t.Errorf("%s: d·G = %s, want %s", c.name, got, v[1])
		}
		if nx, _ := c.scalarBaseMult(c.n); nx != nil {
			t.Errorf("%s: n·G is not the point at infinity", c.name)
		}
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

// add returns P+Q in affine coordinates, doubling when they are equal: the
// tests' own arithmetic, independent of the card's Jacobian code.
func (c *curve) add(x1, y1, x2, y2 *big.Int) (x, y *big.Int) {
	if x1 == nil {
		return x2, y2
	}
	if x2 == nil {
		return x1, y1
	}
	p := c.p
	var l *big.Int
	if x1.Cmp(x2) == 0 {
		if new(big.Int).Add(y1, y2).Mod(new(big.Int).Add(y1, y2), p).Sign() == 0 {
			return nil, nil // P + (−P)
		}
		// λ = (3x² + a) / 2y
		num := new(big.Int).Mul(x1, x1)
		num.Mul(num, big.NewInt(3)).Add(num, c.a)
		den := new(big.Int).Lsh(y1, 1)
		l = num.Mul(num, den.ModInverse(den.Mod(den, p), p))
	} else {
		// λ = (y2 − y1) / (x2 − x1)
		num := new(big.Int).Sub(y2, y1)
		den := new(big.Int).Sub(x2, x1)
		l = num.Mul(num, den.ModInverse(den.Mod(den, p), p))
	}
	l.Mod(l, p)
	x = new(big.Int).Mul(l, l)
	x.Sub(x, x1).Sub(x, x2).Mod(x, p)
	y = new(big.Int).Sub(x1, x)
	y.Mul(y, l).Sub(y, y1).Mod(y, p)
	return x, y
}

// affineMult is k·P by affine double-and-add, with add.
func (c *curve) affineMult(px, py, k *big.Int) (x, y *big.Int) {
	for i := k.BitLen() - 1; i >= 0; i-- {
		x, y = c.add(x, y, x, y)
		if k.Bit(i) == 1 {
			x, y = c.add(x, y, px, py)
		}
	}
	return x, y
}

// TestJacobianMatchesAffine: the card's Jacobian scalar multiplication
// agrees with textbook affine arithmetic on every curve, for random and
// edge scalars.
func TestJacobianMatchesAffine(t *testing.T) {
	for _, c := range curves() {
		scalars := []*big.Int{big.NewInt(1), big.NewInt(2), big.NewInt(3), new(big.Int).Sub(c.n, big.NewInt(1))}
		for range 3 {
			k, err := c.randScalar(rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			scalars = append(scalars, k)
		}
		for _, k := range scalars {
			jx, jy := c.mult(c.gx, c.gy, k)
			ax, ay := c.affineMult(c.gx, c.gy, k)
			if jx.Cmp(ax) != 0 || jy.Cmp(ay) != 0 {
				t.Errorf("%s: k = %x: Jacobian and affine disagree", c.name, k)
			}
		}
		if x, _ := c.mult(c.gx, c.gy, c.n); x != nil {
			t.Errorf("%s: n·G is not the point at infinity", c.name)
		}
	}
}
