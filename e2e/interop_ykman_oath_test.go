//go:build e2e

package e2e

import (
	"bytes"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestInteropYkmanOATH drives the OATH application of a yubikey-5.7 card
// with Debian's ykman 4.0.9 through the machine's pcscd and vpcd, the
// reader named with --reader (ykmanOATHFlow).
func TestInteropYkmanOATH(t *testing.T) {
	start := time.Now()
	c := newInteropCard(t, "--profile", "yubikey-5.7")
	ykmanOATHFlow(t, c, []string{"--reader", c.reader})
	fmt.Printf("report: interop ykman oath: info, add, list, code, rename, delete, access change, reset in %v\n", time.Since(start).Round(time.Millisecond))
}

// TestInteropYkmanOATHIFD is TestInteropYkmanOATH over the IFD bridge, in
// a reader named as a YubiKey's, which ykman finds by its name without
// --reader.
func TestInteropYkmanOATHIFD(t *testing.T) {
	start := time.Now()
	c, _ := newIFDYubiKeyCard(t, "--profile", "yubikey-5.7")
	ykmanOATHFlow(t, c, nil)
	fmt.Printf("report: interop ykman oath over the IFD bridge: info, add, list, code, rename, delete, access change, reset in %v\n", time.Since(start).Round(time.Millisecond))
}

// ykmanOATHFlow drives the OATH application of c, a yubikey-5.7 card, with
// ykman given the arguments sel that pick the card: oath info, accounts
// add (TOTP and HOTP with the RFC 4226 secret and counter), list, code (the
// HOTP codes of RFC 4226 Appendix D, the counter advancing only when that
// account is asked for), rename, delete, access change (a password: a
// wrong one refused, the right one opens, then cleared) and reset. The
// trace never shows a secret.
func ykmanOATHFlow(t *testing.T, c *interopCard, sel []string) {
	trace := c.trace
	ykman := func(t *testing.T, args ...string) string {
		t.Helper()
		return c.run(t, "ykman", append(append(slices.Clone(sel), "oath"), args...)...)
	}
	// RFC 4226 Appendix D's secret "12345678901234567890" in base32.
	const hotpSecret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
	const totpSecret = "JBSWY3DPEHPK3PXP" // "Hello!" DE AD BE EF

	c.step("oath info", func(t *testing.T) {
		mustContain(t, "ykman oath info", ykman(t, "info"), "OATH version: 5.7.1", "Password protection: disabled")
	})
	c.step("accounts add", func(t *testing.T) {
		ykman(t, "accounts", "add", "-f", "-o", "TOTP", "-d", "8", "Example:alice", totpSecret)
		ykman(t, "accounts", "add", "-f", "-o", "HOTP", "-c", "3", "rfc4226", hotpSecret)
		mustContain(t, "ykman oath accounts list", ykman(t, "accounts", "list"), "Example:alice", "rfc4226")
	})
	c.step("accounts code", func(t *testing.T) {
		all := ykman(t, "accounts", "code")
		mustContain(t, "ykman oath accounts code", all, "Example:alice", "rfc4226", "[HOTP Account]")
		// Counters 3 and 4 (RFC 4226 Appendix D): the listing above did
		// not advance the counter.
		mustContain(t, "ykman oath accounts code rfc4226", ykman(t, "accounts", "code", "rfc4226"), "969429")
		mustContain(t, "ykman oath accounts code rfc4226", ykman(t, "accounts", "code", "rfc4226"), "338314")
		line := ykman(t, "accounts", "code", "-s", "Example:alice")
		if code := strings.TrimSpace(line); len(code) != 8 {
			t.Errorf("TOTP code %q, want 8 digits", code)
		}
	})
	c.step("accounts rename and delete", func(t *testing.T) {
		mustContain(t, "ykman oath accounts rename", ykman(t, "accounts", "rename", "-f", "Example:alice", "Example:bob"), "Renamed")
		mustContain(t, "ykman oath accounts delete", ykman(t, "accounts", "delete", "-f", "rfc4226"), "Deleted rfc4226")
		list := ykman(t, "accounts", "list")
		if strings.TrimSpace(list) != "Example:bob" {
			t.Errorf("accounts after rename and delete:\n%s\nwant Example:bob alone", list)
		}
	})
	c.step("access change", func(t *testing.T) {
		mustContain(t, "ykman oath access change", ykman(t, "access", "change", "-n", "s3cret"), "Password updated")
		mustContain(t, "ykman oath info", ykman(t, "info"), "Password protection: enabled")
		if r := c.exec(t, nil, "ykman", append(slices.Clone(sel), "oath", "accounts", "list", "-p", "wrong")...); r.code == 0 || !strings.Contains(r.out, "Wrong password") {
			t.Errorf("accounts list with a wrong password: exit %d, want failure \"Wrong password\":\n%s", r.code, r.out)
		}
		mustContain(t, "ykman oath accounts list -p", ykman(t, "accounts", "list", "-p", "s3cret"), "Example:bob")
		mustContain(t, "ykman oath access change -c", ykman(t, "access", "change", "-p", "s3cret", "-c"), "Password cleared")
		mustContain(t, "ykman oath accounts list", ykman(t, "accounts", "list"), "Example:bob")
	})
	c.step("reset", func(t *testing.T) {
		mustContain(t, "ykman oath reset", ykman(t, "reset", "-f"), "All OATH accounts have been deleted")
		if list := ykman(t, "accounts", "list"); strings.TrimSpace(list) != "" {
			t.Errorf("accounts after reset:\n%s", list)
		}
	})
	c.step("trace withholds secrets", func(t *testing.T) {
		b, err := os.ReadFile(trace)
		if err != nil {
			t.Fatal(err)
		}
		for _, secret := range []string{"48656C6C6F21DEADBEEF", "3132333435363738393031323334353637383930"} {
			if bytes.Contains(bytes.ToUpper(b), []byte(secret)) {
				t.Errorf("the trace shows the secret %s", secret)
			}
		}
	})
}
