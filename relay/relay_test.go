package relay

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tesseracard/tessera/apdu"
	"github.com/tesseracard/tessera/firmware/profile"
	"github.com/tesseracard/tessera/hostdriver"
	"github.com/tesseracard/tessera/simulator"
)

// simReader stands in for a real reader: the card in it is another
// simulator's, reached in process. It records every exchange the real card
// sees.
type simReader struct {
	r   *simulator.Reader
	mu  sync.Mutex
	log []exchange
	// otherReset: another program reset the card; the next Transmit says
	// so (ErrCardReset) and sends nothing, as PC/SC does.
	otherReset bool
	// failWaits: the next waits for a card or its removal fail, as they do
	// while pcscd restarts.
	failWaits int
}

type exchange struct{ cmd, resp string }

func (s *simReader) Name() string { return "Real Reader 00 00" }

func (s *simReader) Connect(context.Context) (Conn, error) {
	if !s.r.Info().Inserted {
		return nil, fmt.Errorf("no card: %w", hostdriver.ErrCardRemoved)
	}
	return &simConn{s: s, t: s.r.Transport()}, nil
}

func (s *simReader) wait(ctx context.Context, inserted bool) error {
	s.mu.Lock()
	fail := s.failWaits > 0
	if fail {
		s.failWaits--
	}
	s.mu.Unlock()
	if fail {
		return errors.New("pcsc: watching Real Reader 00 00: scard: Service was stopped")
	}
	for s.r.Info().Inserted != inserted {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
	return nil
}

func (s *simReader) WaitForCard(ctx context.Context) error    { return s.wait(ctx, true) }
func (s *simReader) WaitForRemoval(ctx context.Context) error { return s.wait(ctx, false) }

func (s *simReader) seen() []exchange {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]exchange(nil), s.log...)
}

type simConn struct {
	s *simReader
	t *simulator.Transport
}

func (c *simConn) Transmit(ctx context.Context, cmd []byte) ([]byte, error) {
	c.s.mu.Lock()
	reset := c.s.otherReset
	c.s.otherReset = false
	c.s.mu.Unlock()
	if reset {
		return nil, fmt.Errorf("pcsc: card was reset: %w", ErrCardReset)
	}
	resp, err := c.t.Transmit(ctx, cmd)
	if err == nil {
		c.s.mu.Lock()
		c.s.log = append(c.s.log, exchange{hex.EncodeToString(cmd), hex.EncodeToString(resp)})
		c.s.mu.Unlock()
	}
	return resp, err
}
func (c *simConn) Reset(ctx context.Context) error { return c.t.Reset(ctx) }
func (c *simConn) ATR() ([]byte, error)            { return c.t.ATR(context.Background()) }
func (c *simConn) Close() error                    { return nil }

// recorder is the client's transport to the relayed card, recording what
// it sends and gets.
type recorder struct {
	t   *simulator.Transport
	log []exchange
}

func (r *recorder) Transmit(ctx context.Context, cmd []byte) ([]byte, error) {
	resp, err := r.t.Transmit(ctx, cmd)
	if err == nil {
		r.log = append(r.log, exchange{hex.EncodeToString(cmd), hex.EncodeToString(resp)})
	}
	return resp, err
}

type bench struct {
	real   *simReader
	relay  *simulator.Reader
	relSim *simulator.Simulator
	trace  *bytes.Buffer
	client *recorder
	prof   profile.Profile
}

