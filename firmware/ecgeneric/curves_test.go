package ecgeneric

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"math/big"
	"testing"
)

func h(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustNamed(t testing.TB, name string) *Curve {
	t.Helper()
	c, ok := Named(name)
	if !ok {
		t.Fatalf("Named(%q) = false", name)
	}
	return c
}

// TestTable: every curve's generator is on the curve, n·G is the point at
// infinity, (n−1)·G is −G, and n has the field's size (the tables' typos
// would show here).
func TestTable(t *testing.T) {
	if len(Names()) != 12 {
		t.Errorf("Names() = %v, want 12 curves", Names())
	}
	for _, name := range Names() {
		c := mustNamed(t, name)
		if !c.IsOnCurve(c.Gx, c.Gy) {
			t.Errorf("%s: G is not on the curve", name)
		}
		if x, _ := c.ScalarBaseMult(c.N); x != nil {
			t.Errorf("%s: n·G is not the point at infinity", name)
		}
		x, y := c.ScalarBaseMult(new(big.Int).Sub(c.N, big.NewInt(1)))
		if x == nil || x.Cmp(c.Gx) != 0 || new(big.Int).Add(y, c.Gy).Cmp(c.P) != 0 {
			t.Errorf("%s: (n−1)·G is not −G", name)
		}
		if !c.N.ProbablyPrime(20) || !c.P.ProbablyPrime(20) {
			t.Errorf("%s: n or p is not prime", name)
		}
		if (c.N.BitLen()+7)/8 != c.Size {
			t.Errorf("%s: n is %d bits for %d-byte field elements", name, c.N.BitLen(), c.Size)
		}
	}
	if _, ok := Named("brainpoolP256t1"); ok {
		t.Error("Named(brainpoolP256t1) = true, want false")
	}
}

// TestCurveArithmetic checks k·G against key pairs OpenSSL made, for the
// curves the standard library lacks.
func TestCurveArithmetic(t *testing.T) {
	for name, v := range map[string][2]string{
		"P-192":           {"0a2f417787f6eeaf7bcd27d4b56e769e8e6fc08c3df9df4b", "0401143354220ff9bbfa2ec61c87dae0c09f9588475440be8bbf1baffb598db25cdda5068ccf6006af8a9b4e05a0031150"},
		"brainpoolP192r1": {"73852ffcb0c971a06d27c14883efc7de324143d2f2941690", "048b3bedb38b57349235824f9daed836b36484133549f234845bdafc8cf7211c1bed00945ac9e9e4467429330b8b38f6e6"},
		"brainpoolP224r1": {"80ad17b2f65132e7484016a50d9e26ee5244517a4c7e6cb6b93e11e6", "04b89b377a846643299967cc208f3c2c1a25c28fab480b1560008c9aa816dcc4871da98a1a688d769b53e3375ab43bfde10fe7a3d16d0041a1"},
		"brainpoolP256r1": {"2ba6d61d77cd74a0dcc975d801ced1ecbb9c7584a34d397c0c4b3b55765fa78b", "043867e9606d487b67b8aa8898df1edb5525128d978bc6f6915bbe81d05535ba6005e2e57cf110529d9a773e3a330ffca7cfca62cf3870ffc684a4fc8f7f65c008"},
		"brainpoolP320r1": {"78b175b62135c594ef61584b0f7e77b0e0c3c76dab0e69f30941a4ce0bb16388697d82277d75d29a", "047b125078310a75ac099678c0141fd5f2f59dd4eab3c961fa01f8d9d256452911df76509300290a51846235db21122b439360dde2ad942886439f04488ad58c087780283ce3be8f7a1c5b8f62f63913c0"},
		"secp192k1":       {"0aa4037f85966db924f627379c5be92bbe3c6b1a7a71aeb9", "045f764dc63bcad2e4ec19a50df3c478dfb39ef605260c137406958ee4f81db3f15a2d78b961eb571e1fbc758be8928c89"},
		"secp256k1":       {"7fa01251b2f842d8b3881ac4c9e48def820de78b690afe68e343724ae00da81a", "04f48d5d00a3ed8e905f40154471a44b415b86353af774358ac61e2b9ed25bd7c35d0570f7359e75156a9a888408265e734bfe5e6e7635cdb19e32882fbd3fc15a"},
	} {
		c := mustNamed(t, name)
		x, y := c.ScalarBaseMult(new(big.Int).SetBytes(h(t, v[0])))
		if got := hex.EncodeToString(c.Marshal(x, y)); got != v[1] {
			t.Errorf("%s: d·G = %s, want %s", name, got, v[1])
		}
	}
}

// brainpoolVectors were made by Python's cryptography 48 (OpenSSL 3.0):
// a private key d, its public point, a peer's public point, their ECDH
// shared secret (the x coordinate), and an ECDSA signature (r, s) by d over
// SHA-256("tessera brainpool").
var brainpoolVectors = []struct{ curve, d, pub, peer, secret, r, s string }{
	{"brainpoolP256r1", "a4862f7714644d976603afee77bdb1f8219acf11fe8841a8e8d8af9f41f2da40", "04641e16f487e5bb37d61477e14ab0db03086d009d60ad604a37e39a4de377f112620420045adb568ab1b2fe816ce7f488fdee8b70ec7308c872285e81ac28e7af", "04737df297b1426bbcb4689092ca4a43770970e6cbd4a7ac1703355f6758ab62060b6b84c603218441c0a029ccfb552eea094a99a1888c8944f3a9e705d8b9f64f", "74ba13f6b26e53a36937d0522f76e564946454fb51745e91a3aae059460e3ffe", "9061432662f946ebb981e130a084e713f526614b234a4fe6d9adf94334fd6559", "9060766b3b1d1b4e17a35bd8fc06c8df8a6366020959018452a32e771da1322f"},
	{"brainpoolP384r1", "5d916988137afa3f457c0a1602698be75d7eb24e1f7a15b1aa1526816b540a5e505ba702637d7c834515f8a4404d11f0", "047a68d1df8d8b569537ce97aa223749703041acdeb12cec31df81bff81697ae4f8f07381bedc2baf3fccbf4eb01127e85532464ddfe514b0f3a90662afa4b94db38f7377fb6d88dd96e285d99cb48a870e7635466f5f068dc03ab0af6318a6f0a", "048497365b2ed07f3118e6c47227b697f39622fc6f9b80d1aa1bf0b0a03faa9f5e6c392a70ea9d0e53feb3dbfe5f0d8a3f43bd2f9cffdf0c40a9ee26d92012493d238bd5ea45e640bd860bb989cde2c91a4d9a56502db0d08e1452ba39572f931b", "0d1f8c8759cd3bc30ea4f1b6b25cfade0bf54df2a60654ae493b8dd5047bebe7ba1d2f6edd650ce6c79730f98fef6df1", "4e120d2e38b1217c583d33706eb22230b9e05787fe375b696bba3bdbb93e68283dea217910a6168f855c3fe1bb9a87b0", "5d9971330f23e1a8e0f7b54c46143d66cf43572906941ea17f3d34daa2cd34bd628e86b139f303ee73ebe3e7013bfd50"},
	{"brainpoolP512r1", "6f6237f18232cb18ddda82d7d2cd3566b26adf6f08b11cbb16122710751d2e945dcdea9a988a0adf36fd7ca0d50c2937ca1d37f12d11409fae058b08ac94c491", "0453daba14bb6d7946c7b4e9a5dedf9eb0feaf161722f6295706e0c6cb0d89d27b0ad15386c56bcd00b720ead32e28a9103e777d06f14592f90d37179f4e47011117e883e669cd3719d655376a7f55ed2700d59371a1aa3c3da7fb934c5881144a8b1840ebd1ed73194e335495c8ea931cb058c92ba3952de3df335e6158cc8c97", "04123383dd68eea0d3c459a10f500426c02042bba6539d67ab3c2a3d54561534e27d57ed87ededd8568915bdf3c0c7a5a0db8f7f19e48fcf4ecc99173e8d101ecb844ff5b995b7bb42264ef7e406b498ac022332904bcca336282cdc80b808843ffab1cd817e47185419aa79a84dc5b3382cdef81fc2aafd58f82e0da15db3dc4d", "38c947bf4bab6ddeb655ad25e2f2a58f04c05bf8928abd96b75b0cb962b9e9ec95993c78ba587ef0818367890bc7b131cc5f05bd0f91fba284de55eb9babb455", "189e1f19b84bd88e28e86f97dcb02494072ccbbc1426a82357a82d29ba56359747e8a7ab3459a030442d725f887342e503ff1558d85bb33b0d6b9ece7044aedb", "21a8a5a0bfa0e08bf97286f4393e014b7d82e3e561b4b9fc1861981ae678f20f0deb6bcad0e7f4f37c73ff7a699d5e6b58ffda758656104c674024c69df3171f"},
}

// TestBrainpoolVectors checks the public point, the ECDH secret and the
// verification of a signature against another implementation's.
func TestBrainpoolVectors(t *testing.T) {
	digest := sha256.Sum256([]byte("tessera brainpool"))
	for _, v := range brainpoolVectors {
		t.Run(v.curve, func(t *testing.T) {
			c := mustNamed(t, v.curve)
			d := new(big.Int).SetBytes(h(t, v.d))
			x, y := c.ScalarBaseMult(d)
			if got := hex.EncodeToString(c.Marshal(x, y)); got != v.pub {
				t.Errorf("d·G = %s, want %s", got, v.pub)
			}
			px, py, ok := c.Unmarshal(h(t, v.peer))
			if !ok {
				t.Fatalf("Unmarshal(peer) = false")
			}
			secret, ok := c.ECDH(d, px, py)
			if got := hex.EncodeToString(secret); !ok || got != v.secret {
				t.Errorf("ECDH = %s, %v, want %s", got, ok, v.secret)
			}
			r, s := new(big.Int).SetBytes(h(t, v.r)), new(big.Int).SetBytes(h(t, v.s))
			if !c.Verify(x, y, digest[:], r, s) {
				t.Error("Verify(OpenSSL's signature) = false")
			}
			if c.Verify(x, y, digest[:], r, new(big.Int).Add(s, big.NewInt(1))) {
				t.Error("Verify(s+1) = true")
			}
			if c.Verify(px, py, digest[:], r, s) {
				t.Error("Verify(another key) = true")
			}
		})
	}
}

// TestSignVerify signs with each curve and verifies, for digests shorter
// and longer than the order.
func TestSignVerify(t *testing.T) {
	for _, name := range Names() {
		t.Run(name, func(t *testing.T) {
			c := mustNamed(t, name)
			d, err := c.RandScalar(rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			if !c.ValidScalar(d) {
				t.Fatalf("RandScalar = %x, not in [1, n−1]", d)
			}
			qx, qy := c.ScalarBaseMult(d)
			for _, n := range []int{20, 32, 64} {
				digest := make([]byte, n)
				rand.Read(digest)
				r, s, err := c.Sign(rand.Reader, d, digest)
				if err != nil {
					t.Fatal(err)
				}
				if !c.Verify(qx, qy, digest, r, s) {
					t.Errorf("%d-byte digest: Verify = false", n)
				}
				digest[0] ^= 0x80
				if c.Verify(qx, qy, digest, r, s) {
					t.Errorf("%d-byte digest: Verify(another digest) = true", n)
				}
			}
		})
	}
}

// TestUnmarshal refuses what is not a point on the curve.
func TestUnmarshal(t *testing.T) {
	c := mustNamed(t, "brainpoolP256r1")
	g := c.Marshal(c.Gx, c.Gy)
	offCurve := append([]byte(nil), g...)
	offCurve[len(offCurve)-1] ^= 1
	xIsP := c.Marshal(c.P, c.Gy) // x ≥ p: refused before the curve equation
	for _, tc := range []struct {
		name string
		in   []byte
		ok   bool
	}{
		{"G", g, true},
		{"off the curve", offCurve, false},
		{"compressed prefix", append([]byte{2}, g[1:]...), false},
		{"short", g[:len(g)-1], false},
		{"empty", nil, false},
		{"all zero", make([]byte, len(g)), false},
		{"x = p", xIsP, false},
	} {
		if _, _, ok := c.Unmarshal(tc.in); ok != tc.ok {
			t.Errorf("Unmarshal(%s) ok = %v, want %v", tc.name, ok, tc.ok)
		}
	}
}

// FuzzUnmarshal: whatever Unmarshal accepts is on the curve and marshals
// back to the same bytes.
func FuzzUnmarshal(f *testing.F) {
	for _, v := range brainpoolVectors {
		f.Add(v.curve, h(f, v.pub))
		f.Add(v.curve, h(f, v.peer)[1:])
	}
	f.Fuzz(func(t *testing.T, name string, b []byte) {
		c, ok := Named(name)
		if !ok {
			return
		}
		x, y, ok := c.Unmarshal(b)
		if !ok {
			return
		}
		if !c.IsOnCurve(x, y) || string(c.Marshal(x, y)) != string(b) {
			t.Errorf("Unmarshal(%x) = (%x, %x): not on the curve or not a round trip", b, x, y)
		}
	})
}

// add returns P+Q in affine coordinates, doubling when they are equal: the
// tests' own arithmetic, independent of the package's Jacobian code.
func (c *Curve) add(x1, y1, x2, y2 *big.Int) (x, y *big.Int) {
	if x1 == nil {
		return x2, y2
	}
	if x2 == nil {
		return x1, y1
	}
	p := c.P
	var l *big.Int
	if x1.Cmp(x2) == 0 {
		if new(big.Int).Add(y1, y2).Mod(new(big.Int).Add(y1, y2), p).Sign() == 0 {
			return nil, nil // P + (−P)
		}
		// λ = (3x² + a) / 2y
		num := new(big.Int).Mul(x1, x1)
		num.Mul(num, big.NewInt(3)).Add(num, c.A)
		den := new(big.Int).Lsh(y1, 1)
		l = num.Mul(num, den.ModInverse(den.Mod(den, p), p))
	} else {
		// λ = (y2 − y1) / (x2 − x1)
		num := new(big.Int).Sub(y2, y1)
		den := new(big.Int).Sub(x2, x1)
		l = num.Mul(num, den.ModInverse(den.Mod(den, p), p))
	}
	l.Mod(l, p)
	x = new(big.Int).Mul(l, l)
	x.Sub(x, x1).Sub(x, x2).Mod(x, p)
	y = new(big.Int).Sub(x1, x)
	y.Mul(y, l).Sub(y, y1).Mod(y, p)
	return x, y
}

// affineMult is k·P by affine double-and-add, with add.
func (c *Curve) affineMult(px, py, k *big.Int) (x, y *big.Int) {
	for i := k.BitLen() - 1; i >= 0; i-- {
		x, y = c.add(x, y, x, y)
		if k.Bit(i) == 1 {
			x, y = c.add(x, y, px, py)
		}
	}
	return x, y
}

// TestJacobianMatchesAffine: the package's Jacobian scalar multiplication
// agrees with textbook affine arithmetic on every curve, for random and
// edge scalars.
func TestJacobianMatchesAffine(t *testing.T) {
	for _, name := range Names() {
		c := mustNamed(t, name)
		scalars := []*big.Int{big.NewInt(1), big.NewInt(2), big.NewInt(3), new(big.Int).Sub(c.N, big.NewInt(1))}
		for range 3 {
			k, err := c.RandScalar(rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			scalars = append(scalars, k)
		}
		for _, k := range scalars {
			jx, jy := c.ScalarMult(c.Gx, c.Gy, k)
			ax, ay := c.affineMult(c.Gx, c.Gy, k)
			if jx.Cmp(ax) != 0 || jy.Cmp(ay) != 0 {
				t.Errorf("%s: k = %x: Jacobian and affine disagree", c.Name, k)
			}
		}
		if x, _ := c.ScalarMult(c.Gx, c.Gy, c.N); x != nil {
			t.Errorf("%s: n·G is not the point at infinity", c.Name)
		}
	}
}
