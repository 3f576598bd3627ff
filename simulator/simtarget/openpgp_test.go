package simtarget

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/tesseracard/tessera/apdu"
	"github.com/tesseracard/tessera/conformance"
	"github.com/tesseracard/tessera/firmware/profile"
)

// TestConformOpenPGP: the OpenPGP cases are picked on a card that answers
// its AID (openpgp alone, yubikey-5.7 beside PIV) and pass there, but the
// YubiKey serial, touch and attestation cases on a card that is no
// YubiKey, which are
// skipped; a card without the application (default) gets none. On
// yubikey-5.7 the cases that ask VERIFY without data note the departure
// yubikey-openpgp-no-status-query (6A80, as a YubiKey 5 answers), and
// only they.
func TestConformOpenPGP(t *testing.T) {
	opgpOnly := func(c conformance.Case) bool { return strings.HasPrefix(c.ID, "OPGP-") }
	for _, tt := range []struct {
		profile  string
		want     int
		skipped  []string
		departed []string // each noting yubikey-openpgp-no-status-query
	}{
		{"openpgp", len(opgpIDs()), []string{"OPGP-SERIAL-YUBIKEY", "OPGP-YK-TOUCH", "OPGP-YK-ATTEST"}, nil},
		{"yubikey-5.7", len(opgpIDs()), nil, []string{"OPGP-7.2.2-BLOCK", "OPGP-7.2.2-STATUS", "OPGP-7.2.2-VERIFY"}},
		{"default", 0, nil, nil},
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
			want := conformance.Passed
			switch {
			case slices.Contains(tt.skipped, r.ID):
				want = conformance.Skipped
			case slices.Contains(tt.departed, r.ID):
				want = conformance.Departed
				if len(r.Departures) != 1 || r.Departures[0].Name != conformance.DepartureOpenPGPNoStatusQuery {
					t.Errorf("%s: %s departures %v, want %s alone", tt.profile, r.ID, r.Departures, conformance.DepartureOpenPGPNoStatusQuery)
				}
			}
			if r.Outcome != want {
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
		profile.QuirkMoveKeyCopies:          "",
		profile.QuirkExternalAuthUnchecked:  "",
		profile.QuirkSetRetriesWithoutPIN:   "",
		profile.QuirkSerialLittleEndian:     "",
	}
	quirkMatrixOn(t, "openpgp", "openpgp", catches)
}

// openCard is a simulated card a test keeps after the suite closes its
// connection.
type openCard struct{ *Card }

func (openCard) Close() error { return nil }

// TestConformOpenPGPAsARealCard: the OpenPGP cases against one simulated
// card taken for a real one (not Fresh), with --destructive and PW1 and
// PW3: the password cases pass and leave PW1 and PW3 as they were with
// full counters, no name written; the key and reset cases are refused. A
// card whose PW3 has 2 tries left gets every destructive case refused, and
// keeps its 2 tries.
func TestConformOpenPGPAsARealCard(t *testing.T) {
	ctx := context.Background()
	creds := conformance.Credentials{PW1: "123456", PW3: "12345678"}
	opgpOnly := func(c conformance.Case) bool { return c.App == conformance.AppOpenPGP }
	c, err := Open(Options{Profile: "openpgp"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	target := conformance.Target{Name: "a simulated card taken for a real one", Open: func(context.Context) (conformance.Card, error) { return openCard{c}, nil }}
	rep := runSuite(t, target, conformance.Options{Destructive: true, Credentials: creds, Filter: opgpOnly})
	if len(rep.Results) != len(opgpIDs()) {
		t.Fatalf("%d results, want the %d OpenPGP cases: %s", len(rep.Results), len(opgpIDs()), rep.Summary())
	}
	cases := map[string]conformance.Case{}
	for _, k := range conformance.Cases() {
		cases[k.ID] = k
	}
	for _, r := range rep.Results {
		switch needs := cases[r.ID].Needs; {
		case needs&(conformance.NeedOpenPGPKeys|conformance.NeedTerminate) != 0:
			if r.Outcome != conformance.Refused || !strings.Contains(r.Message, "run it on the simulator") {
				t.Errorf("%s: %s %q, want refused on a real card", r.ID, r.Outcome, r.Message)
			}
		case r.ID == "OPGP-SERIAL-YUBIKEY":
			if r.Outcome != conformance.Skipped {
				t.Errorf("%s: %s %q, want skipped: no YubiKey", r.ID, r.Outcome, r.Message)
			}
		case r.Outcome != conformance.Passed:
			t.Errorf("%s: %s %q", r.ID, r.Outcome, r.Message)
		}
	}
	e := conformance.NewEnv(openCard{c}, creds, conformance.AppOpenPGP)
	if err := e.SelectApp(ctx); err != nil {
		t.Fatal(err)
	}
	if pw1, rc, pw3, err := e.OpenPGPTries(ctx); err != nil || pw1 != 3 || rc != 0 || pw3 != 3 {
		t.Errorf("after the run C4 counts PW1 %d, RC %d, PW3 %d (%v), want 3, 0, 3", pw1, rc, pw3, err)
	}
	for _, cmd := range []apdu.Command{conformance.VerifyCommand(conformance.AppOpenPGP, "123456", 0), conformance.OpenPGPAdminVerifyCommand("12345678")} {
		if sw, err := e.SW(ctx, cmd); err != nil || sw != apdu.SWSuccess {
			t.Errorf("after the run VERIFY %02X with the password as before answered %04X (%v)", cmd.P2, uint16(sw), err)
		}
	}
	if r, err := e.Transmit(ctx, apdu.Command{INS: apdu.InsGetData, P2: 0x65, Ne: 256}); err != nil || r.SW != apdu.SWSuccess || bytes.Contains(r.Data, []byte("Tessera")) {
		t.Errorf("after the run the cardholder data is % X %04X (%v), want no name the suite wrote", r.Data, uint16(r.SW), err)
	}

	// PW3 at 2 tries: the suite spends none of them.
	if sw, err := e.SW(ctx, conformance.OpenPGPAdminVerifyCommand("00000000")); err != nil || sw != apdu.RetriesSW(2) {
		t.Fatalf("a wrong PW3 answered %04X (%v)", uint16(sw), err)
	}
	rep = runSuite(t, target, conformance.Options{Destructive: true, Credentials: creds, Filter: opgpOnly})
	for _, r := range rep.Results {
		if cases[r.ID].Class == conformance.Destructive && (r.Outcome != conformance.Refused || !strings.Contains(r.Message, "PW3 has 2 tries left") && !strings.Contains(r.Message, "run it on the simulator")) {
			t.Errorf("PW3 at 2 tries: %s: %s %q, want refused", r.ID, r.Outcome, r.Message)
		}
	}
	if err := e.SelectApp(ctx); err != nil {
		t.Fatal(err)
	}
	if _, _, pw3, err := e.OpenPGPTries(ctx); err != nil || pw3 != 2 {
		t.Errorf("PW3 has %d tries (%v) after a run refused for it, want 2", pw3, err)
	}
}
