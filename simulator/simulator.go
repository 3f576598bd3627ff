package simulator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/tesseracard/tessera/firmware/nvm"
	"github.com/tesseracard/tessera/firmware/profile"
)

// MaxSlots bounds the card numbers: slots 0 to MaxSlots-1.
const MaxSlots = 256

// ErrNoCard is returned (wrapped) for a card number the simulator does not
// host.
var ErrNoCard = errors.New("simulator: no such card")

// ErrSlotTaken is returned (wrapped) by Add for a slot that holds a card.
var ErrSlotTaken = errors.New("simulator: slot already holds a card")

// ErrClosed is returned (wrapped) by Add after Close.
var ErrClosed = errors.New("simulator: closed")

// The IFD link's wait for the next APDU on the CPU (Config.IFDSpin).
const (
	DefaultIFDSpin = 500 * time.Microsecond
	MaxIFDSpin     = 10 * time.Millisecond
)

// ifdSpin is Config.IFDSpin with the default applied: zero for none.
func (cfg Config) ifdSpin() time.Duration {
	switch {
	case cfg.IFDSpin == 0:
		return DefaultIFDSpin
	case cfg.IFDSpin < 0:
		return 0
	}
	return cfg.IFDSpin
}

// Config configures a Simulator.
type Config struct {
	// StateDir holds each card's persistent memory, in cards/<slot>/. Empty:
	// the cards' memory is RAM only and lost with the simulator. The
	// simulator locks it from New to Close (the lock file StateDir/.lock):
	// a second simulator on it, in any process, is refused.
	StateDir string
	// Profile is the profile of new cards: a built-in name or a YAML file.
	// Empty: "default".
	Profile string
	// VPCD is slot 0's vpcd address, host:port; slot n uses port+n. Empty:
	// no vpcd links, the cards are reachable in process only.
	VPCD string
	// VPCDAnyOwner hands a card to whatever listens on its loopback vpcd
	// port. Off, a card connects only to a port held by root (pcscd) or by
	// the simulator's own user (Linux; see vpcdPeerAllowed).
	VPCDAnyOwner bool
	// IFDDir, instead of VPCD, serves each card to Tessera's own pcsc-lite
	// reader driver (the IFD bridge, docs/ifd-bridge.md): card n on the
	// unix socket IFDDir/card-n.sock (IFDSocket). The directory is created
	// (mode 0700) if missing.
	IFDDir string
	// IFDReaderNames, with IFDDir, are the readers' names as scripts/ifd.sh
	// gives them to pcscd (FRIENDLYNAME), slot n's the n-th; CardInfo.Reader
	// reports them as pcscd shows them. Missing: "Tessera IFD n".
	IFDReaderNames []string
	// IFDSpin, with IFDDir, is how long a card's IFD link, having answered
	// an APDU, waits for the driver's next request on the CPU before it
	// sleeps (docs/ifd-bridge.md: on a virtual machine, waking a sleeping
	// CPU costs more than the card's whole answer). Zero: DefaultIFDSpin;
	// negative: it sleeps at once. At most MaxIFDSpin.
	IFDSpin time.Duration
	// Tracer records every exchange; nil records nothing.
	Tracer *Tracer
	// Log receives what the simulator does, never a PIN or a key; nil
	// discards it.
	Log *slog.Logger
	// TouchMode is new cards' touch sensor mode; empty: TouchAuto.
	TouchMode TouchMode
	// TouchTimeout is how long a card in manual touch mode waits; zero:
	// DefaultTouchTimeout.
	TouchTimeout time.Duration
	// Clock is the cards' clock (touch caching, attestation certificates'
	// validity); nil: time.Now. A virtual clock makes scenarios repeatable.
	Clock func() time.Time
	// Protect, if set, wraps each card's state file: it is given the
	// file's path and its medium and returns the medium the card uses
	// (tessera sim --tpm: an nvm.Protected bound to a TPM, see
	// simulator/tpmstore). It needs a StateDir.
	Protect func(statePath string, m nvm.Medium) (nvm.Medium, error)
}

