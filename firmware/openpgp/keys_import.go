package openpgp

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"math/big"
	"slices"

	"github.com/tesseracard/tessera/apdu"
)

// Tags of the private key template 7F48 (OpenPGP card 3.4 §4.4.3.12).
const (
	tagPubExp = 0x91 // RSA public exponent e
	tagP      = 0x92 // RSA prime p; ECC private key d
	tagQ      = 0x93 // RSA prime q
	tagQInv   = 0x94 // RSA 1/q mod p
	tagDP     = 0x95 // RSA d mod (p-1)
	tagDQ     = 0x96 // RSA d mod (q-1)
	tagN      = 0x97 // RSA modulus
	tagPub    = 0x99 // ECC public key
)

// parseImport reads the extended header list of a key import (OpenPGP card
// 3.4 §4.4.3.12):
//
//	4D { B6|B8|A4 (empty, or 84 01 01|02|03), 7F48 { tag length ... }, 5F48 values }
//
// 7F48 lists tags with their lengths and no values; 5F48 holds the values,
// concatenated in that order. RSA: 91 e, 92 p, 93 q, and optionally 94
// 1/q mod p, 95 dP, 96 dQ, 97 n, which must then agree with p, q and e.
// ECC: 92 d, and optionally 99 the public key, which must agree with d.
//
// What gpg's scdaemon (2.2 and later) sends, and the card accepts:
//   - values with leading zero bytes stripped or restored (RSA e as 4
//     bytes, p and q at their size, d padded to the curve size): numbers
//     are read without regard to leading zeros;
//   - 99 only when the attributes end in FF, and then in OpenPGP's native
//     form: for Ed25519 and X25519 the 32 bytes behind a 0x40 prefix
//     (accepted with or without it), for NIST and brainpool curves
//     04||X||Y;
//   - for Ed25519, d is the 32-byte seed;
//   - for X25519 (gpg's cv25519), d is the OpenPGP secret-key MPI, which
//     holds the X25519 scalar in reversed (big-endian) byte order
//     (RFC 4880bis §5.6.6, draft 10: "the secret key is stored in
//     big-endian"; TestImportGnuPGKeys holds keys gpg 2.2.40 made): the
//     card reverses it. When 99 is present, the order
//     whose public key matches is taken, so a client that sends RFC 7748
//     order together with the public key is understood too.
//
// The key must be of the algorithm al(ref) says and be consistent: n = pq
// of the attributes' size, e odd and below 2^32, an ECC scalar in [1, n-1].
// Anything else is apdu.SWIncorrectData (6A80).
func parseImport(data []byte, al func(ref byte) algorithm) (byte, keyPair, error) {
	ehl, err := nested(data, 0x4D)
	if err != nil {
		return 0, keyPair{}, err
	}
	crt, rest, err := apdu.ParseTLV(ehl)
	if err != nil {
		return 0, keyPair{}, apdu.SWIncorrectData
	}
	ref := byte(crt.Tag)
	keyNo := map[apdu.Tag]byte{keySig: 1, keyDec: 2, keyAut: 3}[crt.Tag]
	switch {
	case crt.Tag == keySig && bytes.Equal(crt.Value, []byte{0x84, 0x01, keyAtt}):
		ref = keyAtt // the YubiKey's attestation key
	case keyNo == 0 || len(crt.Value) != 0 && !bytes.Equal(crt.Value, []byte{0x84, 0x01, keyNo}):
		return 0, keyPair{}, apdu.SWIncorrectData
	}
	hdr, rest, err := apdu.ParseTLV(rest)
	if err != nil || hdr.Tag != 0x7F48 {
		return 0, keyPair{}, apdu.SWIncorrectData
	}
	kd, rest, err := apdu.ParseTLV(rest)
	if err != nil || kd.Tag != 0x5F48 || len(rest) != 0 {
		return 0, keyPair{}, apdu.SWIncorrectData
	}
	vals, err := splitKeyData(hdr.Value, kd.Value)
	if err != nil {
		return 0, keyPair{}, err
	}
	a := al(ref)
	var k keyPair
	if a.ID == algRSA {
		k, err = importRSA(a, vals)
	} else {
		k, err = importECC(a, vals)
	}
	if err != nil {
		return 0, keyPair{}, err
	}
	return ref, k, nil
}

// splitKeyData cuts the concatenated values of 5F48 along the tag-length
// list of 7F48. Tags are one byte, 91 to 99; lengths are BER (short, 81 xx
// or 82 xx xx); a tag appears once; the lengths add up to all of values.
func splitKeyData(hdr, values []byte) (map[byte][]byte, error) {
	vals := map[byte][]byte{}
	for len(hdr) > 0 {
		tag := hdr[0]
		if tag < tagPubExp || tag > tagPub || tag == 0x98 || vals[tag] != nil || len(hdr) < 2 {
			return nil, apdu.SWIncorrectData
		}
		n, skip := int(hdr[1]), 2
		switch {
		case hdr[1] == 0x81 && len(hdr) >= 3:
			n, skip = int(hdr[2]), 3
		case hdr[1] == 0x82 && len(hdr) >= 4:
			n, skip = int(hdr[2])<<8|int(hdr[3]), 4
		case hdr[1] >= 0x80:
			return nil, apdu.SWIncorrectData
		}
		if n == 0 || n > len(values) {
			return nil, apdu.SWIncorrectData
		}
		vals[tag], values = values[:n:n], values[n:]
		hdr = hdr[skip:]
	}
	if len(values) != 0 {
		return nil, apdu.SWIncorrectData
	}
	return vals, nil
}

