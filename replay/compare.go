package replay

import (
	"bytes"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"slices"

	"github.com/tesseracard/tessera/apdu"
	"github.com/tesseracard/tessera/pivalg"
)

// refMgmtKey is the key reference of the PIV management key (SP 800-78-4
// Table 6-1).
const refMgmtKey = 0x9B

// defaultMgmtKey is the management key of a PIV card as it leaves the
// factory (the YubiKey's, and SP 800-73-4 test cards'): 0102…08 three times.
func defaultMgmtKey() []byte {
	return []byte{1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8}
}

// tlvMap parses b as a flat list of BER-TLV objects, each tag once.
func tlvMap(b []byte) (map[apdu.Tag][]byte, error) {
	tlvs, err := apdu.ParseTLVs(b)
	if err != nil {
		return nil, err
	}
	m := make(map[apdu.Tag][]byte, len(tlvs))
	for _, t := range tlvs {
		if _, dup := m[t.Tag]; dup {
			return nil, fmt.Errorf("tag %v twice", t.Tag)
		}
		m[t.Tag] = t.Value
	}
	return m, nil
}

// generatedPublic parses the public key of a PIV GENERATE answer (SP
// 800-73-4 Part 2 Table 10: 7F49 {81 modulus, 82 exponent} or {86 point})
// and checks it has the algorithm and size asked for.
func generatedPublic(alg byte, resp []byte) (crypto.PublicKey, error) {
	inner, ok, err := apdu.FindTLV(resp, 0x7F49)
	if err != nil || !ok {
		return nil, errors.New("no 7F49 public key template")
	}
	tlvs, err := tlvMap(inner)
	if err != nil {
		return nil, fmt.Errorf("public key template: %v", err)
	}
	if bits := pivalg.RSABits(alg); bits > 0 {
		n := new(big.Int).SetBytes(tlvs[0x81])
		e := new(big.Int).SetBytes(tlvs[0x82])
		if n.BitLen() != bits {
			return nil, fmt.Errorf("RSA modulus of %d bits, want %d", n.BitLen(), bits)
		}
		if !e.IsInt64() || e.Int64() < 3 || e.Bit(0) == 0 {
			return nil, fmt.Errorf("RSA exponent % X", tlvs[0x82])
		}
		return &rsa.PublicKey{N: n, E: int(e.Int64())}, nil
	}
	switch alg {
	case pivalg.P256, pivalg.P384:
		c := elliptic.P256()
		if alg == pivalg.P384 {
			c = elliptic.P384()
		}
		pub, err := ecdsa.ParseUncompressedPublicKey(c, tlvs[0x86])
		if err != nil {
			return nil, fmt.Errorf("EC point: %v", err)
		}
		return pub, nil
	case pivalg.Ed25519:
		if len(tlvs[0x86]) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("Ed25519 key of %d bytes", len(tlvs[0x86]))
		}
		return ed25519.PublicKey(tlvs[0x86]), nil
	case pivalg.X25519:
		return ecdh.X25519().NewPublicKey(tlvs[0x86])
	}
	return nil, fmt.Errorf("algorithm %02X unknown", alg)
}

// importedPublic returns the public key of an imported EC key, so that
// signatures with it can be verified, or nil.
func importedPublic(c apdu.Command) crypto.PublicKey {
	curves := map[byte]elliptic.Curve{pivalg.P256: elliptic.P256(), pivalg.P384: elliptic.P384()}
	tlvs, err := tlvMap(c.Data)
	if err != nil || curves[c.P1] == nil {
		return nil
	}
	k, err := ecdsa.ParseRawPrivateKey(curves[c.P1], tlvs[0x06])
	if err != nil {
		return nil
	}
	return k.Public()
}

// keyOpOutput returns the 82 value of a GENERAL AUTHENTICATE answer.
func keyOpOutput(resp []byte) []byte {
	dyn, _, _ := apdu.FindTLV(resp, 0x7C)
	out, _, _ := apdu.FindTLV(dyn, 0x82)
	return out
}

