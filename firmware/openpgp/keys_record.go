package openpgp

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/binary"
	"fmt"
	"io"
	"math/big"
	"slices"

	"github.com/tesseracard/tessera/apdu"
	"github.com/tesseracard/tessera/firmware/ecgeneric"
)

// The stored form of a private key (the opaque bytes the application keeps
// per key) is part of the public on-card state format. Version 1:
//
//	01 | algorithm ID (01 RSA, 12 ECDH, 13 ECDSA, 16 EdDSA) | fields
//
// where every field is a two-byte big-endian length and that many bytes:
//
//	RSA:  n, e, d, p, q, dP, dQ, qInv (unsigned big-endian, no leading zeros)
//	ECC:  curve OID (no tag, no length), private, public
//
// The ECC private field is the scalar d, big-endian and the curve's size,
// for P-256, P-384 and the brainpool curves; the 32-byte seed for Ed25519;
// the 32-byte scalar in X25519's own (little-endian, RFC 7748) order for
// X25519. The public field is 04||X||Y for NIST and brainpool curves and
// the 32 raw bytes for Ed25519 and X25519.
// The public key and the CRT values are stored so that a signature need not
// derive them again; they are checked when the key is made or imported.
// Nothing follows the last field. A record of another version, another
// algorithm or curve than the key's attributes, or with a malformed field is
// refused with an error wrapping apdu.SWReferenceDataUnusable (6984).
const recordVersion = 0x01

// maxField bounds a record field: an RSA-4096 modulus is 512 bytes.
const maxField = 1024

// curve is one elliptic curve the card supports.
type curve struct {
	name string
	oid  []byte
	size int // bytes of a scalar and of a coordinate
	nist elliptic.Curve
	dh   ecdh.Curve
	// gen is the math/big arithmetic of a curve Go lacks: the brainpool
	// curves of RFC 5639 (ECDSA and ECDH, as on a YubiKey 5.2.3 and later).
	gen *ecgeneric.Curve
	// generic marks a curve of package ecgeneric (gen is set by curveByOID).
	generic bool
}

// curves are the elliptic curves the card supports, without their
// ecgeneric arithmetic (curveByOID adds it). The OIDs are the ones of the
// algorithm attributes (OpenPGP card 3.4 §4.4.3.10) and of gpg
// (common/openpgp-oid.c): brainpoolP256r1 1.3.36.3.3.2.8.1.1.7, P384r1
// ...11, P512r1 ...13.
func curves() []curve {
	return []curve{
		{name: "P-256", oid: []byte{0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07}, size: 32, nist: elliptic.P256(), dh: ecdh.P256()},
		{name: "P-384", oid: []byte{0x2B, 0x81, 0x04, 0x00, 0x22}, size: 48, nist: elliptic.P384(), dh: ecdh.P384()},
		{name: "Ed25519", oid: []byte{0x2B, 0x06, 0x01, 0x04, 0x01, 0xDA, 0x47, 0x0F, 0x01}, size: 32},
		{name: "X25519", oid: []byte{0x2B, 0x06, 0x01, 0x04, 0x01, 0x97, 0x55, 0x01, 0x05, 0x01}, size: 32, dh: ecdh.X25519()},
		{name: "brainpoolP256r1", oid: []byte{0x2B, 0x24, 0x03, 0x03, 0x02, 0x08, 0x01, 0x01, 0x07}, size: 32, generic: true},
		{name: "brainpoolP384r1", oid: []byte{0x2B, 0x24, 0x03, 0x03, 0x02, 0x08, 0x01, 0x01, 0x0B}, size: 48, generic: true},
		{name: "brainpoolP512r1", oid: []byte{0x2B, 0x24, 0x03, 0x03, 0x02, 0x08, 0x01, 0x01, 0x0D}, size: 64, generic: true},
	}
}

// curveByOID returns the curve named by oid (no tag, no length), one of
// curves().
func curveByOID(oid []byte) (curve, bool) {
	for _, c := range curves() {
		if bytes.Equal(c.oid, oid) {
			if c.generic {
				c.gen, _ = ecgeneric.Named(c.name) // the brainpool curves: all in ecgeneric's table
			}
			return c, true
		}
	}
	return curve{}, false
}

// weierstrass reports whether c is a NIST or brainpool curve: ECDSA and
// ECDH, points 04||X||Y.
func (c curve) weierstrass() bool { return c.nist != nil || c.gen != nil }

