package conformance

import (
	"context"
	"time"

	"github.com/tesseracard/tessera/hostdriver"
)

// Card is a connection to a card: the transport the suite sends APDUs
// through. Close ends the connection (for a simulated card made for one
// case, the card too).
type Card interface {
	hostdriver.Transport
	Close() error
}

// Resetter is a Card that can be given a warm reset (ISO/IEC 7816-3 §6.2.3):
// the card loses every volatile state, security status included. Cases that
// need a reset are skipped on cards that cannot.
type Resetter interface {
	Reset(ctx context.Context) error
}

// Transactor is a Card that can keep other programs' commands off the
// card for a while (PC/SC transactions): on a card that is not Fresh the
// suite holds one for each case, its putting back included, so that
// another program's SELECT cannot slip in between a VERIFY and the command
// it allows. A card whose Reset reconnects keeps the transaction across it.
type Transactor = hostdriver.Transactor

// PowerCutter is a Card whose power the suite can cut in the middle of a
// command: only a simulated card. ArmPowerCut plans a cut after k more
// writes to persistent memory (k < 0 disarms): the command that makes the
// write after those gets no answer, and the card stays mute until
// PowerCycle.
type PowerCutter interface {
	ArmPowerCut(ctx context.Context, k int) error
	PowerCycle(ctx context.Context) error
}

// Toucher is a Card whose touch sensor the suite can set: only a simulated
// card. Mode "auto" gives every touch asked for at once, "never" none
// ("manual" waits for one given through the simulator's control API; the
// scenario step touch_mode sets any of the three).
type Toucher interface {
	SetTouchMode(mode string) error
}

// ClockAdvancer is a Card whose clock the suite can move forward: only a
// simulated card.
type ClockAdvancer interface {
	AdvanceClock(d time.Duration)
}

// CardCredentials is a card of a Fresh target that comes with credentials
// of its own, such as a card issued with a random PIN: the suite uses
// them, instead of Options.Credentials, for the case run on that card.
type CardCredentials interface {
	Credentials() Credentials
}

// Target is what the suite runs against.
type Target struct {
	// Name describes the target in reports, e.g. "sim (profile default)".
	Name string
	// Open connects to the card. For a Fresh target each call returns a new
	// card in its factory state, and the suite opens one per case;
	// otherwise the suite opens one connection for the whole run.
	Open func(ctx context.Context) (Card, error)
	// Fresh reports that Open makes factory-fresh cards (the simulator in
	// process): every case runs, and none needs to put anything back.
	Fresh bool
}

// Credentials are what destructive cases need. On a Fresh target they are
// the profile's factory values.
type Credentials struct {
	PIN string
	PUK string
	// MgmtKey is the management key (SP 800-73-4: the PIV Card Application
	// Administration Key, reference 9B).
	MgmtKey []byte
	// MgmtAlg is its algorithm identifier (SP 800-78-4): 03 3DES, 08, 0A, 0C
	// AES-128, -192, -256. Zero: ask the card (GET METADATA, a YubiKey
	// extension), else 3DES.
	MgmtAlg byte
	// PW1 and PW3 are the OpenPGP card's user and admin PINs (OpenPGP
	// card 3.4 §4.3). On a Fresh target, empty means the factory 123456
	// and 12345678.
	PW1, PW3 string
}

// complete reports whether every credential is given.
func (c Credentials) complete() bool { return c.PIN != "" && c.PUK != "" && len(c.MgmtKey) > 0 }
