package simulator

import (
	"bytes"
	"context"
)

// Transport reaches a simulated card in process, with no pcscd: the
// in-process counterpart of a PC/SC reader. It satisfies the host driver's
// transport interface, Transmit(ctx, []byte) ([]byte, error), structurally.
// Commands through a Transport, through the card's vpcd link and through the
// control API reach the card one at a time.
type Transport struct {
	r *Reader
}

// Transmit sends one command APDU and returns the card's response APDU
// (data and status word). Like pcscd when a program connects, it powers the
// card first if it is off. It takes as long as the profile says the command
// takes. It returns an error wrapping ErrRemoved when the card is not in its
// reader, ErrMute when it lost power during a write (the response is lost,
// the card must be re-inserted or power-cycled), or ctx's error if ctx ends
// first, in which case the card may have executed the command.
func (t *Transport) Transmit(ctx context.Context, cmd []byte) ([]byte, error) {
	return t.r.exchange(ctx, bytes.Clone(cmd), true)
}

// Reset gives the card a warm reset (ISO/IEC 7816-3 §6.2.3): RAM state,
// security status included, is lost. It has the shape of the conformance
// suite's Resetter. It returns an error wrapping ErrRemoved or ErrMute when
// the card cannot be reset, or ctx's error if ctx ends first.
func (t *Transport) Reset(ctx context.Context) error {
	r := t.r
	if err := r.acquire(ctx); err != nil {
		return err
	}
	defer r.release()
	if err := r.answerable(); err != nil {
		return err
	}
	r.tracer.event(r.id, "reset", "")
	_, err := r.powerOn()
	return err
}

// ATR returns the card's answer to reset (ISO/IEC 7816-3 §8), what a
// reader reports for it. It returns ctx's error if ctx ends before the card
// is free.
func (t *Transport) ATR(ctx context.Context) ([]byte, error) {
	r := t.r
	if err := r.acquire(ctx); err != nil {
		return nil, err
	}
	defer r.release()
	return r.cardATR(ctx)
}
