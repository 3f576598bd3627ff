package simtarget

import (
	"strings"
	"testing"

	"github.com/tesseracard/tessera/conformance"
	"github.com/tesseracard/tessera/firmware/profile"
)

// TestConformOpenPGP: the OpenPGP cases are picked on a card that answers
// its AID (openpgp alone, yubikey-5.7 beside PIV) and pass there; a card
// without it (default) gets none.
func TestConformOpenPGP(t *testing.T) {
	opgpOnly := func(c conformance.Case) bool { return strings.HasPrefix(c.ID, "OPGP-") }
	for _, tt := range []struct {
		profile string
		want    int
	}{
		{"openpgp", len(opgpIDs())},
		{"yubikey-5.7", len(opgpIDs())},
		{"default", 0},
	} {
		target, creds, err := Target(tt.profile)
		if err != nil {
			t.Fatal(err)
		}
		rep := runSuite(t, target, conformance.Options{Credentials: creds, Filter: opgpOnly})
		n := 0
		for _, r := range rep.Results {
			if r.App != conformance.AppOpenPGP {
				continue
			}
			n++
			if r.Outcome != conformance.Passed {
				t.Errorf("%s: %s %s: %s", tt.profile, r.ID, r.Outcome, r.Message)
				for _, x := range r.Exchanges {
					t.Logf("  %s", strings.ReplaceAll(x, "\n", "\n  "))
				}
			}
		}
		if n != tt.want {
			t.Errorf("%s: %d OpenPGP cases ran, want %d", tt.profile, n, tt.want)
		}
	}
}

// opgpIDs are the suite's OpenPGP case IDs.
func opgpIDs() []string {
	var ids []string
	for _, c := range conformance.Cases() {
		if c.App == conformance.AppOpenPGP {
			ids = append(ids, c.ID)
		}
	}
	return ids
}

// TestQuirkMatrixOpenPGP runs the OpenPGP cases against the openpgp
// profile (the application alone) with each quirk on: every quirk that
// applies to the application must fail at least one case, and at least
// the case written for it; one that has no meaning there is refused when
// the profile is read, naming the quirk and the application.
func TestQuirkMatrixOpenPGP(t *testing.T) {
	// The case that catches each quirk, or "" for a quirk refused on an
	// OpenPGP-only card; a quirk added without a line here fails the test.
	catches := map[string]string{
		profile.QuirkNoDecrement:            "OPGP-7.2.2-VERIFY",
		profile.QuirkSW6300:                 "OPGP-7.2.2-VERIFY",
		profile.QuirkRestoreBeforeCompare:   "OPGP-7.2.2-TEAR",
		profile.QuirkStatusSurvivesReset:    "",
		profile.QuirkSW6Cxx:                 "OPGP-7.2.14-GENERATE",
		profile.QuirkNoChaining:             "OPGP-7.2.11-DECIPHER-RSA2048",
		profile.QuirkTrailingBytes:          "",
		profile.QuirkECDSARawSignature:      "",
		profile.QuirkPINPolicyNotEnforced:   "OPGP-7.2.3-CHANGE-PW1",
		profile.QuirkMalformedPINSpendsTry:  "OPGP-7.2.2-VERIFY-LONG",
		profile.QuirkSelectFailureDeselects: "OPGP-SELECT-FAIL",
		profile.QuirkCase1Refused:           "OPGP-7.2.2-STATUS",
		profile.QuirkECDHFullPoint:          "",
		profile.QuirkRSALeadingZeroDropped:  "",
		profile.QuirkPINPolicyAlwaysIgnored: "",
		profile.QuirkMetadataPINPolicyWrong: "",
		profile.QuirkAttestWrongSerial:      "",
		profile.QuirkTouchAlwaysCached:      "",
		profile.QuirkImportOriginGenerated:  "",
		profile.QuirkECDHNoPointCheck:       "",
		profile.QuirkResetOneBlocked:        "",
	}
	quirkMatrixOn(t, "openpgp", "openpgp", catches)
}
