package openpgp

import (
	"bytes"
	"crypto/ecdsa"
	"fmt"
	"io"
	"math/big"

	"github.com/tesseracard/tessera/apdu"
)

// ecdsaKey makes the ECDSA key of curve c from its stored scalar d and
// public point pub (04||X||Y) without deriving the point again: that scalar
// multiplication would cost about as much as the signature. The point is
// checked to be on the curve here and d to be in [1, n-1] by crypto/ecdsa
// at its first use; that they belong together was checked when the key was
// made or imported.
func ecdsaKey(c curve, d, pub []byte) (*ecdsa.PrivateKey, error) {
	if len(d) != c.size {
		return nil, fmt.Errorf("%s scalar is %d bytes", c.name, len(d))
	}
	pk, err := ecdsa.ParseUncompressedPublicKey(c.nist, pub)
	if err != nil {
		return nil, err
	}
	//lint:ignore SA1019 the documented way to pair a stored scalar with its stored point
	return &ecdsa.PrivateKey{PublicKey: *pk, D: new(big.Int).SetBytes(d)}, nil
}

// ecdsaSign signs hash (truncated to the order's bit length by crypto/ecdsa,
// FIPS 186-5 §6.4.1) and answers r||s, each the curve's size (OpenPGP card
// 3.4 §7.2.10). Go signs in DER, SEQUENCE { INTEGER r, INTEGER s }, which
// is read here with the card's own BER-TLV parser rather than through
// big.Int (ecdsa.Sign): that conversion alone cost about 4% of a P-256
// signature.
func ecdsaSign(k *ecdsa.PrivateKey, hash []byte, rand io.Reader) ([]byte, error) {
	der, err := ecdsa.SignASN1(rand, k, hash)
	if err != nil {
		return nil, fmt.Errorf("openpgp: ECDSA signature: %w", err)
	}
	bad := func() error { return fmt.Errorf("openpgp: ECDSA signature % X is not DER r, s", der) }
	size := (k.Curve.Params().BitSize + 7) / 8
	out := make([]byte, 2*size)
	seq, err := nested(der, 0x30)
	if err != nil {
		return nil, bad()
	}
	for i := range 2 {
		n, rest, err := apdu.ParseTLV(seq)
		if err != nil || n.Tag != 0x02 {
			return nil, bad()
		}
		v := bytes.TrimLeft(n.Value, "\x00") // DER's sign byte, and r or s shorter than the order
		if len(v) > size {
			return nil, bad()
		}
		copy(out[(i+1)*size-len(v):(i+1)*size], v)
		seq = rest
	}
	if len(seq) != 0 {
		return nil, bad()
	}
	return out, nil
}

// ecdhDecipher is PSO:DECIPHER for an ECDH key: data A6 { 7F49 { 86 point } }
// (OpenPGP card 3.4 §7.2.11), answering the shared secret: the x
// coordinate for NIST and brainpool curves (gpg's scdaemon adds the 0x41
// prefix itself), the X25519 result for X25519. A brainpool point must be
// 04||X||Y on the curve (with cofactor 1 that makes it of order n). Nothing may
// follow a template.
func ecdhDecipher(k keyPair, data []byte) ([]byte, error) {
	point, err := nested(data, 0xA6, 0x7F49, 0x86)
	if err != nil {
		return nil, err
	}
	c := k.curve
	switch {
	case c.gen != nil:
		if len(point) != 1+2*c.size {
			return nil, apdu.SWWrongLength
		}
		x, y, ok := c.gen.Unmarshal(point)
		if !ok {
			return nil, apdu.SWIncorrectData // not on the curve
		}
		secret, ok := c.gen.ECDH(k.gen.d, x, y)
		if !ok {
			return nil, apdu.SWIncorrectData // cannot happen with cofactor 1 and a valid key
		}
		return secret, nil
	case c.nist != nil:
		if len(point) != 1+2*c.size {
			return nil, apdu.SWWrongLength
		}
	default: // X25519: 32 bytes, or OpenPGP's 0x40-prefixed native form
		if len(point) == 33 && point[0] == 0x40 {
			point = point[1:]
		}
		if len(point) != 32 {
			return nil, apdu.SWWrongLength
		}
	}
	pub, err := c.dh.NewPublicKey(point)
	if err != nil {
		return nil, apdu.SWIncorrectData // not on the curve
	}
	secret, err := k.ecdh.ECDH(pub)
	if err != nil {
		return nil, apdu.SWIncorrectData // X25519: a low-order point
	}
	return secret, nil
}

// genericSign is ECDSA with a key on a curve of ecgeneric (math/big, not
// constant time): hash truncated to the order's bit length, the answer
// r||s, each the curve's size (OpenPGP card 3.4 §7.2.10).
func genericSign(k keyPair, hash []byte, rand io.Reader) ([]byte, error) {
	r, s, err := k.curve.gen.Sign(rand, k.gen.d, hash)
	if err != nil {
		return nil, fmt.Errorf("openpgp: ECDSA signature: %w", err)
	}
	size := k.curve.size
	out := make([]byte, 2*size)
	r.FillBytes(out[:size])
	s.FillBytes(out[size:])
	return out, nil
}

// nested returns the value of the innermost of the nested templates
// tags[0] { tags[1] { ... } }, each the only object in its parent.
func nested(data []byte, tags ...apdu.Tag) ([]byte, error) {
	for _, tag := range tags {
		t, rest, err := apdu.ParseTLV(data)
		if err != nil || t.Tag != tag || len(rest) != 0 {
			return nil, apdu.SWIncorrectData
		}
		data = t.Value
	}
	return data, nil
}
