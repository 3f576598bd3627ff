//go:build cgo || windows

package pcsc

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/ebfe/scard"

	"github.com/tesseracard/tessera/hostdriver"
)

// Context is a connection to pcscd.
type Context struct {
	ctx *scard.Context
}

// Establish connects to pcscd.
func Establish() (*Context, error) {
	c, err := scard.EstablishContext()
	if err != nil {
		return nil, fmt.Errorf("pcsc: connecting to pcscd (is it running?): %w", err)
	}
	return &Context{ctx: c}, nil
}

// Release closes the connection to pcscd.
func (c *Context) Release() error { return c.ctx.Release() }

// Readers lists the reader names, sorted. No readers is not an error.
func (c *Context) Readers() ([]string, error) {
	names, err := c.ctx.ListReaders()
	if errors.Is(err, scard.ErrNoReadersAvailable) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("pcsc: listing readers: %w", err)
	}
	slices.Sort(names)
	return names, nil
}

// WaitForCard blocks until a card is present in reader, or ctx ends. A
// reader that is gone (a USB token pulled out) is waited for too. It waits
// on a PC/SC context of its own: other calls on c go on meanwhile.
func (c *Context) WaitForCard(ctx context.Context, reader string) error {
	return waitFor(ctx, reader, false)
}

// WaitForRemoval blocks until reader is empty or gone, or ctx ends: a USB
// token (a YubiKey) is its own reader, and pulling it out takes the reader
// away, which PC/SC never reports as empty. It waits on a PC/SC context of
// its own: other calls on c go on meanwhile.
func (c *Context) WaitForRemoval(ctx context.Context, reader string) error {
	return waitFor(ctx, reader, true)
}

// waitFor waits on a PC/SC context established for the wait. pcsc-lite
// serialises the calls on one context: a SCardGetStatusChange on the
// context a Card was connected from held every SCardTransmit of that card
// until it returned, up to its whole timeout (tessera sim --relay answered
// each APDU after ~250 ms while it watched for the real card's removal).
func waitFor(ctx context.Context, reader string, removal bool) error {
	watch, err := scard.EstablishContext()
	if err != nil {
		return fmt.Errorf("pcsc: connecting to pcscd to watch %s: %w", reader, err)
	}
	defer watch.Release()
	return waitOn(ctx, watch, reader, removal)
}

// statusWatcher is the one call of a PC/SC context waitOn makes.
type statusWatcher interface {
	GetStatusChange(rs []scard.ReaderState, timeout time.Duration) error
}

// watchPoll is how long one SCardGetStatusChange waits before waitOn looks
// at its context again.
const watchPoll = 250 * time.Millisecond

// waitOn waits until reader has a card (removal false) or has none: it is
// empty, or gone. pcsc-lite reports a reader it no longer knows as
// SCARD_STATE_UNKNOWN (with UNAVAILABLE, CHANGED the first time), never as
// EMPTY, and other PC/SC stacks may answer SCARD_E_UNKNOWN_READER or
// SCARD_E_READER_UNAVAILABLE instead; while waiting for a card, a reader
// that is gone is waited for until it is back.
func waitOn(ctx context.Context, w statusWatcher, reader string, removal bool) error {
	rs := []scard.ReaderState{{Reader: reader, CurrentState: scard.StateUnaware}}
	for {
		err := w.GetStatusChange(rs, watchPoll)
		goneErr := errors.Is(err, scard.ErrUnknownReader) || errors.Is(err, scard.ErrReaderUnavailable)
		switch ev := rs[0].EventState; {
		case goneErr && removal:
			return nil
		case goneErr:
			// No state to wait on: look again after a while.
			t := time.NewTimer(watchPoll)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
			}
		case err == nil:
			gone := ev&scard.StateUnknown != 0
			if removal && (gone || ev&scard.StateEmpty != 0) || !removal && !gone && ev&scard.StatePresent != 0 {
				return nil
			}
			rs[0].CurrentState = ev &^ scard.StateChanged
		case errors.Is(err, scard.ErrTimeout):
		default:
			return fmt.Errorf("pcsc: watching %s: %w", reader, err)
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("pcsc: waiting on %s: %w", reader, err)
		}
	}
}

// Card is a connection to the card in one reader. It is safe for concurrent
// use; exchanges are serialised.
type Card struct {
	mu     sync.Mutex
	card   *scard.Card
	reader string
	mode   scard.ShareMode
}

// Connect connects to the card in reader with T=1 or T=0, whichever the card
// offers.
func (c *Context) Connect(reader string, mode Mode) (*Card, error) {
	sm := scard.ShareShared
	if mode == Exclusive {
		sm = scard.ShareExclusive
	}
	k, err := c.ctx.Connect(reader, sm, scard.ProtocolT1|scard.ProtocolT0)
	if err != nil {
		return nil, fmt.Errorf("pcsc: connecting to %s: %w", reader, mapErr(err))
	}
	return &Card{card: k, reader: reader, mode: sm}, nil
}

// Reader returns the reader's name.
func (k *Card) Reader() string { return k.reader }

