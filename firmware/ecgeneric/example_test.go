package ecgeneric_test

import (
	"crypto/rand"
	"crypto/sha256"
	"fmt"

	"github.com/tesseracard/tessera/firmware/ecgeneric"
)

// A brainpoolP256r1 key signs a digest; the public point, sent as 04‖x‖y,
// is validated on the other side before it verifies.
func Example() {
	c, _ := ecgeneric.Named("brainpoolP256r1")
	d, err := c.RandScalar(rand.Reader)
	if err != nil {
		panic(err)
	}
	pub := c.Marshal(c.ScalarBaseMult(d))
	digest := sha256.Sum256([]byte("message"))
	r, s, err := c.Sign(rand.Reader, d, digest[:])
	if err != nil {
		panic(err)
	}
	qx, qy, ok := c.Unmarshal(pub)
	fmt.Println(len(pub), ok, c.Verify(qx, qy, digest[:], r, s))
	// Output: 65 true true
}
