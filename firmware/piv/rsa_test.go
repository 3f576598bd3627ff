package piv

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"testing"
	"time"

	"github.com/tesseracard/tessera/apdu"
)

// textbookRSA is in^d mod n, computed directly: the value the card's raw
// RSA must give for a valid input.
func textbookRSA(k *rsa.PrivateKey, in []byte) []byte {
	m := new(big.Int).Exp(new(big.Int).SetBytes(in), k.D, k.N)
	return m.FillBytes(make([]byte, k.Size()))
}

// TestRSAPrivateOp: raw RSA (decrypt, and sign of a block the host padded)
// gives in^d mod n for every input below the modulus, for each key size
// the card offers; an input of the wrong length or not below n answers
// 6A80.
func TestRSAPrivateOp(t *testing.T) {
	for _, bits := range []int{1024, 2048, 3072, 4096} {
		t.Run(fmt.Sprint(bits), func(t *testing.T) {
			k, err := rsa.GenerateKey(rand.Reader, bits)
			if err != nil {
				t.Fatal(err)
			}
			size := k.Size()
			random := make([]byte, size)
			rand.Read(random[1:])
			nMinus1 := new(big.Int).Sub(k.N, big.NewInt(1)).FillBytes(make([]byte, size))
			valid := map[string][]byte{
				"zero":             make([]byte, size),
				"one":              big.NewInt(1).FillBytes(make([]byte, size)),
				"random":           random,
				"n-1":              nMinus1,
				"PKCS#1 v1.5 sign": pkcs1Block(size, bytes.Repeat([]byte{0x42}, 32)),
			}
			for name, in := range valid {
				got, err := privateOp(key{priv: k}, in)
				if err != nil {
					t.Errorf("%s: privateOp() error = %v", name, err)
				} else if want := textbookRSA(k, in); !bytes.Equal(got, want) {
					t.Errorf("%s: privateOp() = %X…, want %X…", name, got[:8], want[:8])
				}
			}
			invalid := map[string][]byte{
				"n":        k.N.FillBytes(make([]byte, size)),
				"all FF":   bytes.Repeat([]byte{0xFF}, size),
				"short":    random[1:],
				"long":     append([]byte{0}, random...),
				"no input": nil,
			}
			for name, in := range invalid {
				if _, err := privateOp(key{priv: k}, in); !errors.Is(err, apdu.SWIncorrectData) {
					t.Errorf("%s: privateOp() error = %v, want 6A80", name, err)
				}
			}
		})
	}
}

// TestRSARawChecksItsResult: a fault during the private operation (here a
// damaged CRT exponent) gives no answer rather than a wrong one, which
// would reveal a factor of the modulus (gcd(s^e - m, n)).
func TestRSARawChecksItsResult(t *testing.T) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	k.Precompute()
	k.Precomputed.Dp = new(big.Int).Add(k.Precomputed.Dp, big.NewInt(2))
	in := make([]byte, k.Size())
	rand.Read(in[1:])
	got, err := rsaRaw(k, in)
	if !errors.Is(err, errRSAFault) {
		t.Errorf("rsaRaw with a faulty key = %X…, %v; want errRSAFault", got[:min(8, len(got))], err)
	}
}

// TestRSARawConstantTime: the time of the private operation does not depend
// on its input. With math/big's Exp an input of 0 or 1 came back in
// microseconds and any other in about a millisecond: a timing oracle.
// Each input's fastest of several runs is compared, which load cannot
// shorten.
func TestRSARawConstantTime(t *testing.T) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	fastest := func(in []byte) time.Duration {
		var times []time.Duration
		for range 15 {
			start := time.Now()
			if _, err := rsaRaw(k, in); err != nil {
				t.Fatal(err)
			}
			times = append(times, time.Since(start))
		}
		return slices.Min(times)
	}
	random := make([]byte, k.Size())
	rand.Read(random[1:])
	typical := fastest(random)
	for _, v := range []int64{0, 1, 2} {
		in := big.NewInt(v).FillBytes(make([]byte, k.Size()))
		if d := fastest(in); d < typical/4 {
			t.Errorf("input %d took %v, a random input %v: the time depends on the input", v, d, typical)
		}
	}
}
