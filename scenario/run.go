package scenario

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/tesseracard/tessera/apdu"
	"github.com/tesseracard/tessera/conformance"
	"github.com/tesseracard/tessera/hostdriver"
	"github.com/tesseracard/tessera/pivalg"
)

// The capabilities a scenario's card may have beyond exchanging APDUs
// (conformance.Card): each step that needs one names it (see Needs), and a
// card without it gets the scenario refused before anything runs. A
// simulated card (package simulator/simtarget) has them all; a card in a
// PC/SC reader has none but conformance.Resetter.
//
// power_cycle and tear need a conformance.PowerCutter, reset a
// conformance.Resetter.

// Presence is a card that can leave its reader and come back: the steps
// remove and insert.
type Presence interface {
	Remove(ctx context.Context) error
	Insert(ctx context.Context) error
}

// Clock is a card whose clock the scenario moves: the step clock, and totp,
// which computes its codes at the card's time.
type Clock interface {
	AdvanceClock(d time.Duration)
	// Now is the card's clock.
	Now() time.Time
}

// Restarter is a card whose simulator can stop and start again on the same
// state, as a process restart would: the step restart.
type Restarter interface {
	Restart(ctx context.Context) error
}

// Toucher is a card whose touch sensor the scenario sets (auto, manual or
// never): the step touch_mode. It is the suite's conformance.Toucher.
type Toucher = conformance.Toucher

// Revealer is a card issued with random credentials that tells them:
// RevealCredentials returns the PIN and PUK (empty: the profile's own),
// once; a second call fails. The step reveal.
type Revealer interface {
	RevealCredentials(ctx context.Context) (pin, puk string, err error)
}

// TOTPEnroller is a cloud-signature card whose TOTP authorisation the
// scenario (re-)enrols: EnrolTOTP returns the otpauth:// URI of its seed.
// The step enrol.
type TOTPEnroller interface {
	EnrolTOTP(ctx context.Context) (uri string, err error)
}

// capability is what a step needs of its card beyond APDUs.
type capability struct {
	name string // the interface, as a message names it
	has  func(conformance.Card) bool
	sim  bool // only a simulated card has it
}

func capOf[T any](name string, sim bool) *capability {
	return &capability{name: name, sim: sim, has: func(c conformance.Card) bool { _, ok := c.(T); return ok }}
}

// Needs returns the name of the interface a step of kind k needs its card
// to implement (scenario.Clock, conformance.PowerCutter, ...), or "" for a
// step that only exchanges APDUs.
func (k StepKind) Needs() string {
	if c := k.capability(); c != nil {
		return c.name
	}
	return ""
}

func (k StepKind) capability() *capability {
	switch k {
	case StepReset:
		return capOf[conformance.Resetter]("conformance.Resetter", false)
	case StepPowerCycle, StepTear:
		return capOf[conformance.PowerCutter]("conformance.PowerCutter", true)
	case StepRemove, StepInsert:
		return capOf[Presence]("scenario.Presence", true)
	case StepClock, StepTOTP:
		return capOf[Clock]("scenario.Clock", true)
	case StepRestart:
		return capOf[Restarter]("scenario.Restarter", true)
	case StepTouchMode:
		return capOf[Toucher]("scenario.Toucher", true)
	case StepReveal:
		return capOf[Revealer]("scenario.Revealer", true)
	case StepEnrol:
		return capOf[TOTPEnroller]("scenario.TOTPEnroller", true)
	}
	return nil
}

// simulated reports whether card has any capability only a simulated card
// has.
func simulated(card conformance.Card) bool {
	for _, k := range []StepKind{StepPowerCycle, StepRemove, StepClock, StepRestart, StepTouchMode, StepReveal, StepEnrol} {
		if k.capability().has(card) {
			return true
		}
	}
	return false
}

// Options control a scenario run.
type Options struct {
	// Target describes the card in messages, e.g. "the card in PC/SC
	// reader Virtual PCD 00 00".
	Target string
	// Step, if set, is called after each step with what it did.
	Step func(st *Step, what string)
	// Destructive allows, on a card that is not simulated (a card in a
	// PC/SC reader), the steps that could block its PUK or an
	// administrator's PIN or wipe it: unblock, change_puk, personalise,
	// and send steps of RESET RETRY COUNTER, VERIFY or CHANGE REFERENCE
	// DATA of a PUK (81, OpenPGP PW3 83, IsoApplet 02), and of RESET, SET
	// PIN RETRIES, TERMINATE, DELETE FILE and ERASE BINARY. Without it a
	// scenario with such a step is refused before anything is sent
	// (ErrDestructive). A simulated card takes them all.
	Destructive bool
}

