// Package relay puts a real card behind a simulator reader: every command
// APDU a host sends to the simulator's (vpcd) reader goes to the card in a
// real reader, byte for byte, and its answer comes back as it is, no GET
// RESPONSE or 6Cxx handling of its own, so a client sees exactly the
// card's 61xx and 6Cxx; power-on and reset reset the real card, its ATR is
// the real card's, and when the real card leaves its reader the relayed one
// leaves the vpcd reader. The simulator records the session as a trace
// (simulator.TraceRecord), redacted by the host side's rule set
// (hostdriver.Redactor), since no applet of ours decides what the real
// card's secrets are, unless Options.Secrets.
//
// The package knows no PC/SC: a real reader is a [Reader], which
// cmd/tessera makes from hostdriver/pcsc, and tests from another
// simulator's card.
package relay

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/tesseracard/tessera/hostdriver"
	"github.com/tesseracard/tessera/simulator"
)

// Conn is a connection to the card in a real reader; hostdriver/pcsc's
// *Card satisfies it. Transmit must send the bytes as they are and return
// the card's answer as it is.
type Conn interface {
	hostdriver.Transport
	// ATR returns the card's answer to reset.
	ATR() ([]byte, error)
	// Reset resets the card (a reconnection with reset, for PC/SC).
	Reset(ctx context.Context) error
	// Close lets the card go, leaving it as it is.
	Close() error
}

// Reader is a real reader.
type Reader interface {
	// Name names the reader, for traces and logs.
	Name() string
	// Connect connects to the card in the reader.
	Connect(ctx context.Context) (Conn, error)
	// WaitForCard returns when a card is in the reader, or ctx's error.
	WaitForCard(ctx context.Context) error
	// WaitForRemoval returns when the reader is empty, or ctx's error.
	WaitForRemoval(ctx context.Context) error
}

// Options configure a relay.
type Options struct {
	// Secrets: the trace shows everything, PINs and keys in clear. Off,
	// hostdriver.Redactor decides what a trace may show.
	Secrets bool
}

// Card is the real card in a Reader as a simulator.Backend. Its methods are
// called one at a time (the simulator's reader serialises them).
type Card struct {
	reader  Reader
	secrets bool
	mu      sync.Mutex // guards what follows, for ATR read by Info-like callers
	conn    Conn       // nil while the card is not powered
	atr     []byte     // the last ATR read
	// fresh: nothing was sent since the card was powered on or reset, so a
	// reset by another program has cost the host nothing.
	fresh    bool
	redactor hostdriver.Redactor
}

// NewCard returns the card in reader as a simulator.Backend.
func NewCard(reader Reader, opts Options) *Card {
	return &Card{reader: reader, secrets: opts.Secrets}
}

var _ simulator.Backend = (*Card)(nil)

// PowerOn connects to the real card if need be and resets it, so that the
// host starts with a card as fresh as after a power-on, and returns its ATR.
func (c *Card) PowerOn(ctx context.Context) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.redactor = hostdriver.Redactor{}
	if c.conn == nil {
		conn, err := c.reader.Connect(ctx)
		if err != nil {
			return nil, fmt.Errorf("connecting to the card in %s: %w", c.reader.Name(), err)
		}
		c.conn = conn
	}
	if err := c.conn.Reset(ctx); err != nil {
		c.dropLocked()
		return nil, fmt.Errorf("resetting the card in %s: %w", c.reader.Name(), err)
	}
	atr, err := c.conn.ATR()
	if err != nil {
		c.dropLocked()
		return nil, fmt.Errorf("reading the ATR of the card in %s: %w", c.reader.Name(), err)
	}
	c.atr, c.fresh = atr, true
	return atr, nil
}

// ErrCardReset is what a Conn's Transmit wraps when another program reset
// the card (the connection is usable again, the card's RAM state is gone).
var ErrCardReset = errors.New("relay: the card was reset by another program")

// PowerOff lets the real card go.
func (c *Card) PowerOff(context.Context) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.dropLocked()
}

func (c *Card) dropLocked() {
	if c.conn != nil {
		c.conn.Close()
		c.conn = nil
	}
}

