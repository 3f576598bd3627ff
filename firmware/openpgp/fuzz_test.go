package openpgp

import (
	"bytes"
	"testing"

	"github.com/tesseracard/tessera/apdu"
	"github.com/tesseracard/tessera/firmware/nvm"
	"github.com/tesseracard/tessera/internal/cardtest"
)

// Meta-operations in a fuzz script, in place of a length byte.
const (
	metaAdmin = 0xFF // SELECT, VERIFY PW3, PW1 81 and PW1 82
	metaReset = 0xFE // warm reset
	maxScript = 4096
)

// FuzzOpenPGP drives the application with random APDU sequences: no panic,
// every answer is a response with a valid status word, and a refused
// command leaves persistent memory unchanged (but for the try counter a
// failed VERIFY spends).
func FuzzOpenPGP(f *testing.F) {
	f.Add(cardtest.Script(cmdSelect, "00 CA 00 6E 00", "00 CA 00 65 00", "00 CA 00 C4 00", "00 CA 00 7A 00", "00 CA 5F 52 00", "00 CA 7F 66 00", "00 CA 00 FA 00", "00 CA 7F 74 00"))
	// The attestation key's DOs, in C5, C6, CD and DE of a YubiKey's 6E.
	f.Add(cardtest.Script(byte(metaAdmin), putData(tagFprAtt, bytes.Repeat([]byte{1}, 20)), putData(tagCAFprAtt, bytes.Repeat([]byte{2}, 20)), putData(tagDateAtt, h("662C05FF")),
		"00 CA 00 6E 00", "00 CA 00 C5 00", "00 CA 00 C6 00", "00 CA 00 CD 00", "00 CA 00 DE 00"))
	f.Add(cardtest.Script(byte(metaAdmin), "00 CA 00 FA 00", putData(tagAlgSig, h("01 0800 0011 00")), putData(tagAlgAtt, h("01 0C00 0011 00")), "00 CA 00 C1 00", "00 CA 00 FA 00"))
	f.Add(cardtest.Script(cmdSelect, verifyPW1Sign, wrongPW1, "00 20 00 82", "00 20 FF 81", wrongPW3, verifyPW3, "00 24 00 81 0C 313233343536 363534333231"))
	f.Add(cardtest.Script(byte(metaAdmin), putData(tagName, []byte("Doe<<J")), putData(tagResetCode, []byte("rcrcrcrc")), "00 2C 00 81 0E 7263726372637263 373737373737", "00 2C 02 81 06 313131313131", putData(tagPWStatus, []byte{0})))
	f.Add(cardtest.Script(byte(metaAdmin), putData(tagAlgSig, attrEd25519), "00 47 80 00 02 B6 00 00", byte(metaAdmin), "00 2A 9E 9A 03 616263", "00 2A 9E 9A 03 616263", "00 47 81 00 02 B6 00 00"))
	f.Add(cardtest.Script(byte(metaAdmin), putData(tagAlgDec, attrX25519), "00 47 80 00 02 B8 00 00", "00 2A 80 86 25 A6 23 7F 49 20 86 1E 0000", importEd25519(make([]byte, 32))))
	f.Add(cardtest.Script(byte(metaAdmin), "00 E6 00 00", cmdSelect, "00 CA 00 4F 00", byte(metaReset), "00 44 00 00", cmdSelect, "00 84 00 00 08", "00 88 00 00 02 0102"))
	f.Add(cardtest.Script(byte(metaAdmin), "00 F1 00 00 00", "00 F2 00 00 03 05 00 05", putData(0x00D7, []byte{0x02, 0x20}), putData(0x0103, []byte("x")), "00 CA 01 03 00"))
	f.Add(cardtest.Script(byte(metaAdmin), putData(tagAlgSig, attrEd25519), "00 47 80 00 02 B6 00 00", putData(0x00D6, []byte{0x01, 0x20}), byte(metaAdmin), "00 2A 9E 9A 03 616263", "00 2A 9E 9A 03 616263", putData(0x00D6, []byte{0x03, 0x20})))
	// GET ATTESTATION (YubiKey: CLA 80 INS FB) of each key, the read-back
	// through SELECT DATA, the attestation DOs, and the attestation key's
	// import (CRT B6 84 01 81).
	f.Add(cardtest.Script(byte(metaAdmin), putData(tagAlgSig, attrEd25519), "00 47 80 00 02 B6 00 00", "80 FB 01 00", "80 FB 02 00", "80 FB 04 00", "80 FB 01 01",
		"00 A5 02 04 06 60 04 5C 02 7F 21", "00 CA 7F 21 00", "00 CA 00 FC 00", "00 CA 00 DA 00", "00 CA 00 DB 00", "00 CA 00 DD 00", "00 47 81 00 05 B6 03 84 01 81 00"))
	f.Add(cardtest.Script(byte(metaAdmin), putData(0x00D9, []byte{0x01, 0x20}), putData(tagAlgAtt, attrEd25519), importAttEd25519(bytes.Repeat([]byte{7}, 32)), putData(tagAttCert, []byte{0x30, 0x00}), putData(tagFprAtt, make([]byte, 20)), "00 E6 00 00", "00 44 00 00", byte(metaAdmin), "80 FB 03 00"))
	// Brainpool keys: ECDH generation and PSO:DECIPHER with a point off
	// the curve, ECDSA import and signature.
	f.Add(cardtest.Script(byte(metaAdmin), putData(tagAlgDec, h("12"+oidBP256)), "00 47 80 00 02 B8 00 00", command(0x00, 0x2A, 0x80, 0x86, cipherDO(append([]byte{4}, make([]byte, 64)...))),
		putData(tagAlgSig, h("13"+oidBP384+"FF")), importEd25519(bytes.Repeat([]byte{7}, 48)), byte(metaAdmin), "00 2A 9E 9A 03 616263"))
	f.Fuzz(func(t *testing.T, script []byte) {
		if len(script) > maxScript {
			return
		}
		// Every script runs on the plain card, on a YubiKey (F1, F2, touch
		// policies) whose sensor touches at once, and on one whose sensor
		// refuses every other touch.
		for _, tt := range []struct {
			base  string
			touch TouchSource
		}{{"openpgp", nil}, {"yubikey-5.7", nil}, {"yubikey-5.7", &flipSensor{}}} {
			runScript(t, newCardWith(t, testProfile(t, tt.base, ""), nvm.NewTearable(&nvm.Memory{}), Options{Touch: tt.touch}), script)
		}
	})
}

