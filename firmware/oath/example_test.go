package oath_test

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/tesseracard/tessera/apdu"
	"github.com/tesseracard/tessera/firmware"
	"github.com/tesseracard/tessera/firmware/nvm"
	"github.com/tesseracard/tessera/firmware/oath"
	"github.com/tesseracard/tessera/firmware/profile"
)

// A card with the OATH application alone: PUT of the RFC 4226 test
// credential as HOTP, then CALCULATE of its first code, truncated.
func Example() {
	p, _ := profile.Builtin("yubikey-5.7")
	card, err := firmware.New(firmware.Config{
		ATR: p.ATR, Medium: &nvm.Memory{}, Rand: rand.Reader, Clock: time.Now,
		Capacity: p.Capacity, MaxCommand: p.MaxCommand,
		Applets: []firmware.Applet{oath.New(p, oath.Options{})},
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
	send(apdu.Command{INS: apdu.InsSelect, P1: 0x04, Data: oath.AID()})
	key := append([]byte{0x11, 6}, "12345678901234567890"...) // HOTP, SHA-1, 6 digits
	put := append(apdu.AppendTLV(nil, 0x71, []byte("rfc4226")), apdu.AppendTLV(nil, 0x73, key)...)
	fmt.Printf("PUT %04X\n", uint16(send(apdu.Command{INS: apdu.InsOATHPut, Data: put}).SW))
	calc := append(apdu.AppendTLV(nil, 0x71, []byte("rfc4226")), apdu.AppendTLV(nil, 0x74, nil)...)
	r := send(apdu.Command{INS: apdu.InsOATHCalculate, P2: 0x01, Data: calc})
	v, _, _ := apdu.FindTLV(r.Data, 0x76) // digits, then the 31-bit value
	fmt.Printf("%06d\n", binary.BigEndian.Uint32(v[1:])%1000000)
	// Output:
	// PUT 9000
	// 755224
}
