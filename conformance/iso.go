package conformance

import (
	"context"
	"fmt"

	"github.com/tesseracard/tessera/apdu"
)

// The ISO 7816 file-system application the suite also tests: IsoApplet v0
// (API 00.06), the application OpenSC's isoApplet driver personalises with
// PKCS#15. Written from IsoApplet's documented behaviour as OpenSC 0.23.0
// uses it (card-isoApplet.c, IsoApplet.java v0) and ISO/IEC 7816-4, -8, -9
// where IsoApplet is silent; not taken from the firmware.

// Application names a card application the suite has cases for.
type Application int

const (
	// AppPIV is the PIV card application (SP 800-73-4): the zero value, so
	// that every case that names no application is a PIV case.
	AppPIV Application = iota
	// AppISO is the ISO 7816 file-system application (IsoApplet v0).
	AppISO
	// AppOATH is the YubiKey OATH application (YKOATH, oath.go).
	AppOATH
	// AppMgmt is the YubiKey management application (mgmt.go).
	AppMgmt
	// AppOpenPGP is the OpenPGP card application (openpgp.go).
	AppOpenPGP
)

func (a Application) String() string {
	switch a {
	case AppISO:
		return "ISO 7816 file system (IsoApplet)"
	case AppOATH:
		return "OATH (YKOATH)"
	case AppMgmt:
		return "YubiKey management"
	case AppOpenPGP:
		return "OpenPGP"
	}
	return "PIV"
}

// isoAID returns IsoApplet's AID.
func isoAID() []byte {
	return []byte{0xF2, 0x76, 0xA2, 0x88, 0xBC, 0xFB, 0xA6, 0x9D, 0x34, 0xF3, 0x10, 0x01}
}

// The values the suite personalises a card in the creation state with:
// those of OpenSC's IsoApplet CI (.github/test-isoapplet.sh), public test
// values.
const (
	isoSuitePIN = "123456"
	isoSuitePUK = "0123456789abcdef"
)

const (
	isoRefPIN = 0x01
	isoRefPUK = 0x02
	// isoRefLen is IsoApplet's PIN and PUK field: 16 bytes, the PIN
	// zero-padded.
	isoRefLen = 16
	// isoKeySlot is the key slot the key cases use: the last of IsoApplet's
	// 16, away from those pkcs15-init fills from 0.
	isoKeySlot = 0x0F
)

// mfFCI returns the FCI IsoApplet answers for the MF.
func mfFCI() []byte { return []byte{0x6F, 0x07, 0x82, 0x01, 0x38, 0x83, 0x02, 0x3F, 0x00} }

// isoSelectCmd is SELECT of IsoApplet by its AID.
func isoSelectCmd() apdu.Command {
	return apdu.Command{INS: apdu.InsSelect, P1: 0x04, Data: isoAID(), Ne: 256}
}

// selectFIDCmd is SELECT by file identifier (P1 00); p2 00 asks for the
// FCI, 0C for none.
func selectFIDCmd(fid uint16, p2 byte) apdu.Command {
	c := apdu.Command{INS: apdu.InsSelect, P2: p2, Data: []byte{byte(fid >> 8), byte(fid)}}
	if p2 != 0x0C {
		c.Ne = 256
	}
	return c
}

// selectPathCmd is SELECT by path from the MF (P1 08), the path without
// 3F00, as OpenSC sends it.
func selectPathCmd(p2 byte, fids ...uint16) apdu.Command {
	var path []byte
	for _, f := range fids {
		path = append(path, byte(f>>8), byte(f))
	}
	c := apdu.Command{INS: apdu.InsSelect, P1: 0x08, P2: p2, Data: path}
	if p2 != 0x0C {
		c.Ne = 256
	}
	return c
}

// isoStatusCmd is VERIFY without data: the PIN's tries (63CX), 9000 while
// no PIN is set, 6983 once blocked.
func isoStatusCmd() apdu.Command { return apdu.Command{INS: apdu.InsVerify, P2: isoRefPIN} }

