//go:build e2e && linux

package e2e

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ebfe/scard"

	"github.com/tesseracard/tessera/simulator"
)

// ifdBenchChildEnv, set to "N READER", makes the test binary the
// benchmark's client of the IFD pcscd (PCSCLITE_CSOCK_NAME in its
// environment): it connects to READER, sends GET VERSION N times and
// prints each round trip in nanoseconds, one a line.
const ifdBenchChildEnv = "TESSERA_E2E_IFD_BENCH"

// ifdBenchReader is the IFD reader of the benchmark's card.
const ifdBenchReader = "Tessera IFD Bench"

// BenchmarkGetVersionIFDThroughPCSCD measures GET VERSION through pcscd
// on a Tessera card over the IFD bridge (Tessera's own reader driver in a
// private pcscd, docs/ifd-bridge.md) against the same kind of card over
// vpcd and the vpcd echo card, in one run: the vpcd pair interleaved, then
// as many exchanges over the IFD bridge. libpcsclite reads
// PCSCLITE_CSOCK_NAME once per process, so the IFD exchanges are made by
// this test binary run again as a client (ifdBenchChildEnv). It reports
// the three rates, p50 and p99, and the IFD bridge's rate over the echo
// card's (goal ≥ 2.2) and over the vpcd card's.
func BenchmarkGetVersionIFDThroughPCSCD(b *testing.B) {
	ctx := pcscContext(b)
	tessera := startTessera(b, ctx)
	defer echoCard(b, "127.0.0.1:35964")()
	echo := connectB(b, ctx, reader1)

	p := startIFDPCSCD(b, ifdBenchReader)
	sim, err := simulator.New(simulator.Config{IFDDir: filepath.Join(p.run, "ifd")})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { sim.Close() })
	if _, err := sim.Add(simulator.CardSpec{Slot: 0}); err != nil {
		b.Fatal(err)
	}

	for range 50 { // warm up both vpcd paths
		timedTransmit(b, tessera, getVersionCmd, 0x9000)
		timedTransmit(b, echo, getVersionCmd, 0x9000)
	}
	var lt, le latencies
	for b.Loop() {
		_, d := timedTransmit(b, tessera, getVersionCmd, 0x9000)
		lt = append(lt, d)
		_, d = timedTransmit(b, echo, getVersionCmd, 0x9000)
		le = append(le, d)
	}
	li := ifdBenchRun(b, p.sock, len(lt))
	rateT, rateE, rateI := lt.report(b, "tessera"), le.report(b, "echo"), li.report(b, "ifd")
	b.ReportMetric(rateI/rateE, "ifd/echo")
	b.ReportMetric(rateI/rateT, "ifd/vpcd")
}

// ifdBenchRun runs the IFD client (this binary again) for n exchanges and
// returns their round trips.
func ifdBenchRun(b *testing.B, sock string, n int) latencies {
	b.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "PCSCLITE_CSOCK_NAME="+sock, fmt.Sprintf("%s=%d %s", ifdBenchChildEnv, n, ifdBenchReader+" 00 00"))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		b.Fatalf("the IFD benchmark client: %v\n%s", err, stderr.String())
	}
	var l latencies
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		ns, err := strconv.ParseInt(sc.Text(), 10, 64)
		if err != nil {
			b.Fatalf("the IFD benchmark client printed %q", sc.Text())
		}
		l = append(l, time.Duration(ns))
	}
	if len(l) != n {
		b.Fatalf("the IFD benchmark client timed %d exchanges, want %d\n%s", len(l), n, stderr.String())
	}
	return l
}

// ifdBenchChild is the IFD benchmark's client (see ifdBenchChildEnv).
func ifdBenchChild(spec string) int {
	fail := func(format string, args ...any) int {
		fmt.Fprintf(os.Stderr, "ifd bench client: "+format+"\n", args...)
		return 1
	}
	nStr, reader, ok := strings.Cut(spec, " ")
	n, err := strconv.Atoi(nStr)
	if !ok || err != nil || n < 1 {
		return fail("%s=%q: want \"N READER\"", ifdBenchChildEnv, spec)
	}
	ctx, err := scard.EstablishContext()
	if err != nil {
		return fail("SCardEstablishContext: %v", err)
	}
	defer ctx.Release()
	var c *scard.Card
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if c, err = ctx.Connect(reader, scard.ShareShared, scard.ProtocolT1); err == nil {
			break
		}
		if time.Now().After(deadline) {
			return fail("SCardConnect(%s): %v", reader, err)
		}
	}
	defer c.Disconnect(scard.LeaveCard)
	transmit := func(cmd []byte) (time.Duration, error) {
		start := time.Now()
		resp, err := c.Transmit(cmd)
		d := time.Since(start)
		if err == nil && (len(resp) < 2 || !bytes.Equal(resp[len(resp)-2:], []byte{0x90, 0x00})) {
			err = fmt.Errorf("answer % X, want ... 90 00", resp)
		}
		return d, err
	}
	if _, err := transmit(selectPIVCmd); err != nil {
		return fail("SELECT PIV: %v", err)
	}
	for range 50 { // warm up
		if _, err := transmit(getVersionCmd); err != nil {
			return fail("GET VERSION: %v", err)
		}
	}
	w := bufio.NewWriter(os.Stdout)
	defer w.Flush()
	for range n {
		d, err := transmit(getVersionCmd)
		if err != nil {
			return fail("GET VERSION: %v", err)
		}
		fmt.Fprintln(w, int64(d))
	}
	return 0
}
