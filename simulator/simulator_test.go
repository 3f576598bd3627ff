package simulator

import (
	"bytes"
	"context"
	"crypto/des"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tesseracard/tessera/firmware/nvm"
)

// transmit sends hex to the card in process and returns the response in hex.
func transmit(t *testing.T, tr *Transport, cmd string) string {
	t.Helper()
	resp, err := tr.Transmit(context.Background(), unhex(t, cmd))
	if err != nil {
		t.Fatalf("Transmit(%s): %v", cmd, err)
	}
	return strings.ToUpper(hex.EncodeToString(resp))
}

func TestTransportInProcess(t *testing.T) {
	s := newTestSim(t, Config{})
	tr := addCard(t, s, CardSpec{Slot: -1}).Transport()
	if got := transmit(t, tr, selectPIV); !strings.HasSuffix(got, "9000") {
		t.Fatalf("SELECT = %s", got)
	}
	if got := transmit(t, tr, getVersion); got != "0507019000" {
		t.Errorf("GET VERSION = %s, want 0507019000", got)
	}
	// The caller's buffer may be reused at once.
	cmd := unhex(t, getVersion)
	resp, err := tr.Transmit(context.Background(), cmd)
	clear(cmd)
	if err != nil || hex.EncodeToString(resp) != "0507019000" {
		t.Errorf("Transmit = %X, %v", resp, err)
	}
	if err := tr.Reset(context.Background()); err != nil {
		t.Fatalf("Reset() = %v", err)
	}
	if atr, err := tr.ATR(context.Background()); err != nil || len(atr) == 0 {
		t.Fatalf("ATR() = %X, %v", atr, err)
	}
	if got := transmit(t, tr, getVersion); got != "6D00" {
		t.Errorf("GET VERSION after Reset = %s, want 6D00", got)
	}
}

func TestPersistenceAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	s := newTestSim(t, Config{StateDir: dir})
	tr := addCard(t, s, CardSpec{Slot: 0}).Transport()
	transmit(t, tr, selectPIV)
	if got := transmit(t, tr, wrongPIN); got != "63C2" {
		t.Fatalf("wrong VERIFY = %s, want 63C2", got)
	}
	s.Close()

	s2 := newTestSim(t, Config{StateDir: dir})
	r := addCard(t, s2, CardSpec{Slot: 0})
	tr = r.Transport()
	transmit(t, tr, selectPIV)
	if got := transmit(t, tr, pinStatus); got != "63C2" {
		t.Errorf("PIN status after restart = %s, want 63C2", got)
	}
	st, err := r.State(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.PIN.Tries != 2 || st.PIN.Limit != 3 {
		t.Errorf("State().PIN = %+v, want 2 of 3", st.PIN)
	}
	if st.CardSerial != 10000001 || st.Serial != 10000001 {
		t.Errorf("serials = %d, %d, want 10000001", st.CardSerial, st.Serial)
	}
}

func TestAddChecksRecordedCard(t *testing.T) {
	dir := t.TempDir()
	s := newTestSim(t, Config{StateDir: dir})
	addCard(t, s, CardSpec{Slot: 0, Serial: 42})
	addCard(t, s, CardSpec{Slot: 1})
	if _, err := s.Add(CardSpec{Slot: 1}); !errors.Is(err, ErrSlotTaken) {
		t.Errorf("Add(taken slot) error = %v, want ErrSlotTaken", err)
	}
	if r := addCard(t, s, CardSpec{Slot: -1}); r.ID() != 2 {
		t.Errorf("Add(-1) took slot %d, want 2", r.ID())
	}
	s.Close()

	// A second simulator on the same state is refused by the state
	// directory's lock (TestStateDirLocked).
	first := newTestSim(t, Config{StateDir: dir})
	if _, err := New(Config{StateDir: dir}); !errors.Is(err, ErrStateLocked) {
		t.Errorf("New() on a state directory in use: error %v, want ErrStateLocked", err)
	}
	first.Close()

	s2 := newTestSim(t, Config{StateDir: dir})
	tests := []struct {
		name string
		spec CardSpec
		want string // in the error; "" for success
	}{
		{"other profile", CardSpec{Slot: 0, Profile: "piv"}, `created with profile "default", not "piv"`},
		{"other serial", CardSpec{Slot: 0, Serial: 7}, "created with serial 42, not 7"},
		{"unknown profile", CardSpec{Slot: 5, Profile: "nosuch"}, "neither a built-in profile"},
		{"slot out of range", CardSpec{Slot: MaxSlots}, "slots 0 to"},
		{"same again", CardSpec{Slot: 0, Profile: "default", Serial: 42}, ""},
	}
	for _, tt := range tests {
		_, err := s2.Add(tt.spec)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: Add() error = %v", tt.name, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%s: Add() error = %v, want one containing %q", tt.name, err, tt.want)
		}
	}
}

