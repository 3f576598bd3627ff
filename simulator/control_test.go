package simulator

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// startControl serves sim's control API on a unix socket in a temporary
// directory and returns a client for it.
func startControl(t *testing.T, sim *Simulator) (*Client, string) {
	t.Helper()
	sock := filepath.Join(shortTempDir(t), "control.sock")
	ln, err := ListenControl(sock, "")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ServeControl(ctx, ln, sim, nil) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("ServeControl: %v", err)
		}
	})
	return NewClient(sock, ""), sock
}

// shortTempDir is a temporary directory with a path short enough for a unix
// socket.
func shortTempDir(t *testing.T) string {
	t.Helper()
	d, err := os.MkdirTemp("", "tsr")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

func TestControlSocketMode(t *testing.T) {
	sim := newTestSim(t, Config{})
	_, sock := startControl(t, sim)
	fi, err := os.Stat(sock)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 || fi.Mode().Type() != os.ModeSocket {
		t.Errorf("socket mode = %v, want a socket with mode 0600", fi.Mode())
	}
	// A second simulator on the same socket is refused.
	if _, err := ListenControl(sock, ""); err == nil || !strings.Contains(err.Error(), "another tessera sim") {
		t.Errorf("ListenControl on a live socket: error %v", err)
	}
}

func TestListenControl(t *testing.T) {
	dir := shortTempDir(t)
	stale := filepath.Join(dir, "stale.sock")
	ln, err := net.Listen("unix", stale)
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close() // the file stays, as after kill -9
	regular := filepath.Join(dir, "file")
	os.WriteFile(regular, []byte("x"), 0o600)
	tests := []struct {
		name, path, tcp, wantErr string
	}{
		{"stale socket replaced", stale, "", ""},
		{"regular file kept", regular, "", "not a socket"},
		{"path too long", filepath.Join(dir, strings.Repeat("x", 120)), "", "longer than a unix socket allows"},
		{"loopback TCP", "", "127.0.0.1:0", ""},
		{"public TCP refused", "", "0.0.0.0:0", "loopback only"},
		{"bad TCP address", "", "localhost", "HOST:PORT"},
	}
	for _, tt := range tests {
		ln, err := ListenControl(tt.path, tt.tcp)
		if tt.wantErr == "" {
			if err != nil {
				t.Errorf("%s: error %v", tt.name, err)
				continue
			}
			ln.Close()
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("%s: error %v, want one containing %q", tt.name, err, tt.wantErr)
		}
	}
	if b, _ := os.ReadFile(regular); string(b) != "x" {
		t.Error("a regular file in the socket's place was changed")
	}
}

func TestControlOperations(t *testing.T) {
	f := newFakeVPCD(t)
	sim := newTestSim(t, Config{VPCD: f.addr(), StateDir: t.TempDir()})
	c, _ := startControl(t, sim)
	ctx := context.Background()

	in, err := c.Add(ctx, AddRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if in.ID != 0 || in.Profile != "default" || in.Serial != 10000001 || !in.Inserted {
		t.Errorf("Add() = %+v", in)
	}
	conn := f.accept(t)
	slot := 3
	if in, err = c.Add(ctx, AddRequest{Slot: &slot, Profile: "piv"}); err != nil || in.ID != 3 || in.Profile != "piv" {
		t.Fatalf("Add(slot 3, piv) = %+v, %v", in, err)
	}
	// Card 3 dials port+3, where nothing listens: it keeps trying.
	cards, err := c.List(ctx)
	if err != nil || len(cards) != 2 || cards[0].ID != 0 || cards[1].ID != 3 {
		t.Fatalf("List() = %+v, %v", cards, err)
	}

	// Remove and insert: the vpcd connection goes and comes back.
	if in, err = c.Remove(ctx, 0); err != nil || in.Inserted || in.Connected {
		t.Fatalf("Remove() = %+v, %v", in, err)
	}
	expectClosed(t, conn)
	if _, err := c.Insert(ctx, 0); err != nil {
		t.Fatal(err)
	}
	conn = f.accept(t)

	// In-process commands through the API.
	res, err := c.Transmit(ctx, 0, selectPIV)
	if err != nil || res.SW != "9000" {
		t.Fatalf("Transmit(SELECT) = %+v, %v", res, err)
	}
	if res, err = c.Transmit(ctx, 0, wrongPIN); err != nil || res.SW != "63C2" {
		t.Fatalf("Transmit(wrong VERIFY) = %+v, %v", res, err)
	}
	st, err := c.State(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if st.PIN.Tries != 2 || st.PUK.Tries != 3 || st.MgmtKey.Algorithm != "3DES" || !st.MgmtKey.Default {
		t.Errorf("State() = %+v", st)
	}
	if st.PINVerified == nil || *st.PINVerified {
		t.Errorf("State().PINVerified = %v, want false", st.PINVerified)
	}
	if len(st.Keys) != 1 || st.Keys[0].Slot != "F9" || len(st.Objects) != 1 || st.Objects[0].Tag != "5FFF01" {
		t.Errorf("State() keys %+v objects %+v, want the attestation key and certificate", st.Keys, st.Objects)
	}

	// Tear: armed, then fired by the next write; power-cycle restores.
	if in, err = c.ArmTear(ctx, 0, 0); err != nil || in.Tear == nil || in.Tear.After != 0 {
		t.Fatalf("ArmTear(0) = %+v, %v", in, err)
	}
	var ae *APIError
	if _, err = c.Transmit(ctx, 0, wrongPIN); !errors.As(err, &ae) || ae.Status != http.StatusConflict || !strings.Contains(ae.Message, "mute") {
		t.Fatalf("Transmit after the tear: error %v, want 409 mute", err)
	}
	expectClosed(t, conn)
	if in, err = c.Card(ctx, 0); err != nil || !in.Mute {
		t.Fatalf("Card() after the tear = %+v, %v", in, err)
	}
	if in, err = c.PowerCycle(ctx, 0); err != nil || in.Mute || in.Tear != nil {
		t.Fatalf("PowerCycle() = %+v, %v", in, err)
	}
	f.accept(t)
	if in, err = c.ArmTear(ctx, 0, 5); err != nil || in.Tear == nil || in.Tear.WritesLeft != 5 {
		t.Fatalf("ArmTear(5) = %+v, %v", in, err)
	}
	if in, err = c.ArmTear(ctx, 0, -1); err != nil || in.Tear != nil {
		t.Fatalf("disarm = %+v, %v", in, err)
	}

	// Touch.
	if in, err = c.SetTouchMode(ctx, 0, TouchManual); err != nil || in.TouchMode != TouchManual {
		t.Fatalf("SetTouchMode() = %+v, %v", in, err)
	}
	if tr, err := c.Touch(ctx, 0); err != nil || tr.Waiting {
		t.Errorf("Touch() = %+v, %v, want not waiting", tr, err)
	}

	// Factory reset: the counter is back.
	if _, err = c.FactoryReset(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if st, err = c.State(ctx, 0); err != nil || st.PIN.Tries != 3 {
		t.Errorf("State() after factory reset: PIN %+v, %v", st.PIN, err)
	}

	// Delete, then add back: the card's state was kept.
	c.Transmit(ctx, 3, selectPIV)
	c.Transmit(ctx, 3, wrongPIN)
	if err := c.Delete(ctx, 3, false); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Card(ctx, 3); !errors.As(err, &ae) || ae.Status != http.StatusNotFound {
		t.Errorf("Card(3) after Delete: error %v, want 404", err)
	}
	if _, err := c.Add(ctx, AddRequest{Slot: &slot}); err != nil {
		t.Fatal(err)
	}
	if st, err = c.State(ctx, 3); err != nil || st.PIN.Tries != 2 || st.Profile != "piv" {
		t.Errorf("re-added card 3: profile %q PIN %+v, %v; want piv with 2 tries", st.Profile, st.PIN, err)
	}
	if err := c.Delete(ctx, 3, true); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(sim.cfg.StateDir, "cards", "3")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("card 3's directory after delete --wipe: %v, want gone", err)
	}
}

func TestControlBadRequests(t *testing.T) {
	sim := newTestSim(t, Config{})
	addCard(t, sim, CardSpec{Slot: 0})
	_, sock := startControl(t, sim)
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}}
	tests := []struct {
		method, path, body string
		status             int
		want               string
	}{
		{"GET", "/v1/cards/7", "", 404, "no such card"},
		{"GET", "/v1/cards/x", "", 400, "want a card number"},
		{"GET", "/v1/cards/-1", "", 400, "want a card number"},
		{"GET", "/v1/nothing", "", 404, "no such operation"},
		{"POST", "/v1/cards", `{"slot": 0}`, 409, "already holds a card"},
		{"POST", "/v1/cards", `{"slot": 999}`, 400, "want 0 to"},
		{"POST", "/v1/cards", `{"profile": "nosuch"}`, 400, "neither a built-in profile"},
		{"POST", "/v1/cards", `{"colour": "red"}`, 400, "unknown field"},
		{"POST", "/v1/cards", `{"slot": 1} {"slot": 2}`, 400, "more than one value"},
		{"POST", "/v1/cards", `{"slot": `, 400, "bad JSON"},
		{"POST", "/v1/cards/0/tear", ``, 400, "missing JSON body"},
		{"POST", "/v1/cards/0/tear", `{}`, 400, `missing "after"`},
		{"POST", "/v1/cards/0/tear", `{"after": -2}`, 400, "want 0 or more"},
		{"POST", "/v1/cards/0/tear", `{"after": "many"}`, 400, "bad JSON"},
		{"PUT", "/v1/cards/0/touch-mode", `{"mode": "sometimes"}`, 400, "want auto, manual or never"},
		{"POST", "/v1/cards/0/factory-reset", ``, 400, `send {"wipe": true}`},
		{"POST", "/v1/cards/0/factory-reset", `{"wipe": false}`, 400, `send {"wipe": true}`},
		{"POST", "/v1/cards/0/transmit", `{"apdu": "zz"}`, 400, "not hex"},
		{"POST", "/v1/cards/0/transmit", `{"apdu": "00A4"}`, 400, "at least 4"},
		{"POST", "/v1/cards/0/transmit", `{"apdu": "` + strings.Repeat("00", maxRequestBody) + `"}`, 413, "request body over"},
		{"DELETE", "/v1/cards/0?wipe=perhaps", "", 400, "want true or false"},
		{"PATCH", "/v1/cards/0", "", 404, "no such operation: PATCH"},
	}
	for _, tt := range tests {
		req, _ := http.NewRequest(tt.method, "http://tessera"+tt.path, strings.NewReader(tt.body))
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", tt.method, tt.path, err)
		}
		var eb errorBody
		err = json.NewDecoder(resp.Body).Decode(&eb)
		resp.Body.Close()
		if err != nil {
			t.Errorf("%s %s: answer is not a JSON error: %v", tt.method, tt.path, err)
		}
		if resp.StatusCode != tt.status || !strings.Contains(eb.Error, tt.want) {
			t.Errorf("%s %s %.40s: %d %q, want %d with %q", tt.method, tt.path, tt.body, resp.StatusCode, eb.Error, tt.status, tt.want)
		}
	}
	// The simulator is still there.
	if _, err := NewClient(sock, "").List(context.Background()); err != nil {
		t.Errorf("List() after the bad requests: %v", err)
	}
}

