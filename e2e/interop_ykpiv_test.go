//go:build e2e

package e2e

import (
	"bytes"
	"encoding/asn1"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
)

const ykpivSerial = 20260802

// TestInteropYubicoPIVTool drives a fresh card (default profile: 3DES
// management key, which is all Debian 12's yubico-piv-tool 2.2.0 speaks)
// with yubico-piv-tool through pcscd. Debian's 2.2.0 cannot make a
// certificate itself (selfsign and request-certificate fail inside the tool
// with OpenSSL 3, Yubico/yubico-piv-tool#388), so certificates come from a
// host CA over the public key `generate` wrote, with `openssl x509 -req
// -force_pubkey`.
func TestInteropYubicoPIVTool(t *testing.T) {
	start := time.Now()
	c := newInteropCard(t, "--serial", strconv.Itoa(ykpivSerial))
	const (
		pin1, pin2 = "654321", "111111"
		puk1       = "87654321"
		mgmt1      = "0a0b0c0d0e0f10110a0b0c0d0e0f10110a0b0c0d0e0f1011"
	)
	tool := func(t *testing.T, args ...string) string {
		t.Helper()
		return c.run(t, "yubico-piv-tool", append([]string{"-r", c.reader}, args...)...)
	}
	fails := func(t *testing.T, want string, args ...string) string {
		t.Helper()
		r := c.exec(t, nil, "yubico-piv-tool", append([]string{"-r", c.reader}, args...)...)
		if r.code == 0 || !strings.Contains(r.out, want) {
			t.Errorf("yubico-piv-tool %s: exit %d, want failure with %q:\n%s", quoteArgs(args), r.code, want, r.out)
		}
		return r.out
	}

	c.step("status", func(t *testing.T) {
		out := tool(t, "-a", "status")
		mustContain(t, "status", out, "Version:\t5.7.1", fmt.Sprintf("Serial Number:\t%d", ykpivSerial), "PIN tries left:\t3")
	})

	c.step("verify-pin", func(t *testing.T) {
		fails(t, "2 tries left", "-a", "verify-pin", "-P", "000000")
		c.checkTries(t, 2, 3)
		mustContain(t, "status", tool(t, "-a", "status"), "PIN tries left:\t2")
		mustContain(t, "verify-pin", tool(t, "-a", "verify-pin", "-P", "123456"), "Successfully verified PIN.")
		c.checkTries(t, 3, 3)
	})

	c.step("change-pin", func(t *testing.T) {
		mustContain(t, "change-pin", tool(t, "-a", "change-pin", "-P", "123456", "-N", pin1), "Successfully changed the pin code.")
		fails(t, "2 tries left", "-a", "verify-pin", "-P", "123456")
		tool(t, "-a", "verify-pin", "-P", pin1)
		c.checkTries(t, 3, 3)
	})

	c.step("change-puk", func(t *testing.T) {
		mustContain(t, "change-puk", tool(t, "-a", "change-puk", "-P", "12345678", "-N", puk1), "Successfully changed the puk code.")
		c.checkTries(t, 3, 3)
		if st := c.cardState(t); st.PUK.Default {
			t.Errorf("card state: PUK still the default after change-puk")
		}
	})

	c.step("unblock-pin", func(t *testing.T) {
		fails(t, "2 tries left", "-a", "verify-pin", "-P", "000000")
		fails(t, "1 tries left", "-a", "verify-pin", "-P", "000000")
		fails(t, "blocked", "-a", "verify-pin", "-P", "000000")
		fails(t, "blocked", "-a", "verify-pin", "-P", pin1)
		c.checkTries(t, 0, 3)
		mustContain(t, "status", tool(t, "-a", "status"), "PIN tries left:\t0")
		fails(t, "2 tries left", "-a", "unblock-pin", "-P", "00000000", "-N", pin2)
		c.checkTries(t, 0, 2)
		mustContain(t, "unblock-pin", tool(t, "-a", "unblock-pin", "-P", puk1, "-N", pin2), "Successfully unblocked the pin code.")
		c.checkTries(t, 3, 3)
		tool(t, "-a", "verify-pin", "-P", pin2)
	})

	c.step("set-mgm-key", func(t *testing.T) {
		mustContain(t, "set-mgm-key", tool(t, "-a", "set-mgm-key", "-n", mgmt1), "Successfully set new management key.")
		if st := c.cardState(t); st.MgmtKey.Algorithm != "3DES" || st.MgmtKey.Default {
			t.Errorf("card management key = %+v, want 3DES, not default", st.MgmtKey)
		}
		// The factory key no longer authenticates.
		fails(t, "Failed authentication", "-a", "generate", "-s", "9a", "-A", "ECCP256")
	})

	c.step("generate", func(t *testing.T) {
		tool(t, "-k"+mgmt1, "-a", "generate", "-s", "9a", "-A", "RSA2048", "-o", "9a.pub")
		tool(t, "-k"+mgmt1, "-a", "generate", "-s", "9c", "-A", "ECCP256", "-o", "9c.pub")
		keys := map[string]string{}
		for _, k := range c.cardState(t).Keys {
			keys[k.Slot] = k.Algorithm + " " + k.Origin
		}
		for slot, want := range map[string]string{"9A": "RSA-2048 generated", "9C": "ECC-P256 generated"} {
			if keys[slot] != want {
				t.Errorf("card state: key %s = %q, want %q", slot, keys[slot], want)
			}
		}
		c.readPublicKey(t, "9a.pub")
		c.readPublicKey(t, "9c.pub")
	})

	certs := map[string][]byte{}
	c.step("import-certificate", func(t *testing.T) {
		// A host CA certifies the card's public keys (yubico-piv-tool
		// 2.2.0's selfsign is broken by OpenSSL 3, #388).
		c.run(t, "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
			"-keyout", "ca.key", "-out", "ca.pem", "-subj", "/CN=Tessera interop CA", "-days", "2")
		for _, slot := range []string{"9a", "9c"} {
			c.run(t, "openssl", "req", "-new", "-key", "ca.key", "-subj", "/CN=placeholder", "-out", slot+".csr")
			c.run(t, "openssl", "x509", "-req", "-in", slot+".csr", "-CA", "ca.pem", "-CAkey", "ca.key",
				"-force_pubkey", slot+".pub", "-subj", "/CN=yubico-piv-tool "+slot, "-set_serial", "0x"+slot, "-days", "2", "-out", slot+".pem")
			mustContain(t, "import-certificate", tool(t, "-k"+mgmt1, "-a", "import-certificate", "-s", slot, "-i", slot+".pem"),
				"Successfully imported a new certificate.")
			certs[slot] = c.readPEM(t, slot+".pem", "CERTIFICATE")
		}
	})

	c.step("read-certificate", func(t *testing.T) {
		for _, slot := range []string{"9a", "9c"} {
			tool(t, "-a", "read-certificate", "-s", slot, "-o", slot+".read.pem")
			if got := c.readPEM(t, slot+".read.pem", "CERTIFICATE"); !bytes.Equal(got, certs[slot]) {
				t.Errorf("read-certificate %s is not the certificate imported", slot)
			}
		}
		mustContain(t, "status with certificates", tool(t, "-a", "status"), "Slot 9a:", "Slot 9c:", "CN=yubico-piv-tool 9a")
	})

	c.step("test-signature", func(t *testing.T) {
		// test-signature has the card sign and verifies the signature with
		// the certificate's public key.
		mustContain(t, "test-signature 9a", tool(t, "-a", "verify-pin", "-P", pin2, "-a", "test-signature", "-s", "9a", "-i", "9a.pem"),
			"Successful RSA verification.")
		mustContain(t, "test-signature 9c", tool(t, "-a", "verify-pin", "-P", pin2, "-a", "test-signature", "-s", "9c", "-i", "9c.pem"),
			"Successful ECDSA verification.")
		// Without the PIN the card refuses.
		fails(t, "Failed signing test data.", "-a", "test-signature", "-s", "9a", "-i", "9a.pem")
	})

	c.step("attest", func(t *testing.T) {
		tool(t, "-a", "attest", "-s", "9a", "-o", "9a.att.pem")
		tool(t, "-a", "read-certificate", "-s", "f9", "-o", "f9.pem")
		att := c.checkAttestation(t, "9a.att.pem", "f9.pem", "9a.pub")
		var serial int64
		for _, e := range att.Extensions {
			if e.Id.Equal(asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 41482, 3, 7}) {
				asn1.Unmarshal(e.Value, &serial)
			}
		}
		if serial != ykpivSerial {
			t.Errorf("attestation serial extension = %d, want %d", serial, ykpivSerial)
		}
	})

	c.step("pin-retries", func(t *testing.T) {
		out := tool(t, "-k"+mgmt1, "-a", "verify-pin", "-P", pin2, "-a", "pin-retries", "--pin-retries", "5", "--puk-retries", "4")
		mustContain(t, "pin-retries", out, "Successfully changed pin retries to 5 and puk retries to 4")
		c.checkTries(t, 5, 4)
		mustContain(t, "status", tool(t, "-a", "status"), "PIN tries left:\t5")
		// Both codes are back to their defaults.
		tool(t, "-a", "verify-pin", "-P", "123456")
	})

	c.step("reset", func(t *testing.T) {
		fails(t, "Reset failed, are pincodes blocked?", "-a", "reset") // refused while PIN and PUK work
		for i := 4; i >= 1; i-- {
			fails(t, fmt.Sprintf("%d tries left", i), "-a", "verify-pin", "-P", "000000")
		}
		fails(t, "blocked", "-a", "verify-pin", "-P", "000000")
		for i := 3; i >= 1; i-- {
			fails(t, fmt.Sprintf("now %d tries left", i), "-a", "unblock-pin", "-P", "00000000", "-N", pin2)
		}
		fails(t, "blocked", "-a", "unblock-pin", "-P", "00000000", "-N", pin2)
		c.checkTries(t, 0, 0)
		mustContain(t, "reset", tool(t, "-a", "reset"), "Successfully reset the application.")
		c.checkTries(t, 3, 3)
		st := c.cardState(t)
		if !st.MgmtKey.Default || len(st.Keys) != 1 {
			t.Errorf("card after reset: management key %+v, keys %+v; want the factory key and F9 only", st.MgmtKey, st.Keys)
		}
		out := tool(t, "-a", "status")
		mustContain(t, "status after reset", out, "PIN tries left:\t3")
		if strings.Contains(out, "Slot 9a") {
			t.Errorf("status after reset still lists slot 9a:\n%s", out)
		}
		tool(t, "-a", "verify-pin", "-P", "123456")
		tool(t, "-a", "read-certificate", "-s", "f9", "-o", "f9.after.pem")
		if !bytes.Equal(c.readPEM(t, "f9.after.pem", "CERTIFICATE"), c.readPEM(t, "f9.pem", "CERTIFICATE")) {
			t.Errorf("the F9 attestation certificate changed over reset")
		}
	})
	fmt.Printf("report: interop yubico-piv-tool: status, PIN/PUK, management key, generate, certificates, signatures, attest, retries, reset in %v\n",
		time.Since(start).Round(time.Millisecond))
}
