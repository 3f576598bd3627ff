//go:build e2e

package e2e

import (
	"testing"

	"github.com/tesseracard/tessera/internal/hosttest"
)

// BenchmarkRelayThroughPCSCD measures what `tessera sim --relay` costs: GET
// VERSION on a Tessera card straight through pcscd (reader0) against the
// same card relayed by a second simulator process to reader1 (the relay's
// own PC/SC connection to reader0, its vpcd card on slot 1), interleaved so
// that both see the same machine. A relayed APDU crosses pcscd twice, so
// about half the straight rate is the most to expect. It reports both
// rates, their ratio and the p50 and p99 round trips.
func BenchmarkRelayThroughPCSCD(b *testing.B) {
	ctx := pcscContext(b)
	startTesseraCard(b, "")
	startSim(b, hosttest.ShortDir(b), "--cards", "0", "--relay", reader0, "--vpcd", "127.0.0.1:35964")
	relayed := connectB(b, ctx, reader1)
	timedTransmit(b, relayed, selectPIVCmd, 0x9000)
	// Connected after the relay's power-on, which resets the real card.
	straight := connectB(b, ctx, reader0)
	timedTransmit(b, straight, selectPIVCmd, 0x9000)
	rateR, _ := getVersionSideBySide(b, 50, getVersion{"relay", relayed, 0x9000}, getVersion{"straight", straight, 0x9000})
	if b.N >= 100 && rateR < 100 {
		b.Errorf("the relay answers %.0f APDU/s: something holds its exchanges (the reader watcher sharing the card's PC/SC context did, at 4-5 APDU/s)", rateR)
	}
}
