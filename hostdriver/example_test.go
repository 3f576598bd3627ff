package hostdriver_test

import (
	"context"
	"fmt"

	"github.com/tesseracard/tessera/apdu"
	"github.com/tesseracard/tessera/hostdriver"
	"github.com/tesseracard/tessera/simulator"
)

// A Conn applies the ISO/IEC 7816-4 exchange rules (61xx fetched with GET
// RESPONSE, long commands chained) over any Transport: here a simulated
// card in process, which has the Transport's shape without hostdriver
// knowing of it.
func ExampleConn() {
	sim, err := simulator.New(simulator.Config{})
	if err != nil {
		panic(err)
	}
	defer sim.Close()
	card, err := sim.Add(simulator.CardSpec{Slot: 0})
	if err != nil {
		panic(err)
	}
	c := &hostdriver.Conn{T: card.Transport()}
	ctx := context.Background()
	piv := []byte{0xA0, 0x00, 0x00, 0x03, 0x08}
	if _, err := c.Do(ctx, apdu.Command{INS: apdu.InsSelect, P1: 0x04, Data: piv, Ne: 256}); err != nil {
		panic(err)
	}
	// The attestation certificate is longer than one response: the Conn
	// fetches the rest.
	cert, err := c.Do(ctx, apdu.Command{INS: apdu.InsGetDataOdd, P1: 0x3F, P2: 0xFF, Data: []byte{0x5C, 0x03, 0x5F, 0xFF, 0x01}, Ne: 256})
	fmt.Println(len(cert) > 256, err)
	_, err = c.Do(ctx, apdu.Command{INS: apdu.InsVerify, P2: 0x80})
	fmt.Println(err)
	// Output:
	// true <nil>
	// apdu: 63C3 verification failed (3 retries left)
}
