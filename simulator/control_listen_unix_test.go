//go:build unix

package simulator

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/tesseracard/tessera/internal/hosttest"
)

// TestListenUnixPrivate: the socket file is made with mode 0600 by the
// bind itself, before any chmod, and the process's umask is restored.
func TestListenUnixPrivate(t *testing.T) {
	old := syscall.Umask(0o022) // the usual umask, which would give 0755
	defer syscall.Umask(old)
	sock := filepath.Join(hosttest.ShortDir(t), "s.sock")
	ln, err := listenUnixPrivate(sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if now := syscall.Umask(0o022); now != 0o022 {
		t.Errorf("umask after listenUnixPrivate = %#o, want 022 back", now)
	}
	fi, err := os.Stat(sock)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("socket mode before any chmod = %v, want 0600", fi.Mode().Perm())
	}
}