// rsaPublic is the raw public-key operation, padded to the modulus size.
func rsaPublic(pub *rsa.PublicKey, in []byte) []byte {
	x := new(big.Int).SetBytes(in)
	x.Exp(x, big.NewInt(int64(pub.E)), pub.N)
	return x.FillBytes(make([]byte, pub.Size()))
}

// isSignatureBlock reports whether b is an EMSA-PKCS1-v1_5 block (RFC 8017
// §9.2): 00 01 FF…FF 00 T.
func isSignatureBlock(b []byte) bool {
	if len(b) < 11 || b[0] != 0 || b[1] != 1 {
		return false
	}
	i := 2
	for i < len(b) && b[i] == 0xFF {
		i++
	}
	return i >= 10 && i < len(b) && b[i] == 0
}

// derECDSA checks that sig is one DER ECDSA-Sig-Value (RFC 5480 §2.2
// via SEC 1): SEQUENCE { r INTEGER, s INTEGER }.
func derECDSA(sig []byte) error {
	var v struct{ R, S *big.Int }
	rest, err := asn1.Unmarshal(sig, &v)
	if err != nil || len(rest) != 0 {
		return fmt.Errorf("not a DER ECDSA signature: %v", err)
	}
	return nil
}

// ecdsaShape checks a PIV ECDSA answer: 7C{82 DER SEQUENCE{r, s}}. Its
// length varies by a byte or two with r and s.
func ecdsaShape(resp []byte) error {
	if t, rest, err := apdu.ParseTLV(resp); err != nil || t.Tag != 0x7C || len(rest) != 0 {
		return fmt.Errorf("not one 7C object: % X", resp)
	}
	if err := derECDSA(keyOpOutput(resp)); err != nil {
		return fmt.Errorf("82: %v", err)
	}
	return nil
}

// sameShape reports how got differs from want in structure: the same
// BER-TLV tags in the same order, constructed objects alike all the way
// down, and primitive values of the same length.
func sameShape(got, want []byte) error {
	g, err := apdu.ParseTLVs(got)
	if err != nil {
		return fmt.Errorf("target's answer % X: %v", got[:min(len(got), 32)], err)
	}
	w, err := apdu.ParseTLVs(want)
	if err != nil {
		return fmt.Errorf("recorded answer: %v", err)
	}
	if len(g) != len(w) {
		return fmt.Errorf("%d objects, recorded %d", len(g), len(w))
	}
	for i := range w {
		switch {
		case g[i].Tag != w[i].Tag:
			return fmt.Errorf("tag %v, recorded %v", g[i].Tag, w[i].Tag)
		case w[i].Tag.Constructed():
			if err := sameShape(g[i].Value, w[i].Value); err != nil {
				return fmt.Errorf("in %v: %v", w[i].Tag, err)
			}
		case len(g[i].Value) != len(w[i].Value):
			return fmt.Errorf("%v is %d bytes, recorded %d", w[i].Tag, len(g[i].Value), len(w[i].Value))
		}
	}
	return nil
}

// sameLength compares answers that are random bytes.
func sameLength(got, want []byte) error {
	if len(got) != len(want) {
		return fmt.Errorf("%d bytes, recorded %d", len(got), len(want))
	}
	return nil
}

// metadataMatches compares the GET METADATA answers of a generated key:
// exactly, but for the public key (04), which compares in structure.
func metadataMatches(got, want []byte) error {
	g, err := apdu.ParseTLVs(got)
	if err != nil {
		return fmt.Errorf("target's metadata: %v", err)
	}
	w, _ := apdu.ParseTLVs(want)
	if len(g) != len(w) {
		return fmt.Errorf("metadata has %d objects, recorded %d", len(g), len(w))
	}
	for i := range w {
		switch {
		case g[i].Tag != w[i].Tag:
			return fmt.Errorf("metadata tag %v, recorded %v", g[i].Tag, w[i].Tag)
		case w[i].Tag == 0x04:
			if err := sameShape(g[i].Value, w[i].Value); err != nil {
				return fmt.Errorf("metadata public key: %v", err)
			}
		case !bytes.Equal(g[i].Value, w[i].Value):
			return fmt.Errorf("metadata %v = % X, recorded % X", w[i].Tag, g[i].Value, w[i].Value)
		}
	}
	return nil
}

