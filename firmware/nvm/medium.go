package nvm

import (
	"errors"
	"sync"
)

// ErrPowerLost is returned by a write that a power cut prevented. A card that
// sees it stops at once: it answers nothing and must be powered on again from
// what the medium holds.
var ErrPowerLost = errors.New("nvm: power lost during write")

// Medium is where a card's persistent image lives.
//
// Save must be atomic and durable: once it returns nil the image survives a
// crash, and a crash at any instant during Save leaves Load returning either
// the previous image or the new one. Load returns (nil, nil) for a blank
// medium that has never been written.
//
// Save must not change image nor keep it after it returns: a Store encodes
// every write into the same buffer. A medium that needs the bytes later
// keeps its own copy.
type Medium interface {
	Load() ([]byte, error)
	Save(image []byte) error
}

// Memory is a Medium held in RAM. Its zero value is a blank medium. It is
// safe for concurrent use.
type Memory struct {
	mu    sync.Mutex
	image []byte
}

// Load returns a copy of the last image saved, or nil if none was.
func (m *Memory) Load() ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.image == nil {
		return nil, nil
	}
	return append([]byte(nil), m.image...), nil
}

// Save keeps a copy of image, in the memory of the previous one (Load
// never hands that out).
func (m *Memory) Save(image []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.image = append(m.image[:0], image...)
	return nil
}

// Tearable wraps a Medium with power-cut injection and a write counter. It is
// safe for concurrent use.
type Tearable struct {
	Medium

	mu     sync.Mutex
	saves  int  // successful saves since creation
	budget int  // saves allowed before the cut; -1 when no cut is planned
	torn   bool // the cut happened: every save fails until Restore
}

// NewTearable wraps m with no power cut planned.
func NewTearable(m Medium) *Tearable {
	return &Tearable{Medium: m, budget: -1}
}

// CutAfter plans a power cut after k more successful writes: writes k+1 and
// later fail with ErrPowerLost until Restore. CutAfter(0) makes the very next
// write fail.
func (t *Tearable) CutAfter(k int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.budget, t.torn = k, false
}

// Restore brings power back: the planned cut, if any, is forgotten and writes
// succeed again.
func (t *Tearable) Restore() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.budget, t.torn = -1, false
}

// Torn reports whether the planned cut has happened.
func (t *Tearable) Torn() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.torn
}

// Saves returns how many writes have reached the underlying medium.
func (t *Tearable) Saves() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.saves
}

// Save passes image to the underlying medium unless power has been cut.
func (t *Tearable) Save(image []byte) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.torn || t.budget == 0 {
		t.torn = true
		return ErrPowerLost
	}
	if err := t.Medium.Save(image); err != nil {
		return err
	}
	t.saves++
	if t.budget > 0 {
		t.budget--
	}
	return nil
}
