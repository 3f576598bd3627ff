package pivalg_test

import (
	"fmt"

	"github.com/tesseracard/tessera/pivalg"
)

func Example() {
	// P1 of a GENERAL AUTHENTICATE command names the key's algorithm.
	p1 := byte(0x07)
	fmt.Println(pivalg.Name(p1), pivalg.RSABits(p1))
	// Output: RSA-2048 2048
}