// attestationObject checks GET DATA 5FFF01 (the YubiKey's attestation
// certificate object: 53 {70 certificate, 71 info, FE LRC}) against the
// recorded one, the same layout of tags around a parsable certificate, and
// returns the target's certificate.
func attestationObject(got, rec []byte) (*x509.Certificate, error) {
	tags := func(obj []byte) ([]apdu.Tag, []byte, error) {
		inner, ok, err := apdu.FindTLV(obj, 0x53)
		if err != nil || !ok {
			return nil, nil, errors.New("no 53 object")
		}
		tlvs, err := apdu.ParseTLVs(inner)
		if err != nil {
			return nil, nil, err
		}
		var ts []apdu.Tag
		var cert []byte
		for _, t := range tlvs {
			ts = append(ts, t.Tag)
			if t.Tag == 0x70 {
				cert = t.Value
			}
		}
		return ts, cert, nil
	}
	gt, der, err := tags(got)
	if err != nil {
		return nil, fmt.Errorf("target's attestation object: %v", err)
	}
	wt, _, err := tags(rec)
	if err != nil {
		return nil, fmt.Errorf("recorded attestation object: %v", err)
	}
	if !slices.Equal(gt, wt) {
		return nil, fmt.Errorf("attestation object holds %v, recorded %v", gt, wt)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("target's attestation certificate: %v", err)
	}
	return cert, nil
}

// attestationMatches checks an ATTEST answer: a certificate with the
// recorded subject and the same extensions (Yubico's firmware version,
// serial number, policies, form factor) byte for byte, over the slot's
// key, and signed by the attestation certificate when the recording read
// it (issuer nil otherwise).
func attestationMatches(got, rec []byte, slotKey crypto.PublicKey, issuer *x509.Certificate) error {
	gc, err := x509.ParseCertificate(got)
	if err != nil {
		return fmt.Errorf("target's attestation: %v", err)
	}
	wc, err := x509.ParseCertificate(rec)
	if err != nil {
		return fmt.Errorf("recorded attestation: %v", err)
	}
	if gc.Subject.String() != wc.Subject.String() {
		return fmt.Errorf("attestation subject %q, recorded %q", gc.Subject, wc.Subject)
	}
	if len(gc.Extensions) != len(wc.Extensions) {
		return fmt.Errorf("attestation has %d extensions, recorded %d", len(gc.Extensions), len(wc.Extensions))
	}
	for i, w := range wc.Extensions {
		if g := gc.Extensions[i]; !g.Id.Equal(w.Id) || g.Critical != w.Critical || !bytes.Equal(g.Value, w.Value) {
			return fmt.Errorf("attestation extension %v = % X, recorded %v = % X", g.Id, g.Value, w.Id, w.Value)
		}
	}
	pub, ok := slotKey.(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(gc.PublicKey) {
		return errors.New("attested key is not the slot's")
	}
	if issuer != nil {
		if !bytes.Equal(gc.RawIssuer, issuer.RawSubject) {
			return fmt.Errorf("attestation issued by %q, not by the attestation certificate's subject %q", gc.Issuer, issuer.Subject)
		}
		if err := issuer.CheckSignature(gc.SignatureAlgorithm, gc.RawTBSCertificate, gc.Signature); err != nil {
			return fmt.Errorf("attestation is not signed by the attestation certificate's key: %v", err)
		}
	}
	return nil
}
