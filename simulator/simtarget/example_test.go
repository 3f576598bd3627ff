package simtarget_test

import (
	"context"
	"fmt"

	"github.com/tesseracard/tessera/conformance"
	"github.com/tesseracard/tessera/scenario"
	"github.com/tesseracard/tessera/simulator/simtarget"
)

// A Go test can run the conformance suite against a simulated card in
// process, a factory-fresh card of the profile for every case.
func ExampleTarget() {
	target, creds, err := simtarget.Target("piv")
	if err != nil {
		panic(err)
	}
	rep, err := conformance.Run(context.Background(), target, conformance.Options{Credentials: creds})
	if err != nil {
		panic(err)
	}
	c := rep.Counts()
	fmt.Println("failed:", c.Failed, "skipped:", c.Skipped, "departures:", rep.DepartureNames())
	// Output:
	// failed: 0 skipped: 0 departures: []
}

// A scenario runs on a card started in process: a power cut in the middle
// of a PIN change leaves the old PIN, and no try is spent.
func ExampleOpen() {
	s, err := scenario.Parse("power-cut.yaml", []byte(`name: power cut during CHANGE PIN
steps:
  - tear: 1
  - change_pin: {new: "654321", expect: none}
  - power_cycle
  - verify: {pin: "123456"}
  - assert: {pin_tries: 3, pin_verified: true}
`))
	if err != nil {
		panic(err)
	}
	card, err := simtarget.Open(simtarget.Options{Profile: "default"})
	if err != nil {
		panic(err)
	}
	defer card.Close()
	err = s.Run(context.Background(), card, scenario.Options{
		Target: "a simulated card",
		Step:   func(st *scenario.Step, what string) { fmt.Printf("step %d %s: %s\n", st.N, st.Kind, what) },
	})
	fmt.Println("error:", err)
	// Output:
	// step 1 tear: power cut armed after 1 write
	// step 2 change_pin: no answer, as expected
	// step 3 power_cycle: power cycled
	// step 4 verify: 9000 (success)
	// step 5 assert: pin_tries 3, pin_verified true
	// error: <nil>
}