func TestControlBusyCard(t *testing.T) {
	sim := newTestSim(t, Config{})
	r := addCard(t, sim, CardSpec{Slot: 0})
	c, _ := startControl(t, sim)
	r.lock <- struct{}{} // the card is busy, as during a touch wait
	defer func() { <-r.lock }()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := c.State(ctx, 0)
	if err == nil {
		t.Fatal("State() of a busy card succeeded")
	}
	// Listing never waits for a card.
	if _, err := c.List(context.Background()); err != nil {
		t.Errorf("List() with a busy card: %v", err)
	}
}

func TestClientNoSimulator(t *testing.T) {
	sock := filepath.Join(shortTempDir(t), "none.sock")
	_, err := NewClient(sock, "").List(context.Background())
	if err == nil || !strings.Contains(err.Error(), "no simulator answers on "+sock) {
		t.Errorf("List() with no simulator: error %v", err)
	}
}

// TestControlRevealCredentials: a pin-puk-envelope card's random PIN and
// PUK are revealed once through the control API; the second request is
// refused with 409, and the state shows only whether they are unrevealed.
func TestControlRevealCredentials(t *testing.T) {
	sim := newTestSim(t, Config{})
	c, _ := startControl(t, sim)
	ctx := context.Background()
	for _, tt := range []struct {
		profile          string
		wantPIN, wantPUK int // lengths
	}{
		{"pin-puk-envelope", 6, 8},
		{"transport-pin-token", 6, 0},
	} {
		in, err := c.Add(ctx, AddRequest{Profile: tt.profile})
		if err != nil {
			t.Fatal(err)
		}
		st, err := c.State(ctx, in.ID)
		if err != nil || !st.IssuedUnrevealed {
			t.Errorf("%s: State().IssuedUnrevealed = %v, %v; want true", tt.profile, st.IssuedUnrevealed, err)
		}
		got, err := c.RevealCredentials(ctx, in.ID)
		if err != nil || len(got.PIN) != tt.wantPIN || len(got.PUK) != tt.wantPUK {
			t.Errorf("%s: RevealCredentials() = %d-digit PIN, %d-digit PUK, %v; want %d and %d", tt.profile, len(got.PIN), len(got.PUK), err, tt.wantPIN, tt.wantPUK)
		}
		var ae *APIError
		if _, err := c.RevealCredentials(ctx, in.ID); !errors.As(err, &ae) || ae.Status != http.StatusConflict {
			t.Errorf("%s: second RevealCredentials() error %v, want status 409", tt.profile, err)
		}
		if st, err := c.State(ctx, in.ID); err != nil || st.IssuedUnrevealed {
			t.Errorf("%s: after reveal: IssuedUnrevealed = %v, %v; want false", tt.profile, st.IssuedUnrevealed, err)
		}
	}
	// A profile that issues nothing has nothing to reveal.
	in, err := c.Add(ctx, AddRequest{Profile: "default"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.RevealCredentials(ctx, in.ID); err == nil {
		t.Errorf("default: RevealCredentials() succeeded, want an error")
	}
}

// TestControlEnrolTOTP: enrolling a cloud-signature card's TOTP returns an
// otpauth:// URI and shows in the state; other cards refuse (409).
func TestControlEnrolTOTP(t *testing.T) {
	sim := newTestSim(t, Config{})
	c, _ := startControl(t, sim)
	ctx := context.Background()
	in, err := c.Add(ctx, AddRequest{Profile: "cloud-signature"})
	if err != nil {
		t.Fatal(err)
	}
	st, err := c.State(ctx, in.ID)
	if err != nil || st.TOTP == nil || st.TOTP.Enrolled || st.SignaturesLeft == nil || *st.SignaturesLeft != 200 {
		t.Fatalf("State() before enrolment = %+v, %v", st, err)
	}
	e, err := c.EnrolTOTP(ctx, in.ID)
	if err != nil || !strings.HasPrefix(e.URI, "otpauth://totp/") || !strings.Contains(e.URI, "algorithm=SHA1&digits=6&period=30") {
		t.Errorf("EnrolTOTP() = %q, %v", e.URI, err)
	}
	e2, err := c.EnrolTOTP(ctx, in.ID)
	if err != nil || e2.URI == e.URI {
		t.Errorf("re-enrolment: EnrolTOTP() = %q, %v; want a new URI", e2.URI, err)
	}
	if st, err := c.State(ctx, in.ID); err != nil || !st.TOTP.Enrolled || st.TOTP.Tries != 5 {
		t.Errorf("State().TOTP after enrolment = %+v, %v", st.TOTP, err)
	}
	other, err := c.Add(ctx, AddRequest{Profile: "default"})
	if err != nil {
		t.Fatal(err)
	}
	var ae *APIError
	if _, err := c.EnrolTOTP(ctx, other.ID); !errors.As(err, &ae) || ae.Status != http.StatusConflict {
		t.Errorf("EnrolTOTP(default card) error %v, want 409", err)
	}
}
