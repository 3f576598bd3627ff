//go:build e2e

package e2e

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tesseracard/tessera/apdu"
	"github.com/tesseracard/tessera/firmware/profile"
)

// The PKCS#11 token flow: OpenSC 0.23 personalises a card of the iso-token
// profile (the ISO 7816 file-system application) through pcscd, as OpenSC's
// own CI does with IsoApplet (.github/test-isoapplet.sh), then generates,
// imports and uses keys through PKCS#15 and PKCS#11.

const (
	isoSOPIN = "123456"
	isoPUK   = "0123456789abcdef"
)

// isoConf writes an opensc.conf for the flow; body goes inside it.
func (c *interopCard) isoConf(t *testing.T, name, body string) string {
	t.Helper()
	path := c.path(name)
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// isoVerify sends SELECT of the application and VERIFY of pin (empty:
// the PIN status) straight through PC/SC, and returns VERIFY's status word.
func (c *interopCard) isoVerify(t *testing.T, pin string) apdu.StatusWord {
	t.Helper()
	card := connect(t, pcsc(t), c.reader)
	defer card.Disconnect(0)
	send := func(cmd []byte) apdu.StatusWord {
		resp, err := card.Transmit(cmd)
		if err != nil || len(resp) < 2 {
			t.Fatalf("Transmit(% X): % X, %v", cmd, resp, err)
		}
		return apdu.SWFromBytes(resp[len(resp)-2], resp[len(resp)-1])
	}
	if sw := send([]byte{0x00, 0xA4, 0x04, 0x00, 0x0C, 0xF2, 0x76, 0xA2, 0x88, 0xBC, 0xFB, 0xA6, 0x9D, 0x34, 0xF3, 0x10, 0x01}); sw != apdu.SWSuccess {
		t.Fatalf("SELECT of the ISO application: %04X", uint16(sw))
	}
	cmd := []byte{0x00, 0x20, 0x00, 0x01}
	if pin != "" {
		field := make([]byte, 16)
		copy(field, pin)
		cmd = append(append(cmd, 16), field...)
	}
	return send(cmd)
}

// publicKeyOf reads a public key object with pkcs15-tool. (OpenSC 0.23's
// pkcs11-tool --read-object --type pubkey fails on P-384 keys with "cannot
// create EVP_PKEY", a client limitation; pkcs15-tool reads the same object.)
func (c *interopCard) publicKeyOf(t *testing.T, id string) crypto.PublicKey {
	t.Helper()
	file := "pub" + id + ".pem"
	c.run(t, "pkcs15-tool", "--reader", c.reader, "--read-public-key", id, "-o", file)
	raw, err := os.ReadFile(c.path(file))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(raw)
	if block == nil {
		t.Fatalf("pkcs15-tool --read-public-key %s wrote no PEM:\n%s", id, raw)
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		rsaPub, rsaErr := x509.ParsePKCS1PublicKey(block.Bytes)
		if rsaErr != nil {
			t.Fatalf("public key %s (%s): %v", id, block.Type, err)
		}
		return rsaPub
	}
	return pub
}

// checkSignature verifies a signature pkcs11-tool made over msg: ECDSA
// (DER, --signature-format openssl) over SHA-1, or RSA PKCS#1 v1.5 over
// SHA-256.
func checkSignature(t *testing.T, pub crypto.PublicKey, msg, sig []byte) {
	t.Helper()
	switch pub := pub.(type) {
	case *ecdsa.PublicKey:
		d := sha1.Sum(msg)
		if !ecdsa.VerifyASN1(pub, d[:], sig) {
			t.Errorf("ECDSA-SHA1 signature over %d bytes does not verify with the %s key", len(msg), pub.Curve.Params().Name)
		}
	case *rsa.PublicKey:
		d := sha256.Sum256(msg)
		if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, d[:], sig); err != nil {
			t.Errorf("SHA256-RSA-PKCS signature does not verify: %v", err)
		}
	default:
		t.Fatalf("unexpected public key %T", pub)
	}
}

