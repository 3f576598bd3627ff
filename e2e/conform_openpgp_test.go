//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestConformOpenPGPThroughPCSCD: an openpgp card through pcscd gets the
// OpenPGP cases alone, reported as OpenPGP. The safe ones pass and the
// destructive ones are skipped; with --destructive and PW1 and PW3 (from
// the environment) the password cases pass and put PW1 and PW3 back (a
// second run finds them as the first did), the power-cut cases are skipped,
// and the cases that generate keys or reset the application are refused
// up front, naming why. tessera diag on the same card reports the
// application: version, manufacturer, serial and full counters.
func TestConformOpenPGPThroughPCSCD(t *testing.T) {
	conformOneApp(t, "openpgp", "OPGP-", "PW1 and PW3", "OPGP-SERIAL-YUBIKEY")

	t.Setenv("TESSERA_PW1", "123456")
	t.Setenv("TESSERA_PW3", "12345678")
	for run := 1; run <= 2; run++ {
		rep, stderr, code := conform(t, "--destructive")
		if code != 0 {
			t.Errorf("destructive run %d: exit %d\n%s", run, code, stderr)
		}
		if !strings.Contains(stderr, "note: OpenPGP: --pw1 and --pw3 verified; PW1 3, RC 0, PW3 3 when full") {
			t.Errorf("destructive run %d: the OpenPGP plan's note is not printed up front:\n%s", run, stderr)
		}
		passed := 0
		for _, c := range rep.Cases {
			switch {
			case strings.HasSuffix(c.ID, "-TEAR"):
				if c.Result != "skip" || !strings.Contains(c.Message, "needs a simulated card") {
					t.Errorf("%s through pcscd: %s (%s), want skipped", c.ID, c.Result, c.Message)
				}
			case strings.Contains(c.Message, "generates OpenPGP keys") || strings.Contains(c.Message, "TERMINATE DF"):
				if c.Result != "refused" {
					t.Errorf("run %d: %s: %s (%s), want refused", run, c.ID, c.Result, c.Message)
				}
			case c.ID == "OPGP-SERIAL-YUBIKEY":
				if c.Result != "skip" {
					t.Errorf("run %d: %s: %s (%s), want skipped: no YubiKey", run, c.ID, c.Result, c.Message)
				}
			case c.Result != "pass":
				t.Errorf("run %d: %s: %s (%s)", run, c.ID, c.Result, c.Message)
			case c.Class == "destructive":
				passed++
			}
		}
		if passed < 8 {
			t.Errorf("run %d: %d destructive OpenPGP cases passed, want the password cases (8 or more)", run, passed)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, e2e.bin, "diag", "--reader", reader0, "--json").Output()
	if err != nil {
		t.Fatalf("tessera diag --json: %v\n%s", err, out)
	}
	var diag []struct {
		OpenPGP *struct {
			Version      string `json:"version"`
			Manufacturer string `json:"manufacturer"`
			Serial       string `json:"serial"`
			PW1, RC, PW3 struct {
				Tries   int  `json:"tries_left"`
				Blocked bool `json:"blocked"`
			}
			Keys []struct {
				Key       string   `json:"key"`
				Supported []string `json:"supported"`
			} `json:"keys"`
		} `json:"openpgp"`
	}
	if err := json.Unmarshal(out, &diag); err != nil || len(diag) != 1 || diag[0].OpenPGP == nil {
		t.Fatalf("tessera diag --json: %v, not one card with openpgp in\n%s", err, out)
	}
	p := diag[0].OpenPGP
	if p.Version != "3.4" || p.Manufacturer != "FFFE" || p.Serial != "10000008" || p.PW1.Tries != 3 || p.RC.Tries != 0 || p.RC.Blocked || p.PW3.Tries != 3 {
		t.Errorf("tessera diag after the destructive runs: %+v, want 3.4, FFFE, 10000008, PW1 3, RC 0 (not blocked), PW3 3", *p)
	}
	// The algorithm information (FA), read through pcscd: each key's
	// supported algorithms.
	want := map[string][2]string{"signature": {"RSA-4096", "ECDSA brainpoolP512r1"}, "decryption": {"RSA-2048", "ECDH Curve25519"}, "authentication": {"RSA-3072", "EdDSA Ed25519"}}
	if len(p.Keys) != 3 {
		t.Fatalf("tessera diag: keys %+v, want 3", p.Keys)
	}
	for _, k := range p.Keys {
		if w := want[k.Key]; !slices.Contains(k.Supported, w[0]) || !slices.Contains(k.Supported, w[1]) {
			t.Errorf("tessera diag: the %s key supports %q, want %q among them", k.Key, k.Supported, w)
		}
	}
}
