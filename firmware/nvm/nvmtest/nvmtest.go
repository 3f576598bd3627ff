// Package nvmtest is a test suite for the sealer and counter behind an
// [nvm.Protected] state file: run [TestProtection] against each
// implementation (the plain defaults, a TPM simulator, swtpm, a real TPM),
// as testing/fstest.TestFS is run against each file system.
package nvmtest

import (
	"bytes"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/tesseracard/tessera/firmware/nvm"
)

// Backend is one implementation under test.
type Backend struct {
	// Open returns the sealer and counter of the card whose state file is
	// path, on this machine. Called again with the same path it must
	// return the same counter: that is a restart.
	Open func(t *testing.T, path string) (nvm.Sealer, nvm.Counter)
	// Elsewhere, if set, returns the sealer and counter for path on
	// another machine (another TPM). It may end the machine Open uses.
	// Nil for an implementation that does not bind the key to a machine
	// (the plain default): the moved-file case is then not run.
	Elsewhere func(t *testing.T, path string) (nvm.Sealer, nvm.Counter)
}

// TestProtection runs the suite: state survives a restart, a copied-back
// older state file is refused, a crash between the state write and the
// counter increment recovers, and (with Elsewhere) a state file moved to
// another machine cannot be decrypted.
func TestProtection(t *testing.T, b Backend) {
	t.Run("SurvivesRestart", func(t *testing.T) { testSurvivesRestart(t, b) })
	t.Run("CopiedBackRefused", func(t *testing.T) { testCopiedBack(t, b) })
	t.Run("CrashBeforeIncrement", func(t *testing.T) { testCrashBeforeIncrement(t, b) })
	t.Run("CounterMonotonic", func(t *testing.T) { testCounter(t, b) })
	if b.Elsewhere != nil {
		t.Run("MovedElsewhere", func(t *testing.T) { testMoved(t, b) })
	}
}

// Card is a protected state file opened as a card would open it.
type Card struct {
	File  *nvm.File
	Store *nvm.Store
}

// OpenCard opens path as a protected store with s and c, closing the file
// at the end of the test.
func OpenCard(t *testing.T, path string, s nvm.Sealer, c nvm.Counter) (*Card, error) {
	t.Helper()
	f, err := nvm.OpenFile(path)
	if err != nil {
		t.Fatalf("OpenFile(%s) error = %v", path, err)
	}
	t.Cleanup(func() { f.Close() })
	p, err := nvm.NewProtected(f, nvm.ProtectOptions{Sealer: s, Counter: c, Rand: rand.Reader})
	if err != nil {
		t.Fatalf("NewProtected() error = %v", err)
	}
	st, err := nvm.Open(p, nvm.Options{})
	if err != nil {
		f.Close()
		return nil, err
	}
	return &Card{File: f, Store: st}, nil
}

func mustOpen(t *testing.T, b Backend, path string) *Card {
	t.Helper()
	s, c := b.Open(t, path)
	card, err := OpenCard(t, path, s, c)
	if err != nil {
		t.Fatalf("opening %s: %v", filepath.Base(path), err)
	}
	return card
}

func put(t *testing.T, c *Card, key, value string) {
	t.Helper()
	if err := c.Store.Put(key, []byte(value)); err != nil {
		t.Fatalf("Put(%q) error = %v", key, err)
	}
}

func want(t *testing.T, c *Card, key, value string) {
	t.Helper()
	if got, _ := c.Store.Get(key); string(got) != value {
		t.Errorf("Get(%q) = %q, want %q", key, got, value)
	}
}

// secret is a value the state file must never show in clear.
const secret = "private-key-material-0123456789"

func testSurvivesRestart(t *testing.T, b Backend) {
	path := filepath.Join(t.TempDir(), "card.state")
	c := mustOpen(t, b, path)
	put(t, c, "key", secret)
	put(t, c, "tries", "3")
	put(t, c, "tries", "2")
	c.File.Close()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte(secret)) {
		t.Errorf("state file shows the record in clear")
	}
	c = mustOpen(t, b, path)
	want(t, c, "key", secret)
	want(t, c, "tries", "2")
	put(t, c, "tries", "1")
	c.File.Close()
	c = mustOpen(t, b, path)
	want(t, c, "tries", "1")
}