// ErrDestructive is wrapped by the *StepError Run returns for a scenario
// with a step that could block a PUK or wipe a card that is not simulated,
// without Options.Destructive.
var ErrDestructive = errors.New("destructive step")

// StepError is a step that failed: it names the file, the line and the
// step.
type StepError struct {
	File string
	Line int
	Step int
	Kind StepKind
	Err  error
}

func (e *StepError) Error() string {
	return fmt.Sprintf("%s:%d: step %d (%s): %v", e.File, e.Line, e.Step, e.Kind, e.Err)
}

func (e *StepError) Unwrap() error { return e.Err }

// Check refuses, before anything runs, a scenario whose steps the card
// cannot take, naming the first such step: one that needs the simulator on
// a card that is not simulated (a card in a PC/SC reader), one that needs a
// capability the card lacks (see Needs), a reset on a card that cannot be
// reset. target describes the card in messages.
func (s *Scenario) Check(card conformance.Card, target string) error {
	sim := simulated(card)
	for i := range s.Steps {
		st := &s.Steps[i]
		c := st.Kind.capability()
		switch {
		case c == nil || c.has(card):
		case c.sim && !sim:
			return s.stepErr(st, fmt.Errorf("needs the simulator, and the target is %s: run the scenario with --target sim", target))
		case st.Kind == StepReset:
			return s.stepErr(st, fmt.Errorf("the target, %s, cannot be reset", target))
		default:
			return s.stepErr(st, fmt.Errorf("needs a card that implements %s, and the target, %s, does not", c.name, target))
		}
	}
	return nil
}

func (s *Scenario) stepErr(st *Step, err error) error {
	return &StepError{File: s.File, Line: st.Line, Step: st.N, Kind: st.Kind, Err: err}
}

// Run runs the scenario's steps against card, in order, and stops at the
// first that fails, returning a *StepError. Before anything is sent it
// refuses a scenario the card cannot take (see Check), and on a card that
// is not simulated one with a step that could block a PUK or wipe the card,
// unless opts.Destructive (ErrDestructive). The scenario's application
// (PIV unless app: iso) is selected first, and again after every reset,
// power cycle, insertion and restart, as a host program does when it
// reconnects.
func (s *Scenario) Run(ctx context.Context, card conformance.Card, opts Options) error {
	if err := s.Check(card, opts.Target); err != nil {
		return err
	}
	if err := s.checkDestructive(card, opts); err != nil {
		return err
	}
	creds := conformance.Credentials{PIN: s.PIN, PUK: s.PUK, MgmtKey: s.MgmtKey, MgmtAlg: s.MgmtAlg}
	r := &runner{s: s, pin: s.PIN, puk: s.PUK, card: card, e: conformance.NewEnv(card, creds, s.App), keys: map[byte]crypto.PublicKey{}}
	if err := r.e.SelectApp(ctx); err != nil {
		return &StepError{File: s.File, Line: s.Steps[0].Line, Step: 1, Kind: s.Steps[0].Kind, Err: fmt.Errorf("before the step: %w", err)}
	}
	for i := range s.Steps {
		st := &s.Steps[i]
		what, err := r.do(ctx, st)
		if err != nil {
			return s.stepErr(st, err)
		}
		if opts.Step != nil {
			opts.Step(st, what)
		}
	}
	return nil
}

type runner struct {
	s *Scenario
	// pin and puk are the values steps use when they name none: the
	// scenario's, or those a reveal step learnt.
	pin, puk string
	// seed is the enrolled TOTP seed; lastCode the last code sent.
	seed     []byte
	lastCode string
	// oathName is the OATH credential an oath_put step enrolled the seed
	// under, "" before one.
	oathName string
	card     conformance.Card
	e        *conformance.Env
	keys     map[byte]crypto.PublicKey // generated keys, by slot
}

