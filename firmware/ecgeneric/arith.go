package ecgeneric

import (
	"io"
	"math/big"
)

// ScalarBaseMult returns k·G; nil x is the point at infinity.
func (c *Curve) ScalarBaseMult(k *big.Int) (x, y *big.Int) {
	return c.ScalarMult(c.Gx, c.Gy, k)
}

// ScalarMult returns k·(px, py) by double-and-add in Jacobian coordinates
// (one inversion at the end); nil x is the point at infinity. The point
// must be on the curve (Unmarshal checks it). Not constant time.
func (c *Curve) ScalarMult(px, py, k *big.Int) (x, y *big.Int) {
	return c.affine(c.mult(px, py, k))
}

func (c *Curve) mult(px, py, k *big.Int) jacobian {
	var j jacobian // the point at infinity: Z = 0
	for i := k.BitLen() - 1; i >= 0; i-- {
		j = c.double(j)
		if k.Bit(i) == 1 {
			j = c.addAffine(j, px, py)
		}
	}
	return j
}

// jacobian is a point (X/Z², Y/Z³); Z = 0 (or nil) is the point at
// infinity.
type jacobian struct{ x, y, z *big.Int }

func (j jacobian) infinity() bool { return j.z == nil || j.z.Sign() == 0 }

// double returns 2·J (for any a: M = 3X² + aZ⁴).
func (c *Curve) double(j jacobian) jacobian {
	if j.infinity() || j.y.Sign() == 0 {
		return jacobian{}
	}
	p := c.P
	y2 := new(big.Int).Mul(j.y, j.y)
	s := new(big.Int).Mul(j.x, y2)
	s.Lsh(s, 2).Mod(s, p)
	z2 := new(big.Int).Mul(j.z, j.z)
	z4 := new(big.Int).Mul(z2, z2)
	m := new(big.Int).Mul(j.x, j.x)
	m.Mul(m, big.NewInt(3)).Add(m, z4.Mul(z4, c.A)).Mod(m, p)
	x := new(big.Int).Mul(m, m)
	x.Sub(x, new(big.Int).Lsh(s, 1)).Mod(x, p)
	y4 := y2.Mul(y2, y2)
	y := new(big.Int).Sub(s, x)
	y.Mul(y, m).Sub(y, y4.Lsh(y4, 3)).Mod(y, p)
	z := new(big.Int).Mul(j.y, j.z)
	z.Lsh(z, 1).Mod(z, p)
	return jacobian{x, y, z}
}

// addAffine returns J + (x2, y2).
func (c *Curve) addAffine(j jacobian, x2, y2 *big.Int) jacobian {
	if j.infinity() {
		return jacobian{new(big.Int).Set(x2), new(big.Int).Set(y2), big.NewInt(1)}
	}
	p := c.P
	z2 := new(big.Int).Mul(j.z, j.z)
	u2 := new(big.Int).Mul(x2, z2)
	u2.Mod(u2, p)
	s2 := new(big.Int).Mul(y2, z2.Mul(z2, j.z))
	s2.Mod(s2, p)
	h := new(big.Int).Sub(u2, j.x)
	h.Mod(h, p)
	r := new(big.Int).Sub(s2, j.y)
	r.Mod(r, p)
	if h.Sign() == 0 {
		if r.Sign() == 0 {
			return c.double(j)
		}
		return jacobian{} // P + (−P)
	}
	h2 := new(big.Int).Mul(h, h)
	h3 := new(big.Int).Mul(h2, h)
	xh2 := h2.Mul(h2, j.x)
	x := new(big.Int).Mul(r, r)
	x.Sub(x, h3).Sub(x, new(big.Int).Lsh(xh2, 1)).Mod(x, p)
	y := new(big.Int).Sub(xh2, x)
	y.Mul(y, r).Sub(y, h3.Mul(h3, j.y)).Mod(y, p)
	z := new(big.Int).Mul(j.z, h)
	z.Mod(z, p)
	return jacobian{x, y, z}
}

// affine converts back: (X/Z², Y/Z³), or nil for the point at infinity.
func (c *Curve) affine(j jacobian) (x, y *big.Int) {
	if j.infinity() {
		return nil, nil
	}
	zi := new(big.Int).ModInverse(j.z, c.P)
	zi2 := new(big.Int).Mul(zi, zi)
	x = new(big.Int).Mul(j.x, zi2)
	x.Mod(x, c.P)
	y = new(big.Int).Mul(j.y, zi2.Mul(zi2, zi))
	y.Mod(y, c.P)
	return x, y
}

// RandScalar draws a scalar in [1, n−1] from rnd (8 bytes more than n's
// size, reduced: a negligible bias).
func (c *Curve) RandScalar(rnd io.Reader) (*big.Int, error) {
	buf := make([]byte, (c.N.BitLen()+7)/8+8)
	if _, err := io.ReadFull(rnd, buf); err != nil {
		return nil, err
	}
	k := new(big.Int).SetBytes(buf)
	k.Mod(k, new(big.Int).Sub(c.N, big.NewInt(1)))
	return k.Add(k, big.NewInt(1)), nil
}

// ValidScalar reports whether d is a private key: 1 ≤ d ≤ n−1.
func (c *Curve) ValidScalar(d *big.Int) bool {
	return d.Sign() > 0 && d.Cmp(c.N) < 0
}

// ECDH returns the x coordinate of d·(px, py), Size bytes (SEC 1 §3.3.1,
// the shared secret OpenPGP's ECDH uses), or false if that is the point at
// infinity. The point must be on the curve (Unmarshal) and d valid.
func (c *Curve) ECDH(d, px, py *big.Int) ([]byte, bool) {
	x, _ := c.ScalarMult(px, py, d)
	if x == nil {
		return nil, false
	}
	return x.FillBytes(make([]byte, c.Size)), true
}
