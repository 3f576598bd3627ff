package scenario

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tesseracard/tessera/apdu"
)

// scriptCard answers every command from a function and records them.
type scriptCard struct {
	answer func(cmd []byte) []byte
	sent   [][]byte
}

func (c *scriptCard) Transmit(_ context.Context, cmd []byte) ([]byte, error) {
	c.sent = append(c.sent, bytes.Clone(cmd))
	return c.answer(cmd), nil
}

func (c *scriptCard) Close() error { return nil }

// notPIV answers 6A82 to SELECT and 6D00 to everything else.
func notPIV(cmd []byte) []byte {
	if len(cmd) > 1 && cmd[1] == apdu.InsSelect {
		return []byte{0x6A, 0x82}
	}
	return []byte{0x6D, 0x00}
}

func TestParseScenarioErrors(t *testing.T) {
	tests := []struct {
		doc, want string
	}{
		{"name: x\nsteps:\n  - verify: {pin: 1\n  - tear: 1\n", "s.yaml:3: YAML: did not find expected ',' or '}'"},
		{"name: x\nsteps:\n  - verify\n\t- tear: 1\n", "s.yaml:3: YAML: found a tab character that violates indentation"},
		{"name: x\nsteps:\n  - verify\n - tear: 1\n", "s.yaml:4: YAML: did not find expected key"},
		{"steps:\n  - verify\n", "s.yaml:1: missing name:"},
		{"name: x\n", "s.yaml:1: missing steps:"},
		{"name: x\nsteps: verify\n", "s.yaml:2: steps: want a list of steps"},
		{"name: x\nstep:\n  - verify\n", `s.yaml:2: unknown key "step" (known: name, description, profile, app, pin, puk, mgmt_key, mgmt_alg, pin_field, steps)`},
		{"name: x\nsteps:\n  - verify\n  - verfy: {pin: \"1\"}\n", `s.yaml:4: step 2: unknown step "verfy" (known: assert, authenticate, change_pin, change_puk, clock, enrol, generate, get_data, insert, oath_put, personalise, power_cycle, put_data, remove, reset, restart, reveal, select, send, sign, tear, totp, touch_mode, unblock, verify)`},
		{"name: x\nsteps:\n  - totp: {code: phone}\n", `s.yaml:3: step 1 (totp): code: "phone", want current, previous, reuse, wrong or oath`},
		{"name: x\nsteps:\n  - oath_put: {name: \"\"}\n", `s.yaml:3: step 1 (oath_put): name: "", want 1 to 64 bytes`},
		{"name: x\napp: iso\nprofile: iso-token\nsteps:\n  - oath_put\n", `s.yaml:5: step 1: oath_put is a PIV step, and this scenario drives the ISO application (app: iso); use send: for other commands`},
		{"name: x\nsteps:\n  - verify: {pn: \"1\"}\n", `s.yaml:3: step 1 (verify): unknown argument "pn" (known: pin, expect)`},
		{"name: x\nsteps:\n  - verify: {expect: 63C}\n", `s.yaml:3: step 1 (verify): expect: "63C" is not a status word: want four hex digits such as 9000, a pattern such as 63Cx, or none`},
		{"name: x\nsteps:\n  - send: {expect: 9000}\n", `s.yaml:3: step 1 (send): missing "apdu"`},
		{"name: x\nsteps:\n  - send: {apdu: 00A404}\n", `s.yaml:3: step 1 (send): apdu: 3 bytes; a command has at least 4`},
		{"name: x\nsteps:\n  - send: {apdu: 00A4040}\n", `s.yaml:3: step 1 (send): apdu: "00A4040" is an odd number of hex digits`},
		{"name: x\nsteps:\n  - tear: -1\n", `s.yaml:3: step 1 (tear): after: -1, want 0 or more writes`},
		{"name: x\nsteps:\n  - clock: soon\n", `s.yaml:3: step 1 (clock): advance: "soon", want a duration such as 20s or 1h`},
		{"name: x\nsteps:\n  - verify:\n      pin: \"1\"\n      power_cycle:\n", `s.yaml:5: step 1 (verify): unknown argument "power_cycle" (known: pin, expect)`},
		{"name: x\nsteps:\n  - verify:\n    pin: \"1\"\n", `s.yaml:3: step 1: a step is one name with its arguments; this one has 2 names (a missing "-" before a step?)`},
		{"name: x\nsteps:\n  - verify: {}\n    power_cycle: {}\n", `s.yaml:3: step 1: a step is one name with its arguments; this one has 2 names (a missing "-" before a step?)`},
		{"name: x\nsteps:\n  - assert: {}\n", `s.yaml:3: step 1 (assert): nothing to assert (known: pin_tries, puk_tries, pin_verified, pin_blocked, puk_blocked)`},
		{"name: x\nsteps:\n  - assert: {pin_verified: maybe}\n", `s.yaml:3: step 1 (assert): pin_verified: "maybe", want true or false`},
		{"name: x\npin_field: 20\nsteps:\n  - verify\n", `s.yaml:2: pin_field: 20, want 8 to 16`},
		{"name: x\nsteps:\n  - put_data: {object: 5fc10d}\n", `s.yaml:3: step 1 (put_data): missing "size" or "content"`},
		{"name: x\nsteps:\n  - generate: {slot: 9c9c}\n", `s.yaml:3: step 1 (generate): slot: "9c9c", want one byte in hex such as 9c`},
		{"name: x\napp: pkcs15\nsteps:\n  - verify\n", `s.yaml:2: app: "pkcs15", want piv, iso or openpgp`},
		{"name: x\napp: openpgp\nsteps:\n  - generate: {slot: 9a}\n", `s.yaml:4: step 1: generate is not a step of the OpenPGP application (app: openpgp); use send: for other commands`},
		{"name: x\napp: openpgp\nsteps:\n  - personalise\n", `s.yaml:4: step 1: personalise is not a step of the OpenPGP application (app: openpgp); use send: for other commands`},
		{"name: x\nsteps:\n  - personalise\n", `s.yaml:3: step 1: personalise is a step of the ISO application (app: iso)`},
		{"name: x\napp: iso\nsteps:\n  - personalise\n  - authenticate\n", `s.yaml:5: step 2: authenticate is a PIV step, and this scenario drives the ISO application (app: iso); use send: for other commands`},
		{"name: x\napp: iso\nsteps:\n  - assert: {puk_tries: 5}\n", `s.yaml:4: step 1: assert puk_tries: the ISO application tells only the PIN's tries without spending one (pin_tries, pin_blocked)`},
	}
	for _, tt := range tests {
		_, err := Parse("s.yaml", []byte(tt.doc))
		var se *SyntaxError
		if !errors.As(err, &se) || err.Error() != tt.want {
			t.Errorf("Parse(%q):\n got %v\nwant %s", tt.doc, err, tt.want)
		}
	}
}