// flipSensor is a touch sensor that refuses every other touch, starting
// with the first.
type flipSensor struct{ n int }

func (s *flipSensor) Touch(byte) bool {
	s.n++
	return s.n%2 == 0
}

// runScript runs a fuzz script on tc, checking every answer.
func runScript(t *testing.T, tc *testCard, script []byte) {
	meta := func(op byte) bool {
		switch op {
		case metaAdmin:
			for _, c := range []string{cmdSelect, verifyPW3, verifyPW1Sign, verifyPW1Other} {
				tc.c.Process(h(c))
			}
		case metaReset:
			if _, err := tc.c.PowerOn(); err != nil {
				t.Fatal(err)
			}
		default:
			return false
		}
		return true
	}
	// RSA generation takes seconds each: the fuzzer would do little else.
	cardtest.RunScript(t, cardtest.Card{Card: tc.c, Tear: tc.tm}, script, meta, tc.rsaGeneration, keyPW1, keyRC, keyPW3)
}

// rsaGeneration reports whether raw would generate an RSA key, which the
// fuzz target leaves out for its time (TestRSADefaultKey and the key
// operations' tests cover it).
func (tc *testCard) rsaGeneration(raw []byte) bool {
	cmd, err := apdu.ParseCommand(raw)
	if err != nil || cmd.INS != apdu.InsGenerateKeyPairOdd || cmd.P1 != 0x80 {
		return false
	}
	ref, err := (&Applet{yubikey: true}).crtRef(cmd.Data)
	if err != nil {
		return false
	}
	v, ok := tc.c.Store().Get(keyAlgPrefix + refName(ref))
	return !ok || len(v) == 0 || v[0] == algRSA
}