func TestInteropISOToken(t *testing.T) {
	start := time.Now()
	c := newInteropCard(t, "--profile", "iso-token")
	if _, err := os.Stat(openscModule); err != nil {
		t.Fatalf("OpenSC's PKCS#11 module: %v (scripts/deps.sh installs opensc)", err)
	}
	prof, _ := profile.Builtin("iso-token")
	var atr []string
	for _, b := range prof.ATR {
		atr = append(atr, fmt.Sprintf("%02x", b))
	}
	initConf := c.isoConf(t, "init.conf", "app default {\n  card_atr "+strings.Join(atr, ":")+" {\n    pkcs11_enable_InitToken = yes;\n  }\n}\n")
	unblockConf := c.isoConf(t, "unblock.conf", "app opensc-pkcs11 {\n  pkcs11 {\n    user_pin_unblock_style = set_pin_in_unlogged_session;\n  }\n}\n")
	slot := []string{"--module", openscModule, "--slot-description", c.reader}
	p11 := func(t *testing.T, args ...string) string {
		t.Helper()
		return c.run(t, "pkcs11-tool", append(append([]string(nil), slot...), args...)...)
	}
	login := []string{"--login", "--pin", isoSOPIN}

	c.step("pkcs11-tool -L, blank card", func(t *testing.T) {
		out := c.run(t, "pkcs11-tool", "--module", openscModule, "-L")
		mustContain(t, "pkcs11-tool -L", out, c.reader, "(token not recognized)")
		r := c.exec(t, []string{"OPENSC_CONF=" + initConf}, "pkcs11-tool", "--module", openscModule, "-L")
		mustContain(t, "pkcs11-tool -L with InitToken enabled", r.out, c.reader, "uninitialized")
	})

	c.step("opensc-tool -n", func(t *testing.T) {
		if out := strings.TrimSpace(c.run(t, "opensc-tool", "--reader", c.reader, "-n")); out != "Javacard with IsoApplet" {
			t.Errorf("opensc-tool -n = %q, want the isoApplet driver's name", out)
		}
	})

	c.step("pkcs15-init --create-pkcs15", func(t *testing.T) {
		if sw := c.isoVerify(t, ""); sw != apdu.SWSuccess {
			t.Fatalf("blank card: PIN status %04X, want 9000 (no PIN yet)", uint16(sw))
		}
		c.run(t, "pkcs15-init", "--reader", c.reader, "--create-pkcs15", "--so-pin", isoSOPIN, "--so-puk", isoPUK)
		if sw := c.isoVerify(t, ""); sw != apdu.RetriesSW(3) {
			t.Errorf("after personalisation: PIN status %04X, want 63C3", uint16(sw))
		}
		out := p11(t, "-L")
		mustContain(t, "pkcs11-tool -L", out, "token initialized", "PIN initialized")
	})

	c.step("pkcs15-tool --change-pin", func(t *testing.T) {
		c.run(t, "pkcs15-tool", "--reader", c.reader, "--change-pin", "--pin", isoSOPIN, "--new-pin", "654321")
		if sw := c.isoVerify(t, "654321"); sw != apdu.SWSuccess {
			t.Errorf("VERIFY of the new PIN: %04X", uint16(sw))
		}
		if sw := c.isoVerify(t, isoSOPIN); sw != apdu.RetriesSW(2) {
			t.Errorf("VERIFY of the old PIN: %04X, want 63C2", uint16(sw))
		}
	})

	c.step("pkcs15-tool --unblock-pin", func(t *testing.T) {
		c.run(t, "pkcs15-tool", "--reader", c.reader, "--unblock-pin", "--puk", isoPUK, "--new-pin", isoSOPIN)
		if sw := c.isoVerify(t, ""); sw != apdu.RetriesSW(3) {
			t.Errorf("PIN status after unblocking: %04X, want 63C3", uint16(sw))
		}
		if sw := c.isoVerify(t, isoSOPIN); sw != apdu.SWSuccess {
			t.Errorf("VERIFY of the PIN set by unblocking: %04X", uint16(sw))
		}
	})

	c.step("pkcs15-init --generate-key", func(t *testing.T) {
		gen := func(spec, id, usage string) {
			c.run(t, "pkcs15-init", "--reader", c.reader, "--generate-key", spec, "--id", id, "--key-usage", usage, "--auth-id", "FF", "--pin", isoSOPIN)
		}
		gen("rsa/2048", "1", "decrypt,sign")
		gen("rsa/2048", "2", "decrypt")
		gen("ec/secp256r1", "3", "sign")
	})

	c.step("pkcs15-tool -D", func(t *testing.T) {
		out := c.run(t, "pkcs15-tool", "--reader", c.reader, "-D")
		mustContain(t, "pkcs15-tool -D", out, "PIN [User PIN]", "Private RSA Key", "Private EC Key", "ModLength      : 2048", "FieldLength    : 256")
		for _, id := range []string{"01", "02", "03"} {
			mustContain(t, "pkcs15-tool -D", out, "ID             : "+id)
		}
	})

	c.step("pkcs11-tool --test", func(t *testing.T) {
		out := p11(t, append(login, "--test")...)
		mustContain(t, "pkcs11-tool -l -t", out, "No errors")
		if strings.Contains(out, "ERR") || strings.Contains(out, "failed") {
			t.Errorf("pkcs11-tool --test reports an error:\n%s", out)
		}
	})

	msg := make([]byte, 300)
	if _, err := rand.Read(msg); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(c.path("data"), msg, 0o600); err != nil {
		t.Fatal(err)
	}
	sign := func(t *testing.T, id, mech string) {
		t.Helper()
		sig := "sig" + id
		p11(t, append(login, "--sign", "--id", id, "-m", mech, "--signature-format", "openssl", "-i", "data", "-o", sig)...)
		raw, err := os.ReadFile(c.path(sig))
		if err != nil {
			t.Fatal(err)
		}
		checkSignature(t, c.publicKeyOf(t, id), msg, raw)
		if strings.HasPrefix(mech, "ECDSA") {
			out := p11(t, "--verify", "--id", id, "-m", mech, "--signature-format", "openssl", "-i", "data", "--signature-file", sig)
			mustContain(t, "pkcs11-tool --verify", out, "Signature is valid")
		}
	}

	c.step("ECDSA-SHA1 over a 300-byte file", func(t *testing.T) { sign(t, "03", "ECDSA-SHA1") })
	c.step("RSA signature", func(t *testing.T) { sign(t, "01", "SHA256-RSA-PKCS") })

	c.step("import a P-256 key", func(t *testing.T) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		sec1, err := x509.MarshalECPrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		spki, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		c.writePEM(t, "p256.key", "EC PRIVATE KEY", sec1)
		c.writePEM(t, "p256.pub", "PUBLIC KEY", spki)
		p11(t, append(login, "--write-object", "p256.key", "--type", "privkey", "--id", "04", "--usage-sign")...)
		p11(t, append(login, "--write-object", "p256.pub", "--type", "pubkey", "--id", "04")...)
		sig := "sig-imported"
		p11(t, append(login, "--sign", "--id", "04", "-m", "ECDSA-SHA1", "--signature-format", "openssl", "-i", "data", "-o", sig)...)
		raw, err := os.ReadFile(c.path(sig))
		if err != nil {
			t.Fatal(err)
		}
		checkSignature(t, &key.PublicKey, msg, raw)
	})

	c.step("pkcs11-tool --keypairgen", func(t *testing.T) {
		for _, k := range []struct{ id, typ, mech string }{
			{"05", "rsa:2048", "SHA256-RSA-PKCS"},
			{"06", "EC:prime256v1", "ECDSA-SHA1"},
			{"07", "EC:secp384r1", "ECDSA-SHA1"},
		} {
			out := p11(t, append(login, "--keypairgen", "--key-type", k.typ, "--id", k.id, "--label", "keypairgen "+k.id)...)
			mustContain(t, "pkcs11-tool --keypairgen "+k.typ, out, "Key pair generated")
			sign(t, k.id, k.mech)
		}
	})

	c.step("pkcs15-init --store-certificate", func(t *testing.T) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "Tessera ISO token"},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(c.path("cert.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		c.run(t, "pkcs15-init", "--reader", c.reader, "--store-certificate", "cert.pem", "--id", "08", "--auth-id", "FF", "--pin", isoSOPIN)
		out := p11(t, "-O")
		mustContain(t, "pkcs11-tool -O", out, "Certificate Object; type = X.509 cert", "Tessera ISO token")
		p11(t, "--read-object", "--type", "cert", "--id", "08", "-o", "cert.der")
		got, err := os.ReadFile(c.path("cert.der"))
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(der) {
			t.Error("the certificate read back through PKCS#11 differs from the one stored")
		}
	})

	c.step("wrong PINs, then the PUK", func(t *testing.T) {
		for i, want := range []string{"CKR_PIN_INCORRECT", "CKR_PIN_INCORRECT", "CKR_PIN_INCORRECT", "CKR_PIN_LOCKED"} {
			r := c.exec(t, nil, "pkcs11-tool", append(append([]string(nil), slot...), "--login", "--pin", "000000", "-O")...)
			if r.code == 0 || !strings.Contains(r.out, want) {
				t.Fatalf("wrong PIN %d: exit %d, want %s:\n%s", i+1, r.code, want, r.out)
			}
		}
		r := c.exec(t, []string{"OPENSC_CONF=" + unblockConf}, "pkcs11-tool", append(append([]string(nil), slot...), "--unlock-pin", "--puk", isoPUK, "--new-pin", "112233")...)
		if r.code != 0 {
			t.Fatalf("pkcs11-tool --unlock-pin with user_pin_unblock_style = set_pin_in_unlogged_session: exit %d\n%s", r.code, r.out)
		}
		out := p11(t, "--login", "--pin", "112233", "-O")
		if n := strings.Count(out, "Private Key Object;"); n != 7 {
			t.Errorf("after unblocking, pkcs11-tool -O lists %d private keys, want 7:\n%s", n, out)
		}
	})
	fmt.Printf("report: interop ISO token: OpenSC CI flow, 7 keys (3 pkcs15-init, 1 import, 3 keypairgen), certificate, PIN lockout and PUK in %v\n", time.Since(start).Round(time.Millisecond))
}

