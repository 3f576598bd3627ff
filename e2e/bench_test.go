//go:build e2e && linux

package e2e

import (
	"bytes"
	"crypto/des"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/binary"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/ebfe/scard"

	"github.com/tesseracard/tessera/internal/hosttest"
	"github.com/tesseracard/tessera/simulator"
)

// reader1 is the second vpcd reader of the machine's pcscd, where the echo
// card of the benchmark sits.
const reader1 = "Virtual PCD 00 01"

// echoCard is the smallest vpcd peer that does what the latency trap
// demands (TCP_QUICKACK re-armed after every read, one write per reply): it
// answers every command with 9000. It is the yardstick for the simulator.
func echoCard(t testing.TB, addr string) (stop func()) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("echo card: %v", err)
	}
	rc, err := conn.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	quick := func() {
		rc.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_QUICKACK, 1) })
	}
	atr := []byte{0x3B, 0x80, 0x80, 0x01, 0x01}
	go func() {
		var hdr [2]byte
		buf := make([]byte, 1<<16)
		out := make([]byte, 0, 64)
		for {
			if _, err := io.ReadFull(conn, hdr[:]); err != nil {
				return
			}
			quick()
			n := int(binary.BigEndian.Uint16(hdr[:]))
			if _, err := io.ReadFull(conn, buf[:n]); err != nil {
				return
			}
			quick()
			var reply []byte
			switch {
			case n == 1 && buf[0] == 0x04:
				reply = atr
			case n == 1:
				continue
			default:
				reply = []byte{0x90, 0x00}
			}
			out = binary.BigEndian.AppendUint16(out[:0], uint16(len(reply)))
			out = append(out, reply...)
			if _, err := conn.Write(out); err != nil {
				return
			}
		}
	}()
	return func() { conn.Close() }
}

// Commands of the benchmarks.
var (
	selectPIVCmd  = []byte{0x00, 0xA4, 0x04, 0x00, 0x05, 0xA0, 0x00, 0x00, 0x03, 0x08}
	getVersionCmd = []byte{0x00, 0xFD, 0x00, 0x00}
)