// Simulator hosts cards, each in a reader of its own. Its methods are safe
// for concurrent use.
type Simulator struct {
	cfg      Config
	vpcdHost string
	vpcdPort int

	stateLock *nvm.Lock // the state directory's; nil for RAM cards

	mu      sync.Mutex
	readers map[int]*Reader
	closed  bool
	ctx     context.Context
	cancel  context.CancelFunc
}

// New returns a simulator with no cards. It checks the configuration: the
// state directory is created (mode 0700) if missing, the default profile
// must resolve, and the vpcd address must be host:port. It locks the state
// directory before reading or writing anything in it, until Close; when
// another simulator holds it, New returns an error wrapping ErrStateLocked
// that names the directory and the holder's process id.
func New(cfg Config) (*Simulator, error) {
	if cfg.Profile == "" {
		cfg.Profile = "default"
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.TouchMode == "" {
		cfg.TouchMode = TouchAuto
	}
	if _, err := ParseTouchMode(string(cfg.TouchMode)); err != nil {
		return nil, err
	}
	if _, _, err := resolveProfile(cfg.Profile); err != nil {
		return nil, err
	}
	s := &Simulator{cfg: cfg, readers: map[int]*Reader{}}
	if cfg.VPCD != "" {
		host, port, err := ParseVPCDAddr(cfg.VPCD)
		if err != nil {
			return nil, err
		}
		s.vpcdHost, s.vpcdPort = host, port
	}
	if cfg.IFDSpin > MaxIFDSpin {
		return nil, fmt.Errorf("simulator: IFD spin %v: at most %v", cfg.IFDSpin, MaxIFDSpin)
	}
	if cfg.IFDDir != "" {
		if cfg.VPCD != "" {
			return nil, errors.New("simulator: a card has one bridge: vpcd or the IFD link, not both")
		}
		if err := os.MkdirAll(cfg.IFDDir, 0o700); err != nil {
			return nil, fmt.Errorf("creating the IFD socket directory: %w", err)
		}
	}
	if cfg.Protect != nil && cfg.StateDir == "" {
		return nil, errors.New("simulator: protected state (a TPM) needs a state directory: cards in RAM have no state file to protect")
	}
	if cfg.StateDir != "" {
		if err := os.MkdirAll(cfg.StateDir, 0o700); err != nil {
			return nil, fmt.Errorf("creating state directory: %w", err)
		}
		lock, err := lockStateDir(cfg.StateDir)
		if err != nil {
			return nil, err
		}
		s.stateLock = lock
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s, nil
}

// ParseVPCDAddr checks a vpcd address, host:port, and returns its parts.
func ParseVPCDAddr(addr string) (host string, port int, err error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("vpcd address %q: want HOST:PORT such as 127.0.0.1:%d", addr, DefaultVPCDPort)
	}
	port, err = strconv.Atoi(p)
	if err != nil || port < 1 || port > 65535 {
		return "", 0, fmt.Errorf("vpcd address %q: port %q is not a number from 1 to 65535", addr, p)
	}
	if host == "" {
		return "", 0, fmt.Errorf("vpcd address %q: missing host", addr)
	}
	return host, port, nil
}

// resolveProfile returns a profile and the name to record it under: a
// built-in's name, or a file's absolute path.
func resolveProfile(nameOrPath string) (profile.Profile, string, error) {
	if p, ok := profile.Builtin(nameOrPath); ok {
		return p, nameOrPath, nil
	}
	p, err := ResolveProfile(nameOrPath)
	if err != nil {
		return profile.Profile{}, "", err
	}
	abs, err := filepath.Abs(nameOrPath)
	if err != nil {
		return profile.Profile{}, "", fmt.Errorf("profile %s: %w", nameOrPath, err)
	}
	return p, abs, nil
}

// CardSpec says which card to add.
type CardSpec struct {
	// Slot is the card's number and vpcd slot; negative: the lowest free.
	Slot int
	// Profile is a built-in profile name or a YAML file. Empty: the profile
	// the card was created with if its state exists, else the simulator's.
	// A card whose state exists keeps its profile: naming another is an
	// error.
	Profile string
	// Serial is the serial number given at the card's first boot. Zero: the
	// one recorded for an existing card, else the profile's serial plus the
	// slot, so that cards differ. Naming another serial for an existing
	// card is an error.
	Serial uint32
}

// cardMeta is what a card directory records besides the card's memory:
// card.json. It is written, durably, before the card's memory (card.state)
// is first created, so that a card's state never exists without it.
type cardMeta struct {
	Profile string `json:"profile"`
	Serial  uint32 `json:"serial"`
}

const metaFileName = "card.json"

func readMeta(dir string) (cardMeta, bool, error) {
	path := filepath.Join(dir, metaFileName)
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return cardMeta{}, false, nil
	}
	if err != nil {
		return cardMeta{}, false, fmt.Errorf("reading card record: %w", err)
	}
	var m cardMeta
	if err := json.Unmarshal(data, &m); err != nil || m.Profile == "" {
		return cardMeta{}, false, fmt.Errorf("card record %s is damaged (want {\"profile\": ..., \"serial\": ...}); fix or remove it", path)
	}
	return m, true, nil
}

