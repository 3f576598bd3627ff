package simulator

import (
	"fmt"
	"sync"
	"time"
)

// TouchMode is how a card's touch sensor behaves when a key with a touch
// policy is used.
type TouchMode string

// Touch modes.
const (
	// TouchAuto touches at once, every time: tests never hang. The default.
	TouchAuto TouchMode = "auto"
	// TouchManual waits, like a YubiKey blinking, for a touch given through
	// the control API (`tessera card touch`), up to the touch timeout; no
	// touch in time makes the card answer 6982 (PIV; OpenPGP answers 6985).
	TouchManual TouchMode = "manual"
	// TouchNever never touches: every operation needing a touch fails at
	// once (6982 in PIV, 6985 in OpenPGP).
	TouchNever TouchMode = "never"
)

// DefaultTouchTimeout is how long a card in manual touch mode waits for a
// touch: a YubiKey waits 15 seconds.
const DefaultTouchTimeout = 15 * time.Second

// ParseTouchMode checks a touch mode's name.
func ParseTouchMode(s string) (TouchMode, error) {
	switch m := TouchMode(s); m {
	case TouchAuto, TouchManual, TouchNever:
		return m, nil
	}
	return "", fmt.Errorf("touch mode %q: want auto, manual or never", s)
}

// touchSensor is a card's touch sensor, a firmware.TouchSource. A touch given
// while the card waits satisfies that wait; a touch given while it does not
// wait is kept for the next wait that starts within the timeout, so that a
// script may touch just before the command that needs it.
type touchSensor struct {
	mu      sync.Mutex
	mode    TouchMode
	timeout time.Duration
	given   time.Time     // when the last unconsumed touch was given; zero if none
	wake    chan struct{} // closed when a touch is given or the waits are cancelled
	waiting int           // the key slot waited for, or -1
	cancel  uint64        // bumped to end every wait (card removed or closed)
}

func newTouchSensor(mode TouchMode, timeout time.Duration) *touchSensor {
	if mode == "" {
		mode = TouchAuto
	}
	if timeout <= 0 {
		timeout = DefaultTouchTimeout
	}
	return &touchSensor{mode: mode, timeout: timeout, wake: make(chan struct{}), waiting: -1}
}

// Touch implements firmware.TouchSource: it reports whether the user touched the
// sensor while the card used the key in slot.
func (t *touchSensor) Touch(slot byte) bool {
	t.mu.Lock()
	deadline := time.Now().Add(t.timeout)
	gen := t.cancel
	defer func() {
		t.mu.Lock()
		t.waiting = -1
		t.mu.Unlock()
	}()
	for {
		switch {
		case t.mode == TouchAuto:
			t.mu.Unlock()
			return true
		case t.mode == TouchNever, t.cancel != gen:
			t.mu.Unlock()
			return false
		case !t.given.IsZero() && time.Since(t.given) <= t.timeout:
			t.given = time.Time{}
			t.mu.Unlock()
			return true
		}
		t.given = time.Time{} // a stale touch counts for nothing
		t.waiting = int(slot)
		wake := t.wake
		t.mu.Unlock()
		left := time.Until(deadline)
		if left <= 0 {
			return false
		}
		timer := time.NewTimer(left)
		select {
		case <-wake:
			timer.Stop()
		case <-timer.C:
			return false
		}
		t.mu.Lock()
	}
}

// give touches the sensor. It reports whether the card was waiting.
func (t *touchSensor) give() (wasWaiting bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.given = time.Now()
	t.broadcast()
	return t.waiting >= 0
}

// abort ends every wait in progress with "no touch" and forgets a touch given
// in advance: the card was pulled out.
func (t *touchSensor) abort() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.cancel++
	t.given = time.Time{}
	t.broadcast()
}

func (t *touchSensor) broadcast() {
	close(t.wake)
	t.wake = make(chan struct{})
}

func (t *touchSensor) setMode(m TouchMode) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.mode = m
	t.broadcast()
}

// status returns the mode and the slot waited for (-1 if none).
func (t *touchSensor) status() (TouchMode, int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.mode, t.waiting
}
