package openpgp

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/binary"
	"time"

	"github.com/tesseracard/tessera/apdu"
	"github.com/tesseracard/tessera/firmware"
	"github.com/tesseracard/tessera/firmware/profile"
)

// aidPrefix is the RID and application of the OpenPGP AID (OpenPGP Card
// 3.4 §4.2.1).
func aidPrefix() []byte { return []byte{0xD2, 0x76, 0x00, 0x01, 0x24, 0x01} }

// Version is the specification version the application implements, as
// the AID carries it: 3.4.
const (
	specMajor = 0x03
	specMinor = 0x04
)

// AID returns the application's full identifier: D2 76 00 01 24 01, the
// version 03 04, the manufacturer (2 bytes), the serial number (4 bytes)
// and 00 00. A serial below 10^8 is written in BCD, its decimal digits
// (as a YubiKey does, so that GnuPG shows the device serial); a larger one
// in binary.
func AID(manufacturer uint16, serial uint32) []byte {
	aid := append(aidPrefix(), specMajor, specMinor)
	aid = binary.BigEndian.AppendUint16(aid, manufacturer)
	aid = binary.BigEndian.AppendUint32(aid, serialField(serial))
	return append(aid, 0x00, 0x00)
}

// serialField is the serial as the AID carries it (see AID).
func serialField(serial uint32) uint32 {
	if serial >= 100000000 {
		return serial
	}
	var bcd uint32
	for shift := 0; serial > 0; shift += 4 {
		bcd |= (serial % 10) << shift
		serial /= 10
	}
	return bcd
}

// Security status references: PW1 for PSO:CDS, PW1 for the other
// commands, PW3 (OpenPGP Card 3.4 §7.2.2).
const (
	refPW1Sign  = 0x81
	refPW1Other = 0x82
	refPW3      = 0x83
)

// INS codes of the OpenPGP card beyond apdu's.
const (
	insInternalAuthenticate = 0x88
	insTerminateDF          = 0xE6
	insActivateFile         = 0x44
	insGetVersion           = 0xF1 // YubiKey: the firmware version
	insSetPINRetries        = 0xF2 // YubiKey: the retry limits of PW1, RC, PW3
	insSelectData           = 0xA5 // SELECT DATA: an occurrence of 7F21
	insGetAttestation       = 0xFB // YubiKey, CLA 80: GET ATTESTATION of a key
)

// swTerminated is 6285, selected file in termination state: what SELECT
// and every command but ACTIVATE FILE answer while the application is
// terminated.
const swTerminated apdu.StatusWord = 0x6285

// Options are the per-card settings beyond the profile.
type Options struct {
	// Serial overrides the profile's serial number.
	Serial uint32
	// Touch is the card's touch sensor, asked for a key whose user
	// interaction flag (D6-D8, YubiKey profiles only) requires a touch;
	// nil gives every touch at once, so tests never hang.
	Touch TouchSource
	// AttestationCA is the card's attestation authority, asked once, when
	// a YubiKey profile's application installs its attestation key: the
	// signer and certificate that issue the attestation certificate FC
	// (in the simulator, the PIV application's F9 key, piv.Applet's
	// AttestationCA). Nil, or an error, leaves FC self-signed.
	AttestationCA func(env *firmware.Context) (crypto.Signer, *x509.Certificate, error)
}

// Applet is the OpenPGP application of one card.
type Applet struct {
	aid            []byte
	version        profile.Version
	yubikey        bool
	extendedLength bool
	maxCommand     int
	q              Quirks
	keys           keyCache // parsed private keys, RAM only
	certOcc        byte     // the occurrence of 7F21 SELECT DATA chose, RAM only
	sensor         TouchSource
	lastTouch      [4]time.Time // the last touch for keys B6, B8, A4 and the attestation key (UIF cached), RAM only
	serial         uint32
	attestationCA  func(env *firmware.Context) (crypto.Signer, *x509.Certificate, error)
}

// Quirks are the profile's deliberate faults that concern this
// application: the try-counter quirks of its passwords (package pin), and
// malformed-pin-spends-try and pin-policy-not-enforced, read by
// Applet.malformed and Applet.policy.
type Quirks = profile.PINQuirks

// QuirksOf returns the quirks of profile p that the application reads.
func QuirksOf(p profile.Profile) Quirks { return p.PINQuirks() }

// New returns the OpenPGP application of a card of profile p, with the
// profile's quirks.
func New(p profile.Profile, opts Options) *Applet {
	if opts.Serial == 0 {
		opts.Serial = p.Serial
	}
	maxCmd := p.MaxCommand
	if maxCmd == 0 {
		maxCmd = firmware.DefaultMaxCommand
	}
	return &Applet{
		aid:            AID(p.OpenPGP.Manufacturer, opts.Serial),
		version:        p.Version,
		yubikey:        p.OpenPGP.YubiKey,
		extendedLength: p.ExtendedLength,
		maxCommand:     maxCmd,
		q:              QuirksOf(p),
		sensor:         opts.Touch,
		serial:         opts.Serial,
		attestationCA:  opts.AttestationCA,
	}
}

