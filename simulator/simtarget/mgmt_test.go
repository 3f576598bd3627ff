package simtarget

import (
	"strings"
	"testing"

	"github.com/tesseracard/tessera/conformance"
)

// TestConformMgmtCases: the management application's cases are picked on
// a card that answers its AID (yubikey-5.7) and pass there, serial equal
// to PIV's included; a card without it (default) gets none.
func TestConformMgmtCases(t *testing.T) {
	mgmtOnly := conformance.Options{Filter: func(c conformance.Case) bool { return strings.HasPrefix(c.ID, "MGMT-") }}
	for _, tt := range []struct {
		profile string
		want    []string
	}{
		{"yubikey-5.7", []string{"MGMT-SELECT", "MGMT-READ-CONFIG", "MGMT-SERIAL-PIV"}},
		{"default", nil},
	} {
		target, creds, err := Target(tt.profile)
		if err != nil {
			t.Fatal(err)
		}
		opts := mgmtOnly
		opts.Credentials = creds
		rep := runSuite(t, target, opts)
		var got []string
		for _, r := range rep.Results {
			got = append(got, r.ID)
			if r.Outcome != conformance.Passed {
				t.Errorf("%s: %s %s: %s", tt.profile, r.ID, r.Outcome, r.Message)
			}
		}
		if strings.Join(got, " ") != strings.Join(tt.want, " ") {
			t.Errorf("%s: cases run %v, want %v", tt.profile, got, tt.want)
		}
	}
}