// ATR returns the real card's ATR: the last one read, or, before the first
// power-on, one read by connecting to it for a moment.
func (c *Card) ATR(ctx context.Context) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.atr != nil {
		return c.atr, nil
	}
	conn := c.conn
	if conn == nil {
		var err error
		if conn, err = c.reader.Connect(ctx); err != nil {
			return nil, fmt.Errorf("connecting to the card in %s: %w", c.reader.Name(), err)
		}
		defer conn.Close()
	}
	atr, err := conn.ATR()
	if err != nil {
		return nil, fmt.Errorf("reading the ATR of the card in %s: %w", c.reader.Name(), err)
	}
	c.atr = atr
	return atr, nil
}

// ErrNotPowered is returned by Transmit before PowerOn.
var ErrNotPowered = errors.New("relay: the card is not powered")

// Transmit sends cmd to the real card as it is and returns its answer as it
// is.
//
// When another program reset the card (ErrCardReset) before anything was
// sent since the host's power-on or reset, the host has lost nothing and
// the command is sent again; later, the host's session on the card is gone
// and the error is returned, so that the simulator takes the card out of
// its reader for a moment and the host starts afresh.
func (c *Card) Transmit(ctx context.Context, cmd []byte) ([]byte, error) {
	c.mu.Lock()
	conn, fresh := c.conn, c.fresh
	c.fresh = false
	c.mu.Unlock()
	if conn == nil {
		return nil, ErrNotPowered
	}
	resp, err := conn.Transmit(ctx, cmd)
	if fresh && errors.Is(err, ErrCardReset) {
		resp, err = conn.Transmit(ctx, cmd)
	}
	return resp, err
}

// Disclose says what the trace may show of an exchange: everything with
// Options.Secrets, else what hostdriver.Redactor allows.
func (c *Card) Disclose(cmd, resp []byte) simulator.Disclosure {
	showCmd, showResp := c.redactor.Disclose(cmd, resp)
	if c.secrets {
		return simulator.Disclosure{Command: true, Response: true}
	}
	return simulator.Disclosure{Command: showCmd, Response: showResp}
}

// forget drops the cached ATR: the card left its reader, the next may be
// another.
func (c *Card) forget() {
	c.mu.Lock()
	c.atr = nil
	c.mu.Unlock()
}

// Start adds a relayed card for reader to sim in slot (negative: the
// lowest free) and follows the real card's presence until ctx ends: when it
// leaves its reader, the relayed card is removed from its simulator reader;
// when a card is back, it is inserted. The relayed card starts inserted if
// a card is in the reader now.
func Start(ctx context.Context, sim *simulator.Simulator, slot int, reader Reader, opts Options) (*simulator.Reader, error) {
	card := NewCard(reader, opts)
	r, err := sim.AddRelay(simulator.RelaySpec{Slot: slot, Name: reader.Name(), Backend: card})
	if err != nil {
		return nil, err
	}
	go watch(ctx, reader, card, r)
	return r, nil
}

// watchRetry is how long watch waits before it watches again after a
// failed wait (pcscd restarting, a reader driver's hiccup).
const watchRetry = 500 * time.Millisecond

// watch follows the real card's comings and goings until ctx ends. A wait
// that fails is tried again after watchRetry: before, the first failure
// (pcscd restarted, say) ended the watch for good, and the relayed card
// stayed in or out of its vpcd reader whatever the real card did.
func watch(ctx context.Context, reader Reader, card *Card, r *simulator.Reader) {
	for ctx.Err() == nil {
		if !retrying(ctx, reader.WaitForRemoval) {
			return
		}
		card.forget()
		if err := r.Remove(ctx); err != nil {
			return
		}
		if !retrying(ctx, reader.WaitForCard) {
			return
		}
		if err := r.Insert(ctx); err != nil {
			return
		}
	}
}

// retrying calls wait until it succeeds, pausing watchRetry after each
// failure; it reports false when ctx ends first.
func retrying(ctx context.Context, wait func(context.Context) error) bool {
	for {
		if wait(ctx) == nil {
			return true
		}
		t := time.NewTimer(watchRetry)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return false
		}
	}
}