// importRSA builds and checks an RSA key from 91 e, 92 p, 93 q and the
// optional 94..97. (math/big's arithmetic here is not constant time; it runs
// once, at import, as on the PIV applet.)
func importRSA(al algorithm, vals map[byte][]byte) (keyPair, error) {
	for tag := range vals {
		if tag == tagPub {
			return keyPair{}, apdu.SWIncorrectData
		}
	}
	num := func(tag byte) *big.Int {
		if v, ok := vals[tag]; ok {
			return new(big.Int).SetBytes(v)
		}
		return nil
	}
	e, p, q := num(tagPubExp), num(tagP), num(tagQ)
	if e == nil || p == nil || q == nil {
		return keyPair{}, apdu.SWIncorrectData
	}
	if e.Bit(0) == 0 || e.Cmp(big.NewInt(3)) < 0 || e.BitLen() > min(al.EBits, 32) ||
		p.BitLen() != al.Bits/2 || q.BitLen() != al.Bits/2 || p.Cmp(q) == 0 {
		return keyPair{}, apdu.SWIncorrectData
	}
	n := new(big.Int).Mul(p, q)
	if n.BitLen() != al.Bits {
		return keyPair{}, apdu.SWIncorrectData
	}
	one := big.NewInt(1)
	phi := new(big.Int).Mul(new(big.Int).Sub(p, one), new(big.Int).Sub(q, one))
	d := new(big.Int).ModInverse(e, phi)
	if d == nil {
		return keyPair{}, apdu.SWIncorrectData
	}
	k := &rsa.PrivateKey{PublicKey: rsa.PublicKey{N: n, E: int(e.Int64())}, D: d, Primes: []*big.Int{p, q}}
	if err := k.Validate(); err != nil {
		return keyPair{}, apdu.SWIncorrectData
	}
	k.Precompute()
	for _, c := range []struct {
		tag  byte
		want *big.Int
	}{{tagQInv, k.Precomputed.Qinv}, {tagDP, k.Precomputed.Dp}, {tagDQ, k.Precomputed.Dq}, {tagN, n}} {
		if v := num(c.tag); v != nil && v.Cmp(c.want) != 0 {
			return keyPair{}, apdu.SWIncorrectData
		}
	}
	return keyPair{alg: algRSA, rsa: k}, nil
}

// importECC builds and checks an ECC key from 92 d and the optional 99.
func importECC(al algorithm, vals map[byte][]byte) (keyPair, error) {
	c, ok := curveByOID(al.OID)
	if !ok {
		return keyPair{}, apdu.SWIncorrectData
	}
	for tag := range vals {
		if tag != tagP && tag != tagPub {
			return keyPair{}, apdu.SWIncorrectData
		}
	}
	raw, ok := vals[tagP]
	if !ok {
		return keyPair{}, apdu.SWIncorrectData
	}
	// The scalar at the curve's size: leading zeros dropped or restored.
	for len(raw) > c.size && raw[0] == 0 {
		raw = raw[1:]
	}
	if len(raw) > c.size {
		return keyPair{}, apdu.SWIncorrectData
	}
	d := make([]byte, c.size)
	copy(d[c.size-len(raw):], raw)
	pub, hasPub := vals[tagPub]
	if hasPub && !c.weierstrass() && len(pub) == 33 && pub[0] == 0x40 {
		pub = pub[1:] // OpenPGP's native prefix for Ed25519 and X25519
	}
	k := keyPair{alg: al.ID, curve: c}
	switch {
	case al.ID == algEdDSA:
		k.ed25519 = ed25519.NewKeyFromSeed(d)
	case c.gen != nil:
		g := &genericKey{d: new(big.Int).SetBytes(d)}
		if !c.gen.ValidScalar(g.d) {
			return keyPair{}, apdu.SWIncorrectData // not in [1, n-1]
		}
		g.x, g.y = c.gen.ScalarBaseMult(g.d)
		k.gen = g
	case c.nist != nil:
		ek, err := ecdsa.ParseRawPrivateKey(c.nist, d)
		if err != nil {
			return keyPair{}, apdu.SWIncorrectData // not in [1, n-1]
		}
		if al.ID == algECDSA {
			k.ecdsa = ek
		} else if k.ecdh, err = ek.ECDH(); err != nil {
			return keyPair{}, apdu.SWIncorrectData
		}
	default: // X25519: gpg's order first, then RFC 7748's if the public key says so
		for _, s := range [][]byte{reversed(d), d} {
			xk, err := c.dh.NewPrivateKey(s)
			if err != nil {
				return keyPair{}, apdu.SWIncorrectData
			}
			k.ecdh = xk
			if !hasPub || bytes.Equal(xk.PublicKey().Bytes(), pub) {
				break
			}
		}
	}
	if hasPub && !bytes.Equal(k.public(), apdu.AppendTLV(nil, 0x86, pub)) {
		return keyPair{}, apdu.SWIncorrectData
	}
	return k, nil
}

// reversed returns a reversed copy of b.
func reversed(b []byte) []byte {
	r := bytes.Clone(b)
	slices.Reverse(r)
	return r
}
