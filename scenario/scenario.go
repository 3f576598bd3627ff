package scenario

import (
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/tesseracard/tessera/apdu"
	"github.com/tesseracard/tessera/conformance"
	"github.com/tesseracard/tessera/pivalg"
)

// Scenario is a QA scenario: a named list of steps run against one card.
// It is written in YAML:
//
//	name: PIN lockout
//	profile: default          # the simulated card's profile (simulator only)
//	pin: "123456"             # credentials steps use by default
//	puk: "12345678"
//	steps:
//	  - verify: {pin: "000000", expect: 63C2}
//	  - power_cycle
//	  - assert: {pin_tries: 2}
//
// See Parse for every key and step.
type Scenario struct {
	File        string // the file name, for messages
	Name        string
	Description string
	// Profile is the simulated card's profile: Name (a built-in profile or
	// a file, relative to the scenario's directory) or YAML (a profile
	// written inline). Empty: the runner's choice.
	Profile ProfileRef
	PIN     string
	PUK     string
	MgmtKey []byte
	MgmtAlg byte // 0: ask the card, else 3DES
	// PINField is the width of the PIN field steps send (default 8; a
	// password profile may take wider ones).
	PINField int
	// App is the application the scenario drives: PIV (the default), or
	// the ISO 7816 file-system application (app: iso), whose VERIFY,
	// CHANGE REFERENCE DATA and RESET RETRY COUNTER take IsoApplet's
	// 16-byte zero-padded fields and whose PUK defaults to OpenSC's test
	// PUK 0123456789abcdef; or the OpenPGP application (app: openpgp),
	// where pin: is PW1 and puk: is PW3, the admin PIN (defaults 123456
	// and 12345678, as OpenPGP cards ship): verify is VERIFY 82,
	// change_pin CHANGE REFERENCE DATA 81, unblock VERIFY 83 with PW3 then
	// RESET RETRY COUNTER (P1 02), and assert reads the PW status bytes
	// (C4): pin_tries PW1's, puk_tries PW3's.
	App   conformance.Application
	Steps []Step
}

// ProfileRef names the profile of a scenario's simulated card.
type ProfileRef struct {
	Name string
	YAML []byte
	Line int
}

// StepKind names a step.
type StepKind string

// The steps. Those marked (sim) need a capability of a simulated card (see
// the interfaces in run.go): a scenario using them is refused, before
// anything runs, on a card without it, such as a card in a PC/SC reader.
const (
	StepSelect      StepKind = "select"       // SELECT the PIV application (or aid:)
	StepSend        StepKind = "send"         // any APDU: apdu:, expect:, data:
	StepVerify      StepKind = "verify"       // VERIFY: pin:, expect:
	StepChangePIN   StepKind = "change_pin"   // CHANGE REFERENCE DATA of the PIN: old:, new:
	StepChangePUK   StepKind = "change_puk"   // CHANGE REFERENCE DATA of the PUK: old:, new:
	StepUnblock     StepKind = "unblock"      // RESET RETRY COUNTER: puk:, new_pin:
	StepAuth        StepKind = "authenticate" // management key mutual authentication: key:
	StepGenerate    StepKind = "generate"     // GENERATE: slot:, algorithm: p256|p384, pin_policy:, touch:
	StepSign        StepKind = "sign"         // GENERAL AUTHENTICATE, a signature: slot:
	StepPutData     StepKind = "put_data"     // PUT DATA, chained: object:, size:|content:, parts:
	StepGetData     StepKind = "get_data"     // GET DATA: object:, size:
	StepReset       StepKind = "reset"        // warm reset
	StepPowerCycle  StepKind = "power_cycle"  // (sim) power off and on
	StepRemove      StepKind = "remove"       // (sim) pull the card out of its reader
	StepInsert      StepKind = "insert"       // (sim) put it back
	StepTear        StepKind = "tear"         // (sim) cut the power after k more writes: after:
	StepClock       StepKind = "clock"        // (sim) advance the card's clock: advance:
	StepRestart     StepKind = "restart"      // (sim) restart the simulator on the same state
	StepTouchMode   StepKind = "touch_mode"   // (sim) the touch sensor: auto, manual or never
	StepReveal      StepKind = "reveal"       // (sim) reveal the card's issued random PIN/PUK, once: refused:
	StepEnrol       StepKind = "enrol"        // (sim) (re-)enrol the TOTP authorisation (cloud-signature)
	StepTOTP        StepKind = "totp"         // VERIFY a TOTP code to key reference 90: code: current|previous|reuse|wrong|oath, expect:
	StepOATHPut     StepKind = "oath_put"     // enrol the TOTP seed into the card's OATH application: name:, expect:
	StepAssert      StepKind = "assert"       // pin_tries:, puk_tries:, pin_verified:, pin_blocked:, puk_blocked:
	StepPersonalise StepKind = "personalise"  // (app: iso) set the PUK, then the PIN, of a blank token
	stepKindUnknown StepKind = ""
)

