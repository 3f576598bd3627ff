//go:build e2e && linux

package e2e

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/tesseracard/tessera/internal/hosttest"
)

// ifdBenchReader is the IFD reader of the benchmark's card.
const ifdBenchReader = "Tessera IFD Bench"

// ifdBenchBlock is how many exchanges BenchmarkGetVersionIFDThroughPCSCD
// makes on one path before the next.
const ifdBenchBlock = 250

// BenchmarkGetVersionIFDThroughPCSCD measures GET VERSION through pcscd
// on a Tessera card over the IFD bridge (Tessera's own reader driver in a
// private pcscd, docs/ifd-bridge.md) against the same kind of card over
// vpcd and the vpcd echo card, in one run, in alternating blocks of
// ifdBenchBlock exchanges per path so that all see the same machine while
// each is measured as a client uses it, one exchange after the other (a
// path whose card waits awake between APDUs, `tessera sim --ifd-spin`,
// would otherwise keep a CPU busy through the other paths' exchanges and
// speed them up, as measured on 2026-12-03). It reports the three rates,
// p50 and p99, and the IFD bridge's rate over the echo card's (goal ≥ 2.2)
// and over the vpcd card's.
//
// It also measures the floor of any card behind the IFD pcscd: SCardControl
// of CM_IOCTL_GET_FEATURE_REQUEST, one round trip from the client to pcscd
// and into the reader driver, which answers it at once without asking the
// simulator (an empty feature list). A card that lived inside pcscd, with
// no hop to a simulator, would answer GET VERSION no faster; floor/echo,
// that rate over the echo card's, is the best ifd/echo any card could reach
// in this run.
//
// Every exchange is made and timed by one small C client on libpcsclite,
// testdata/pcscbench.c, built for the run: one process on the machine's
// pcscd for the two vpcd readers, one with the IFD pcscd's socket for the
// IFD reader (libpcsclite reads PCSCLITE_CSOCK_NAME once per process). Not
// a Go client: on this 2-vCPU VM every wake of an idle vCPU costs some
// 25 µs, and a Go client adds wakes of its own around each blocking cgo
// call (the runtime's monitor retaking its P, spinning threads), so it
// measured its own runtime as much as the PC/SC stack. Back to back on
// 2026-12-03, the floor's p50 was 32 and 39 µs with the C client, 70 and
// 76 µs with the Go one. This process only hands each client a byte and
// reads back the time, between exchanges; it also hosts the vpcd Tessera
// card and the echo card, the card side of those paths.
func BenchmarkGetVersionIFDThroughPCSCD(b *testing.B) {
	ctx := pcscContext(b)
	startTesseraCard(b, "")
	defer echoCard(b, "127.0.0.1:35964")()
	waitCard(b, ctx, reader0, true, 15*time.Second)
	waitCard(b, ctx, reader1, true, 15*time.Second)
	client := buildPCSCBench(b)
	vpcd := startPCSCBench(b, client, nil, reader0, reader1)

	// The IFD card is a tessera sim process, as it is in use.
	p := startIFDPCSCD(b, ifdBenchReader)
	startSim(b, hosttest.ShortDir(b), "--bridge", "ifd", "--ifd-dir", filepath.Join(p.run, "ifd"), "--reader-name", ifdBenchReader, "--log-level", "warn")
	ifd := startPCSCBench(b, client, []string{"PCSCLITE_CSOCK_NAME=" + p.sock}, ifdBenchReader+" 00 00")

	const tessera, echo, ifdCard = 0, 1, 0 // the clients' reader numbers

	// The paths, in the order of their blocks: which client, which
	// exchange, and where its round trips go.
	var lt, le, li, lf latencies
	paths := []struct {
		client *pcscBench
		k      byte
		lat    *latencies
	}{
		{vpcd, tessera, &lt}, {vpcd, echo, &le}, {ifd, ifdCard, &li}, {ifd, pcscFloor | ifdCard, &lf},
	}
	for range 50 { // warm up the paths
		for _, p := range paths {
			p.client.ask(b, p.k)
		}
	}
	b.ResetTimer()
	for done := 0; done < b.N; done += ifdBenchBlock {
		n := min(ifdBenchBlock, b.N-done)
		for _, p := range paths {
			for range n {
				*p.lat = append(*p.lat, p.client.ask(b, p.k))
			}
		}
	}
	rateT, rateE, rateI := lt.report(b, "tessera"), le.report(b, "echo"), li.report(b, "ifd")
	rateF := lf.report(b, "floor")
	b.ReportMetric(rateI/rateE, "ifd/echo")
	b.ReportMetric(rateI/rateT, "ifd/vpcd")
	b.ReportMetric(rateF/rateE, "floor/echo")
}
