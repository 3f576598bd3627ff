package simulator

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/tesseracard/tessera/apdu"
	"github.com/tesseracard/tessera/firmware"
	"github.com/tesseracard/tessera/firmware/nvm"
	"github.com/tesseracard/tessera/firmware/profile"
)

// ErrRemoved is returned by Transmit when the card is not in its reader
// (removed through the control API, or its simulator closed).
var ErrRemoved = errors.New("simulator: no card in the reader")

// ErrMute is returned by Transmit when the card lost power in the middle of
// a command (an armed tear fired, or the state file could not be written)
// and has not been powered again: like a real card pulled out during a
// write, it answers nothing until it is re-inserted or power-cycled.
var ErrMute = errors.New("simulator: card is mute (lost power during a write); re-insert or power-cycle it")

// stateFileName is the card's persistent memory inside its directory.
const stateFileName = "card.state"

// offTime is how long a card stays out of its vpcd reader when the
// simulator pulls it for a power-cycle or a factory reset: long enough for
// pcscd, which polls every 400 ms, to see the removal.
const offTime = 900 * time.Millisecond

// Reader is one card in its reader: the card (firmware, persistent memory in
// its own directory, profile), what reaches it (a vpcd link, in-process
// transports) and what happens to it (insertion, power, tears, touches).
// Commands reach the card one at a time, whichever way they come.
type Reader struct {
	id       int
	dir      string // "" when the card's memory is RAM only
	profName string
	prof     profile.Profile
	serial   uint32
	vpcdAddr string // "" when the card has no vpcd link
	// vpcdAnyOwner: the link skips the check of who holds the vpcd port
	// (Config.VPCDAnyOwner).
	vpcdAnyOwner bool
	ifdPath      string        // the IFD link's socket; "" when the card has none
	ifdSpin      time.Duration // how long the IFD link waits awake for the next APDU (Config.IFDSpin)
	// readerName is the IFD reader's FRIENDLYNAME (Config.IFDReaderNames).
	readerName string
	log        *slog.Logger
	tracer     *Tracer
	touch      *touchSensor
	clock      func() time.Time // the card's clock; nil: time.Now
	// protect wraps the state file's medium (Config.Protect); nil: none.
	protect func(statePath string, m nvm.Medium) (nvm.Medium, error)

	// lock is held by whoever uses the card: one slot, taken with a
	// context so that nobody waits forever.
	lock chan struct{}
	// Guarded by lock:
	file    *nvm.File // nil for a RAM card
	medium  *nvm.Tearable
	card    *firmware.Card
	last    [2]byte // CLA and INS of the last command
	lastSW  apdu.StatusWord
	process processFunc // card.Process wrapped in the profile's wire quirks; tests replace it

	// backend, for a relayed card (AddRelay), answers in place of card,
	// which is then nil, as are file and medium; relayName describes it.
	backend   Backend
	relayName string

	// mu guards the reader's status; it is never held while waiting.
	mu        sync.Mutex
	inserted  bool
	mute      bool
	powered   bool
	conn      net.Conn // the vpcd connection, while one is up
	offUntil  time.Time
	wake      chan struct{} // closed at every change of the above
	tearAfter int           // the k of the armed tear, or -1
	tearBase  int           // medium.Saves() when it was armed

	ctx      context.Context // the reader's life
	cancel   context.CancelFunc
	linkDone chan struct{} // closed when the vpcd link has stopped
}

// openMedium opens the card's persistent memory: the journal file in its
// directory (wrapped by protect, if set), or RAM when it has none.
func (r *Reader) openMedium() (*nvm.File, nvm.Medium, error) {
	if r.dir == "" {
		return nil, new(nvm.Memory), nil
	}
	f, err := nvm.OpenFile(filepath.Join(r.dir, stateFileName))
	if err != nil {
		return nil, nil, err
	}
	if r.protect == nil {
		return f, f, nil
	}
	m, err := r.protect(f.Path(), f)
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("%s: %w", f.Path(), err)
	}
	return f, m, nil
}