func TestCorruptStateIsAnErrorNamingTheFile(t *testing.T) {
	dir := t.TempDir()
	s := newTestSim(t, Config{StateDir: dir})
	addCard(t, s, CardSpec{Slot: 0})
	s.Close()
	path := filepath.Join(dir, "cards", "0", stateFileName)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	data[10] ^= 0xFF // inside the first frame's header, with more after it
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	s2 := newTestSim(t, Config{StateDir: dir})
	_, err = s2.Add(CardSpec{Slot: 0})
	if err == nil || !strings.Contains(err.Error(), path) || !errors.Is(err, nvm.ErrCorrupt) {
		t.Fatalf("Add on a corrupt state file: error %v, want ErrCorrupt naming %s", err, path)
	}
	after, _ := os.ReadFile(path)
	if string(after) != string(data) {
		t.Error("the corrupt state file was changed")
	}
}

func TestTimingModel(t *testing.T) {
	prof := filepath.Join(t.TempDir(), "slow.yaml")
	os.WriteFile(prof, []byte("name: slow\ntiming:\n  per_ins:\n    FD: 150ms\n"), 0o600)
	s := newTestSim(t, Config{Profile: prof})
	r := addCard(t, s, CardSpec{Slot: 0})
	if r.Info().Profile != prof {
		t.Errorf("profile recorded as %q, want %q", r.Info().Profile, prof)
	}
	// Only GET VERSION is slowed down; that SELECT is not is the
	// profile's answer (an upper bound on a measured time would be a
	// timed assertion, which a loaded machine can fail).
	if d := r.prof.Timing.Latency(0xA4); d != 0 {
		t.Errorf("the card's profile adds %v to SELECT, want nothing", d)
	}
	tr := r.Transport()
	transmit(t, tr, selectPIV)
	start := time.Now()
	if got := transmit(t, tr, getVersion); got != "0507019000" {
		t.Errorf("GET VERSION = %s", got)
	}
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Errorf("GET VERSION took %v, want at least the profile's 150ms", d)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	if _, err := tr.Transmit(ctx, unhex(t, getVersion)); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Transmit with a 30ms deadline: error %v, want DeadlineExceeded", err)
	}
	// A context that ended before the answer gets its error even when no
	// latency is left to wait: on a loaded machine GET VERSION's
	// processing took longer than its 150 ms, and the 30 ms deadline above
	// came back with the answer (1 run in 3 under load). SELECT has no
	// latency, and this context ends before the command starts.
	over, end := context.WithCancel(context.Background())
	end()
	if resp, err := tr.Transmit(over, unhex(t, selectPIV)); !errors.Is(err, context.Canceled) {
		t.Errorf("Transmit with a context already over = %X, %v; want context.Canceled", resp, err)
	}
}