func writeMeta(dir string, m cardMeta) error {
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	if err := writeFileDurably(filepath.Join(dir, metaFileName), append(data, '\n')); err != nil {
		return fmt.Errorf("writing card record: %w", err)
	}
	return nil
}

// writeFileDurably replaces path with data (mode 0600) such that a crash at
// any instant leaves either the old file or the new one, and the new one
// survives a power cut once it returns: a temporary file, fsync, rename,
// fsync of the directory.
func writeFileDurably(path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// hasState reports whether the card directory dir holds a card's state.
func hasState(dir string) (bool, error) {
	_, err := os.Lstat(filepath.Join(dir, stateFileName))
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("checking card state: %w", err)
	}
	return true, nil
}

// cardDir returns slot's directory, or "" for RAM cards.
func (s *Simulator) cardDir(slot int) string {
	if s.cfg.StateDir == "" {
		return ""
	}
	return filepath.Join(s.cfg.StateDir, "cards", strconv.Itoa(slot))
}

// Add puts a card in a reader: its state is loaded from its directory (or
// created), it is inserted, and its vpcd link starts. A damaged state file
// is an error naming the file; nothing is ever wiped silently.
func (s *Simulator) Add(spec CardSpec) (*Reader, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	slot, addr, err := s.freeSlot(spec.Slot)
	if err != nil {
		return nil, err
	}

	dir := s.cardDir(slot)
	meta, exists := cardMeta{}, false
	if dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("card %d: creating its directory: %w", slot, err)
		}
		var err error
		if meta, exists, err = readMeta(dir); err != nil {
			return nil, fmt.Errorf("card %d: %w", slot, err)
		}
		if !exists {
			// A card's state without its record: its profile and serial are
			// unknown, and starting it under the default would make it
			// another card.
			has, err := hasState(dir)
			if err != nil {
				return nil, fmt.Errorf("card %d: %w", slot, err)
			}
			if has {
				return nil, fmt.Errorf("card %d: card state without its record %s: %s exists but not %s, so the card's profile and serial are unknown; restore it ({\"profile\": ..., \"serial\": ...}) or remove %s to start afresh",
					slot, metaFileName, filepath.Join(dir, stateFileName), filepath.Join(dir, metaFileName), dir)
			}
		}
	}
	name := spec.Profile
	switch {
	case name == "" && exists:
		name = meta.Profile
	case name == "":
		name = s.cfg.Profile
	}
	prof, name, err := resolveProfile(name)
	if err != nil {
		return nil, fmt.Errorf("card %d: %w", slot, err)
	}
	if exists && name != meta.Profile {
		return nil, fmt.Errorf("card %d in %s was created with profile %q, not %q: use that profile, or remove the directory to start afresh", slot, dir, meta.Profile, name)
	}
	serial := spec.Serial
	switch {
	case exists && serial != 0 && serial != meta.Serial:
		return nil, fmt.Errorf("card %d in %s was created with serial %d, not %d: a serial is set at a card's first boot only", slot, dir, meta.Serial, serial)
	case exists:
		serial = meta.Serial
	case serial == 0:
		serial = prof.Serial + uint32(slot)
	}
	recorded := false // card.json written now, for a new card
	if dir != "" && !exists {
		if err := writeMeta(dir, cardMeta{Profile: name, Serial: serial}); err != nil {
			return nil, fmt.Errorf("card %d: %w", slot, err)
		}
		recorded = true
	}

	ctx, cancel := context.WithCancel(s.ctx)
	r := &Reader{
		id: slot, dir: dir, profName: name, prof: prof, serial: serial, vpcdAddr: addr,
		vpcdAnyOwner: s.cfg.VPCDAnyOwner,
		log:          s.cfg.Log, tracer: s.cfg.Tracer,
		touch:    newTouchSensor(s.cfg.TouchMode, s.cfg.TouchTimeout),
		lock:     make(chan struct{}, 1),
		process:  withWireQuirks(prof, defaultProcess),
		clock:    s.cfg.Clock,
		protect:  s.cfg.Protect,
		inserted: true, wake: make(chan struct{}), tearAfter: -1,
		ctx: ctx, cancel: cancel, linkDone: make(chan struct{}),
	}
	if err := r.build(); err != nil {
		cancel()
		if has, herr := hasState(dir); recorded && !has && herr == nil { // no card was made: forget it
			os.Remove(filepath.Join(dir, metaFileName))
		}
		return nil, fmt.Errorf("card %d: %w", slot, err)
	}
	if err := s.start(r); err != nil {
		cancel()
		if r.file != nil {
			r.file.Close()
		}
		return nil, err
	}
	if len(prof.Quirks) > 0 {
		s.cfg.Log.Warn("the card misbehaves on purpose: its profile turns quirks on", "card", slot, "quirks", prof.Quirks)
	}
	s.cfg.Log.Info("card added", "card", slot, "profile", name, "serial", serial, "state", dir, "reader", r.where())
	return r, nil
}