// stepSpecs says which keys each step takes, in order: the first is the one
// a scalar value stands for (tear: 2); required ones are marked with !.
func stepSpecs() map[StepKind][]string {
	return map[StepKind][]string{
		StepSelect:      {"aid", "expect"},
		StepSend:        {"!apdu", "expect", "data"},
		StepVerify:      {"pin", "expect"},
		StepChangePIN:   {"old", "!new", "expect"},
		StepChangePUK:   {"old", "!new", "expect"},
		StepUnblock:     {"puk", "!new_pin", "expect"},
		StepAuth:        {"key", "expect"},
		StepGenerate:    {"!slot", "algorithm", "pin_policy", "touch", "expect"},
		StepSign:        {"!slot", "expect"},
		StepPutData:     {"!object", "size", "content", "parts", "expect"},
		StepGetData:     {"!object", "size", "expect"},
		StepReset:       {},
		StepPowerCycle:  {},
		StepRemove:      {},
		StepInsert:      {},
		StepTear:        {"!after"},
		StepClock:       {"!advance"},
		StepRestart:     {},
		StepTouchMode:   {"!mode"},
		StepReveal:      {"refused"},
		StepEnrol:       {},
		StepTOTP:        {"code", "expect"},
		StepOATHPut:     {"name", "expect"},
		StepAssert:      {"pin_tries", "puk_tries", "pin_verified", "pin_blocked", "puk_blocked"},
		StepPersonalise: {"expect"},
	}
}

// Step is one step of a scenario.
type Step struct {
	N    int // 1-based
	Line int
	Kind StepKind

	Expect []string // status word patterns (x: any hex digit) or "none"; empty: the step's default
	Data   []byte   // send: the data expected
	APDU   []byte   // send; select: the AID
	HasPIN bool
	PIN    string // verify; change_*: old; unblock: puk
	New    string // change_*: new; unblock: new_pin
	Key    []byte // authenticate
	Slot   byte
	Alg    byte // generate: 11 P-256 or 14 P-384
	// PINPolicy and Touch are generate's YubiKey policies (tags AA and
	// AB): 01 never, 02 once/always, 03 always/cached; 0: the slot's
	// default.
	PINPolicy, Touch byte
	Object           []byte // put_data, get_data
	Size             int    // put_data: content length; get_data: expected content length (-1: unchecked)
	// Content is put_data's content; Parts, when non-zero, sends only the
	// first Parts commands of the chain.
	Content []byte
	Parts   int
	After   int           // tear
	Advance time.Duration // clock
	Mode    string        // touch_mode
	// Refused: reveal expects the simulator to refuse (the credentials
	// were revealed already).
	Refused bool
	// Code is the TOTP code a totp step sends: current (the default),
	// previous (the step before), reuse (the last one sent), wrong, or
	// oath (computed by the card's OATH application from the seed an
	// oath_put step enrolled there).
	Code string
	// Name is the OATH credential an oath_put step writes (default
	// DefaultOATHName).
	Name    string
	Asserts []Assertion // assert
}

// Assertion is one check of an assert step.
type Assertion struct {
	What string // pin_tries, puk_tries, pin_verified, pin_blocked, puk_blocked
	Int  int
	Bool bool
}

