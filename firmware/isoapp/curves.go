package isoapp

import (
	"crypto/elliptic"
	"encoding/asn1"
	"io"
	"math/big"

	"github.com/tesseracard/tessera/firmware/ecgeneric"
)

// curve is a short Weierstrass curve given by the explicit domain
// parameters OpenSC sends: the arithmetic of package ecgeneric, and std, the
// Go standard library's implementation where there is one (constant time).
type curve struct {
	*ecgeneric.Curve
	std elliptic.Curve
}

// curveNames returns the application's curves in the order key records
// index them (the second byte of a kindEC record): never reorder, only
// append. It is the application's own list, independent of ecgeneric's
// table, which may grow in any place.
func curveNames() []string {
	return []string{
		"P-192", "P-224", "P-256", "P-384",
		"brainpoolP192r1", "brainpoolP224r1", "brainpoolP256r1", "brainpoolP320r1",
		"secp192k1", "secp256k1",
	}
}

// curveSet is the supported curves, in curveNames order (a key record
// stores the index). An Applet builds it once.
type curveSet []*curve

// curves builds the curve set from curveNames.
func curves() curveSet {
	std := map[string]elliptic.Curve{"P-224": elliptic.P224(), "P-256": elliptic.P256(), "P-384": elliptic.P384()}
	names := curveNames()
	out := make([]*curve, len(names))
	for i, name := range names {
		c, ok := ecgeneric.Named(name)
		if !ok {
			panic("isoapp: curve " + name + " is not in ecgeneric's table") // a typo in the list above
		}
		out[i] = &curve{Curve: c, std: std[name]}
	}
	return out
}

// find matches explicit domain parameters against the table; p, a, b,
// n compare as numbers, the generator as an uncompressed point.
func (cs curveSet) find(p, a, b, g, n []byte) (int, *curve, bool) {
	for i, c := range cs {
		eq := func(x *big.Int, v []byte) bool { return new(big.Int).SetBytes(v).Cmp(x) == 0 }
		if !eq(c.P, p) || !eq(c.A, a) || !eq(c.B, b) || !eq(c.N, n) {
			continue
		}
		if x, y, ok := c.Unmarshal(g); ok && x.Cmp(c.Gx) == 0 && y.Cmp(c.Gy) == 0 {
			return i, c, true
		}
	}
	return 0, nil, false
}

// scalarBaseMult returns k·G, with the standard library's constant-time
// code where the curve has it.
func (c *curve) scalarBaseMult(k *big.Int) (x, y *big.Int) {
	if c.std != nil {
		return c.std.ScalarBaseMult(k.FillBytes(make([]byte, (c.N.BitLen()+7)/8))) //nolint:staticcheck // the curves' own constant-time code
	}
	return c.ScalarBaseMult(k)
}

// sign is ECDSA over digest with private scalar d (generic arithmetic);
// the result is DER SEQUENCE {r, s}. Keys on the standard library's curves
// sign with crypto/ecdsa instead (storedKey.std).
func (c *curve) sign(rnd io.Reader, d *big.Int, digest []byte) ([]byte, error) {
	r, s, err := c.Sign(rnd, d, digest)
	if err != nil {
		return nil, err
	}
	return marshalSig(r, s), nil
}

// marshalSig is DER SEQUENCE {INTEGER r, INTEGER s}.
func marshalSig(r, s *big.Int) []byte {
	b, err := asn1.Marshal(struct{ R, S *big.Int }{r, s})
	if err != nil {
		panic("isoapp: encoding an ECDSA signature: " + err.Error()) // two positive integers always encode
	}
	return b
}
