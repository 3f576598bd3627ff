//go:build e2e

package e2e

import (
	"bytes"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/tesseracard/tessera/internal/hosttest"
)

// TestIFDSocketDirDenied runs `tessera sim --bridge ifd` as nobody (uid
// 65534) on a socket directory made as scripts/ifd.sh install makes it,
// but root:root (install's mode, 3770): outside the group, the simulator exits with an
// error that names the directory and its group and says what to do, the
// kernel's bind: permission denied kept; in the group (root, as a
// supplementary group), the same command serves its card there. No pcscd:
// the simulator fails, or listens, before any reader is asked for. A stale
// socket another member left there stays that member's.
func TestIFDSocketDirDenied(t *testing.T) {
	base := hosttest.ShortDir(t)
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	// A copy of the binary nobody may run (the build's directory is root's).
	bin := filepath.Join(base, "tessera")
	b, err := os.ReadFile(e2e.bin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	sockets := filepath.Join(base, "ifd")
	if err := os.Mkdir(sockets, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(sockets, 0, 0); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(sockets, installedDirMode(t)); err != nil {
		t.Fatal(err)
	}
	// sim starts the simulator as nobody with the supplementary groups
	// given; it is stopped by its pid at the end of the test if it still
	// runs. exited is closed once it has ended, with its error in *err.
	sim := func(t *testing.T, groups []uint32) (out *bytes.Buffer, exited <-chan struct{}, err *error) {
		state := filepath.Join(base, "state", t.Name())
		if err := os.MkdirAll(state, 0o700); err != nil {
			t.Fatal(err)
		}
		for d := state; d != base; d = filepath.Dir(d) {
			if err := os.Chown(d, 65534, 65534); err != nil {
				t.Fatal(err)
			}
		}
		cmd := exec.Command(bin, "sim", "--state", state, "--bridge", "ifd", "--ifd-dir", sockets, "--profile", "openpgp")
		cmd.Dir = base
		cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + state}
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534, Groups: groups}}
		out = new(bytes.Buffer)
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done, werr := make(chan struct{}), new(error)
		go func() { *werr = cmd.Wait(); close(done) }()
		t.Cleanup(func() {
			select {
			case <-done:
				return
			default:
			}
			cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				cmd.Process.Kill()
				<-done
			}
		})
		return out, done, werr
	}

	t.Run("outside the group", func(t *testing.T) {
		out, exited, err := sim(t, nil)
		select {
		case <-exited:
			var exit *exec.ExitError
			if !errors.As(*err, &exit) {
				t.Fatalf("tessera sim as nobody outside the group: %v, want a failure\n%s", *err, out)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("tessera sim as nobody outside the group still runs after 30 s, want it to fail\n%s", out)
		}
		mustContain(t, "tessera sim as nobody outside the group", out.String(),
			"no permission to create it in "+sockets+" ",
			"bind: permission denied",
			"be in its group root (usermod -aG root USER, then log in again)",
			"or pass --ifd-dir a directory of your own")
	})

	// A stale socket of another member of the group (root here, as if its
	// simulator had been killed) is that member's: a simulator of nobody's
	// may not remove it to serve the card in its place, which would let one
	// member pose as another's card to pcscd and to the host programs that
	// send it their PINs. The directory's sticky bit keeps it.
	t.Run("another member's stale socket", func(t *testing.T) {
		sock := filepath.Join(sockets, "card-0.sock")
		ln, err := net.Listen("unix", sock)
		if err != nil {
			t.Fatal(err)
		}
		ln.(*net.UnixListener).SetUnlinkOnClose(false)
		ln.Close()
		t.Cleanup(func() { os.Remove(sock) })
		before, err := os.Lstat(sock)
		if err != nil {
			t.Fatal(err)
		}
		out, exited, werr := sim(t, []uint32{0})
		select {
		case <-exited:
			var exit *exec.ExitError
			if !errors.As(*werr, &exit) {
				t.Fatalf("tessera sim as nobody beside root's stale socket: %v, want a failure\n%s", *werr, out)
			}
		case <-time.After(15 * time.Second):
			t.Fatalf("tessera sim as nobody replaced root's stale socket %s and serves it, want a refusal\n%s", sock, out)
		}
		mustContain(t, "tessera sim as nobody beside root's stale socket", out.String(), sock, "another user")
		after, err := os.Lstat(sock)
		if err != nil || !os.SameFile(before, after) {
			t.Errorf("root's stale socket %s was replaced (%v)", sock, err)
		}
	})

	t.Run("in the group", func(t *testing.T) {
		out, exited, err := sim(t, []uint32{0})
		sock := filepath.Join(sockets, "card-0.sock")
		deadline := time.Now().Add(15 * time.Second)
		for {
			fi, lerr := os.Lstat(sock)
			if lerr == nil {
				if fi.Mode().Type() != os.ModeSocket {
					t.Fatalf("%s: mode %v, want a socket", sock, fi.Mode())
				}
				if st := fi.Sys().(*syscall.Stat_t); st.Uid != 65534 || st.Gid != 0 {
					t.Errorf("%s: owner %d:%d, want nobody's with the directory's group (65534:0)", sock, st.Uid, st.Gid)
				}
				return
			}
			select {
			case <-exited:
				t.Fatalf("tessera sim as nobody in the group exited (%v) without serving %s\n%s", *err, sock, out)
			case <-time.After(50 * time.Millisecond):
			}
			if time.Now().After(deadline) {
				t.Fatalf("no socket %s after 15 s\n%s", sock, out)
			}
		}
	})
}
