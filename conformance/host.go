package conformance

import (
	"context"
	"fmt"

	"github.com/tesseracard/tessera/apdu"
	"github.com/tesseracard/tessera/pivalg"
)

// The host-side commands and helpers the suite's cases use, for other
// programs that drive a card, such as the scenario language (package
// scenario). Each builds exactly the bytes the suite sends.

// NewEnv returns an Env for a program that drives a card outside the suite
// (a scenario): the helpers use creds, SelectApp selects app, and the card
// is taken as Fresh, so Cleanup keeps nothing.
func NewEnv(card Card, creds Credentials, app Application) *Env {
	e := newEnv(card, creds, true, nil)
	e.app = app
	return e
}

// SelectApp selects the Env's application by its AID.
func (e *Env) SelectApp(ctx context.Context) error { return e.selectApp(ctx) }

// AID returns the application's AID: PIV's (SP 800-73-4 Part 1 §2.2),
// IsoApplet's, YKOATH's, or the OpenPGP application's first 6 bytes, which
// select it on any OpenPGP card.
func (a Application) AID() []byte {
	switch a {
	case AppISO:
		return isoAID()
	case AppOATH:
		return oathAID()
	case AppOpenPGP:
		return opgpAID()
	}
	return pivAID()
}

// PINFieldLen is the width of PIV's PIN and PUK fields: the value padded
// with FF to 8 bytes (SP 800-73-4 Part 2 §3.2.1).
const PINFieldLen = pinFieldLen

// ISOTestPUK is the PUK the suite personalises the ISO application with:
// OpenSC's IsoApplet test PUK, a public test value.
const ISOTestPUK = isoSuitePUK

// DefaultMgmtKey returns the management key of PIV cards as delivered:
// 01..08 three times.
func DefaultMgmtKey() []byte {
	return []byte{1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8}
}

// MgmtAlgID returns the algorithm identifier (SP 800-78-4 Table 6-2) of a
// management key algorithm named 3des, aes128, aes192 or aes256; ok is
// false for another name.
func MgmtAlgID(name string) (id byte, ok bool) {
	return pivalg.MgmtKeyID(name)
}

// SWText describes a status word, e.g. "63C2 (2 tries left)".
func SWText(sw apdu.StatusWord) string { return swText(sw) }

// SelectCommand is SELECT of an application by its AID, first occurrence.
func SelectCommand(aid []byte) apdu.Command { return selectCmd(aid) }

// VerifyCommand is VERIFY of the application's PIN: for PIV the PIN padded
// with FF to field bytes (PINFieldLen, or wider for a password profile),
// for the ISO application IsoApplet's 16-byte zero-padded field, for
// OpenPGP PW1 as it is, to reference 82 (OpenPGP card 3.4 §7.2.2).
func VerifyCommand(app Application, pin string, field int) apdu.Command {
	switch app {
	case AppISO:
		return isoVerifyCmd(pin)
	case AppOpenPGP:
		return opgpVerifyCmd(opgpPW1, pin)
	}
	return apdu.Command{INS: apdu.InsVerify, P2: refPIN, Data: pad(pin, field)}
}

// ChangePINCommand is CHANGE REFERENCE DATA of the application's PIN, its
// fields as VerifyCommand's (OpenPGP: PW1, reference 81, old and new
// joined).
func ChangePINCommand(app Application, old, nw string, field int) apdu.Command {
	switch app {
	case AppISO:
		return isoChangeCmd(old, nw)
	case AppOpenPGP:
		return opgpChangeCmd(opgpPW1Sig, old, nw)
	}
	return apdu.Command{INS: apdu.InsChangeReferenceData, P2: refPIN, Data: append(pad(old, field), pad(nw, field)...)}
}

// ChangePUKCommand is CHANGE REFERENCE DATA of PIV's PUK.
func ChangePUKCommand(old, nw string) apdu.Command { return changeCmd(refPUK, old, nw) }

// UnblockCommand is RESET RETRY COUNTER of the application's PIN: for PIV
// the PUK in its 8-byte field and the new PIN padded to field bytes, for
// the ISO application the PUK as it is and the new PIN in IsoApplet's
// field. For OpenPGP it is RESET RETRY COUNTER of PW1 after PW3 (P1 02,
// the new PW1 alone): puk is not in it, the caller verifies PW3 first
// (OpenPGPAdminVerifyCommand).
func UnblockCommand(app Application, puk, newPIN string, field int) apdu.Command {
	switch app {
	case AppISO:
		return isoUnblockCmd(puk, newPIN)
	case AppOpenPGP:
		return opgpResetByPW3Cmd(newPIN)
	}
	return apdu.Command{INS: apdu.InsResetRetryCounter, P2: refPIN, Data: append(pad(puk, pinFieldLen), pad(newPIN, field)...)}
}

