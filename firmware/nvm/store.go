package nvm

import (
	"bytes"
	"errors"
	"fmt"
	"sort"
	"strings"
)

// ErrCapacity is returned by a write that would take the store past its
// capacity. Nothing is written. The card answers 6A84.
var ErrCapacity = errors.New("nvm: not enough persistent memory")

// ErrMedium is wrapped by a write the medium failed (a full disk, an I/O
// error). Nothing was adopted; the card answers 6581 (memory failure).
var ErrMedium = errors.New("nvm: persistent memory write failed")

// ErrTxActive is returned by Begin while another transaction is open.
var ErrTxActive = errors.New("nvm: a transaction is already in progress")

// ErrTxDone is returned by a Tx method after Commit or Abort.
var ErrTxDone = errors.New("nvm: transaction already finished")

// MaxCapacity is the most persistent memory a store may have, in bytes of
// keys and values: the capacity of a store whose Options ask for none (0)
// or for more. It is four times the default profile's 512 KiB, and more
// than any real token offers. It is kept small for two reasons. Every write
// re-encodes and saves the whole image, so filling a store costs time
// quadratic in its size: in the worst case, the ISO application's 255-byte
// UPDATE BINARY into 32 KiB files, filling 2 MiB takes about 9 s on the
// memory medium and 23 s on the file medium, and 8 MiB takes over a minute
// and five minutes. And a full store must still encode within
// MaxImageSize: a record costs 6 bytes of framing besides its key and
// value, so an image is at most 7 × MaxCapacity plus its header and
// trailer, far below the limit even wrapped in a TPM envelope.
const MaxCapacity = 2 << 20

// Options configure a Store.
type Options struct {
	// Capacity is the most bytes of keys and values the store may hold;
	// zero, or anything over MaxCapacity, means MaxCapacity.
	Capacity int
}

// Store is a card's persistent records, loaded from a Medium and written back
// to it on every change. It is not safe for concurrent use: a card processes
// one command at a time.
type Store struct {
	m     Medium
	opt   Options
	img   Image // committed state, as on the medium
	used  int
	tx    *Tx
	saves int
}

// Open loads the store from m. A blank medium gives an empty store; a damaged
// one gives an error wrapping ErrCorrupt, and the store refuses to start rather
// than silently beginning afresh.
//
// A store may hold more than its capacity (state written by an earlier
// build, or under a larger capacity): it opens all the same, and then
// refuses only writes that make it grow.
func Open(m Medium, opt Options) (*Store, error) {
	if opt.Capacity <= 0 || opt.Capacity > MaxCapacity {
		opt.Capacity = MaxCapacity
	}
	raw, err := m.Load()
	if err != nil {
		return nil, err
	}
	s := &Store{m: m, opt: opt, img: Image{Records: map[string][]byte{}}}
	if raw == nil {
		return s, nil
	}
	if s.img, err = DecodeImage(raw); err != nil {
		return nil, err
	}
	s.used = usage(s.img.Records)
	return s, nil
}

func usage(recs map[string][]byte) int {
	n := 0
	for k, v := range recs {
		n += len(k) + len(v)
	}
	return n
}

// Get returns the committed value of key. The slice must not be modified.
func (s *Store) Get(key string) ([]byte, bool) {
	v, ok := s.img.Records[key]
	return v, ok
}

// Keys returns the committed keys that start with prefix, sorted.
func (s *Store) Keys(prefix string) []string {
	var keys []string
	for k := range s.img.Records {
		if strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}

// Used returns the bytes of keys and values held; Capacity the most it may
// hold (at most MaxCapacity).
func (s *Store) Used() int     { return s.used }
func (s *Store) Capacity() int { return s.opt.Capacity }

// Generation counts the writes that made the committed state.
func (s *Store) Generation() uint64 { return s.img.Generation }

// Saves returns how many writes this Store has made to its medium.
func (s *Store) Saves() int { return s.saves }

// Put writes key=value as one atomic write, outside any open transaction
// (whose staged changes are neither written nor disturbed).
func (s *Store) Put(key string, value []byte) error {
	return s.apply(map[string][]byte{key: bytes.Clone(value)}, nil)
}

// Delete removes key as one atomic write, outside any open transaction.
// Deleting a missing key writes nothing.
func (s *Store) Delete(key string) error {
	if _, ok := s.img.Records[key]; !ok {
		return nil
	}
	return s.apply(nil, map[string]bool{key: true})
}

// apply writes the committed state with puts and deletes applied, and adopts
// it only once the medium has it.
func (s *Store) apply(puts map[string][]byte, dels map[string]bool) error {
	next := Image{Generation: s.img.Generation + 1, Records: make(map[string][]byte, len(s.img.Records)+len(puts))}
	for k, v := range s.img.Records {
		if !dels[k] {
			next.Records[k] = v
		}
	}
	for k, v := range puts {
		next.Records[k] = v
	}
	used := usage(next.Records)
	if used > s.opt.Capacity && used > s.used {
		return fmt.Errorf("%w: %d bytes needed, capacity %d", ErrCapacity, used, s.opt.Capacity)
	}
	raw, err := EncodeImage(next)
	if err != nil {
		return err
	}
	if err := s.m.Save(raw); err != nil {
		if errors.Is(err, ErrPowerLost) {
			return err
		}
		return fmt.Errorf("%w: %w", ErrMedium, err)
	}
	s.saves++
	s.img, s.used = next, used
	return nil
}

// Begin opens a transaction. Its changes reach the medium together at Commit,
// or never.
func (s *Store) Begin() (*Tx, error) {
	if s.tx != nil {
		return nil, ErrTxActive
	}
	s.tx = &Tx{s: s, puts: map[string][]byte{}, dels: map[string]bool{}}
	return s.tx, nil
}

// AbortTx aborts the open transaction, if any.
func (s *Store) AbortTx() {
	if s.tx != nil {
		s.tx.Abort()
	}
}

// InTx reports whether a transaction is open.
func (s *Store) InTx() bool { return s.tx != nil }

// Tx is an open transaction.
type Tx struct {
	s    *Store
	puts map[string][]byte
	dels map[string]bool
	done bool
}

// Get returns key's value as the transaction sees it.
func (t *Tx) Get(key string) ([]byte, bool) {
	if v, ok := t.puts[key]; ok {
		return v, true
	}
	if t.dels[key] {
		return nil, false
	}
	return t.s.Get(key)
}

// Put stages key=value.
func (t *Tx) Put(key string, value []byte) error {
	if t.done {
		return ErrTxDone
	}
	delete(t.dels, key)
	t.puts[key] = bytes.Clone(value)
	return nil
}

// Delete stages the removal of key.
func (t *Tx) Delete(key string) error {
	if t.done {
		return ErrTxDone
	}
	delete(t.puts, key)
	t.dels[key] = true
	return nil
}

// Commit writes every staged change in one atomic write. On any error,
// including ErrCapacity and ErrPowerLost, nothing of the transaction is
// committed and the transaction is over.
func (t *Tx) Commit() error {
	if t.done {
		return ErrTxDone
	}
	t.finish()
	if len(t.puts) == 0 && len(t.dels) == 0 {
		return nil
	}
	return t.s.apply(t.puts, t.dels)
}

// Abort drops every staged change. Aborting a finished transaction does nothing.
func (t *Tx) Abort() {
	if !t.done {
		t.finish()
	}
}

func (t *Tx) finish() {
	t.done = true
	t.s.tx = nil
}
