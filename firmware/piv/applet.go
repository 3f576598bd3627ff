package piv

import (
	"crypto/subtle"
	"encoding/binary"
	"time"

	"github.com/tesseracard/tessera/apdu"
	"github.com/tesseracard/tessera/firmware"
	"github.com/tesseracard/tessera/firmware/pin"
	"github.com/tesseracard/tessera/firmware/profile"
)

// AID is the PIV application's full identifier (SP 800-73-4 Part 1 §2.2): the
// NIST RID, PIX 0000 1000, version 0100.
func AID() []byte { return []byte{0xA0, 0x00, 0x00, 0x03, 0x08, 0x00, 0x00, 0x10, 0x00, 0x01, 0x00} }

// Instructions (SP 800-73-4 Part 2 Table 6; YubiKey extensions F6..FF).
const (
	insVerify          = 0x20
	insChangeReference = 0x24
	insResetRetry      = 0x2C
	insGenerate        = 0x47
	insGeneralAuth     = 0x87
	insGetData         = 0xCB
	insPutData         = 0xDB
	insMoveKey         = 0xF6
	insGetMetadata     = 0xF7
	insGetSerial       = 0xF8
	insAttest          = 0xF9
	insSetRetries      = 0xFA
	insReset           = 0xFB
	insGetVersion      = 0xFD
	insImportKey       = 0xFE
	insSetMgmtKey      = 0xFF
)

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
	keyPIN     = "piv/pin"
	keyPUK     = "piv/puk"
	keyMgmt    = "piv/mgmt"
	keySerial  = "piv/serial"
	keyPrefix  = "piv/key/"
	objPrefix  = "piv/obj/"
	touchGrace = 15 * time.Second // how long a "cached" touch lasts
)

// TouchSource tells whether the user touched the card's sensor within the
// time a YubiKey waits. The card asks it before using a key whose touch
// policy requires it.
type TouchSource interface {
	Touch(slot byte) bool
}

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
func (a *Applet) Boot(ctx *firmware.Context) error {
	a.auth, a.lastTouch, a.keys = authState{}, time.Time{}, nil
	if _, ok := ctx.Store.Get(keySerial); ok {
		return nil
	}
	tx, err := ctx.Store.Begin()
	if err != nil {
		return err
	}
	defer tx.Abort()
	if err := tx.Put(keySerial, binary.BigEndian.AppendUint32(nil, a.opts.Serial)); err != nil {
		return err
	}
	if err := a.factoryCredentials(ctx, tx); err != nil {
		return err
	}
	if err := a.installAttestation(ctx, tx); err != nil {
		return err
	}
	return tx.Commit()
}

// factoryCredentials writes the default PIN, PUK and management key.
func (a *Applet) factoryCredentials(ctx *firmware.Context, w pin.Writer) error {
	v := a.p.PIV
	if err := pin.New(ctx.Store, keyPIN).Init(w, []byte(v.PIN), v.PINRetries, true, v.TransportPIN, ctx.Rand); err != nil {
		return err
	}
	if err := pin.New(ctx.Store, keyPUK).Init(w, []byte(v.PUK), v.PUKRetries, true, false, ctx.Rand); err != nil {
		return err
	}
	return w.Put(keyMgmt, mgmtKey{alg: v.MgmtKeyAlgorithmID(), touch: touchNever, isDefault: true, key: v.MgmtKey}.bytes())
}

// Select answers SELECT with the application property template
// (SP 800-73-4 Part 2 §3.1.1). Security status is kept when the PIV
// application is selected again.
func (a *Applet) Select(ctx *firmware.Context, cmd apdu.Command) ([]byte, error) {
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
		for _, alg := range []byte{algTDES, algAES128, algAES192, algAES256, algRSA1024, algRSA2048, algRSA3072, algRSA4096, algP256, algP384, algEd25519, algX25519} {
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
func (a *Applet) Process(ctx *firmware.Context, cmd apdu.Command) ([]byte, error) {
	if cmd.CLA != 0x00 {
		return nil, apdu.SWCLANotSupported
	}
	if cmd.INS != insGeneralAuth {
		a.auth = authState{} // a challenge is good for the next command only
	}
	switch cmd.INS {
	case insVerify:
		return nil, a.verify(ctx, cmd)
	case insChangeReference:
		return nil, a.changeReference(ctx, cmd)
	case insResetRetry:
		return nil, a.resetRetry(ctx, cmd)
	case insGeneralAuth:
		return a.generalAuthenticate(ctx, cmd)
	case insGenerate:
		return a.generate(ctx, cmd)
	case insGetData:
		return a.getData(ctx, cmd)
	case insPutData:
		return nil, a.putData(ctx, cmd)
	case insGetVersion:
		v := a.p.Version
		return []byte{v.Major, v.Minor, v.Patch}, noParams(cmd)
	case insGetSerial:
		serial, _ := ctx.Store.Get(keySerial)
		return serial, noParams(cmd)
	case insGetMetadata:
		return a.metadata(ctx, cmd)
	case insSetMgmtKey:
		return nil, a.setMgmtKey(ctx, cmd)
	case insImportKey:
		return nil, a.importKey(ctx, cmd)
	case insSetRetries:
		return nil, a.setRetries(ctx, cmd)
	case insReset:
		return nil, a.reset(ctx, cmd)
	case insMoveKey:
		return nil, a.moveKey(ctx, cmd)
	case insAttest:
		return a.attest(ctx, cmd)
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
func needMgmt(ctx *firmware.Context) error {
	if !ctx.Security.Has(refMgmtKey) {
		return apdu.SWSecurityStatusNotSatisfied
	}
	return nil
}

func equal(a, b []byte) bool { return subtle.ConstantTimeCompare(a, b) == 1 }
