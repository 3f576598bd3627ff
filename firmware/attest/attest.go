package attest

import (
	"crypto"
	"crypto/ecdh"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"math/big"
	"time"
)

// Yubico's arcs under its enterprise number 1.3.6.1.4.1.41482.
const (
	ArcPIV     = 3 // PIV attestation (Yubico's PIV attestation documentation)
	ArcOpenPGP = 5 // OpenPGP attestation (Yubico's OpenPGP attestation OID arc)
)

// OID returns Yubico's extension 1.3.6.1.4.1.41482.arc.n.
func OID(arc, n int) asn1.ObjectIdentifier {
	return asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 41482, arc, n}
}

// FormFactorUSBCKeychain is the form factor the attestations report (PIV
// extension 3.9, OpenPGP 5.9): USB-C keychain, as the recorded YubiKey
// 5.7.1 (testdata/recordings/yubikey-5.7.1) reports it.
const FormFactorUSBCKeychain = 0x03

// NotAfter is the end of a factory attestation certificate's validity,
// which starts when the card makes it.
func NotAfter() time.Time { return time.Date(2099, 12, 31, 23, 59, 59, 0, time.UTC) }

// Serial draws a positive 127-bit certificate serial number from r.
func Serial(r io.Reader) (*big.Int, error) {
	b := make([]byte, 16)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, fmt.Errorf("attest: drawing a serial number: %w", err)
	}
	b[0] &= 0x7F
	return new(big.Int).SetBytes(b), nil
}

// Root returns the DER of the self-signed CA certificate of attestation key
// priv: subject name, valid from now (to the second) to NotAfter, key
// usage certificate signing.
func Root(r io.Reader, name pkix.Name, now time.Time, priv crypto.Signer) ([]byte, error) {
	return ca(r, name, now.UTC().Truncate(time.Second), NotAfter(), priv.Public(), nil, priv)
}

// Intermediate returns the DER of a CA certificate for attestation key pub
// issued by issuer (whose key is signer): subject name, the issuer's
// validity, key usage certificate signing. It is the OpenPGP application's
// attestation certificate FC, issued by the card's attestation root.
func Intermediate(r io.Reader, name pkix.Name, pub crypto.PublicKey, issuer *x509.Certificate, signer crypto.Signer) ([]byte, error) {
	return ca(r, name, issuer.NotBefore, issuer.NotAfter, pub, issuer, signer)
}

// ca makes a CA certificate over pub, issued by issuer (nil: self-signed).
func ca(r io.Reader, name pkix.Name, from, to time.Time, pub crypto.PublicKey, issuer *x509.Certificate, signer crypto.Signer) ([]byte, error) {
	serial, err := Serial(r)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               name,
		NotBefore:             from,
		NotAfter:              to,
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	if issuer == nil {
		tmpl.Issuer, issuer = name, tmpl
	}
	der, err := x509.CreateCertificate(r, tmpl, issuer, pub, signer)
	if err != nil {
		return nil, fmt.Errorf("attest: making an attestation CA certificate: %w", err)
	}
	return der, nil
}

// Statement returns the DER of the attestation statement over pub: a
// certificate with subject common name cn, the issuer's validity, and the
// extensions exts (Yubico's, and nothing else: no authority key
// identifier, which Go would otherwise take from the issuer), issued by
// issuer, whose key is signer. pub may be an RSA, ECDSA, Ed25519 or
// ECDH (NIST or X25519) public key, or a SubjectPublicKeyInfo (a key Go
// has no type for: the brainpool curves).
func Statement(r io.Reader, cn string, exts []pkix.Extension, pub crypto.PublicKey, issuer *x509.Certificate, signer crypto.Signer) ([]byte, error) {
	serial, err := Serial(r)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:    serial,
		Subject:         pkix.Name{CommonName: cn},
		NotBefore:       issuer.NotBefore,
		NotAfter:        issuer.NotAfter,
		ExtraExtensions: exts,
	}
	// The statement names the issuer's subject and is signed by signer,
	// even when a replaced attestation key no longer matches the
	// certificate (the holder replaces that next).
	parent := *issuer
	parent.SubjectKeyId, parent.PublicKey = nil, nil
	var der []byte
	if spki, ok := pub.(SubjectPublicKeyInfo); ok {
		der, err = certifySPKI(r, tmpl, &parent, spki, signer)
	} else if k, ok := pub.(*ecdh.PublicKey); ok {
		if k.Curve() == ecdh.X25519() {
			// Go's x509.CreateCertificate refuses X25519 subject keys,
			// although x509.MarshalPKIXPublicKey encodes them (RFC 8410 §4).
			var spki []byte
			if spki, err = x509.MarshalPKIXPublicKey(k); err == nil {
				der, err = certifySPKI(r, tmpl, &parent, spki, signer)
			}
		} else {
			// x509 signs over ECDSA keys of NIST curves: the same point.
			var spki []byte
			if spki, err = x509.MarshalPKIXPublicKey(k); err == nil {
				if pub, err = x509.ParsePKIXPublicKey(spki); err == nil {
					der, err = x509.CreateCertificate(r, tmpl, &parent, pub, signer)
				}
			}
		}
	} else {
		der, err = x509.CreateCertificate(r, tmpl, &parent, pub, signer)
	}
	if err != nil {
		return nil, fmt.Errorf("attest: making an attestation statement: %w", err)
	}
	return der, nil
}

