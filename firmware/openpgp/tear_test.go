package openpgp

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"testing/cryptotest"

	"github.com/tesseracard/tessera/apdu"
	"github.com/tesseracard/tessera/firmware/nvm"
	"github.com/tesseracard/tessera/internal/cardtest"
)

// openpgpTearCase is one OpenPGP command that writes persistent memory,
// with the exchanges that prepare the card for it, and the password whose
// try it spends, if any.
type openpgpTearCase struct {
	name    string
	setup   func(tc *testCard)
	cmd     []byte
	counter string
	right   bool
	base    string // the profile; "" is openpgp
}

func selected(tc *testCard) { tc.must(cmdSelect, apdu.SWSuccess) }

func withResettingCode(tc *testCard) {
	tc.admin()
	tc.mustRaw(putData(tagResetCode, []byte("rcrcrcrc")), apdu.SWSuccess)
	tc.must(cmdSelect, apdu.SWSuccess)
}

func withSigKey(tc *testCard) {
	tc.generateEd25519(keySig)
	tc.must(verifyPW1Sign, apdu.SWSuccess)
	tc.mustRaw(command(0x00, 0x2A, 0x9E, 0x9A, []byte("first")), apdu.SWSuccess)
}

func terminatedCard(tc *testCard) {
	withSigKey(tc)
	tc.must(verifyPW3, apdu.SWSuccess)
	tc.must("00 E6 00 00", apdu.SWSuccess)
}

// importEd25519 is key import of an Ed25519 signature key with private
// scalar d, as GnuPG sends it.
func importEd25519(d []byte) []byte { return importEd25519To([]byte{keySig, 0x00}, d) }

// importEd25519To is key import of an Ed25519 key with private scalar d
// into the key the CRT names.
func importEd25519To(crt, d []byte) []byte {
	hdr := apdu.AppendTLV(nil, 0x7F48, []byte{0x92, byte(len(d))})
	body := append(bytes.Clone(crt), hdr...)
	body = apdu.AppendTLV(body, 0x5F48, d)
	return command(0x00, 0xDB, 0x3F, 0xFF, apdu.AppendTLV(nil, 0x4D, body))
}