// isoField returns v zero-padded to IsoApplet's 16-byte field.
func isoField(v string) []byte {
	b := make([]byte, isoRefLen)
	copy(b, v)
	return b
}

func isoVerifyCmd(pin string) apdu.Command {
	return apdu.Command{INS: apdu.InsVerify, P2: isoRefPIN, Data: isoField(pin)}
}

// setPUKCmd sets the PUK in the creation state (CHANGE REFERENCE DATA, P1
// 01: no old value).
func setPUKCmd(puk []byte) apdu.Command {
	return apdu.Command{INS: apdu.InsChangeReferenceData, P1: 0x01, P2: isoRefPUK, Data: puk}
}

// setPINCmd sets the first PIN, unpadded, once the PUK is set.
func setPINCmd(pin []byte) apdu.Command {
	return apdu.Command{INS: apdu.InsChangeReferenceData, P1: 0x01, P2: isoRefPIN, Data: pin}
}

func isoChangeCmd(old, nw string) apdu.Command {
	return apdu.Command{INS: apdu.InsChangeReferenceData, P2: isoRefPIN, Data: append(isoField(old), isoField(nw)...)}
}

func isoUnblockCmd(puk, newPIN string) apdu.Command {
	return apdu.Command{INS: apdu.InsResetRetryCounter, P2: isoRefPIN, Data: append([]byte(puk), isoField(newPIN)...)}
}

// isoRules are the 8 bytes of FCP tag 86, in IsoApplet's order: (unused),
// DELETE self, LOCK, ACTIVATE, DEACTIVATE, CREATE DF / WRITE, CREATE EF /
// UPDATE, DELETE child / READ. 00 always, FF never, 90 (or any x with x &
// 9F = 10) the PIN verified.
type isoRules struct{ read, update, createDF, deleteSelf byte }

func (r isoRules) bytes() []byte {
	return []byte{0x00, r.deleteSelf, 0x00, 0x00, 0x00, r.createDF, r.update, r.read}
}

// createCmd is CREATE FILE of a transparent EF (size > 0) or a DF (size 0),
// with access rules unless rules is nil.
func createCmd(fid uint16, size int, rules *isoRules) apdu.Command {
	var sa []byte
	if rules != nil {
		sa = rules.bytes()
	}
	return createWithSA(fid, size, sa)
}

// createWithSA is CREATE FILE with the security attributes sa (tag 86)
// as they are, none if nil.
func createWithSA(fid uint16, size int, sa []byte) apdu.Command {
	fdb := byte(0x01)
	if size == 0 {
		fdb = 0x38
	}
	inner := [][]byte{
		apdu.AppendTLV(nil, 0x81, []byte{byte(size >> 8), byte(size)}),
		apdu.AppendTLV(nil, 0x82, []byte{fdb}),
		apdu.AppendTLV(nil, 0x83, []byte{byte(fid >> 8), byte(fid)}),
	}
	if sa != nil {
		inner = append(inner, apdu.AppendTLV(nil, 0x86, sa))
	}
	return apdu.Command{INS: apdu.InsCreateFile, Data: apdu.Nest(0x6F, inner...)}
}

func deleteCmd(fid uint16) apdu.Command {
	return apdu.Command{INS: apdu.InsDeleteFile, Data: []byte{byte(fid >> 8), byte(fid)}}
}

func readCmd(off, ne int) apdu.Command {
	return apdu.Command{INS: apdu.InsReadBinary, P1: byte(off >> 8), P2: byte(off), Ne: ne}
}

func updateCmd(off int, data []byte) apdu.Command {
	return apdu.Command{INS: apdu.InsUpdateBinary, P1: byte(off >> 8), P2: byte(off), Data: data}
}

// mseCmd is MANAGE SECURITY ENVIRONMENT SET (P1 41) of a template: 00 key
// generation, B6 signature, B8 decipher.
func mseCmd(template, alg, keyRef byte) apdu.Command {
	return apdu.Command{INS: apdu.InsManageSecurityEnvironment, P1: 0x41, P2: template, Data: []byte{0x80, 0x01, alg, 0x84, 0x01, keyRef}}
}

