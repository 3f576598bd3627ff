package hostdriver

import (
	"context"
	"errors"
	"fmt"

	"github.com/tesseracard/tessera/apdu"
)

// Transport sends one command APDU to a card and returns its response APDU.
// Implementations return an error wrapping ErrCardRemoved when the card is
// gone.
type Transport interface {
	Transmit(ctx context.Context, cmd []byte) ([]byte, error)
}

// Transactor is a connection that can keep other programs' commands off
// the card between BeginTransaction and EndTransaction (PC/SC
// transactions, SCardBeginTransaction); hostdriver/pcsc's *Card is one.
// A sequence whose commands must not be interleaved with another
// program's (a SELECT between VERIFY and the command it allows) runs
// inside one.
type Transactor interface {
	BeginTransaction(ctx context.Context) error
	EndTransaction() error
}

// ErrCardRemoved is wrapped by transport errors that mean the card left the
// reader (or, for the simulator, was removed or lost power).
var ErrCardRemoved = errors.New("hostdriver: card removed")

// maxGetResponses bounds the GET RESPONSE loop, so a card that answers 61xx
// forever cannot hang the host: 64 KiB in 256-byte pieces.
const maxGetResponses = 256

// Conn applies the ISO/IEC 7816-4 exchange rules to a Transport.
type Conn struct {
	T Transport
	// ExtendedLength lets Conn send commands with more than 255 data bytes
	// as one extended-length APDU instead of a chain. Set it only when the
	// card announces the capability (ATR.ExtendedLength).
	ExtendedLength bool
	// Trace, when set, is called with every raw exchange.
	Trace func(cmd, resp []byte)
}

// Transmit sends cmd and returns the complete response: every 61xx piece
// fetched and joined, a 6Cxx answered by sending again with Le = xx, a
// command with more than 255 data bytes split into a chain (or sent
// extended). The returned Response carries the final status word; Transmit
// returns an error only when the exchange itself failed.
func (c *Conn) Transmit(ctx context.Context, cmd apdu.Command) (apdu.Response, error) {
	parts := []apdu.Command{cmd}
	if len(cmd.Data) > apdu.MaxShortNc && !c.ExtendedLength {
		var err error
		if parts, err = apdu.SplitChain(cmd, apdu.MaxShortNc); err != nil {
			return apdu.Response{}, fmt.Errorf("hostdriver: chaining: %w", err)
		}
	}
	for _, p := range parts[:len(parts)-1] {
		r, err := c.exchange(ctx, p)
		if err != nil {
			return apdu.Response{}, err
		}
		if r.SW != apdu.SWSuccess {
			return r, nil // the card refused part of the chain
		}
	}
	return c.complete(ctx, parts[len(parts)-1])
}

// complete sends the last (or only) command and follows 6Cxx and 61xx.
func (c *Conn) complete(ctx context.Context, cmd apdu.Command) (apdu.Response, error) {
	r, err := c.exchange(ctx, cmd)
	if err != nil {
		return r, err
	}
	if n, ok := r.SW.ExactLe(); ok {
		cmd.Ne = n
		if r, err = c.exchange(ctx, cmd); err != nil {
			return r, err
		}
	}
	data := r.Data
	for i := 0; ; i++ {
		n, ok := r.SW.BytesRemaining()
		if !ok {
			break
		}
		if i == maxGetResponses {
			return apdu.Response{}, fmt.Errorf("hostdriver: card still had data after %d GET RESPONSE commands", maxGetResponses)
		}
		gr := apdu.Command{CLA: cmd.CLA &^ apdu.CLAChaining, INS: apdu.InsGetResponse, Ne: n}
		if n == 0 {
			gr.Ne = apdu.MaxShortNe
		}
		if r, err = c.exchange(ctx, gr); err != nil {
			return r, err
		}
		if m, ok := r.SW.ExactLe(); ok { // a T=0 card may ask for the exact length again
			gr.Ne = m
			if r, err = c.exchange(ctx, gr); err != nil {
				return r, err
			}
		}
		data = append(data, r.Data...)
	}
	r.Data = data
	return r, nil
}

func (c *Conn) exchange(ctx context.Context, cmd apdu.Command) (apdu.Response, error) {
	raw, err := cmd.Marshal()
	if err != nil {
		return apdu.Response{}, fmt.Errorf("hostdriver: encoding command: %w", err)
	}
	out, err := c.T.Transmit(ctx, raw)
	if err != nil {
		return apdu.Response{}, err
	}
	if c.Trace != nil {
		c.Trace(raw, out)
	}
	r, err := apdu.ParseResponse(out)
	if err != nil {
		return apdu.Response{}, fmt.Errorf("hostdriver: card answered % X: %w", out, err)
	}
	return r, nil
}

// Do sends cmd and returns the response data on 9000, or the status word as
// an error (an *apdu.AuthError for 63Cx and 6983).
func (c *Conn) Do(ctx context.Context, cmd apdu.Command) ([]byte, error) {
	r, err := c.Transmit(ctx, cmd)
	if err != nil {
		return nil, err
	}
	if err := r.SW.Err(); err != nil {
		return r.Data, err
	}
	return r.Data, nil
}
