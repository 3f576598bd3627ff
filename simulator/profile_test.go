package simulator

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestResolveProfile(t *testing.T) {
	if p, err := ResolveProfile("piv"); err != nil || p.Name != "piv" {
		t.Errorf("ResolveProfile(piv) = %v, %v", p.Name, err)
	}
	path := filepath.Join(t.TempDir(), "card.yaml")
	if err := os.WriteFile(path, []byte("name: mine\nserial: 7\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if p, err := ResolveProfile(path); err != nil || p.Name != "mine" || p.Serial != 7 {
		t.Errorf("ResolveProfile(file) = %+v, %v", p, err)
	}
	if _, err := ResolveProfile("no-such-profile"); err == nil || !strings.Contains(err.Error(), "default") {
		t.Errorf("ResolveProfile(missing) error = %v, want one listing the built-ins", err)
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("name: x\npiv: {pin_retries: 99}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ResolveProfile(bad); err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("ResolveProfile(bad file) error = %v, want one naming %s", err, bad)
	}
	if _, err := LoadProfile(filepath.Join(t.TempDir(), "absent.yaml")); err == nil || !strings.Contains(err.Error(), "loading profile") {
		t.Errorf("LoadProfile(absent) error = %v, want a loading error", err)
	}
}
