//go:build e2e

package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tesseracard/tessera/hostdriver"
)

// diagISO runs `tessera diag --json` (and the text report) on the card in
// reader0, checks from the trace and the card's state that it only read,
// and returns the JSON report and the text.
func diagISO(t *testing.T, c *interopCard) (map[string]any, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	before, err := c.sim.client().State(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, skip := traceCommands(t, c.trace, 0)
	out, err := exec.CommandContext(ctx, e2e.bin, "diag", "--reader", c.reader, "--json").Output()
	if err != nil {
		t.Fatalf("tessera diag --json: %v\n%s", err, out)
	}
	text, err := exec.CommandContext(ctx, e2e.bin, "diag", "--reader", c.reader).Output()
	if err != nil {
		t.Fatalf("tessera diag: %v\n%s", err, text)
	}
	after, err := c.sim.client().State(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if before.Generation != after.Generation {
		t.Errorf("diag changed the card: store generation %d, then %d", before.Generation, after.Generation)
	}
	cmds, _ := traceCommands(t, c.trace, skip)
	reads := 0
	for _, cmd := range cmds {
		if ins := cmd.header[1]; !slices.Contains(hostdriver.ReadOnlyINS(), ins) || ins == 0x20 && cmd.length > 5 {
			t.Errorf("diag sent % X (%d bytes), which is not a read", cmd.header, cmd.length)
		}
		if cmd.header[1] == 0xB0 {
			reads++
		}
	}
	var reports []map[string]any
	if err := json.Unmarshal(out, &reports); err != nil || len(reports) != 1 {
		t.Fatalf("diag --json printed %s: %v", out, err)
	}
	return reports[0], string(text)
}

// pkcs15Field is the value of a "name : value" line of pkcs15-tool's output.
func pkcs15Field(t *testing.T, out, name string) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^\s*` + regexp.QuoteMeta(name) + `\s*:\s*(.*?)\s*$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("pkcs15-tool's output has no %q line:\n%s", name, out)
	}
	return m[1]
}

