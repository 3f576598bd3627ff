package simtarget

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tesseracard/tessera/conformance"
	"github.com/tesseracard/tessera/firmware/profile"
)

// The quirk matrix: the suite run against simulated cards with each quirk
// on must fail, and fail the case written for it. The matrix goes to the
// test digest (report: lines).

func runSuite(t *testing.T, target conformance.Target, opts conformance.Options) *conformance.Report {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rep, err := conformance.Run(ctx, target, opts)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// failures describes the failed cases of a report, for test messages.
func failures(rep *conformance.Report) string {
	var b strings.Builder
	for _, r := range rep.Results {
		if r.Outcome == conformance.Failed {
			fmt.Fprintf(&b, "\n  %s: %s", r.ID, r.Message)
		}
	}
	return b.String()
}

// quirkProfiles writes, for each quirk, a profile file: base with that
// quirk on.
func quirkProfiles(t *testing.T, base string) map[string]string {
	dir := t.TempDir()
	files := map[string]string{}
	for _, q := range profile.KnownQuirks() {
		path := filepath.Join(dir, q+".yaml")
		doc := fmt.Sprintf("base: %s\nname: quirk-%s\nquirks: [%s]\n", base, q, q)
		if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
			t.Fatal(err)
		}
		files[q] = path
	}
	return files
}

// TestConformBuiltinProfiles: the whole suite passes against every built-in
// profile in process; the YubiKey-like ones show exactly their documented
// departures, the strict SP 800-73-4 one none, and each persona (as
// delivered: an issued card's envelope opened, nothing changed) its
// persona differences too, each noted by exactly the cases that meet it.
func TestConformBuiltinProfiles(t *testing.T) {
	yubikey := []string{conformance.DepartureAnyPINCharacters, conformance.DepartureBlocking6983, conformance.DepartureMalformedPINCounts}
	// The cases that use a private key: each notes a persona's refusal.
	// These write keys but use none.
	keyless := []string{"YK-IMPORT", "YK-MOVE-DELETE", "YK-ATTEST", "YK-ATTEST-EXT", "YK-ATTEST-IMPORTED", "YK-ATTEST-EMPTY",
		"YK-GENERATE-BAD-POLICY", "PIV-GENERATE-BAD-ALG", "PIV-GA-WRONG-ALG", "YK-METADATA-GENERATED"}
	var signing []string
	for _, c := range conformance.Cases() {
		if c.Needs&conformance.NeedSlot != 0 && !slices.Contains(keyless, c.ID) {
			signing = append(signing, c.ID)
		}
	}
	slices.Sort(signing)
	tests := []struct {
		profile    string
		departures []string
		persona    map[string][]string // persona difference: the cases that note it
	}{
		{"default", yubikey, nil},
		{"yubikey-5.7", append(slices.Clone(yubikey), conformance.DepartureOpenPGPNoStatusQuery), nil},
		{"piv", nil, nil},
		{"transport-pin-token", append([]string{conformance.DeparturePersonaTransportPIN}, yubikey...),
			map[string][]string{conformance.DeparturePersonaTransportPIN: signing}},
		{"pin-puk-envelope", yubikey, nil},
		{"virtual-token", []string{conformance.DeparturePersonaNoUserPUK, conformance.DeparturePersonaPasswordField, conformance.DepartureBlocking6983, conformance.DepartureMalformedPINCounts},
			map[string][]string{
				conformance.DeparturePersonaNoUserPUK:     {"VE05.30", "VE05.31", "VE05.32", "VE05.33", "YK-RESET", "YK-RESET-PUK-ONLY"},
				conformance.DeparturePersonaPasswordField: {"VE05.22D"},
			}},
		{"cloud-signature", append([]string{conformance.DeparturePersonaTOTP}, yubikey...),
			map[string][]string{conformance.DeparturePersonaTOTP: signing}},
	}
	for _, tt := range tests {
		target, creds, err := Target(tt.profile)
		if err != nil {
			t.Fatal(err)
		}
		rep := runSuite(t, target, conformance.Options{Credentials: creds})
		c := rep.Counts()
		if c.Failed != 0 || c.Skipped != 0 || c.Refused != 0 {
			t.Errorf("%s: %s%s", tt.profile, rep.Summary(), failures(rep))
		}
		if got := rep.DepartureNames(); !slices.Equal(got, tt.departures) {
			t.Errorf("%s: departures %v, want %v", tt.profile, got, tt.departures)
		}
		for name, want := range tt.persona {
			if got := casesNoting(rep, name); !slices.Equal(got, want) {
				t.Errorf("%s: %s noted by %v, want %v", tt.profile, name, got, want)
			}
		}
		fmt.Printf("report: conform %s: %s\n", tt.profile, rep.Summary())
	}
}

