package main

import (
	"context"
	"fmt"

	"github.com/tesseracard/tessera/conformance"
	"github.com/tesseracard/tessera/hostdriver/pcsc"
	"github.com/tesseracard/tessera/simulator/simtarget"
)

// simTarget is the simulator in process as the suite's target
// (simtarget.Target).
func simTarget(profileName string) (conformance.Target, conformance.Credentials, error) {
	return simtarget.Target(profileName)
}

// pcscCard is a card in a PC/SC reader. It can be reset: the suite's
// connection is closed, a connection of its own disconnects with
// SCARD_RESET_CARD (pcscd resets the card when its last connection asks
// so), and the suite connects again.
//
// It holds PC/SC transactions (conformance.Transactor): one per case for
// the suite, one for a whole replay, taken again on the new connection
// after a reset.
type pcscCard struct {
	pc     *pcsc.Context
	card   *pcsc.Card
	reader string
	inTx   bool // a transaction is held, and is to be held again after Reset
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
	if c.inTx {
		return c.card.BeginTransaction(ctx)
	}
	return nil
}

// BeginTransaction keeps other programs' commands off the card until
// EndTransaction, across resets.
func (c *pcscCard) BeginTransaction(ctx context.Context) error {
	if err := c.card.BeginTransaction(ctx); err != nil {
		return err
	}
	c.inTx = true
	return nil
}

// EndTransaction lets other programs' commands through again.
func (c *pcscCard) EndTransaction() error {
	c.inTx = false
	return c.card.EndTransaction()
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
