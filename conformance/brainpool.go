package conformance

import (
	"errors"
	"fmt"
	"io"
	"math/big"
)

// The suite's own brainpoolP256r1 (RFC 5639 §3.4), for checking a card's
// signatures and ECDH: Go's standard library has no brainpool curve, and
// the suite never imports the firmware (whose Jacobian arithmetic it would
// then share). This is textbook affine arithmetic, written from SEC 1
// (§2.2.1 point addition, §4.1.4 ECDSA verification, §3.3.1 ECDH): slow,
// not constant time, and only ever given public values and keys of its own.
type bpCurve struct {
	name                string
	p, a, b, n          *big.Int
	gx, gy              *big.Int
	size                int    // bytes of a coordinate
	attrECDSA, attrECDH []byte // the algorithm attributes (§4.4.3.9)
}

// bpPublicKey is a card's public key on a bpCurve.
type bpPublicKey struct {
	curve *bpCurve
	x, y  *big.Int
}

// brainpoolP256r1 returns the curve, its parameters as RFC 5639 §3.4
// prints them.
func brainpoolP256r1() *bpCurve {
	hex := func(s string) *big.Int {
		v, ok := new(big.Int).SetString(s, 16)
		if !ok {
			panic("conformance: brainpoolP256r1 constant " + s) // a typo below
		}
		return v
	}
	oid := []byte{0x2B, 0x24, 0x03, 0x03, 0x02, 0x08, 0x01, 0x01, 0x07} // 1.3.36.3.3.2.8.1.1.7
	return &bpCurve{
		name:      "brainpoolP256r1",
		p:         hex("A9FB57DBA1EEA9BC3E660A909D838D726E3BF623D52620282013481D1F6E5377"),
		a:         hex("7D5A0975FC2C3057EEF67530417AFFE7FB8055C126DC5C6CE94A4B44F330B5D9"),
		b:         hex("26DC5C6CE94A4B44F330B5D9BBD77CBF958416295CF7E1CE6BCCDC18FF8C07B6"),
		gx:        hex("8BD2AEB9CB7E57CB2C4B482FFC81B7AFB9DE27E1E3BD23C23A4453BD9ACE3262"),
		gy:        hex("547EF835C3DAC4FD97F8461A14611DC9C27745132DED8E545C1D54C72F046997"),
		n:         hex("A9FB57DBA1EEA9BC3E660A909D838D718C397AA3B561A6F7901E0E82974856A7"),
		size:      32,
		attrECDSA: append([]byte{0x13}, oid...), attrECDH: append([]byte{0x12}, oid...),
	}
}

// onCurve reports whether (x, y) is a point of the curve: coordinates
// below p and y² = x³ + ax + b.
func (c *bpCurve) onCurve(x, y *big.Int) bool {
	if x.Sign() < 0 || y.Sign() < 0 || x.Cmp(c.p) >= 0 || y.Cmp(c.p) >= 0 {
		return false
	}
	y2 := new(big.Int).Exp(y, big.NewInt(2), c.p)
	rhs := new(big.Int).Exp(x, big.NewInt(3), c.p)
	rhs.Add(rhs, new(big.Int).Mul(c.a, x))
	rhs.Add(rhs, c.b)
	return y2.Cmp(rhs.Mod(rhs, c.p)) == 0
}

// parse reads an uncompressed point 04||X||Y on the curve.
func (c *bpCurve) parse(point []byte) (*bpPublicKey, error) {
	if len(point) != 1+2*c.size || point[0] != 0x04 {
		return nil, fmt.Errorf("the %s point is %d bytes starting % X, want 04||X||Y of %d", c.name, len(point), point[:min(1, len(point))], 1+2*c.size)
	}
	k := &bpPublicKey{c, new(big.Int).SetBytes(point[1 : 1+c.size]), new(big.Int).SetBytes(point[1+c.size:])}
	if !c.onCurve(k.x, k.y) {
		return nil, fmt.Errorf("the %s point % X is not on the curve", c.name, point)
	}
	return k, nil
}

// point is an affine point; inf marks the point at infinity.
type point struct {
	x, y *big.Int
	inf  bool
}