// fits reports whether algorithm id may use curve c for key ref: ECDSA on
// NIST curves (and brainpool curves, not for the attestation key) and EdDSA
// on Ed25519 for the signature and authentication keys (and the
// attestation key), ECDH on NIST and brainpool curves and X25519 for the
// decryption key.
func (c curve) fits(id, ref byte) bool {
	switch id {
	case algECDSA:
		return c.nist != nil && (ref == keySig || ref == keyAut || ref == keyAtt) ||
			c.generic && (ref == keySig || ref == keyAut)
	case algEdDSA:
		return c.name == "Ed25519" && (ref == keySig || ref == keyAut || ref == keyAtt)
	case algECDH:
		return (c.dh != nil || c.generic) && ref == keyDec
	}
	return false
}

// keyPair is a private key in RAM: exactly one of the key fields is set.
type keyPair struct {
	alg     byte
	curve   curve // ECC
	rsa     *rsa.PrivateKey
	ecdsa   *ecdsa.PrivateKey // ECDSA keys
	ecdh    *ecdh.PrivateKey  // ECDH keys, NIST and X25519
	ed25519 ed25519.PrivateKey
	gen     *genericKey // ECDSA and ECDH keys on brainpool curves (alg says which)
}

// genericKey is a key on a curve of package ecgeneric: the scalar d in
// [1, n-1] and its public point.
type genericKey struct {
	d, x, y *big.Int
}

// newKeyPair generates a key of algorithm al from rand. (Go's ECDSA,
// Ed25519 and RSA key generation may draw from the system source
// regardless of rand.)
func newKeyPair(al algorithm, rand io.Reader) (keyPair, error) {
	k := keyPair{alg: al.ID}
	if al.ID == algRSA {
		if !slices.Contains(rsaSizes(), al.Bits) {
			return keyPair{}, apdu.SWFunctionNotSupported
		}
		priv, err := rsa.GenerateKey(rand, al.Bits)
		if err != nil {
			return keyPair{}, fmt.Errorf("openpgp: generating an RSA key: %w", err)
		}
		k.rsa = priv
		return k, nil
	}
	c, ok := curveByOID(al.OID)
	if !ok {
		return keyPair{}, apdu.SWFunctionNotSupported
	}
	k.curve = c
	var err error
	switch {
	case al.ID == algECDSA && c.nist != nil:
		k.ecdsa, err = ecdsa.GenerateKey(c.nist, rand)
	case al.ID == algEdDSA && c.name == "Ed25519":
		_, k.ed25519, err = ed25519.GenerateKey(rand)
	case al.ID == algECDH && c.dh != nil:
		k.ecdh, err = c.dh.GenerateKey(rand)
	case c.gen != nil && (al.ID == algECDSA || al.ID == algECDH):
		var d *big.Int
		if d, err = c.gen.RandScalar(rand); err == nil {
			x, y := c.gen.ScalarBaseMult(d)
			k.gen = &genericKey{d: d, x: x, y: y}
		}
	default:
		return keyPair{}, apdu.SWFunctionNotSupported
	}
	if err != nil {
		return keyPair{}, fmt.Errorf("openpgp: generating a %s key: %w", c.name, err)
	}
	return k, nil
}

// public returns the contents of the public key template 7F49.
func (k keyPair) public() []byte {
	switch {
	case k.rsa != nil:
		return apdu.AppendTLV(apdu.AppendTLV(nil, 0x81, k.rsa.N.Bytes()), 0x82, big.NewInt(int64(k.rsa.E)).Bytes())
	case k.ecdsa != nil:
		point, _ := k.ecdsa.PublicKey.Bytes() // a valid key always encodes
		return apdu.AppendTLV(nil, 0x86, point)
	case k.ecdh != nil:
		return apdu.AppendTLV(nil, 0x86, k.ecdh.PublicKey().Bytes())
	case k.ed25519 != nil:
		return apdu.AppendTLV(nil, 0x86, k.ed25519[ed25519.SeedSize:])
	case k.gen != nil:
		return apdu.AppendTLV(nil, 0x86, k.curve.gen.Marshal(k.gen.x, k.gen.y))
	}
	return nil
}

// record returns the stored form of k (format above).
func (k keyPair) record() []byte {
	out := []byte{recordVersion, k.alg}
	field := func(b []byte) { out = binary.BigEndian.AppendUint16(out, uint16(len(b))); out = append(out, b...) }
	switch {
	case k.rsa != nil:
		pc := k.rsa.Precomputed
		for _, v := range []*big.Int{k.rsa.N, big.NewInt(int64(k.rsa.E)), k.rsa.D, k.rsa.Primes[0], k.rsa.Primes[1], pc.Dp, pc.Dq, pc.Qinv} {
			field(v.Bytes())
		}
		return out
	case k.ecdsa != nil:
		d, _ := k.ecdsa.Bytes()
		point, _ := k.ecdsa.PublicKey.Bytes()
		field(k.curve.oid)
		field(d)
		field(point)
	case k.ecdh != nil:
		field(k.curve.oid)
		field(k.ecdh.Bytes())
		field(k.ecdh.PublicKey().Bytes())
	case k.ed25519 != nil:
		field(k.curve.oid)
		field(k.ed25519.Seed())
		field(k.ed25519[ed25519.SeedSize:])
	case k.gen != nil:
		field(k.curve.oid)
		field(k.gen.d.FillBytes(make([]byte, k.curve.size)))
		field(k.curve.gen.Marshal(k.gen.x, k.gen.y))
	}
	return out
}

