//go:build e2e

package e2e

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"fmt"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tesseracard/tessera/apdu"
)

// TestYkmanOpenPGPAttest generates the OpenPGP keys of a yubikey-5.7 card
// with gpg, then attests the signature key with `ykman openpgp keys attest
// sig FILE` (ykman 4.0.9: SELECT DATA and GET DATA 7F21, VERIFY PW1, GET
// ATTESTATION 80 FB 01 00, then 7F21 read back), and checks in Go that the
// certificate ykman wrote chains: key ← FC (`ykman openpgp certificates
// export att`) ← the card's attestation CA, PIV's F9 certificate (`ykman
// piv certificates export f9`), over the public key the card holds for
// the signature key (GENERATE ASYMMETRIC KEY PAIR P1 81 through PC/SC),
// with Yubico's serial and key-source extensions. With the attestation
// key's touch policy on (`ykman openpgp keys set-touch att on`), attesting
// the authentication key asks the card's sensor for key 81 first.
// `ykman openpgp keys import att` and `certificates import att` replace
// the attestation key and FC with the host's, and the decryption key's
// attestation then chains to the host's CA. ykman's reset keeps the
// attestation key and FC, and removes the attestations.
func TestYkmanOpenPGPAttest(t *testing.T) {
	start := time.Now()
	c := newInteropCard(t, "--profile", "yubikey-5.7", "--serial", strconv.Itoa(ykmanSerial))
	ykman := func(t *testing.T, args ...string) string {
		t.Helper()
		return c.run(t, "ykman", append([]string{"--reader", c.reader}, args...)...)
	}
	g := newGnuPG(t, c)
	c.step("gpg generate", func(t *testing.T) {
		gpgGenerate(t, g, g.cardStatus(t))
		g.forgetPINs(t) // scdaemon holds the reader while it runs
	})
	var fc *x509.Certificate
	c.step("ykman openpgp keys attest sig", func(t *testing.T) {
		mark := c.traceSize()
		ykman(t, "openpgp", "keys", "attest", "sig", "sig.att.pem", "--pin", gpgPIN)
		c.sawInOrder(t, mark, "ykman openpgp keys attest", "00A50204", "00CA7F21", "00200081", "80FB0100", "00A50204", "00CA7F21")
		ykman(t, "openpgp", "certificates", "export", "att", "att.pem")
		ykman(t, "piv", "certificates", "export", "f9", "f9.pem")
		leaf, err := x509.ParseCertificate(c.readPEM(t, "sig.att.pem", "CERTIFICATE"))
		if err != nil {
			t.Fatal(err)
		}
		if fc, err = x509.ParseCertificate(c.readPEM(t, "att.pem", "CERTIFICATE")); err != nil {
			t.Fatal(err)
		}
		f9, err := x509.ParseCertificate(c.readPEM(t, "f9.pem", "CERTIFICATE"))
		if err != nil {
			t.Fatal(err)
		}
		roots, mids := x509.NewCertPool(), x509.NewCertPool()
		roots.AddCert(f9)
		mids.AddCert(fc)
		chains, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: mids, CurrentTime: fc.NotBefore.Add(time.Minute)})
		if err != nil || len(chains) != 1 || len(chains[0]) != 3 {
			t.Fatalf("Verify = %d chains, %v; want sig key ← FC ← F9", len(chains), err)
		}
		if !publicEqual(leaf.PublicKey, cardRSAPublic(t, c, "B600")) {
			t.Errorf("the attested key differs from the card's signature key")
		}
		var serial, source int
		for _, e := range []struct {
			oid string
			v   *int
		}{{"1.3.6.1.4.1.41482.5.7", &serial}, {"1.3.6.1.4.1.41482.5.2", &source}} {
			found := false
			for _, x := range leaf.Extensions {
				if x.Id.String() == e.oid {
					found = true
					if _, err := asn1.Unmarshal(x.Value, e.v); err != nil {
						t.Errorf("extension %s % X: %v", e.oid, x.Value, err)
					}
				}
			}
			if !found {
				t.Errorf("extension %s missing", e.oid)
			}
		}
		if serial != ykmanSerial || source != 1 {
			t.Errorf("attestation serial %d, source %d; want %d, 1 (generated)", serial, source, ykmanSerial)
		}
	})
	c.step("ykman openpgp keys attest aut with touch on", func(t *testing.T) {
		ykman(t, "openpgp", "keys", "set-touch", "att", "on", "--admin-pin", gpgAdminPIN, "--force")
		mustContain(t, "ykman openpgp info", ykman(t, "openpgp", "info"), "Attestation key         On")
		mark := c.traceSize()
		ykman(t, "openpgp", "keys", "attest", "aut", "aut.att.pem", "--pin", gpgPIN)
		// The card asks its sensor for the attestation key (81; auto:
		// touched at once) before it answers GET ATTESTATION.
		var seen []string
		for _, rec := range c.records(t, mark) {
			if rec.Event == "touch-request" {
				seen = append(seen, rec.Event+" "+rec.Detail)
			} else if strings.HasPrefix(strings.ToUpper(rec.Command), "80FB") {
				seen = append(seen, strings.ToUpper(rec.Command[:8])+" "+rec.SW)
			}
		}
		if want := []string{"touch-request key 81", "80FB0300 9000"}; !slices.Equal(seen, want) {
			t.Errorf("the trace of ykman openpgp keys attest aut with touch on shows %q, want %q", seen, want)
		}
		leaf, err := x509.ParseCertificate(c.readPEM(t, "aut.att.pem", "CERTIFICATE"))
		if err != nil {
			t.Fatal(err)
		}
		if err := leaf.CheckSignatureFrom(fc); err != nil {
			t.Errorf("the authentication key's attestation is not issued by FC: %v", err)
		}
		if !publicEqual(leaf.PublicKey, cardRSAPublic(t, c, "A400")) {
			t.Errorf("the attested key differs from the card's authentication key")
		}
	})
	c.step("ykman openpgp keys import att", func(t *testing.T) {
		// An organisation's own attestation key and certificate (Yubico:
		// "the template and key are replaceable"): ykman puts DA, then
		// the key with the CRT B6 84 01 81, then FC.
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		p8, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		c.writePEM(t, "attkey.pem", "PRIVATE KEY", p8)
		ca := newHostCA(t)
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "Tessera interop attestation"},
			NotBefore: ca.cert.NotBefore, NotAfter: ca.cert.NotAfter,
			IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
		if err != nil {
			t.Fatal(err)
		}
		c.writePEM(t, "attcert.pem", "CERTIFICATE", der)
		mark := c.traceSize()
		ykman(t, "openpgp", "keys", "import", "att", "attkey.pem", "--admin-pin", gpgAdminPIN)
		ykman(t, "openpgp", "certificates", "import", "att", "attcert.pem", "--admin-pin", gpgAdminPIN)
		c.sawInOrder(t, mark, "ykman openpgp keys import att, certificates import att", "00DA00DA", "00DB3FFF", "00DA00FC")
		ykman(t, "openpgp", "keys", "attest", "enc", "enc.att.pem", "--pin", gpgPIN)
		leaf, err := x509.ParseCertificate(c.readPEM(t, "enc.att.pem", "CERTIFICATE"))
		if err != nil {
			t.Fatal(err)
		}
		mine, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		roots, mids := x509.NewCertPool(), x509.NewCertPool()
		roots.AddCert(ca.cert)
		mids.AddCert(mine)
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: mids, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
			t.Errorf("the decryption key's attestation does not chain to the imported attestation key's CA: %v", err)
		}
		if !publicEqual(leaf.PublicKey, cardRSAPublic(t, c, "B800")) {
			t.Errorf("the attested key differs from the card's decryption key")
		}
		fc = mine
	})
	c.step("ykman openpgp reset keeps the attestation key", func(t *testing.T) {
		ykman(t, "openpgp", "reset", "--force")
		ykman(t, "openpgp", "certificates", "export", "att", "att2.pem")
		if after := c.readPEM(t, "att2.pem", "CERTIFICATE"); !bytes.Equal(after, fc.Raw) {
			t.Errorf("FC changed over ykman openpgp reset")
		}
		if r := c.exec(t, nil, "ykman", "--reader", c.reader, "openpgp", "certificates", "export", "sig", "sig2.pem"); r.code == 0 {
			t.Errorf("the signature key's attestation survived ykman openpgp reset:\n%s", r.out)
		}
	})
	fmt.Printf("report: interop ykman openpgp attest: gpg generate, attest sig, chain to F9, reset in %v\n", time.Since(start).Round(time.Millisecond))
}

