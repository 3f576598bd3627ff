//go:build unix

package simulator

import (
	"os"
	"syscall"
	"testing"

	"github.com/tesseracard/tessera/internal/hosttest"
)

// TestIFDSocketMode: a card's IFD socket is its owner's alone (0600) from
// the instant it exists, whatever the umask lets through: the reader
// driver runs in pcscd as root, and anyone else who could connect (a
// member of the socket directory's group, under a umask of 002) would
// replace pcscd's connection and talk to the card, a relayed real card
// included, in the middle of its owner's session.
func TestIFDSocketMode(t *testing.T) {
	old := syscall.Umask(0o002)
	defer syscall.Umask(old)
	dir := hosttest.ShortDir(t)
	sim, err := New(Config{IFDDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	if _, err := sim.Add(CardSpec{Slot: 0}); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Lstat(IFDSocket(dir, 0))
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o600 {
		t.Errorf("IFD socket mode %v under umask 002, want %v", got, os.FileMode(0o600))
	}
	if got := syscall.Umask(0o002); got != 0o002 {
		t.Errorf("umask after Add %03o, want the process's 002 back", got)
	}
}
