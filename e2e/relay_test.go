//go:build e2e

package e2e

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tesseracard/tessera/internal/hosttest"
	"github.com/tesseracard/tessera/simulator"
)

// TestRelayThroughPCSCD: a simulated card on Virtual PCD 00 00 stands in
// for a real card; tessera sim --relay puts it behind Virtual PCD 00 01
// (vpcd slot 1, port 35964). The conformance suite's safe cases through
// the relay give the same results as straight to the card, the PIN a
// client verifies through the relay is redacted from the trace, and the
// trace holds the relayed exchanges and the real card's ATR.
func TestRelayThroughPCSCD(t *testing.T) {
	ctx := pcsc(t)
	checkNoCard(t, ctx, reader0)
	checkNoCard(t, ctx, reader1)
	startSim(t, hosttest.ShortDir(t))
	waitCard(t, ctx, reader0, true, 15*time.Second)

	relayState := hosttest.ShortDir(t)
	tracePath := filepath.Join(relayState, "relay.jsonl")
	startSim(t, relayState, "--cards", "0", "--relay", reader0, "--vpcd", "127.0.0.1:35964", "--trace", tracePath)
	waitCard(t, ctx, reader1, true, 15*time.Second)

	direct, _, code := conformOn(t, reader0)
	if code != 0 {
		t.Fatalf("conform straight to %s: exit %d", reader0, code)
	}
	relayed, stderr, code := conformOn(t, reader1)
	if code != 0 {
		t.Fatalf("conform through the relay (%s): exit %d\n%s", reader1, code, stderr)
	}
	if len(relayed.Cases) != len(direct.Cases) || len(direct.Cases) == 0 {
		t.Fatalf("%d cases through the relay, %d straight", len(relayed.Cases), len(direct.Cases))
	}
	for i, c := range direct.Cases {
		r := relayed.Cases[i]
		if r.ID != c.ID || r.Result != c.Result {
			t.Errorf("case %s: %s through the relay (%s), %s straight (%s)", c.ID, r.Result, r.Message, c.Result, c.Message)
		}
	}

	card := connect(t, ctx, reader1)
	for _, s := range []struct{ cmd, want string }{{selectPIV, "9000"}, {rightPIN, "9000"}, {pinStatus, "9000"}} {
		if got := sw(t, card, s.cmd); got != s.want {
			t.Errorf("%s through the relay = %s, want %s", s.cmd, got, s.want)
		}
	}

	// The relay writes a trace line after it has answered: wait for the
	// last exchange's line (a fixed pause raced the writer on a busy disk).
	var data []byte
	for deadline := time.Now().Add(30 * time.Second); ; {
		var err error
		if data, err = os.ReadFile(tracePath); err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(bytes.ToUpper(data), []byte(`"COMMAND":"`+pinStatus+`"`)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the relay's trace has no line for the last command (%s) after 30s", pinStatus)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if bytes.Contains(bytes.ToUpper(data), []byte("313233343536")) {
		t.Errorf("the relay's trace holds the PIN")
	}
	var exchanges, verifies int
	var atr string
	simulator.ReadTrace(bytes.NewReader(data), func(r simulator.TraceRecord) error {
		switch {
		case r.Event == "power-on":
			atr = r.Detail
		case strings.HasPrefix(r.Command, "00200080"+"08"):
			verifies++
			if !strings.Contains(r.Command, "XX") {
				t.Errorf("VERIFY recorded as %s, want its data withheld", r.Command)
			}
		}
		if r.Command != "" {
			exchanges++
		}
		return nil
	})
	if exchanges == 0 || verifies == 0 || !strings.HasPrefix(atr, "ATR ") {
		t.Errorf("trace: %d exchanges, %d VERIFY with data, power-on %q; want them all", exchanges, verifies, atr)
	}
	fmt.Printf("report: e2e relay through pcscd: %d safe cases agree through the relay; trace of %d exchanges, PIN redacted\n", len(direct.Cases), exchanges)
}