func TestParse(t *testing.T) {
	doc := `name: all the forms
profile:
  base: default
  name: inline
pin: "87654321"
pin_field: 12
steps:
  - select
  - verify
  - verify: {pin: 000000, expect: [63Cx, none]}
  - tear: 2
  - clock: 1h30m
  - put_data: {object: 5fc10d, size: 600, parts: 1}
  - assert: {puk_tries: 3, pin_verified: false}
`
	s, err := Parse("all.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if s.Name != "all the forms" || s.PIN != "87654321" || s.PUK != "12345678" || s.PINField != 12 || !bytes.Contains(s.Profile.YAML, []byte("name: inline")) {
		t.Errorf("header = %+v", s)
	}
	st := s.Steps
	switch {
	case len(st) != 7:
		t.Fatalf("%d steps, want 7", len(st))
	case st[0].Kind != StepSelect || st[0].Line != 8 || st[0].N != 1:
		t.Errorf("step 1 = %+v", st[0])
	case st[2].PIN != "000000" || !st[2].HasPIN || strings.Join(st[2].Expect, ",") != "63Cx,none":
		t.Errorf("step 3 = %+v: an unquoted PIN keeps its leading zeros, expect keeps its list", st[2])
	case st[3].After != 2 || st[4].Advance != 90*time.Minute:
		t.Errorf("scalar arguments: tear %d, clock %v", st[3].After, st[4].Advance)
	case st[5].Size != 600 || st[5].Parts != 1 || !bytes.Equal(st[5].Object, []byte{0x5F, 0xC1, 0x0D}):
		t.Errorf("put_data = %+v", st[5])
	case len(st[6].Asserts) != 2 || st[6].Asserts[0] != (Assertion{What: "pin_verified"}) || st[6].Asserts[1] != (Assertion{What: "puk_tries", Int: 3}):
		t.Errorf("assert = %+v", st[6].Asserts)
	}
}

