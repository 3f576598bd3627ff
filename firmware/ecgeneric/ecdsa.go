package ecgeneric

import (
	"io"
	"math/big"
)

// Sign is ECDSA (SEC 1 §4.1.3) over digest with the private scalar d, the
// nonce drawn from rnd; digest is truncated to n's bit length. It fails
// only when rnd does.
func (c *Curve) Sign(rnd io.Reader, d *big.Int, digest []byte) (r, s *big.Int, err error) {
	e := hashToInt(digest, c.N)
	for {
		k, err := c.RandScalar(rnd)
		if err != nil {
			return nil, nil, err
		}
		x, _ := c.ScalarBaseMult(k)
		r := new(big.Int).Mod(x, c.N)
		if r.Sign() == 0 {
			continue
		}
		s := new(big.Int).Mul(r, d)
		s.Add(s, e).Mul(s, new(big.Int).ModInverse(k, c.N)).Mod(s, c.N)
		if s.Sign() == 0 {
			continue
		}
		return r, s, nil
	}
}

// Verify reports whether (r, s) is an ECDSA signature over digest by the
// public point (qx, qy), which must be on the curve (SEC 1 §4.1.4).
func (c *Curve) Verify(qx, qy *big.Int, digest []byte, r, s *big.Int) bool {
	if r.Sign() <= 0 || s.Sign() <= 0 || r.Cmp(c.N) >= 0 || s.Cmp(c.N) >= 0 {
		return false
	}
	e := hashToInt(digest, c.N)
	w := new(big.Int).ModInverse(s, c.N)
	u1 := new(big.Int).Mul(e, w)
	u1.Mod(u1, c.N)
	u2 := new(big.Int).Mul(r, w)
	u2.Mod(u2, c.N)
	j := c.mult(c.Gx, c.Gy, u1)
	if x2, y2 := c.ScalarMult(qx, qy, u2); x2 != nil {
		j = c.addAffine(j, x2, y2)
	}
	x, _ := c.affine(j)
	return x != nil && new(big.Int).Mod(x, c.N).Cmp(r) == 0
}

// hashToInt is the leftmost bits of the digest as an integer mod n (SEC 1
// §4.1.3 step 5).
func hashToInt(digest []byte, n *big.Int) *big.Int {
	if size := (n.BitLen() + 7) / 8; len(digest) > size {
		digest = digest[:size]
	}
	e := new(big.Int).SetBytes(digest)
	if excess := len(digest)*8 - n.BitLen(); excess > 0 {
		e.Rsh(e, uint(excess))
	}
	return e
}
