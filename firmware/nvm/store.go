package nvm

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
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
//
// A write (Put, Delete, Commit) costs one encoding of the whole image and
// one Save, but nothing else in proportion to the store's size: the
// records are changed in place and changed back if the Save fails, the
// sorted list of keys is rebuilt only when keys are added or removed, the
// bytes used are kept up to date, and the image is encoded into a buffer
// the Store keeps (a Medium does not keep the slice it is given).
type Store struct {
	m     Medium
	opt   Options
	img   Image    // committed state, as on the medium
	keys  []string // img's keys, sorted; replaced, never changed in place
	used  int
	tx    *Tx
	saves int
	buf   []byte // the last image encoded, reused by the next write
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
	s.keys = make([]string, 0, len(s.img.Records))
	for k := range s.img.Records {
		s.keys = append(s.keys, k)
	}
	sort.Strings(s.keys)
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
	i := sort.SearchStrings(s.keys, prefix)
	j := i
	for j < len(s.keys) && strings.HasPrefix(s.keys[j], prefix) {
		j++
	}
	if i == j {
		return nil
	}
	return slices.Clone(s.keys[i:j])
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
	return s.apply([]change{{key: key, val: bytes.Clone(value)}})
}

// Delete removes key as one atomic write, outside any open transaction.
// Deleting a missing key writes nothing.
func (s *Store) Delete(key string) error {
	if _, ok := s.img.Records[key]; !ok {
		return nil
	}
	return s.apply([]change{{key: key, del: true}})
}

// change is one record a write puts or deletes, with what it held before
// (old, had) so that the write can be undone.
type change struct {
	key string
	val []byte
	del bool
	old []byte
	had bool
}

// apply writes the committed state with changes (each key at most once)
// applied, and adopts it only once the medium has it. The records are
// changed in place for the encoding; if anything fails they are changed
// back, so a refused, failed or torn write leaves the Store as it was.
func (s *Store) apply(changes []change) error {
	recs := s.img.Records
	used, added, removed := s.used, 0, 0
	for i := range changes {
		c := &changes[i]
		c.old, c.had = recs[c.key]
		if c.had {
			used -= len(c.key) + len(c.old)
		}
		switch {
		case !c.del:
			used += len(c.key) + len(c.val)
			if !c.had {
				added++
			}
		case c.had:
			removed++
		}
	}
	if used > s.opt.Capacity && used > s.used {
		return fmt.Errorf("%w: %d bytes needed, capacity %d", ErrCapacity, used, s.opt.Capacity)
	}
	for _, c := range changes {
		if !c.had && !c.del && (c.key == "" || len(c.key) > maxKeyLen) {
			return fmt.Errorf("nvm: encoding image: bad record key length %d", len(c.key))
		}
	}
	count := len(recs) + added - removed
	size := imageSize(count, used)
	if size > MaxImageSize {
		return fmt.Errorf("nvm: encoding image: %d bytes exceeds the %d-byte limit", size, MaxImageSize)
	}
	keys := s.keys
	if added > 0 || removed > 0 {
		keys = mergeKeys(s.keys, changes, count)
	}

	for _, c := range changes {
		if c.del {
			delete(recs, c.key)
		} else {
			recs[c.key] = c.val
		}
	}
	adopted := false
	defer func() {
		if adopted {
			return
		}
		for _, c := range changes {
			if c.had {
				recs[c.key] = c.old
			} else {
				delete(recs, c.key)
			}
		}
	}()
	if cap(s.buf) < size {
		s.buf = make([]byte, 0, size)
	}
	raw := appendImage(s.buf[:0], s.img.Generation+1, keys, recs)
	if err := s.m.Save(raw); err != nil {
		if errors.Is(err, ErrPowerLost) {
			return err
		}
		return fmt.Errorf("%w: %w", ErrMedium, err)
	}
	adopted = true
	s.saves++
	s.img.Generation++
	s.keys, s.used = keys, used
	return nil
}

// mergeKeys returns, in a new slice of count keys, the sorted keys with the
// changes' new keys added and their deleted keys removed.
func mergeKeys(keys []string, changes []change, count int) []string {
	var add []string
	gone := map[string]bool{}
	for _, c := range changes {
		switch {
		case c.del && c.had:
			gone[c.key] = true
		case !c.del && !c.had:
			add = append(add, c.key)
		}
	}
	sort.Strings(add)
	out := make([]string, 0, count)
	for _, k := range keys {
		for len(add) > 0 && add[0] < k {
			out, add = append(out, add[0]), add[1:]
		}
		if !gone[k] {
			out = append(out, k)
		}
	}
	return append(out, add...)
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
	changes := make([]change, 0, len(t.puts)+len(t.dels))
	for k, v := range t.puts {
		changes = append(changes, change{key: k, val: v})
	}
	for k := range t.dels {
		if _, ok := t.puts[k]; !ok {
			changes = append(changes, change{key: k, del: true})
		}
	}
	return t.s.apply(changes)
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
