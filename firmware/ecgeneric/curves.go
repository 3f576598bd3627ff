package ecgeneric

import (
	"encoding/hex"
	"math/big"
)

// Curve is a short Weierstrass curve y² = x³ + ax + b over GF(p) with a
// generator G of prime order n and cofactor 1. A Curve is not modified
// after Named returns it; it is safe for concurrent use.
type Curve struct {
	Name    string
	P, A, B *big.Int
	Gx, Gy  *big.Int // the generator
	N       *big.Int // the order of G
	Size    int      // bytes of a field element (and of a coordinate)
}

// spec is a curve's parameters in hex: p, a, b, the generator uncompressed
// (04‖x‖y) and the order n. Values from SEC 2, FIPS 186-4 and RFC 5639
// §3.1–3.7 (checked against OpenSSL's explicit parameters; curves_test.go
// checks that G is on the curve and n·G is the point at infinity).
type spec struct{ name, p, a, b, g, n string }

func specs() []spec {
	return []spec{
		{name: "P-192", p: "fffffffffffffffffffffffffffffffeffffffffffffffff", a: "fffffffffffffffffffffffffffffffefffffffffffffffc", b: "64210519e59c80e70fa7e9ab72243049feb8deecc146b9b1", g: "04188da80eb03090f67cbf20eb43a18800f4ff0afd82ff101207192b95ffc8da78631011ed6b24cdd573f977a11e794811", n: "ffffffffffffffffffffffff99def836146bc9b1b4d22831"},
		{name: "P-224", p: "ffffffffffffffffffffffffffffffff000000000000000000000001", a: "fffffffffffffffffffffffffffffffefffffffffffffffffffffffe", b: "b4050a850c04b3abf54132565044b0b7d7bfd8ba270b39432355ffb4", g: "04b70e0cbd6bb4bf7f321390b94a03c1d356c21122343280d6115c1d21bd376388b5f723fb4c22dfe6cd4375a05a07476444d5819985007e34", n: "ffffffffffffffffffffffffffff16a2e0b8f03e13dd29455c5c2a3d"},
		{name: "P-256", p: "ffffffff00000001000000000000000000000000ffffffffffffffffffffffff", a: "ffffffff00000001000000000000000000000000fffffffffffffffffffffffc", b: "5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604b", g: "046b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c2964fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5", n: "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551"},
		{name: "P-384", p: "fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffff0000000000000000ffffffff", a: "fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffff0000000000000000fffffffc", b: "b3312fa7e23ee7e4988e056be3f82d19181d9c6efe8141120314088f5013875ac656398d8a2ed19d2a85c8edd3ec2aef", g: "04aa87ca22be8b05378eb1c71ef320ad746e1d3b628ba79b9859f741e082542a385502f25dbf55296c3a545e3872760ab73617de4a96262c6f5d9e98bf9292dc29f8f41dbd289a147ce9da3113b5f0b8c00a60b1ce1d7e819d7a431d7c90ea0e5f", n: "ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973"},
		{name: "brainpoolP192r1", p: "c302f41d932a36cda7a3463093d18db78fce476de1a86297", a: "6a91174076b1e0e19c39c031fe8685c1cae040e5c69a28ef", b: "469a28ef7c28cca3dc721d044f4496bcca7ef4146fbf25c9", g: "04c0a0647eaab6a48753b033c56cb0f0900a2f5c4853375fd614b690866abd5bb88b5f4828c1490002e6773fa2fa299b8f", n: "c302f41d932a36cda7a3462f9e9e916b5be8f1029ac4acc1"},
		{name: "brainpoolP224r1", p: "d7c134aa264366862a18302575d1d787b09f075797da89f57ec8c0ff", a: "68a5e62ca9ce6c1c299803a6c1530b514e182ad8b0042a59cad29f43", b: "2580f63ccfe44138870713b1a92369e33e2135d266dbb372386c400b", g: "040d9029ad2c7e5cf4340823b2a87dc68c9e4ce3174c1e6efdee12c07d58aa56f772c0726f24c6b89e4ecdac24354b9e99caa3f6d3761402cd", n: "d7c134aa264366862a18302575d0fb98d116bc4b6ddebca3a5a7939f"},
		{name: "brainpoolP256r1", p: "a9fb57dba1eea9bc3e660a909d838d726e3bf623d52620282013481d1f6e5377", a: "7d5a0975fc2c3057eef67530417affe7fb8055c126dc5c6ce94a4b44f330b5d9", b: "26dc5c6ce94a4b44f330b5d9bbd77cbf958416295cf7e1ce6bccdc18ff8c07b6", g: "048bd2aeb9cb7e57cb2c4b482ffc81b7afb9de27e1e3bd23c23a4453bd9ace3262547ef835c3dac4fd97f8461a14611dc9c27745132ded8e545c1d54c72f046997", n: "a9fb57dba1eea9bc3e660a909d838d718c397aa3b561a6f7901e0e82974856a7"},
		{name: "brainpoolP320r1", p: "d35e472036bc4fb7e13c785ed201e065f98fcfa6f6f40def4f92b9ec7893ec28fcd412b1f1b32e27", a: "3ee30b568fbab0f883ccebd46d3f3bb8a2a73513f5eb79da66190eb085ffa9f492f375a97d860eb4", b: "520883949dfdbc42d3ad198640688a6fe13f41349554b49acc31dccd884539816f5eb4ac8fb1f1a6", g: "0443bd7e9afb53d8b85289bcc48ee5bfe6f20137d10a087eb6e7871e2a10a599c710af8d0d39e2061114fdd05545ec1cc8ab4093247f77275e0743ffed117182eaa9c77877aaac6ac7d35245d1692e8ee1", n: "d35e472036bc4fb7e13c785ed201e065f98fcfa5b68f12a32d482ec7ee8658e98691555b44c59311"},
		{name: "brainpoolP384r1", p: "8cb91e82a3386d280f5d6f7e50e641df152f7109ed5456b412b1da197fb71123acd3a729901d1a71874700133107ec53", a: "7bc382c63d8c150c3c72080ace05afa0c2bea28e4fb22787139165efba91f90f8aa5814a503ad4eb04a8c7dd22ce2826", b: "04a8c7dd22ce28268b39b55416f0447c2fb77de107dcd2a62e880ea53eeb62d57cb4390295dbc9943ab78696fa504c11", g: "041d1c64f068cf45ffa2a63a81b7c13f6b8847a3e77ef14fe3db7fcafe0cbd10e8e826e03436d646aaef87b2e247d4af1e8abe1d7520f9c2a45cb1eb8e95cfd55262b70b29feec5864e19c054ff99129280e4646217791811142820341263c5315", n: "8cb91e82a3386d280f5d6f7e50e641df152f7109ed5456b31f166e6cac0425a7cf3ab6af6b7fc3103b883202e9046565"},
		{name: "brainpoolP512r1", p: "aadd9db8dbe9c48b3fd4e6ae33c9fc07cb308db3b3c9d20ed6639cca703308717d4d9b009bc66842aecda12ae6a380e62881ff2f2d82c68528aa6056583a48f3", a: "7830a3318b603b89e2327145ac234cc594cbdd8d3df91610a83441caea9863bc2ded5d5aa8253aa10a2ef1c98b9ac8b57f1117a72bf2c7b9e7c1ac4d77fc94ca", b: "3df91610a83441caea9863bc2ded5d5aa8253aa10a2ef1c98b9ac8b57f1117a72bf2c7b9e7c1ac4d77fc94cadc083e67984050b75ebae5dd2809bd638016f723", g: "0481aee4bdd82ed9645a21322e9c4c6a9385ed9f70b5d916c1b43b62eef4d0098eff3b1f78e2d0d48d50d1687b93b97d5f7c6d5047406a5e688b352209bcb9f8227dde385d566332ecc0eabfa9cf7822fdf209f70024a57b1aa000c55b881f8111b2dcde494a5f485e5bca4bd88a2763aed1ca2b2fa8f0540678cd1e0f3ad80892", n: "aadd9db8dbe9c48b3fd4e6ae33c9fc07cb308db3b3c9d20ed6639cca70330870553e5c414ca92619418661197fac10471db1d381085ddaddb58796829ca90069"},
		{name: "secp192k1", p: "fffffffffffffffffffffffffffffffffffffffeffffee37", a: "000000000000000000000000000000000000000000000000", b: "000000000000000000000000000000000000000000000003", g: "04db4ff10ec057e9ae26b07d0280b7f4341da5d1b1eae06c7d9b2f2f6d9c5628a7844163d015be86344082aa88d95e2f9d", n: "fffffffffffffffffffffffe26f2fc170f69466a74defd8d"},
		{name: "secp256k1", p: "fffffffffffffffffffffffffffffffffffffffffffffffffffffffefffffc2f", a: "0000000000000000000000000000000000000000000000000000000000000000", b: "0000000000000000000000000000000000000000000000000000000000000007", g: "0479be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798483ada7726a3c4655da4fbfc0e1108a8fd17b448a68554199c47d08ffb10d4b8", n: "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141"},
	}
}

