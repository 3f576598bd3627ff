package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/tesseracard/tessera/conformance"
	"github.com/tesseracard/tessera/firmware/profile"
	"github.com/tesseracard/tessera/hostdriver"
	"github.com/tesseracard/tessera/hostdriver/pcsc"
	"github.com/tesseracard/tessera/simulator"
)

// simCard is a simulated card in process, in a simulator of its own: a
// conformance.Card that can be reset and have its power cut.
type simCard struct {
	sim *simulator.Simulator
	r   *simulator.Reader
	t   *simulator.Transport
}

// newSimCard starts a simulator with one factory-fresh card of the profile
// (a built-in name or a YAML file) in RAM.
func newSimCard(profileName string) (*simCard, error) {
	sim, err := simulator.New(simulator.Config{Profile: profileName})
	if err != nil {
		return nil, err
	}
	r, err := sim.Add(simulator.CardSpec{Slot: 0})
	if err != nil {
		sim.Close()
		return nil, err
	}
	return &simCard{sim: sim, r: r, t: r.Transport()}, nil
}

// Transmit sends one APDU. A card that is mute (power cut) or out of its
// reader gives an error wrapping hostdriver.ErrCardRemoved.
func (c *simCard) Transmit(ctx context.Context, cmd []byte) ([]byte, error) {
	out, err := c.t.Transmit(ctx, cmd)
	if errors.Is(err, simulator.ErrMute) || errors.Is(err, simulator.ErrRemoved) {
		return nil, fmt.Errorf("%w: %w", hostdriver.ErrCardRemoved, err)
	}
	return out, err
}

func (c *simCard) Reset(ctx context.Context) error {
	_, err := c.t.Reset(ctx)
	return err
}

func (c *simCard) ArmPowerCut(ctx context.Context, k int) error { return c.r.ArmTear(ctx, k) }
func (c *simCard) PowerCycle(ctx context.Context) error         { return c.r.PowerCycle(ctx) }
func (c *simCard) Close() error                                 { return c.sim.Close() }

// simTarget is the simulator in process: a factory-fresh card of the
// profile for every case, and the profile's factory credentials. A card
// issued with random credentials (personas transport-pin-token and
// pin-puk-envelope) is tested as delivered: its envelope is opened (the
// control API's reveal) and the suite uses the values inside, so a
// transport PIN is still a transport PIN and the report names its
// persona difference.
func simTarget(profileName string) (conformance.Target, conformance.Credentials, error) {
	p, err := profile.Resolve(profileName)
	if err != nil {
		return conformance.Target{}, conformance.Credentials{}, err
	}
	creds := conformance.Credentials{PIN: p.PIV.PIN, PUK: p.PIV.PUK, MgmtKey: p.PIV.MgmtKey, MgmtAlg: p.PIV.MgmtKeyAlgorithmID()}
	t := conformance.Target{
		Name:  fmt.Sprintf("the simulator in process (profile %s)", p.Name),
		Fresh: true,
		Open: func(ctx context.Context) (conformance.Card, error) {
			c, err := newSimCard(profileName)
			if err != nil || !(p.PIV.RandomPIN || p.PIV.RandomPUK) {
				return c, err
			}
			in, err := c.r.RevealCredentials(ctx)
			if err != nil {
				c.Close()
				return nil, fmt.Errorf("opening the card's envelope: %w", err)
			}
			own := creds
			if in.PIN != "" {
				own.PIN = in.PIN
			}
			if in.PUK != "" {
				own.PUK = in.PUK
			}
			return issuedCard{c, own}, nil
		},
	}
	return t, creds, nil
}

// issuedCard is a simulated card issued with random credentials, with
// those it was issued with (conformance.CardCredentials).
type issuedCard struct {
	*simCard
	creds conformance.Credentials
}

func (c issuedCard) Credentials() conformance.Credentials { return c.creds }

// pcscCard is a card in a PC/SC reader. It can be reset: the suite's
// connection is closed, a connection of its own disconnects with
// SCARD_RESET_CARD (pcscd resets the card when its last connection asks
// so), and the suite connects again.
type pcscCard struct {
	pc     *pcsc.Context
	card   *pcsc.Card
	reader string
}

// openPCSC connects to the card in the reader named (exactly, or a unique
// part of the name).
func openPCSC(reader string) (*pcscCard, error) {
	pc, err := pcsc.Establish()
	if err != nil {
		return nil, err
	}
	name, err := pc.FindReader(reader)
	if err != nil {
		pc.Release()
		return nil, err
	}
	card, err := pc.Connect(name, pcsc.Shared)
	if err != nil {
		pc.Release()
		return nil, err
	}
	return &pcscCard{pc: pc, card: card, reader: name}, nil
}

func (c *pcscCard) Transmit(ctx context.Context, cmd []byte) ([]byte, error) {
	return c.card.Transmit(ctx, cmd)
}

func (c *pcscCard) Reset(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := c.card.Close(); err != nil {
		return fmt.Errorf("pcsc: disconnecting from %s: %w", c.reader, err)
	}
	if err := c.pc.ResetCard(c.reader); err != nil {
		return err
	}
	card, err := c.pc.Connect(c.reader, pcsc.Shared)
	if err != nil {
		return err
	}
	c.card = card
	return nil
}

func (c *pcscCard) Close() error {
	err := c.card.Close()
	c.pc.Release()
	return err
}

// pcscTarget is the card in a PC/SC reader, simulated or real: the suite
// treats it as a real card, one connection for the run.
func pcscTarget(reader string) conformance.Target {
	name := "the card in PC/SC reader " + reader
	return conformance.Target{
		Name: name,
		Open: func(context.Context) (conformance.Card, error) {
			c, err := openPCSC(reader)
			if err != nil {
				return nil, err
			}
			return c, nil
		},
	}
}
