package attest_test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"time"

	"github.com/tesseracard/tessera/firmware/attest"
)

// An attestation root, and a statement it issues over an Ed25519 key with
// Yubico's OpenPGP extension 5.2 (key source: generated).
func Example() {
	rootKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, err := attest.Root(rand.Reader, pkix.Name{CommonName: "example attestation root"}, time.Now(), rootKey)
	if err != nil {
		panic(err)
	}
	root, _ := x509.ParseCertificate(der)
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	generated, _ := asn1.Marshal(1)
	exts := []pkix.Extension{{Id: attest.OID(attest.ArcOpenPGP, 2), Value: generated}}
	der, err = attest.Statement(rand.Reader, "YubiKey OPGP Attestation SIG", exts, pub, root, rootKey)
	if err != nil {
		panic(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	fmt.Println(leaf.Subject.CommonName, leaf.CheckSignatureFrom(root) == nil, leaf.Extensions[0].Id)
	// Output: YubiKey OPGP Attestation SIG true 1.3.6.1.4.1.41482.5.2
}