// build makes the firmware card on a fresh medium and gives it its first
// boot, which writes the factory state to a blank memory. Called with lock
// held, or before the reader is shared.
func (r *Reader) build() error {
	f, m, err := r.openMedium()
	if err != nil {
		return err
	}
	tm := nvm.NewTearable(m)
	card, err := NewCard(r.prof, tm, CardOptions{Serial: r.serial, Touch: tracedSensor{r}, Clock: r.clock})
	if err == nil {
		_, err = card.PowerOn()
		card.PowerOff()
	}
	if err != nil {
		if f != nil {
			f.Close()
		}
		if f != nil && !strings.Contains(err.Error(), f.Path()) {
			err = fmt.Errorf("%s: %w", f.Path(), err)
		}
		return err
	}
	r.mu.Lock()
	r.file, r.medium, r.card = f, tm, card
	r.mu.Unlock()
	return nil
}

func defaultProcess(c *firmware.Card, cmd []byte) []byte { return c.Process(cmd) }

// ID returns the card's number, which is also its vpcd slot.
func (r *Reader) ID() int { return r.id }

// Transport returns an in-process way to the card.
func (r *Reader) Transport() *Transport { return &Transport{r: r} }

func (r *Reader) acquire(ctx context.Context) error {
	select {
	case r.lock <- struct{}{}:
		return nil
	default:
	}
	select {
	case r.lock <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("card %d is busy: %w", r.id, ctx.Err())
	case <-r.ctx.Done():
		return ErrRemoved
	}
}

func (r *Reader) release() { <-r.lock }

// changed wakes everyone watching the status. Called with mu held.
func (r *Reader) changed() {
	close(r.wake)
	r.wake = make(chan struct{})
}

// dropConn closes the vpcd connection, if any: to vpcd, the card was
// pulled out. A host waiting for a response then gets an empty one (vpcd
// reads the closed connection as zero bytes; a reset would make no
// difference), and pcscd's next presence poll sees the card gone. Called
// with mu held.
func (r *Reader) dropConn() {
	if r.conn != nil {
		r.conn.Close()
		r.conn = nil
	}
}

func (r *Reader) setPowered(on bool) {
	r.mu.Lock()
	r.powered = on
	r.mu.Unlock()
}

// goMute records that the card lost power mid-command: it answers nothing
// and leaves its vpcd reader until re-inserted or power-cycled.
func (r *Reader) goMute(reason string) {
	r.card.PowerOff()
	r.mu.Lock()
	r.mute, r.powered = true, false
	r.dropConn()
	r.changed()
	r.mu.Unlock()
	r.log.Warn("card lost power; it is mute until re-inserted or power-cycled", "card", r.id, "reason", reason)
	r.tracer.event(r.id, "power-lost", reason)
}

// powerOn powers the card with lock held. A failure (a tear during the
// boot, or a state file that cannot be read) leaves the card mute.
func (r *Reader) powerOn() ([]byte, error) {
	if r.backend != nil {
		atr, err := r.backend.PowerOn(r.ctx)
		if err != nil {
			r.relayLost(err)
			return nil, fmt.Errorf("card %d: powering on the relayed card: %w", r.id, err)
		}
		r.setPowered(true)
		r.tracer.event(r.id, "power-on", fmt.Sprintf("ATR %X", atr))
		return atr, nil
	}
	atr, err := r.card.PowerOn()
	if err != nil {
		r.goMute(err.Error())
		return nil, fmt.Errorf("card %d: powering on: %w", r.id, err)
	}
	r.setPowered(true)
	r.last, r.lastSW = [2]byte{}, 0
	r.tracer.event(r.id, "power-on", fmt.Sprintf("ATR %X", atr))
	return atr, nil
}

func (r *Reader) powerOff() {
	if r.backend != nil {
		r.backend.PowerOff(r.ctx)
	} else {
		r.card.PowerOff()
	}
	r.last, r.lastSW = [2]byte{}, 0
	r.setPowered(false)
	r.tracer.event(r.id, "power-off", "")
}

