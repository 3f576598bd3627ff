package tpmstore_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-tpm/tpm2"

	"github.com/tesseracard/tessera/firmware/nvm"
	"github.com/tesseracard/tessera/firmware/nvm/nvmtest"
	"github.com/tesseracard/tessera/firmware/profile"
	"github.com/tesseracard/tessera/simulator"
	"github.com/tesseracard/tessera/simulator/tpmstore"
	"github.com/tesseracard/tessera/simulator/tpmstore/swtpmtest"
)

// A machine is a TPM under test: the in-process simulator or a swtpm
// process. Each test gets fresh ones.
type machine interface {
	// open connects (again): for swtpm, after restarting the process on
	// the same TPM state.
	open(t *testing.T) *tpmstore.TPM
	// another returns a different TPM, ending this one if need be.
	another(t *testing.T) machine
}

// kinds are the ways to get a machine; new skips (saying why) when the
// kind is unavailable here.
var kinds = []struct {
	name string
	new  func(t *testing.T) machine
}{
	{"sim", newSimMachine},
	{"swtpm", newSwtpmMachine},
}

// simMachine is the in-process simulator. A "restart" reconnects nothing:
// the simulator's state lives in this process only, so a restart is a new
// card medium on the same simulator.
type simMachine struct {
	tpm *tpmstore.TPM
}

func newSimMachine(t *testing.T) machine {
	tpm, err := tpmstore.Open(context.Background(), "sim")
	if err != nil {
		t.Skipf("in-process TPM simulator unavailable (needs cgo and libssl-dev): %v", err)
	}
	m := &simMachine{tpm: tpm}
	t.Cleanup(func() { m.close() })
	return m
}

func (m *simMachine) close() {
	if m.tpm != nil {
		m.tpm.Close()
		m.tpm = nil
	}
}

func (m *simMachine) open(t *testing.T) *tpmstore.TPM {
	if m.tpm == nil {
		t.Fatal("simulator TPM already closed")
	}
	return m.tpm
}

func (m *simMachine) another(t *testing.T) machine {
	// One simulator per process: end this one; the next is manufactured
	// afresh, with new seeds.
	m.close()
	return newSimMachine(t)
}

// swtpmMachine is a swtpm process with its state in a temporary directory.
type swtpmMachine struct {
	sw   *swtpmtest.Swtpm
	conn *tpmstore.TPM
}

func newSwtpmMachine(t *testing.T) machine {
	m := &swtpmMachine{sw: swtpmtest.Start(t)}
	t.Cleanup(m.close)
	return m
}

func (m *swtpmMachine) close() {
	if m.conn != nil {
		m.conn.Close()
		m.conn = nil
	}
}

func (m *swtpmMachine) open(t *testing.T) *tpmstore.TPM {
	t.Helper()
	if m.conn != nil { // a restart: the TPM process too
		m.close()
		m.sw.Restart(t)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tpm, err := tpmstore.Open(ctx, m.sw.Spec())
	if err != nil {
		t.Fatalf("Open(%s) error = %v", m.sw.Spec(), err)
	}
	m.conn = tpm
	return tpm
}

func (m *swtpmMachine) another(t *testing.T) machine { return newSwtpmMachine(t) }

// backend adapts a machine to the nvmtest suite.
func backend(t *testing.T, newMachine func(*testing.T) machine) nvmtest.Backend {
	var mu sync.Mutex
	machines := map[*testing.T]machine{}
	counter := func(t *testing.T, tpm *tpmstore.TPM, path string) (nvm.Sealer, nvm.Counter) {
		c, err := tpm.Counter(path)
		if err != nil {
			t.Fatal(err)
		}
		return tpm, c
	}
	return nvmtest.Backend{
		// newMachine and another may skip the test (runtime.Goexit):
		// neither is called with mu held, or the next test would wait
		// for it forever.
		Open: func(t *testing.T, path string) (nvm.Sealer, nvm.Counter) {
			mu.Lock()
			m := machines[t]
			mu.Unlock()
			if m == nil {
				m = newMachine(t)
				mu.Lock()
				machines[t] = m
				mu.Unlock()
			}
			return counter(t, m.open(t), path)
		},
		Elsewhere: func(t *testing.T, path string) (nvm.Sealer, nvm.Counter) {
			mu.Lock()
			m := machines[t]
			mu.Unlock()
			return counter(t, m.another(t).open(t), path)
		},
	}
}

func TestProtection(t *testing.T) {
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			nvmtest.TestProtection(t, backend(t, k.new))
		})
	}
}

func TestMovedToAnotherTPMSaysSo(t *testing.T) {
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			m := k.new(t)
			path := filepath.Join(t.TempDir(), "card.state")
			tpm := m.open(t)
			c, _ := tpm.Counter(path)
			card, err := nvmtest.OpenCard(t, path, tpm, c)
			if err != nil {
				t.Fatal(err)
			}
			if err := card.Store.Put("k", []byte("v")); err != nil {
				t.Fatal(err)
			}
			card.File.Close()
			other := m.another(t).open(t)
			c2, _ := other.Counter(path)
			_, err = nvmtest.OpenCard(t, path, other, c2)
			if !errors.Is(err, nvm.ErrKeyUnavailable) || !errors.Is(err, tpm2.TPMRCIntegrity) || !strings.Contains(err.Error(), "sealed by another TPM") {
				t.Errorf("error = %v, want ErrKeyUnavailable wrapping TPM_RC_INTEGRITY, saying the key was sealed by another TPM", err)
			}
		})
	}
}

