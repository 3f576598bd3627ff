package openpgp_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"time"

	"github.com/tesseracard/tessera/apdu"
	"github.com/tesseracard/tessera/firmware"
	"github.com/tesseracard/tessera/firmware/nvm"
	"github.com/tesseracard/tessera/firmware/openpgp"
	"github.com/tesseracard/tessera/firmware/profile"
)

// A card with the OpenPGP application alone: SELECT by the application's
// prefix, as GnuPG does, VERIFY of the admin password, Ed25519 attributes
// for the signature key, GENERATE, VERIFY of PW1 for signing, then a
// signature the public key verifies.
func Example() {
	p, _ := profile.Builtin("openpgp")
	card, err := firmware.New(firmware.Config{
		ATR: p.ATR, Medium: &nvm.Memory{}, Rand: rand.Reader, Clock: time.Now,
		ExtendedLength: p.ExtendedLength,
		Applets:        []firmware.Applet{openpgp.New(p, openpgp.Options{})},
	})
	if err != nil {
		panic(err)
	}
	if _, err := card.PowerOn(); err != nil {
		panic(err)
	}
	send := func(c apdu.Command) apdu.Response {
		raw, _ := c.Marshal()
		r, _ := apdu.ParseResponse(card.Process(raw))
		return r
	}
	sel := send(apdu.Command{INS: apdu.InsSelect, P1: 0x04, Data: []byte{0xD2, 0x76, 0x00, 0x01, 0x24, 0x01}})
	fmt.Printf("SELECT %04X\n", uint16(sel.SW))
	aid := send(apdu.Command{INS: apdu.InsGetData, P2: 0x4F, Ne: 256})
	fmt.Printf("AID % X\n", aid.Data)
	send(apdu.Command{INS: apdu.InsVerify, P2: 0x83, Data: []byte(openpgp.DefaultPW3)})
	ed25519Attrs := []byte{0x16, 0x2B, 0x06, 0x01, 0x04, 0x01, 0xDA, 0x47, 0x0F, 0x01}
	send(apdu.Command{INS: apdu.InsPutData, P2: 0xC1, Data: ed25519Attrs})
	gen := send(apdu.Command{INS: apdu.InsGenerateKeyPairOdd, P1: 0x80, Data: []byte{0xB6, 0x00}, Ne: 256})
	tmpl, _, _ := apdu.FindTLV(gen.Data, 0x7F49)
	pub, _, _ := apdu.FindTLV(tmpl, 0x86)
	send(apdu.Command{INS: apdu.InsVerify, P2: 0x81, Data: []byte(openpgp.DefaultPW1)})
	msg := []byte("hello")
	sig := send(apdu.Command{INS: apdu.InsPerformSecurityOperation, P1: 0x9E, P2: 0x9A, Data: msg, Ne: 256})
	fmt.Println("signature verifies:", ed25519.Verify(pub, msg, sig.Data))
	// Output:
	// SELECT 9000
	// AID D2 76 00 01 24 01 03 04 FF FE 10 00 00 08 00 00
	// signature verifies: true
}
