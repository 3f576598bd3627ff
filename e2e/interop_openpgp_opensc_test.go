//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"testing"
	"time"
)

// TestInteropOpenSCOpenPGP drives the OpenPGP card with OpenSC 0.23's
// openpgp driver and its PKCS#15 emulation, the way a PKCS#11 application
// (Firefox, ssh, p11-kit) reaches an OpenPGP token: after gpg generated the
// keys, opensc-tool names the card, pkcs15-tool lists its PINs and keys and
// reads the public keys, pkcs11-tool signs with the signature key (token
// "User PIN (sig)", PW1 81) and decrypts with the decryption key (token
// "User PIN", PW1 82), each checked with openssl against the public key.
// OpenSC selects the cardholder certificate with SELECT DATA (INS A5)
// before it binds an OpenPGP 3 card.
func TestInteropOpenSCOpenPGP(t *testing.T) {
	start := time.Now()
	c := newInteropCard(t, "--profile", "openpgp")
	g := newGnuPG(t, c)
	c.step("gpg generates the keys", func(t *testing.T) {
		gpgGenerate(t, g, g.cardStatus(t))
		// scdaemon holds the card exclusively while it runs.
		g.forgetPINs(t)
	})
	p11 := func(t *testing.T, args ...string) string {
		t.Helper()
		return c.run(t, "pkcs11-tool", append([]string{"--module", openscModule}, args...)...)
	}
	c.step("opensc-tool --name", func(t *testing.T) {
		mustContain(t, "opensc-tool --name", c.run(t, "opensc-tool", "-r", c.reader, "--name"), "OpenPGP card v3.4")
	})
	c.step("pkcs15-tool", func(t *testing.T) {
		mark := c.traceSize()
		out := c.run(t, "pkcs15-tool", "-r", c.reader, "-D")
		mustContain(t, "pkcs15-tool -D", out, "PKCS#15 Card [OpenPGP card]", "PIN [User PIN]", "PIN [User PIN (sig)]", "PIN [Admin PIN]",
			"Private RSA Key [Signature key]", "Private RSA Key [Encryption key]", "Private RSA Key [Authentication key]")
		c.sawInOrder(t, mark, "pkcs15-tool -D", "00A40400", "00A50004") // SELECT DATA of 7F21
		for _, id := range []string{"01", "02"} {
			c.run(t, "pkcs15-tool", "-r", c.reader, "--read-public-key", id, "-o", id+".pub")
		}
	})
	c.step("pkcs11-tool -L", func(t *testing.T) {
		mustContain(t, "pkcs11-tool -L", p11(t, "-L"), "token label        : OpenPGP card (User PIN)", "token label        : OpenPGP card (User PIN (sig))")
	})
	c.step("pkcs11-tool --sign", func(t *testing.T) {
		if err := os.WriteFile(c.path("msg"), []byte("Tessera interop: an OpenPGP card through OpenSC's PKCS#11 module\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		mark := c.traceSize()
		p11(t, "--token-label", "OpenPGP card (User PIN (sig))", "--login", "--pin", gpgPIN, "--sign", "--id", "01", "-m", "SHA256-RSA-PKCS", "-i", "msg", "-o", "sig")
		c.sawInOrder(t, mark, "pkcs11-tool --sign", "00200081", "002A9E9A")
		mustContain(t, "openssl dgst -verify", c.run(t, "openssl", "dgst", "-sha256", "-verify", "01.pub", "-signature", "sig", "msg"), "Verified OK")
	})
	c.step("pkcs11-tool --decrypt", func(t *testing.T) {
		plain := []byte("a session key for the OpenPGP decryption key")
		if err := os.WriteFile(c.path("plain"), plain, 0o600); err != nil {
			t.Fatal(err)
		}
		c.run(t, "openssl", "pkeyutl", "-encrypt", "-pubin", "-inkey", "02.pub", "-in", "plain", "-out", "ct")
		mark := c.traceSize()
		p11(t, "--token-label", "OpenPGP card (User PIN)", "--login", "--pin", gpgPIN, "--decrypt", "--id", "02", "-m", "RSA-PKCS", "-i", "ct", "-o", "pt")
		c.sawInOrder(t, mark, "pkcs11-tool --decrypt", "00200082", "002A8086")
		c.wantDecrypted(t, "pt", plain)
	})
	c.step("trace withholds PINs", func(t *testing.T) { c.traceWithholds(t, gpgPIN, gpgAdminPIN) })
	fmt.Printf("report: interop OpenSC on the OpenPGP card: pkcs15-tool, pkcs11-tool sign and decrypt in %v\n", time.Since(start).Round(time.Millisecond))
}
