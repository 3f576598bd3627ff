package attest

import (
	"bytes"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"testing"
	"time"
)

// chain is a root, an intermediate under it, and their keys.
func chain(t *testing.T) (root, mid *x509.Certificate, midKey crypto.Signer) {
	t.Helper()
	rootKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, err := Root(rand.Reader, pkix.Name{CommonName: "root"}, time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC), rootKey)
	if err != nil {
		t.Fatalf("Root: %v", err)
	}
	if root, err = x509.ParseCertificate(der); err != nil {
		t.Fatal(err)
	}
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, err = Intermediate(rand.Reader, pkix.Name{CommonName: "mid"}, k.Public(), root, rootKey)
	if err != nil {
		t.Fatalf("Intermediate: %v", err)
	}
	if mid, err = x509.ParseCertificate(der); err != nil {
		t.Fatal(err)
	}
	return root, mid, k
}

func TestStatementChains(t *testing.T) {
	root, mid, midKey := chain(t)
	if !root.NotBefore.Equal(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)) || !root.NotAfter.Equal(NotAfter()) {
		t.Errorf("root validity %v..%v", root.NotBefore, root.NotAfter)
	}
	if !mid.IsCA || !mid.NotAfter.Equal(root.NotAfter) {
		t.Errorf("intermediate IsCA %v, NotAfter %v", mid.IsCA, mid.NotAfter)
	}
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	edPub, _, _ := ed25519.GenerateKey(rand.Reader)
	xKey, _ := ecdh.X25519().GenerateKey(rand.Reader)
	dhKey, _ := ecdh.P256().GenerateKey(rand.Reader)
	for _, tc := range []struct {
		name string
		pub  crypto.PublicKey
	}{
		{"RSA", rsaKey.Public()},
		{"ECDSA P-384", ecKey.Public()},
		{"Ed25519", edPub},
		{"X25519", xKey.PublicKey()},
		{"ECDH P-256", dhKey.PublicKey()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ext := pkix.Extension{Id: OID(ArcOpenPGP, 7), Value: []byte{0x02, 0x01, 0x05}}
			der, err := Statement(rand.Reader, "leaf", []pkix.Extension{ext}, tc.pub, mid, midKey)
			if err != nil {
				t.Fatalf("Statement: %v", err)
			}
			leaf, err := x509.ParseCertificate(der)
			if err != nil {
				t.Fatalf("parsing the statement: %v", err)
			}
			roots, mids := x509.NewCertPool(), x509.NewCertPool()
			roots.AddCert(root)
			mids.AddCert(mid)
			if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: mids, CurrentTime: mid.NotBefore.Add(time.Hour)}); err != nil {
				t.Errorf("Verify = %v, want a chain leaf ← mid ← root", err)
			}
			spki, _ := x509.MarshalPKIXPublicKey(tc.pub)
			if !bytes.Equal(leaf.RawSubjectPublicKeyInfo, spki) {
				t.Errorf("statement's key differs from the attested key")
			}
			if len(leaf.Extensions) != 1 || !leaf.Extensions[0].Id.Equal(ext.Id) || !bytes.Equal(leaf.Extensions[0].Value, ext.Value) {
				t.Errorf("extensions = %v, want only %v", leaf.Extensions, ext)
			}
			if leaf.Subject.CommonName != "leaf" || !leaf.NotAfter.Equal(mid.NotAfter) {
				t.Errorf("subject %q, NotAfter %v", leaf.Subject.CommonName, leaf.NotAfter)
			}
		})
	}
}

func TestOID(t *testing.T) {
	if got, want := OID(ArcOpenPGP, 8).String(), "1.3.6.1.4.1.41482.5.8"; got != want {
		t.Errorf("OID = %s, want %s", got, want)
	}
	if got, want := OID(ArcPIV, 7).String(), "1.3.6.1.4.1.41482.3.7"; got != want {
		t.Errorf("OID = %s, want %s", got, want)
	}
}
