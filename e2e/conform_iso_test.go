//go:build e2e

package e2e

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tesseracard/tessera/internal/hosttest"
)

// TestConformISOThroughPCSCD: an iso-token card through pcscd gets the ISO
// application's cases alone. The safe ones pass and the destructive ones
// are skipped; with --destructive (no credentials) the card, in the
// creation state, is personalised and every case runs; a second
// --destructive run finds it personalised and refuses them up front.
func TestConformISOThroughPCSCD(t *testing.T) {
	conformOneApp(t, "iso-token", "ISOAPP-", "creation state")

	rep, stderr, _ := conform(t, "--destructive")
	if !strings.Contains(stderr, "note: ISO: the card is in the creation state") {
		t.Errorf("the ISO plan's note is not printed up front:\n%s", stderr)
	}
	for _, c := range rep.Cases {
		switch {
		case c.ID == "ISOAPP-PIN-TEAR":
			if c.Result != "skip" || !strings.Contains(c.Message, "needs a simulated card") {
				t.Errorf("ISOAPP-PIN-TEAR through pcscd: %s (%s), want skipped: no power cut through PC/SC", c.Result, c.Message)
			}
		case c.Result != "pass":
			t.Errorf("destructive run: %s: %s (%s)", c.ID, c.Result, c.Message)
		}
	}

	rep, _, _ = conform(t, "--destructive")
	for _, c := range rep.Cases {
		if c.Class == "destructive" && (c.Result != "refused" || !strings.Contains(c.Message, "personalised")) {
			t.Errorf("second destructive run: %s: %s (%s), want refused", c.ID, c.Result, c.Message)
		}
	}
}

// conformOneApp starts the simulator with a card of profile, which carries
// one application, and runs the safe conformance cases through pcscd:
// only that application's cases (IDs starting with prefix) run, the safe
// ones pass (but those in skipped, which do not apply to such a card and
// must be skipped), the destructive ones are skipped with a reason
// containing why.
func conformOneApp(t *testing.T, profile, prefix, why string, skipped ...string) {
	t.Helper()
	sc := pcsc(t)
	checkNoCard(t, sc, reader0)
	startSim(t, hosttest.ShortDir(t), "--profile", profile)
	waitCard(t, sc, reader0, true, 15*time.Second)

	rep, stderr, code := conform(t)
	if code != 0 || len(rep.Cases) == 0 {
		t.Errorf("safe run: exit %d, %d cases\n%s", code, len(rep.Cases), stderr)
	}
	for _, c := range rep.Cases {
		switch {
		case !strings.HasPrefix(c.ID, prefix):
			t.Errorf("%s ran against a card with the %s profile's application alone", c.ID, profile)
		case slices.Contains(skipped, c.ID):
			if c.Result != "skip" {
				t.Errorf("%s: %s (%s), want skipped", c.ID, c.Result, c.Message)
			}
		case c.Class == "safe" && c.Result != "pass":
			t.Errorf("%s: %s (%s)", c.ID, c.Result, c.Message)
		case c.Class == "destructive" && (c.Result != "skip" || !strings.Contains(c.Message, why)):
			t.Errorf("%s: destructive, %s without --destructive (%s)", c.ID, c.Result, c.Message)
		}
	}
}