func openpgpTearCases() []openpgpTearCase {
	ed25519Attrs := func(tc *testCard) {
		tc.admin()
		tc.mustRaw(putData(tagAlgSig, attrEd25519), apdu.SWSuccess)
	}
	brainpoolAttrs := func(ref uint16, attr string) func(tc *testCard) {
		return func(tc *testCard) {
			tc.admin()
			tc.mustRaw(putData(ref, h(attr)), apdu.SWSuccess)
		}
	}
	return []openpgpTearCase{
		{"verify PW1 right", selected, h(verifyPW1Sign), keyPW1, true, ""},
		{"verify PW1 wrong", selected, h(wrongPW1), keyPW1, false, ""},
		{"verify PW3 right", selected, h(verifyPW3), keyPW3, true, ""},
		{"verify PW3 wrong", selected, h(wrongPW3), keyPW3, false, ""},
		{"change PW1 right", selected, pwCmd(0x24, 0, 0x81, "123456"+"65432109"), keyPW1, true, ""},
		{"change PW1 wrong", selected, pwCmd(0x24, 0, 0x81, "000000"+"65432109"), keyPW1, false, ""},
		{"change PW3 right", selected, pwCmd(0x24, 0, 0x83, "12345678"+"abcdefghij"), keyPW3, true, ""},
		{"reset PW1 with the resetting code", withResettingCode, pwCmd(0x2C, 0, 0x81, "rcrcrcrc"+"7777777"), keyRC, true, ""},
		{"reset PW1 with a wrong resetting code", withResettingCode, pwCmd(0x2C, 0, 0x81, "xxxxxxxx"+"7777777"), keyRC, false, ""},
		{"reset PW1 with PW3", func(tc *testCard) { tc.admin() }, pwCmd(0x2C, 2, 0x81, "7777777"), "", true, ""},
		{"put name", func(tc *testCard) { tc.admin() }, putData(tagName, []byte("Doe<<John")), "", true, ""},
		{"put PW status", func(tc *testCard) { tc.admin() }, putData(tagPWStatus, []byte{0x00}), "", true, ""},
		{"put fingerprint", func(tc *testCard) { tc.admin() }, putData(0x00C8, bytes.Repeat([]byte{1}, 20)), "", true, ""},
		{"put resetting code", func(tc *testCard) { tc.admin() }, putData(tagResetCode, []byte("rcrcrcrc")), "", true, ""},
		{"delete resetting code", func(tc *testCard) { withResettingCode(tc); tc.must(verifyPW3, apdu.SWSuccess) }, putData(tagResetCode, nil), "", true, ""},
		{"attributes, key dropped", withSigKey, putData(tagAlgSig, h("13 2A 86 48 CE 3D 03 01 07")), "", true, ""},
		{"generate", ed25519Attrs, h("00 47 80 00 02 B6 00 00"), "", true, ""},
		{"generate again, counter reset", withSigKey, h("00 47 80 00 02 B6 00 00"), "", true, ""},
		{"import", ed25519Attrs, importEd25519(bytes.Repeat([]byte{0x42}, 32)), "", true, ""},
		{"generate brainpoolP256r1 ECDH", brainpoolAttrs(tagAlgDec, "12"+oidBP256), h("00 47 80 00 02 B8 00 00"), "", true, ""},
		{"generate brainpoolP512r1 ECDSA, counter reset", func(tc *testCard) { withSigKey(tc); brainpoolAttrs(tagAlgSig, "13"+oidBP512)(tc) }, h("00 47 80 00 02 B6 00 00"), "", true, "yubikey-5.7"},
		{"import brainpoolP384r1 ECDSA", brainpoolAttrs(tagAlgSig, "13"+oidBP384), importEd25519To([]byte{keySig, 0x00}, bytes.Repeat([]byte{0x42}, 48)), "", true, ""},
		{"attributes brainpoolP256r1, key dropped", withSigKey, putData(tagAlgSig, h("13"+oidBP256)), "", true, ""},
		{"sign", withSigKey, command(0x00, 0x2A, 0x9E, 0x9A, []byte("second")), "", true, ""},
		{"terminate", func(tc *testCard) { tc.admin() }, h("00 E6 00 00"), "", true, ""},
		{"activate", terminatedCard, h("00 44 00 00"), "", true, ""},
		{"put private DO", func(tc *testCard) { selected(tc); tc.must(verifyPW1Other, apdu.SWSuccess) }, putData(0x0101, []byte("note")), "", true, ""},
		{"put touch policy", func(tc *testCard) { tc.admin() }, putData(0x00D6, []byte{0x01, 0x20}), "", true, "yubikey-5.7"},
		{"set PIN retries", func(tc *testCard) { withResettingCode(tc); tc.must(verifyPW3, apdu.SWSuccess) }, h("00 F2 00 00 03 05 00 05"), "", true, "yubikey-5.7"},
		{"set PIN retries, no resetting code", func(tc *testCard) { tc.admin() }, h("00 F2 00 00 03 05 04 06"), "", true, "yubikey-5.7"},
		{"set PIN retries with a resetting code", func(tc *testCard) { withResettingCode(tc); tc.must(verifyPW3, apdu.SWSuccess) }, h("00 F2 00 00 03 05 04 06"), "", true, "yubikey-5.7"},
		{"get attestation", func(tc *testCard) { withSigKey(tc); tc.mustRaw(putData(0x00D9, []byte{0x01, 0x20}), apdu.SWSuccess) }, h("80 FB 01 00"), "", true, "yubikey-5.7"},
		{"get attestation over an earlier one", func(tc *testCard) { withSigKey(tc); tc.must("80 FB 01 00", apdu.SWSuccess) }, h("80 FB 01 00"), "", true, "yubikey-5.7"},
		{"get attestation, first on an old state", func(tc *testCard) { dropAttestation(tc); withSigKey(tc) }, h("80 FB 01 00"), "", true, "yubikey-5.7"},
		{"put attestation certificate", func(tc *testCard) { tc.admin() }, putData(tagAttCert, []byte{0x30, 0x03, 0x02, 0x01, 0x01}), "", true, "yubikey-5.7"},
		{"attestation attributes, key dropped", func(tc *testCard) { tc.admin() }, putData(tagAlgAtt, attrEd25519), "", true, "yubikey-5.7"},
		{"import attestation key", func(tc *testCard) { tc.admin(); tc.mustRaw(putData(tagAlgAtt, attrEd25519), apdu.SWSuccess) }, importAttEd25519(bytes.Repeat([]byte{0x42}, 32)), "", true, "yubikey-5.7"},
		{"activate keeps the attestation key", func(tc *testCard) { terminatedCard(tc); tc.must("80 FB 01 00", swTerminated) }, h("00 44 00 00"), "", true, "yubikey-5.7"},
		{"set PIN retries 25 and 99 with a resetting code", func(tc *testCard) { withResettingCode(tc); tc.must(verifyPW3, apdu.SWSuccess) }, h("00 F2 00 00 03 19 63 19"), "", true, "yubikey-5.7"},
		{"verify PW3 wrong under a limit of 99", func(tc *testCard) { tc.admin(); tc.must("00 F2 00 00 03 63 63 63", apdu.SWSuccess) }, h(wrongPW3), keyPW3, false, "yubikey-5.7"},
		{"put resetting code after SET PIN RETRIES", func(tc *testCard) { tc.admin(); tc.must("00 F2 00 00 03 05 04 06", apdu.SWSuccess) }, putData(tagResetCode, []byte("rcrcrcrc")), "", true, "yubikey-5.7"},
	}
}