// apps is which applications a card answers SELECT for, and what it
// answered.
type apps struct {
	piv, iso, oath, mgmt, opgp           bool
	pivSW, isoSW, oathSW, mgmtSW, opgpSW apdu.StatusWord
}

// probeApps selects each application the suite knows; a SELECT changes
// nothing on a card.
func probeApps(ctx context.Context, card Card) (apps, error) {
	e := newEnv(card, Credentials{}, false, nil)
	var a apps
	for _, p := range []struct {
		cmd apdu.Command
		ok  *bool
		sw  *apdu.StatusWord
	}{{selectCmd(pivAID()), &a.piv, &a.pivSW}, {isoSelectCmd(), &a.iso, &a.isoSW}, {selectCmd(oathAID()), &a.oath, &a.oathSW}, {selectCmd(mgmtAID()), &a.mgmt, &a.mgmtSW}, {selectCmd(opgpAID()), &a.opgp, &a.opgpSW}} {
		sw, err := e.SW(ctx, p.cmd)
		if err != nil {
			return a, err
		}
		*p.ok, *p.sw = sw == apdu.SWSuccess, sw
	}
	return a, nil
}

// notApplicable says why no case applies to a card that answers SELECT
// for none of the applications the suite tests.
func (a apps) notApplicable() string {
	return fmt.Sprintf("the card has none of the applications the suite tests: SELECT of %s, AID %X, answered %s; SELECT of the %s, AID %X, answered %s; SELECT of %s, AID %X, answered %s; SELECT of %s, AID %X, answered %s; SELECT of %s, AID %X, answered %s",
		AppPIV, pivAID(), swText(a.pivSW), AppISO, isoAID(), swText(a.isoSW), AppOATH, oathAID(), swText(a.oathSW), AppMgmt, mgmtAID(), swText(a.mgmtSW), AppOpenPGP, opgpAID(), swText(a.opgpSW))
}

// pickCases returns the cases of the applications the card answers, in
// suite order, that filter selects. On a card that answers neither, it
// returns the cases of every application, with the reason none applies
// (notApplicable): they are reported not applicable, not run.
func pickCases(ctx context.Context, t Target, shared Card, filter func(Case) bool) (cases []Case, notApplicable string, err error) {
	card := shared
	if card == nil {
		c, err := t.Open(ctx)
		if err != nil {
			return nil, "", fmt.Errorf("conformance: connecting to %s: %w", t.Name, err)
		}
		defer c.Close()
		card = c
	}
	a, err := probeApps(ctx, card)
	if err != nil {
		return nil, "", fmt.Errorf("conformance: asking %s which applications it has: %w", t.Name, err)
	}
	want := map[Application]bool{AppPIV: a.piv, AppISO: a.iso, AppOATH: a.oath, AppMgmt: a.mgmt, AppOpenPGP: a.opgp}
	if !a.piv && !a.iso && !a.oath && !a.mgmt && !a.opgp {
		want[AppPIV], want[AppISO], want[AppOATH], want[AppMgmt], want[AppOpenPGP] = true, true, true, true, true
		notApplicable = a.notApplicable()
	}
	for _, c := range Cases() {
		if want[c.App] && (filter == nil || filter(c)) {
			cases = append(cases, c)
		}
	}
	return cases, notApplicable, nil
}

// needsPIVCredentials reports whether a destructive PIV case is to run.
func needsPIVCredentials(cases []Case) bool {
	for _, c := range cases {
		if c.Class == Destructive && c.App == AppPIV {
			return true
		}
	}
	return false
}

// isoPlan is what the plan knows of the ISO application of a card that is
// not Fresh.
type isoPlan struct {
	// refused says why no destructive ISO case may run ("" when they may).
	refused string
	// fullPIN is the PIN's tries when full, once the suite has set it.
	fullPIN int
}

