package firmware

import (
	"io"
	"time"

	"github.com/tesseracard/tessera/apdu"
	"github.com/tesseracard/tessera/firmware/nvm"
)

// Applet is an on-card application.
//
// Methods return the response data and nil for 9000, or an error: an
// apdu.StatusWord (or an error wrapping one, such as *apdu.AuthError) becomes
// that status word with no data; nvm.ErrCapacity becomes 6A84;
// nvm.ErrPowerLost makes the card mute. An applet must leave persistent state
// unchanged when it refuses a command; a transaction it leaves open is
// aborted by the card OS.
type Applet interface {
	// AID is the application's full identifier. SELECT matches any prefix of
	// it of at least 5 bytes (the RID).
	AID() []byte
	// Boot runs at every power-on and reset: it installs the factory state
	// if the store has none and clears the applet's RAM state.
	Boot(env *Context) error
	// Select is called when a SELECT by AID names this applet. Returning an
	// error refuses the selection, and the previous applet stays selected,
	// unless the error is a warning status word (SW1 62 or 63, such as
	// 6285, an application in termination state): the applet is then
	// selected and the warning answered without data.
	Select(env *Context, cmd apdu.Command) ([]byte, error)
	// Deselect is called when another applet is selected.
	Deselect(env *Context)
	// Process handles a command while this applet is selected, after the
	// card OS has reassembled any chain.
	Process(env *Context, cmd apdu.Command) ([]byte, error)
}

// Chainer is implemented by an applet that accepts command chaining for
// some instructions only; the card OS answers 6884 to a chained command of
// any other. An applet without it accepts chaining for every instruction.
type Chainer interface {
	Chainable(ins byte) bool
}

// StrictResponder is implemented by an applet that keeps IsoApplet's
// response rules while it is selected: GET RESPONSE must ask for exactly
// what it will get, min(pending, 256) bytes, else 6Cxx says how many (the
// data stay pending); and any other command but SELECT by AID while data
// are pending is refused with 6900, the data still pending. Without it, GET
// RESPONSE answers up to Ne bytes and any other command drops the pending
// data.
type StrictResponder interface {
	StrictResponses() bool
}

// Continuer is implemented by an applet whose clients fetch the rest of a
// long answer (61xx) with an instruction of the applet's own instead of GET
// RESPONSE, as YKOATH's SEND REMAINING (A5). While the applet is selected
// the card OS answers that instruction, in class 00, exactly as GET
// RESPONSE, which keeps working too; the applet never sees it.
type Continuer interface {
	ContinueIns() byte
}

// Disclosure says what a trace of one exchange may show in clear: Command,
// the command's data field; Response, the response's data. The header, the
// length fields and the status word are always shown. The zero value shows
// neither data field: it is what every command gets that its handler did not
// vouch for.
type Disclosure struct {
	Command  bool // the command's data may be shown
	Response bool // the response's data may be shown
}

// Discloser is implemented by an applet that says which of its commands
// and responses carry no secret (a PIN, a PUK, a management key or its
// challenge answers, private key material, a shared secret, a decrypted
// plaintext), so that a trace may show them; see Card.TakeDisclosure. The
// data of every command of an applet without it are withheld, both ways.
//
// The card OS calls Disclose before Process with the command Process will
// get (a chain reassembled), and for every piece of a chain it accepts, with
// the piece's header (the chaining bit set in CLA) and the data the chain
// has brought so far: a piece must be judged on what that prefix proves, as
// the rest has not arrived, and must never be shown when the completed
// command might be withheld. Disclose must not change state nor keep
// cmd.Data; it runs whether or not Process then refuses the command.
type Discloser interface {
	Disclose(cmd apdu.Command) Disclosure
}

// Context is what the card OS hands an applet with each call.
type Context struct {
	Store    *nvm.Store
	Security *Security // this applet's security status
	Rand     io.Reader
	Now      func() time.Time
	// NewCard is set while applets boot on a store that held no records
	// at this power-on (a new card): what an application installs then
	// may draw from Rand, as no earlier state can be repeated by a power
	// cut during a later power-on's migration of it.
	NewCard bool
}

// Security is an applet's security status: the key references (PIN 80, PUK
// 81, management key 9B, ...) verified or authenticated since the last reset.
// It lives in RAM only. The zero value has nothing granted.
type Security struct {
	bits [4]uint64
}

// Grant records that ref has been verified.
func (s *Security) Grant(ref byte) { s.bits[ref>>6] |= 1 << (ref & 63) }

// Revoke forgets ref.
func (s *Security) Revoke(ref byte) { s.bits[ref>>6] &^= 1 << (ref & 63) }

// Has reports whether ref is verified.
func (s *Security) Has(ref byte) bool { return s.bits[ref>>6]&(1<<(ref&63)) != 0 }

// Clear forgets everything.
func (s *Security) Clear() { *s = Security{} }
