//go:build e2e

package e2e

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ebfe/scard"

	"github.com/tesseracard/tessera/internal/hosttest"
	"github.com/tesseracard/tessera/simulator"
)

// reader0 is the first vpcd reader of the machine's pcscd (Debian's
// /etc/reader.conf.d/vpcd), where card 0 of the simulator appears; in a run
// of tests over the IFD bridge (TestIFDClients), card 0's IFD reader. Set
// once by TestMain, read-only afterwards.
var reader0 = "Virtual PCD 00 00"

// sim is a running `tessera sim` process.
type sim struct {
	t     testing.TB
	cmd   *exec.Cmd
	state string
	log   string
	exit  chan error
}

// startSim starts the simulator binary with one card on state.
func startSim(t testing.TB, state string, args ...string) *sim {
	t.Helper()
	logPath := filepath.Join(state, fmt.Sprintf("sim-%d.log", time.Now().UnixNano()))
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	base := []string{"sim", "--state", state, "--cards", "1"}
	if e2e.ifdDir != "" { // a run over the IFD bridge (TestIFDClients)
		base = append(base, "--bridge", "ifd", "--ifd-dir", e2e.ifdDir, "--reader-name", ifdClientsReader)
	}
	cmd := exec.Command(e2e.bin, append(base, args...)...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting tessera sim: %v", err)
	}
	s := &sim{t: t, cmd: cmd, state: state, log: logPath, exit: make(chan error, 1)}
	go func() { s.exit <- cmd.Wait() }()
	t.Cleanup(func() {
		s.stop()
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("simulator log (pid %d):\n%s", cmd.Process.Pid, b)
		}
	})
	return s
}

// stop ends the simulator by its pid, politely first.
func (s *sim) stop() {
	if s.cmd.ProcessState != nil {
		return
	}
	select {
	case <-s.exit:
		return
	default:
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exit:
	case <-time.After(5 * time.Second):
		s.cmd.Process.Kill()
		<-s.exit
	}
}

// kill9 kills the simulator with SIGKILL, as a crash would, and waits for
// it to be gone: up to cardWait, since a process in the middle of a write
// to a busy disk dies only when the write is done.
func (s *sim) kill9() {
	s.t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		s.t.Fatalf("kill -9 %d: %v", s.cmd.Process.Pid, err)
	}
	select {
	case <-s.exit:
	case <-time.After(cardWait):
		s.t.Fatalf("simulator %d still alive %v after SIGKILL", s.cmd.Process.Pid, cardWait)
	}
}

// cardWait bounds the waits for what pcscd and the simulator do after a
// test's action: a card seen gone or back, a connection, a killed process
// reaped. On a busy machine (fsync stalls, two cores shared) these took
// longer than the few seconds they once had; a wait for what does happen
// only costs time, and what never happens still fails, after cardWait.
const cardWait = time.Minute

func (s *sim) client() *simulator.Client {
	return simulator.NewClient(filepath.Join(s.state, "control.sock"), "")
}

// pcsc is a PC/SC context for the test.
func pcsc(t *testing.T) *scard.Context {
	t.Helper()
	ctx, err := scard.EstablishContext()
	if err != nil {
		t.Fatalf("SCardEstablishContext: %v (is pcscd running?)", err)
	}
	t.Cleanup(func() { ctx.Release() })
	readers, err := ctx.ListReaders()
	if err != nil {
		t.Fatalf("SCardListReaders: %v", err)
	}
	for _, r := range readers {
		if r == reader0 {
			return ctx
		}
	}
	t.Fatalf("pcscd lists readers %q, no %q: is vsmartcard-vpcd installed and pcscd restarted since?", readers, reader0)
	return nil
}

// waitCard waits until the reader shows a card (present) or none.
func waitCard(t testing.TB, ctx *scard.Context, reader string, present bool, timeout time.Duration) {
	t.Helper()
	rs := []scard.ReaderState{{Reader: reader, CurrentState: scard.StateUnaware}}
	deadline := time.Now().Add(timeout)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			t.Fatalf("%s: card present = %v not seen within %v (state %#x)", reader, present, timeout, rs[0].EventState)
		}
		err := ctx.GetStatusChange(rs, left)
		if errors.Is(err, scard.ErrTimeout) {
			continue
		}
		if err != nil {
			t.Fatalf("SCardGetStatusChange(%s): %v", reader, err)
		}
		st := rs[0].EventState
		if present && st&scard.StatePresent != 0 && st&scard.StateMute == 0 {
			return
		}
		if !present && st&scard.StateEmpty != 0 {
			return
		}
		rs[0].CurrentState = st &^ scard.StateChanged
	}
}

