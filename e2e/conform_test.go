//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tesseracard/tessera/internal/hosttest"
)

// conformReport is the part of `tessera conform --json` the tests read.
type conformReport struct {
	Target  string   `json:"target"`
	Notes   []string `json:"notes"`
	Summary struct {
		Total, Passed, Departures, Failed, Skipped, Refused int
	} `json:"summary"`
	Cases []struct {
		ID      string `json:"id"`
		Class   string `json:"class"`
		Result  string `json:"result"`
		Message string `json:"message"`
	} `json:"cases"`
}

// tessera runs the tessera binary and returns its stdout, stderr and exit
// code.
func tessera(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, e2e.bin, args...)
	cmd.Dir = e2e.root
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		return out.String(), errb.String(), exit.ExitCode()
	case err != nil:
		t.Fatalf("tessera %s: %v", redactArgs(args), err)
	}
	return out.String(), errb.String(), 0
}

func conform(t *testing.T, args ...string) (conformReport, string, int) {
	t.Helper()
	return conformOn(t, reader0, args...)
}

// conformOn runs tessera conform on the card in reader.
func conformOn(t *testing.T, reader string, args ...string) (conformReport, string, int) {
	t.Helper()
	start := time.Now()
	out, stderr, code := tessera(t, append([]string{"conform", "--target", "pcsc", "--reader", reader, "--json"}, args...)...)
	var rep conformReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("tessera conform %s: exit %d, output is no report: %v\n%s\n%s", redactArgs(args), code, err, out, stderr)
	}
	fmt.Printf("report: e2e conform %s through pcscd: %d cases in %s: %d passed, %d departures, %d failed, %d skipped, %d refused\n",
		redactArgs(args), rep.Summary.Total, time.Since(start).Round(time.Millisecond), rep.Summary.Passed, rep.Summary.Departures, rep.Summary.Failed, rep.Summary.Skipped, rep.Summary.Refused)
	return rep, stderr, code
}

// redactArgs joins a command line with the values of --pin, --puk,
// --mgmt-key, --pw1 and --pw3 replaced: even test credentials stay out of logs.
func redactArgs(args []string) string {
	out := slices.Clone(args)
	for i := 1; i < len(out); i++ {
		switch out[i-1] {
		case "--pin", "--puk", "--mgmt-key", "--pw1", "--pw3":
			out[i] = "***"
		}
	}
	return strings.Join(out, " ")
}

// TestConformThroughPCSCD runs the conformance suite through pcscd against
// the simulator binary, which the suite takes for a real card: the safe
// cases alone by default; with --destructive and the credentials every case
// it can undo, refusing the one that blocks the PUK, and the card ends as it
// began. A quirk the suite must catch through pcscd makes it fail, with the
// case named.
func TestConformThroughPCSCD(t *testing.T) {
	sc := pcsc(t)
	checkNoCard(t, sc, reader0)
	state := hosttest.ShortDir(t)
	s := startSim(t, state)
	waitCard(t, sc, reader0, true, 15*time.Second)
	checkConformSuite(t, s, 0, reader0)
}

