package simtarget

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/tesseracard/tessera/hostdriver"
	"github.com/tesseracard/tessera/simulator"
)

// Options describe the card Open starts.
type Options struct {
	// Profile is a built-in profile's name or a YAML profile file; empty
	// is "default".
	Profile string
	// Dir is the directory the card's state lives in, as in tessera sim
	// --state; empty keeps it in RAM, and then the card cannot Restart.
	Dir string
	// Start is the card's clock when it starts; zero is now, to the
	// second. The clock moves only when AdvanceClock says.
	Start time.Time
}

// ErrNoState is returned by Restart on a card whose state is in RAM: a
// restart would bring it back factory-fresh, not as it was.
var ErrNoState = errors.New("simtarget: restarting needs a state directory (Options.Dir)")

// Card is a simulated card in process, in a simulator of its own: card 0,
// its state in Options.Dir or in RAM, with a virtual clock. Its methods are
// safe for use by one goroutine at a time.
type Card struct {
	profile string
	dir     string
	clock   *clock
	sim     *simulator.Simulator
	r       *simulator.Reader
	name    string
	// cleanup, if set, runs after Close (ForScenario's temporary directory).
	cleanup func()
}

// Open starts a simulator with one card of the profile, factory-fresh unless
// Dir holds the state of an earlier one.
func Open(opts Options) (*Card, error) {
	start := opts.Start
	if start.IsZero() {
		start = time.Now().UTC().Truncate(time.Second)
	}
	c := &Card{profile: opts.Profile, dir: opts.Dir, clock: &clock{now: start}}
	if c.profile == "" {
		c.profile = "default"
	}
	if err := c.start(); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *Card) start() error {
	sim, err := simulator.New(simulator.Config{StateDir: c.dir, Profile: c.profile, Clock: c.clock.Now})
	if err != nil {
		return err
	}
	r, err := sim.Add(simulator.CardSpec{Slot: 0})
	if err != nil {
		sim.Close()
		return err
	}
	c.sim, c.r = sim, r
	c.name = r.Info().Profile
	if p, err := simulator.ResolveProfile(c.profile); err == nil {
		c.name = p.Name
	}
	return nil
}

// Profile returns the name of the card's profile.
func (c *Card) Profile() string { return c.name }

// Reader returns the card's reader in the simulator, for what the Card does
// not offer itself (its state, traces, fault injection). Restart replaces
// it.
func (c *Card) Reader() *simulator.Reader { return c.r }

// cardErr maps the simulator's mute and removed cards to
// hostdriver.ErrCardRemoved, which a PC/SC transport returns for the same
// condition; the simulator's error stays wrapped too.
func cardErr(err error) error {
	if errors.Is(err, simulator.ErrMute) || errors.Is(err, simulator.ErrRemoved) {
		return fmt.Errorf("%w: %w", hostdriver.ErrCardRemoved, err)
	}
	return err
}

// Transmit sends one command APDU and returns the response APDU. A card
// that is mute (power cut) or out of its reader gives an error wrapping
// hostdriver.ErrCardRemoved.
func (c *Card) Transmit(ctx context.Context, cmd []byte) ([]byte, error) {
	out, err := c.r.Transport().Transmit(ctx, cmd)
	return out, cardErr(err)
}

// Reset gives the card a warm reset (conformance.Resetter).
func (c *Card) Reset(ctx context.Context) error { return cardErr(c.r.Transport().Reset(ctx)) }

// ATR returns the card's answer to reset.
func (c *Card) ATR(ctx context.Context) ([]byte, error) { return c.r.Transport().ATR(ctx) }

// ArmPowerCut plans a power cut after k more writes to persistent memory;
// k < 0 disarms (conformance.PowerCutter).
func (c *Card) ArmPowerCut(ctx context.Context, k int) error { return c.r.ArmTear(ctx, k) }

// PowerCycle powers the card off and on again.
func (c *Card) PowerCycle(ctx context.Context) error { return c.r.PowerCycle(ctx) }

// Remove pulls the card out of its reader.
func (c *Card) Remove(ctx context.Context) error { return c.r.Remove(ctx) }

// Insert puts the card back in its reader.
func (c *Card) Insert(ctx context.Context) error { return c.r.Insert(ctx) }

// AdvanceClock moves the card's clock forward by d.
func (c *Card) AdvanceClock(d time.Duration) { c.clock.Advance(d) }

// Now returns the card's clock.
func (c *Card) Now() time.Time { return c.clock.Now() }

// Restart stops the simulator and starts it again on the same state, as a
// process restart would. It returns ErrNoState when the state is in RAM.
func (c *Card) Restart(context.Context) error {
	if c.dir == "" {
		return ErrNoState
	}
	if err := c.sim.Close(); err != nil {
		return err
	}
	return c.start()
}

// SetTouchMode sets the touch sensor: auto, manual or never.
func (c *Card) SetTouchMode(mode string) error {
	m, err := simulator.ParseTouchMode(mode)
	if err != nil {
		return err
	}
	c.r.SetTouchMode(m)
	return nil
}

// RevealCredentials returns the random PIN and PUK the card was issued with
// (empty: the profile's own), once; a second call fails.
func (c *Card) RevealCredentials(ctx context.Context) (pin, puk string, err error) {
	in, err := c.r.RevealCredentials(ctx)
	return in.PIN, in.PUK, err
}

// EnrolTOTP (re-)enrols a cloud-signature card's TOTP authorisation and
// returns the otpauth:// URI of its seed.
func (c *Card) EnrolTOTP(ctx context.Context) (uri string, err error) {
	e, err := c.r.EnrolTOTP(ctx)
	return e.URI, err
}

// Close stops the simulator; the state in Dir stays.
func (c *Card) Close() error {
	err := c.sim.Close()
	if c.cleanup != nil {
		c.cleanup()
	}
	return err
}

// clock is a clock that moves only when told.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}