// connect waits for a card in reader and connects to it.
func connect(t *testing.T, ctx *scard.Context, reader string) *scard.Card {
	t.Helper()
	waitCard(t, ctx, reader, true, cardWait)
	// pcscd may still be powering the card: try again, up to cardWait.
	for deadline := time.Now().Add(cardWait); ; {
		c, err := ctx.Connect(reader, scard.ShareShared, scard.ProtocolT1)
		if err == nil {
			t.Cleanup(func() { c.Disconnect(scard.LeaveCard) })
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("SCardConnect(%s): %v, still after %v", reader, err, cardWait)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// sw sends a command (hex) and returns the status word (hex).
func sw(t *testing.T, c *scard.Card, cmd string) string {
	t.Helper()
	b, err := hex.DecodeString(cmd)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Transmit(b)
	if err != nil {
		t.Fatalf("SCardTransmit(%s): %v", cmd, err)
	}
	if len(resp) < 2 {
		t.Fatalf("SCardTransmit(%s) = %X: no status word", cmd, resp)
	}
	return strings.ToUpper(hex.EncodeToString(resp[len(resp)-2:]))
}

const (
	selectPIV = "00A4040005A000000308"
	wrongPIN  = "002000800831323334353637FF" // 1234567
	rightPIN  = "0020008008313233343536FFFF" // 123456
	pinStatus = "00200080"
)

// checkNoCard fails if a card stays in reader: another simulator would make
// the results meaningless. A card of the previous test may take a poll or
// two (400 ms each) to be seen gone, longer on a busy machine: up to
// cardWait.
func checkNoCard(t testing.TB, ctx *scard.Context, reader string) {
	t.Helper()
	rs := []scard.ReaderState{{Reader: reader, CurrentState: scard.StateUnaware}}
	deadline := time.Now().Add(cardWait)
	for time.Now().Before(deadline) {
		err := ctx.GetStatusChange(rs, time.Until(deadline))
		if err != nil && !errors.Is(err, scard.ErrTimeout) {
			t.Fatalf("SCardGetStatusChange(%s): %v", reader, err)
		}
		if rs[0].EventState&scard.StateEmpty != 0 {
			return
		}
		rs[0].CurrentState = rs[0].EventState &^ scard.StateChanged
	}
	t.Fatalf("a card stays in %q: stop the other simulator (tessera sim, make run) first", reader)
}

// TestKillRestartKeepsRetryCounter: a wrong PIN, kill -9, restart: the
// counter the card committed is still spent.
func TestKillRestartKeepsRetryCounter(t *testing.T) {
	pc := pcsc(t)
	checkNoCard(t, pc, reader0)
	state := hosttest.ShortDir(t)
	s := startSim(t, state)
	c := connect(t, pc, reader0)
	if got := sw(t, c, selectPIV); got != "9000" {
		t.Fatalf("SELECT PIV = %s, want 9000", got)
	}
	if got := sw(t, c, wrongPIN); got != "63C2" {
		t.Fatalf("wrong VERIFY = %s, want 63C2", got)
	}

	s.kill9()
	waitCard(t, pc, reader0, false, cardWait)
	if _, err := c.Transmit([]byte{0x00, 0xFD, 0x00, 0x00}); err == nil {
		t.Error("SCardTransmit to the killed simulator's card succeeded")
	}
	fmt.Printf("kill test: simulator killed with SIGKILL after a wrong VERIFY; pcscd saw the card go\n")

	s2 := startSim(t, state)
	c2 := connect(t, pc, reader0)
	if got := sw(t, c2, selectPIV); got != "9000" {
		t.Fatalf("SELECT PIV after restart = %s", got)
	}
	if got := sw(t, c2, pinStatus); got != "63C2" {
		t.Errorf("PIN status after kill -9 and restart = %s, want 63C2 (the spent try persisted)", got)
	}
	st, err := s2.client().State(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if st.PIN.Tries != 2 {
		t.Errorf("control API: PIN tries = %d, want 2", st.PIN.Tries)
	}
	if got := sw(t, c2, rightPIN); got != "9000" {
		t.Errorf("right VERIFY = %s, want 9000", got)
	}
}

// TestRemoveInsertThroughControlAPI: the host sees the card go and come
// back when the control API pulls it out and puts it in.
func TestRemoveInsertThroughControlAPI(t *testing.T) {
	pc := pcsc(t)
	checkNoCard(t, pc, reader0)
	s := startSim(t, hosttest.ShortDir(t))
	c := connect(t, pc, reader0)
	if got := sw(t, c, selectPIV); got != "9000" {
		t.Fatalf("SELECT PIV = %s", got)
	}
	api := s.client()
	ctx := context.Background()
	if _, err := api.Remove(ctx, 0); err != nil {
		t.Fatal(err)
	}
	waitCard(t, pc, reader0, false, cardWait)
	if _, err := c.Transmit([]byte{0x00, 0xFD, 0x00, 0x00}); err == nil {
		t.Error("SCardTransmit to a removed card succeeded")
	}
	if _, err := api.Insert(ctx, 0); err != nil {
		t.Fatal(err)
	}
	c2 := connect(t, pc, reader0)
	if got := sw(t, c2, selectPIV); got != "9000" {
		t.Errorf("SELECT PIV after re-insertion = %s", got)
	}

	// A tear: the card goes mute, the host sees it go; a power-cycle brings
	// it back, without the cut write.
	if _, err := api.ArmTear(ctx, 0, 0); err != nil {
		t.Fatal(err)
	}
	// The card answers nothing: vpcd hands pcscd an empty response (or an
	// error), never a status word.
	if resp, err := c2.Transmit(mustHex(t, wrongPIN)); err == nil && len(resp) >= 2 {
		t.Errorf("SCardTransmit of a VERIFY cut by the tear = %X, want no status word", resp)
	}
	waitCard(t, pc, reader0, false, cardWait)
	if _, err := api.PowerCycle(ctx, 0); err != nil {
		t.Fatal(err)
	}
	c3 := connect(t, pc, reader0)
	sw(t, c3, selectPIV)
	if got := sw(t, c3, pinStatus); got != "63C3" {
		t.Errorf("PIN status after the torn VERIFY = %s, want 63C3", got)
	}
}

// TestKillAtRandomInstants kills the simulator while a client keeps
// verifying the right PIN, each VERIFY two writes (the pre-decrement, then
// the restore), and checks every restart finds a consistent card: never a
// corrupt state, the counter 3, or 2 if the kill came between the two
// writes, never less.
//
// The random instant is counted from the first answered VERIFY of the
// round, so the counter is known to be back at 3 before the kill can come.
// Counting it from the first command instead made the test time the card:
// under disk load one VERIFY's durable writes took 70-140 ms here, longer
// than the shortest delay, so a kill during the round's first VERIFY
// (one try spent, none answered) after a restart that had found 2 left a
// correct card at 1, and the test failed on it (CI, 2026-12-03).
func TestKillAtRandomInstants(t *testing.T) {
	pc := pcsc(t)
	checkNoCard(t, pc, reader0)
	state := hosttest.ShortDir(t)
	right := mustHex(t, rightPIN)
	const rounds = 4
	for round := range rounds + 1 {
		s := startSim(t, state)
		c := connect(t, pc, reader0)
		if got := sw(t, c, selectPIV); got != "9000" {
			t.Fatalf("round %d: SELECT PIV = %s", round, got)
		}
		st, err := s.client().State(context.Background(), 0)
		if err != nil {
			t.Fatalf("round %d: state after restart: %v", round, err)
		}
		if st.PIN.Tries != 2 && st.PIN.Tries != 3 {
			t.Fatalf("round %d: PIN tries = %d after kill -9, want 3, or 2 between the two writes of a VERIFY", round, st.PIN.Tries)
		}
		if round == rounds {
			fmt.Printf("kill test: after %d kills, PIN tries %d\n", rounds, st.PIN.Tries)
			break
		}
		first, done := make(chan struct{}), make(chan int, 1)
		go func() {
			n := 0
			for {
				resp, err := c.Transmit(right)
				if err != nil || len(resp) != 2 || resp[0] != 0x90 {
					break
				}
				if n++; n == 1 {
					close(first)
				}
			}
			done <- n
		}()
		select {
		case <-first:
		case n := <-done:
			t.Fatalf("round %d: the first VERIFY of the right PIN failed (%d answered)", round, n)
		case <-time.After(30 * time.Second):
			t.Fatalf("round %d: no VERIFY answered within 30s", round)
		}
		time.Sleep(time.Duration(rand.IntN(250)) * time.Millisecond)
		s.kill9()
		n := <-done
		fmt.Printf("kill test: round %d: SIGKILL after %d VERIFY commands (PIN tries before: %d)\n", round, n, st.PIN.Tries)
		waitCard(t, pc, reader0, false, cardWait)
	}
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
