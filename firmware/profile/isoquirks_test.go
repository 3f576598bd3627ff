package profile

import (
	"strings"
	"testing"
)

// TestISOOnlyRefusesMeaninglessQuirks: a card with the ISO application
// alone, or the OpenPGP application alone, refuses the quirks that change
// nothing it does, naming the quirk and the application; the PIN quirks
// are taken (and sw-6cxx on OpenPGP); with PIV on the card too they act on
// PIV.
func TestISOOnlyRefusesMeaninglessQuirks(t *testing.T) {
	tests := []struct {
		doc, wantErr string
	}{
		{"base: iso-token\nname: x\nquirks: [trailing-bytes]", `quirks: "trailing-bytes" has no meaning for the iso application`},
		{"base: iso-token\nname: x\nquirks: [ecdsa-raw-signature]", `quirks: "ecdsa-raw-signature" has no meaning for the iso application`},
		{"base: iso-token\nname: x\nquirks: [status-survives-reset]", `quirks: "status-survives-reset" has no meaning for the iso application`},
		{"base: iso-token\nname: x\nquirks: [sw-6cxx]", `quirks: "sw-6cxx" has no meaning for the iso application`},
		{"base: iso-token\nname: x\nquirks: [no-decrement, malformed-pin-spends-try, pin-policy-not-enforced, restore-before-compare]", ""},
		{"base: iso-token\nname: x\napplications: [piv, iso]\niso: {pin_retries: 3, puk_retries: 5}\nquirks: [trailing-bytes]", ""},
		{"base: openpgp\nname: x\nquirks: [trailing-bytes]", `quirks: "trailing-bytes" has no meaning for the openpgp application`},
		{"base: openpgp\nname: x\nquirks: [ecdsa-raw-signature]", `quirks: "ecdsa-raw-signature" has no meaning for the openpgp application`},
		{"base: openpgp\nname: x\nquirks: [ecdh-full-point]", `quirks: "ecdh-full-point" has no meaning for the openpgp application`},
		{"base: openpgp\nname: x\nquirks: [metadata-pin-policy-wrong]", `quirks: "metadata-pin-policy-wrong" has no meaning for the openpgp application`},
		{"base: openpgp\nname: x\nquirks: [status-survives-reset]", `quirks: "status-survives-reset" has no meaning for the openpgp application`},
		{"base: openpgp\nname: x\nquirks: [no-decrement, malformed-pin-spends-try, pin-policy-not-enforced, restore-before-compare, sw-6300, sw-6cxx]", ""},
		{"base: yubikey-5.7\nname: x\nquirks: [trailing-bytes]", ""},
	}
	for _, tt := range tests {
		_, err := Parse([]byte(tt.doc))
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("Parse(%q) error = %v", tt.doc, err)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("Parse(%q) error = %v, want one saying %s", tt.doc, err, tt.wantErr)
		}
	}
}