// TestDiagISOToken runs `tessera diag` through pcscd against an iso-token
// card, blank and then personalised by OpenSC's pkcs15-init: the ISO
// section (API, features, PIN state, PKCS#15 TokenInfo as pkcs15-tool reads
// it, object counts), the warnings and the text report, each time proven
// read-only by the trace and the card's store generation.
func TestDiagISOToken(t *testing.T) {
	c := newInteropCard(t, "--profile", "iso-token")
	iso := map[string]any{"api_version": "00.06", "features": []any{"secure-random", "ecc"}}

	c.step("blank", func(t *testing.T) {
		r, text := diagISO(t, c)
		if want := map[string]any{"api_version": "00.06", "features": iso["features"], "pin_set": false}; !reflect.DeepEqual(r["iso"], want) {
			t.Errorf("iso = %v, want %v", r["iso"], want)
		}
		if r["piv"] != nil {
			t.Errorf("piv = %v, want none", r["piv"])
		}
		if w := r["warnings"]; !reflect.DeepEqual(w, []any{"token not personalised (no PIN set)"}) {
			t.Errorf("warnings = %v", w)
		}
		apps := r["applications"].([]any)
		if got := apps[len(apps)-1]; !reflect.DeepEqual(got, map[string]any{"name": "ISO file system (IsoApplet)", "aid": "F276A288BCFBA69D34F31001", "present": true, "status": "9000"}) {
			t.Errorf("last application = %v", got)
		}
		mustContain(t, "diag", text, "ISO file system (IsoApplet)", "00.06", "not set (token not personalised)", "! token not personalised (no PIN set)")
	})

	c.step("personalised by pkcs15-init", func(t *testing.T) {
		c.run(t, "pkcs15-init", "--reader", c.reader, "--create-pkcs15", "--so-pin", isoSOPIN, "--so-puk", isoPUK)
		c.run(t, "pkcs15-init", "--reader", c.reader, "--generate-key", "ec/secp256r1", "--id", "01", "--key-usage", "sign", "--auth-id", "FF", "--pin", isoSOPIN)
		dump := c.run(t, "pkcs15-tool", "--reader", c.reader, "--dump")
		r, text := diagISO(t, c)
		got, _ := r["iso"].(map[string]any)
		if got == nil {
			t.Fatalf("no iso section: %v", r)
		}
		p15, _ := got["pkcs15"].(map[string]any)
		if p15 == nil {
			t.Fatalf("no pkcs15 section: %v", got)
		}
		if p15["label"] != "JavaCard isoApplet" {
			t.Errorf("label = %v, want OpenSC's isoApplet profile's", p15["label"])
		}
		// What pkcs15-tool reads from the same files, in diag's words.
		var flags []any
		for _, f := range strings.Split(pkcs15Field(t, dump, "Flags"), ",") {
			if f = strings.TrimSpace(f); f != "" {
				flags = append(flags, strings.ReplaceAll(strings.ToLower(f), " ", "-"))
			}
		}
		count := func(re string) float64 { return float64(len(regexp.MustCompile(`(?m)`+re).FindAllString(dump, -1))) }
		want := map[string]any{
			"api_version": "00.06", "features": iso["features"], "pin_set": true,
			"pin": map[string]any{"tries_left": 3.0, "blocked": false},
			"pkcs15": map[string]any{
				"label":        regexp.MustCompile(`PKCS#15 Card \[(.*)\]:`).FindStringSubmatch(dump)[1],
				"serial":       pkcs15Field(t, dump, "Serial number"),
				"manufacturer": pkcs15Field(t, dump, "Manufacturer ID"),
				"flags":        flags,
				"objects": map[string]any{
					"auth_objects": count(`^PIN \[`), "private_keys": count(`^Private \w+ Key \[`), "public_keys": count(`^Public \w+ Key \[`),
				},
			},
		}
		if n := want["pkcs15"].(map[string]any)["objects"].(map[string]any); n["auth_objects"] != 1.0 || n["private_keys"] != 1.0 || n["public_keys"] != 1.0 {
			t.Errorf("pkcs15-tool --dump lists %v, want the user PIN, the key and its public key", n)
		}
		if !reflect.DeepEqual(got, want) {
			gj, _ := json.MarshalIndent(got, "", " ")
			wj, _ := json.MarshalIndent(want, "", " ")
			t.Errorf("iso:\n%s\nwant:\n%s\npkcs15-tool --dump:\n%s", gj, wj, dump)
		}
		if w := r["warnings"]; !reflect.DeepEqual(w, []any{}) {
			t.Errorf("warnings = %v, want none", w)
		}
		mustContain(t, "diag", text, "3 tries left", "Token label", "JavaCard isoApplet", "private keys: 1")

		// The PKCS#15 section: EF.DIR's entry, the PIN and the key as
		// pkcs15-tool --dump shows them.
		p, _ := r["pkcs15"].(map[string]any)
		if p == nil {
			t.Fatalf("no pkcs15 section: %v", r)
		}
		if want := map[string]any{"aid": "A000000063504B43532D3135", "label": "JavaCard isoApplet", "path": "3F005015"}; !reflect.DeepEqual(p["application"], want) {
			t.Errorf("application = %v, want %v", p["application"], want)
		}
		pins, _ := p["pins"].([]any)
		if len(pins) != 1 {
			t.Fatalf("pins = %v, want the user PIN", p["pins"])
		}
		pin := pins[0].(map[string]any)
		var pinFlags []any
		for _, f := range strings.Split(regexp.MustCompile(`\[0x[0-9a-f]+\],?(.*)`).FindStringSubmatch(pkcs15Field(t, dump[strings.Index(dump, "PIN ["):], "Flags"))[1], ",") {
			if f = strings.TrimSpace(f); f != "" {
				pinFlags = append(pinFlags, f)
			}
		}
		wantPIN := map[string]any{
			"label": "User PIN", "auth_id": "FF", "reference": 1.0, "type": pkcs15Field(t, dump, "Type"),
			"min_length": 4.0, "stored_length": 16.0, "max_length": 16.0, "pad_char": "00", "flags": pinFlags,
			"state": "tries-left", "tries_left": 3.0, "status": "63C3",
		}
		if !reflect.DeepEqual(pin, wantPIN) {
			t.Errorf("pin = %v, want %v", pin, wantPIN)
		}
		keys, _ := p["private_keys"].([]any)
		if len(keys) != 1 {
			t.Fatalf("private_keys = %v, want the generated key", p["private_keys"])
		}
		key := keys[0].(map[string]any)
		if key["id"] != "01" || key["algorithm"] != "EC" || key["key_size"] != 256.0 || key["auth_id"] != "FF" || !reflect.DeepEqual(key["usage"], []any{"sign", "signRecover"}) {
			t.Errorf("private key = %v, want ID 01, EC-256, auth ID FF, sign and signRecover", key)
		}
		mustContain(t, "diag", text, "PKCS#15", "User PIN", "EC-256")
	})

	c.step("a certificate stored by pkcs15-init", func(t *testing.T) {
		pemFile := filepath.Join(t.TempDir(), "cert.pem")
		writeTestCertificate(t, pemFile, "Tessera e2e", time.Now().Add(20*24*time.Hour))
		c.run(t, "pkcs15-init", "--reader", c.reader, "--store-certificate", pemFile, "--id", "02", "--label", "e2e cert", "--pin", isoSOPIN)
		r, text := diagISO(t, c)
		p, _ := r["pkcs15"].(map[string]any)
		certs, _ := p["certificates"].([]any)
		if len(certs) != 1 {
			t.Fatalf("certificates = %v, want the one stored", p["certificates"])
		}
		cert := certs[0].(map[string]any)
		if cert["label"] != "e2e cert" || cert["id"] != "02" || cert["type"] != "x509" || cert["subject"] != "CN=Tessera e2e" || cert["issuer"] != "CN=Tessera e2e" {
			t.Errorf("certificate = %v", cert)
		}
		if d, _ := cert["days_to_expiry"].(float64); d < 18 || d > 20 {
			t.Errorf("days_to_expiry = %v, want 19", cert["days_to_expiry"])
		}
		w, _ := r["warnings"].([]any)
		if len(w) != 1 || !strings.Contains(w[0].(string), `PKCS#15 certificate "e2e cert" (ID 02) expires in`) {
			t.Errorf("warnings = %v, want the certificate's expiry", w)
		}
		mustContain(t, "diag", text, "e2e cert", "CN=Tessera e2e")
	})

	c.step("a wrong PIN", func(t *testing.T) {
		if sw := c.isoVerify(t, "999999"); sw != 0x63C2 {
			t.Fatalf("VERIFY of a wrong PIN: %04X", uint16(sw))
		}
		r, _ := diagISO(t, c)
		if pin := r["iso"].(map[string]any)["pin"]; !reflect.DeepEqual(pin, map[string]any{"tries_left": 2.0, "blocked": false}) {
			t.Errorf("pin = %v, want 2 tries left", pin)
		}
	})
}

// writeTestCertificate writes a self-signed P-256 certificate for cn,
// valid until notAfter, to file as PEM.
func writeTestCertificate(t *testing.T, file, cn string, notAfter time.Time) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn}, NotBefore: time.Now().Add(-time.Hour), NotAfter: notAfter}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}
