package conformance

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tesseracard/tessera/apdu"
	"github.com/tesseracard/tessera/internal/junit"
)

func TestCasesAreWellFormed(t *testing.T) {
	seen := map[string]bool{}
	destructiveSeen := false
	for _, c := range Cases() {
		if seen[c.ID] {
			t.Errorf("%s: duplicate ID", c.ID)
		}
		seen[c.ID] = true
		if c.Title == "" || c.Ref == "" || c.Run == nil {
			t.Errorf("%s: missing title, reference or Run", c.ID)
		}
		credentials := c.Needs &^ (NeedReset | NeedPowerCut)
		switch {
		case c.Class == Safe && c.Needs != 0:
			t.Errorf("%s: safe, yet needs %b", c.ID, c.Needs)
		case c.Class == Destructive && credentials == 0:
			t.Errorf("%s: destructive without saying what it uses", c.ID)
		case c.Class == Safe && destructiveSeen:
			t.Errorf("%s: a safe case after a destructive one", c.ID)
		}
		destructiveSeen = destructiveSeen || c.Class == Destructive
	}
}

// scriptCard answers every command from a function and records them.
type scriptCard struct {
	answer func(cmd []byte) []byte
	sent   [][]byte
}

func (c *scriptCard) Transmit(_ context.Context, cmd []byte) ([]byte, error) {
	c.sent = append(c.sent, bytes.Clone(cmd))
	return c.answer(cmd), nil
}

func (c *scriptCard) Close() error { return nil }

// notPIV answers 6A82 to SELECT and 6D00 to everything else.
func notPIV(cmd []byte) []byte {
	if len(cmd) > 1 && cmd[1] == apdu.InsSelect {
		return []byte{0x6A, 0x82}
	}
	return []byte{0x6D, 0x00}
}

// pivOnly answers SELECT of PIV with 9000, other SELECTs with 6A82 and
// everything else with 6D00.
func pivOnly(cmd []byte) []byte {
	if len(cmd) > 5 && cmd[1] == apdu.InsSelect && bytes.HasPrefix(cmd[5:], pivAID()) {
		return []byte{0x90, 0x00}
	}
	return notPIV(cmd)
}

// TestRunOnACardWithNoKnownApplication: a card that answers SELECT for
// neither PIV nor the ISO application is outside the suite, not a card
// that fails it: every case of both applications is reported not
// applicable with the reason (the status words of the two SELECTs), in
// the text, JSON and JUnit reports, nothing but the two SELECTs is sent,
// and --destructive without credentials is no error, since nothing runs.
func TestRunOnACardWithNoKnownApplication(t *testing.T) {
	for _, destructive := range []bool{false, true} {
		card := &scriptCard{answer: notPIV}
		target := Target{Name: "a card with no known application", Open: func(context.Context) (Card, error) { return card, nil }}
		rep, err := Run(context.Background(), target, Options{Destructive: destructive})
		if err != nil {
			t.Fatalf("destructive %v: Run() error = %v, want a report", destructive, err)
		}
		const reason = "the card has none of the applications the suite tests: SELECT of PIV, AID A000000308000010000100, answered 6A82 (file or application not found); SELECT of the ISO 7816 file system (IsoApplet), AID F276A288BCFBA69D34F31001, answered 6A82 (file or application not found); SELECT of OATH (YKOATH), AID A0000005272101, answered 6A82 (file or application not found); SELECT of YubiKey management, AID A000000527471117, answered 6A82 (file or application not found); SELECT of OpenPGP, AID D27600012401, answered 6A82 (file or application not found)"
		c := rep.Counts()
		if c.Total != len(Cases()) || c.NotApplicable != c.Total || rep.Failed() {
			t.Errorf("destructive %v: counts %+v, want all %d cases of both applications not applicable", destructive, c, len(Cases()))
		}
		for _, r := range rep.Results {
			if r.Outcome != NotApplicable || r.Message != reason {
				t.Errorf("%s: %s %q, want not-applicable %q", r.ID, r.Outcome, r.Message, reason)
			}
		}
		if len(card.sent) != 5 {
			t.Errorf("sent %d commands, want the five SELECTs: % X", len(card.sent), card.sent)
		}
		for _, cmd := range card.sent {
			if cmd[1] != apdu.InsSelect {
				t.Errorf("sent % X to a card with no known application", cmd)
			}
		}

		var text bytes.Buffer
		rep.WriteText(&text)
		for _, want := range []string{"  note: no case applies: " + reason, "ISO-INS ", " not-applicable ", "  " + reason, fmt.Sprintf(", 0 failed, 0 skipped, %d not applicable\n", c.Total)} {
			if !strings.Contains(text.String(), want) {
				t.Errorf("the text report has no %q:\n%s", want, text.String())
			}
		}
		var js bytes.Buffer
		rep.WriteJSON(&js)
		var got struct {
			Summary Counts `json:"summary"`
			Cases   []struct {
				Result  string `json:"result"`
				Message string `json:"message"`
			} `json:"cases"`
		}
		if err := json.Unmarshal(js.Bytes(), &got); err != nil || got.Summary.NotApplicable != c.Total || got.Cases[0].Result != "not-applicable" || got.Cases[0].Message != reason {
			t.Errorf("JSON (%v):\n%s", err, js.String())
		}
		var ju bytes.Buffer
		rep.WriteJUnit(&ju)
		var suites junit.Suites
		if err := xml.Unmarshal(ju.Bytes(), &suites); err != nil {
			t.Fatal(err)
		}
		if suites.Failures != 0 || suites.Skipped != c.Total {
			t.Errorf("JUnit: %d failures, %d skipped; want 0, %d", suites.Failures, suites.Skipped, c.Total)
		}
		if len(suites.Suites) != 5 {
			t.Fatalf("JUnit: %d testsuites, want one per application (5)", len(suites.Suites))
		}
		for _, jc := range slices.Concat(suites.Suites[0].Cases, suites.Suites[1].Cases, suites.Suites[2].Cases, suites.Suites[3].Cases, suites.Suites[4].Cases) {
			if jc.Failure != nil || jc.Skipped == nil || jc.Skipped.Message != "not-applicable: "+reason {
				t.Errorf("JUnit case %s: failure %v, skipped %v; want skipped with the reason", jc.Name, jc.Failure, jc.Skipped)
			}
		}
	}
}