// errRecord is the error of a stored key that cannot be used.
func errRecord(what string) error {
	return fmt.Errorf("openpgp: stored key: %s: %w", what, apdu.SWReferenceDataUnusable)
}

// parseRecord reads a stored key and checks it against the key's current
// attributes al. It derives nothing expensive: the public key and the RSA
// CRT values come from the record (checked when it was written).
func parseRecord(al algorithm, rec []byte) (keyPair, error) {
	if len(rec) < 2 || rec[0] != recordVersion {
		return keyPair{}, errRecord("unknown format")
	}
	if rec[1] != al.ID {
		return keyPair{}, errRecord("algorithm differs from the attributes")
	}
	var fields [][]byte
	for rest := rec[2:]; len(rest) > 0; {
		if len(rest) < 2 {
			return keyPair{}, errRecord("truncated field")
		}
		n := int(binary.BigEndian.Uint16(rest))
		if n > maxField || len(rest)-2 < n {
			return keyPair{}, errRecord("field length")
		}
		fields = append(fields, rest[2:2+n])
		rest = rest[2+n:]
	}
	k := keyPair{alg: al.ID}
	if al.ID == algRSA {
		if len(fields) != 8 {
			return keyPair{}, errRecord("RSA needs 8 fields")
		}
		var v [8]*big.Int
		for i, f := range fields {
			v[i] = new(big.Int).SetBytes(f)
		}
		if !v[1].IsInt64() || v[1].Int64() > 1<<32-1 || v[0].BitLen() != al.Bits {
			return keyPair{}, errRecord("RSA modulus or exponent")
		}
		k.rsa = &rsa.PrivateKey{
			PublicKey:   rsa.PublicKey{N: v[0], E: int(v[1].Int64())},
			D:           v[2],
			Primes:      []*big.Int{v[3], v[4]},
			Precomputed: rsa.PrecomputedValues{Dp: v[5], Dq: v[6], Qinv: v[7]},
		}
		// crypto/rsa checks the key's consistency (cheaply, with the CRT
		// values given) here; an inconsistent key stays without its
		// precomputation and fails at its use.
		k.rsa.Precompute()
		return k, nil
	}
	if len(fields) != 3 {
		return keyPair{}, errRecord("ECC needs 3 fields")
	}
	if !bytes.Equal(fields[0], al.OID) {
		return keyPair{}, errRecord("curve differs from the attributes")
	}
	c, ok := curveByOID(fields[0])
	if !ok {
		return keyPair{}, errRecord("unknown curve")
	}
	k.curve = c
	d, pub := fields[1], fields[2]
	var err error
	switch {
	case al.ID == algECDSA && c.nist != nil:
		k.ecdsa, err = ecdsaKey(c, d, pub)
	case al.ID == algECDH && c.dh != nil:
		k.ecdh, err = c.dh.NewPrivateKey(d)
	case al.ID == algEdDSA && c.name == "Ed25519":
		if len(d) != ed25519.SeedSize || len(pub) != ed25519.PublicKeySize {
			return keyPair{}, errRecord("Ed25519 key length")
		}
		k.ed25519 = ed25519.PrivateKey(append(bytes.Clone(d), pub...))
	case c.gen != nil && (al.ID == algECDSA || al.ID == algECDH):
		k.gen, err = parseGeneric(c, d, pub)
	default:
		return keyPair{}, errRecord("algorithm and curve")
	}
	if err != nil {
		return keyPair{}, errRecord(err.Error())
	}
	return k, nil
}

// parseGeneric makes the key on curve c (ecgeneric) from its stored scalar
// d and point pub (04||X||Y), checking that d is in [1, n-1] and the point
// on the curve, without deriving the point again (that they belong
// together was checked when the key was made or imported).
func parseGeneric(c curve, d, pub []byte) (*genericKey, error) {
	if len(d) != c.size {
		return nil, fmt.Errorf("%s scalar is %d bytes", c.name, len(d))
	}
	k := &genericKey{d: new(big.Int).SetBytes(d)}
	if !c.gen.ValidScalar(k.d) {
		return nil, fmt.Errorf("%s scalar out of range", c.name)
	}
	var ok bool
	if k.x, k.y, ok = c.gen.Unmarshal(pub); !ok {
		return nil, fmt.Errorf("%s public point is not on the curve", c.name)
	}
	return k, nil
}
