package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/tesseracard/tessera/hostdriver"
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
		c, err := newSimCard(tt.profile)
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
		text := b.String()
		norm := func(s string) string { return strings.Join(strings.Fields(s), " ") }
		for _, want := range tt.lines {
			if !strings.Contains(norm(text), norm(want)) {
				t.Errorf("%s: the report has no line %q:\n%s", tt.profile, want, text)
			}
		}
	}
}