// SyntaxError is a scenario file that cannot be read: it names the file
// and line, and the step when the error is in one.
type SyntaxError struct {
	File string
	Line int
	Step int // 0: not in a step
	Kind StepKind
	Msg  string
}

func (e *SyntaxError) Error() string {
	if e.Step > 0 {
		if e.Kind != stepKindUnknown {
			return fmt.Sprintf("%s:%d: step %d (%s): %s", e.File, e.Line, e.Step, e.Kind, e.Msg)
		}
		return fmt.Sprintf("%s:%d: step %d: %s", e.File, e.Line, e.Step, e.Msg)
	}
	return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
}

// yamlLine matches the line yaml.v3 puts in its messages.
var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// Parse reads a scenario. file names it in messages. Every error is
// a *SyntaxError saying where.
//
// Top-level keys: name (required), description, profile (a name, a file or
// an inline profile mapping), app (piv or iso), pin, puk, mgmt_key (hex),
// mgmt_alg (3des, aes128, aes192, aes256), pin_field (8 to 16), steps
// (required).
//
// A step is a name alone (power_cycle) or a mapping of one name to its
// arguments ({verify: {pin: "000000", expect: 63C2}}); tear, clock and
// touch_mode also take their one argument as a scalar (tear: 1). expect is
// a status word, a pattern with x for any hex digit (63Cx), "none" (no
// answer: the card lost power or left), or a list of these.
func Parse(file string, data []byte) (*Scenario, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
			n, _ := strconv.Atoi(m[1])
			if strings.HasPrefix(m[2], "did not find expected") {
				// yaml.v3 counts the lines of its parser's errors (not its
				// scanner's) from 0: they point at the construct left
				// unfinished.
				n++
			}
			return nil, &SyntaxError{File: file, Line: n, Msg: "YAML: " + m[2]}
		}
		return nil, &SyntaxError{File: file, Line: 1, Msg: strings.TrimPrefix(err.Error(), "yaml: ")}
	}
	if len(root.Content) == 0 || root.Content[0].Kind != yaml.MappingNode {
		return nil, &SyntaxError{File: file, Line: max(root.Line, 1), Msg: "a scenario is a mapping with name: and steps:"}
	}
	p := parser{file: file}
	s := &Scenario{File: file, PIN: "123456", PUK: "12345678", MgmtKey: conformance.DefaultMgmtKey(), PINField: conformance.PINFieldLen}
	doc := root.Content[0]
	var steps *yaml.Node
	pukSet := false
	for i := 0; i+1 < len(doc.Content); i += 2 {
		k, v := doc.Content[i], doc.Content[i+1]
		switch k.Value {
		case "name":
			s.Name = p.str(v)
		case "description":
			s.Description = p.str(v)
		case "profile":
			s.Profile.Line = v.Line
			if v.Kind == yaml.MappingNode {
				b, err := yaml.Marshal(v)
				if err != nil {
					p.fail(v, "profile: %v", err)
				}
				s.Profile.YAML = b
			} else {
				s.Profile.Name = p.str(v)
			}
		case "pin":
			s.PIN = p.str(v)
		case "puk":
			s.PUK, pukSet = p.str(v), true
		case "app":
			switch a := p.str(v); a {
			case "piv":
				s.App = conformance.AppPIV
			case "iso":
				s.App = conformance.AppISO
			case "openpgp":
				s.App = conformance.AppOpenPGP
			default:
				p.fail(v, "app: %q, want piv, iso or openpgp", a)
			}
		case "mgmt_key":
			s.MgmtKey = p.hex(v, "mgmt_key")
		case "mgmt_alg":
			s.MgmtAlg = p.mgmtAlg(v)
		case "pin_field":
			s.PINField = p.int(v, "pin_field")
			if s.PINField < conformance.PINFieldLen || s.PINField > 16 {
				p.fail(v, "pin_field: %d, want 8 to 16", s.PINField)
			}
		case "steps":
			steps = v
		default:
			p.fail(k, "unknown key %q (known: name, description, profile, app, pin, puk, mgmt_key, mgmt_alg, pin_field, steps)", k.Value)
		}
		if p.err != nil {
			return nil, p.err
		}
	}
	switch {
	case s.Name == "":
		return nil, &SyntaxError{File: file, Line: doc.Line, Msg: "missing name:"}
	case steps == nil:
		return nil, &SyntaxError{File: file, Line: doc.Line, Msg: "missing steps:"}
	case steps.Kind != yaml.SequenceNode || len(steps.Content) == 0:
		return nil, &SyntaxError{File: file, Line: steps.Line, Msg: "steps: want a list of steps"}
	}
	if s.App == conformance.AppISO && !pukSet {
		s.PUK = conformance.ISOTestPUK
	}
	for i, n := range steps.Content {
		p.step = i + 1
		st := p.parseStep(n)
		if p.err != nil {
			return nil, p.err
		}
		st.N = i + 1
		if msg := refuses(s.App, &st); msg != "" {
			return nil, &SyntaxError{File: file, Line: st.Line, Msg: fmt.Sprintf("step %d: %s", st.N, msg)}
		}
		s.Steps = append(s.Steps, st)
	}
	return s, nil
}

