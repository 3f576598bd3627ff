package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tesseracard/tessera/conformance"
	"github.com/tesseracard/tessera/firmware/profile"
	"github.com/tesseracard/tessera/simulator/simtarget"
)

func isoCaseIDs() []string {
	var ids []string
	for _, c := range conformance.Cases() {
		if c.App == conformance.AppISO {
			ids = append(ids, c.ID)
		}
	}
	return ids
}

// TestConformISOToken: against fresh iso-token cards the suite picks the
// ISO application's cases alone, and every one runs and passes.
func TestConformISOToken(t *testing.T) {
	target, creds, err := simTarget("iso-token")
	if err != nil {
		t.Fatal(err)
	}
	rep := runSuite(t, target, conformance.Options{Credentials: creds})
	var got []string
	for _, r := range rep.Results {
		got = append(got, r.ID)
		if r.Outcome != conformance.Passed {
			t.Errorf("%s: %s: %s", r.ID, r.Outcome, r.Message)
		}
	}
	if want := isoCaseIDs(); !slices.Equal(got, want) {
		t.Errorf("cases run %v, want the ISO application's %v", got, want)
	}
}

// swRewriter is a simulated card whose answers to the commands match
// selects have their status word replaced: a card broken in one place.
type swRewriter struct {
	*simtarget.Card
	match func(cmd []byte) bool
	from  []byte // the status word rewritten; nil: any
	to    []byte
}

func (c swRewriter) Transmit(ctx context.Context, cmd []byte) ([]byte, error) {
	out, err := c.Card.Transmit(ctx, cmd)
	if err != nil || len(out) < 2 || !c.match(cmd) {
		return out, err
	}
	n := len(out) - 2
	if c.from != nil && !bytes.Equal(out[n:], c.from) {
		return out, nil
	}
	return append(out[:n:n], c.to...), nil
}

func ins(i byte) func([]byte) bool {
	return func(cmd []byte) bool { return len(cmd) > 1 && cmd[1] == i }
}

// TestConformISOCatchesBrokenCards: an iso-token card with one status word
// rewritten fails the case written for it.
func TestConformISOCatchesBrokenCards(t *testing.T) {
	tests := []struct {
		name     string
		match    func([]byte) bool
		from, to []byte
		run      string
		fails    []string
	}{
		{"6982 answered as 6985", func([]byte) bool { return true }, []byte{0x69, 0x82}, []byte{0x69, 0x85}, "NO-PIN|AC-RULES", []string{"ISOAPP-AC-RULES", "ISOAPP-NO-PIN"}},
		{"a blocked PIN answers 63C0", ins(0x20), []byte{0x69, 0x83}, []byte{0x63, 0xC0}, "PIN-COUNT", []string{"ISOAPP-PIN-COUNT"}},
		{"a chained SELECT accepted", func(cmd []byte) bool { return cmd[0] == 0x10 }, nil, []byte{0x90, 0x00}, "CHAIN", []string{"ISOAPP-CHAIN"}},
		{"no current EF answers 6A82", ins(0xB0), []byte{0x69, 0x86}, []byte{0x6A, 0x82}, "NO-EF|SELECT-ABSENT", []string{"ISOAPP-NO-EF", "ISOAPP-SELECT-ABSENT"}},
		{"RESET RETRY COUNTER early answers 6985", ins(0x2C), []byte{0x69, 0x86}, []byte{0x69, 0x85}, "LIFECYCLE", []string{"ISOAPP-LIFECYCLE"}},
		{"a used FID answers 6A89", ins(0xE0), []byte{0x69, 0x84}, []byte{0x6A, 0x89}, "CREATE|DF-FULL", []string{"ISOAPP-CREATE-ERRORS"}},
		{"a full DF answers 6A80", ins(0xE0), []byte{0x6A, 0x84}, []byte{0x6A, 0x80}, "CREATE|DF-FULL", []string{"ISOAPP-DF-FULL"}},
		{"READ past the end answers 6282", ins(0xB0), []byte{0x6B, 0x00}, []byte{0x62, 0x82}, "ISOAPP-EF", []string{"ISOAPP-EF"}},
	}
	for _, tt := range tests {
		target := conformance.Target{Name: tt.name, Fresh: true, Open: func(context.Context) (conformance.Card, error) {
			c, err := simtarget.Open(simtarget.Options{Profile: "iso-token"})
			if err != nil {
				return nil, err
			}
			return swRewriter{c, tt.match, tt.from, tt.to}, nil
		}}
		filter := func(c conformance.Case) bool { return strings.Contains(c.ID, "ISOAPP-") && matchAny(c.ID, tt.run) }
		rep := runSuite(t, target, conformance.Options{Filter: filter})
		got := rep.IDs(conformance.Failed)
		slices.Sort(got)
		if !slices.Equal(got, tt.fails) {
			t.Errorf("%s: failed %v, want %v", tt.name, got, tt.fails)
		}
	}
}

