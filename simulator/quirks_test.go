package simulator

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// quirkProfile writes a profile file: the default profile with quirks on.
func quirkProfile(t *testing.T, quirks ...string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "quirky.yaml")
	body := "base: default\nname: quirky\nquirks: [" + strings.Join(quirks, ", ") + "]\n"
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestWireQuirks: each wire-level quirk changes the answer its name says,
// through the in-process transport, and the clean profile answers
// correctly. Each exchange is a command and the pattern the end of its
// answer must match, with the quirk off and on (x: any hex digit).
func TestWireQuirks(t *testing.T) {
	type exchange struct{ cmd, clean, quirky string }
	tests := []struct {
		quirk     string
		exchanges []exchange
	}{
		{"sw-6300", []exchange{{wrongPIN, "63C2", "6300"}, {"00200080", "63C2", "6300"}}},
		{"sw-6cxx", []exchange{
			{"00CB3FFF055C035FFF01", "61xx", "6C00"}, // the attestation certificate: more than 256 bytes
			{"00CB3FFF055C035FFF0100", "61xx", "61xx"},
		}},
		{"no-chaining", []exchange{{"10CB3FFF025C03", "9000", "6884"}}},
		{"trailing-bytes", []exchange{
			{"00CB3FFF055C035FC10200", "6A82", "6A82"},
			{"00CB3FFF055C035FFF01", "61xx", "61xx"},
			{"00C0000000", "xx9000", "009000"},
		}},
		{"select-failure-deselects", []exchange{
			{"00A4040005F054455353", "6A82", "6A82"},
			{"00200080", "63C3", "6D00"},
			{selectPIV, "9000", "9000"},
			{"00200080", "63C3", "63C3"},
		}},
		{"case1-refused", []exchange{{"00200080", "63C3", "6700"}, {"0020008000", "63C3", "63C3"}}},
	}
	for _, tt := range tests {
		for _, quirky := range []bool{false, true} {
			cfg := Config{}
			if quirky {
				cfg.Profile = quirkProfile(t, tt.quirk)
			}
			s := newTestSim(t, cfg)
			tr := addCard(t, s, CardSpec{Slot: 0}).Transport()
			transmit(t, tr, selectPIV)
			for _, x := range tt.exchanges {
				want := x.clean
				if quirky {
					want = x.quirky
				}
				if got := transmit(t, tr, x.cmd); !endsLike(got, want) {
					t.Errorf("%s (quirk on: %v): %s = %s, want it to end like %s", tt.quirk, quirky, x.cmd, got, want)
				}
			}
		}
	}
}

// endsLike reports whether the hex string s ends with pattern, where x in
// pattern matches any digit.
func endsLike(s, pattern string) bool {
	if len(s) < len(pattern) {
		return false
	}
	tail := s[len(s)-len(pattern):]
	for i := range pattern {
		if pattern[i] != 'x' && pattern[i] != tail[i] {
			return false
		}
	}
	return true
}