// refuses says why a step cannot run against the application, or "".
func refuses(a conformance.Application, st *Step) string {
	if a == conformance.AppOpenPGP {
		switch st.Kind {
		case StepAuth, StepGenerate, StepSign, StepPutData, StepGetData, StepChangePUK, StepTOTP, StepEnrol, StepReveal, StepOATHPut, StepPersonalise:
			return fmt.Sprintf("%s is not a step of the OpenPGP application (app: openpgp); use send: for other commands", st.Kind)
		}
		return ""
	}
	if a != conformance.AppISO {
		if st.Kind == StepPersonalise {
			return "personalise is a step of the ISO application (app: iso)"
		}
		return ""
	}
	switch st.Kind {
	case StepAuth, StepGenerate, StepSign, StepPutData, StepGetData, StepChangePUK, StepTOTP, StepEnrol, StepReveal, StepOATHPut:
		return fmt.Sprintf("%s is a PIV step, and this scenario drives the ISO application (app: iso); use send: for other commands", st.Kind)
	}
	for _, as := range st.Asserts {
		if as.What != "pin_tries" && as.What != "pin_blocked" {
			return fmt.Sprintf("assert %s: the ISO application tells only the PIN's tries without spending one (pin_tries, pin_blocked)", as.What)
		}
	}
	return ""
}

// parser keeps the first error; later calls do nothing.
type parser struct {
	file string
	step int
	kind StepKind
	err  error
}

func (p *parser) fail(n *yaml.Node, format string, args ...any) {
	if p.err == nil {
		p.err = &SyntaxError{File: p.file, Line: n.Line, Step: p.step, Kind: p.kind, Msg: fmt.Sprintf(format, args...)}
	}
}

func (p *parser) str(n *yaml.Node) string {
	if n.Kind != yaml.ScalarNode {
		p.fail(n, "want a single value, not a %s", kindName(n))
		return ""
	}
	return n.Value
}

func (p *parser) int(n *yaml.Node, key string) int {
	v, err := strconv.Atoi(p.str(n))
	if err != nil && p.err == nil {
		p.fail(n, "%s: %q is not a whole number", key, n.Value)
	}
	return v
}

func (p *parser) hex(n *yaml.Node, key string) []byte {
	s := strings.NewReplacer(" ", "", ":", "").Replace(p.str(n))
	b, err := hex.DecodeString(s)
	if err != nil && p.err == nil {
		why := "not hex"
		if errors.Is(err, hex.ErrLength) {
			why = "an odd number of hex digits"
		}
		p.fail(n, "%s: %q is %s", key, n.Value, why)
	}
	return b
}

func (p *parser) mgmtAlg(n *yaml.Node) byte {
	v := p.str(n)
	id, ok := conformance.MgmtAlgID(v)
	if !ok && p.err == nil {
		p.fail(n, "mgmt_alg: %q, want 3des, aes128, aes192 or aes256", v)
	}
	return id
}

