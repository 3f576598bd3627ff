package pin

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"

	"github.com/tesseracard/tessera/firmware/nvm"
)

// ErrBlocked is returned when the try counter is zero. The card answers 6983.
var ErrBlocked = errors.New("pin: blocked")

// ErrWrong is matched (errors.Is) by every *WrongError.
var ErrWrong = errors.New("pin: wrong value")

// ErrNotSet is returned by operations on an object that was never Init'ed.
var ErrNotSet = errors.New("pin: reference data not set")

// WrongError reports a failed compare and the tries left after it; the card
// answers 63Cx, or 6983 when Retries is 0 and its profile says so.
type WrongError struct{ Retries int }

func (e *WrongError) Error() string {
	return fmt.Sprintf("pin: wrong value, %d tries left", e.Retries)
}

// Is makes errors.Is(err, ErrWrong) true for every WrongError.
func (e *WrongError) Is(target error) bool { return target == ErrWrong }

// Writer is where a new reference value is written: the Store itself (one
// atomic write) or a transaction (written at its commit).
type Writer interface {
	Put(key string, value []byte) error
}

// Record layout, version 1:
//
//	version u8 | limit u8 | tries u8 | flags u8 | salt [16] | sha256(salt‖value) [32]
const (
	recVersion = 1
	recLen     = 4 + saltLen + sha256.Size
	saltLen    = 16

	flagMustChange = 1 << 0
	flagDefault    = 1 << 1
)

// MaxTries is the most tries a 63Cx status word can say: 15. The PIV and
// ISO applications keep their limits within it.
const MaxTries = 15

// MaxLimit is the largest retry limit a record holds: its limit and tries
// are one byte each. An application whose host reads the tries elsewhere
// (OpenPGP's C4) may go above [MaxTries]; its 63Cx then says 15 until fewer
// are left.
const MaxLimit = 255

// checkLimit refuses a retry limit a record cannot hold.
func checkLimit(limit int) error {
	if limit < 1 || limit > MaxLimit {
		return fmt.Errorf("pin: retry limit %d outside 1..%d", limit, MaxLimit)
	}
	return nil
}

// Object is one PIN or PUK held in a Store under a key of its own.
type Object struct {
	s   *nvm.Store
	key string
	q   Quirks
}

// New returns the object stored under key in s.
func New(s *nvm.Store, key string) *Object { return &Object{s: s, key: key} }

// Quirks are deliberate faults in the try counter, seen in real cards and
// emulators, that a profile can turn on so that host software and the
// conformance suite can be tested against them. The zero value is a correct
// object. Each is read in one place: [Object.spend].
type Quirks struct {
	// NoDecrement: a wrong value spends no try (profile quirk
	// "no-decrement").
	NoDecrement bool
	// RestoreBeforeCompare: the counter is decremented, restored, and only
	// then compared, and decremented again on a mismatch (profile quirk
	// "restore-before-compare"). No answer shows it, but a power cut
	// during the compare gives a free try.
	RestoreBeforeCompare bool
}

// WithQuirks makes o misbehave as q says, and returns o.
func (o *Object) WithQuirks(q Quirks) *Object {
	o.q = q
	return o
}

// Status is an object's state, readable without spending a try.
type Status struct {
	Tries, Limit int
	MustChange   bool // a transport value that must be changed before use
	Default      bool // still the value it was initialised with
}

// Blocked reports whether no tries are left.
func (st Status) Blocked() bool { return st.Tries == 0 }

type record struct {
	limit, tries, flags byte
	salt                [saltLen]byte
	hash                [sha256.Size]byte
}

func (o *Object) load() (record, error) {
	raw, ok := o.s.Get(o.key)
	if !ok {
		return record{}, ErrNotSet
	}
	if len(raw) != recLen || raw[0] != recVersion || raw[1] == 0 || raw[2] > raw[1] {
		return record{}, fmt.Errorf("%w: PIN record %q is malformed", nvm.ErrCorrupt, o.key)
	}
	r := record{limit: raw[1], tries: raw[2], flags: raw[3]}
	copy(r.salt[:], raw[4:])
	copy(r.hash[:], raw[4+saltLen:])
	return r, nil
}

func (r record) bytes() []byte {
	b := make([]byte, 0, recLen)
	b = append(b, recVersion, r.limit, r.tries, r.flags)
	b = append(b, r.salt[:]...)
	return append(b, r.hash[:]...)
}

func digest(salt *[saltLen]byte, v []byte) [sha256.Size]byte {
	h := sha256.New()
	h.Write(salt[:])
	h.Write(v)
	var d [sha256.Size]byte
	h.Sum(d[:0])
	return d
}

// Exists reports whether the object has reference data.
func (o *Object) Exists() bool {
	_, ok := o.s.Get(o.key)
	return ok
}

// Status returns tries left, the limit and the flags.
func (o *Object) Status() (Status, error) {
	r, err := o.load()
	if err != nil {
		return Status{}, err
	}
	return Status{Tries: int(r.tries), Limit: int(r.limit), MustChange: r.flags&flagMustChange != 0, Default: r.flags&flagDefault != 0}, nil
}

// Init sets value as the reference data with a full counter of limit tries,
// written through w. isDefault marks a factory value (reported by metadata);
// mustChange marks a transport value. rnd supplies the salt. No policy is
// applied: factory values are the profile's business.
func (o *Object) Init(w Writer, value []byte, limit int, isDefault, mustChange bool, rnd io.Reader) error {
	if err := checkLimit(limit); err != nil {
		return err
	}
	var flags byte
	if isDefault {
		flags |= flagDefault
	}
	if mustChange {
		flags |= flagMustChange
	}
	return o.write(w, record{limit: byte(limit), tries: byte(limit), flags: flags}, value, rnd)
}