// makePlans makes the plan for the destructive cases to run: the PIV plan
// if there are PIV ones, and the ISO application's.
func makePlans(ctx context.Context, card Card, creds Credentials, cases []Case) *plan {
	p := &plan{pukFull: -1}
	if needsPIVCredentials(cases) {
		p = makePlan(ctx, card, creds)
	}
	for _, c := range cases {
		if c.Class == Destructive && c.App == AppISO {
			p.iso.check(ctx, card)
			p.note("%s", p.iso.describe())
			break
		}
	}
	for _, c := range cases {
		if c.Class == Destructive && c.App == AppOpenPGP {
			p.opgp.check(ctx, card, creds)
			p.note("%s", p.opgp.describe())
			break
		}
	}
	return p
}

// check finds out whether the card's ISO application is in the creation
// state (no PUK, no PIN), the only state from which the suite can bring it
// to one it knows: VERIFY without data answers 9000 only while no PIN is
// set, and setting the PUK with a 1-byte value answers 6700 only while it
// may be set (afterwards the command is refused before its length is
// looked at). Neither writes anything.
func (ip *isoPlan) check(ctx context.Context, card Card) {
	e := newEnv(card, Credentials{}, false, nil)
	e.app = AppISO
	if err := e.begin(ctx); err != nil {
		ip.refused = err.Error()
		return
	}
	sw, err := e.SW(ctx, isoStatusCmd())
	switch {
	case err != nil:
		ip.refused = fmt.Sprintf("reading the PIN's status: %v", err)
		return
	case sw != apdu.SWSuccess:
		ip.refused = fmt.Sprintf("the card is personalised (VERIFY without data answered %s, so a PIN is set): destructive ISO cases need a card in the creation state, with no PUK and no PIN", swText(sw))
		return
	}
	if sw, err = e.SW(ctx, setPUKCmd([]byte{0x00})); err != nil {
		ip.refused = fmt.Sprintf("probing the life cycle: %v", err)
	} else if sw != apdu.SWWrongLength {
		ip.refused = fmt.Sprintf("the card has a PUK but no PIN (setting a 1-byte PUK answered %s, not 6700): destructive ISO cases need a card in the creation state, with no PUK and no PIN", swText(sw))
	}
}

func (ip *isoPlan) describe() string {
	if ip.refused != "" {
		return "ISO destructive cases refused: " + ip.refused
	}
	return "ISO: the card is in the creation state; the destructive cases personalise it with OpenSC's test PIN and PUK (see docs/conformance.md), leave them set with full counters, delete the files they create, and leave an EC key in slot 15"
}

// selectApp selects the case's application.
func (e *Env) selectApp(ctx context.Context) error {
	if e.app == AppOATH {
		return e.run(ctx, step("SELECT of the OATH application", selectCmd(oathAID()), apdu.SWSuccess))
	}
	if e.app == AppMgmt {
		return e.run(ctx, step("SELECT of the YubiKey management application", selectCmd(mgmtAID()), apdu.SWSuccess))
	}
	if e.app == AppOpenPGP {
		return e.run(ctx, step("SELECT of the OpenPGP application", selectCmd(opgpAID()), apdu.SWSuccess))
	}
	if e.app != AppISO {
		return e.Select(ctx)
	}
	r, err := e.Transmit(ctx, isoSelectCmd())
	if err != nil {
		return err
	}
	if r.SW != apdu.SWSuccess {
		return fmt.Errorf("SELECT of the ISO application (IsoApplet AID % X) answered %s", isoAID(), swText(r.SW))
	}
	return nil
}

// isoPINStatus returns VERIFY without data's answer.
func (e *Env) isoPINStatus(ctx context.Context) (apdu.StatusWord, error) {
	return e.SW(ctx, isoStatusCmd())
}