func (r *runner) do(ctx context.Context, st *Step) (string, error) {
	or := func(v, def string) string {
		if st.HasPIN {
			return v
		}
		return def
	}
	app, field := r.s.App, r.s.PINField
	switch st.Kind {
	case StepSelect:
		aid := app.AID()
		if st.APDU != nil {
			aid = st.APDU
		}
		return r.exchange(ctx, st, conformance.SelectCommand(aid), "9000")
	case StepSend:
		resp, err := r.e.Raw(ctx, st.APDU)
		what, err := r.check(st, resp, err, "9000")
		if err == nil && st.Data != nil && !slices.Equal(resp.Data, st.Data) {
			err = fmt.Errorf("the card answered data % X, want % X", resp.Data, st.Data)
		}
		return what, err
	case StepVerify:
		return r.exchange(ctx, st, conformance.VerifyCommand(app, or(st.PIN, r.pin), field), "9000")
	case StepChangePIN:
		return r.exchange(ctx, st, conformance.ChangePINCommand(app, or(st.PIN, r.pin), st.New, field), "9000")
	case StepPersonalise:
		// The PUK first; an answer other than 9000 that expect: allows
		// (a power cut, a card already personalised) ends the step there.
		resp, err := r.e.Transmit(ctx, conformance.SetPUKCommand(r.puk))
		what, err := r.check(st, resp, err, "9000")
		if err != nil || resp.SW != apdu.SWSuccess {
			return "setting the PUK: " + what, err
		}
		return r.exchange(ctx, st, conformance.SetPINCommand(r.pin), "9000")
	case StepChangePUK:
		return r.exchange(ctx, st, conformance.ChangePUKCommand(or(st.PIN, r.puk), st.New), "9000")
	case StepUnblock:
		if app == conformance.AppOpenPGP {
			// PW3 first; an answer other than 9000 that expect: allows (a
			// power cut, a wrong PW3) ends the step there.
			resp, err := r.e.Transmit(ctx, conformance.OpenPGPAdminVerifyCommand(or(st.PIN, r.puk)))
			if err != nil || resp.SW != apdu.SWSuccess {
				what, err := r.check(st, resp, err, "9000")
				return "verifying PW3: " + what, err
			}
		}
		return r.exchange(ctx, st, conformance.UnblockCommand(app, or(st.PIN, r.puk), st.New, field), "9000")
	case StepAuth:
		return r.authenticate(ctx, st)
	case StepGenerate:
		return r.generate(ctx, st)
	case StepSign:
		return r.sign(ctx, st)
	case StepPutData:
		return r.putData(ctx, st)
	case StepGetData:
		resp, err := r.e.Transmit(ctx, conformance.GetDataCommand(st.Object))
		what, err := r.check(st, resp, err, "9000")
		if err == nil && resp.SW == apdu.SWSuccess && st.Size >= 0 {
			t, rest, perr := apdu.ParseTLV(resp.Data)
			switch {
			case perr != nil || len(rest) != 0:
				err = fmt.Errorf("GET DATA answered % X, not one TLV", resp.Data)
			case len(t.Value) != st.Size:
				err = fmt.Errorf("the object holds %d bytes, want %d", len(t.Value), st.Size)
			}
		}
		return what, err
	case StepReset:
		if err := r.card.(conformance.Resetter).Reset(ctx); err != nil {
			return "", err
		}
		return "reset", r.reselect(ctx, "reset")
	case StepAssert:
		return r.assert(ctx, st)
	case StepPowerCycle:
		if err := r.card.(conformance.PowerCutter).PowerCycle(ctx); err != nil {
			return "", err
		}
		return "power cycled", r.reselect(ctx, "power cycle")
	case StepRemove:
		return "removed", r.card.(Presence).Remove(ctx)
	case StepInsert:
		if err := r.card.(Presence).Insert(ctx); err != nil {
			return "", err
		}
		return "inserted", r.reselect(ctx, "insertion")
	case StepTear:
		return fmt.Sprintf("power cut armed after %s", writes(st.After)), r.card.(conformance.PowerCutter).ArmPowerCut(ctx, st.After)
	case StepClock:
		r.card.(Clock).AdvanceClock(st.Advance)
		return "clock advanced by " + st.Advance.String(), nil
	case StepRestart:
		if err := r.card.(Restarter).Restart(ctx); err != nil {
			return "", err
		}
		return "simulator restarted", r.reselect(ctx, "restart")
	case StepReveal:
		return r.reveal(ctx, st)
	case StepEnrol:
		uri, err := r.card.(TOTPEnroller).EnrolTOTP(ctx)
		if err != nil {
			return "", err
		}
		if r.seed, err = totpSeed(uri); err != nil {
			return "", err
		}
		return "TOTP enrolled", nil
	case StepTOTP:
		if r.seed == nil {
			return "", errors.New("no TOTP seed: enrol first")
		}
		step := uint64(r.card.(Clock).Now().Unix()) / 30
		var code string
		switch st.Code {
		case "", "current":
			code = totpCode(r.seed, step)
		case "previous":
			code = totpCode(r.seed, step-1)
		case "reuse":
			code = r.lastCode
		case "wrong":
			code = totpCode(r.seed, step+1000)
		case "oath":
			c, err := r.oathCode(ctx, step)
			if err != nil {
				return "", err
			}
			code = c
		}
		r.lastCode = code
		return r.exchange(ctx, st, conformance.TOTPCommand(code), "9000")
	case StepOATHPut:
		return r.oathPut(ctx, st)
	case StepTouchMode:
		return "touch sensor " + st.Mode, r.card.(Toucher).SetTouchMode(st.Mode)
	}
	return "", fmt.Errorf("step %q has no runner", st.Kind)
}