// sum is P + Q (SEC 1 §2.2.1), doubling when P = Q.
func (c *bpCurve) sum(P, Q point) point {
	switch {
	case P.inf:
		return Q
	case Q.inf:
		return P
	}
	var slope *big.Int
	if P.x.Cmp(Q.x) == 0 {
		if new(big.Int).Add(P.y, Q.y).Mod(new(big.Int).Add(P.y, Q.y), c.p).Sign() == 0 {
			return point{inf: true} // Q = −P
		}
		// (3x² + a) / 2y
		num := new(big.Int).Mul(P.x, P.x)
		num.Mul(num, big.NewInt(3)).Add(num, c.a)
		den := new(big.Int).Lsh(P.y, 1)
		slope = num.Mul(num, new(big.Int).ModInverse(den.Mod(den, c.p), c.p))
	} else {
		// (y2 − y1) / (x2 − x1)
		num := new(big.Int).Sub(Q.y, P.y)
		den := new(big.Int).Sub(Q.x, P.x)
		slope = num.Mul(num, new(big.Int).ModInverse(den.Mod(den, c.p), c.p))
	}
	slope.Mod(slope, c.p)
	x := new(big.Int).Mul(slope, slope)
	x.Sub(x, P.x).Sub(x, Q.x).Mod(x, c.p)
	y := new(big.Int).Sub(P.x, x)
	y.Mul(y, slope).Sub(y, P.y).Mod(y, c.p)
	return point{x: x, y: y}
}

// times is k·P, by double-and-add from the most significant bit.
func (c *bpCurve) times(k *big.Int, P point) point {
	R := point{inf: true}
	for i := k.BitLen() - 1; i >= 0; i-- {
		R = c.sum(R, R)
		if k.Bit(i) == 1 {
			R = c.sum(R, P)
		}
	}
	return R
}

// verify checks an ECDSA signature r||s over hash (SEC 1 §4.1.4; the hash
// truncated to n's bit length, which for SHA-256 on a 256-bit n is all of
// it).
func (k *bpPublicKey) verify(hash, sig []byte) error {
	c := k.curve
	if len(sig) != 2*c.size {
		return fmt.Errorf("the %s ECDSA signature is %d bytes, want r||s of %d", c.name, len(sig), 2*c.size)
	}
	r, s := new(big.Int).SetBytes(sig[:c.size]), new(big.Int).SetBytes(sig[c.size:])
	if r.Sign() == 0 || s.Sign() == 0 || r.Cmp(c.n) >= 0 || s.Cmp(c.n) >= 0 {
		return fmt.Errorf("the %s ECDSA signature's r or s is not in [1, n-1]", c.name)
	}
	if len(hash) > c.size {
		hash = hash[:c.size]
	}
	e := new(big.Int).SetBytes(hash)
	if excess := 8*len(hash) - c.n.BitLen(); excess > 0 {
		e.Rsh(e, uint(excess))
	}
	w := new(big.Int).ModInverse(s, c.n)
	u1 := new(big.Int).Mul(e, w)
	u2 := new(big.Int).Mul(r, w)
	R := c.sum(c.times(u1.Mod(u1, c.n), point{x: c.gx, y: c.gy}), c.times(u2.Mod(u2, c.n), point{x: k.x, y: k.y}))
	if R.inf || new(big.Int).Mod(R.x, c.n).Cmp(r) != 0 {
		return fmt.Errorf("the %s ECDSA signature does not verify with the public key GENERATE answered", c.name)
	}
	return nil
}

// ecdh draws a host key from rnd and returns its public point (04||X||Y,
// for PSO:DECIPHER) and the shared secret with the card's key k: the x
// coordinate of the product (SEC 1 §3.3.1), as OpenPGP's ECDH takes it.
func (k *bpPublicKey) ecdh(rnd io.Reader) (hostPoint, secret []byte, err error) {
	c := k.curve
	buf := make([]byte, c.size+8)
	if _, err := io.ReadFull(rnd, buf); err != nil {
		return nil, nil, err
	}
	d := new(big.Int).SetBytes(buf)
	d.Mod(d, new(big.Int).Sub(c.n, big.NewInt(1))).Add(d, big.NewInt(1)) // [1, n-1]
	H := c.times(d, point{x: c.gx, y: c.gy})
	S := c.times(d, point{x: k.x, y: k.y})
	if H.inf || S.inf {
		return nil, nil, errors.New("the shared point is the point at infinity")
	}
	hostPoint = append([]byte{0x04}, H.x.FillBytes(make([]byte, c.size))...)
	hostPoint = append(hostPoint, H.y.FillBytes(make([]byte, c.size))...)
	return hostPoint, S.x.FillBytes(make([]byte, c.size)), nil
}