// answerable returns an error wrapping ErrRemoved when the card is not in
// its reader, or ErrMute when it lost power during a write; nil when it can
// take a command.
func (r *Reader) answerable() error {
	r.mu.Lock()
	inserted, mute := r.inserted, r.mute
	r.mu.Unlock()
	switch {
	case !inserted:
		return fmt.Errorf("card %d: %w", r.id, ErrRemoved)
	case mute:
		return fmt.Errorf("card %d: %w", r.id, ErrMute)
	}
	return nil
}

// exchange passes one command to the card and returns its response, after
// the latency the profile gives the instruction. With autoPower an unpowered
// card is powered first (as pcscd does when a program connects); without it,
// a command to an unpowered card is answered 6F00. It returns ErrRemoved or
// ErrMute (wrapped) when the card cannot answer, and the context's error when
// ctx ends before the answer (in the card's processing or its latency), in
// which case the card may have executed the command.
func (r *Reader) exchange(ctx context.Context, cmd []byte, autoPower bool) ([]byte, error) {
	start := time.Now()
	if err := r.acquire(ctx); err != nil {
		return nil, err
	}
	defer r.release()
	if err := r.answerable(); err != nil {
		return nil, err
	}
	if !r.cardPowered() {
		if !autoPower {
			r.log.Warn("command to an unpowered card answered 6F00", "card", r.id)
			resp := apdu.Response{SW: apdu.SWUnknown}.Marshal()
			r.tracer.exchange(r.id, start, cmd, resp, firmware.Disclosure{}) // nobody vouched for its data
			return resp, nil
		}
		if _, err := r.powerOn(); err != nil {
			return nil, fmt.Errorf("card %d: %w: %w", r.id, ErrMute, err)
		}
	}
	var resp []byte
	var disclosure firmware.Disclosure
	if r.backend != nil {
		var err error
		if resp, err = r.relay(ctx, cmd); err != nil {
			return nil, err
		}
		disclosure = r.backend.Disclose(cmd, resp)
	} else {
		resp = r.safeProcess(cmd)
		// What the trace may show, as the card decided for this command;
		// zero (nothing) when a wire quirk answered without the card.
		disclosure = r.card.TakeDisclosure()
		if resp == nil {
			r.goMute("power cut during a write")
			return nil, fmt.Errorf("card %d: %w", r.id, ErrMute)
		}
	}
	if len(cmd) >= 2 {
		r.last = [2]byte{cmd[0], cmd[1]}
	}
	r.lastSW = apdu.SWFromBytes(resp[len(resp)-2], resp[len(resp)-1])
	if len(cmd) >= 2 {
		if wait := r.prof.Timing.Latency(cmd[1]) - time.Since(start); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return nil, ctx.Err()
			case <-r.ctx.Done():
				t.Stop()
				return nil, fmt.Errorf("card %d: %w", r.id, ErrRemoved)
			}
		}
	}
	// A command that took the card past ctx's end (its processing, on a
	// loaded machine, longer than the profile's latency) is late too:
	// without this, only the wait for the latency looked at ctx.
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	r.tracer.exchange(r.id, start, cmd, resp, disclosure)
	return resp, nil
}

// relay passes cmd to the backend, with lock held. A backend that fails, or
// answers without a status word, loses the card for a moment (relayLost).
func (r *Reader) relay(ctx context.Context, cmd []byte) ([]byte, error) {
	resp, err := r.backend.Transmit(ctx, cmd)
	if err == nil && len(resp) < 2 {
		err = fmt.Errorf("the card answered %d bytes, no status word", len(resp))
	}
	if err != nil {
		r.relayLost(err)
		return nil, fmt.Errorf("card %d: relayed card %s: %w", r.id, r.relayName, err)
	}
	return resp, nil
}

// cardPowered reports whether the card is powered, with lock held.
func (r *Reader) cardPowered() bool {
	if r.backend != nil {
		r.mu.Lock()
		defer r.mu.Unlock()
		return r.powered
	}
	return r.card.Powered()
}

