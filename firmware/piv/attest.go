package piv

import (
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/binary"
	"fmt"
	"io"
	"math/big"
	"time"

	"github.com/tesseracard/tessera/apdu"
	"github.com/tesseracard/tessera/firmware"
	"github.com/tesseracard/tessera/firmware/pin"
	"github.com/tesseracard/tessera/pivalg"
)

// Yubico's attestation extensions (Yubico PIV attestation documentation):
// under 1.3.6.1.4.1.41482.3, .3 firmware version, .7 serial number, .8 PIN
// and touch policy, .9 form factor.
func attestationOID(n int) asn1.ObjectIdentifier {
	return asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 41482, 3, n}
}

// formFactorUSBCKeychain is the form factor the attestation reports: USB-C
// keychain, as the recorded YubiKey 5.7.1 (testdata/yubikey-5.7.1) does.
const formFactorUSBCKeychain = 0x03

// attestationNotAfter is the end of the factory attestation certificate's
// validity, which starts at the card's first boot.
func attestationNotAfter() time.Time { return time.Date(2099, 12, 31, 23, 59, 59, 0, time.UTC) }

// installAttestation generates the F9 attestation key (P-256) and its
// self-signed certificate, stored in object 5FFF01, at the card's first boot.
func (a *Applet) installAttestation(env *firmware.Context, w pin.Writer) error {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), env.Rand)
	if err != nil {
		return err
	}
	serial, err := randomSerial(env)
	if err != nil {
		return err
	}
	name := pkix.Name{CommonName: "Tessera PIV Attestation", SerialNumber: fmt.Sprint(a.opts.Serial)}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               name,
		Issuer:                name,
		NotBefore:             env.Now().UTC().Truncate(time.Second),
		NotAfter:              attestationNotAfter(),
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(env.Rand, tmpl, tmpl, priv.Public(), priv)
	if err != nil {
		return fmt.Errorf("piv: making the attestation certificate: %w", err)
	}
	k := key{alg: pivalg.P256, pinPolicy: pinPolicyNever, touchPolicy: touchNever, origin: originGenerated, priv: priv}
	if err := storeKey(w, slotAttestation, k); err != nil {
		return err
	}
	// A YubiKey's 5FFF01 holds the certificate alone, without the 71
	// CertInfo and FE error detection code of SP 800-73-4's certificate
	// objects (recorded: 53 82 03 02 70 82 02 FE …).
	return w.Put(objPrefix+objectKey(objAttestationCert), apdu.AppendTLV(nil, 0x70, der))
}

// certObject is the content of a certificate data object: 70 certificate,
// 71 certinfo (00: not compressed), FE error detection code.
func certObject(der []byte) []byte {
	out := apdu.AppendTLV(nil, 0x70, der)
	out = apdu.AppendTLV(out, 0x71, []byte{0})
	return apdu.AppendTLV(out, 0xFE, nil)
}

func randomSerial(env *firmware.Context) (*big.Int, error) {
	b := make([]byte, 16)
	if _, err := env.Rand.Read(b); err != nil {
		return nil, err
	}
	b[0] &= 0x7F
	return new(big.Int).SetBytes(b), nil
}

// attest is the YubiKey's ATTEST (F9 slot 00): a DER certificate over the
// public key of a key generated on the card, signed by the F9 key, with the
// Yubico attestation extensions. An empty slot or an imported key answers
// 6A80, as on a YubiKey.
func (a *Applet) attest(env *firmware.Context, cmd apdu.Command) ([]byte, error) {
	slot := cmd.P1
	if cmd.P2 != 0 || !keySlot(slot) || slot == slotAttestation {
		return nil, apdu.SWIncorrectP1P2
	}
	k, ok, err := a.loadKey(env, slot)
	if err != nil {
		return nil, err
	}
	if !ok || k.origin != originGenerated {
		return nil, apdu.SWIncorrectData
	}
	signer, ok, err := a.loadKey(env, slotAttestation)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, apdu.SWConditionsNotSatisfied
	}
	raw, found := env.Store.Get(objPrefix + objectKey(objAttestationCert))
	if !found {
		return nil, apdu.SWConditionsNotSatisfied
	}
	certDER, found, err := apdu.FindTLV(raw, 0x70)
	if err != nil || !found {
		return nil, apdu.SWConditionsNotSatisfied
	}
	issuer, err := x509.ParseCertificate(certDER)
	if err != nil {
		return nil, apdu.SWConditionsNotSatisfied
	}
	serialRaw, _ := env.Store.Get(keySerial)
	serialDER, err := asn1.Marshal(int64(a.attestedSerial(binary.BigEndian.Uint32(serialRaw))))
	if err != nil {
		return nil, err
	}
	v := a.p.Version
	certSerial, err := randomSerial(env)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: certSerial,
		Subject:      pkix.Name{CommonName: fmt.Sprintf("YubiKey PIV Attestation %02x", slot)},
		NotBefore:    issuer.NotBefore,
		NotAfter:     issuer.NotAfter,
		ExtraExtensions: []pkix.Extension{
			{Id: attestationOID(3), Value: []byte{v.Major, v.Minor, v.Patch}},
			{Id: attestationOID(7), Value: serialDER},
			{Id: attestationOID(8), Value: []byte{k.pinPolicy, k.touchPolicy}},
			{Id: attestationOID(9), Value: []byte{formFactorUSBCKeychain}},
		},
	}
	// Go would add an authority key identifier from the issuer's subject
	// key identifier; a YubiKey's attestation carries Yubico's four
	// extensions and nothing else.
	parent := *issuer
	parent.SubjectKeyId = nil
	var der []byte
	if pub, ok := k.public().(*ecdh.PublicKey); ok {
		der, err = certifyX25519(env.Rand, tmpl, &parent, pub, signer.priv.(crypto.Signer))
	} else {
		der, err = x509.CreateCertificate(env.Rand, tmpl, &parent, k.public(), signer.priv.(crypto.Signer))
	}
	if err != nil {
		return nil, fmt.Errorf("piv: making an attestation certificate: %w", err)
	}
	return der, nil
}

// certifyX25519 makes the certificate tmpl describes over an X25519 key.
// Go's x509.CreateCertificate refuses X25519 subject keys, although
// x509.MarshalPKIXPublicKey encodes them (RFC 8410 §4), so the certificate is
// made over the issuer's own key, its subjectPublicKeyInfo replaced, and the
// TBSCertificate signed again (RFC 5280 §4.1).
func certifyX25519(rnd io.Reader, tmpl, parent *x509.Certificate, pub *ecdh.PublicKey, signer crypto.Signer) ([]byte, error) {
	spki, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
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
		return nil, fmt.Errorf("piv: attestation signature algorithm %v", made.SignatureAlgorithm)
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
