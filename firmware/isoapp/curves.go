package isoapp

import (
	"crypto/elliptic"
	"encoding/hex"
	"io"
	"math/big"
)

// curve is a short Weierstrass curve y² = x³ + ax + b over GF(p), given by
// the explicit domain parameters OpenSC sends. std is the Go standard
// library's implementation where there is one (constant time); the others
// use the math/big arithmetic below.
type curve struct {
	name            string
	p, a, b, gx, gy *big.Int
	n               *big.Int
	size            int // bytes of a field element
	std             elliptic.Curve
}

// curveSpec is a curve's parameters in hex: p, a, b, the generator
// uncompressed (04‖x‖y) and the order n. Values from SEC 2, FIPS 186-4 and
// RFC 5639 (checked against OpenSSL's explicit parameters).
type curveSpec struct{ name, p, a, b, g, n string }

// curveSpecs returns the supported curves' parameters, in the order key
// records index them: never reorder, only append.
func curveSpecs() []curveSpec {
	return []curveSpec{
		{name: "P-192", p: "fffffffffffffffffffffffffffffffeffffffffffffffff", a: "fffffffffffffffffffffffffffffffefffffffffffffffc", b: "64210519e59c80e70fa7e9ab72243049feb8deecc146b9b1", g: "04188da80eb03090f67cbf20eb43a18800f4ff0afd82ff101207192b95ffc8da78631011ed6b24cdd573f977a11e794811", n: "ffffffffffffffffffffffff99def836146bc9b1b4d22831"},
		{name: "P-224", p: "ffffffffffffffffffffffffffffffff000000000000000000000001", a: "fffffffffffffffffffffffffffffffefffffffffffffffffffffffe", b: "b4050a850c04b3abf54132565044b0b7d7bfd8ba270b39432355ffb4", g: "04b70e0cbd6bb4bf7f321390b94a03c1d356c21122343280d6115c1d21bd376388b5f723fb4c22dfe6cd4375a05a07476444d5819985007e34", n: "ffffffffffffffffffffffffffff16a2e0b8f03e13dd29455c5c2a3d"},
		{name: "P-256", p: "ffffffff00000001000000000000000000000000ffffffffffffffffffffffff", a: "ffffffff00000001000000000000000000000000fffffffffffffffffffffffc", b: "5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604b", g: "046b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c2964fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5", n: "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551"},
		{name: "P-384", p: "fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffff0000000000000000ffffffff", a: "fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffff0000000000000000fffffffc", b: "b3312fa7e23ee7e4988e056be3f82d19181d9c6efe8141120314088f5013875ac656398d8a2ed19d2a85c8edd3ec2aef", g: "04aa87ca22be8b05378eb1c71ef320ad746e1d3b628ba79b9859f741e082542a385502f25dbf55296c3a545e3872760ab73617de4a96262c6f5d9e98bf9292dc29f8f41dbd289a147ce9da3113b5f0b8c00a60b1ce1d7e819d7a431d7c90ea0e5f", n: "ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973"},
		{name: "brainpoolP192r1", p: "c302f41d932a36cda7a3463093d18db78fce476de1a86297", a: "6a91174076b1e0e19c39c031fe8685c1cae040e5c69a28ef", b: "469a28ef7c28cca3dc721d044f4496bcca7ef4146fbf25c9", g: "04c0a0647eaab6a48753b033c56cb0f0900a2f5c4853375fd614b690866abd5bb88b5f4828c1490002e6773fa2fa299b8f", n: "c302f41d932a36cda7a3462f9e9e916b5be8f1029ac4acc1"},
		{name: "brainpoolP224r1", p: "d7c134aa264366862a18302575d1d787b09f075797da89f57ec8c0ff", a: "68a5e62ca9ce6c1c299803a6c1530b514e182ad8b0042a59cad29f43", b: "2580f63ccfe44138870713b1a92369e33e2135d266dbb372386c400b", g: "040d9029ad2c7e5cf4340823b2a87dc68c9e4ce3174c1e6efdee12c07d58aa56f772c0726f24c6b89e4ecdac24354b9e99caa3f6d3761402cd", n: "d7c134aa264366862a18302575d0fb98d116bc4b6ddebca3a5a7939f"},
		{name: "brainpoolP256r1", p: "a9fb57dba1eea9bc3e660a909d838d726e3bf623d52620282013481d1f6e5377", a: "7d5a0975fc2c3057eef67530417affe7fb8055c126dc5c6ce94a4b44f330b5d9", b: "26dc5c6ce94a4b44f330b5d9bbd77cbf958416295cf7e1ce6bccdc18ff8c07b6", g: "048bd2aeb9cb7e57cb2c4b482ffc81b7afb9de27e1e3bd23c23a4453bd9ace3262547ef835c3dac4fd97f8461a14611dc9c27745132ded8e545c1d54c72f046997", n: "a9fb57dba1eea9bc3e660a909d838d718c397aa3b561a6f7901e0e82974856a7"},
		{name: "brainpoolP320r1", p: "d35e472036bc4fb7e13c785ed201e065f98fcfa6f6f40def4f92b9ec7893ec28fcd412b1f1b32e27", a: "3ee30b568fbab0f883ccebd46d3f3bb8a2a73513f5eb79da66190eb085ffa9f492f375a97d860eb4", b: "520883949dfdbc42d3ad198640688a6fe13f41349554b49acc31dccd884539816f5eb4ac8fb1f1a6", g: "0443bd7e9afb53d8b85289bcc48ee5bfe6f20137d10a087eb6e7871e2a10a599c710af8d0d39e2061114fdd05545ec1cc8ab4093247f77275e0743ffed117182eaa9c77877aaac6ac7d35245d1692e8ee1", n: "d35e472036bc4fb7e13c785ed201e065f98fcfa5b68f12a32d482ec7ee8658e98691555b44c59311"},
		{name: "secp192k1", p: "fffffffffffffffffffffffffffffffffffffffeffffee37", a: "000000000000000000000000000000000000000000000000", b: "000000000000000000000000000000000000000000000003", g: "04db4ff10ec057e9ae26b07d0280b7f4341da5d1b1eae06c7d9b2f2f6d9c5628a7844163d015be86344082aa88d95e2f9d", n: "fffffffffffffffffffffffe26f2fc170f69466a74defd8d"},
		{name: "secp256k1", p: "fffffffffffffffffffffffffffffffffffffffffffffffffffffffefffffc2f", a: "0000000000000000000000000000000000000000000000000000000000000000", b: "0000000000000000000000000000000000000000000000000000000000000007", g: "0479be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798483ada7726a3c4655da4fbfc0e1108a8fd17b448a68554199c47d08ffb10d4b8", n: "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141"},
	}
}