// Card returns the card in slot id.
func (s *Simulator) Card(id int) (*Reader, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.readers[id]
	if r == nil {
		return nil, fmt.Errorf("card %d: %w", id, ErrNoCard)
	}
	return r, nil
}

// Cards returns the cards, in slot order.
func (s *Simulator) Cards() []*Reader {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ids []int
	for id := range s.readers {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	out := make([]*Reader, 0, len(ids))
	for _, id := range ids {
		out = append(out, s.readers[id])
	}
	return out
}

// Delete takes card id out of the simulator: it leaves its reader (the host
// sees it go) and its state file is released. With wipe, its directory is
// removed too; without, adding the slot again brings the card back as it was.
func (s *Simulator) Delete(id int, wipe bool) error {
	s.mu.Lock()
	r := s.readers[id]
	delete(s.readers, id)
	s.mu.Unlock()
	if r == nil {
		return fmt.Errorf("card %d: %w", id, ErrNoCard)
	}
	r.close()
	s.cfg.Log.Info("card deleted", "card", id, "wiped", wipe && r.dir != "")
	r.tracer.event(id, "deleted", "")
	if wipe && r.dir != "" {
		if err := os.RemoveAll(r.dir); err != nil {
			return fmt.Errorf("wiping card %d: %w", id, err)
		}
	}
	return nil
}

// Close takes every card out (their hosts see them go) and releases their
// state files and the state directory. The cards' committed state stays on
// disk.
func (s *Simulator) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	readers := s.readers
	s.readers = map[int]*Reader{}
	s.mu.Unlock()
	s.cancel()
	for _, r := range readers {
		r.close()
	}
	return s.stateLock.Release()
}
