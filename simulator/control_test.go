package simulator

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/tesseracard/tessera/internal/hosttest"
)

// startControl serves sim's control API on a unix socket in a temporary
// directory and returns a client for it.
func startControl(t *testing.T, sim *Simulator) (*Client, string) {
	t.Helper()
	sock := filepath.Join(hosttest.ShortDir(t), "control.sock")
	ln, err := ListenControl(sock, "")
	if err != nil {
		t.Fatal(err)
	}
	serveControl(t, ln, sim, "")
	return NewClient(sock, ""), sock
}

// serveControl serves sim's control API on ln until the test ends.
func serveControl(t *testing.T, ln net.Listener, sim *Simulator, token string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ServeControl(ctx, ln, sim, nil, token) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("ServeControl: %v", err)
		}
	})
}

// unixHTTPClient is a plain HTTP client that dials the unix socket sock.
func unixHTTPClient(sock string) *http.Client {
	return &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}}
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
	dir := hosttest.ShortDir(t)
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
	hc := unixHTTPClient(sock)
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
		if tt.method != "GET" {
			req.Header.Set("Content-Type", "application/json")
		}
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
	sock := filepath.Join(hosttest.ShortDir(t), "none.sock")
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

// startControlTCP serves the control API of a simulator with one card, in
// slot 0, on a loopback TCP port with a new token, and returns the address
// and the token.
func startControlTCP(t *testing.T) (addr, token string) {
	t.Helper()
	sim := newTestSim(t, Config{})
	addCard(t, sim, CardSpec{Slot: 0})
	token, err := NewControlToken()
	if err != nil {
		t.Fatal(err)
	}
	ln, err := ListenControl("", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serveControl(t, ln, sim, token)
	return ln.Addr().String(), token
}

// controlRequest is a raw request to the control API for the tests of its
// guards: headers as given, nothing added but Host.
type controlRequest struct {
	name               string
	method, path, body string
	header             map[string]string
	wantStatus         int
	wantError          string // in the JSON error, for a failure
}

// do sends the request with hc to base and checks the answer.
func (tt controlRequest) do(t *testing.T, hc *http.Client, base string) {
	t.Helper()
	var body io.Reader
	if tt.body != "" {
		body = strings.NewReader(tt.body)
	}
	req, err := http.NewRequest(tt.method, base+tt.path, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range tt.header {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("%s: %v", tt.name, err)
	}
	defer resp.Body.Close()
	var eb errorBody
	b, _ := io.ReadAll(resp.Body)
	json.Unmarshal(b, &eb)
	if resp.StatusCode != tt.wantStatus || !strings.Contains(eb.Error, tt.wantError) {
		t.Errorf("%s: %s %s: %d %s, want %d with %q", tt.name, tt.method, tt.path, resp.StatusCode, bytes.TrimSpace(b), tt.wantStatus, tt.wantError)
	}
	if resp.StatusCode == http.StatusUnauthorized && resp.Header.Get("WWW-Authenticate") == "" {
		t.Errorf("%s: 401 without WWW-Authenticate", tt.name)
	}
}

// TestControlTCPGuards: over TCP the control API wants the bearer token, a
// loopback Host, no browser headers and JSON bodies; a refused request
// changes nothing.
func TestControlTCPGuards(t *testing.T) {
	addr, token := startControlTCP(t)
	_, port, _ := net.SplitHostPort(addr)
	wrong, _ := NewControlToken()
	bearer := "Bearer " + token
	ctJSON := "application/json"
	tests := []controlRequest{
		{"no token", "GET", "/v1/cards", "", nil, 401, "bearer token"},
		{"wrong token", "GET", "/v1/cards", "", map[string]string{"Authorization": "Bearer " + wrong}, 401, "bearer token"},
		{"token prefix", "GET", "/v1/cards", "", map[string]string{"Authorization": bearer[:len(bearer)-1]}, 401, "bearer token"},
		{"token as Basic", "GET", "/v1/cards", "", map[string]string{"Authorization": "Basic " + token}, 401, "bearer token"},
		{"no token, destructive", "DELETE", "/v1/cards/0?wipe=true", "", map[string]string{"Content-Type": ctJSON}, 401, "bearer token"},
		{"right token", "GET", "/v1/cards", "", map[string]string{"Authorization": bearer}, 200, ""},
		{"scheme in lower case", "GET", "/v1/cards", "", map[string]string{"Authorization": "bearer " + token}, 200, ""},
		{"Host localhost", "GET", "/v1/cards", "", map[string]string{"Authorization": bearer, "Host": "localhost:" + port}, 200, ""},
		{"Host [::1]", "GET", "/v1/cards", "", map[string]string{"Authorization": bearer, "Host": "[::1]:" + port}, 200, ""},
		{"Host rebound name", "GET", "/v1/cards", "", map[string]string{"Authorization": bearer, "Host": "evil.example:" + port}, 403, "Host"},
		{"Host rebound, no token", "GET", "/v1/cards", "", map[string]string{"Host": "evil.example:" + port}, 403, "Host"},
		{"Host localhost.evil.example", "GET", "/v1/cards", "", map[string]string{"Authorization": bearer, "Host": "localhost.evil.example"}, 403, "Host"},
		{"Origin", "GET", "/v1/cards", "", map[string]string{"Authorization": bearer, "Origin": "http://evil.example"}, 403, "Origin"},
		{"Origin null", "POST", "/v1/cards/0/remove", "", map[string]string{"Authorization": bearer, "Origin": "null", "Content-Type": ctJSON}, 403, "Origin"},
		{"Sec-Fetch-Site", "GET", "/v1/cards", "", map[string]string{"Authorization": bearer, "Sec-Fetch-Site": "cross-site"}, 403, "Sec-Fetch-Site"},
		{"text/plain POST", "POST", "/v1/cards/0/tear", `{"after": 0}`, map[string]string{"Authorization": bearer, "Content-Type": "text/plain"}, 415, "want application/json"},
		{"POST without Content-Type", "POST", "/v1/cards/0/remove", "", map[string]string{"Authorization": bearer}, 415, "want application/json"},
		{"form DELETE", "DELETE", "/v1/cards/0?wipe=true", "", map[string]string{"Authorization": bearer, "Content-Type": "application/x-www-form-urlencoded"}, 415, "want application/json"},
		{"GET with a text body", "GET", "/v1/cards", "x", map[string]string{"Authorization": bearer, "Content-Type": "text/plain"}, 415, "want application/json"},
		{"JSON with charset", "POST", "/v1/cards/0/power-cycle", "", map[string]string{"Authorization": bearer, "Content-Type": "application/json; charset=utf-8"}, 200, ""},
	}
	hc := &http.Client{}
	for _, tt := range tests {
		tt.do(t, hc, "http://"+addr)
	}
	// None of the refused requests removed, tore or deleted the card.
	in, err := NewClient("", addr, WithToken(token)).Card(context.Background(), 0)
	if err != nil || !in.Inserted || in.Tear != nil || in.Mute {
		t.Errorf("card 0 after the refused requests = %+v, %v; want inserted, no tear", in, err)
	}
}

// TestControlUnixGuards: on the unix socket no token is needed and any Host
// is fine; browser headers and non-JSON bodies are refused all the same.
func TestControlUnixGuards(t *testing.T) {
	sim := newTestSim(t, Config{})
	addCard(t, sim, CardSpec{Slot: 0})
	_, sock := startControl(t, sim)
	hc := unixHTTPClient(sock)
	tests := []controlRequest{
		{"no token", "GET", "/v1/cards", "", nil, 200, ""},
		{"any Host", "GET", "/v1/cards", "", map[string]string{"Host": "evil.example"}, 200, ""},
		{"Origin", "GET", "/v1/cards", "", map[string]string{"Origin": "http://evil.example"}, 403, "Origin"},
		{"text/plain POST", "POST", "/v1/cards/0/remove", "{}", map[string]string{"Content-Type": "text/plain"}, 415, "want application/json"},
		{"JSON POST", "POST", "/v1/cards/0/power-cycle", "", map[string]string{"Content-Type": "application/json"}, 200, ""},
	}
	for _, tt := range tests {
		tt.do(t, hc, "http://tessera")
	}
}

// TestControlClientToken: the client sends its token over TCP; without one
// it gets a 401 APIError.
func TestControlClientToken(t *testing.T) {
	addr, token := startControlTCP(t)
	ctx := context.Background()
	c := NewClient("", addr, WithToken(token))
	if cards, err := c.List(ctx); err != nil || len(cards) != 1 {
		t.Errorf("List() with the token = %+v, %v", cards, err)
	}
	if _, err := c.Remove(ctx, 0); err != nil {
		t.Errorf("Remove() with the token: %v", err)
	}
	var ae *APIError
	if _, err := NewClient("", addr).List(ctx); !errors.As(err, &ae) || ae.Status != http.StatusUnauthorized {
		t.Errorf("List() without a token: error %v, want status 401", err)
	}
}

func TestServeControlTCPNeedsToken(t *testing.T) {
	sim := newTestSim(t, Config{})
	ln, err := ListenControl("", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if err := ServeControl(context.Background(), ln, sim, nil, ""); err == nil || !strings.Contains(err.Error(), "no token") {
		t.Errorf("ServeControl(TCP, no token) = %v, want an error", err)
	}
}

func TestControlTokenFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, ControlTokenFile)
	// An older token file, readable by all, is replaced by a private one.
	if err := os.WriteFile(path, []byte("old\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	token, err := NewControlToken()
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteControlToken(path, token); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
		t.Errorf("token file mode = %v, want 0600", fi.Mode().Perm())
	}
	if got, err := ReadControlToken(path); err != nil || got != token {
		t.Errorf("ReadControlToken() = %q, %v; want %q", got, err, token)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("the directory holds %d files after WriteControlToken, want only the token", len(entries))
	}
	other, _ := NewControlToken()
	if other == token {
		t.Error("NewControlToken() made the same token twice")
	}

	bad := filepath.Join(dir, "bad")
	os.WriteFile(bad, []byte("not a token"), 0o600)
	if _, err := ReadControlToken(bad); !errors.Is(err, ErrBadControlToken) {
		t.Errorf("ReadControlToken(garbage) error %v, want ErrBadControlToken", err)
	}
	if _, err := ReadControlToken(filepath.Join(dir, "none")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ReadControlToken(missing) error %v, want fs.ErrNotExist", err)
	}
	if err := WriteControlToken(path, "short"); !errors.Is(err, ErrBadControlToken) {
		t.Errorf("WriteControlToken(short) error %v, want ErrBadControlToken", err)
	}
}

// TestControlClosesIdleConnections: a connection left idle after its
// request (here one refused for want of a token, as anyone on the machine
// may send over TCP) is closed, so that unauthenticated clients cannot
// hold the simulator's file descriptors.
func TestControlClosesIdleConnections(t *testing.T) {
	sim := newTestSim(t, Config{})
	ln, err := ListenControl("", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	token, err := NewControlToken()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serveControlIdle(ctx, ln, sim, nil, token, 200*time.Millisecond) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serveControlIdle: %v", err)
		}
	})
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, "GET /v1/cards HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	start := time.Now()
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("reading until the server closes the idle connection: %v (after %v; read %q)", err, time.Since(start), got)
	}
	if !strings.HasPrefix(string(got), "HTTP/1.1 401") {
		t.Errorf("answer %q, want 401", got)
	}
}