func testCopiedBack(t *testing.T, b Backend) {
	path := filepath.Join(t.TempDir(), "card.state")
	c := mustOpen(t, b, path)
	put(t, c, "tries", "3")
	old, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	put(t, c, "tries", "2")
	c.File.Close()
	if err := os.WriteFile(path, old, 0o600); err != nil {
		t.Fatal(err)
	}
	s, ctr := b.Open(t, path)
	_, err = OpenCard(t, path, s, ctr)
	if !errors.Is(err, nvm.ErrRolledBack) || !strings.Contains(err.Error(), "state rolled back") {
		t.Fatalf("opening a copied-back state: error = %v, want one wrapping ErrRolledBack saying \"state rolled back\"", err)
	}
}

// tornCounter fails its next increment, as a crash between the state write
// and the increment would.
type tornCounter struct {
	nvm.Counter
	mu  sync.Mutex
	cut bool
}

func (c *tornCounter) Increment() (uint64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cut {
		return 0, nvm.ErrPowerLost
	}
	return c.Counter.Increment()
}

func testCrashBeforeIncrement(t *testing.T, b Backend) {
	path := filepath.Join(t.TempDir(), "card.state")
	s, ctr := b.Open(t, path)
	torn := &tornCounter{Counter: ctr}
	c, err := OpenCard(t, path, s, torn)
	if err != nil {
		t.Fatal(err)
	}
	put(t, c, "tries", "3")
	before, err := ctr.Read()
	if err != nil {
		t.Fatalf("counter Read() error = %v", err)
	}
	torn.mu.Lock()
	torn.cut = true
	torn.mu.Unlock()
	if err := c.Store.Put("tries", []byte("2")); !errors.Is(err, nvm.ErrPowerLost) {
		t.Fatalf("Put with the increment cut: error = %v, want ErrPowerLost", err)
	}
	if got, err := ctr.Read(); err != nil || got != before {
		t.Fatalf("counter after the cut = %d, %v; want %d (not incremented)", got, err, before)
	}
	c.File.Close()
	s, ctr = b.Open(t, path)
	if c, err = OpenCard(t, path, s, ctr); err != nil {
		t.Fatalf("reopening after the cut: %v", err)
	}
	want(t, c, "tries", "2") // the write reached the file: it is the state
	if got, err := ctr.Read(); err != nil || got != before+1 {
		t.Errorf("counter after recovery = %d, %v; want %d", got, err, before+1)
	}
	put(t, c, "tries", "1")
	c.File.Close()
	c = mustOpen(t, b, path)
	want(t, c, "tries", "1")
}

func testCounter(t *testing.T, b Backend) {
	_, c := b.Open(t, filepath.Join(t.TempDir(), "card.state"))
	if _, err := c.Read(); !errors.Is(err, nvm.ErrNoCounter) {
		t.Errorf("Read() of a new counter: error = %v, want ErrNoCounter", err)
	}
	first, err := c.Increment()
	if err != nil {
		t.Fatalf("Increment() error = %v", err)
	}
	for i := uint64(1); i <= 3; i++ {
		got, err := c.Increment()
		if err != nil || got != first+i {
			t.Fatalf("Increment() = %d, %v; want %d", got, err, first+i)
		}
		if got, err := c.Read(); err != nil || got != first+i {
			t.Fatalf("Read() = %d, %v; want %d", got, err, first+i)
		}
	}
}

func testMoved(t *testing.T, b Backend) {
	path := filepath.Join(t.TempDir(), "card.state")
	c := mustOpen(t, b, path)
	put(t, c, "key", secret)
	c.File.Close()
	s, ctr := b.Elsewhere(t, path)
	_, err := OpenCard(t, path, s, ctr)
	if !errors.Is(err, nvm.ErrKeyUnavailable) {
		t.Fatalf("opening the state on another machine: error = %v, want one wrapping ErrKeyUnavailable", err)
	}
}
