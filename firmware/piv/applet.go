package piv

import (
	"bytes"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/tesseracard/tessera/apdu"
	"github.com/tesseracard/tessera/firmware"
	"github.com/tesseracard/tessera/firmware/nvm"
	"github.com/tesseracard/tessera/firmware/pin"
	"github.com/tesseracard/tessera/firmware/profile"
	"github.com/tesseracard/tessera/pivalg"
)

// AID is the PIV application's full identifier (SP 800-73-4 Part 1 §2.2): the
// NIST RID, PIX 0000 1000, version 0100.
func AID() []byte { return []byte{0xA0, 0x00, 0x00, 0x03, 0x08, 0x00, 0x00, 0x10, 0x00, 0x01, 0x00} }

// Key references (SP 800-73-4 Part 1 Table 4b, Part 2 §3.2).
const (
	refPIN     = 0x80
	refPUK     = 0x81
	refMgmtKey = 0x9B
	// refPINAlways is an internal reference: the PIN was verified and not yet
	// used by a key with PIN policy "always", which consumes it.
	refPINAlways = 0x01
)

// Store keys.
const (
	keyPIN    = "piv/pin"
	keyPUK    = "piv/puk"
	keyMgmt   = "piv/mgmt"
	keySerial = "piv/serial"
	keyIssued = "piv/issued" // random factory PIN and PUK not yet revealed
	keyPrefix = "piv/key/"
	objPrefix = "piv/obj/"
)

// keyMoved marks a persona card whose holder ID and quota are at their
// present tags (5FFF21, 5FFF22): written at first boot, or when
// migrateVendorObjects has moved them from 5FFF10 and 5FFF11.
const keyMoved = "piv/vendor-objects-moved"

// TouchSource is the card's touch sensor (firmware.TouchSource, shared with
// the other applications); PIV asks it, with the slot, before using a key
// whose touch policy requires it.
type TouchSource = firmware.TouchSource

// TouchFunc adapts a function to TouchSource.
type TouchFunc func(slot byte) bool

// Touch calls f.
func (f TouchFunc) Touch(slot byte) bool { return f(slot) }

// Options are the per-card settings beyond the profile.
type Options struct {
	// Serial overrides the profile's serial number at first boot.
	Serial uint32
	// Touch is the touch sensor; nil means every touch is given at once, so
	// tests never hang.
	Touch TouchSource
}

// Applet is the PIV application. Its RAM state is lost at every reset.
type Applet struct {
	p         profile.Profile
	opts      Options
	pinQuirks pin.Quirks // the profile's try-counter quirks

	// RAM state.
	auth      authState          // management-key authentication in progress
	lastTouch time.Time          // for touch policy "cached"
	keys      map[byte]cachedKey // parsed private keys, by slot
}

// New returns the PIV application for a card of profile p.
func New(p profile.Profile, opts Options) *Applet {
	if opts.Serial == 0 {
		opts.Serial = p.Serial
	}
	if opts.Touch == nil {
		opts.Touch = TouchFunc(func(byte) bool { return true })
	}
	q := pin.Quirks{
		NoDecrement:          p.HasQuirk(profile.QuirkNoDecrement),
		RestoreBeforeCompare: p.HasQuirk(profile.QuirkRestoreBeforeCompare),
	}
	return &Applet{p: p, opts: opts, pinQuirks: q}
}

// AID returns the PIV AID.
func (a *Applet) AID() []byte { return AID() }

// Boot installs the factory state on a blank card and clears RAM state.
func (a *Applet) Boot(env *firmware.Context) error {
	a.auth, a.lastTouch, a.keys = authState{}, time.Time{}, nil
	if _, ok := env.Store.Get(keySerial); ok {
		return a.migrateVendorObjects(env)
	}
	tx, err := env.Store.Begin()
	if err != nil {
		return err
	}
	defer tx.Abort()
	if err := tx.Put(keySerial, binary.BigEndian.AppendUint32(nil, a.opts.Serial)); err != nil {
		return err
	}
	if a.hasVendorObjects() {
		if err := tx.Put(keyMoved, []byte{1}); err != nil {
			return err
		}
	}
	if err := a.factoryCredentials(env, tx); err != nil {
		return err
	}
	if err := a.installAttestation(env, tx); err != nil {
		return err
	}
	return tx.Commit()
}

// hasVendorObjects reports whether the profile gives the card a holder ID
// or a signature quota object.
func (a *Applet) hasVendorObjects() bool {
	return a.p.PIV.HolderID != "" || a.p.PIV.SignatureQuota > 0
}

