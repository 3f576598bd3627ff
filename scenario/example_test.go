package scenario_test

import (
	"fmt"

	"github.com/tesseracard/tessera/scenario"
)

// A scenario is YAML; every step keeps its line for messages.
func ExampleParse() {
	s, err := scenario.Parse("lockout.yaml", []byte(`name: three wrong PINs
steps:
  - verify: {pin: "000000", expect: 63C2}
  - verify: {pin: "000000", expect: 63C1}
  - power_cycle
  - assert: {pin_tries: 1}
`))
	if err != nil {
		panic(err)
	}
	for _, st := range s.Steps {
		fmt.Printf("lockout.yaml:%d step %d %s\n", st.Line, st.N, st.Kind)
	}
	// Output:
	// lockout.yaml:3 step 1 verify
	// lockout.yaml:4 step 2 verify
	// lockout.yaml:5 step 3 power_cycle
	// lockout.yaml:6 step 4 assert
}
