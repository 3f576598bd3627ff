package nvm

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
)

// ErrRolledBack is wrapped by Protected.Load when the medium holds a state
// older than its counter says it should: a copy of the file put back, a
// file from another card, or a counter that no longer exists. The card
// refuses to start rather than run on an old state (whose spent PIN tries
// would be restored).
var ErrRolledBack = errors.New("nvm: state rolled back")

// ErrKeyUnavailable is wrapped by Protected.Load when the state key cannot
// be unsealed: the state file was made on another machine or TPM, or the
// TPM's storage hierarchy was cleared since.
var ErrKeyUnavailable = errors.New("nvm: state key cannot be unsealed")

// ErrNoCounter is wrapped by Counter.Read when the counter has never been
// created (Increment creates it).
var ErrNoCounter = errors.New("nvm: counter does not exist")

// StateKeySize is the size of the key that encrypts a protected state.
const StateKeySize = 32

// Sealer wraps the state key so that it can be stored beside the state and
// unwrapped only where it was wrapped. Seal and Unseal may be slow (a TPM);
// Protected calls Unseal once per state it opens and Seal once per state it
// creates.
type Sealer interface {
	// Seal returns key wrapped.
	Seal(key []byte) ([]byte, error)
	// Unseal returns the key that Seal wrapped.
	Unseal(sealed []byte) ([]byte, error)
}

// Counter is a monotonic counter: its value only ever goes up, by one at a
// time.
type Counter interface {
	// Name identifies the counter (a TPM NV index, for example). A saved
	// state records it, and a state saved against one counter is refused by
	// another.
	Name() string
	// Read returns the current value, or an error wrapping ErrNoCounter if
	// the counter was never created.
	Read() (uint64, error)
	// Increment adds one (creating the counter first if it does not exist)
	// and returns the new value.
	Increment() (uint64, error)
}

// PlainSealer is the default Sealer: it does not wrap at all, so the key is
// stored in clear beside the state and anyone who can read the file can
// decrypt it. It gives no protection against copying the state elsewhere.
type PlainSealer struct{}

// Seal returns a copy of key.
func (PlainSealer) Seal(key []byte) ([]byte, error) { return bytes.Clone(key), nil }

// Unseal returns a copy of sealed.
func (PlainSealer) Unseal(sealed []byte) ([]byte, error) {
	if len(sealed) != StateKeySize {
		return nil, fmt.Errorf("plain state key of %d bytes, want %d", len(sealed), StateKeySize)
	}
	return bytes.Clone(sealed), nil
}

// MemoryCounter is the default Counter: a value in RAM, lost with the
// process. It detects a state put back while the process runs, nothing
// more: it gives no rollback protection across restarts. Its zero value
// is a counter that does not exist yet. It is safe for concurrent use.
type MemoryCounter struct {
	mu      sync.Mutex
	value   uint64
	created bool
}

// Name returns "memory".
func (c *MemoryCounter) Name() string { return "memory" }

// Read returns the value.
func (c *MemoryCounter) Read() (uint64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.created {
		return 0, ErrNoCounter
	}
	return c.value, nil
}

// Increment adds one.
func (c *MemoryCounter) Increment() (uint64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.created = true
	c.value++
	return c.value, nil
}

// ProtectOptions configure a Protected medium.
type ProtectOptions struct {
	// Sealer wraps the state key; nil means PlainSealer (no protection).
	Sealer Sealer
	// Counter is the state's anti-rollback counter; nil means a new
	// MemoryCounter (no protection across restarts).
	Counter Counter
	// Rand is the source of the state key and of the AES-GCM nonces. It is
	// required: the firmware has no randomness of its own.
	Rand io.Reader
}

// Protected is a Medium that encrypts every image with a state key (AES-256-
// GCM) and binds it to a monotonic counter, so that an older copy of the
// state put back is refused.
//
// Each image reaches the underlying medium as an envelope (all integers
// big-endian):
//
//	"TSPE" | version u8 (1) | nameLen u8 | counter name | value u64 |
//	sealedLen u16 | sealed state key | nonce [12] | AES-GCM(image)
//
// Everything before the nonce is the AEAD's additional data, so the counter
// name, the value and the sealed key cannot be changed without the key. The
// sealed key travels in every envelope: the state file needs no companion.
//
// Save protocol: with the counter at N, the envelope is written with value
// N+1 (atomically and durably, by the underlying medium), then the counter
// is incremented to N+1; only then does Save return nil. Load accepts an
// envelope whose value equals the counter, and one whose value is the
// counter plus one (a crash between the write and the increment) after
// incrementing the counter; a lower value, a missing counter or another
// counter's envelope is refused with an error wrapping ErrRolledBack. The
// counter moves only when the state is saved, that is when it changes.
//
// With the defaults (PlainSealer, MemoryCounter) there is no rollback
// protection across restarts and no protection of the key: use a TPM
// (simulator/tpmstore) for that. It is safe for concurrent use.
type Protected struct {
	m       Medium
	sealer  Sealer
	counter Counter
	rand    io.Reader

	mu     sync.Mutex
	sealed []byte      // the sealed key in use, nil until known
	aead   cipher.AEAD // from the unsealed key
	value  uint64      // the counter's value, when known
	known  bool
}