func (p *parser) bool(n *yaml.Node, key string) bool {
	switch p.str(n) {
	case "true", "yes":
		return true
	case "false", "no":
		return false
	}
	p.fail(n, "%s: %q, want true or false", key, n.Value)
	return false
}

// choice returns 1 for the first of names, 2 for the second, ...
func (p *parser) choice(n *yaml.Node, key string, names ...string) byte {
	v := p.str(n)
	if i := slices.Index(names, v); i >= 0 {
		return byte(i + 1)
	}
	p.fail(n, "%s: %q, want %s", key, v, strings.Join(names, ", "))
	return 0
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	}
	return "value"
}

// expectPattern matches a status word pattern: four hex digits or x.
var expectPattern = regexp.MustCompile(`^[0-9A-Fa-fxX]{4}$`)

func (p *parser) expect(n *yaml.Node) []string {
	var items []*yaml.Node
	switch n.Kind {
	case yaml.SequenceNode:
		items = n.Content
	default:
		items = []*yaml.Node{n}
	}
	var out []string
	for _, it := range items {
		v := p.str(it)
		switch {
		case v == "none":
			out = append(out, v)
		case expectPattern.MatchString(v):
			out = append(out, strings.ReplaceAll(strings.ToUpper(v), "X", "x"))
		default:
			p.fail(it, "expect: %q is not a status word: want four hex digits such as 9000, a pattern such as 63Cx, or none", v)
		}
	}
	return out
}