func (o *Object) write(w Writer, r record, value []byte, rnd io.Reader) error {
	if _, err := io.ReadFull(rnd, r.salt[:]); err != nil {
		return fmt.Errorf("pin: drawing salt: %w", err)
	}
	r.hash = digest(&r.salt, value)
	return w.Put(o.key, r.bytes())
}

// Verify checks candidate against the reference data with the pre-decrement
// rule. It returns nil on a match (the counter restored), *WrongError on a
// mismatch, ErrBlocked with no tries left (nothing written), or the store's
// error if the decrement could not be written, in which case no compare was
// made.
func (o *Object) Verify(candidate []byte) error {
	r, err := o.attempt(candidate)
	if err != nil {
		return err
	}
	return o.s.Put(o.key, r.bytes())
}

// attempt is the pre-decrement protocol up to the compare: it writes the
// decremented counter, compares only once that write succeeded, and on a match
// returns the record with its counter restored in memory, for the caller to
// write. Restoring is needed even from a full counter: the decrement is
// already on record.
func (o *Object) attempt(candidate []byte) (record, error) {
	r, err := o.load()
	if err != nil {
		return r, err
	}
	if r.tries == 0 {
		return r, ErrBlocked
	}
	match, err := o.spend(&r, candidate)
	if err != nil {
		return r, err
	}
	if !match {
		return r, &WrongError{Retries: int(r.tries)}
	}
	r.tries = r.limit
	return r, nil
}

// spend spends a try on candidate: it writes the decremented counter and
// compares only once that write succeeded. It reports whether candidate
// matched; r holds the counter as written. This is the one place the
// counter quirks are read.
func (o *Object) spend(r *record, candidate []byte) (bool, error) {
	switch {
	case o.q.NoDecrement:
		return r.matches(candidate), nil
	case o.q.RestoreBeforeCompare:
		dec := *r
		dec.tries--
		if err := o.s.Put(o.key, dec.bytes()); err != nil {
			return false, err
		}
		if err := o.s.Put(o.key, r.bytes()); err != nil {
			return false, err
		}
		if r.matches(candidate) {
			return true, nil
		}
		*r = dec
		return false, o.s.Put(o.key, r.bytes())
	}
	r.tries--
	if err := o.s.Put(o.key, r.bytes()); err != nil {
		return false, err
	}
	return r.matches(candidate), nil
}

// matches compares candidate with the reference data in constant time.
func (r *record) matches(candidate []byte) bool {
	d := digest(&r.salt, candidate)
	return subtle.ConstantTimeCompare(d[:], r.hash[:]) == 1
}

// Change replaces the reference data after checking old. The new value is
// checked against p first: a value that breaks it fails with ErrPolicy and
// spends no try. A wrong old value counts as a failed try. On success the new
// value and the restored counter reach the store in one write, and the
// must-change and default flags are cleared.
func (o *Object) Change(old, value []byte, p Policy, rnd io.Reader) error {
	if err := p.Check(value); err != nil {
		return err
	}
	r, err := o.attempt(old)
	if err != nil {
		return err
	}
	r.flags = 0
	return o.write(o.s, r, value, rnd)
}

// SetLimit sets a new retry limit with a full counter of that many tries,
// keeping the reference data and the flags, written through w: what a
// YubiKey's OpenPGP SET PIN RETRIES does. It returns ErrNotSet for an
// object without reference data.
func (o *Object) SetLimit(w Writer, limit int) error {
	if err := checkLimit(limit); err != nil {
		return err
	}
	r, err := o.load()
	if err != nil {
		return err
	}
	r.limit, r.tries = byte(limit), byte(limit)
	return w.Put(o.key, r.bytes())
}

// Reset sets a new value with a full counter, clearing the flags, written
// through w: what RESET RETRY COUNTER does once the PUK has been checked, and
// what an administrator reset does. The value is checked against p.
func (o *Object) Reset(w Writer, value []byte, p Policy, rnd io.Reader) error {
	if err := p.Check(value); err != nil {
		return err
	}
	r, err := o.load()
	if err != nil {
		return err
	}
	r.tries, r.flags = r.limit, 0
	return o.write(w, r, value, rnd)
}

// Unblock is RESET RETRY COUNTER: it checks pukValue against the PUK with the
// pre-decrement rule and, on a match, restores the PUK's counter and sets the
// PIN to newPIN with a full counter, both in one atomic write. newPIN is
// checked against p before anything is written. A wrong PUK counts against
// the PUK's counter. It must not be called inside an open transaction.
func Unblock(puk, pin *Object, pukValue, newPIN []byte, p Policy, rnd io.Reader) error {
	if err := p.Check(newPIN); err != nil {
		return err
	}
	if !pin.Exists() {
		return ErrNotSet
	}
	r, err := puk.attempt(pukValue)
	if err != nil {
		return err
	}
	tx, err := puk.s.Begin()
	if err != nil {
		return err
	}
	defer tx.Abort()
	if err := tx.Put(puk.key, r.bytes()); err != nil {
		return err
	}
	if err := pin.Reset(tx, newPIN, Policy{}, rnd); err != nil {
		return err
	}
	return tx.Commit()
}