// cardRSAPublic reads the RSA public key of the OpenPGP key the CRT (hex)
// names, with GENERATE ASYMMETRIC KEY PAIR P1 81, through PC/SC.
func cardRSAPublic(t *testing.T, c *interopCard, crt string) *rsa.PublicKey {
	t.Helper()
	card := connect(t, pcsc(t), c.reader)
	if got := sw(t, card, "00A4040006D27600012401"); got != "9000" {
		t.Fatalf("SELECT OpenPGP = %s", got)
	}
	cmd, _ := hex.DecodeString("00478100" + fmt.Sprintf("%02X", len(crt)/2) + crt + "00")
	resp, err := card.Transmit(cmd)
	if err != nil || len(resp) < 2 {
		t.Fatalf("GENERATE P1 81: % X, %v", resp, err)
	}
	for resp[len(resp)-2] == 0x61 { // GET RESPONSE for the rest
		more, err := card.Transmit([]byte{0x00, 0xC0, 0x00, 0x00, resp[len(resp)-1]})
		if err != nil || len(more) < 2 {
			t.Fatalf("GET RESPONSE: %v", err)
		}
		resp = append(resp[:len(resp)-2], more...)
	}
	if !bytes.HasSuffix(resp, []byte{0x90, 0x00}) {
		t.Fatalf("GENERATE P1 81 answered % X", resp[len(resp)-2:])
	}
	tmpl, ok, err := apdu.FindTLV(resp[:len(resp)-2], 0x7F49)
	if err != nil || !ok {
		t.Fatalf("no 7F49 in % X", resp)
	}
	n, _, _ := apdu.FindTLV(tmpl, 0x81)
	e, _, _ := apdu.FindTLV(tmpl, 0x82)
	return &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
}