func TestTearInProcess(t *testing.T) {
	s := newTestSim(t, Config{})
	r := addCard(t, s, CardSpec{Slot: 0})
	tr := r.Transport()
	ctx := context.Background()
	transmit(t, tr, selectPIV)
	// A wrong VERIFY makes one write, the decrement: let the first
	// through, cut the second.
	if err := r.ArmTear(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if in := r.Info(); in.Tear == nil || in.Tear.WritesLeft != 1 || in.Tear.Fired {
		t.Fatalf("Info().Tear = %+v, want 1 write left", in.Tear)
	}
	if got := transmit(t, tr, wrongPIN); got != "63C2" {
		t.Fatalf("first wrong VERIFY = %s, want 63C2", got)
	}
	if _, err := tr.Transmit(ctx, unhex(t, wrongPIN)); !errors.Is(err, ErrMute) {
		t.Fatalf("second wrong VERIFY: error %v, want ErrMute", err)
	}
	if err := r.Insert(ctx); err != nil { // re-inserting gives power back
		t.Fatal(err)
	}
	transmit(t, tr, selectPIV)
	if got := transmit(t, tr, pinStatus); got != "63C2" {
		t.Errorf("PIN status after the tear = %s, want 63C2 (the cut decrement is lost)", got)
	}
	if in := r.Info(); in.Mute || in.Tear != nil {
		t.Errorf("Info() after re-insertion = %+v", in)
	}
}

func TestFactoryReset(t *testing.T) {
	dir := t.TempDir()
	s := newTestSim(t, Config{StateDir: dir})
	r := addCard(t, s, CardSpec{Slot: 0})
	tr := r.Transport()
	transmit(t, tr, selectPIV)
	transmit(t, tr, wrongPIN)
	if err := r.FactoryReset(context.Background()); err != nil {
		t.Fatal(err)
	}
	transmit(t, tr, selectPIV)
	if got := transmit(t, tr, pinStatus); got != "63C3" {
		t.Errorf("PIN status after factory reset = %s, want 63C3", got)
	}
	// And it is the state on disk.
	s.Close()
	s2 := newTestSim(t, Config{StateDir: dir})
	st, err := addCard(t, s2, CardSpec{Slot: 0}).State(context.Background())
	if err != nil || st.PIN.Tries != 3 {
		t.Errorf("after restart: PIN %+v, %v, want 3 tries", st.PIN, err)
	}
}

func TestStatePINVerified(t *testing.T) {
	s := newTestSim(t, Config{})
	r := addCard(t, s, CardSpec{Slot: 0})
	tr := r.Transport()
	ctx := context.Background()
	verified := func() string {
		t.Helper()
		st, err := r.State(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if st.PINVerified == nil {
			return "unknown: " + st.PINVerifiedNote
		}
		if *st.PINVerified {
			return "yes"
		}
		return "no"
	}
	if got := verified(); got != "no" {
		t.Errorf("unpowered: verified = %s, want no", got)
	}
	transmit(t, tr, selectPIV)
	if got := verified(); got != "no" {
		t.Errorf("after SELECT: verified = %s, want no", got)
	}
	transmit(t, tr, "002000800831323334353536FF") // 123456, the default PIN... with a typo
	transmit(t, tr, "0020008008313233343536FFFF") // 123456
	if got := verified(); got != "yes" {
		t.Errorf("after VERIFY: verified = %s, want yes", got)
	}
	// Reading the state neither spends a try nor changes the status.
	if got := verified(); got != "yes" {
		t.Errorf("read twice: verified = %s, want yes", got)
	}
	st, _ := r.State(ctx)
	if st.PIN.Tries != 3 {
		t.Errorf("tries = %d, want 3 (restored by the right PIN)", st.PIN.Tries)
	}
	// While the host fetches a long response, the card is left alone.
	// The attestation certificate is over 256 bytes: 61xx.
	if got := transmit(t, tr, "00CB3FFF055C035FFF0100"); !strings.Contains(got[len(got)-4:], "61") {
		t.Fatalf("GET DATA attestation certificate = ...%s, want 61xx", got[len(got)-4:])
	}
	if got := verified(); !strings.HasPrefix(got, "unknown") {
		t.Errorf("during GET RESPONSE: verified = %s, want unknown", got)
	}
	if err := r.PowerCycle(ctx); err != nil {
		t.Fatal(err)
	}
	if got := verified(); got != "no" {
		t.Errorf("after power-cycle: verified = %s, want no", got)
	}
}

// TestTouchSensor: each case's sensor waits longTouch, but for the one
// that waits the timeout out (no touch): a touch, abort or mode change
// given by a goroutine scheduled late must come within the wait, and an
// abort or a mode change must be what ends it.
func TestTouchSensor(t *testing.T) {
	tests := []struct {
		name    string
		mode    TouchMode
		timeout time.Duration // zero: longTouch
		action  func(*touchSensor)
		want    bool
	}{
		{"auto", TouchAuto, 0, nil, true},
		{"never", TouchNever, 0, nil, false},
		{"manual, no touch", TouchManual, 300 * time.Millisecond, nil, false},
		{"manual, touched while waiting", TouchManual, 0, func(ts *touchSensor) {
			for _, w := ts.status(); w < 0; _, w = ts.status() {
				time.Sleep(time.Millisecond)
			}
			ts.give()
		}, true},
		{"manual, touched in advance", TouchManual, 0, func(ts *touchSensor) {}, true},
		{"manual, aborted", TouchManual, 0, func(ts *touchSensor) {
			for _, w := ts.status(); w < 0; _, w = ts.status() {
				time.Sleep(time.Millisecond)
			}
			ts.abort()
		}, false},
		{"manual, switched to auto while waiting", TouchManual, 0, func(ts *touchSensor) {
			for _, w := ts.status(); w < 0; _, w = ts.status() {
				time.Sleep(time.Millisecond)
			}
			ts.setMode(TouchAuto)
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			timeout := tt.timeout
			if timeout == 0 {
				timeout = longTouch
			}
			ts := newTouchSensor(tt.mode, timeout)
			if tt.name == "manual, touched in advance" {
				if ts.give() {
					t.Error("give() reported a wait with nobody waiting")
				}
			} else if tt.action != nil {
				go tt.action(ts)
			}
			if got := ts.Touch(0x9A); got != tt.want {
				t.Errorf("Touch() = %v, want %v", got, tt.want)
			}
			if _, w := ts.status(); w != -1 {
				t.Errorf("still waiting for slot %X after Touch returned", w)
			}
		})
	}
}

// mgmtAuth authenticates the default 3DES management key (SP 800-73-4 Part 2
// §3.2.4, mutual authentication with a witness).
func mgmtAuth(t *testing.T, tr *Transport) {
	t.Helper()
	block, err := des.NewTripleDESCipher(unhex(t, strings.Repeat("0102030405060708", 3)))
	if err != nil {
		t.Fatal(err)
	}
	resp := unhex(t, transmit(t, tr, "0087039B047C028000"))
	if len(resp) != 14 || !bytes.HasPrefix(resp, unhex(t, "7C0A8008")) {
		t.Fatalf("witness = %X", resp)
	}
	w := make([]byte, 8)
	block.Decrypt(w, resp[4:12])
	cmd := "0087039B167C148008" + hex.EncodeToString(w) + "8108" + "1122334455667788"
	if got := transmit(t, tr, cmd); !strings.HasSuffix(got, "9000") {
		t.Fatalf("management key authentication = %s", got)
	}
}

// TestTouchThroughCard uses a key whose touch policy is "always" on a card
// in manual touch mode: the signature waits for a touch given through the
// simulator, and fails with 6982 when none comes.
//
// The touched signature runs on a card whose touch timeout (longTouch) no
// wait of a loaded machine outlasts; only the untouched one, which must
// wait the timeout out, runs on a card that gives up after 300 ms. With
// 300 ms for both, a test goroutine scheduled late touched after the card
// had given up (1 run in 10 at nice 19 beside busy loops).
func TestTouchThroughCard(t *testing.T) {
	sign := "0087119A267C24820081200102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F2000"
	touchCard := func(timeout time.Duration) *Reader {
		s := newTestSim(t, Config{TouchMode: TouchManual, TouchTimeout: timeout})
		r := addCard(t, s, CardSpec{Slot: 0})
		tr := r.Transport()
		transmit(t, tr, selectPIV)
		mgmtAuth(t, tr)
		// ECC P-256 in 9A, PIN policy never (01), touch policy always (02).
		if got := transmit(t, tr, "0047009A0BAC09800111AA0101AB0102"); !strings.HasSuffix(got, "9000") {
			t.Fatalf("GENERATE = %s", got)
		}
		return r
	}
	r := touchCard(longTouch)
	if got := transmitTouched(t, r, sign, "9A"); !strings.HasSuffix(got, "9000 <nil>") {
		t.Errorf("signature with a touch = %s, want 9000", got)
	}
	transmitUntouched(t, touchCard(300*time.Millisecond), sign, "6982", 300*time.Millisecond)
	st, err := r.State(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var slot9A *KeyState
	for i := range st.Keys {
		if st.Keys[i].Slot == "9A" {
			slot9A = &st.Keys[i]
		}
	}
	if slot9A == nil || slot9A.Algorithm != "ECC-P256" || slot9A.Touch != "always" || slot9A.PINPolicy != "never" || slot9A.Origin != "generated" {
		t.Errorf("State() 9A = %+v", slot9A)
	}
}

// longTouch is the touch timeout of a card the tests touch: a touch given
// by a goroutine that a loaded machine schedules late must still be in
// time. A test that never touches waits it out, and fails then.
const longTouch = time.Minute

// transmitTouched sends cmd on a card in manual touch mode, waits until
// the card waits for a touch of key ref (hex), touches it and returns the
// answer and error.
func transmitTouched(t *testing.T, r *Reader, cmd, ref string) string {
	t.Helper()
	done := make(chan string, 1)
	go func() {
		resp, err := r.Transport().Transmit(context.Background(), unhex(t, cmd))
		done <- fmt.Sprintf("%X %v", resp, err)
	}()
	deadline := time.Now().Add(longTouch)
	for r.Info().TouchWaiting != ref {
		select {
		case got := <-done:
			t.Fatalf("the card answered %s without waiting for a touch of key %s", got, ref)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the card did not wait for a touch of key %s within %v", ref, longTouch)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if !r.Touch() {
		t.Error("Touch() says the card was not waiting")
	}
	return <-done
}

// transmitUntouched sends cmd on a card in manual touch mode with the
// touch timeout given and no touch: the card must answer want, and only
// after (most of) the timeout.
func transmitUntouched(t *testing.T, r *Reader, cmd, want string, timeout time.Duration) {
	t.Helper()
	start := time.Now()
	if got := transmit(t, r.Transport(), cmd); got != want {
		t.Errorf("%s without a touch = %s, want %s", cmd, got, want)
	}
	if d := time.Since(start); d < timeout*5/6 {
		t.Errorf("the card gave up after %v, want the %v touch timeout", d, timeout)
	}
}

// BenchmarkTransportGetVersion is the in-process cost of one exchange: the
// card lock, the firmware, the trace check and the timing model.
func BenchmarkTransportGetVersion(b *testing.B) {
	s, err := New(Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	r, err := s.Add(CardSpec{Slot: 0})
	if err != nil {
		b.Fatal(err)
	}
	tr := r.Transport()
	ctx := context.Background()
	if _, err := tr.Transmit(ctx, unhex(b, selectPIV)); err != nil {
		b.Fatal(err)
	}
	cmd := unhex(b, getVersion)
	for b.Loop() {
		if _, err := tr.Transmit(ctx, cmd); err != nil {
			b.Fatal(err)
		}
	}
}