// isoPersonalised brings the ISO application to the operational state with
// the suite's PIN and PUK, the PIN's counter full and the PIN not verified:
// it sets the PUK and the PIN on a card in the creation state, and on one
// the suite personalised before it uses the PUK to set the PIN again (which
// refills both counters). It returns the PIN's tries when full.
func (e *Env) isoPersonalised(ctx context.Context) (int, error) {
	sw, err := e.isoPINStatus(ctx)
	if err != nil {
		return 0, err
	}
	steps := []isoStep{step("RESET RETRY COUNTER with the suite's PUK", isoUnblockCmd(isoSuitePUK, isoSuitePIN), apdu.SWSuccess)}
	if sw == apdu.SWSuccess {
		steps = []isoStep{
			step("setting the PUK in the creation state", setPUKCmd([]byte(isoSuitePUK)), apdu.SWSuccess),
			step("setting the PIN once the PUK is set", setPINCmd([]byte(isoSuitePIN)), apdu.SWSuccess),
		}
	}
	if err := e.run(ctx, steps...); err != nil {
		return 0, err
	}
	if err := e.selectApp(ctx); err != nil {
		return 0, err
	}
	return e.isoTries(ctx, "once personalised")
}

// isoTries returns the PIN's tries left, which VERIFY without data must
// report as 63CX.
func (e *Env) isoTries(ctx context.Context, when string) (int, error) {
	sw, err := e.isoPINStatus(ctx)
	if err != nil {
		return 0, err
	}
	n, ok := sw.Retries()
	if !ok {
		return 0, fmt.Errorf("%s, VERIFY without data answered %s, want 63CX with the PIN's tries left", when, swText(sw))
	}
	return n, nil
}

// isoVerify verifies the suite's PIN, which must succeed.
func (e *Env) isoVerify(ctx context.Context) error {
	sw, err := e.SW(ctx, isoVerifyCmd(isoSuitePIN))
	if err != nil {
		return err
	}
	return expectSW("VERIFY with the PIN", sw, apdu.SWSuccess)
}

// isoFiles registers, on a card that is not Fresh, the deletion of files
// the case creates: with the PIN verified, tolerating files already gone.
func (e *Env) isoFiles(fids ...uint16) {
	e.Cleanup(func(ctx context.Context) error {
		if err := e.selectApp(ctx); err != nil {
			return err
		}
		if sw, _ := e.isoPINStatus(ctx); sw != apdu.SWSuccess {
			if err := e.isoVerify(ctx); err != nil {
				return err
			}
		}
		for _, f := range fids {
			sw, err := e.SW(ctx, deleteCmd(f))
			if err != nil {
				return err
			}
			if sw != apdu.SWSuccess && sw != apdu.SWFileNotFound {
				return fmt.Errorf("DELETE FILE %04X answered %s", f, swText(sw))
			}
		}
		return nil
	})
}

// isoRestore puts the ISO application back after a destructive case on a
// card that is not Fresh: if the suite set a PIN, the PUK sets it again,
// which refills both counters; then the PIN's counter must be full.
func (e *Env) isoRestore(ctx context.Context) error {
	if err := e.begin(ctx); err != nil {
		return err
	}
	sw, err := e.isoPINStatus(ctx)
	if err != nil || sw == apdu.SWSuccess {
		return err // no PIN yet: nothing spent
	}
	if err := e.run(ctx, step("RESET RETRY COUNTER with the suite's PUK", isoUnblockCmd(isoSuitePUK, isoSuitePIN), apdu.SWSuccess)); err != nil {
		return err
	}
	n, err := e.isoTries(ctx, "after RESET RETRY COUNTER")
	if err != nil {
		return err
	}
	ip := &e.plan.iso
	if ip.fullPIN == 0 {
		ip.fullPIN = n
	}
	if n != ip.fullPIN {
		return fmt.Errorf("the PIN has %d tries left after RESET RETRY COUNTER, not %d", n, ip.fullPIN)
	}
	return nil
}

// withoutDestructive says why a destructive case was skipped on a card
// that is not Fresh, run without Options.Destructive.
func withoutDestructive(c *Case) string {
	if c.App == AppISO {
		return "destructive: runs on a real card only with --destructive, and only while the card is in the creation state (no PUK, no PIN)"
	}
	if c.App == AppOpenPGP {
		return "destructive: runs on a real card only with --destructive and its PW1 and PW3"
	}
	return "destructive: runs on a real card only with --destructive and its PIN, PUK and management key"
}