// casesNoting returns the IDs of the cases whose result notes the
// departure name, sorted.
func casesNoting(rep *conformance.Report, name string) []string {
	var ids []string
	for _, r := range rep.Results {
		if slices.ContainsFunc(r.Departures, func(d conformance.DepartureNote) bool { return d.Name == name }) {
			ids = append(ids, r.ID)
		}
	}
	slices.Sort(ids)
	return ids
}

// TestQuirkMatrix runs the whole suite against the default profile with
// each quirk on: every quirk must fail at least one case, and at least the
// case written for it. The matrix goes to the test digest.
func TestQuirkMatrix(t *testing.T) {
	// The case that catches each quirk; a quirk added to the profile
	// without a line here fails the test.
	catches := map[string]string{
		profile.QuirkNoDecrement:            "VE05.19",
		profile.QuirkSW6300:                 "VE05.19",
		profile.QuirkRestoreBeforeCompare:   "PIN-TEAR",
		profile.QuirkStatusSurvivesReset:    "PIV-RESET",
		profile.QuirkSW6Cxx:                 "ISO-61XX",
		profile.QuirkNoChaining:             "ISO-CHAIN",
		profile.QuirkTrailingBytes:          "PIV-GETDATA-TLV",
		profile.QuirkECDSARawSignature:      "PIV-SIGN-ECDSA",
		profile.QuirkPINPolicyNotEnforced:   "VE05.22A-LEN",
		profile.QuirkMalformedPINSpendsTry:  "VE05.22D",
		profile.QuirkSelectFailureDeselects: "VE05.10",
		profile.QuirkCase1Refused:           "ISO-CASE1",
		profile.QuirkECDHFullPoint:          "PIV-ECDH-P256",
		profile.QuirkRSALeadingZeroDropped:  "PIV-DECRYPT-RSA2048",
		profile.QuirkPINPolicyAlwaysIgnored: "YK-PIN-POLICY-ALWAYS",
		profile.QuirkMetadataPINPolicyWrong: "YK-PIN-POLICY-ONCE",
		profile.QuirkAttestWrongSerial:      "YK-ATTEST-EXT",
		profile.QuirkTouchAlwaysCached:      "YK-TOUCH-ALWAYS",
		profile.QuirkImportOriginGenerated:  "YK-IMPORT-P256",
		profile.QuirkECDHNoPointCheck:       "PIV-ECDH-BAD-POINT",
		profile.QuirkResetOneBlocked:        "YK-RESET-PUK-ONLY",
		profile.QuirkMoveKeyCopies:          "YK-MOVE-DELETE",
		profile.QuirkExternalAuthUnchecked:  "YK-MGMT-3DES",
		profile.QuirkSetRetriesWithoutPIN:   "YK-SET-PIN-RETRIES",
		profile.QuirkSerialLittleEndian:     "YK-ATTEST-EXT",
	}
	files := quirkProfiles(t, "default")
	for _, q := range profile.KnownQuirks() {
		target, creds, err := Target(files[q])
		if err != nil {
			t.Fatal(err)
		}
		rep := runSuite(t, target, conformance.Options{Credentials: creds, Filter: notSlowRSA})
		failed := rep.IDs(conformance.Failed)
		fmt.Printf("report: quirk %-25s fails %s\n", q, strings.Join(failed, ", "))
		want, ok := catches[q]
		switch {
		case !ok:
			t.Errorf("quirk %s: no case is named to catch it", q)
		case len(failed) == 0:
			t.Errorf("quirk %s: the suite passed a card with it", q)
		case !slices.Contains(failed, want):
			t.Errorf("quirk %s: failed %v, not %s", q, failed, want)
		}
	}
}

// notSlowRSA leaves out of the quirk matrix the RSA-3072 and RSA-4096 key
// cases, whose key generation takes seconds each: they take the paths of
// the RSA-1024 and RSA-2048 cases, which stay in.
func notSlowRSA(c conformance.Case) bool {
	return !strings.Contains(c.ID, "-RSA3072") && !strings.Contains(c.ID, "-RSA4096")
}

