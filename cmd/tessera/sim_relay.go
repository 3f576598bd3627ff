package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/tesseracard/tessera/hostdriver/pcsc"
	"github.com/tesseracard/tessera/relay"
)

// pcscRelayReader is a PC/SC reader as relay.Reader: the real card behind
// tessera sim --relay.
type pcscRelayReader struct {
	pc   *pcsc.Context
	name string
}

// openRelayReader connects to pcscd and finds the reader named (exactly, or
// a unique part of the name).
func openRelayReader(name string) (*pcscRelayReader, error) {
	pc, err := pcsc.Establish()
	if err != nil {
		return nil, err
	}
	full, err := pc.FindReader(name)
	if err != nil {
		pc.Release()
		return nil, err
	}
	return &pcscRelayReader{pc: pc, name: full}, nil
}

func (p *pcscRelayReader) Name() string { return p.name }

// Connect connects to the card in shared mode, so that other programs may
// still reach it, and gives it raw: pcsc.Card.Transmit neither fetches 61xx
// nor resends on 6Cxx.
func (p *pcscRelayReader) Connect(context.Context) (relay.Conn, error) {
	k, err := p.pc.Connect(p.name, pcsc.Shared)
	if err != nil {
		return nil, err
	}
	return relayConn{k}, nil
}

// relayConn is a PC/SC connection whose "reset by another program" is
// relay's.
type relayConn struct{ *pcsc.Card }

func (c relayConn) Transmit(ctx context.Context, cmd []byte) ([]byte, error) {
	resp, err := c.Card.Transmit(ctx, cmd)
	if errors.Is(err, pcsc.ErrCardReset) {
		err = fmt.Errorf("%w (%w)", relay.ErrCardReset, err)
	}
	return resp, err
}

func (p *pcscRelayReader) WaitForCard(ctx context.Context) error {
	return p.pc.WaitForCard(ctx, p.name)
}

func (p *pcscRelayReader) WaitForRemoval(ctx context.Context) error {
	return p.pc.WaitForRemoval(ctx, p.name)
}

func (p *pcscRelayReader) Close() error { return p.pc.Release() }