// migrateVendorObjects moves, once, the holder ID and the quota of a
// persona card made before they left the tags YubiKey tools use (5FFF10 is
// yubico-piv-tool's MSCMAP, 5FFF11 its MSROOTS1) to their present tags. On
// such a card the record at the old tag was the persona's object (written
// at first boot, later set only through it; the new tags were refused), so
// it is moved as it is. The moves and the marker keyMoved
// are one transaction: a power cut leaves the card as it was, and the next
// power-on moves them again; once marked, the old tags are ordinary objects
// and never looked at again. Other profiles hold no persona object at the
// old tags and are left alone.
func (a *Applet) migrateVendorObjects(env *firmware.Context) error {
	if !a.hasVendorObjects() {
		return nil
	}
	if _, ok := env.Store.Get(keyMoved); ok {
		return nil
	}
	tx, err := env.Store.Begin()
	if err != nil {
		return err
	}
	defer tx.Abort()
	for _, m := range []struct {
		on       bool
		old, now apdu.Tag
	}{
		{a.p.PIV.HolderID != "", oldObjHolderID, objHolderID},
		{a.p.PIV.SignatureQuota > 0, oldObjQuota, objQuota},
	} {
		v, ok := tx.Get(objPrefix + objectKey(m.old))
		if !m.on || !ok {
			continue
		}
		if err := tx.Put(objPrefix+objectKey(m.now), v); err != nil {
			return err
		}
		if err := tx.Delete(objPrefix + objectKey(m.old)); err != nil {
			return err
		}
	}
	if err := tx.Put(keyMoved, []byte{1}); err != nil {
		return err
	}
	return tx.Commit()
}

// factoryCredentials writes the default PIN, PUK and management key.
func (a *Applet) factoryCredentials(env *firmware.Context, w pin.Writer) error {
	v := a.p.PIV
	if err := a.factoryPINs(env, w, v.PINRetries, v.PUKRetries); err != nil {
		return err
	}
	if v.SignatureQuota > 0 {
		if err := w.Put(objPrefix+objectKey(objQuota), binary.BigEndian.AppendUint32(nil, uint32(v.SignatureQuota))); err != nil {
			return err
		}
	}
	if v.HolderID != "" {
		if err := w.Put(objPrefix+objectKey(objHolderID), []byte(v.HolderID)); err != nil {
			return err
		}
	}
	return w.Put(keyMgmt, mgmtKey{alg: v.MgmtKeyAlgorithmID(), touch: touchNever, isDefault: true, key: v.MgmtKey}.bytes())
}

// factoryPINs writes the factory PIN and PUK with the given try limits:
// the profile's values, or random digits for a profile with random_pin or
// random_puk. Random values are also kept in plain text under keyIssued
// (see IssuedCredentials) until they are revealed.
func (a *Applet) factoryPINs(env *firmware.Context, w pin.Writer, pinTries, pukTries int) error {
	v := a.p.PIV
	pinV, pukV := []byte(v.PIN), []byte(v.PUK)
	var err error
	if v.RandomPIN {
		if pinV, err = randomDigits(env.Rand, v.RandomPINLength()); err != nil {
			return err
		}
	}
	if v.RandomPUK {
		if pukV, err = randomDigits(env.Rand, pinLen); err != nil {
			return err
		}
	}
	if err := pin.New(env.Store, keyPIN).Init(w, pinV, pinTries, true, v.TransportPIN, env.Rand); err != nil {
		return err
	}
	if err := pin.New(env.Store, keyPUK).Init(w, pukV, pukTries, true, false, env.Rand); err != nil {
		return err
	}
	if v.RandomPIN || v.RandomPUK {
		rec := Issued{}
		if v.RandomPIN {
			rec.PIN = string(pinV)
		}
		if v.RandomPUK {
			rec.PUK = string(pukV)
		}
		return w.Put(keyIssued, rec.bytes())
	}
	return nil
}

// randomDigits draws n decimal digits from rnd, without modulo bias.
func randomDigits(rnd io.Reader, n int) ([]byte, error) {
	out := make([]byte, 0, n)
	var b [1]byte
	for len(out) < n {
		if _, err := io.ReadFull(rnd, b[:]); err != nil {
			return nil, fmt.Errorf("drawing a random PIN: %w", err)
		}
		if b[0] < 250 {
			out = append(out, '0'+b[0]%10)
		}
	}
	return out, nil
}

// Issued is a random factory PIN and PUK as issued, before the holder has
// seen them (an empty field: that value is the profile's).
type Issued struct {
	PIN string `json:"pin,omitempty"`
	PUK string `json:"puk,omitempty"`
}

func (i Issued) bytes() []byte {
	return append(append([]byte(i.PIN), 0), i.PUK...)
}

// ErrNotIssued is returned by RevealIssued when the card holds no
// unrevealed random credentials: its profile has none, or they were
// revealed already.
var ErrNotIssued = errors.New("piv: no unrevealed issued credentials (revealed already, or the profile issues none)")