func TestScenarioRefusesSimulatorStepsOnAReader(t *testing.T) {
	s, err := Parse("lab.yaml", []byte("name: x\nsteps:\n  - verify\n  - tear: 1\n  - verify\n"))
	if err != nil {
		t.Fatal(err)
	}
	card := &scriptCard{answer: notPIV}
	err = s.Run(context.Background(), card, Options{Target: "the card in PC/SC reader Yubico YubiKey"})
	want := "lab.yaml:4: step 2 (tear): needs the simulator, and the target is the card in PC/SC reader Yubico YubiKey: run the scenario with --target sim"
	var se *StepError
	if !errors.As(err, &se) || err.Error() != want {
		t.Errorf("Run = %v\nwant %s", err, want)
	}
	if len(card.sent) != 0 {
		t.Errorf("%d commands sent before refusing", len(card.sent))
	}
}

func TestMatchSW(t *testing.T) {
	tests := []struct {
		sw      apdu.StatusWord
		pattern string
		want    bool
	}{
		{0x9000, "9000", true},
		{0x63C2, "63Cx", true},
		{0x6300, "63Cx", false},
		{0x61FF, "61xx", true},
		{0x6A82, "6A80", false},
	}
	for _, tt := range tests {
		if got := matchSW(tt.sw, tt.pattern); got != tt.want {
			t.Errorf("matchSW(%04X, %s) = %v, want %v", uint16(tt.sw), tt.pattern, got, tt.want)
		}
	}
}

// cutOnly is a card that can have its power cut, and nothing else a
// simulated card can do.
type cutOnly struct{ scriptCard }

func (*cutOnly) ArmPowerCut(context.Context, int) error { return nil }
func (*cutOnly) PowerCycle(context.Context) error       { return nil }

// TestCheckNamesTheMissingCapability: a card with some of a simulated
// card's capabilities gets a step needing another refused before anything
// is sent, the message naming the step and the interface it lacks.
func TestCheckNamesTheMissingCapability(t *testing.T) {
	tests := []struct {
		step, want string
	}{
		{"clock: 1h", "lab.yaml:4: step 2 (clock): needs a card that implements scenario.Clock, and the target, a power-cut rig, does not"},
		{"remove", "lab.yaml:4: step 2 (remove): needs a card that implements scenario.Presence, and the target, a power-cut rig, does not"},
		{"restart", "lab.yaml:4: step 2 (restart): needs a card that implements scenario.Restarter, and the target, a power-cut rig, does not"},
		{"touch_mode: never", "lab.yaml:4: step 2 (touch_mode): needs a card that implements scenario.Toucher, and the target, a power-cut rig, does not"},
		{"reveal", "lab.yaml:4: step 2 (reveal): needs a card that implements scenario.Revealer, and the target, a power-cut rig, does not"},
		{"enrol", "lab.yaml:4: step 2 (enrol): needs a card that implements scenario.TOTPEnroller, and the target, a power-cut rig, does not"},
		{"totp", "lab.yaml:4: step 2 (totp): needs a card that implements scenario.Clock, and the target, a power-cut rig, does not"},
		{"reset", "lab.yaml:4: step 2 (reset): the target, a power-cut rig, cannot be reset"},
	}
	for _, tt := range tests {
		s, err := Parse("lab.yaml", []byte("name: x\nsteps:\n  - tear: 1\n  - "+tt.step+"\n"))
		if err != nil {
			t.Fatal(err)
		}
		card := &cutOnly{scriptCard{answer: notPIV}}
		err = s.Run(context.Background(), card, Options{Target: "a power-cut rig"})
		var se *StepError
		if !errors.As(err, &se) || err.Error() != tt.want {
			t.Errorf("%s: Run = %v\nwant %s", tt.step, err, tt.want)
		}
		if len(card.sent) != 0 {
			t.Errorf("%s: %d commands sent before refusing", tt.step, len(card.sent))
		}
	}
}

func TestNeeds(t *testing.T) {
	for k, want := range map[StepKind]string{
		StepVerify: "", StepSend: "", StepReset: "conformance.Resetter", StepTear: "conformance.PowerCutter",
		StepPowerCycle: "conformance.PowerCutter", StepInsert: "scenario.Presence", StepTOTP: "scenario.Clock",
	} {
		if got := k.Needs(); got != want {
			t.Errorf("%s.Needs() = %q, want %q", k, got, want)
		}
	}
}