func (r *runner) reveal(ctx context.Context, st *Step) (string, error) {
	pinV, pukV, err := r.card.(Revealer).RevealCredentials(ctx)
	switch {
	case st.Refused && err == nil:
		return "", errors.New("the simulator revealed the issued credentials, want a refusal")
	case st.Refused:
		return "reveal refused", nil
	case err != nil:
		return "", err
	}
	var got []string
	if pinV != "" {
		r.pin = pinV
		got = append(got, "PIN")
	}
	if pukV != "" {
		r.puk = pukV
		got = append(got, "PUK")
	}
	return "revealed the issued " + strings.Join(got, " and "), nil
}

// writes says "1 write" or "n writes".
func writes(n int) string {
	if n == 1 {
		return "1 write"
	}
	return fmt.Sprintf("%d writes", n)
}

func (r *runner) reselect(ctx context.Context, after string) error {
	if err := r.e.SelectApp(ctx); err != nil {
		return fmt.Errorf("after the %s: %w", after, err)
	}
	return nil
}

// exchange sends cmd with the exchange rules and checks its status word.
func (r *runner) exchange(ctx context.Context, st *Step, cmd apdu.Command, def string) (string, error) {
	resp, err := r.e.Transmit(ctx, cmd)
	return r.check(st, resp, err, def)
}

// check compares an answer (or its absence, err) with the step's expect,
// or def.
func (r *runner) check(st *Step, resp apdu.Response, err error, def string) (string, error) {
	want := st.Expect
	if len(want) == 0 {
		want = []string{def}
	}
	none := slices.Contains(want, "none")
	if err != nil {
		if none {
			return "no answer, as expected", nil
		}
		if errors.Is(err, hostdriver.ErrCardRemoved) {
			return "", fmt.Errorf("no answer: the card lost power or left its reader; want %s", strings.Join(want, " or "))
		}
		return "", fmt.Errorf("no answer from the card (%v), want %s", err, strings.Join(want, " or "))
	}
	for _, w := range want {
		if w != "none" && matchSW(resp.SW, w) {
			return conformance.SWText(resp.SW), nil
		}
	}
	if none && len(want) == 1 {
		return "", fmt.Errorf("the card answered %s, want no answer", conformance.SWText(resp.SW))
	}
	return "", fmt.Errorf("the card answered %s, want %s", conformance.SWText(resp.SW), strings.Join(want, " or "))
}

// matchSW reports whether sw matches a pattern of four hex digits where x
// matches any digit.
func matchSW(sw apdu.StatusWord, pattern string) bool {
	got := fmt.Sprintf("%04X", uint16(sw))
	for i := range 4 {
		if pattern[i] != 'x' && pattern[i] != got[i] {
			return false
		}
	}
	return true
}

func (r *runner) authenticate(ctx context.Context, st *Step) (string, error) {
	key := r.s.MgmtKey
	if st.Key != nil {
		key = st.Key
	}
	if _, err := r.e.MgmtAlg(ctx); err != nil {
		return "", err
	}
	last, aerr := r.e.AuthenticateKey(ctx, key)
	want := st.Expect
	if len(want) == 0 || slices.Equal(want, []string{"9000"}) {
		if aerr != nil {
			return "", aerr
		}
		return "authenticated", nil
	}
	if aerr == nil {
		return "", fmt.Errorf("the management key was accepted, want %s", strings.Join(want, " or "))
	}
	return r.check(st, last, nil, "9000")
}

func (r *runner) generate(ctx context.Context, st *Step) (string, error) {
	resp, err := r.e.Transmit(ctx, conformance.GenerateCommand(st.Slot, st.Alg, st.PINPolicy, st.Touch))
	what, err := r.check(st, resp, err, "9000")
	if err != nil || resp.SW != apdu.SWSuccess {
		return what, err
	}
	curve := elliptic.P256()
	if st.Alg == pivalg.P384 {
		curve = elliptic.P384()
	}
	t, _, perr := apdu.ParseTLV(resp.Data)
	point, ok, _ := apdu.FindTLV(t.Value, 0x86)
	if perr != nil || t.Tag != 0x7F49 || !ok {
		return "", fmt.Errorf("GENERATE answered % X, not 7F49 { 86 point }", resp.Data)
	}
	pub, perr := ecdsa.ParseUncompressedPublicKey(curve, point)
	if perr != nil {
		return "", fmt.Errorf("the generated public key: %v", perr)
	}
	r.keys[st.Slot] = pub
	return what, nil
}

