package openpgp

import (
	"testing"

	"github.com/tesseracard/tessera/apdu"
	"github.com/tesseracard/tessera/firmware"
)

// TestDisclose checks what a trace may show of each OpenPGP exchange,
// through the card OS: passwords, the resetting code, private keys,
// deciphered data and challenges never.
func TestDisclose(t *testing.T) {
	tc := newTestCard(t)
	tc.must(cmdSelect, apdu.SWSuccess)
	both := firmware.Disclosure{Command: true, Response: true}
	answerOnly := firmware.Disclosure{Response: true}
	tests := []struct {
		name string
		cmd  []byte
		want firmware.Disclosure
	}{
		{"verify", h(verifyPW1Sign), answerOnly},
		{"verify status", h("00 20 00 83"), answerOnly},
		{"change", pwCmd(0x24, 0, 0x81, "123456"+"654321"), answerOnly},
		{"reset retry counter", pwCmd(0x2C, 2, 0x81, "654321"), answerOnly},
		{"get data", h("00 CA 00 6E 00"), both},
		{"get data algorithm information (public)", h("00 CA 00 FA 00"), both},
		{"get data private DO", h("00 CA 01 02 00"), firmware.Disclosure{Command: true}},
		{"put data name", putData(tagName, []byte("Doe")), both},
		{"put data resetting code", putData(tagResetCode, []byte("rcrcrcrc")), answerOnly},
		{"put data fingerprint", putData(0x00C7, make([]byte, 20)), both},
		{"put data date", putData(0x00D0, make([]byte, 4)), both},
		{"put data attributes", putData(tagAlgSig, attrEd25519), both},
		{"put data touch", putData(0x00D9, []byte{0x01, 0x20}), both},
		{"put data AES key", putData(0x00D5, make([]byte, 16)), answerOnly},
		{"put data KDF", putData(tagKDF, []byte{0x81, 0x01, 0x03}), answerOnly},
		{"put data private DO", putData(0x0103, []byte("secret")), answerOnly},
		{"key import", command(0x00, 0xDB, 0x3F, 0xFF, h("4D 03 B6 00 00")), answerOnly},
		{"key import chained", command(0x10, 0xDB, 0x3F, 0xFF, h("4D 03 B6 00 00")), firmware.Disclosure{}},
		{"generate", h("00 47 81 00 02 B6 00 00"), both},
		{"sign", command(0x00, 0x2A, 0x9E, 0x9A, make([]byte, 32)), both},
		{"decipher", command(0x00, 0x2A, 0x80, 0x86, make([]byte, 40)), firmware.Disclosure{Command: true}},
		{"decipher chained", command(0x10, 0x2A, 0x80, 0x86, make([]byte, 40)), firmware.Disclosure{Command: true}},
		{"pso other", command(0x00, 0x2A, 0x86, 0x80, make([]byte, 40)), firmware.Disclosure{}},
		{"internal authenticate", command(0x00, 0x88, 0x00, 0x00, make([]byte, 32)), both},
		{"get challenge", h("00 84 00 00 08"), firmware.Disclosure{Command: true}},
		{"select data", h("00 A5 01 04 06 60 04 5C 02 7F 21"), both},
		{"terminate", h("00 E6 00 00"), both},
		{"activate", h("00 44 00 00"), both},
		{"unknown", h("00 EE 00 00 01 00"), firmware.Disclosure{}},
		{"proprietary class", h("80 CA 00 6E 00"), firmware.Disclosure{}},
		{"get attestation", h("80 FB 01 00"), both},
		{"get attestation, another class", h("84 FB 01 00"), firmware.Disclosure{}},
		{"put data attestation certificate", putData(tagAttCert, []byte{0x30, 0x00}), both},
		{"put data attestation attributes", putData(tagAlgAtt, attrEd25519), both},
		{"put data attestation fingerprint", putData(tagFprAtt, make([]byte, 20)), both},
		{"attestation key import", importAttEd25519(make([]byte, 32)), answerOnly},
		{"put data brainpool attributes", putData(tagAlgDec, h("12"+oidBP512)), both},
		{"brainpool key import", importEd25519To([]byte{keyDec, 0x00}, h(brainpoolOpenSSL[2].d)), answerOnly},
		{"brainpool decipher", command(0x00, 0x2A, 0x80, 0x86, cipherDO(h(brainpoolOpenSSL[2].peer))), firmware.Disclosure{Command: true}},
	}
	for _, tt := range tests {
		tc.c.Process(tt.cmd)
		if got := tc.c.TakeDisclosure(); got != tt.want {
			t.Errorf("%s: disclosure %+v, want %+v", tt.name, got, tt.want)
		}
	}
}