func newBench(t *testing.T, opts Options) *bench {
	t.Helper()
	realSim, err := simulator.New(simulator.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { realSim.Close() })
	card, err := realSim.Add(simulator.CardSpec{Slot: 0})
	if err != nil {
		t.Fatal(err)
	}
	trace := new(bytes.Buffer)
	relSim, err := simulator.New(simulator.Config{Tracer: simulator.NewTracer(trace)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { relSim.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	real := &simReader{r: card}
	r, err := Start(ctx, relSim, 1, real, opts)
	if err != nil {
		t.Fatal(err)
	}
	prof, _ := profile.Builtin("default")
	return &bench{real: real, relay: r, relSim: relSim, trace: trace, client: &recorder{t: r.Transport()}, prof: prof}
}

// session is a client's PIV session: SELECT, VERIFY, management key
// authentication, a new management key, GET DATA with an Le too short (the
// card's own 6Cxx or 61xx must reach the client).
func (b *bench) session(t *testing.T, newKey []byte) {
	t.Helper()
	ctx := context.Background()
	conn := &hostdriver.Conn{T: b.client}
	pin := append([]byte(b.prof.PIV.PIN), bytes.Repeat([]byte{0xFF}, 8-len(b.prof.PIV.PIN))...)
	cmds := []apdu.Command{
		{INS: apdu.InsSelect, P1: 0x04, Data: []byte{0xA0, 0x00, 0x00, 0x03, 0x08}, Ne: 256},
		{INS: apdu.InsVerify, P2: 0x80, Data: pin},
	}
	for _, c := range cmds {
		r, err := conn.Transmit(ctx, c)
		if err != nil || r.SW != apdu.SWSuccess {
			t.Fatalf("%02X: %v %v", c.INS, r.SW, err)
		}
	}
	alg := b.prof.PIV.MgmtKeyAlgorithmID()
	if err := hostdriver.AuthenticateManagementKey(ctx, conn, alg, b.prof.PIV.MgmtKey, nil); err != nil {
		t.Fatalf("management key: %v", err)
	}
	set := apdu.Command{INS: apdu.InsSetManagementKey, P1: 0xFF, P2: 0xFF, Data: append([]byte{alg, 0x9B, byte(len(newKey))}, newKey...)}
	if r, err := conn.Transmit(ctx, set); err != nil || r.SW != apdu.SWSuccess {
		t.Fatalf("SET MANAGEMENT KEY: %v %v", r.SW, err)
	}
	// One raw exchange, Le = 1: whatever the card says (6Cxx, 61xx, data)
	// comes back untouched.
	raw, _ := hex.DecodeString("00CB3FFF055C035FC10201")
	if _, err := b.client.Transmit(ctx, raw); err != nil {
		t.Fatal(err)
	}
}

func TestRelayForwardsEveryExchangeByteExact(t *testing.T) {
	b := newBench(t, Options{})
	b.session(t, bytes.Repeat([]byte{0x5A}, len(b.prof.PIV.MgmtKey)))
	got, want := b.real.seen(), b.client.log
	if len(got) != len(want) {
		t.Fatalf("the real card saw %d exchanges, the client made %d:\nreal %v\nclient %v", len(got), len(want), got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("exchange %d: real card saw %v, client %v", i, got[i], want[i])
		}
	}
	last := want[len(want)-1].resp
	if sw := last[len(last)-4:]; strings.HasPrefix(sw, "90") {
		t.Logf("GET DATA with Le = 1 answered %s", last)
	}
}

// traceText is the recorded trace, and its exchanges.
func (b *bench) records(t *testing.T) []simulator.TraceRecord {
	t.Helper()
	var recs []simulator.TraceRecord
	if err := simulator.ReadTrace(bytes.NewReader(b.trace.Bytes()), func(r simulator.TraceRecord) error {
		recs = append(recs, r)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return recs
}

func TestRelayTraceRedacted(t *testing.T) {
	for _, secrets := range []bool{false, true} {
		t.Run(fmt.Sprintf("secrets=%v", secrets), func(t *testing.T) {
			b := newBench(t, Options{Secrets: secrets})
			newKey := bytes.Repeat([]byte{0x5A}, len(b.prof.PIV.MgmtKey))
			b.session(t, newKey)
			text := strings.ToUpper(b.trace.String())
			pinHex := strings.ToUpper(hex.EncodeToString([]byte(b.prof.PIV.PIN)))
			keyHex := strings.ToUpper(hex.EncodeToString(newKey))
			for what, s := range map[string]string{"PIN": pinHex, "new management key": keyHex} {
				if got := strings.Contains(text, s); got != secrets {
					t.Errorf("trace holds the %s (%s): %v, want %v", what, s, got, secrets)
				}
			}
			recs := b.records(t)
			var exchanges int
			for _, r := range recs {
				if r.Command != "" {
					exchanges++
					if r.Card != 1 {
						t.Errorf("record of card %d, want 1", r.Card)
					}
				}
			}
			if exchanges != len(b.client.log) {
				t.Errorf("trace has %d exchanges, the client made %d", exchanges, len(b.client.log))
			}
			// What is safe stays visible: the SELECT and its answer.
			sel := recs[0]
			for _, r := range recs {
				if strings.HasPrefix(r.Command, "00A40400") {
					sel = r
					break
				}
			}
			if strings.Contains(sel.Command+sel.Response, "XX") {
				t.Errorf("SELECT recorded as %s → %s, want it in clear", sel.Command, sel.Response)
			}
		})
	}
}

func TestRelayPowerResetAndATR(t *testing.T) {
	b := newBench(t, Options{})
	ctx := context.Background()
	wantATR, err := b.real.r.Transport().ATR(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b.session(t, b.prof.PIV.MgmtKey)
	status := []byte{0x00, apdu.InsVerify, 0x00, 0x80}
	resp, err := b.client.Transmit(ctx, status)
	if err != nil || !bytes.Equal(resp, []byte{0x90, 0x00}) {
		t.Fatalf("VERIFY status after VERIFY = % X, %v; want 9000", resp, err)
	}
	if err := b.relay.Transport().Reset(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := b.client.Transmit(ctx, []byte{0x00, 0xA4, 0x04, 0x00, 0x05, 0xA0, 0x00, 0x00, 0x03, 0x08}); err != nil {
		t.Fatal(err)
	}
	if resp, err = b.client.Transmit(ctx, status); err != nil || resp[0] != 0x63 {
		t.Errorf("VERIFY status after a reset = % X, %v; want 63Cx: the real card was not reset", resp, err)
	}
	got, err := b.relay.Transport().ATR(ctx)
	if err != nil || !bytes.Equal(got, wantATR) {
		t.Errorf("relayed ATR = % X, %v; want the real card's % X", got, err, wantATR)
	}
	var events []string
	for _, r := range b.records(t) {
		if r.Event != "" {
			events = append(events, r.Event+" "+r.Detail)
		}
	}
	want := []string{"power-on ATR " + strings.ToUpper(hex.EncodeToString(wantATR)), "reset ", "power-on ATR " + strings.ToUpper(hex.EncodeToString(wantATR))}
	if strings.Join(events, "|") != strings.Join(want, "|") {
		t.Errorf("events %q, want %q", events, want)
	}
}

func TestRelayFollowsRemoval(t *testing.T) {
	b := newBench(t, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := b.real.r.Remove(ctx); err != nil {
		t.Fatal(err)
	}
	b.waitInserted(ctx, t, false, "the relayed card stayed in its reader after the real card left")
	if _, err := b.client.Transmit(ctx, []byte{0x00, 0xA4, 0x04, 0x00, 0x00}); !errors.Is(err, simulator.ErrRemoved) {
		t.Errorf("Transmit after removal = %v, want ErrRemoved", err)
	}
	if err := b.real.r.Insert(ctx); err != nil {
		t.Fatal(err)
	}
	b.waitInserted(ctx, t, true, "the relayed card did not come back with the real card")
	if resp, err := b.client.Transmit(ctx, []byte{0x00, 0xA4, 0x04, 0x00, 0x05, 0xA0, 0x00, 0x00, 0x03, 0x08}); err != nil || !bytes.HasSuffix(resp, []byte{0x90, 0x00}) {
		t.Errorf("SELECT after reinsertion = % X, %v; want 9000", resp, err)
	}
}

// TestRelayRefusesWhatIsNotItsOwn: the control API answers 409 for what
// needs the card's memory or sensor; a real card's are its own.
func TestRelayRefusesWhatIsNotItsOwn(t *testing.T) {
	b := newBench(t, Options{})
	h := simulator.ControlHandler(b.relSim, nil, "tok")
	routes := []struct{ method, path, body string }{
		{"GET", "/v1/cards/1/state", ""},
		{"POST", "/v1/cards/1/tear", `{"after":1}`},
		{"POST", "/v1/cards/1/factory-reset", `{"wipe":true}`},
		{"POST", "/v1/cards/1/touch", ""},
		{"PUT", "/v1/cards/1/touch-mode", `{"mode":"manual"}`},
		{"POST", "/v1/cards/1/reveal-credentials", ""},
		{"POST", "/v1/cards/1/totp-enrol", ""},
	}
	for _, rt := range routes {
		q := httptest.NewRequest(rt.method, "http://127.0.0.1"+rt.path, strings.NewReader(rt.body))
		q.Header.Set("Authorization", "Bearer tok")
		q.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, q)
		if w.Code != http.StatusConflict || !strings.Contains(w.Body.String(), "relayed card") {
			t.Errorf("%s %s = %d %s, want 409 naming the relayed card", rt.method, rt.path, w.Code, w.Body)
		}
	}
	q := httptest.NewRequest("POST", "http://127.0.0.1/v1/cards/1/transmit", strings.NewReader(`{"apdu":"00A4040005A000000308"}`))
	q.Header.Set("Authorization", "Bearer tok")
	q.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, q)
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"sw": "9000"`) {
		t.Errorf("transmit = %d %s, want 200 and 9000", w.Code, w.Body)
	}
}

// TestRelayResetByAnotherProgram: a reset by another program before the
// host sent anything costs the host nothing (the command goes again); in
// the middle of its session, the host's card leaves the reader instead of
// answering as if nothing happened.
func TestRelayResetByAnotherProgram(t *testing.T) {
	b := newBench(t, Options{})
	ctx := context.Background()
	sel := []byte{0x00, 0xA4, 0x04, 0x00, 0x05, 0xA0, 0x00, 0x00, 0x03, 0x08}
	if err := b.relay.Transport().Reset(ctx); err != nil {
		t.Fatal(err)
	}
	b.real.mu.Lock()
	b.real.otherReset = true
	b.real.mu.Unlock()
	if resp, err := b.client.Transmit(ctx, sel); err != nil || !bytes.HasSuffix(resp, []byte{0x90, 0x00}) {
		t.Fatalf("SELECT after a reset by another program, nothing sent yet = % X, %v; want 9000", resp, err)
	}
	b.real.mu.Lock()
	b.real.otherReset = true
	b.real.mu.Unlock()
	if _, err := b.client.Transmit(ctx, sel); !errors.Is(err, ErrCardReset) {
		t.Errorf("SELECT after a reset by another program mid-session = %v, want ErrCardReset", err)
	}
	var lost bool
	for _, r := range b.records(t) {
		lost = lost || r.Event == "relay-error"
	}
	if !lost {
		t.Error("no relay-error event in the trace")
	}
}

// TestRelayWatchOutlivesAFailedWait: the watch of the real reader goes on
// after its waits fail (pcscd restarting): the real card's removal and
// return still reach the relayed card. Before, the first failed wait ended
// the watch, and the relayed card stayed in its reader after the real card
// left.
func TestRelayWatchOutlivesAFailedWait(t *testing.T) {
	b := newBench(t, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b.real.mu.Lock()
	b.real.failWaits = 3
	b.real.mu.Unlock()
	if err := b.real.r.Remove(ctx); err != nil {
		t.Fatal(err)
	}
	b.waitInserted(ctx, t, false, "the relayed card stayed in its reader after the real card left: the watch ended at a failed wait")
	b.real.mu.Lock()
	b.real.failWaits = 2
	b.real.mu.Unlock()
	if err := b.real.r.Insert(ctx); err != nil {
		t.Fatal(err)
	}
	b.waitInserted(ctx, t, true, "the relayed card did not come back with the real card after failed waits")
}

// waitInserted waits until the relayed card is in its reader (want) or out
// of it, failing with msg when ctx ends first.
func (b *bench) waitInserted(ctx context.Context, t *testing.T, want bool, msg string) {
	t.Helper()
	for b.relay.Info().Inserted != want {
		if ctx.Err() != nil {
			t.Fatal(msg)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
