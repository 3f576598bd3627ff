package simulator

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/tesseracard/tessera/firmware/nvm"
)

// TestStateDirLocked: a second simulator on a state directory is refused
// before it reads or writes anything there, even when no card has a state
// file yet (an ISO token writes none at its first boot); the first one's
// cards are untouched, and once it closes the directory is free again.
func TestStateDirLocked(t *testing.T) {
	dir := t.TempDir()
	first := newTestSim(t, Config{StateDir: dir, Profile: "iso-token"})
	addCard(t, first, CardSpec{Slot: 0})

	second, err := New(Config{StateDir: dir, Profile: "iso-token"})
	if err == nil {
		second.Close()
		t.Fatal("New() on a state directory another simulator uses: error = nil, want ErrStateLocked")
	}
	pid := "process " + strconv.Itoa(os.Getpid())
	if !errors.Is(err, ErrStateLocked) || !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), pid) {
		t.Errorf("New() error = %v, want ErrStateLocked naming %s and %s", err, dir, pid)
	}

	first.Close()
	again := newTestSim(t, Config{StateDir: dir})
	if r := addCard(t, again, CardSpec{Slot: 0}); r.Info().Profile != "iso-token" {
		t.Errorf("after the first simulator closed, card 0 has profile %q, want iso-token", r.Info().Profile)
	}
}

// TestStateDirStaleLock: the lock file a dead simulator leaves behind, with
// its process id, does not block the next one: the lock itself died with
// its process.
func TestStateDirStaleLock(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, stateLockName), []byte("2147483646\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := newTestSim(t, Config{StateDir: dir})
	addCard(t, s, CardSpec{Slot: 0})
	b, _ := os.ReadFile(filepath.Join(dir, stateLockName))
	if got := strings.TrimSpace(string(b)); got != strconv.Itoa(os.Getpid()) {
		t.Errorf("lock file holds %q, want this process's id %d", got, os.Getpid())
	}
}

// TestCardRecordOrder covers the two halves of a card directory, card.json
// (profile and serial) and card.state (memory), as a crash can leave them:
// card.json is written first, so a record without state is a card not yet
// booted, but state without its record is never opened under a guessed
// profile.
func TestCardRecordOrder(t *testing.T) {
	dir := t.TempDir()
	s := newTestSim(t, Config{StateDir: dir})
	addCard(t, s, CardSpec{Slot: 0, Profile: "piv", Serial: 77})
	addCard(t, s, CardSpec{Slot: 1, Profile: "piv", Serial: 78})
	s.Close()
	card0, card1 := filepath.Join(dir, "cards", "0"), filepath.Join(dir, "cards", "1")
	if err := os.Remove(filepath.Join(card0, metaFileName)); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(card1, stateFileName)); err != nil {
		t.Fatal(err)
	}

	s2 := newTestSim(t, Config{StateDir: dir})
	_, err := s2.Add(CardSpec{Slot: 0})
	if err == nil || !strings.Contains(err.Error(), "card state without its record card.json") || !strings.Contains(err.Error(), card0) {
		t.Errorf("Add() of state without card.json: error = %v, want \"card state without its record card.json\" naming %s", err, card0)
	}
	if _, err := os.Stat(filepath.Join(card0, metaFileName)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the refused Add() wrote %s (stat: %v)", metaFileName, err)
	}
	r := addCard(t, s2, CardSpec{Slot: 1})
	if in := r.Info(); in.Profile != "piv" || in.Serial != 78 {
		t.Errorf("card from card.json without state: profile %q serial %d, want piv 78", in.Profile, in.Serial)
	}
	if _, err := os.Stat(filepath.Join(card1, stateFileName)); err != nil {
		t.Errorf("the card's state was not created: %v", err)
	}
}

// TestCardRecordWrittenBeforeState: a new card's card.json is on disk
// before its state is first written.
func TestCardRecordWrittenBeforeState(t *testing.T) {
	dir := t.TempDir()
	seen := false
	s := newTestSim(t, Config{StateDir: dir, Protect: func(statePath string, m nvm.Medium) (nvm.Medium, error) {
		_, err := os.Stat(filepath.Join(filepath.Dir(statePath), metaFileName))
		seen = err == nil
		return m, nil
	}})
	addCard(t, s, CardSpec{Slot: 0})
	if !seen {
		t.Error("card.json did not exist when the card's state was opened")
	}
}

// TestCardRecordForgottenWhenNoCard: when the card cannot be made, the
// card.json just written is removed, so that the slot stays free for any
// profile.
func TestCardRecordForgottenWhenNoCard(t *testing.T) {
	dir := t.TempDir()
	s := newTestSim(t, Config{StateDir: dir, Protect: func(string, nvm.Medium) (nvm.Medium, error) {
		return nil, errors.New("injected protection failure")
	}})
	if _, err := s.Add(CardSpec{Slot: 0}); err == nil || !strings.Contains(err.Error(), "injected protection failure") {
		t.Fatalf("Add() error = %v, want the injected failure", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "cards", "0", metaFileName)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("card.json of a card never made is still there (stat: %v)", err)
	}
}

// TestOpensStateOfEarlierCommit opens a state directory written by Tessera
// at commit 745cbe2, before the lock file and the card.json ordering: card 0
// (piv, one wrong PIN) with card.json and card.state, card 1 (iso-token,
// which writes no state at first boot) with card.json only.
func TestOpensStateOfEarlierCommit(t *testing.T) {
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS("testdata/state/745cbe2")); err != nil {
		t.Fatal(err)
	}
	s := newTestSim(t, Config{StateDir: dir})
	r0 := addCard(t, s, CardSpec{Slot: 0})
	r1 := addCard(t, s, CardSpec{Slot: 1})
	st, err := r0.State(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if st.Profile != "piv" || st.PIN.Tries != 2 || st.PIN.Limit != 3 || st.CardSerial != st.Serial {
		t.Errorf("card 0 = profile %q, PIN %d of %d, serials %d/%d; want piv, 2 of 3, equal", st.Profile, st.PIN.Tries, st.PIN.Limit, st.Serial, st.CardSerial)
	}
	if in := r1.Info(); in.Profile != "iso-token" || in.Serial != 10000008 {
		t.Errorf("card 1 = profile %q serial %d, want iso-token 10000008", in.Profile, in.Serial)
	}
	tr := r0.Transport()
	transmit(t, tr, selectPIV)
	if got := transmit(t, tr, pinStatus); got != "63C2" {
		t.Errorf("card 0 PIN status = %s, want 63C2", got)
	}
}
