package simulator_test

import (
	"context"
	"fmt"

	"github.com/tesseracard/tessera/simulator"
)

// A card in process: no pcscd, no state on disk.
func Example() {
	sim, err := simulator.New(simulator.Config{})
	if err != nil {
		panic(err)
	}
	defer sim.Close()
	card, err := sim.Add(simulator.CardSpec{Slot: 0})
	if err != nil {
		panic(err)
	}
	tr := card.Transport()
	ctx := context.Background()
	for _, cmd := range [][]byte{
		{0x00, 0xA4, 0x04, 0x00, 0x05, 0xA0, 0x00, 0x00, 0x03, 0x08}, // SELECT PIV
		{0x00, 0xFD, 0x00, 0x00},                                     // GET VERSION
		{0x00, 0x20, 0x00, 0x80},                                     // VERIFY, status only
	} {
		resp, err := tr.Transmit(ctx, cmd)
		if err != nil {
			panic(err)
		}
		fmt.Printf("%X\n", resp[max(0, len(resp)-5):])
	}
	st, err := card.State(ctx)
	if err != nil {
		panic(err)
	}
	fmt.Println("PIN tries:", st.PIN.Tries, "management key:", st.MgmtKey.Algorithm)
	// Output:
	// 0601009000
	// 0507019000
	// 63C3
	// PIN tries: 3 management key: 3DES
}