// TestRunPicksTheApplicationsThatAnswer: a PIV card gets the PIV cases
// only, none of them not applicable.
func TestRunPicksTheApplicationsThatAnswer(t *testing.T) {
	card := &scriptCard{answer: pivOnly}
	rep, err := Run(context.Background(), Target{Name: "PIV", Open: func(context.Context) (Card, error) { return card, nil }}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	app := map[string]Application{}
	for _, c := range Cases() {
		app[c.ID] = c.App
	}
	for _, r := range rep.Results {
		if app[r.ID] != AppPIV {
			t.Errorf("case %s (%s) on a PIV-only card", r.ID, app[r.ID])
		}
		if r.Outcome == NotApplicable {
			t.Errorf("%s: not applicable on a PIV card", r.ID)
		}
	}
}

func TestRunRefusesDestructiveWithoutCredentials(t *testing.T) {
	target := Target{Name: "x", Open: func(context.Context) (Card, error) { return &scriptCard{answer: pivOnly}, nil }}
	for _, creds := range []Credentials{{}, {PIN: "123456", PUK: "12345678"}, {PIN: "123456", MgmtKey: DefaultMgmtKey()}} {
		if _, err := Run(context.Background(), target, Options{Destructive: true, Credentials: creds}); !errors.Is(err, ErrIncompleteCredentials) {
			t.Errorf("Run(%+v) = %v, want ErrIncompleteCredentials", creds, err)
		}
	}
}

// redact writes one command on its own as the exchange log does.
func redact(cmd []byte) string {
	var l exchangeLog
	c, _ := l.redact(cmd, nil)
	return c
}

func TestRedact(t *testing.T) {
	tests := []struct{ cmd, want string }{
		{"0020008008313233343536FFFF", "0020008008XXXXXXXXXXXXXXXX"},
		{"00200080", "00200080"},
		{"002C008010" + strings.Repeat("31", 16), "002C008010" + strings.Repeat("XX", 16)},
		{"00879B9B047C028000", "00879B9B04XXXXXXXX"},
		{"0087119A047C028200", "0087119A047C028200"},
		{"00CB3FFF055C035FC102", "00CB3FFF055C035FC102"},
		{"80200080083132333435363738", "8020008008XXXXXXXXXXXXXXXX"},
		{"00FE07880401020304", "00FE078804XXXXXXXX"},
		{"00FFFFFF1B039B18" + strings.Repeat("01", 24), "00FFFFFF1B" + strings.Repeat("XX", 27)},
		{"00DB00B6049F010203", "00DB00B604XXXXXXXX"},
		{"00DB3FFF055C035FC102", "00DB3FFF055C035FC102"},
	}
	for _, tt := range tests {
		raw, _ := hexBytes(tt.cmd)
		if got := redact(raw); got != tt.want {
			t.Errorf("redact(%s) = %s, want %s", tt.cmd, got, tt.want)
		}
	}
}

// TestExchangeLogWithholdsSecretAnswers: decryptions, shared secrets and
// management-key witnesses never reach a failure report, nor the rest of
// them fetched by GET RESPONSE; other answers stay visible.
func TestExchangeLogWithholdsSecretAnswers(t *testing.T) {
	var l exchangeLog
	steps := []struct{ cmd, resp, want string }{
		{"0087119D0A7C088200850401020304", "7C068204AABBCCDD9000", "< XXXXXXXXXXXXXXXX9000"},
		{"00879B9B047C028000", "7C0A800811223344556677889000", "< " + strings.Repeat("XX", 12) + "9000"},
		{"0087079A0C7C0A82008106" + "000102030405", "CAFE6102", "< XXXX6102"},
		{"00C0000002", "BEEF9000", "< XXXX9000"},
		{"00CB3FFF055C035FC102", "53020102FEED9000", "< 53020102FEED9000"},
		{"002A808603001122", "D00D6101", "< XXXX6101"},
		{"00C0000001", "AA9000", "< XX9000"},
		{"00C0000001", "AB9000", "< AB9000"},
		{"002A9E9A0401020304", "3006020101020102" + "9000", "< 30060201010201029000"},
		// The printed information object, where ykman keeps a PIN-protected
		// management key: the host side withholds what a card shows only
		// after the PIN.
		{"00CB3FFF055C035FC109", "53068804AABBCCDD9000", "< " + strings.Repeat("XX", 8) + "9000"},
	}
	for _, s := range steps {
		cmd, _ := hexBytes(s.cmd)
		resp, _ := hexBytes(s.resp)
		l.add(cmd, resp)
		lines := l.lines()
		if got := lines[len(lines)-1]; !strings.HasSuffix(got, s.want) {
			t.Errorf("after %s → %s: logged %q, want it to end %q", s.cmd, s.resp, got, s.want)
		}
	}
}

func hexBytes(s string) ([]byte, error) {
	var b []byte
	for i := 0; i+1 < len(s); i += 2 {
		var v byte
		for _, c := range s[i : i+2] {
			v <<= 4
			switch {
			case c >= '0' && c <= '9':
				v |= byte(c - '0')
			default:
				v |= byte(c-'A') + 10
			}
		}
		b = append(b, v)
	}
	return b, nil
}

func sampleReport() *Report {
	return &Report{
		Target:   "a sample card",
		Started:  time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		Duration: 1500 * time.Millisecond,
		Notes:    []string{"PIN: --pin verified"},
		Results: []Result{
			{ID: "ISO-INS", Title: "an unknown instruction answers 6D00", Ref: "ISO", Class: Safe, Outcome: Passed, Duration: 300 * time.Microsecond},
			{ID: "VE05.17", Title: "blocked", Ref: "VE05.17", Class: Destructive, Outcome: Departed, Duration: 25 * time.Millisecond,
				Departures: []DepartureNote{{Name: DepartureBlocking6983, Detail: "the try that blocked it answered 6983"}}},
			{ID: "ISO-CHAIN", Title: "chains", Ref: "ISO", Class: Safe, Outcome: Failed, Message: "card answered 6884", Exchanges: []string{"> 10CB3FFF025C03\n< 6884"}},
			{ID: "VE05.30", Title: "PUK blocked", Ref: "VE05.30", Class: Destructive, Outcome: Refused, Message: "blocks the PUK"},
			{ID: "PIN-TEAR", Title: "tear", Ref: "x", Class: Destructive, Outcome: Skipped, Message: "needs a simulated card"},
		},
	}
}

func TestReportText(t *testing.T) {
	var b bytes.Buffer
	if err := sampleReport().WriteText(&b); err != nil {
		t.Fatal(err)
	}
	want := `Conformance of a sample card
  note: PIN: --pin verified

CASE       RESULT     TIME   WHAT
ISO-INS    pass       0.3ms  an unknown instruction answers 6D00
VE05.17    departure  25ms   blocked
                               departure yubikey-blocking-6983: the try that blocked it answered 6983
ISO-CHAIN  FAIL       0.0ms  chains
                               card answered 6884
VE05.30    refused    -      PUK blocked
                               blocks the PUK
PIN-TEAR   skip       -      tear
                               needs a simulated card

Last exchanges of ISO-CHAIN:
  > 10CB3FFF025C03
  < 6884

5 cases in 1.50s: 1 passed, 1 with departures (yubikey-blocking-6983), 1 failed (ISO-CHAIN), 1 skipped, 1 refused
  PIV: 5 cases: 1 passed, 1 departed (yubikey-blocking-6983), 1 failed, 1 skipped, 1 refused
`
	if b.String() != want {
		t.Errorf("WriteText:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestReportJSONAndJUnit(t *testing.T) {
	rep := sampleReport()
	var b bytes.Buffer
	if err := rep.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Target  string `json:"target"`
		Summary Counts `json:"summary"`
		Cases   []struct {
			ID         string          `json:"id"`
			Result     string          `json:"result"`
			Class      string          `json:"class"`
			DurationMS float64         `json:"duration_ms"`
			Departures []DepartureNote `json:"departures"`
		} `json:"cases"`
	}
	if err := json.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if got.Target != "a sample card" || got.Summary != (Counts{Total: 5, Passed: 1, Departed: 1, Failed: 1, Skipped: 1, Refused: 1}) ||
		len(got.Cases) != 5 || got.Cases[1].Result != "departure" || got.Cases[1].Class != "destructive" || got.Cases[1].DurationMS != 25 || got.Cases[1].Departures[0].Name != DepartureBlocking6983 {
		t.Errorf("JSON = %s", b.String())
	}

	b.Reset()
	if err := rep.WriteJUnit(&b); err != nil {
		t.Fatal(err)
	}
	var suites junit.Suites
	if err := xml.Unmarshal(b.Bytes(), &suites); err != nil {
		t.Fatalf("JUnit XML does not parse: %v\n%s", err, b.String())
	}
	s := suites.Suites[0]
	if suites.Tests != 5 || suites.Failures != 1 || suites.Skipped != 2 || len(s.Cases) != 5 ||
		s.Cases[2].Failure == nil || s.Cases[2].Failure.Message != "card answered 6884" || s.Cases[3].Skipped == nil ||
		!strings.Contains(s.Cases[1].SystemOut, "departure yubikey-blocking-6983") {
		t.Errorf("JUnit = %s", b.String())
	}
}

// TestReportPerApplication: the text, JSON and JUnit reports say, for each
// application, how many of its cases passed, departed (and which
// departures), failed, were skipped, refused or not applicable; JUnit has
// one testsuite per application.
func TestReportPerApplication(t *testing.T) {
	rep := &Report{
		Target: "card", Started: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Duration: time.Second,
		Results: []Result{
			{ID: "VE05.07", App: AppPIV, Title: "select", Ref: "r", Outcome: Passed},
			{ID: "VE05.17", App: AppPIV, Title: "blocked", Ref: "r", Outcome: Departed, Departures: []DepartureNote{{Name: DepartureBlocking6983, Detail: "6983"}}},
			{ID: "YK-RESET", App: AppPIV, Title: "reset", Ref: "r", Class: Destructive, Outcome: Refused, Message: "blocks the PUK"},
			{ID: "ISOAPP-SELECT", App: AppISO, Title: "select", Ref: "r", Outcome: Failed, Message: "6A82"},
			{ID: "OATH-LIST", App: AppOATH, Title: "list", Ref: "r", Outcome: NotApplicable, Message: "no OATH"},
			{ID: "MGMT-READ", App: AppMgmt, Title: "read", Ref: "r", Outcome: Skipped, Message: "no"},
			{ID: "OPGP-7.2.1-SELECT", App: AppOpenPGP, Title: "select", Ref: "r", Outcome: Passed},
		},
	}
	var text bytes.Buffer
	if err := rep.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	wantText := `7 cases in 1.00s: 2 passed, 1 with departures (yubikey-blocking-6983), 1 failed (ISOAPP-SELECT), 1 skipped, 1 refused, 1 not applicable
  PIV: 3 cases: 1 passed, 1 departed (yubikey-blocking-6983), 0 failed, 1 refused
  ISO: 1 cases: 0 passed, 0 departed, 1 failed
  OATH: 1 cases: 0 passed, 0 departed, 0 failed, 1 not applicable
  MGMT: 1 cases: 0 passed, 0 departed, 0 failed, 1 skipped
  OpenPGP: 1 cases: 1 passed, 0 departed, 0 failed
`
	if !strings.HasSuffix(text.String(), wantText) {
		t.Errorf("WriteText ends:\n%s\nwant it to end:\n%s", text.String(), wantText)
	}

	var js bytes.Buffer
	if err := rep.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Apps  []AppCounts `json:"applications"`
		Cases []struct {
			ID  string      `json:"id"`
			App Application `json:"application"`
		} `json:"cases"`
	}
	if err := json.Unmarshal(js.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	wantApps := []AppCounts{
		{App: AppPIV, Counts: Counts{Total: 3, Passed: 1, Departed: 1, Refused: 1}, DepartureNames: []string{DepartureBlocking6983}},
		{App: AppISO, Counts: Counts{Total: 1, Failed: 1}, DepartureNames: []string{}},
		{App: AppOATH, Counts: Counts{Total: 1, NotApplicable: 1}, DepartureNames: []string{}},
		{App: AppMgmt, Counts: Counts{Total: 1, Skipped: 1}, DepartureNames: []string{}},
		{App: AppOpenPGP, Counts: Counts{Total: 1, Passed: 1}, DepartureNames: []string{}},
	}
	if fmt.Sprint(got.Apps) != fmt.Sprint(wantApps) {
		t.Errorf("JSON applications = %+v, want %+v", got.Apps, wantApps)
	}
	if len(got.Cases) != 7 || got.Cases[4].App != AppOATH || !strings.Contains(js.String(), `"application": "MGMT"`) || got.Cases[6].App != AppOpenPGP || !strings.Contains(js.String(), `"application": "OpenPGP"`) {
		t.Errorf("JSON cases do not name their application:\n%s", js.String())
	}

	var x bytes.Buffer
	if err := rep.WriteJUnit(&x); err != nil {
		t.Fatal(err)
	}
	var suites junit.Suites
	if err := xml.Unmarshal(x.Bytes(), &suites); err != nil {
		t.Fatal(err)
	}
	type suiteSum struct {
		name                    string
		tests, failures, skipps int
	}
	var sums []suiteSum
	for _, s := range suites.Suites {
		sums = append(sums, suiteSum{s.Name, len(s.Cases), s.Failures, s.Skipped})
	}
	wantSums := []suiteSum{{"card PIV", 3, 0, 1}, {"card ISO", 1, 1, 0}, {"card OATH", 1, 0, 1}, {"card MGMT", 1, 0, 1}, {"card OpenPGP", 1, 0, 0}}
	if !slices.Equal(sums, wantSums) || suites.Tests != 7 || suites.Failures != 1 || suites.Skipped != 3 {
		t.Errorf("JUnit suites = %+v (tests %d, failures %d, skipped %d), want %+v (7, 1, 3)", sums, suites.Tests, suites.Failures, suites.Skipped, wantSums)
	}
}

// TestRunNamesEachResultsApplication: Run records each case's application
// in its result, so the report can count by application.
func TestRunNamesEachResultsApplication(t *testing.T) {
	card := &scriptCard{answer: notPIV}
	target := Target{Name: "x", Open: func(context.Context) (Card, error) { return card, nil }}
	rep, err := Run(context.Background(), target, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Application{}
	for _, c := range Cases() {
		want[c.ID] = c.App
	}
	seen := map[Application]bool{}
	for _, r := range rep.Results {
		if r.App != want[r.ID] {
			t.Errorf("%s: result names application %s, the case %s", r.ID, r.App.Code(), want[r.ID].Code())
		}
		seen[r.App] = true
	}
	if len(seen) != 5 {
		t.Errorf("results name %d applications, want the 5 the suite tests", len(seen))
	}
}
