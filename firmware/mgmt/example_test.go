package mgmt_test

import (
	"fmt"
	"time"

	"github.com/tesseracard/tessera/firmware"
	"github.com/tesseracard/tessera/firmware/mgmt"
	"github.com/tesseracard/tessera/firmware/nvm"
	"github.com/tesseracard/tessera/firmware/profile"
)

// A card with the management application answers ykman's SELECT with its
// firmware version and READ CONFIG with the device information.
func Example() {
	p, _ := profile.Builtin("yubikey-5.7")
	card, err := firmware.New(firmware.Config{
		ATR: p.ATR, Medium: &nvm.Memory{}, Rand: zeros{}, Clock: time.Now,
		Applets: []firmware.Applet{mgmt.New(p, mgmt.Options{Serial: 1234})},
	})
	if err != nil {
		panic(err)
	}
	if _, err := card.PowerOn(); err != nil {
		panic(err)
	}
	sel := card.Process(append([]byte{0x00, 0xA4, 0x04, 0x00, 0x08}, mgmt.AID()...))
	fmt.Printf("SELECT: %q %X\n", sel[:len(sel)-2], sel[len(sel)-2:])
	cfg := card.Process([]byte{0x00, 0x1D, 0x00, 0x00, 0x00})
	fmt.Printf("READ CONFIG: % X\n", cfg[:12])
	// Output:
	// SELECT: "5.7.1" 9000
	// READ CONFIG: 23 01 02 00 38 02 04 00 00 04 D2 03
}

type zeros struct{}

func (zeros) Read(b []byte) (int, error) { clear(b); return len(b), nil }