// curveSet is the supported curves, in curveSpecs order (a key record
// stores the index). An Applet builds it once.
type curveSet []*curve

// curves builds the curve set from curveSpecs.
func curves() curveSet {
	std := map[string]elliptic.Curve{"P-224": elliptic.P224(), "P-256": elliptic.P256(), "P-384": elliptic.P384()}
	specs := curveSpecs()
	out := make([]*curve, len(specs))
	for i, s := range specs {
		num := func(h string) *big.Int {
			b, err := hex.DecodeString(h)
			if err != nil {
				panic("isoapp: curve table: " + err.Error()) // a typo in the table above
			}
			return new(big.Int).SetBytes(b)
		}
		c := &curve{name: s.name, p: num(s.p), a: num(s.a), b: num(s.b), n: num(s.n), std: std[s.name]}
		c.size = (c.p.BitLen() + 7) / 8
		g := num(s.g[2:]).FillBytes(make([]byte, 2*c.size))
		c.gx, c.gy = new(big.Int).SetBytes(g[:c.size]), new(big.Int).SetBytes(g[c.size:])
		out[i] = c
	}
	return out
}

// findCurve matches explicit domain parameters against the table; p, a, b,
// n compare as numbers, the generator as an uncompressed point.
func (cs curveSet) find(p, a, b, g, n []byte) (int, *curve, bool) {
	for i, c := range cs {
		eq := func(x *big.Int, v []byte) bool { return new(big.Int).SetBytes(v).Cmp(x) == 0 }
		if !eq(c.p, p) || !eq(c.a, a) || !eq(c.b, b) || !eq(c.n, n) {
			continue
		}
		if x, y, ok := c.unmarshal(g); ok && x.Cmp(c.gx) == 0 && y.Cmp(c.gy) == 0 {
			return i, c, true
		}
	}
	return 0, nil, false
}

// marshal encodes a point uncompressed: 04‖x‖y.
func (c *curve) marshal(x, y *big.Int) []byte {
	out := make([]byte, 1+2*c.size)
	out[0] = 4
	x.FillBytes(out[1 : 1+c.size])
	y.FillBytes(out[1+c.size:])
	return out
}

