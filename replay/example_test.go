package replay_test

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/tesseracard/tessera/replay"
	"github.com/tesseracard/tessera/simulator/simtarget"
)

// Replay a piv-go mock file of a YubiKey 5.7.1 on a simulated YubiKey 5.7.
func Example() {
	const mock = `on 0.131 0.131 Transmit 00a4040009a0000003080000100000 61114f0600001000010079074f05a0000003089000
on 1.016 1.016 Transmit 00fd0000 0507019000
`
	rec, err := replay.Read(strings.NewReader(mock), "TestGetVersion.trace", replay.FormatAuto)
	if err != nil {
		fmt.Println(err)
		return
	}
	card, err := simtarget.Open(simtarget.Options{Profile: "yubikey-5.7"})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer card.Close()
	res, err := replay.Replay(context.Background(), card, rec, replay.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	replay.WriteText(os.Stdout, res, false)
	// Output:
	// == TestGetVersion.trace (pivgo)
	// #1    line 1     SELECT  00A4040009A0000003080000100000 → 61114F0600001000010079074F05A000000308 9000  [9000 success]  exact
	// #2    line 2     GET VERSION  00FD0000 → 050701 9000  [9000 success]  exact
	// TestGetVersion.trace agrees: 2 exchanges: 2 exact, 0 structural, 0 allowed, 0 mismatch, 0 not run
}