// Envelope format constants.
const (
	envelopeMagic   = "TSPE"
	envelopeVersion = 1
	nonceSize       = 12
	maxSealed       = 4096
)

// NewProtected wraps m. Nothing is read until Load.
func NewProtected(m Medium, opt ProtectOptions) (*Protected, error) {
	if opt.Rand == nil {
		return nil, errors.New("nvm: protected medium needs a random source (ProtectOptions.Rand)")
	}
	if opt.Sealer == nil {
		opt.Sealer = PlainSealer{}
	}
	if opt.Counter == nil {
		opt.Counter = new(MemoryCounter)
	}
	if len(opt.Counter.Name()) > 255 {
		return nil, fmt.Errorf("nvm: counter name of %d bytes is over 255", len(opt.Counter.Name()))
	}
	return &Protected{m: m, sealer: opt.Sealer, counter: opt.Counter, rand: opt.Rand}, nil
}

// envelope is a parsed envelope.
type envelope struct {
	name       string
	value      uint64
	sealed     []byte
	aad        []byte // everything before the nonce
	nonce      []byte
	ciphertext []byte
}

func parseEnvelope(b []byte) (envelope, error) {
	corrupt := func(format string, args ...any) (envelope, error) {
		return envelope{}, fmt.Errorf("%w: protected state: %s", ErrCorrupt, fmt.Sprintf(format, args...))
	}
	if len(b) >= 4 && string(b[:4]) == imageMagic {
		return corrupt("the medium holds an unprotected image (a card made without a TPM); open it without one, or remove it to start afresh")
	}
	if len(b) < 6 || string(b[:4]) != envelopeMagic {
		return corrupt("bad envelope header")
	}
	if b[4] != envelopeVersion {
		return corrupt("unsupported envelope version %d (this build reads version %d)", b[4], envelopeVersion)
	}
	var e envelope
	rest := b[5:]
	nl := int(rest[0])
	rest = rest[1:]
	if len(rest) < nl+8+2 {
		return corrupt("truncated envelope header")
	}
	e.name = string(rest[:nl])
	e.value = binary.BigEndian.Uint64(rest[nl:])
	sl := int(binary.BigEndian.Uint16(rest[nl+8:]))
	rest = rest[nl+10:]
	if sl == 0 || sl > maxSealed || len(rest) < sl+nonceSize+16 {
		return corrupt("sealed key of %d bytes does not fit in the envelope", sl)
	}
	e.sealed = rest[:sl]
	rest = rest[sl:]
	e.aad = b[:len(b)-len(rest)]
	e.nonce, e.ciphertext = rest[:nonceSize], rest[nonceSize:]
	return e, nil
}

// Load returns the current image, checked against the counter, or nil for a
// blank medium. Errors: ErrCorrupt (a damaged envelope or a wrong key),
// ErrKeyUnavailable, ErrRolledBack, or the counter's or medium's error.
func (p *Protected) Load() ([]byte, error) {
	raw, err := p.m.Load()
	if err != nil || raw == nil {
		return nil, err
	}
	e, err := parseEnvelope(raw)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if e.name != p.counter.Name() {
		return nil, fmt.Errorf("%w: the state was saved against counter %q, this card's counter is %q (was the file copied or moved from another card?)", ErrRolledBack, e.name, p.counter.Name())
	}
	if err := p.useKey(e.sealed); err != nil {
		return nil, err
	}
	image, err := p.aead.Open(nil, e.nonce, e.ciphertext, e.aad)
	if err != nil {
		return nil, fmt.Errorf("%w: protected state fails authentication (damaged, or not encrypted with its sealed key)", ErrCorrupt)
	}
	nv, err := p.counter.Read()
	if errors.Is(err, ErrNoCounter) {
		p.known = false
		return nil, fmt.Errorf("%w: the state was saved at count %d but counter %s does not exist", ErrRolledBack, e.value, p.counter.Name())
	}
	if err != nil {
		p.known = false
		return nil, fmt.Errorf("nvm: reading counter %s: %w", p.counter.Name(), err)
	}
	switch {
	case e.value == nv:
	case nv < e.value && e.value-nv == 1:
		// A crash came between the write and the increment: finish the save.
		got, err := p.counter.Increment()
		if err != nil {
			p.known = false
			return nil, fmt.Errorf("nvm: completing the last save: incrementing counter %s: %w", p.counter.Name(), err)
		}
		if got != e.value {
			p.known = false
			return nil, fmt.Errorf("nvm: completing the last save: counter %s went to %d, want %d (is something else using it?)", p.counter.Name(), got, e.value)
		}
	case e.value < nv:
		p.known = false
		return nil, fmt.Errorf("%w: the state file holds save %d but counter %s is at %d: an older copy of the file was put back", ErrRolledBack, e.value, p.counter.Name(), nv)
	default:
		p.known = false
		return nil, fmt.Errorf("%w: counter %s is at %d, behind the state's save %d: the counter was replaced or reset", ErrRolledBack, p.counter.Name(), nv, e.value)
	}
	p.value, p.known = e.value, true
	return image, nil
}

