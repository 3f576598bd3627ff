package simulator

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/tesseracard/tessera/firmware"
)

// Disclosure is what a trace may show of one exchange: the command's data,
// the response's data (firmware.Disclosure).
type Disclosure = firmware.Disclosure

// Backend is a card the simulator hosts in a reader without running it: a
// real card whose exchanges are relayed (package relay puts one behind a
// vpcd reader). The reader calls it one call at a time, with its lock held.
// The simulator knows nothing of how the backend reaches its card, so it
// stays free of PC/SC.
type Backend interface {
	// PowerOn powers the card, resetting it if it was powered, so that it
	// starts afresh (RAM state and security status lost), and returns its
	// answer to reset (ISO/IEC 7816-3 §8).
	PowerOn(ctx context.Context) (atr []byte, err error)
	// PowerOff cuts the card's power, or lets it go.
	PowerOff(ctx context.Context)
	// ATR returns the card's answer to reset, without disturbing it.
	ATR(ctx context.Context) ([]byte, error)
	// Transmit sends one command APDU as it is and returns the card's
	// response as it is (data and status word): no GET RESPONSE, no
	// second try on 6Cxx, so that the host sees exactly what the card says.
	// An error means the card could not be reached.
	Transmit(ctx context.Context, cmd []byte) ([]byte, error)
	// Disclose says what a trace may show of the exchange just made; it is
	// called once for every exchange, in order.
	Disclose(cmd, resp []byte) Disclosure
}

// ErrRelayed is returned (wrapped, answered 409 by the control API) for
// what does not apply to a relayed card: the simulator neither holds its
// memory (state, tears, factory reset, credentials, TOTP) nor its touch
// sensor.
var ErrRelayed = errors.New("simulator: not for a relayed card (a real card behind the reader: its memory and its sensor are its own)")

// RelaySpec says which relayed card to add.
type RelaySpec struct {
	// Slot is the card's number and vpcd slot; negative: the lowest free.
	Slot int
	// Name describes the card reached, as CardInfo.Relay shows it: for
	// instance the real reader's name.
	Name string
	// Backend reaches the card.
	Backend Backend
}

// AddRelay puts a relayed card in a reader: every exchange and every
// power event from its vpcd link, its in-process transports and the
// control API goes to spec.Backend, and is traced with what the backend
// discloses. The card is inserted; insert and remove it (Reader.Insert,
// Reader.Remove) as the real card comes and goes. It has no state
// directory; what needs the card's memory or sensor returns ErrRelayed.
func (s *Simulator) AddRelay(spec RelaySpec) (*Reader, error) {
	if spec.Backend == nil {
		return nil, errors.New("simulator: a relayed card needs a backend")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	slot, addr, err := s.freeSlot(spec.Slot)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(s.ctx)
	r := &Reader{
		id: slot, profName: "relay", vpcdAddr: addr, vpcdAnyOwner: s.cfg.VPCDAnyOwner, backend: spec.Backend, relayName: spec.Name,
		log: s.cfg.Log, tracer: s.cfg.Tracer,
		touch:    newTouchSensor(TouchNever, time.Nanosecond),
		lock:     make(chan struct{}, 1),
		inserted: true, wake: make(chan struct{}), tearAfter: -1,
		ctx: ctx, cancel: cancel, linkDone: make(chan struct{}),
	}
	if err := s.start(r); err != nil {
		cancel()
		return nil, err
	}
	s.cfg.Log.Info("relayed card added", "card", slot, "relay", spec.Name, "reader", r.where())
	return r, nil
}

// freeSlot checks slot (negative: the lowest free) and returns it with its
// vpcd address ("" without vpcd). Called with s.mu held.
func (s *Simulator) freeSlot(slot int) (int, string, error) {
	if s.closed {
		return 0, "", ErrClosed
	}
	if slot < 0 {
		for slot = 0; slot < MaxSlots && s.readers[slot] != nil; slot++ {
		}
	}
	if slot >= MaxSlots {
		return 0, "", fmt.Errorf("slot %d: the simulator hosts slots 0 to %d", slot, MaxSlots-1)
	}
	if s.readers[slot] != nil {
		return 0, "", fmt.Errorf("slot %d: %w", slot, ErrSlotTaken)
	}
	if s.vpcdHost == "" {
		return slot, "", nil
	}
	if s.vpcdPort+slot > 65535 {
		return 0, "", fmt.Errorf("slot %d: vpcd port %d+%d is past 65535", slot, s.vpcdPort, slot)
	}
	return slot, net.JoinHostPort(s.vpcdHost, strconv.Itoa(s.vpcdPort+slot)), nil
}

// start starts r's link (vpcd or IFD) and puts r in its slot. It fails
// only when the IFD link's socket cannot be listened on. Called with s.mu
// held.
func (s *Simulator) start(r *Reader) error {
	switch {
	case s.cfg.IFDDir != "":
		r.ifdPath = IFDSocket(s.cfg.IFDDir, r.id)
		r.ifdSpin = s.cfg.ifdSpin()
		r.readerName = DefaultIFDReaderName(r.id)
		if r.id < len(s.cfg.IFDReaderNames) {
			r.readerName = s.cfg.IFDReaderNames[r.id]
		}
		ln, err := listenIFD(r.ifdPath)
		if err != nil {
			return fmt.Errorf("card %d: %w", r.id, err)
		}
		go r.runIFD(r.ctx, ln)
	case r.vpcdAddr != "":
		go r.runLink(r.ctx)
	default:
		close(r.linkDone)
	}
	s.readers[r.id] = r
	return nil
}

// where says how the card is reached, for logs.
func (r *Reader) where() string {
	if r.vpcdAddr != "" {
		return "vpcd " + r.vpcdAddr
	}
	if r.ifdPath != "" {
		return "IFD link " + r.ifdPath
	}
	return "in process only"
}

// Relayed reports whether the card is a relayed one (AddRelay).
func (r *Reader) Relayed() bool { return r.backend != nil }

// notRelayed returns ErrRelayed, wrapped with what was asked, for a
// relayed card.
func (r *Reader) notRelayed(what string) error {
	if r.backend == nil {
		return nil
	}
	return fmt.Errorf("card %d: %s: %w", r.id, what, ErrRelayed)
}

// relayLost handles a backend that failed: the card leaves its vpcd reader
// for offTime, as if pulled out and put back, so that the host's session
// ends instead of hanging; the next power-on reaches for the card again.
// Called with lock held.
func (r *Reader) relayLost(err error) {
	r.log.Warn("the relayed card did not answer; it leaves its vpcd reader for a moment", "card", r.id, "relay", r.relayName, "err", err)
	r.tracer.event(r.id, "relay-error", err.Error())
	r.backend.PowerOff(r.ctx)
	r.mu.Lock()
	r.powered = false
	if r.conn != nil {
		r.dropConn()
		r.offUntil = time.Now().Add(offTime)
	}
	r.changed()
	r.mu.Unlock()
}
