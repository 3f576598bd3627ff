package scenario

import (
	"fmt"

	"github.com/tesseracard/tessera/apdu"
	"github.com/tesseracard/tessera/conformance"
)

// The instructions a send step may carry that wipe a card, an application
// or its data, with what they do. (ISO/IEC 7816-9 §6, 7816-4 §11.3.7; the
// YubiKey PIV extensions.)
func wipingInstructions() map[byte]string {
	return map[byte]string{
		apdu.InsResetPIV:      "RESET wipes the PIV application: its keys, certificates, PIN, PUK and management key",
		apdu.InsSetPINRetries: "SET PIN RETRIES sets the PIN and the PUK back to their factory values",
		0xE6:                  "TERMINATE DF ends an application (on an OpenPGP card, the first half of its factory reset)",
		0xFE:                  "TERMINATE CARD USAGE ends the card for good (on a YubiKey's PIV application, IMPORT KEY overwrites a key)",
		apdu.InsDeleteFile:    "DELETE FILE deletes a file, or with a GlobalPlatform CLA an application",
		0x0E:                  "ERASE BINARY erases a file's content",
		0x0F:                  "ERASE BINARY erases a file's content",
	}
}

// adminReferences are the key references of a PUK or an administrator's
// PIN that VERIFY and CHANGE REFERENCE DATA may name in a send step: 81
// the PIV PUK (SP 800-73-4 Part 2 §3.2), 83 the OpenPGP card's PW3, and
// for a scenario of the ISO application (app: iso) 02, IsoApplet's PUK;
// for one of the OpenPGP application (app: openpgp) 83 alone (81 is PW1
// there).
func adminReferences(app conformance.Application) []byte {
	switch app {
	case conformance.AppISO:
		return []byte{0x81, 0x83, 0x02}
	case conformance.AppOpenPGP:
		return []byte{0x83}
	}
	return []byte{0x81, 0x83}
}

// destructive says why step st could leave a card in a reader worse off in
// a way no later step undoes (block its PUK or an administrator's PIN such
// as OpenPGP's PW3, or wipe its keys, files, an application or the card),
// or returns "" for a step that cannot. Blocking the PIN is not on the
// list: the PUK unblocks it.
func (s *Scenario) destructive(st *Step) string {
	switch st.Kind {
	case StepUnblock:
		if s.App == conformance.AppOpenPGP {
			return "uses PW3, the admin PIN (VERIFY 83, then RESET RETRY COUNTER): a wrong PW3 spends one of its tries, and wrong tries in a row block it, which only a reset of the application undoes"
		}
		return "uses the PUK (RESET RETRY COUNTER): a wrong PUK spends one of its tries, and wrong tries in a row block it"
	case StepChangePUK:
		return "changes the PUK (CHANGE REFERENCE DATA): a wrong old PUK spends one of its tries, and wrong tries in a row block it"
	case StepPersonalise:
		return "personalises a blank token (sets its PUK and PIN), which cannot be undone"
	case StepSend:
		return s.destructiveSend(st.APDU)
	}
	return ""
}

// destructiveSend is destructive for a send step's APDU.
func (s *Scenario) destructiveSend(raw []byte) string {
	cmd, err := apdu.ParseCommand(raw)
	if err != nil {
		if len(raw) < 4 {
			return "" // the card refuses it: nothing reaches an application
		}
		cmd = apdu.Command{CLA: raw[0], INS: raw[1], P1: raw[2], P2: raw[3], Data: raw[4:]}
	}
	if why, ok := wipingInstructions()[cmd.INS]; ok {
		return fmt.Sprintf("sends %02X: %s", cmd.INS, why)
	}
	admin := false
	for _, ref := range adminReferences(s.App) {
		admin = admin || cmd.P2 == ref
	}
	switch {
	case cmd.INS == apdu.InsResetRetryCounter:
		return "sends RESET RETRY COUNTER, which uses the PUK (or a resetting code): a wrong one spends one of its tries, and wrong tries in a row block it"
	case cmd.INS == apdu.InsVerify && admin && len(cmd.Data) > 0:
		return fmt.Sprintf("sends VERIFY to key reference %02X, a PUK or an administrator's PIN: a wrong one spends one of its tries, and wrong tries in a row block it", cmd.P2)
	case cmd.INS == apdu.InsChangeReferenceData && admin:
		return fmt.Sprintf("sends CHANGE REFERENCE DATA to key reference %02X, a PUK or an administrator's PIN: a wrong old value spends one of its tries, and wrong tries in a row block it", cmd.P2)
	}
	return ""
}

// checkDestructive refuses, before anything runs, a scenario with a step
// that could block a PUK or wipe the card (see destructive), when the card
// is not simulated and opts.Destructive is not set; it names the first
// such step and why.
func (s *Scenario) checkDestructive(card conformance.Card, opts Options) error {
	if opts.Destructive || simulated(card) {
		return nil
	}
	for i := range s.Steps {
		st := &s.Steps[i]
		if why := s.destructive(st); why != "" {
			return s.stepErr(st, fmt.Errorf("%w: it %s; the target, %s, is not a simulated card: run the scenario with --destructive to allow it", ErrDestructive, why, opts.Target))
		}
	}
	return nil
}
