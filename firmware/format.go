package firmware

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/tesseracard/tessera/firmware/nvm"
)

// The card-state format is what the records in a card's store mean: which
// keys the card OS and each application keep and how their values are laid
// out. It is public, like a real card's EEPROM layout across firmware
// updates: a state written by an earlier Tessera must still open. Its
// version is distinct from the encodings of the medium (the nvm image
// version byte, the journal header, the TPM envelope), which say how the
// records are stored, not what they mean.
//
// The version is the store record formatKey, four bytes big-endian. A store
// without it holds version 1, the format of every state written before the
// version existed; a blank store (no records at all) is at the newest
// version. A change to the format raises the version by one and brings a
// Migration that turns a state of the version before into the new one: at
// power-on, before any applet boots, the card OS runs each step's
// migrations in one transaction that also records the new version, so a
// power cut leaves the old state and the next power-on runs the step again,
// and a migrated state is never migrated twice. A state of a newer version
// than the card OS knows is refused (ErrStateFormat), never read and never
// downgraded.
const (
	// StateFormat is the card OS's own card-state format version. The
	// version a card writes is the highest of it and the versions its
	// applets' migrations reach (see Card.StateFormat).
	StateFormat = 1
	// formatKey is the store record of the card-state format version.
	formatKey = "os/format"
)

// ErrStateFormat is wrapped by New and PowerOn when the store's card-state
// format version is newer than the card knows: the state was written by a
// later Tessera. The state is left as it is.
var ErrStateFormat = errors.New("card state format is newer than this card reads")

// Migration turns an application's records in a state of format version
// From into those of version From+1.
type Migration struct {
	From int    // the version it migrates from, at least 1
	Name string // what it does, for errors
	// Apply makes the change through tx only: the card OS commits it
	// together with the new version, or not at all. It must not commit
	// or abort tx.
	Apply func(env *Context, tx *nvm.Tx) error
}

// Migrator is implemented by an applet whose records have changed format
// since version 1. Its migrations run, in the order of From, at the first
// power-on of a state older than them.
type Migrator interface {
	Migrations() []Migration
}

// stateFormat returns the card-state format version a card of these applets
// writes, after checking their migrations.
func stateFormat(applets []Applet) (int, error) {
	v := StateFormat
	for _, a := range applets {
		m, ok := a.(Migrator)
		if !ok {
			continue
		}
		for _, mg := range m.Migrations() {
			if mg.From < 1 || mg.Apply == nil {
				return 0, fmt.Errorf("applet %X: migration %q: needs a From version of at least 1 and an Apply function", a.AID(), mg.Name)
			}
			v = max(v, mg.From+1)
		}
	}
	return v, nil
}

// ReadStateFormat returns the card-state format version of the state in s:
// the formatKey record, 1 when it is absent, or 0 for a blank store (no
// records). A damaged record is an error wrapping nvm.ErrCorrupt.
func ReadStateFormat(s *nvm.Store) (int, error) {
	b, ok := s.Get(formatKey)
	if !ok {
		if len(s.Keys("")) == 0 {
			return 0, nil
		}
		return 1, nil
	}
	if len(b) != 4 || binary.BigEndian.Uint32(b) == 0 || binary.BigEndian.Uint32(b) > 1<<20 {
		return 0, fmt.Errorf("%w: card state format record %s is % X, want a version of 4 bytes", nvm.ErrCorrupt, formatKey, b)
	}
	return int(binary.BigEndian.Uint32(b)), nil
}

// checkStateFormat refuses a state newer than the card's format, and
// returns the state's version (0: blank).
func (c *Card) checkStateFormat(s *nvm.Store) (int, error) {
	v, err := ReadStateFormat(s)
	if err != nil {
		return 0, err
	}
	if v > c.format {
		return 0, fmt.Errorf("%w: the state is version %d, this card reads versions 1 to %d; open it with the Tessera that wrote it or a later one (it is left as it is)", ErrStateFormat, v, c.format)
	}
	return v, nil
}

// migrate brings the store c.store up to the card's format: a blank store
// is marked with it (when it is above 1, as a store without the record is
// version 1), an older state is migrated one version at a time, each step's
// migrations and the new version in one transaction. It reports whether
// the store was blank.
func (c *Card) migrate() (blank bool, err error) {
	v, err := c.checkStateFormat(c.store)
	if err != nil {
		return false, err
	}
	if v == 0 {
		if c.format == 1 {
			return true, nil
		}
		return true, c.store.Put(formatKey, binary.BigEndian.AppendUint32(nil, uint32(c.format)))
	}
	for ; v < c.format; v++ {
		if err := c.migrateStep(v); err != nil {
			return false, err
		}
	}
	return false, nil
}

// migrateStep runs every applet's migration from version v, in applet
// order, and records version v+1, all in one transaction.
func (c *Card) migrateStep(v int) error {
	tx, err := c.store.Begin()
	if err != nil {
		return err
	}
	defer tx.Abort()
	for i, a := range c.cfg.Applets {
		m, ok := a.(Migrator)
		if !ok {
			continue
		}
		for _, mg := range m.Migrations() {
			if mg.From != v {
				continue
			}
			if err := mg.Apply(c.context(i), tx); err != nil {
				return fmt.Errorf("migrating the card state from version %d: applet %X: %s: %w", v, a.AID(), mg.Name, err)
			}
		}
	}
	if err := tx.Put(formatKey, binary.BigEndian.AppendUint32(nil, uint32(v+1))); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migrating the card state from version %d: %w", v, err)
	}
	return nil
}

// StateFormat returns the card-state format version the card writes and
// reads up to: the highest of the card OS's StateFormat and the versions
// its applets' migrations reach.
func (c *Card) StateFormat() int { return c.format }