// cardATR returns the card's ATR, with lock held.
func (r *Reader) cardATR(ctx context.Context) ([]byte, error) {
	if r.backend != nil {
		atr, err := r.backend.ATR(ctx)
		if err != nil {
			r.relayLost(err)
			return nil, fmt.Errorf("card %d: reading the relayed card's ATR: %w", r.id, err)
		}
		return atr, nil
	}
	return r.card.ATR(), nil
}

// safeProcess runs the card on cmd, through the profile's wire quirks, with
// lock held (see guard).
func (r *Reader) safeProcess(cmd []byte) []byte {
	return r.guard(func() []byte { return r.process(r.card, cmd) })
}

// guard runs fn, a command to the card, with lock held. A panic in the
// firmware is a bug, not a reason to take the simulator down: the card
// answers 6F00 and, like a real card whose watchdog fires, restarts (RAM
// state lost).
func (r *Reader) guard(fn func() []byte) (resp []byte) {
	defer func() {
		v := recover()
		if v == nil {
			return
		}
		r.log.Error("card firmware panicked; answered 6F00 and restarted the card", "card", r.id, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
		r.tracer.event(r.id, "panic", fmt.Sprint(v))
		resp = apdu.Response{SW: apdu.SWUnknown}.Marshal()
		r.card.PowerOff()
		if _, err := r.card.PowerOn(); err != nil {
			r.log.Error("restarting the card after a panic", "card", r.id, "err", err)
			r.setPowered(false)
		}
	}()
	return fn()
}

// Insert puts the card (back) into its reader. A mute card gets its power
// back: a planned tear is forgotten. Inserting an inserted card that
// answers does nothing.
func (r *Reader) Insert(ctx context.Context) error {
	if err := r.acquire(ctx); err != nil {
		return err
	}
	defer r.release()
	r.mu.Lock()
	if r.inserted && !r.mute {
		r.mu.Unlock()
		return nil
	}
	wasMute := r.mute
	r.inserted, r.mute = true, false
	if wasMute {
		r.tearAfter = -1
	}
	r.changed()
	r.mu.Unlock()
	if wasMute && r.medium != nil {
		r.medium.Restore()
		r.card.PowerOff()
	}
	r.log.Info("card inserted", "card", r.id)
	r.tracer.event(r.id, "insert", "")
	return nil
}

// Remove pulls the card out of its reader: the vpcd connection closes (the
// host sees the card go), a touch being waited for never comes, and the card
// loses power and with it every RAM state.
func (r *Reader) Remove(ctx context.Context) error {
	err := r.leave(ctx, func() {
		r.inserted = false
		r.dropConn()
	})
	if err != nil {
		return err
	}
	defer r.release()
	if r.cardPowered() {
		r.powerOff()
	}
	r.log.Info("card removed", "card", r.id)
	r.tracer.event(r.id, "remove", "")
	return nil
}

// leave is how Remove and restart begin: with the reader's lock held, drop
// records how the card leaves its vpcd reader (the host sees it go); then a
// touch being waited for is aborted and the card is acquired for the caller,
// who releases it.
func (r *Reader) leave(ctx context.Context, drop func()) error {
	r.mu.Lock()
	drop()
	r.changed()
	r.mu.Unlock()
	r.touch.abort()
	return r.acquire(ctx)
}

// PowerCycle cuts the card's power and gives it back: RAM state is lost, a
// planned tear is forgotten and a mute card answers again. Over vpcd the host
// sees the card leave and come back, as with a real power cycle; in process
// the card is powered again at once.
func (r *Reader) PowerCycle(ctx context.Context) error {
	return r.restart(ctx, "power-cycle", nil)
}

// restart drops the card out of its reader for offTime (if it has a vpcd
// connection), powers it off, runs fn with lock held, and powers it on.
func (r *Reader) restart(ctx context.Context, what string, fn func() error) error {
	err := r.leave(ctx, func() {
		if r.conn != nil {
			r.dropConn()
			r.offUntil = time.Now().Add(offTime)
		}
	})
	if err != nil {
		return err
	}
	defer r.release()
	r.powerOff()
	if r.medium != nil {
		r.medium.Restore()
	}
	r.mu.Lock()
	r.mute, r.tearAfter = false, -1
	r.changed()
	r.mu.Unlock()
	if fn != nil {
		if err := fn(); err != nil {
			return err
		}
	}
	if _, err := r.powerOn(); err != nil {
		return err
	}
	r.log.Info("card "+what, "card", r.id)
	return nil
}

// ArmTear plans a power cut after k more successful writes to the card's
// persistent memory: the write after those k is lost, the command that made
// it gets no answer, and the card is mute until re-inserted or
// power-cycled. k < 0 disarms.
func (r *Reader) ArmTear(ctx context.Context, k int) error {
	if err := r.notRelayed("tears"); err != nil {
		return err
	}
	if err := r.acquire(ctx); err != nil {
		return err
	}
	defer r.release()
	r.mu.Lock()
	defer r.mu.Unlock()
	if k < 0 {
		r.medium.Restore()
		r.tearAfter = -1
		r.tracer.event(r.id, "tear-disarmed", "")
		return nil
	}
	r.medium.CutAfter(k)
	r.tearAfter, r.tearBase = k, r.medium.Saves()
	r.tracer.event(r.id, "tear-armed", fmt.Sprintf("after %d writes", k))
	return nil
}

// Touch touches the card's sensor. It reports whether the card was waiting
// for the touch; if not, the touch counts for the next wait that begins
// within the touch timeout.
func (r *Reader) Touch() (wasWaiting bool) {
	// Traced before it is given: a waiting card answers the APDU as soon
	// as it has the touch, and the trace must show the touch first.
	r.tracer.event(r.id, "touch", "")
	return r.touch.give()
}

// tracedSensor is the card's touch sensor as its applications ask it: each
// request is traced (event touch-request, detail "key" and the key in hex:
// a PIV slot, an OpenPGP key reference) before the sensor answers or
// waits.
type tracedSensor struct{ r *Reader }

// Touch implements firmware.TouchSource.
func (s tracedSensor) Touch(ref byte) bool {
	s.r.tracer.event(s.r.id, "touch-request", fmt.Sprintf("key %02X", ref))
	return s.r.touch.Touch(ref)
}

// SetTouchMode changes how the card's touch sensor behaves.
func (r *Reader) SetTouchMode(m TouchMode) { r.touch.setMode(m) }

// FactoryReset wipes the card's persistent memory (for a card on disk,
// removes its state file) and gives it its first boot again: the profile's
// PIN, PUK, management key and serial, no keys, no objects. The host sees the
// card leave and come back.
func (r *Reader) FactoryReset(ctx context.Context) error {
	if err := r.notRelayed("factory reset"); err != nil {
		return err
	}
	return r.restart(ctx, "factory reset", func() error {
		if r.file != nil {
			path := r.file.Path()
			if err := r.file.Close(); err != nil {
				return fmt.Errorf("closing %s: %w", path, err)
			}
			if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("wiping card %d: %w", r.id, err)
			}
		}
		if err := r.build(); err != nil {
			r.mu.Lock()
			r.mute = true
			r.changed()
			r.mu.Unlock()
			return fmt.Errorf("factory reset of card %d: %w", r.id, err)
		}
		r.tracer.event(r.id, "factory-reset", "")
		return nil
	})
}

// close ends the reader: the link stops (the host sees the card go), waits
// are cancelled and the state file is released.
func (r *Reader) close() {
	r.cancel()
	r.mu.Lock()
	r.dropConn()
	r.mu.Unlock()
	r.touch.abort()
	<-r.linkDone
	// Whoever holds the lock sees r.ctx ended and finishes soon: a latency
	// wait or a touch wait ends at once.
	r.lock <- struct{}{}
	if r.backend != nil {
		r.backend.PowerOff(context.Background())
	} else {
		r.card.PowerOff()
	}
	if r.file != nil {
		r.file.Close()
	}
}