// TestISOTokenReadme runs the personalisation command that
// docs/pkcs11-token.md and the README give on a fresh card: one pkcs15-init
// run personalises it and generates a key.
func TestISOTokenReadme(t *testing.T) {
	c := newInteropCard(t, "--profile", "iso-token")
	c.run(t, "sh", "-c", readmeCommand(t))
	out := c.run(t, "pkcs15-tool", "--reader", c.reader, "-D")
	mustContain(t, "pkcs15-tool -D", out, "Private EC Key", "ID             : 01")
	out = c.run(t, "pkcs11-tool", "--module", openscModule, "--slot-description", c.reader, "--login", "--pin", "123456", "-O")
	mustContain(t, "pkcs11-tool -O", out, "Private Key Object; EC")
}

// readmeCommand is the pkcs15-init command line that docs/pkcs11-token.md
// gives, verbatim, so that the page cannot drift from what works. The README
// repeats it in its "PKCS#11 token" section; every copy must be the same line.
func readmeCommand(t *testing.T) string {
	t.Helper()
	var command string
	for _, page := range []string{"docs/pkcs11-token.md", "README.md"} {
		raw, err := os.ReadFile(e2e.root + "/" + page)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(raw), "\n") {
			line = strings.TrimSpace(line)
			if !strings.HasPrefix(line, "pkcs15-init --create-pkcs15") {
				continue
			}
			if command == "" {
				command = line
			} else if line != command {
				t.Fatalf("%s gives the personalisation as\n\t%s\nbut docs/pkcs11-token.md as\n\t%s", page, line, command)
			}
		}
		if command == "" {
			t.Fatalf("%s has no line starting with pkcs15-init --create-pkcs15", page)
		}
	}
	return command
}
