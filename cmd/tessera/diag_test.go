package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/tesseracard/tessera/hostdriver"
	"github.com/tesseracard/tessera/simulator/simtarget"
)

// TestDiagTextPersonas: the text report names each persona's state: the
// PIN policy, the PIN's and PUK's delivery state, the TOTP authorisation
// and the signatures left, with the warnings.
func TestDiagTextPersonas(t *testing.T) {
	tests := []struct {
		profile string
		lines   []string
	}{
		{"transport-pin-token", []string{
			"PIN state       transport PIN still set: every key locked until it is changed",
			"PUK state       factory default PUK still set",
			"PIN policy      6-8 characters, any characters; PIN field of 8 bytes",
			"! PIN is still the transport PIN: no key can be used until it is changed",
		}},
		{"pin-puk-envelope", []string{
			"PIN state       issued envelope PIN not changed yet",
			"PUK state       issued envelope PUK not changed yet",
			"! PIN is still the issued envelope value: the holder has not changed it yet",
		}},
		{"virtual-token", []string{
			"PUK state       none for the holder: an administrator resets the PIN",
			"PIN policy      8-12 characters, letters and digits, with an upper-case letter, a lower-case letter and a digit; PIN field of 12 bytes",
			"Holder identity number  8001015009087",
		}},
		{"cloud-signature", []string{
			"TOTP            not enrolled",
			"Signatures left  200",
			"! TOTP not enrolled: no signature possible",
		}},
	}
	for _, tt := range tests {
		text := diagText(t, tt.profile)
		norm := func(s string) string { return strings.Join(strings.Fields(s), " ") }
		for _, want := range tt.lines {
			if !strings.Contains(norm(text), norm(want)) {
				t.Errorf("%s: the report has no line %q:\n%s", tt.profile, want, text)
			}
		}
	}
}

// TestDiagTextISOToken: the text report of a blank iso-token card names
// the ISO application's API, features and missing PIN, with the warning.
func TestDiagTextISOToken(t *testing.T) {
	text := diagText(t, "iso-token")
	norm := func(s string) string { return strings.Join(strings.Fields(s), " ") }
	for _, want := range []string{
		"ISO file system (IsoApplet) F276A288BCFBA69D34F31001 present",
		"ISO file system (IsoApplet) API version 00.06",
		"Features secure-random, ecc",
		"PIN not set (token not personalised)",
		"PUK not read (only a try would tell)",
		"PKCS#15 -",
		"! token not personalised (no PIN set)",
	} {
		if !strings.Contains(norm(text), norm(want)) {
			t.Errorf("the report has no line %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "\nPIV\n") {
		t.Errorf("an iso-token card's report has a PIV section:\n%s", text)
	}
}

// diagText is the text report of diag on a fresh simulated card of a
// built-in profile.
func diagText(t *testing.T, profile string) string {
	t.Helper()
	c, err := simtarget.Open(simtarget.Options{Profile: profile})
	if err != nil {
		t.Fatal(err)
	}
	r, err := hostdriver.Diagnose(context.Background(), &hostdriver.Conn{T: c}, []byte{0x3B, 0x00}, hostdriver.DiagOptions{})
	c.Close()
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	printReport(&b, r)
	return b.String()
}
