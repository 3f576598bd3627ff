package piv

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/binary"
	"fmt"

	"github.com/tesseracard/tessera/apdu"
	"github.com/tesseracard/tessera/firmware"
	"github.com/tesseracard/tessera/firmware/attest"
	"github.com/tesseracard/tessera/firmware/pin"
	"github.com/tesseracard/tessera/pivalg"
)

// installAttestation generates the F9 attestation key (P-256) and its
// self-signed certificate, stored in object 5FFF01, at the card's first boot.
func (a *Applet) installAttestation(env *firmware.Context, w pin.Writer) error {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), env.Rand)
	if err != nil {
		return err
	}
	name := pkix.Name{CommonName: "Tessera PIV Attestation", SerialNumber: fmt.Sprint(a.opts.Serial)}
	der, err := attest.Root(env.Rand, name, env.Now(), priv)
	if err != nil {
		return fmt.Errorf("piv: %w", err)
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
	signer, issuer, err := a.AttestationCA(env)
	if err != nil {
		return nil, err
	}
	serialRaw, _ := env.Store.Get(keySerial)
	serialDER, err := asn1.Marshal(int64(a.attestedSerial(binary.BigEndian.Uint32(serialRaw))))
	if err != nil {
		return nil, err
	}
	v := a.p.Version
	exts := []pkix.Extension{
		{Id: attest.OID(attest.ArcPIV, 3), Value: []byte{v.Major, v.Minor, v.Patch}},
		{Id: attest.OID(attest.ArcPIV, 7), Value: serialDER},
		{Id: attest.OID(attest.ArcPIV, 8), Value: []byte{k.pinPolicy, k.touchPolicy}},
		{Id: attest.OID(attest.ArcPIV, 9), Value: []byte{attest.FormFactorUSBCKeychain}},
	}
	der, err := attest.Statement(env.Rand, fmt.Sprintf("YubiKey PIV Attestation %02x", slot), exts, k.public(), issuer, signer)
	if err != nil {
		return nil, fmt.Errorf("piv: %w", err)
	}
	return der, nil
}

// AttestationCA returns the card's attestation authority: the F9 key and
// its certificate (object 5FFF01), which sign PIV's attestations and the
// OpenPGP application's attestation certificate FC (see package attest).
// A card whose F9 key or certificate is missing or unusable answers
// apdu.SWConditionsNotSatisfied.
func (a *Applet) AttestationCA(env *firmware.Context) (crypto.Signer, *x509.Certificate, error) {
	k, ok, err := a.loadKey(env, slotAttestation)
	if err != nil {
		return nil, nil, err
	}
	signer, isSigner := k.priv.(crypto.Signer)
	if !ok || !isSigner {
		return nil, nil, apdu.SWConditionsNotSatisfied
	}
	raw, found := env.Store.Get(objPrefix + objectKey(objAttestationCert))
	if !found {
		return nil, nil, apdu.SWConditionsNotSatisfied
	}
	certDER, found, err := apdu.FindTLV(raw, 0x70)
	if err != nil || !found {
		return nil, nil, apdu.SWConditionsNotSatisfied
	}
	cert, err := x509.ParseCertificate(certDER)
	if err != nil {
		return nil, nil, apdu.SWConditionsNotSatisfied
	}
	return signer, cert, nil
}
