package scenario

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// readerCard is a card in a PC/SC reader as the runner sees it: APDUs and
// a warm reset, none of a simulated card's capabilities.
type readerCard struct{ scriptCard }

func (*readerCard) Reset(context.Context) error { return nil }

// allOK answers 9000 to everything.
func allOK([]byte) []byte { return []byte{0x90, 0x00} }

// TestDestructiveStepsRefusedOnAReader: on a card that is not simulated, a
// scenario with a step that could block the PUK or an administrator's PIN,
// or wipe the card, is refused before anything is sent, the message naming
// the file, line, step and why, and wrapping ErrDestructive; with
// Options.Destructive it runs. Steps that cannot (PIN steps, reads, a
// VERIFY of the PUK without data, which only reads its status) are not
// refused, and a simulated card takes every step without the option.
func TestDestructiveStepsRefusedOnAReader(t *testing.T) {
	tests := []struct {
		app, step string
		why       string // "" : not destructive
	}{
		{"", "unblock: {puk: \"00000000\", new_pin: \"111111\", expect: 63C2}", "uses the PUK (RESET RETRY COUNTER)"},
		{"", "unblock: {new_pin: \"654321\"}", "uses the PUK (RESET RETRY COUNTER)"},
		{"", "change_puk: {old: \"12345678\", new: \"87654321\"}", "changes the PUK (CHANGE REFERENCE DATA)"},
		{"app: iso\n", "personalise", "personalises a blank token"},
		{"", "send: {apdu: 00FB0000, expect: 6985}", "sends FB: RESET wipes the PIV application"},
		{"", "send: {apdu: 00FA0000020505}", "sends FA: SET PIN RETRIES"},
		{"", "send: {apdu: 002C008110303030303030303031313131313131}", "sends RESET RETRY COUNTER"},
		{"", "send: {apdu: 00240081103030303030303030313131313131313131}", "sends CHANGE REFERENCE DATA to key reference 81"},
		{"", "send: {apdu: 0020008308313233343536373800}", "sends VERIFY to key reference 83"},
		{"app: iso\n", "send: {apdu: 002000020831323334353637}", "sends VERIFY to key reference 02"},
		{"", "send: {apdu: 00E60000}", "sends E6: TERMINATE DF"},
		{"", "send: {apdu: 00FE0000}", "sends FE: TERMINATE CARD USAGE"},
		{"", "send: {apdu: 80E400000A4F08A000000151000000}", "sends E4: DELETE FILE"},
		{"", "send: {apdu: 000E0000}", "sends 0E: ERASE BINARY"},
		{"", "verify: {pin: \"000000\", expect: 63C2}", ""},
		{"", "change_pin: {old: \"123456\", new: \"654321\"}", ""},
		{"", "send: {apdu: 00200081}", ""}, // VERIFY without data: the PUK's status, no try spent
		{"", "send: {apdu: 0020008008313233343536FFFF}", ""},
		{"", "send: {apdu: 00CB3FFF055C035FC10500}", ""},
		{"", "send: {apdu: 00020000}", ""},
		{"app: iso\n", "send: {apdu: 0020008108313233343536FFFF}", "sends VERIFY to key reference 81"},
		{"", "reset", ""},
		{"app: openpgp\n", "unblock: {new_pin: \"654321\"}", "uses PW3, the admin PIN (VERIFY 83, then RESET RETRY COUNTER)"},
		{"app: openpgp\n", "send: {apdu: 0020008108313233343536}", ""}, // PW1 for signing
		{"app: openpgp\n", "send: {apdu: 00200083083132333435363738}", "sends VERIFY to key reference 83"},
		{"app: openpgp\n", "change_pin: {new: \"654321\"}", ""},
	}
	for _, tt := range tests {
		doc := "name: x\n" + tt.app + "steps:\n  - verify: {expect: [63Cx, 9000]}\n  - " + tt.step + "\n"
		s, err := Parse("lab.yaml", []byte(doc))
		if err != nil {
			t.Fatalf("%s: %v", tt.step, err)
		}
		card := &readerCard{scriptCard{answer: allOK}}
		err = s.Run(context.Background(), card, Options{Target: "the card in PC/SC reader Yubico YubiKey"})
		if tt.why == "" {
			if errors.Is(err, ErrDestructive) {
				t.Errorf("%s: refused as destructive: %v", tt.step, err)
			}
			continue
		}
		var se *StepError
		line := 4 + strings.Count(tt.app, "\n")
		if !errors.As(err, &se) || !errors.Is(err, ErrDestructive) || se.Step != 2 || se.Line != line {
			t.Errorf("%s: Run = %v, want step 2 refused as destructive", tt.step, err)
			continue
		}
		for _, want := range []string{fmt.Sprintf("lab.yaml:%d: step 2 (", line), "destructive step: it " + tt.why, "the target, the card in PC/SC reader Yubico YubiKey, is not a simulated card: run the scenario with --destructive to allow it"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%s: Run = %v\nwant it to contain %q", tt.step, err, want)
			}
		}
		if len(card.sent) != 0 {
			t.Errorf("%s: %d commands sent before refusing", tt.step, len(card.sent))
		}

		card = &readerCard{scriptCard{answer: allOK}}
		if err := s.Run(context.Background(), card, Options{Target: "a reader", Destructive: true}); errors.Is(err, ErrDestructive) || len(card.sent) == 0 {
			t.Errorf("%s with Destructive: Run = %v after %d commands, want it run", tt.step, err, len(card.sent))
		}
		sim := &cutOnly{scriptCard{answer: allOK}}
		if err := s.Run(context.Background(), sim, Options{Target: "a simulated card"}); errors.Is(err, ErrDestructive) {
			t.Errorf("%s on a simulated card: Run = %v, want it run", tt.step, err)
		}
	}
}

// TestDestructiveRefusalNamesTheFirstStep: the refusal names the first
// destructive step, after the capability check (a simulator-only step
// earlier in the file is named first).
func TestDestructiveRefusalNamesTheFirstStep(t *testing.T) {
	s, err := Parse("lab.yaml", []byte("name: x\nsteps:\n  - verify\n  - send: {apdu: 00FB0000}\n  - unblock: {new_pin: \"111111\"}\n"))
	if err != nil {
		t.Fatal(err)
	}
	err = s.Run(context.Background(), &readerCard{scriptCard{answer: allOK}}, Options{Target: "r"})
	if want := "lab.yaml:4: step 2 (send): destructive step: it sends FB: "; err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("Run = %v, want %q...", err, want)
	}
}