// SetPUKCommand sets the ISO application's PUK in the creation state;
// SetPINCommand then sets its first PIN.
func SetPUKCommand(puk string) apdu.Command { return setPUKCmd([]byte(puk)) }

// SetPINCommand sets the ISO application's first PIN, once the PUK is set.
func SetPINCommand(pin string) apdu.Command { return setPINCmd([]byte(pin)) }

// GetDataCommand is PIV's GET DATA of the object tag.
func GetDataCommand(tag []byte) apdu.Command { return getDataCmd(tag) }

// PutDataCommand is PIV's PUT DATA of content into the object tag; empty
// content deletes it.
func PutDataCommand(tag, content []byte) apdu.Command { return putDataCmd(tag, content) }

// GenerateCommand is GENERATE ASYMMETRIC KEY PAIR in slot (SP 800-73-4 Part
// 2 §3.3.2) of the algorithm alg (0: P-256), with the YubiKey's PIN and
// touch policies (tags AA and AB; 0: the slot's default).
func GenerateCommand(slot, alg, pinPolicy, touch byte) apdu.Command {
	if alg == 0 {
		alg = pivalg.P256
	}
	tmpl := apdu.AppendTLV(nil, 0x80, []byte{alg})
	if pinPolicy != 0 {
		tmpl = apdu.AppendTLV(tmpl, 0xAA, []byte{pinPolicy})
	}
	if touch != 0 {
		tmpl = apdu.AppendTLV(tmpl, 0xAB, []byte{touch})
	}
	return apdu.Command{INS: apdu.InsGenerateKeyPairOdd, P2: slot, Data: apdu.Nest(0xAC, tmpl), Ne: 256}
}

// refTOTP is the vendor key reference to which a cloud-signature card
// takes a TOTP code with VERIFY (docs/personas.md).
const refTOTP = 0x90

// TOTPCommand is VERIFY of a TOTP code to the vendor key reference 90 of a
// cloud-signature card.
func TOTPCommand(code string) apdu.Command {
	return apdu.Command{INS: apdu.InsVerify, P2: refTOTP, Data: []byte(code)}
}

// AuthenticateKey authenticates the management key key by mutual
// authentication (SP 800-73-4 Part 2 §3.2.4), its algorithm the Env's
// (MgmtAlg). last is the card's last answer, whatever the outcome.
func (e *Env) AuthenticateKey(ctx context.Context, key []byte) (last apdu.Response, err error) {
	alg, err := e.MgmtAlg(ctx)
	if err != nil {
		return last, err
	}
	send := func(c apdu.Command) (apdu.Response, error) {
		r, err := e.Transmit(ctx, c)
		last = r
		return r, err
	}
	return last, mutualAuth(send, alg, key)
}

// OpenPGPAdminVerifyCommand is VERIFY of the OpenPGP application's PW3
// (reference 83).
func OpenPGPAdminVerifyCommand(pw3 string) apdu.Command { return opgpVerifyCmd(opgpPW3, pw3) }

// OpenPGPStatusCommand is VERIFY without data of the OpenPGP application's
// PW1 (reference 82): 9000 when verified, 63CX when not.
func OpenPGPStatusCommand() apdu.Command { return opgpStatusCmd(opgpPW1) }

// OpenPGPTries returns the OpenPGP application's PW1, resetting code and
// PW3 tries left, from the PW status bytes (C4, OpenPGP card 3.4
// §4.4.3.4), which spends none.
func (e *Env) OpenPGPTries(ctx context.Context) (pw1, rc, pw3 int, err error) {
	c, err := e.opgpTries(ctx)
	return c.pw1, c.rc, c.pw3, err
}

// PINTries returns the PIN's tries left without spending one: from GET
// METADATA where the card has it, else VERIFY without data (the ISO
// application: always the latter, which it answers 63CX whether or not the
// PIN is verified).
func (e *Env) PINTries(ctx context.Context) (int, error) {
	if e.app == AppOpenPGP {
		c, err := e.opgpTries(ctx)
		return c.pw1, err
	}
	if e.app == AppISO {
		sw, err := e.isoPINStatus(ctx)
		if err != nil {
			return 0, err
		}
		if sw == apdu.SWAuthMethodBlocked {
			return 0, nil
		}
		if n, ok := sw.Retries(); ok {
			return n, nil
		}
		return 0, fmt.Errorf("VERIFY without data answered %s: no PIN is set yet (personalise first)", swText(sw))
	}
	if n, _, ok, err := e.counter(ctx, refPIN); err != nil || ok {
		return n, err
	}
	sw, err := e.Status(ctx)
	if err != nil {
		return 0, err
	}
	if sw == apdu.SWSuccess {
		return 0, fmt.Errorf("the PIN is verified, and without GET METADATA the card does not say its tries then")
	}
	return e.Tries(ctx)
}