func (c *curve) unmarshal(b []byte) (x, y *big.Int, ok bool) {
	if len(b) != 1+2*c.size || b[0] != 4 {
		return nil, nil, false
	}
	return new(big.Int).SetBytes(b[1 : 1+c.size]), new(big.Int).SetBytes(b[1+c.size:]), true
}

// scalarBaseMult returns k·G.
func (c *curve) scalarBaseMult(k *big.Int) (x, y *big.Int) {
	if c.std != nil {
		return c.std.ScalarBaseMult(k.FillBytes(make([]byte, (c.n.BitLen()+7)/8))) //nolint:staticcheck // the curves' own constant-time code
	}
	return c.mult(c.gx, c.gy, k)
}

// mult is k·P by double-and-add in Jacobian coordinates (one inversion at
// the end); nil x is the point at infinity.
func (c *curve) mult(px, py, k *big.Int) (x, y *big.Int) {
	var j jacobian // the point at infinity: Z = 0
	for i := k.BitLen() - 1; i >= 0; i-- {
		j = c.double(j)
		if k.Bit(i) == 1 {
			j = c.addAffine(j, px, py)
		}
	}
	return c.affine(j)
}

// jacobian is a point (X/Z², Y/Z³); Z = 0 (or nil) is the point at
// infinity.
type jacobian struct{ x, y, z *big.Int }

func (j jacobian) infinity() bool { return j.z == nil || j.z.Sign() == 0 }

// double returns 2·J (for any a: M = 3X² + aZ⁴).
func (c *curve) double(j jacobian) jacobian {
	if j.infinity() || j.y.Sign() == 0 {
		return jacobian{}
	}
	p := c.p
	y2 := new(big.Int).Mul(j.y, j.y)
	s := new(big.Int).Mul(j.x, y2)
	s.Lsh(s, 2).Mod(s, p)
	z2 := new(big.Int).Mul(j.z, j.z)
	z4 := new(big.Int).Mul(z2, z2)
	m := new(big.Int).Mul(j.x, j.x)
	m.Mul(m, big.NewInt(3)).Add(m, z4.Mul(z4, c.a)).Mod(m, p)
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
func (c *curve) addAffine(j jacobian, x2, y2 *big.Int) jacobian {
	if j.infinity() {
		return jacobian{new(big.Int).Set(x2), new(big.Int).Set(y2), big.NewInt(1)}
	}
	p := c.p
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
func (c *curve) affine(j jacobian) (x, y *big.Int) {
	if j.infinity() {
		return nil, nil
	}
	zi := new(big.Int).ModInverse(j.z, c.p)
	zi2 := new(big.Int).Mul(zi, zi)
	x = new(big.Int).Mul(j.x, zi2)
	x.Mod(x, c.p)
	y = new(big.Int).Mul(j.y, zi2.Mul(zi2, zi))
	y.Mod(y, c.p)
	return x, y
}

// randScalar draws a scalar in [1, n−1].
func (c *curve) randScalar(rnd io.Reader) (*big.Int, error) {
	buf := make([]byte, (c.n.BitLen()+7)/8+8) // 64 extra bits: negligible bias
	if _, err := io.ReadFull(rnd, buf); err != nil {
		return nil, err
	}
	k := new(big.Int).SetBytes(buf)
	k.Mod(k, new(big.Int).Sub(c.n, big.NewInt(1)))
	return k.Add(k, big.NewInt(1)), nil
}

// sign is ECDSA over digest with private scalar d (generic arithmetic);
// the result is DER SEQUENCE {r, s}. Keys on the standard library's curves
// sign with crypto/ecdsa instead (storedKey.std).
func (c *curve) sign(rnd io.Reader, d *big.Int, digest []byte) ([]byte, error) {
	e := hashToInt(digest, c.n)
	for {
		k, err := c.randScalar(rnd)
		if err != nil {
			return nil, err
		}
		x, _ := c.scalarBaseMult(k)
		r := new(big.Int).Mod(x, c.n)
		if r.Sign() == 0 {
			continue
		}
		s := new(big.Int).Mul(r, d)
		s.Add(s, e).Mul(s, new(big.Int).ModInverse(k, c.n)).Mod(s, c.n)
		if s.Sign() == 0 {
			continue
		}
		return marshalSig(r, s), nil
	}
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
