package simtarget

import (
	"slices"
	"strings"
	"testing"

	"github.com/tesseracard/tessera/conformance"
	"github.com/tesseracard/tessera/firmware/profile"
)

// TestQuirksFailTheExtensionCases: the YubiKey extension cases (YK-...)
// catch the existing quirks that reach them: a security status that
// survives a reset lets MOVE KEY through without the management key, a
// card without command chaining cannot take an RSA IMPORT, and wrong PINs
// that spend no try never meet RESET's precondition.
func TestQuirksFailTheExtensionCases(t *testing.T) {
	tests := []struct{ quirk, fails string }{
		{profile.QuirkStatusSurvivesReset, "YK-MOVE-DELETE"},
		{profile.QuirkNoChaining, "YK-IMPORT-RSA2048"},
		{profile.QuirkNoDecrement, "YK-RESET"},
	}
	files := quirkProfiles(t, "default")
	for _, tt := range tests {
		target, creds, err := Target(files[tt.quirk])
		if err != nil {
			t.Fatal(err)
		}
		rep := runSuite(t, target, conformance.Options{Credentials: creds, Filter: func(c conformance.Case) bool { return strings.HasPrefix(c.ID, "YK-") }})
		if failed := rep.IDs(conformance.Failed); !slices.Contains(failed, tt.fails) {
			t.Errorf("quirk %s: the YK- cases failed %v, want %s among them", tt.quirk, failed, tt.fails)
		}
	}
}