// matchAny reports whether id contains one of the |-separated parts.
func matchAny(id, parts string) bool {
	return slices.ContainsFunc(strings.Split(parts, "|"), func(p string) bool { return strings.Contains(id, p) })
}

// TestConformISORealCard: one iso-token card taken for a real one. Without
// --destructive only the safe cases run and nothing is written; with it, a
// card in the creation state is personalised and every destructive case
// runs; a second destructive run, on the card now personalised, is refused
// up front.
func TestConformISORealCard(t *testing.T) {
	target, c := realishTarget(t, "iso-token")
	// simulator.Reader.State reads the PIV application's records, so the
	// writes are counted with a power cut armed far away.
	ctx := context.Background()
	const far = 1 << 20
	if err := c.Reader().ArmTear(ctx, far); err != nil {
		t.Fatal(err)
	}
	rep := runSuite(t, target, conformance.Options{})
	if tear := c.Reader().Info().Tear; tear == nil || tear.WritesLeft != far {
		t.Errorf("the safe run wrote to the card: %+v", tear)
	}
	if err := c.Reader().ArmTear(ctx, -1); err != nil {
		t.Fatal(err)
	}
	for _, r := range rep.Results {
		if r.Class == conformance.Destructive && (r.Outcome != conformance.Skipped || !strings.Contains(r.Message, "creation state")) {
			t.Errorf("safe run: %s %s (%s), want skipped", r.ID, r.Outcome, r.Message)
		}
	}

	rep = runSuite(t, target, conformance.Options{Destructive: true})
	for _, r := range rep.Results {
		if r.Outcome == conformance.Passed {
			continue
		}
		t.Errorf("destructive run: %s %s: %s", r.ID, r.Outcome, r.Message)
	}

	rep = runSuite(t, target, conformance.Options{Destructive: true})
	for _, r := range rep.Results {
		if r.Class == conformance.Destructive && (r.Outcome != conformance.Refused || !strings.Contains(r.Message, "personalised")) {
			t.Errorf("second destructive run: %s %s (%s), want refused: the card is personalised", r.ID, r.Outcome, r.Message)
		}
	}
}

// TestISOLockoutScenarioCatchesCounterQuirks: the shipped iso-token lockout
// scenario fails on a card whose PIN counter misbehaves.
func TestISOLockoutScenarioCatchesCounterQuirks(t *testing.T) {
	orig, err := os.ReadFile(filepath.Join("..", "..", "scenarios", "iso-token-lockout.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(orig, []byte("\nprofile: iso-token\n")) {
		t.Fatal("iso-token-lockout.yaml no longer says profile: iso-token")
	}
	for _, q := range []string{profile.QuirkNoDecrement, profile.QuirkSW6300, profile.QuirkRestoreBeforeCompare} {
		t.Run(q, func(t *testing.T) {
			doc := bytes.Replace(orig, []byte("\nprofile: iso-token\n"), fmt.Appendf(nil, "\nprofile: {base: iso-token, name: quirky, quirks: [%s]}\n", q), 1)
			path := filepath.Join(t.TempDir(), "lockout.yaml")
			if err := os.WriteFile(path, doc, 0o600); err != nil {
				t.Fatal(err)
			}
			out, _, err := runTessera(context.Background(), "scenario", path)
			if err == nil || !strings.Contains(out, "FAIL") {
				t.Errorf("the lockout scenario passed a card with quirk %s:\n%s", q, out)
			}
		})
	}
}