// Protocol returns 0 or 1: the protocol in use.
func (k *Card) Protocol() int {
	if k.card.ActiveProtocol() == scard.ProtocolT0 {
		return 0
	}
	return 1
}

// ATR returns the card's answer-to-reset.
func (k *Card) ATR() ([]byte, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	st, err := k.card.Status()
	if err != nil {
		return nil, fmt.Errorf("pcsc: reading the ATR: %w", mapErr(err))
	}
	return st.Atr, nil
}

// Transmit sends one APDU. A removed card gives an error wrapping
// hostdriver.ErrCardRemoved; a card reset by someone else is reconnected and
// gives ErrCardReset. The context is checked before sending: PC/SC cannot
// abandon an exchange in flight.
func (k *Card) Transmit(ctx context.Context, cmd []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	out, err := k.card.Transmit(cmd)
	if errors.Is(err, scard.ErrResetCard) {
		if rerr := k.card.Reconnect(k.mode, scard.ProtocolT1|scard.ProtocolT0, scard.LeaveCard); rerr != nil {
			return nil, fmt.Errorf("pcsc: reconnecting after a reset: %w", mapErr(rerr))
		}
		return nil, ErrCardReset
	}
	if err != nil {
		return nil, fmt.Errorf("pcsc: transmitting to %s: %w", k.reader, mapErr(err))
	}
	return out, nil
}

// Reset resets the card: the connection is re-established with
// SCARD_RESET_CARD (SCardReconnect), so the card's RAM state (PIN
// verified, management key authenticated) is gone, for every program
// connected to it. The context is checked first.
func (k *Card) Reset(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.card.Reconnect(k.mode, scard.ProtocolT1|scard.ProtocolT0, scard.ResetCard); err != nil {
		return fmt.Errorf("pcsc: resetting the card in %s: %w", k.reader, mapErr(err))
	}
	return nil
}

// BeginTransaction keeps other programs' commands off the card until
// EndTransaction or Close (SCardBeginTransaction): their exchanges wait,
// so none slips in between two of ours (a SELECT of another application
// between VERIFY and the signature it allows). It waits while another
// program holds a transaction of its own, as a Transmit does; the context
// is checked first. A card reset by another program is reconnected and
// gives ErrCardReset.
func (k *Card) BeginTransaction(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	err := k.card.BeginTransaction()
	if errors.Is(err, scard.ErrResetCard) {
		if rerr := k.card.Reconnect(k.mode, scard.ProtocolT1|scard.ProtocolT0, scard.LeaveCard); rerr != nil {
			return fmt.Errorf("pcsc: reconnecting after a reset: %w", mapErr(rerr))
		}
		return ErrCardReset
	}
	if err != nil {
		return fmt.Errorf("pcsc: beginning a transaction with the card in %s: %w", k.reader, mapErr(err))
	}
	return nil
}

// EndTransaction lets other programs' commands reach the card again,
// leaving it as it is.
func (k *Card) EndTransaction() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.card.EndTransaction(scard.LeaveCard); err != nil {
		return fmt.Errorf("pcsc: ending the transaction with the card in %s: %w", k.reader, mapErr(err))
	}
	return nil
}

// Close disconnects, leaving the card as it is.
func (k *Card) Close() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.card.Disconnect(scard.LeaveCard)
}

// mapErr turns PC/SC's card-gone errors into hostdriver.ErrCardRemoved,
// and says what a sharing violation means; the PC/SC error stays wrapped.
// A USB token pulled out (a YubiKey is its own reader) takes its reader
// along: pcsc-lite answers SCARD_E_READER_UNAVAILABLE for the connection
// it had, and a reader that has gone by the time it is connected to is
// SCARD_E_UNKNOWN_READER.
func mapErr(err error) error {
	switch {
	case errors.Is(err, scard.ErrRemovedCard), errors.Is(err, scard.ErrNoSmartcard),
		errors.Is(err, scard.ErrReaderUnavailable), errors.Is(err, scard.ErrUnknownReader):
		return fmt.Errorf("%w (%w)", hostdriver.ErrCardRemoved, err)
	case errors.Is(err, scard.ErrSharingViolation):
		return fmt.Errorf("another program holds the card exclusively (GnuPG's scdaemon does with a YubiKey or an OpenPGP card: gpgconf --kill scdaemon lets it go): %w", err)
	}
	return err
}

// ResetCard resets the card in reader: it connects and disconnects with
// SCARD_RESET_CARD, which pcscd carries out when no other connection holds
// the card. Close your own connection first; the card's RAM state (PIN
// verified, management key authenticated) is gone afterwards.
func (c *Context) ResetCard(reader string) error {
	k, err := c.ctx.Connect(reader, scard.ShareShared, scard.ProtocolT1|scard.ProtocolT0)
	if err != nil {
		return fmt.Errorf("pcsc: connecting to %s to reset it: %w", reader, mapErr(err))
	}
	if err := k.Disconnect(scard.ResetCard); err != nil {
		return fmt.Errorf("pcsc: resetting the card in %s: %w", reader, mapErr(err))
	}
	return nil
}