// SubjectPublicKeyInfo is the DER of a public key's X.509
// SubjectPublicKeyInfo (RFC 5280 §4.1.2.7), for a key Go's crypto types
// cannot hold: an ECDSA or ECDH key on a brainpool curve is id-ecPublicKey
// with the curve's OID as namedCurve (RFC 5639 §4.1, RFC 5480 §2.1.1).
type SubjectPublicKeyInfo []byte

// ECPublicKeyInfo returns the SubjectPublicKeyInfo of an elliptic-curve
// public point (04||X||Y) on the named curve curveOID.
func ECPublicKeyInfo(curveOID asn1.ObjectIdentifier, point []byte) (SubjectPublicKeyInfo, error) {
	param, err := asn1.Marshal(curveOID)
	if err != nil {
		return nil, fmt.Errorf("attest: encoding curve OID %v: %w", curveOID, err)
	}
	der, err := asn1.Marshal(struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}{
		Algorithm: pkix.AlgorithmIdentifier{Algorithm: asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}, Parameters: asn1.RawValue{FullBytes: param}},
		PublicKey: asn1.BitString{Bytes: point, BitLength: 8 * len(point)},
	})
	if err != nil {
		return nil, fmt.Errorf("attest: encoding an EC public key: %w", err)
	}
	return der, nil
}

// errAlgorithm is returned for an issuer whose signature algorithm
// certifySPKI cannot reproduce.
var errAlgorithm = errors.New("attest: unsupported signature algorithm of the attestation key")

// certifySPKI makes the certificate tmpl describes over a subject key Go's
// x509.CreateCertificate refuses (X25519, brainpool), given as its
// subjectPublicKeyInfo: the certificate is made over the issuer's own key,
// its subjectPublicKeyInfo replaced, and the TBSCertificate signed again
// (RFC 5280 §4.1).
func certifySPKI(rnd io.Reader, tmpl, parent *x509.Certificate, spki []byte, signer crypto.Signer) ([]byte, error) {
	der, err := x509.CreateCertificate(rnd, tmpl, parent, signer.Public(), signer)
	if err != nil {
		return nil, err
	}
	made, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	var cert struct {
		TBS asn1.RawValue
		Alg asn1.RawValue
		Sig asn1.BitString
	}
	if _, err := asn1.Unmarshal(der, &cert); err != nil {
		return nil, err
	}
	// TBSCertificate: [0] version, serialNumber, signature, issuer,
	// validity, subject, subjectPublicKeyInfo, then the extensions.
	var body []byte
	for rest, i := cert.TBS.Bytes, 0; len(rest) > 0; i++ {
		var f asn1.RawValue
		if rest, err = asn1.Unmarshal(rest, &f); err != nil {
			return nil, err
		}
		if i == 6 {
			f.FullBytes = spki
		}
		body = append(body, f.FullBytes...)
	}
	tbs, err := asn1.Marshal(asn1.RawValue{Tag: asn1.TagSequence, IsCompound: true, Bytes: body})
	if err != nil {
		return nil, err
	}
	var h crypto.Hash
	switch made.SignatureAlgorithm {
	case x509.ECDSAWithSHA256, x509.SHA256WithRSA:
		h = crypto.SHA256
	case x509.ECDSAWithSHA384, x509.SHA384WithRSA:
		h = crypto.SHA384
	case x509.ECDSAWithSHA512, x509.SHA512WithRSA:
		h = crypto.SHA512
	case x509.PureEd25519:
	default:
		return nil, fmt.Errorf("%w: %v", errAlgorithm, made.SignatureAlgorithm)
	}
	signed := tbs
	if h != 0 {
		d := h.New()
		d.Write(tbs)
		signed = d.Sum(nil)
	}
	sig, err := signer.Sign(rnd, signed, h)
	if err != nil {
		return nil, err
	}
	cert.TBS = asn1.RawValue{FullBytes: tbs}
	cert.Sig = asn1.BitString{Bytes: sig, BitLength: 8 * len(sig)}
	return asn1.Marshal(cert)
}