// useKey makes sealed the key in use, unsealing it unless it already is.
// Called with mu held.
func (p *Protected) useKey(sealed []byte) error {
	if p.aead != nil && subtle.ConstantTimeCompare(sealed, p.sealed) == 1 {
		return nil
	}
	key, err := p.sealer.Unseal(sealed)
	if err != nil {
		return fmt.Errorf("%w (was the state file made on another machine or TPM?): %w", ErrKeyUnavailable, err)
	}
	defer clear(key)
	aead, err := newAEAD(key)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrKeyUnavailable, err)
	}
	p.sealed, p.aead = bytes.Clone(sealed), aead
	return nil
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	if len(key) != StateKeySize {
		return nil, fmt.Errorf("state key of %d bytes, want %d", len(key), StateKeySize)
	}
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

// newKey makes and seals a fresh state key. Called with mu held.
func (p *Protected) newKey() error {
	key := make([]byte, StateKeySize)
	defer clear(key)
	if _, err := io.ReadFull(p.rand, key); err != nil {
		return fmt.Errorf("nvm: making the state key: %w", err)
	}
	sealed, err := p.sealer.Seal(key)
	if err != nil {
		return fmt.Errorf("nvm: sealing the state key: %w", err)
	}
	if len(sealed) == 0 || len(sealed) > maxSealed {
		return fmt.Errorf("nvm: sealed state key of %d bytes, want 1 to %d", len(sealed), maxSealed)
	}
	aead, err := newAEAD(key)
	if err != nil {
		return err
	}
	p.sealed, p.aead = sealed, aead
	return nil
}

// Save writes image with the next counter value, then increments the
// counter (see Protected). If the write succeeds but the increment fails,
// the error says so; the new state is then adopted by the next Load.
func (p *Protected) Save(image []byte) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.aead == nil {
		if err := p.newKey(); err != nil {
			return err
		}
	}
	if !p.known {
		v, err := p.counter.Read()
		if errors.Is(err, ErrNoCounter) {
			v, err = p.counter.Increment()
		}
		if err != nil {
			return fmt.Errorf("nvm: reading counter %s: %w", p.counter.Name(), err)
		}
		p.value, p.known = v, true
	}
	next := p.value + 1
	name := p.counter.Name()
	env := make([]byte, 0, 5+1+len(name)+8+2+len(p.sealed)+nonceSize+len(image)+p.aead.Overhead())
	env = append(env, envelopeMagic...)
	env = append(env, envelopeVersion, byte(len(name)))
	env = append(env, name...)
	env = binary.BigEndian.AppendUint64(env, next)
	env = binary.BigEndian.AppendUint16(env, uint16(len(p.sealed)))
	env = append(env, p.sealed...)
	aad := len(env)
	env = env[:aad+nonceSize]
	if _, err := io.ReadFull(p.rand, env[aad:]); err != nil {
		return fmt.Errorf("nvm: making a nonce: %w", err)
	}
	env = p.aead.Seal(env, env[aad:aad+nonceSize], image, env[:aad])
	if err := p.m.Save(env); err != nil {
		return err
	}
	got, err := p.counter.Increment()
	if err != nil {
		p.known = false
		return fmt.Errorf("nvm: state saved as %d, then incrementing counter %s failed: %w", next, name, err)
	}
	if got != next {
		p.known = false
		return fmt.Errorf("nvm: counter %s went to %d, want %d (is something else using it?)", name, got, next)
	}
	p.value = next
	return nil
}
