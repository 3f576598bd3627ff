package isoapp

import (
	"errors"

	"github.com/tesseracard/tessera/apdu"
	"github.com/tesseracard/tessera/firmware"
	"github.com/tesseracard/tessera/firmware/nvm"
	"github.com/tesseracard/tessera/firmware/profile"
)

// AID returns the application identifier of IsoApplet, a fresh slice each
// call.
func AID() []byte {
	return []byte{0xF2, 0x76, 0xA2, 0x88, 0xBC, 0xFB, 0xA6, 0x9D, 0x34, 0xF3, 0x10, 0x01}
}

// The SELECT answer: API version 00.06 and the features offered.
const (
	apiMajor = 0x00
	apiMinor = 0x06
	// featureSecureRandom (GET CHALLENGE) and featureECC; extended APDUs
	// (01) are not offered.
	featureSecureRandom = 0x02
	featureECC          = 0x04
)

// Life cycle states, stored under keyLifeCycle.
const (
	stateCreation       = 0x00 // nothing set: file operations unrestricted
	stateInitialisation = 0x01 // PUK set
	stateOperational    = 0x05 // PIN set: access rules apply
)

// Store keys.
const (
	keyLifeCycle = "iso/lc"
	keyPIN       = "iso/pin"
	keyPUK       = "iso/puk"
)

// pinRef and pukRef are the key references of VERIFY, CHANGE REFERENCE DATA
// and RESET RETRY COUNTER; pinRef is also the security status bit granted by
// a successful VERIFY.
const (
	pinRef = 0x01
	pukRef = 0x02
)

// swNotAllowed is 6900, "command not allowed": PUT DATA when key import is
// off, as the stock applet answers.
const swNotAllowed apdu.StatusWord = 0x6900

// Applet is the ISO 7816 file-system application. Its RAM state is the
// current file and the security environment.
type Applet struct {
	opt    profile.ISO
	q      Quirks
	curves curveSet
	cur    uint16 // the current file; mfFID when none else
	se     securityEnv
	keys   [keySlots]cachedKey // parsed keys, checked against their records
}

// New returns the application with the profile's settings.
func New(opt profile.ISO) *Applet {
	return &Applet{opt: opt, curves: curves(), cur: mfFID}
}

// Quirks are the application's deliberate faults (profile quirks) for
// testing host software; the zero value is a correct application. Each is
// read in one place: the counter quirks by package pin, the others by
// Applet.malformedPIN and Applet.newPINAllowed.
type Quirks = profile.PINQuirks

// QuirksOf returns the profile's quirks that concern the application.
func QuirksOf(p profile.Profile) Quirks { return p.PINQuirks() }

// WithQuirks makes a misbehave as q says, and returns a.
func (a *Applet) WithQuirks(q Quirks) *Applet {
	a.q = q
	return a
}

// AID returns the application identifier.
func (a *Applet) AID() []byte { return AID() }

// Boot clears RAM state. The factory state is an empty store: life cycle
// creation, no PIN, no PUK, the MF alone.
func (a *Applet) Boot(env *firmware.Context) error {
	a.clearRAM()
	return nil
}

// Select answers the API version and features, and clears the PIN state,
// the security environment and the current file.
func (a *Applet) Select(env *firmware.Context, cmd apdu.Command) ([]byte, error) {
	a.clearRAM()
	env.Security.Clear()
	return []byte{apiMajor, apiMinor, featureSecureRandom | featureECC}, nil
}

// Deselect forgets RAM state.
func (a *Applet) Deselect(env *firmware.Context) {
	a.clearRAM()
	env.Security.Clear()
}

func (a *Applet) clearRAM() {
	a.cur = mfFID
	a.se = securityEnv{}
	a.keys = [keySlots]cachedKey{}
}

// Chainable reports which instructions accept command chaining: PERFORM
// SECURITY OPERATION, GENERATE ASYMMETRIC KEY PAIR and PUT DATA.
func (a *Applet) Chainable(ins byte) bool {
	return ins == apdu.InsPerformSecurityOperation || ins == apdu.InsGenerateKeyPair || ins == apdu.InsPutDataOdd
}

// StrictResponses: IsoApplet's GET RESPONSE rules (exact Le, else 6Cxx;
// another command while data are pending, 6900).
func (a *Applet) StrictResponses() bool { return true }

// Process handles a command while the application is selected.
func (a *Applet) Process(env *firmware.Context, cmd apdu.Command) ([]byte, error) {
	if cmd.CLA != 0x00 {
		return nil, apdu.SWCLANotSupported
	}
	switch cmd.INS {
	case apdu.InsSelect:
		return a.selectFile(env, cmd)
	case apdu.InsCreateFile:
		return nil, a.createFile(env, cmd)
	case apdu.InsDeleteFile:
		return nil, a.deleteFile(env, cmd)
	case apdu.InsReadBinary:
		return a.readBinary(env, cmd)
	case apdu.InsUpdateBinary:
		return nil, a.updateBinary(env, cmd)
	case apdu.InsVerify:
		return nil, a.verify(env, cmd)
	case apdu.InsChangeReferenceData:
		return nil, a.changeReferenceData(env, cmd)
	case apdu.InsResetRetryCounter:
		return nil, a.resetRetryCounter(env, cmd)
	case apdu.InsManageSecurityEnvironment:
		return nil, a.manageSecurityEnvironment(env, cmd)
	case apdu.InsGenerateKeyPair:
		return a.generateKeyPair(env, cmd)
	case apdu.InsPerformSecurityOperation:
		return a.performSecurityOperation(env, cmd)
	case apdu.InsPutDataOdd:
		return nil, a.putData(env, cmd)
	case apdu.InsGetChallenge:
		return a.getChallenge(env, cmd)
	}
	return nil, apdu.SWINSNotSupported
}

// lifeCycle returns the stored life cycle state.
func lifeCycle(s *nvm.Store) (byte, error) {
	v, ok := s.Get(keyLifeCycle)
	if !ok {
		return stateCreation, nil
	}
	if len(v) != 1 || (v[0] != stateInitialisation && v[0] != stateOperational) {
		return 0, errors.Join(nvm.ErrCorrupt, errors.New("isoapp: life cycle record is malformed"))
	}
	return v[0], nil
}