// checkConformSuite runs the suite on card id of s, a factory-fresh
// default PIV card in reader: the safe cases all pass and write nothing,
// the destructive ones pass (or depart, or are refused or skipped where a
// card in a reader cannot be driven) and leave the card as it was.
func checkConformSuite(t *testing.T, s *sim, id int, reader string) {
	t.Helper()
	ctx := context.Background()
	before, err := s.client().State(ctx, id)
	if err != nil {
		t.Fatal(err)
	}

	junit := filepath.Join(s.state, "junit.xml")
	rep, _, code := conformOn(t, reader, "--junit", junit)
	if code != 0 {
		t.Errorf("safe run: exit %d", code)
	}
	for _, c := range rep.Cases {
		switch {
		case c.Class == "safe" && c.Result != "pass":
			t.Errorf("%s: %s (%s)", c.ID, c.Result, c.Message)
		case c.Class == "destructive" && (c.Result != "skip" || !strings.Contains(c.Message, "--destructive")):
			t.Errorf("%s: destructive, %s without --destructive (%s)", c.ID, c.Result, c.Message)
		}
	}
	if raw, err := os.ReadFile(junit); err != nil {
		t.Error(err)
	} else if err := xml.Unmarshal(raw, new(struct{})); err != nil {
		t.Errorf("--junit wrote no XML: %v", err)
	}
	afterSafe, err := s.client().State(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if afterSafe.Generation != before.Generation {
		t.Errorf("the safe cases wrote the card's memory: generation %d → %d", before.Generation, afterSafe.Generation)
	}

	// The key cases generate keys only in the slots named with --slots,
	// and delete them afterwards: name slots that are empty here.
	rep, stderr, code := conformOn(t, reader, "--destructive", "--pin", "123456", "--puk", "12345678", "--mgmt-key", "010203040506070801020304050607080102030405060708", "--slots", "9a,9c,9d,9e")
	if code != 0 {
		t.Errorf("destructive run: exit %d\n%s", code, stderr)
	}
	if !strings.Contains(stderr, "note: PUK: --puk checked") {
		t.Errorf("the plan's notes are not printed up front on stderr:\n%s", stderr)
	}
	for _, c := range rep.Cases {
		switch c.ID {
		case "VE05.30", "YK-RESET", "YK-RESET-PUK-ONLY":
			if c.Result != "refused" || !strings.Contains(c.Message, "blocks the PUK") {
				t.Errorf("%s: %s (%s), want refused", c.ID, c.Result, c.Message)
			}
		case "YK-TOUCH-ALWAYS", "YK-TOUCH-CACHED", "YK-TOUCH-MGMT":
			if c.Result != "skip" || !strings.Contains(c.Message, "touch") {
				t.Errorf("%s through pcscd: %s (%s), want skipped: the suite cannot touch a card in a PC/SC reader", c.ID, c.Result, c.Message)
			}
		case "PIN-TEAR":
			if c.Result != "skip" {
				t.Errorf("PIN-TEAR through pcscd: %s (%s), want skipped: no power cut through PC/SC", c.Result, c.Message)
			}
		default:
			if c.Result != "pass" && c.Result != "departure" {
				t.Errorf("%s: %s (%s)", c.ID, c.Result, c.Message)
			}
		}
	}
	after, err := s.client().State(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if after.PIN.Tries != 3 || after.PUK.Tries != 3 || !slices.Equal(after.Keys, before.Keys) || !slices.Equal(after.Objects, before.Objects) {
		t.Errorf("the card after the destructive run: PIN %+v PUK %+v keys %v objects %v; before: keys %v objects %v",
			after.PIN, after.PUK, after.Keys, after.Objects, before.Keys, before.Objects)
	}
}

// TestConformCatchesAQuirkThroughPCSCD: a simulated card whose profile
// refuses command chaining fails the safe ISO-CHAIN case through pcscd,
// and the exit status says so.
func TestConformCatchesAQuirkThroughPCSCD(t *testing.T) {
	sc := pcsc(t)
	checkNoCard(t, sc, reader0)
	state := hosttest.ShortDir(t)
	prof := filepath.Join(state, "no-chaining.yaml")
	if err := os.WriteFile(prof, []byte("base: default\nname: no-chaining\nquirks: [no-chaining]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	startSim(t, state, "--profile", prof)
	waitCard(t, sc, reader0, true, 15*time.Second)
	rep, _, code := conform(t)
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	var failed []string
	for _, c := range rep.Cases {
		if c.Result == "fail" {
			failed = append(failed, c.ID)
		}
	}
	if !slices.Equal(failed, []string{"ISO-CHAIN"}) {
		t.Errorf("failed %v, want [ISO-CHAIN]", failed)
	}
}

// TestScenarioThroughPCSCD: a scenario of steps any card takes runs through
// pcscd (a reset included), its PUK step only with --destructive; one with
// simulator-only steps is refused there, before its first step, with the
// file, line and step.
func TestScenarioThroughPCSCD(t *testing.T) {
	sc := pcsc(t)
	checkNoCard(t, sc, reader0)
	s := startSim(t, hosttest.ShortDir(t))
	waitCard(t, sc, reader0, true, 15*time.Second)

	// Its unblock step could block the PUK of a real card: refused before
	// anything is sent, unless --destructive.
	out, stderr, code := tessera(t, "scenario", "--target", "pcsc", "--reader", reader0, "e2e/testdata/pcsc-lockout.yaml")
	if want := "FAIL e2e/testdata/pcsc-lockout.yaml:12: step 7 (unblock): destructive step: it uses the PUK"; code != 1 || !strings.HasPrefix(out, want) || !strings.Contains(out, "run the scenario with --destructive") {
		t.Errorf("a PUK step on a reader without --destructive: exit %d, printed %q\nwant %q...\n%s", code, out, want, stderr)
	}
	if st, err := s.client().State(context.Background(), 0); err != nil || st.PIN.Tries != 3 {
		t.Errorf("the refused scenario changed the card: PIN %+v, %v", st.PIN, err)
	}
	out, stderr, code = tessera(t, "scenario", "--target", "pcsc", "--reader", reader0, "--destructive", "e2e/testdata/pcsc-lockout.yaml")
	if code != 0 || !strings.HasPrefix(out, "PASS e2e/testdata/pcsc-lockout.yaml") {
		t.Errorf("scenario through pcscd: exit %d\n%s%s", code, out, stderr)
	}
	fmt.Printf("report: e2e %s", out)

	out, stderr, code = tessera(t, "scenario", "--target", "pcsc", "--reader", reader0, "scenarios/pin-puk-lockout.yaml")
	want := "FAIL scenarios/pin-puk-lockout.yaml:18: step 7 (power_cycle): needs the simulator, and the target is the card in PC/SC reader " + reader0 + ": run the scenario with --target sim\n"
	if code != 1 || out != want {
		t.Errorf("a simulator-only scenario on a reader: exit %d, printed %q\nwant %q\n%s", code, out, want, stderr)
	}
	st, err := s.client().State(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if st.PIN.Tries != 3 || st.PUK.Tries != 3 {
		t.Errorf("after the scenarios: PIN %+v PUK %+v", st.PIN, st.PUK)
	}
}