// connectB waits for a card in reader and connects to it (T=1).
func connectB(b *testing.B, ctx *scard.Context, reader string) *scard.Card {
	b.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := ctx.Connect(reader, scard.ShareShared, scard.ProtocolT1)
		if err == nil {
			b.Cleanup(func() { c.Disconnect(scard.LeaveCard) })
			return c
		}
		if time.Now().After(deadline) {
			b.Fatalf("SCardConnect(%s): %v", reader, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// timedTransmit sends cmd and returns the response and the round trip's
// duration. A transport error, or a response without a status word, fails
// the benchmark; want, if not zero, is the status word required.
func timedTransmit(b *testing.B, c *scard.Card, cmd []byte, want uint16) ([]byte, time.Duration) {
	start := time.Now()
	resp, err := c.Transmit(cmd)
	d := time.Since(start)
	if err != nil || len(resp) < 2 {
		b.Fatalf("transmitting % X = % X, %v", cmd, resp, err)
	}
	if sw := binary.BigEndian.Uint16(resp[len(resp)-2:]); want != 0 && sw != want {
		b.Fatalf("transmitting % X: status %04X, want %04X", cmd, sw, want)
	}
	return resp, d
}

// latencies collects round-trip times.
type latencies []time.Duration

// quantile returns the q-quantile (0 < q ≤ 1) by the nearest-rank method.
func (l latencies) quantile(q float64) time.Duration {
	if len(l) == 0 {
		return 0
	}
	s := slices.Clone(l)
	slices.Sort(s)
	i := int(float64(len(s))*q+0.999999) - 1
	return s[max(0, min(i, len(s)-1))]
}

// total is the sum of the round trips.
func (l latencies) total() time.Duration {
	var t time.Duration
	for _, d := range l {
		t += d
	}
	return t
}

// report adds the rate, p50 and p99 of l as metrics prefixed by name.
func (l latencies) report(b *testing.B, name string) float64 {
	rate := float64(len(l)) / l.total().Seconds()
	b.ReportMetric(rate, name+"-apdu/s")
	b.ReportMetric(float64(l.quantile(0.50))/1e3, name+"-p50-us")
	b.ReportMetric(float64(l.quantile(0.99))/1e3, name+"-p99-us")
	return rate
}

// startTessera starts an in-process simulator with one RAM card on reader0
// and returns a PC/SC connection to it, PIV selected.
func startTessera(b *testing.B, ctx *scard.Context) *scard.Card {
	b.Helper()
	startTesseraCard(b, "")
	c := connectB(b, ctx, reader0)
	timedTransmit(b, c, selectPIVCmd, 0x9000)
	return c
}

// startTesseraCard starts an in-process simulator with one RAM card of
// profile (empty: the default) on reader0, stopped at the end of t, and
// returns the card's reader.
func startTesseraCard(t testing.TB, profile string) *simulator.Reader {
	t.Helper()
	sim, err := simulator.New(simulator.Config{VPCD: "127.0.0.1:35963"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	r, err := sim.Add(simulator.CardSpec{Slot: 0, Profile: profile})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// pcscContext is a PC/SC context on the machine's pcscd with no card in
// either vpcd reader: another card would make the figures meaningless.
func pcscContext(t testing.TB) *scard.Context {
	t.Helper()
	ctx, err := scard.EstablishContext()
	if err != nil {
		t.Fatalf("SCardEstablishContext: %v", err)
	}
	t.Cleanup(func() { ctx.Release() })
	checkNoCard(t, ctx, reader0)
	checkNoCard(t, ctx, reader1)
	return ctx
}

// BenchmarkGetVersionThroughPCSCD measures, through pcscd and vpcd, the
// rate of a no-op command (GET VERSION) on a Tessera card against the echo
// card's, in the same run, interleaved so that both see the same machine.
// It reports both rates, their ratio (goal: at least 0.9) and the p50 and
// p99 round trips.
func BenchmarkGetVersionThroughPCSCD(b *testing.B) {
	ctx := pcscContext(b)
	tessera := startTessera(b, ctx)
	defer echoCard(b, "127.0.0.1:35964")()
	echo := connectB(b, ctx, reader1)
	rateT, _ := getVersionSideBySide(b, 50, getVersion{"tessera", tessera, 0x9000}, getVersion{"echo", echo, 0x9000})
	if b.N >= 1000 && rateT < 100 {
		b.Errorf("Tessera answers %.0f APDU/s through pcscd: the delayed-ACK trap (TCP_QUICKACK) is back", rateT)
	}
}

// getVersion is one card a side-by-side benchmark sends GET VERSION to:
// the name its metrics start with, and the status word it must answer (0:
// any).
type getVersion struct {
	name string
	card *scard.Card
	want uint16
}

// getVersionSideBySide sends GET VERSION to two cards in turn, warmUp times
// and then b.N times each, so that both paths see the same machine, and
// reports each one's rate, p50 and p99 and the ratio of the first rate to
// the second; it returns both rates.
func getVersionSideBySide(b *testing.B, warmUp int, p, q getVersion) (rateP, rateQ float64) {
	b.Helper()
	for range warmUp {
		timedTransmit(b, p.card, getVersionCmd, p.want)
		timedTransmit(b, q.card, getVersionCmd, q.want)
	}
	var lp, lq latencies
	for b.Loop() {
		_, d := timedTransmit(b, p.card, getVersionCmd, p.want)
		lp = append(lp, d)
		_, d = timedTransmit(b, q.card, getVersionCmd, q.want)
		lq = append(lq, d)
	}
	rateP, rateQ = lp.report(b, p.name), lq.report(b, q.name)
	b.ReportMetric(rateP/rateQ, "ratio")
	return rateP, rateQ
}

// mgmtAuthenticate authenticates the default profile's 3DES management key
// (SP 800-73-4 Part 2 §3.2.4, mutual authentication with a witness).
func mgmtAuthenticate(b *testing.B, c *scard.Card) {
	b.Helper()
	block, err := des.NewTripleDESCipher(bytes.Repeat([]byte{1, 2, 3, 4, 5, 6, 7, 8}, 3))
	if err != nil {
		b.Fatal(err)
	}
	resp, _ := timedTransmit(b, c, []byte{0x00, 0x87, 0x03, 0x9B, 0x04, 0x7C, 0x02, 0x80, 0x00}, 0x9000)
	if len(resp) != 14 || !bytes.HasPrefix(resp, []byte{0x7C, 0x0A, 0x80, 0x08}) {
		b.Fatalf("witness = % X", resp)
	}
	w := make([]byte, 8)
	block.Decrypt(w, resp[4:12])
	cmd := append([]byte{0x00, 0x87, 0x03, 0x9B, 0x16, 0x7C, 0x14, 0x80, 0x08}, w...)
	cmd = append(cmd, 0x81, 0x08, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88)
	timedTransmit(b, c, cmd, 0x9000)
}

// BenchmarkSignThroughPCSCD is a signature round trip through pcscd: an
// ECDSA P-256 GENERAL AUTHENTICATE in slot 9E with a key the card generated
// first (PIN policy never, touch policy never), one command and its answer.
// The first signature is checked against the generated public key. It
// reports the rate and the p50 and p99 round trips.
func BenchmarkSignThroughPCSCD(b *testing.B) {
	ctx := pcscContext(b)
	c := startTessera(b, ctx)
	mgmtAuthenticate(b, c)
	// GENERATE ASYMMETRIC KEY PAIR: 9E, P-256 (11), PIN never, touch never.
	gen, _ := timedTransmit(b, c, []byte{0x00, 0x47, 0x00, 0x9E, 0x0B, 0xAC, 0x09, 0x80, 0x01, 0x11, 0xAA, 0x01, 0x01, 0xAB, 0x01, 0x01, 0x00}, 0x9000)
	i := bytes.Index(gen, []byte{0x86, 0x41, 0x04})
	if !bytes.HasPrefix(gen, []byte{0x7F, 0x49}) || i < 0 || len(gen) < i+2+65 {
		b.Fatalf("GENERATE answered % X", gen)
	}
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), gen[i+2:i+2+65])
	if err != nil {
		b.Fatalf("the generated public key: %v", err)
	}
	digest := sha256.Sum256([]byte("tessera benchmark"))
	sign := append([]byte{0x00, 0x87, 0x11, 0x9E, 0x26, 0x7C, 0x24, 0x82, 0x00, 0x81, 0x20}, digest[:]...)
	sign = append(sign, 0x00)
	resp, _ := timedTransmit(b, c, sign, 0x9000)
	j := bytes.Index(resp, []byte{0x82})
	if len(resp) < 6 || resp[0] != 0x7C || j != 2 || int(resp[3]) != len(resp)-6 {
		b.Fatalf("GENERAL AUTHENTICATE answered % X", resp)
	}
	if !ecdsa.VerifyASN1(pub, digest[:], resp[4:len(resp)-2]) {
		b.Fatalf("the card's signature does not verify with the key it generated")
	}
	for range 20 {
		timedTransmit(b, c, sign, 0x9000)
	}
	var l latencies
	for b.Loop() {
		_, d := timedTransmit(b, c, sign, 0x9000)
		l = append(l, d)
	}
	rate := float64(len(l)) / l.total().Seconds()
	b.ReportMetric(rate, "sign/s")
	b.ReportMetric(float64(l.quantile(0.50))/1e3, "p50-us")
	b.ReportMetric(float64(l.quantile(0.99))/1e3, "p99-us")
}

// Where Debian 12 puts vicc's Python modules and pycryptodome.
const (
	viccModules = "/usr/lib/python3/site-packages/virtualsmartcard"
	cryptodome  = "/usr/lib/python3/dist-packages/Cryptodome"
)

// startVICC starts the stock vsmartcard `vicc` (an ISO 7816 card in
// Python) on reader1's vpcd port, and stops it by its pid when b ends.
func startVICC(b *testing.B) {
	b.Helper()
	path, err := exec.LookPath("vicc")
	if err != nil {
		b.Fatalf("vicc (Debian package vsmartcard-vpicc, installed by scripts/deps.sh) is not on PATH: %v", err)
	}
	// Debian 12's packages need two fixes to run vicc: python3-virtualsmartcard
	// installs its modules under /usr/lib/python3/site-packages/virtualsmartcard,
	// which is not on Python's path, and vicc imports pycryptodome as "Crypto"
	// while python3-pycryptodome installs it as "Cryptodome".
	shim := b.TempDir()
	if _, err := os.Stat(cryptodome); err == nil {
		if err := os.Symlink(cryptodome, filepath.Join(shim, "Crypto")); err != nil {
			b.Fatal(err)
		}
	}
	pypath := shim + ":" + viccModules
	if p := os.Getenv("PYTHONPATH"); p != "" {
		pypath += ":" + p
	}
	var log bytes.Buffer
	cmd := exec.Command(path, "-t", "iso7816", "-H", "127.0.0.1", "-P", "35964")
	cmd.Env = append(os.Environ(), "PYTHONPATH="+pypath)
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		b.Fatalf("starting vicc: %v", err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	b.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		if b.Failed() {
			b.Logf("vicc (pid %d) said:\n%s", cmd.Process.Pid, log.String())
		}
	})
}

// BenchmarkGetVersionVsVICC compares Tessera with the stock `vicc` of
// vsmartcard-vpicc on the same pcscd, interleaved: the same GET VERSION to
// each (vicc's ISO 7816 card refuses the instruction, which is still one
// full exchange). vicc answers about 20 APDU/s (it falls into the
// delayed-ACK trap), so run it with a small fixed count (-benchtime=50x).
func BenchmarkGetVersionVsVICC(b *testing.B) {
	ctx := pcscContext(b)
	tessera := startTessera(b, ctx)
	startVICC(b)
	vicc := connectB(b, ctx, reader1)
	getVersionSideBySide(b, 3, getVersion{"tessera", tessera, 0x9000}, getVersion{"vicc", vicc, 0})
}

// BenchmarkStartUp is the time from starting `tessera sim` (the binary
// TestMain built, a fresh --state each time) until pcscd reports its card
// present in reader0 (SCardGetStatusChange). The simulator is stopped by
// its pid after each start, and the reader seen empty again, off the
// clock. It reports the median and the worst start (goal: under 500 ms);
// pcscd polls vpcd every 400 ms, so part of each figure is the wait for
// that poll.
func BenchmarkStartUp(b *testing.B) {
	ctx := pcscContext(b)
	var l latencies
	for b.Loop() {
		b.StopTimer()
		state := hosttest.ShortDir(b)
		b.StartTimer()
		start := time.Now()
		s := startSim(b, state)
		waitCard(b, ctx, reader0, true, 10*time.Second)
		l = append(l, time.Since(start))
		b.StopTimer()
		s.stop()
		waitCard(b, ctx, reader0, false, 10*time.Second)
		os.RemoveAll(state)
		b.StartTimer()
	}
	b.ReportMetric(float64(l.quantile(0.5))/1e6, "p50-ms")
	b.ReportMetric(float64(slices.Max(l))/1e6, "max-ms")
}