func (r *runner) sign(ctx context.Context, st *Step) (string, error) {
	alg, digest := byte(pivalg.P256), sha256.Sum256([]byte("tessera scenario"))
	in := digest[:]
	pub, known := r.keys[st.Slot].(*ecdsa.PublicKey)
	if known && pub.Curve == elliptic.P384() {
		d := sha512.Sum384([]byte("tessera scenario"))
		alg, in = pivalg.P384, d[:]
	}
	sw, sig, err := r.e.Sign(ctx, alg, st.Slot, in)
	what, err := r.check(st, apdu.Response{SW: sw}, err, "9000")
	if err == nil && sw == apdu.SWSuccess && known && !ecdsa.VerifyASN1(pub, in, sig) {
		err = errors.New("the signature does not verify with the key generate returned")
	}
	return what, err
}

func (r *runner) putData(ctx context.Context, st *Step) (string, error) {
	content := st.Content
	if content == nil {
		content = make([]byte, st.Size)
		for i := range content {
			content[i] = byte(i)
		}
	}
	cmd := conformance.PutDataCommand(st.Object, content)
	if st.Parts == 0 {
		return r.exchange(ctx, st, cmd, "9000")
	}
	parts, err := apdu.SplitChain(cmd, apdu.MaxShortNc)
	if err != nil {
		return "", err
	}
	if st.Parts >= len(parts) {
		return "", fmt.Errorf("parts: %d, but the whole chain is %d commands: send fewer to leave it unfinished", st.Parts, len(parts))
	}
	var resp apdu.Response
	for i, p := range parts[:st.Parts] {
		if resp, err = r.e.RawCmd(ctx, p); err != nil || resp.SW != apdu.SWSuccess {
			what, cerr := r.check(st, resp, err, "9000")
			if cerr != nil {
				return "", fmt.Errorf("part %d of %d: %w", i+1, len(parts), cerr)
			}
			return what, nil
		}
	}
	return r.check(st, resp, nil, "9000")
}

func (r *runner) assert(ctx context.Context, st *Step) (string, error) {
	var done []string
	for _, a := range st.Asserts {
		var got any
		switch a.What {
		case "pin_tries", "pin_blocked":
			n, err := r.e.PINTries(ctx)
			if err != nil {
				return "", fmt.Errorf("%s: %w", a.What, err)
			}
			got = n
			if a.What == "pin_blocked" {
				got = n == 0
			}
		case "puk_tries", "puk_blocked":
			n, _, ok, err := r.e.PUKTries(ctx)
			if r.s.App == conformance.AppOpenPGP {
				_, _, n, err = r.e.OpenPGPTries(ctx)
				ok = true
			}
			if err != nil {
				return "", fmt.Errorf("%s: %w", a.What, err)
			}
			if !ok {
				return "", fmt.Errorf("%s: the card does not report the PUK's counter (GET METADATA)", a.What)
			}
			got = n
			if a.What == "puk_blocked" {
				got = n == 0
			}
		case "pin_verified":
			status := r.e.Status
			if r.s.App == conformance.AppOpenPGP {
				status = func(ctx context.Context) (apdu.StatusWord, error) {
					return r.e.SW(ctx, conformance.OpenPGPStatusCommand())
				}
			}
			sw, err := status(ctx)
			if err != nil {
				return "", fmt.Errorf("%s: %w", a.What, err)
			}
			if r.s.App == conformance.AppOpenPGP && sw == apdu.SWIncorrectData {
				return "", fmt.Errorf("%s: the card does not tell whether PW1 is verified: VERIFY without data answered 6A80, as a YubiKey's OpenPGP application does (assert pin_tries, or send a command that needs PW1)", a.What)
			}
			got = sw == apdu.SWSuccess
		}
		want := any(a.Int)
		if strings.HasSuffix(a.What, "verified") || strings.HasSuffix(a.What, "blocked") {
			want = a.Bool
		}
		if got != want {
			return "", fmt.Errorf("%s is %v, want %v", a.What, got, want)
		}
		done = append(done, fmt.Sprintf("%s %v", a.What, got))
	}
	return strings.Join(done, ", "), nil
}
