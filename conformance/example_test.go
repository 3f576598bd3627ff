package conformance_test

import (
	"fmt"

	"github.com/tesseracard/tessera/conformance"
)

// The suite's cases carry the SP 800-85A-4 assertion labels where one
// applies.
func ExampleCases() {
	for _, c := range conformance.Cases() {
		if c.ID == "VE05.19" {
			fmt.Printf("%s (%s): %s\n", c.ID, c.Class, c.Title)
		}
	}
	// Output:
	// VE05.19 (destructive): a wrong PIN answers 63CX, decrements the counter and clears the PIN's security status
}