// boot powers on the card whose state file is path, on a TPM of m (for
// swtpm, restarted), selects PIV and sends cmds (hex), returning their
// status words. An error is the card's refusal to start.
func boot(t *testing.T, m machine, path string, cmds ...string) ([]string, error) {
	t.Helper()
	prof, ok := profile.Builtin("default")
	if !ok {
		t.Fatal("no default profile")
	}
	tpm := m.open(t)
	f, err := nvm.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pm, err := tpm.Protect(path, f)
	if err != nil {
		t.Fatal(err)
	}
	card, err := simulator.NewCard(prof, pm, simulator.CardOptions{})
	if err == nil {
		_, err = card.PowerOn()
	}
	if err != nil {
		return nil, err
	}
	defer card.PowerOff()
	var sws []string
	for _, cmd := range append([]string{"00 A4 04 00 05 A0 00 00 03 08"}, cmds...) {
		b, err := hex.DecodeString(strings.ReplaceAll(cmd, " ", ""))
		if err != nil {
			t.Fatal(err)
		}
		resp := card.Process(b)
		if len(resp) < 2 {
			t.Fatalf("%s: answer %X, want a status word", cmd, resp)
		}
		sws = append(sws, strings.ToUpper(hex.EncodeToString(resp[len(resp)-2:])))
	}
	if sws[0] != "9000" {
		t.Fatalf("SELECT PIV = %s, want 9000", sws[0])
	}
	return sws[1:], nil
}

// TestWrongPINTriesStaySpent: a real PIV card on a TPM-protected state file.
// A wrong PIN spends a try; putting back the state file from before it is
// refused, and the only state the card accepts still has the try spent.
func TestWrongPINTriesStaySpent(t *testing.T) {
	const (
		pinStatus = "00 20 00 80"                     // VERIFY, no data: the tries left, nothing spent
		wrongPIN  = "00 20 00 80 08 393939393939FFFF" // "999999"
	)
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			m := k.new(t)
			path := filepath.Join(t.TempDir(), "card.state")
			check := func(cmd, want string) {
				t.Helper()
				sws, err := boot(t, m, path, cmd)
				if err != nil {
					t.Fatalf("power-on: %v", err)
				}
				if sws[0] != want {
					t.Fatalf("%s = %s, want %s", cmd, sws[0], want)
				}
			}
			check(pinStatus, "63C3") // first boot: the factory state
			before, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			check(wrongPIN, "63C2")
			after, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, before, 0o600); err != nil {
				t.Fatal(err)
			}
			_, err = boot(t, m, path, pinStatus)
			if !errors.Is(err, nvm.ErrRolledBack) || !strings.Contains(err.Error(), "state rolled back") {
				t.Fatalf("power-on with the state file from before the wrong PIN: error = %v, want ErrRolledBack (\"state rolled back\")", err)
			}
			// The only state the card accepts is the newest: the try is
			// still spent.
			if err := os.WriteFile(path, after, 0o600); err != nil {
				t.Fatal(err)
			}
			check(pinStatus, "63C2")
		})
	}
}

// BenchmarkDurableSave: one durable save of a small card state, on the
// plain journal file and on a TPM-protected one (encrypt, write, fsync,
// NV increment).
func BenchmarkDurableSave(b *testing.B) {
	value := bytes.Repeat([]byte{0xA5}, 512)
	run := func(b *testing.B, wrap func(path string, f *nvm.File) nvm.Medium) {
		path := filepath.Join(b.TempDir(), "card.state")
		f, err := nvm.OpenFile(path)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		s, err := nvm.Open(wrap(path, f), nvm.Options{})
		if err != nil {
			b.Fatal(err)
		}
		for i := 0; b.Loop(); i++ {
			value[0] = byte(i)
			if err := s.Put("piv/pin", value); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("file", func(b *testing.B) {
		run(b, func(_ string, f *nvm.File) nvm.Medium { return f })
	})
	tpms := map[string]func(b *testing.B) string{
		"sim":   func(*testing.B) string { return "sim" },
		"swtpm": func(b *testing.B) string { return swtpmtest.Start(b).Spec() },
	}
	for _, name := range []string{"sim", "swtpm"} {
		b.Run(name, func(b *testing.B) {
			tpm, err := tpmstore.Open(context.Background(), tpms[name](b))
			if err != nil {
				b.Skipf("TPM %s unavailable: %v", name, err)
			}
			defer tpm.Close()
			run(b, func(path string, f *nvm.File) nvm.Medium {
				m, err := tpm.Protect(path, f)
				if err != nil {
					b.Fatal(err)
				}
				return m
			})
		})
	}
}