// Names returns the names of the curves Named knows, in a fixed order.
// Callers that store a curve by number keep their own list of names:
// this one may grow in any place.
func Names() []string {
	var out []string
	for _, s := range specs() {
		out = append(out, s.name)
	}
	return out
}

// Named returns a new Curve of the given name ("brainpoolP256r1",
// "secp256k1", "P-192", ...: Names), or false if there is none.
func Named(name string) (*Curve, bool) {
	for _, s := range specs() {
		if s.name == name {
			return s.curve(), true
		}
	}
	return nil, false
}

func (s spec) curve() *Curve {
	num := func(h string) *big.Int {
		b, err := hex.DecodeString(h)
		if err != nil {
			panic("ecgeneric: curve table: " + err.Error()) // a typo in the table above
		}
		return new(big.Int).SetBytes(b)
	}
	c := &Curve{Name: s.name, P: num(s.p), A: num(s.a), B: num(s.b), N: num(s.n)}
	c.Size = (c.P.BitLen() + 7) / 8
	g := num(s.g[2:]).FillBytes(make([]byte, 2*c.Size))
	c.Gx, c.Gy = new(big.Int).SetBytes(g[:c.Size]), new(big.Int).SetBytes(g[c.Size:])
	return c
}

// Marshal encodes a point uncompressed: 04‖x‖y (SEC 1 §2.3.3), each
// coordinate Size bytes.
func (c *Curve) Marshal(x, y *big.Int) []byte {
	out := make([]byte, 1+2*c.Size)
	out[0] = 4
	x.FillBytes(out[1 : 1+c.Size])
	y.FillBytes(out[1+c.Size:])
	return out
}

// Unmarshal decodes an uncompressed point 04‖x‖y; ok is false unless b has
// that form and length, both coordinates are below p, and the point is on
// the curve (which, with cofactor 1, makes it a valid public key: never
// the point at infinity, which has no such encoding).
func (c *Curve) Unmarshal(b []byte) (x, y *big.Int, ok bool) {
	if len(b) != 1+2*c.Size || b[0] != 4 {
		return nil, nil, false
	}
	x, y = new(big.Int).SetBytes(b[1:1+c.Size]), new(big.Int).SetBytes(b[1+c.Size:])
	if x.Cmp(c.P) >= 0 || y.Cmp(c.P) >= 0 || !c.IsOnCurve(x, y) {
		return nil, nil, false
	}
	return x, y, true
}

// IsOnCurve reports whether y² = x³ + ax + b (mod p).
func (c *Curve) IsOnCurve(x, y *big.Int) bool {
	lhs := new(big.Int).Mul(y, y)
	lhs.Mod(lhs, c.P)
	rhs := new(big.Int).Mul(x, x)
	rhs.Add(rhs, c.A).Mul(rhs, x).Add(rhs, c.B).Mod(rhs, c.P)
	return lhs.Cmp(rhs) == 0
}