// AID implements firmware.Applet.
func (a *Applet) AID() []byte { return bytes.Clone(a.aid) }

// Boot implements firmware.Applet: a store without the application's
// passwords (a new card, or a state written before the application
// existed) gets the factory state, unless the application is terminated;
// on a new card of a YubiKey profile (firmware.Context.NewCard), with the
// attestation key and its certificate FC, in the same transaction. (A
// state written before the attestation key existed gets it at its first
// GET ATTESTATION: installed at a power-on, it would draw other random
// values each time a power cut repeated that power-on.)
func (a *Applet) Boot(env *firmware.Context) error {
	a.certOcc, a.lastTouch = 0, [4]time.Time{}
	if terminated(env) || pw3(env, a.q).Exists() {
		return nil
	}
	tx, err := env.Store.Begin()
	if err != nil {
		return err
	}
	defer tx.Abort()
	if err := a.factory(env, tx); err != nil {
		return err
	}
	if a.yubikey && env.NewCard && !attestationInstalled(env) {
		if _, _, err := a.newAttestation(env, tx); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// Select implements firmware.Applet: no data; 6285 while terminated. Every
// SELECT forgets the verified passwords.
func (a *Applet) Select(env *firmware.Context, _ apdu.Command) ([]byte, error) {
	env.Security.Clear()
	a.certOcc = 0
	if terminated(env) {
		return nil, swTerminated
	}
	return nil, nil
}

// Deselect implements firmware.Applet.
func (a *Applet) Deselect(env *firmware.Context) {
	env.Security.Clear()
	a.certOcc = 0
}

// Process implements firmware.Applet.
func (a *Applet) Process(env *firmware.Context, cmd apdu.Command) ([]byte, error) {
	if cmd.CLA == 0x80 && cmd.INS == insGetAttestation {
		if !a.yubikey {
			return nil, apdu.SWINSNotSupported
		}
		if terminated(env) {
			return nil, swTerminated
		}
		return nil, a.getAttestation(env, cmd)
	}
	if cmd.CLA != 0x00 {
		return nil, apdu.SWCLANotSupported
	}
	if terminated(env) {
		if cmd.INS == insActivateFile {
			return nil, a.activate(env, cmd)
		}
		return nil, swTerminated
	}
	switch cmd.INS {
	case apdu.InsGetData:
		return a.getData(env, cmd)
	case apdu.InsPutData:
		return nil, a.putData(env, cmd)
	case apdu.InsPutDataOdd:
		return nil, a.importKey(env, cmd)
	case apdu.InsVerify:
		return nil, a.verify(env, cmd)
	case apdu.InsChangeReferenceData:
		return nil, a.changeReferenceData(env, cmd)
	case apdu.InsResetRetryCounter:
		return nil, a.resetRetryCounter(env, cmd)
	case apdu.InsGenerateKeyPairOdd: // OpenPGP's GENERATE ASYMMETRIC KEY PAIR is 47
		return a.generate(env, cmd)
	case apdu.InsPerformSecurityOperation:
		return a.pso(env, cmd)
	case insInternalAuthenticate:
		return a.internalAuthenticate(env, cmd)
	case apdu.InsGetChallenge:
		return a.getChallenge(env, cmd)
	case insTerminateDF:
		return nil, a.terminate(env, cmd)
	case insActivateFile:
		return nil, a.activate(env, cmd)
	case insSelectData:
		return nil, a.selectData(cmd)
	case apdu.InsSelect:
		return nil, apdu.SWFileNotFound // no file system: SELECT of the MF, an EF
	case insGetVersion:
		if a.yubikey {
			return []byte{a.version.Major, a.version.Minor, a.version.Patch}, nil
		}
	case insSetPINRetries:
		if a.yubikey {
			return nil, a.setPINRetries(env, cmd)
		}
	}
	return nil, apdu.SWINSNotSupported
}

// errNotAllowed is what a command that needs a password answers without it.
var errNotAllowed = apdu.SWSecurityStatusNotSatisfied

// need checks that ref has been verified.
func need(env *firmware.Context, ref byte) error {
	if !env.Security.Has(ref) {
		return errNotAllowed
	}
	return nil
}

// p1p2 checks P1-P2 against want.
func p1p2(cmd apdu.Command, want uint16) error {
	if uint16(cmd.P1)<<8|uint16(cmd.P2) != want {
		return apdu.SWIncorrectP1P2
	}
	return nil
}
