package piv

import (
	"bytes"
	"strings"
	"testing"

	"github.com/tesseracard/tessera/apdu"
	"github.com/tesseracard/tessera/firmware"
	"github.com/tesseracard/tessera/firmware/profile"
	"github.com/tesseracard/tessera/pivalg"
)

func TestDisclose(t *testing.T) {
	var (
		none    = firmware.Disclosure{}
		both    = firmware.Disclosure{Command: true, Response: true}
		cmdOnly = firmware.Disclosure{Command: true}
		outOnly = firmware.Disclosure{Response: true}
	)
	// A PKCS #1 v1.5 type-1 block of RSA-2048, and a block that is not one
	// (a decryption, a PSS or raw signature).
	sigBlock := append(append([]byte{0, 1}, bytes.Repeat([]byte{0xFF}, 221)...), append([]byte{0}, make([]byte, 32)...)...)
	otherBlock := append([]byte{0, 2}, bytes.Repeat([]byte{0x5A}, 254)...)
	ga := func(p1, p2 byte, tag apdu.Tag, v []byte) apdu.Command {
		return apdu.Command{INS: apdu.InsGeneralAuthenticate, P1: p1, P2: p2, Data: apdu.Nest(0x7C, []byte{0x82, 0x00}, apdu.AppendTLV(nil, tag, v))}
	}
	cmd := func(s string) apdu.Command {
		c, err := apdu.ParseCommand(h(s))
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		return c
	}
	chained := func(c apdu.Command, n int) apdu.Command {
		c.CLA |= apdu.CLAChaining
		c.Data = c.Data[:n]
		return c
	}
	putCert := cmd("00 DB 3F FF 0B 5C 03 5F C1 05 53 04 70 02 30 00")
	putPrinted := cmd("00 DB 3F FF 0B 5C 03 5F C1 09 53 04 88 02 89 00")
	tests := []struct {
		name string
		cmd  apdu.Command
		want firmware.Disclosure
	}{
		{"VERIFY the PIN", cmd("00 20 00 80 08 31323334353637FF"), outOnly},
		{"VERIFY a TOTP code", cmd("00 20 00 90 06 343932383137"), outOnly},
		{"CHANGE REFERENCE DATA", cmd("00 24 00 81 10 3132333435363738 3132333435363738"), outOnly},
		{"RESET RETRY COUNTER", cmd("00 2C 00 80 10 3132333435363738 3132333435363738"), outOnly},
		{"IMPORT KEY", cmd("00 FE 11 9A 22 06 20" + strings.Repeat("11", 32)), outOnly},
		{"IMPORT KEY, a chain piece", chained(cmd("00 FE 07 9D 04 01 81 80 AA"), 4), outOnly},
		{"SET MANAGEMENT KEY", cmd("00 FF FF FF 1B 03 9B 18" + strings.Repeat("01", 24)), outOnly},
		{"management key witness", cmd("00 87 03 9B 04 7C 02 80 00"), none},
		{"management key, chained", chained(cmd("00 87 03 9B 04 7C 02 80 00"), 2), none},
		{"ECDSA signature", ga(pivalg.P256, 0x9A, 0x81, make([]byte, 32)), both},
		{"Ed25519 signature", ga(pivalg.Ed25519, 0x9C, 0x81, []byte("message")), both},
		{"RSA signature block", ga(pivalg.RSA2048, 0x9C, 0x81, sigBlock), both},
		{"RSA decryption", ga(pivalg.RSA2048, 0x9D, 0x81, otherBlock), cmdOnly},
		{"RSA, chain piece", chained(ga(pivalg.RSA2048, 0x9C, 0x81, sigBlock), 200), cmdOnly},
		{"ECDH P-256", ga(pivalg.P256, 0x9D, 0x85, make([]byte, 65)), cmdOnly},
		{"ECDH X25519", ga(pivalg.X25519, 0x82, 0x85, make([]byte, 32)), cmdOnly},
		{"GENERAL AUTHENTICATE, malformed", cmd("00 87 11 9A 02 7C 05"), cmdOnly},
		{"GET DATA, certificate", cmd("00 CB 3F FF 05 5C 03 5F C1 05"), both},
		{"GET DATA, printed information", cmd("00 CB 3F FF 05 5C 03 5F C1 09"), cmdOnly},
		{"GET DATA, facial image", cmd("00 CB 3F FF 05 5C 03 5F C1 08"), cmdOnly},
		{"GET DATA, unknown object", cmd("00 CB 3F FF 05 5C 03 5F 00 01"), cmdOnly},
		{"PUT DATA, certificate", putCert, both},
		{"PUT DATA, certificate, first piece", chained(putCert, 6), both},
		{"PUT DATA, tag not yet complete", chained(putCert, 3), outOnly},
		{"PUT DATA, printed information", putPrinted, outOnly},
		{"PUT DATA, printed information, first piece", chained(putPrinted, 5), outOnly},
		{"PUT DATA, unknown object", cmd("00 DB 3F FF 09 5C 03 5F 00 01 53 02 AA BB"), outOnly},
		{"GENERATE", cmd("00 47 00 9A 05 AC 03 80 01 11"), both},
		{"ATTEST", cmd("00 F9 9A 00"), both},
		{"GET METADATA", cmd("00 F7 00 9B"), both},
		{"GET SERIAL", cmd("00 F8 00 00"), both},
		{"GET VERSION", cmd("00 FD 00 00"), both},
		{"SET PIN RETRIES", cmd("00 FA 05 05"), both},
		{"RESET", cmd("00 FB 00 00"), both},
		{"MOVE KEY", cmd("00 F6 9A 82"), both},
		{"unknown instruction", cmd("00 EE 00 00 02 1234"), none},
		{"proprietary class", cmd("80 CB 3F FF 05 5C 03 5F C1 05"), none},
	}
	p, _ := profile.Builtin("default")
	a := New(p, Options{})
	for _, tt := range tests {
		if got := a.Disclose(tt.cmd); got != tt.want {
			t.Errorf("%s: Disclose(%02X %02X %02X %02X, %d bytes) = %+v, want %+v", tt.name, tt.cmd.CLA, tt.cmd.INS, tt.cmd.P1, tt.cmd.P2, len(tt.cmd.Data), got, tt.want)
		}
	}
}

// TestDiscloseTokenState: the token state object of a persona card is
// read without the PIN and shows; other cards hold no such object.
func TestDiscloseTokenState(t *testing.T) {
	get, err := apdu.ParseCommand(h("00 CB 3F FF 05 5C 03 5F FF 20"))
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]firmware.Disclosure{
		"pin-puk-envelope": {Command: true, Response: true},
		"default":          {Command: true},
	} {
		p, _ := profile.Builtin(name)
		if got := New(p, Options{}).Disclose(get); got != want {
			t.Errorf("%s: Disclose(GET DATA 5FFF20) = %+v, want %+v", name, got, want)
		}
	}
}
