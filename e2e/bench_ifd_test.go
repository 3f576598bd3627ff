//go:build e2e && linux

package e2e

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/ebfe/scard"
)

// ifdBenchChildEnv, set to a reader's name, makes the test binary the
// benchmark's client of the IFD pcscd (PCSCLITE_CSOCK_NAME in its
// environment): it connects to the reader and, for every byte it reads on
// its standard input, makes one exchange (ifdBenchTransmit: GET VERSION;
// ifdBenchFloor: an SCardControl the driver answers itself) and prints the round trip in nanoseconds on
// a line; it ends at the end of its input.
const ifdBenchChildEnv = "TESSERA_E2E_IFD_BENCH"

// ifdBenchReader is the IFD reader of the benchmark's card.
const ifdBenchReader = "Tessera IFD Bench"

// BenchmarkGetVersionIFDThroughPCSCD measures GET VERSION through pcscd
// on a Tessera card over the IFD bridge (Tessera's own reader driver in a
// private pcscd, docs/ifd-bridge.md) against the same kind of card over
// vpcd and the vpcd echo card, in one run, the three interleaved so that
// they see the same machine. libpcsclite reads PCSCLITE_CSOCK_NAME once per
// process, so the IFD exchanges are made by this test binary run again as
// a client (ifdBenchChildEnv), which times each one itself. It reports the
// three rates, p50 and p99, and the IFD bridge's rate over the echo card's
// (goal ≥ 2.2) and over the vpcd card's.
//
// It also measures the floor of any card behind the IFD pcscd: SCardControl
// of CM_IOCTL_GET_FEATURE_REQUEST, one round trip from the client to pcscd
// and into the reader driver, which answers it at once without asking the
// simulator (an empty feature list). A card that lived inside pcscd, with
// no hop to a simulator, would answer GET VERSION no faster; floor/echo,
// that rate over the echo card's, is the best ifd/echo any card could reach
// in this run.
func BenchmarkGetVersionIFDThroughPCSCD(b *testing.B) {
	ctx := pcscContext(b)
	tessera := startTessera(b, ctx)
	defer echoCard(b, "127.0.0.1:35964")()
	echo := connectB(b, ctx, reader1)

	// The IFD card is a tessera sim process, as it is in use.
	p := startIFDPCSCD(b, ifdBenchReader)
	startSim(b, shortDir(b), "--bridge", "ifd", "--ifd-dir", filepath.Join(p.run, "ifd"), "--reader-name", ifdBenchReader, "--log-level", "warn")
	ifd := startIFDBenchClient(b, p.sock)

	for range 50 { // warm up the paths
		timedTransmit(b, tessera, getVersionCmd, 0x9000)
		timedTransmit(b, echo, getVersionCmd, 0x9000)
		ifd.ask(b, ifdBenchTransmit)
		ifd.ask(b, ifdBenchFloor)
	}
	var lt, le, li, lf latencies
	for b.Loop() {
		_, d := timedTransmit(b, tessera, getVersionCmd, 0x9000)
		lt = append(lt, d)
		_, d = timedTransmit(b, echo, getVersionCmd, 0x9000)
		le = append(le, d)
		li = append(li, ifd.ask(b, ifdBenchTransmit))
		lf = append(lf, ifd.ask(b, ifdBenchFloor))
	}
	rateT, rateE, rateI := lt.report(b, "tessera"), le.report(b, "echo"), li.report(b, "ifd")
	rateF := lf.report(b, "floor")
	b.ReportMetric(rateI/rateE, "ifd/echo")
	b.ReportMetric(rateI/rateT, "ifd/vpcd")
	b.ReportMetric(rateF/rateE, "floor/echo")
}

// ifdBenchClient is the running IFD client.
type ifdBenchClient struct {
	in     io.WriteCloser
	out    *bufio.Scanner
	stderr *bytes.Buffer
}

// startIFDBenchClient runs this binary again as the IFD client, connected
// to the benchmark's reader, and stops it at the end.
func startIFDBenchClient(b *testing.B, sock string) *ifdBenchClient {
	b.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "PCSCLITE_CSOCK_NAME="+sock, ifdBenchChildEnv+"="+ifdBenchReader+" 00 00")
	c := &ifdBenchClient{stderr: new(bytes.Buffer)}
	cmd.Stderr = c.stderr
	inR, inW, err := os.Pipe()
	if err != nil {
		b.Fatal(err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stdin, cmd.Stdout = inR, outW
	if err := cmd.Start(); err != nil {
		b.Fatalf("starting the IFD benchmark client: %v", err)
	}
	inR.Close()
	outW.Close()
	// Blocking pipes (Fd puts them in blocking mode): waiting for the
	// client in read(2) leaves the runtime's network poller to the vpcd
	// cards of this process. Waiting in the poller instead hands the
	// thread that polls to this goroutine, which then blocks in a cgo
	// SCardTransmit with nobody polling: the next vpcd exchange measured
	// some 11 ms, until the runtime's monitor stepped in.
	inW.Fd()
	outR.Fd()
	c.in, c.out = inW, bufio.NewScanner(outR)
	b.Cleanup(func() { outR.Close() })
	b.Cleanup(func() {
		c.in.Close()
		if err := cmd.Wait(); err != nil {
			b.Errorf("the IFD benchmark client: %v\n%s", err, c.stderr)
		}
	})
	return c
}

// What the benchmark asks its IFD client for.
const (
	ifdBenchTransmit byte = 't' // one GET VERSION
	ifdBenchFloor    byte = 'f' // one SCardControl the driver answers itself
)

// cmIoctlGetFeatureRequest is pcsc-lite's CM_IOCTL_GET_FEATURE_REQUEST.
var cmIoctlGetFeatureRequest = scard.CtlCode(3400)

// ask has the client make one exchange (ifdBenchTransmit or ifdBenchFloor)
// and returns the round trip it measured.
func (c *ifdBenchClient) ask(b *testing.B, what byte) time.Duration {
	if _, err := c.in.Write([]byte{what}); err != nil {
		b.Fatalf("the IFD benchmark client: %v\n%s", err, c.stderr)
	}
	if !c.out.Scan() {
		b.Fatalf("the IFD benchmark client stopped: %v\n%s", c.out.Err(), c.stderr)
	}
	ns, err := strconv.ParseInt(c.out.Text(), 10, 64)
	if err != nil {
		b.Fatalf("the IFD benchmark client printed %q", c.out.Text())
	}
	return time.Duration(ns)
}

// ifdBenchChild is the IFD benchmark's client (see ifdBenchChildEnv).
func ifdBenchChild(reader string) int {
	fail := func(format string, args ...any) int {
		fmt.Fprintf(os.Stderr, "ifd bench client: "+format+"\n", args...)
		return 1
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
	in := bufio.NewReader(os.Stdin)
	for {
		what, err := in.ReadByte()
		if err != nil {
			return 0 // the benchmark is over
		}
		var d time.Duration
		switch what {
		case ifdBenchTransmit:
			if d, err = transmit(getVersionCmd); err != nil {
				return fail("GET VERSION: %v", err)
			}
		case ifdBenchFloor:
			start := time.Now()
			features, err := c.Control(cmIoctlGetFeatureRequest, nil)
			d = time.Since(start)
			if err != nil || len(features) != 0 {
				return fail("SCardControl(CM_IOCTL_GET_FEATURE_REQUEST) = % X, %v; want no features", features, err)
			}
		default:
			return fail("asked for %q", what)
		}
		fmt.Println(int64(d))
	}
}
