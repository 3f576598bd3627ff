// Package swtpmtest runs swtpm, a software TPM 2.0, for tests: one process
// per test, its state in the test's temporary directory, stopped by its
// pid when the test ends.
package swtpmtest

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// startTimeout bounds the wait for swtpm's socket; stopTimeout the wait
// for it to exit after SIGTERM before it is killed.
const (
	startTimeout = 10 * time.Second
	stopTimeout  = 5 * time.Second
)

// Swtpm is a running swtpm (`swtpm socket --tpm2 --server type=unixio`).
type Swtpm struct {
	dir string
	cmd *exec.Cmd
}

// Start starts swtpm with a fresh TPM state in a temporary directory and
// stops it when t ends. It skips t, saying so, when swtpm is not installed.
func Start(t testing.TB) *Swtpm {
	t.Helper()
	if _, err := exec.LookPath("swtpm"); err != nil {
		t.Skip("swtpm is not installed (scripts/deps.sh installs it): skipping the swtpm case")
	}
	s := &Swtpm{dir: t.TempDir()}
	s.start(t)
	t.Cleanup(s.Stop)
	return s
}

// Socket returns the command socket's path.
func (s *Swtpm) Socket() string { return filepath.Join(s.dir, "tpm.sock") }

// Spec returns the TPM's name for tpmstore.Open and tessera sim --tpm.
func (s *Swtpm) Spec() string { return "unix:" + s.Socket() }

func (s *Swtpm) start(t testing.TB) {
	t.Helper()
	os.Remove(s.Socket())
	s.cmd = exec.Command("swtpm", "socket", "--tpm2",
		"--server", "type=unixio,path="+s.Socket(),
		"--ctrl", "type=unixio,path="+filepath.Join(s.dir, "ctrl.sock"),
		"--tpmstate", "dir="+s.dir,
		"--flags", "not-need-init,startup-clear")
	var out bytes.Buffer
	s.cmd.Stdout, s.cmd.Stderr = &out, &out
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("starting swtpm: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	// The socket file appears at bind(), before swtpm listens: wait until
	// a connection is accepted (and close it; swtpm then takes the next).
	var d net.Dialer
	for {
		c, err := d.DialContext(ctx, "unix", s.Socket())
		if err == nil {
			c.Close()
			return
		}
		select {
		case <-ctx.Done():
			s.Stop()
			t.Fatalf("swtpm did not accept connections on its socket in %v (%v): %s", startTimeout, err, out.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// Restart stops swtpm and starts it again on the same TPM state: the
// machine's TPM across a reboot.
func (s *Swtpm) Restart(t testing.TB) {
	t.Helper()
	s.Stop()
	s.start(t)
}

// Stop ends the swtpm process (SIGTERM to its pid, SIGKILL after
// stopTimeout) and waits for it. Stopping a stopped swtpm does nothing.
func (s *Swtpm) Stop() {
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(stopTimeout):
		s.cmd.Process.Kill()
		<-done
	}
	s.cmd = nil
}