func (p *parser) parseStep(n *yaml.Node) Step {
	st := Step{Line: n.Line, Size: -1}
	var kindNode, args *yaml.Node
	switch {
	case n.Kind == yaml.ScalarNode:
		kindNode = n
	case n.Kind == yaml.MappingNode && len(n.Content) == 2:
		kindNode, args = n.Content[0], n.Content[1]
	case n.Kind == yaml.MappingNode:
		p.fail(n, "a step is one name with its arguments; this one has %d names (a missing \"-\" before a step?)", len(n.Content)/2)
		return st
	default:
		p.fail(n, "a step is a name such as power_cycle, or a mapping such as {verify: {pin: \"123456\"}}")
		return st
	}
	specs := stepSpecs()
	st.Kind = StepKind(kindNode.Value)
	spec, ok := specs[st.Kind]
	if !ok {
		var known []string
		for k := range specs {
			known = append(known, string(k))
		}
		slices.Sort(known)
		p.fail(kindNode, "unknown step %q (known: %s)", kindNode.Value, strings.Join(known, ", "))
		return st
	}
	p.kind = st.Kind
	defer func() { p.kind = stepKindUnknown }()
	vals := map[string]*yaml.Node{}
	switch {
	case args == nil || args.Kind == yaml.ScalarNode && args.Tag == "!!null":
	case args.Kind == yaml.MappingNode:
		for i := 0; i+1 < len(args.Content); i += 2 {
			k := args.Content[i]
			if !slices.ContainsFunc(spec, func(s string) bool { return strings.TrimPrefix(s, "!") == k.Value }) {
				p.fail(k, "unknown argument %q (%s)", k.Value, argList(spec))
				return st
			}
			vals[k.Value] = args.Content[i+1]
		}
	case args.Kind == yaml.ScalarNode && len(spec) > 0 && (st.Kind == StepTear || st.Kind == StepClock || st.Kind == StepTouchMode):
		vals[strings.TrimPrefix(spec[0], "!")] = args
	default:
		p.fail(args, "arguments: want a mapping (%s)", argList(spec))
		return st
	}
	for _, s := range spec {
		if name, required := strings.CutPrefix(s, "!"); required && vals[name] == nil {
			p.fail(n, "missing %q", name)
			return st
		}
	}
	for _, key := range spec {
		key = strings.TrimPrefix(key, "!")
		v := vals[key]
		if v == nil {
			continue
		}
		switch key {
		case "expect":
			st.Expect = p.expect(v)
		case "apdu":
			st.APDU = p.hex(v, key)
			if _, err := apdu.ParseCommand(st.APDU); err != nil && p.err == nil {
				// A malformed APDU may be the point of the step; only
				// fewer than 4 bytes cannot be sent.
				if len(st.APDU) < 4 {
					p.fail(v, "apdu: %d bytes; a command has at least 4", len(st.APDU))
				}
			}
		case "aid":
			st.APDU = p.hex(v, key)
		case "data":
			st.Data = p.hex(v, key)
		case "pin", "old", "puk":
			st.PIN, st.HasPIN = p.str(v), true
		case "new", "new_pin":
			st.New = p.str(v)
		case "key":
			st.Key = p.hex(v, key)
		case "slot":
			b := p.hex(v, key)
			if len(b) != 1 && p.err == nil {
				p.fail(v, "slot: %q, want one byte in hex such as 9c", v.Value)
			} else if len(b) == 1 {
				st.Slot = b[0]
			}
		case "algorithm":
			switch p.str(v) {
			case "p256":
				st.Alg = pivalg.P256
			case "p384":
				st.Alg = pivalg.P384
			default:
				p.fail(v, "algorithm: %q, want p256 or p384", v.Value)
			}
		case "pin_policy":
			st.PINPolicy = p.choice(v, key, "never", "once", "always")
		case "touch":
			st.Touch = p.choice(v, key, "never", "always", "cached")
		case "object":
			st.Object = p.hex(v, key)
			if (len(st.Object) < 1 || len(st.Object) > 3) && p.err == nil {
				p.fail(v, "object: %q, want a tag of 1 to 3 bytes such as 5fc105", v.Value)
			}
		case "size":
			st.Size = p.int(v, key)
			if st.Size < 0 || st.Size > 65000 {
				p.fail(v, "size: %d, want 0 to 65000", st.Size)
			}
		case "content":
			st.Content = p.hex(v, key)
		case "parts":
			st.Parts = p.int(v, key)
			if st.Parts < 1 {
				p.fail(v, "parts: %d, want 1 or more", st.Parts)
			}
		case "after":
			st.After = p.int(v, key)
			if st.After < 0 {
				p.fail(v, "after: %d, want 0 or more writes", st.After)
			}
		case "advance":
			d, err := time.ParseDuration(p.str(v))
			if (err != nil || d <= 0) && p.err == nil {
				p.fail(v, "advance: %q, want a duration such as 20s or 1h", v.Value)
			}
			st.Advance = d
		case "name":
			st.Name = p.str(v)
			if st.Name == "" || len(st.Name) > 64 {
				p.fail(v, "name: %q, want 1 to 64 bytes", st.Name)
			}
		case "mode":
			st.Mode = p.str(v)
			if !slices.Contains([]string{"auto", "manual", "never"}, st.Mode) {
				p.fail(v, "mode: %q, want auto, manual or never", st.Mode)
			}
		case "refused":
			st.Refused = p.bool(v, key)
		case "code":
			st.Code = p.str(v)
			if !slices.Contains([]string{"current", "previous", "reuse", "wrong", "oath"}, st.Code) {
				p.fail(v, "code: %q, want current, previous, reuse, wrong or oath", st.Code)
			}
		case "pin_tries", "puk_tries":
			st.Asserts = append(st.Asserts, Assertion{What: key, Int: p.int(v, key)})
		case "pin_verified", "pin_blocked", "puk_blocked":
			st.Asserts = append(st.Asserts, Assertion{What: key, Bool: p.bool(v, key)})
		}
	}
	switch {
	case st.Kind == StepAssert && len(st.Asserts) == 0:
		p.fail(n, "nothing to assert (%s)", argList(spec))
	case st.Kind == StepPutData && st.Size >= 0 && st.Content != nil:
		p.fail(n, "size and content: give one")
	case st.Kind == StepPutData && st.Size < 0 && st.Content == nil:
		p.fail(n, "missing \"size\" or \"content\"")
	}
	slices.SortFunc(st.Asserts, func(a, b Assertion) int { return strings.Compare(a.What, b.What) })
	return st
}

func argList(spec []string) string {
	if len(spec) == 0 {
		return "it takes none"
	}
	var names []string
	for _, s := range spec {
		names = append(names, strings.TrimPrefix(s, "!"))
	}
	return "known: " + strings.Join(names, ", ")
}