// TestOpenPGPTearEveryWrite cuts the power after each write of every
// OpenPGP command that writes: the card must power on holding the old or
// the new records and nothing in between (a password and its length, a key
// and the signature counter, a factory reset all or nothing), gain no try,
// and answer SELECT and VERIFY's status (on a YubiKey profile 6A80,
// as a YubiKey answers that query).
func TestOpenPGPTearEveryWrite(t *testing.T) {
	points := 0
	cases := openpgpTearCases()
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			points += cardtest.Tear{
				Prepare: func() cardtest.Card {
					cryptotest.SetGlobalRandom(t, 1) // the same keys every run
					base := tt.base
					if base == "" {
						base = "openpgp"
					}
					tc := newCardOf(t, testProfile(t, base, ""), nvm.NewTearable(&nvm.Memory{}))
					tt.setup(tc)
					return cardtest.Card{Card: tc.c, Tear: tc.tm}
				},
				Cmd: tt.cmd, Counter: tt.counter, Right: tt.right, Skip: []string{keyPW1, keyRC, keyPW3},
				Alive: func(c cardtest.Card) {
					tc := &testCard{t: t, c: c.Card, tm: c.Tear}
					_, sw := tc.send(cmdSelect)
					if sw == swTerminated {
						return
					}
					if sw != apdu.SWSuccess {
						t.Fatalf("SELECT answered %04X", uint16(sw))
					}
					_, sw = tc.send("00 20 00 83")
					switch yubikey := strings.HasPrefix(tt.base, "yubikey"); {
					case yubikey && sw != apdu.SWIncorrectData:
						t.Errorf("PW3 status answered %04X, want a YubiKey's 6A80", uint16(sw))
					case !yubikey && sw != apdu.SWAuthMethodBlocked && !sw.Is(apdu.SWVerificationFailed):
						t.Errorf("PW3 status answered %04X", uint16(sw))
					}
				},
			}.EveryWrite(t)
		})
	}
	fmt.Printf("tear test: openpgp: exercised %d tear points over %d commands\n", points, len(cases))
}

// importAttEd25519 is key import of an Ed25519 attestation key (CRT B6 {
// 84 01 81 }, as ykman's keys import att sends it) with private scalar d.
func importAttEd25519(d []byte) []byte {
	return importEd25519To([]byte{keySig, 0x03, 0x84, 0x01, keyAtt}, d)
}
