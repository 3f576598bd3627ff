package nvm_test

import (
	"bytes"
	"crypto/rand"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/tesseracard/tessera/firmware/nvm"
	"github.com/tesseracard/tessera/firmware/nvm/nvmtest"
)

// plainBackend is the defaults: PlainSealer and one MemoryCounter per path,
// which lives as long as the test (a "restart" keeps the process).
func plainBackend() nvmtest.Backend {
	var mu sync.Mutex
	counters := map[string]*nvm.MemoryCounter{}
	return nvmtest.Backend{
		Open: func(t *testing.T, path string) (nvm.Sealer, nvm.Counter) {
			mu.Lock()
			defer mu.Unlock()
			if counters[path] == nil {
				counters[path] = new(nvm.MemoryCounter)
			}
			return nvm.PlainSealer{}, counters[path]
		},
	}
}

func TestProtectionPlainDefaults(t *testing.T) {
	nvmtest.TestProtection(t, plainBackend())
}

func newProtected(t *testing.T, m nvm.Medium, c nvm.Counter) *nvm.Protected {
	t.Helper()
	return mustProtected(t, m, nil, c)
}

// The plain default keeps the key in clear: a state moved to another
// machine opens there. This is what the TPM backend closes.
func TestPlainDefaultHasNoMachineBinding(t *testing.T) {
	var m nvm.Memory
	s, err := nvm.Open(newProtected(t, &m, new(nvm.MemoryCounter)), nvm.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Put("k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	// Another machine: a fresh counter brought to the same value.
	other := new(nvm.MemoryCounter)
	other.Increment()
	other.Increment()
	s2, err := nvm.Open(newProtected(t, &m, other), nvm.Options{})
	if err != nil {
		t.Fatalf("opening the plain state elsewhere: %v, want success (the default has no machine binding)", err)
	}
	if v, _ := s2.Get("k"); string(v) != "v" {
		t.Errorf("Get(k) = %q, want v", v)
	}
}

type namedCounter struct {
	nvm.MemoryCounter
	name string
}

func (c *namedCounter) Name() string { return c.name }

func TestProtectedRefuses(t *testing.T) {
	var m nvm.Memory
	ctr := &namedCounter{name: "card-a"}
	s, err := nvm.Open(newProtected(t, &m, ctr), nvm.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// The counter is created at 1; each save then moves it: 2, 3.
	for _, v := range []string{"u", "v"} {
		if err := s.Put("k", []byte(v)); err != nil {
			t.Fatal(err)
		}
	}
	good, _ := m.Load()

	t.Run("another card's counter", func(t *testing.T) {
		other := &namedCounter{name: "card-b"}
		other.Increment()
		_, err := nvm.Open(newProtected(t, &m, other), nvm.Options{})
		if !errors.Is(err, nvm.ErrRolledBack) || !strings.Contains(err.Error(), `"card-a"`) {
			t.Errorf("error = %v, want ErrRolledBack naming counter card-a", err)
		}
	})
	t.Run("counter missing", func(t *testing.T) {
		_, err := nvm.Open(newProtected(t, &m, &namedCounter{name: "card-a"}), nvm.Options{})
		if !errors.Is(err, nvm.ErrRolledBack) || !strings.Contains(err.Error(), "does not exist") {
			t.Errorf("error = %v, want ErrRolledBack saying the counter does not exist", err)
		}
	})
	t.Run("counter behind", func(t *testing.T) {
		behind := &namedCounter{name: "card-a"}
		behind.Increment()
		behind.Increment()
		// The state is at 3, the counter at 2: a crash before the
		// increment, accepted and completed.
		if _, err := nvm.Open(newProtected(t, &m, behind), nvm.Options{}); err != nil {
			t.Fatalf("state one ahead of the counter: error = %v, want it accepted", err)
		}
		if v, _ := behind.Read(); v != 3 {
			t.Errorf("counter after completing the save = %d, want 3", v)
		}
		far := &namedCounter{name: "card-a"}
		far.Increment()
		if _, err := nvm.Open(newProtected(t, &m, far), nvm.Options{}); !errors.Is(err, nvm.ErrRolledBack) {
			t.Errorf("state two ahead of the counter: error = %v, want ErrRolledBack", err)
		}
	})
	t.Run("tampered", func(t *testing.T) {
		for _, i := range []int{5, 10, len(good) / 2, len(good) - 1} {
			bad := bytes.Clone(good)
			bad[i] ^= 1
			var mm nvm.Memory
			mm.Save(bad)
			if _, err := nvm.Open(newProtected(t, &mm, ctr), nvm.Options{}); !errors.Is(err, nvm.ErrCorrupt) && !errors.Is(err, nvm.ErrRolledBack) && !errors.Is(err, nvm.ErrKeyUnavailable) {
				t.Errorf("byte %d flipped: error = %v, want ErrCorrupt, ErrRolledBack or ErrKeyUnavailable", i, err)
			}
		}
	})
	t.Run("unprotected image", func(t *testing.T) {
		var plain nvm.Memory
		s, _ := nvm.Open(&plain, nvm.Options{})
		s.Put("k", []byte("v"))
		_, err := nvm.Open(newProtected(t, &plain, ctr), nvm.Options{})
		if !errors.Is(err, nvm.ErrCorrupt) || !strings.Contains(err.Error(), "unprotected image") {
			t.Errorf("error = %v, want ErrCorrupt naming an unprotected image", err)
		}
	})
	t.Run("protected image opened plainly", func(t *testing.T) {
		_, err := nvm.Open(&m, nvm.Options{})
		if !errors.Is(err, nvm.ErrCorrupt) || !strings.Contains(err.Error(), "TPM") {
			t.Errorf("error = %v, want ErrCorrupt saying the state is bound to a TPM", err)
		}
	})
	t.Run("unseal fails", func(t *testing.T) {
		_, err := nvm.Open(mustProtected(t, &m, failingSealer{}, ctr), nvm.Options{})
		if !errors.Is(err, nvm.ErrKeyUnavailable) || !errors.Is(err, errNotHere) {
			t.Errorf("error = %v, want ErrKeyUnavailable wrapping the sealer's error", err)
		}
	})
	if _, err := nvm.NewProtected(&m, nvm.ProtectOptions{}); err == nil {
		t.Errorf("NewProtected() without Rand: error = nil, want one")
	}
}

var errNotHere = errors.New("sealed elsewhere")

type failingSealer struct{}

func (failingSealer) Seal([]byte) ([]byte, error)   { return nil, errNotHere }
func (failingSealer) Unseal([]byte) ([]byte, error) { return nil, errNotHere }

func mustProtected(t testing.TB, m nvm.Medium, s nvm.Sealer, c nvm.Counter) *nvm.Protected {
	t.Helper()
	p, err := nvm.NewProtected(m, nvm.ProtectOptions{Sealer: s, Counter: c, Rand: rand.Reader})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// FuzzProtectedLoad feeds arbitrary envelopes to Load: none panics, and
// one accepted (with the plain sealer the key is in the envelope) holds an
// image that decodes.
func FuzzProtectedLoad(f *testing.F) {
	var m nvm.Memory
	s, _ := nvm.Open(mustProtected(f, &m, nil, new(nvm.MemoryCounter)), nvm.Options{})
	s.Put("k", []byte("v"))
	good, _ := m.Load()
	f.Add(good)
	f.Add([]byte("TSPE\x01"))
	f.Add([]byte("TSPE\x01\x06memory\x00\x00\x00\x00\x00\x00\x00\x02\x00\x20"))
	f.Fuzz(func(t *testing.T, b []byte) {
		var mm nvm.Memory
		mm.Save(b)
		ctr := new(nvm.MemoryCounter)
		ctr.Increment()
		image, err := mustProtected(t, &mm, nil, ctr).Load()
		if err != nil {
			return
		}
		if _, err := nvm.DecodeImage(image); err != nil && len(b) > 0 {
			t.Fatalf("Load accepted an envelope whose image does not decode: %v", err)
		}
	})
}