// RevealIssued returns the random PIN and PUK the card was issued with and
// erases them, so that they can be revealed only once. It is the
// simulator's way in (the control API), not a card command: no APDU ever
// carries them out. s is the powered card's store.
func RevealIssued(s *nvm.Store) (Issued, error) {
	raw, ok := s.Get(keyIssued)
	if !ok {
		return Issued{}, ErrNotIssued
	}
	pinV, pukV, ok := bytes.Cut(raw, []byte{0})
	if !ok {
		return Issued{}, fmt.Errorf("%w: issued credentials record is malformed", nvm.ErrCorrupt)
	}
	if err := s.Delete(keyIssued); err != nil {
		return Issued{}, err
	}
	return Issued{PIN: string(pinV), PUK: string(pukV)}, nil
}

// HasIssued reports whether the card still holds unrevealed random
// credentials.
func HasIssued(s *nvm.Store) bool {
	_, ok := s.Get(keyIssued)
	return ok
}

// Select answers SELECT with the application property template
// (SP 800-73-4 Part 2 §3.1.1). Security status is kept when the PIV
// application is selected again.
func (a *Applet) Select(env *firmware.Context, cmd apdu.Command) ([]byte, error) {
	if cmd.P2 != 0 {
		return nil, apdu.SWIncorrectP1P2
	}
	a.auth = authState{}
	apt := [][]byte{
		apdu.AppendTLV(nil, 0x4F, []byte{0x00, 0x00, 0x10, 0x00, 0x01, 0x00}), // PIX of the application
		apdu.Nest(0x79, apdu.AppendTLV(nil, 0x4F, AID()[:5])),                 // coexistent tag allocation authority
	}
	if a.p.PIV.Behaviour.AdvertiseAlgorithms {
		apt = append(apt, apdu.AppendTLV(nil, 0x50, []byte("Tessera PIV")))
		var algs []byte
		for _, alg := range []byte{pivalg.TDES, pivalg.AES128, pivalg.AES192, pivalg.AES256, pivalg.RSA1024, pivalg.RSA2048, pivalg.RSA3072, pivalg.RSA4096, pivalg.P256, pivalg.P384, pivalg.Ed25519, pivalg.X25519} {
			algs = apdu.AppendTLV(algs, 0x80, []byte{alg})
		}
		algs = apdu.AppendTLV(algs, 0x06, []byte{0x00})
		apt = append(apt, apdu.AppendTLV(nil, 0xAC, algs))
	}
	return apdu.Nest(0x61, apt...), nil
}

// Deselect clears transient state.
func (a *Applet) Deselect(*firmware.Context) { a.auth = authState{} }

// Process dispatches one command.
func (a *Applet) Process(env *firmware.Context, cmd apdu.Command) ([]byte, error) {
	if cmd.CLA != 0x00 {
		return nil, apdu.SWCLANotSupported
	}
	if cmd.INS != apdu.InsGeneralAuthenticate {
		a.auth = authState{} // a challenge is good for the next command only
	}
	switch cmd.INS {
	case apdu.InsVerify:
		return nil, a.verify(env, cmd)
	case apdu.InsChangeReferenceData:
		return nil, a.changeReference(env, cmd)
	case apdu.InsResetRetryCounter:
		return nil, a.resetRetry(env, cmd)
	case apdu.InsGeneralAuthenticate:
		return a.generalAuthenticate(env, cmd)
	case apdu.InsGenerateKeyPairOdd:
		return a.generate(env, cmd)
	case apdu.InsGetDataOdd:
		return a.getData(env, cmd)
	case apdu.InsPutDataOdd:
		return nil, a.putData(env, cmd)
	case apdu.InsGetVersion:
		v := a.p.Version
		return []byte{v.Major, v.Minor, v.Patch}, noParams(cmd)
	case apdu.InsGetSerial:
		serial, _ := env.Store.Get(keySerial)
		return a.answeredSerial(serial), noParams(cmd)
	case apdu.InsGetMetadata:
		return a.metadata(env, cmd)
	case apdu.InsSetManagementKey:
		return nil, a.setMgmtKey(env, cmd)
	case apdu.InsImportKey:
		return nil, a.importKey(env, cmd)
	case apdu.InsSetPINRetries:
		return nil, a.setRetries(env, cmd)
	case apdu.InsResetPIV:
		return nil, a.reset(env, cmd)
	case apdu.InsMoveKey:
		return nil, a.moveKey(env, cmd)
	case apdu.InsAttest:
		return a.attest(env, cmd)
	}
	return nil, apdu.SWINSNotSupported
}

// noParams checks that a no-argument command has P1 = P2 = 0 and no data.
func noParams(cmd apdu.Command) error {
	if cmd.P1 != 0 || cmd.P2 != 0 {
		return apdu.SWIncorrectP1P2
	}
	if len(cmd.Data) != 0 {
		return apdu.SWWrongLength
	}
	return nil
}

// needMgmt returns 6982 unless the management key has been authenticated.
func needMgmt(env *firmware.Context) error {
	if !env.Security.Has(refMgmtKey) {
		return apdu.SWSecurityStatusNotSatisfied
	}
	return nil
}

func equal(a, b []byte) bool { return subtle.ConstantTimeCompare(a, b) == 1 }