// TestQuirkMatrixISO runs the ISO application's cases against iso-token
// with each quirk on: every quirk that applies to the application must fail
// at least one case, and at least the case written for it; one that has no
// meaning there is refused when the profile is read, naming the quirk and
// the application.
func TestQuirkMatrixISO(t *testing.T) {
	// The case that catches each quirk, or "" for a quirk refused on an
	// ISO-only card; a quirk added without a line here fails the test.
	catches := map[string]string{
		profile.QuirkNoDecrement:            "ISOAPP-PIN-COUNT",
		profile.QuirkSW6300:                 "ISOAPP-PIN-COUNT",
		profile.QuirkRestoreBeforeCompare:   "ISOAPP-PIN-TEAR",
		profile.QuirkStatusSurvivesReset:    "",
		profile.QuirkSW6Cxx:                 "",
		profile.QuirkNoChaining:             "ISOAPP-KEY-EC",
		profile.QuirkTrailingBytes:          "",
		profile.QuirkECDSARawSignature:      "",
		profile.QuirkPINPolicyNotEnforced:   "ISOAPP-CHANGE-PIN",
		profile.QuirkMalformedPINSpendsTry:  "ISOAPP-VERIFY-SHORT",
		profile.QuirkSelectFailureDeselects: "ISOAPP-SELECT-AID",
		profile.QuirkCase1Refused:           "ISOAPP-VERIFY-STATUS",
		profile.QuirkECDHFullPoint:          "",
		profile.QuirkRSALeadingZeroDropped:  "",
		profile.QuirkPINPolicyAlwaysIgnored: "",
		profile.QuirkMetadataPINPolicyWrong: "",
		profile.QuirkAttestWrongSerial:      "",
		profile.QuirkTouchAlwaysCached:      "",
		profile.QuirkImportOriginGenerated:  "",
		profile.QuirkECDHNoPointCheck:       "",
		profile.QuirkResetOneBlocked:        "",
		profile.QuirkMoveKeyCopies:          "",
		profile.QuirkExternalAuthUnchecked:  "",
		profile.QuirkSetRetriesWithoutPIN:   "",
		profile.QuirkSerialLittleEndian:     "",
	}
	quirkMatrixOn(t, "iso-token", "iso", catches)
}

// quirkMatrixOn runs the suite against the profile base with each quirk
// on, for a profile of one application (app, as the profile names it): a
// quirk catches names a case for must fail it; one it maps to "" must be
// refused when the profile is read, naming the quirk and the application;
// a quirk missing from catches fails the test. The slow RSA key cases
// are left out (notSlowRSA).
func quirkMatrixOn(t *testing.T, base, app string, catches map[string]string) {
	t.Helper()
	dir := t.TempDir()
	for _, q := range profile.KnownQuirks() {
		want, ok := catches[q]
		if !ok {
			t.Errorf("quirk %s: no case is named to catch it", q)
			continue
		}
		doc := fmt.Sprintf("base: %s\nname: %s-quirk-%s\nquirks: [%s]\n", base, app, q, q)
		_, err := profile.Parse([]byte(doc))
		path := filepath.Join(dir, q+".yaml")
		if werr := os.WriteFile(path, []byte(doc), 0o600); werr != nil {
			t.Fatal(werr)
		}
		if want == "" {
			wantErr := fmt.Sprintf("quirks: %q has no meaning for the %s application", q, app)
			if err == nil || !strings.Contains(err.Error(), wantErr) {
				t.Errorf("quirk %s on %s: Parse() error = %v, want one saying %s", q, base, err, wantErr)
			}
			// The simulator refuses to start such a card.
			if _, _, err := Target(path); err == nil || !strings.Contains(err.Error(), wantErr) {
				t.Errorf("quirk %s on %s: Target() error = %v, want one saying %s", q, base, err, wantErr)
			}
			continue
		}
		if err != nil {
			t.Fatalf("quirk %s on %s: %v", q, base, err)
		}
		target, creds, err := Target(path)
		if err != nil {
			t.Fatal(err)
		}
		rep := runSuite(t, target, conformance.Options{Credentials: creds, Filter: notSlowRSA})
		failed := rep.IDs(conformance.Failed)
		fmt.Printf("report: %s quirk %-25s fails %s\n", base, q, strings.Join(failed, ", "))
		if !slices.Contains(failed, want) {
			t.Errorf("quirk %s on %s: failed %v, not %s", q, base, failed, want)
		}
	}
}
