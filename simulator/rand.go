package simulator

import "crypto/rand"

// cryptoRand is the system's secure random source as an io.Reader value.
type cryptoRand struct{}

func (cryptoRand) Read(b []byte) (int, error) { return rand.Read(b) }
