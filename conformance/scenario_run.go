package conformance

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
	"github.com/tesseracard/tessera/hostdriver"
)

// SimControl is a scenario's card when it is a simulated card: what the
// simulator-only steps (power_cycle, remove, insert, tear, clock, restart,
// touch_mode) use. A card without it gets those steps refused before the
// scenario starts.
type SimControl interface {
	PowerCutter
	Remove(ctx context.Context) error
	Insert(ctx context.Context) error
	AdvanceClock(d time.Duration)
	// Restart stops the simulator and starts it again on the same state,
	// as a process restart would.
	Restart(ctx context.Context) error
	SetTouchMode(mode string) error
	// RevealCredentials returns the random PIN and PUK the card was issued
	// with (empty: the profile's own), once; a second call fails.
	RevealCredentials(ctx context.Context) (pin, puk string, err error)
	// EnrolTOTP (re-)enrols a cloud-signature card's TOTP authorisation
	// and returns the otpauth:// URI of its seed.
	EnrolTOTP(ctx context.Context) (uri string, err error)
	// Now is the card's clock.
	Now() time.Time
}

// ScenarioOptions control a scenario run.
type ScenarioOptions struct {
	// Target describes the card in messages, e.g. "the card in PC/SC
	// reader Virtual PCD 00 00".
	Target string
	// Step, if set, is called after each step with what it did.
	Step func(st *Step, what string)
}

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
// cannot take: simulator-only steps on a card that is not simulated, a
// reset on a card that cannot be reset.
func (s *Scenario) Check(card Card, target string) error {
	_, sim := card.(SimControl)
	_, resettable := card.(Resetter)
	for i := range s.Steps {
		st := &s.Steps[i]
		switch {
		case st.Kind.simOnly() && !sim:
			return s.stepErr(st, fmt.Errorf("needs the simulator, and the target is %s: run the scenario with --target sim", target))
		case st.Kind == StepReset && !resettable:
			return s.stepErr(st, fmt.Errorf("the target, %s, cannot be reset", target))
		}
	}
	return nil
}

func (s *Scenario) stepErr(st *Step, err error) error {
	return &StepError{File: s.File, Line: st.Line, Step: st.N, Kind: st.Kind, Err: err}
}

// Run runs the scenario's steps against card, in order, and stops at the
// first that fails, returning a *StepError. The scenario's application
// (PIV unless app: iso) is selected first, and again after every reset,
// power cycle, insertion and restart, as a host program does when it
// reconnects.
func (s *Scenario) Run(ctx context.Context, card Card, opts ScenarioOptions) error {
	if err := s.Check(card, opts.Target); err != nil {
		return err
	}
	r := &runner{s: s, pin: s.PIN, puk: s.PUK, card: card, e: newEnv(card, Credentials{PIN: s.PIN, PUK: s.PUK, MgmtKey: s.MgmtKey, MgmtAlg: s.MgmtAlg}, true, nil), keys: map[byte]crypto.PublicKey{}}
	r.e.app = s.App
	if err := r.e.selectApp(ctx); err != nil {
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
	card     Card
	e        *Env
	keys     map[byte]crypto.PublicKey // generated keys, by slot
}

// field pads a PIN to the scenario's PIN field.
func (r *runner) field(v string) []byte { return pad(v, r.s.PINField) }

func (r *runner) do(ctx context.Context, st *Step) (string, error) {
	or := func(v, def string) string {
		if st.HasPIN {
			return v
		}
		return def
	}
	switch st.Kind {
	case StepSelect:
		aid := pivAID()
		if r.s.App == AppISO {
			aid = isoAID()
		}
		if st.APDU != nil {
			aid = st.APDU
		}
		return r.exchange(ctx, st, selectCmd(aid), "9000")
	case StepSend:
		resp, err := r.e.Raw(ctx, st.APDU)
		what, err := r.check(st, resp, err, "9000")
		if err == nil && st.Data != nil && !slices.Equal(resp.Data, st.Data) {
			err = fmt.Errorf("the card answered data % X, want % X", resp.Data, st.Data)
		}
		return what, err
	case StepVerify:
		if r.s.App == AppISO {
			return r.exchange(ctx, st, isoVerifyCmd(or(st.PIN, r.pin)), "9000")
		}
		return r.exchange(ctx, st, apdu.Command{INS: apdu.InsVerify, P2: refPIN, Data: r.field(or(st.PIN, r.pin))}, "9000")
	case StepChangePIN:
		if r.s.App == AppISO {
			return r.exchange(ctx, st, isoChangeCmd(or(st.PIN, r.pin), st.New), "9000")
		}
		return r.exchange(ctx, st, apdu.Command{INS: apdu.InsChangeReferenceData, P2: refPIN, Data: append(r.field(or(st.PIN, r.pin)), r.field(st.New)...)}, "9000")
	case StepPersonalise:
		// The PUK first; an answer other than 9000 that expect: allows
		// (a power cut, a card already personalised) ends the step there.
		resp, err := r.e.Transmit(ctx, setPUKCmd([]byte(r.puk)))
		what, err := r.check(st, resp, err, "9000")
		if err != nil || resp.SW != apdu.SWSuccess {
			return "setting the PUK: " + what, err
		}
		return r.exchange(ctx, st, setPINCmd([]byte(r.pin)), "9000")
	case StepChangePUK:
		return r.exchange(ctx, st, changeCmd(refPUK, or(st.PIN, r.puk), st.New), "9000")
	case StepUnblock:
		if r.s.App == AppISO {
			return r.exchange(ctx, st, isoUnblockCmd(or(st.PIN, r.puk), st.New), "9000")
		}
		return r.exchange(ctx, st, apdu.Command{INS: apdu.InsResetRetryCounter, P2: refPIN, Data: append(pad(or(st.PIN, r.puk), pinFieldLen), r.field(st.New)...)}, "9000")
	case StepAuth:
		return r.authenticate(ctx, st)
	case StepGenerate:
		return r.generate(ctx, st)
	case StepSign:
		return r.sign(ctx, st)
	case StepPutData:
		return r.putData(ctx, st)
	case StepGetData:
		resp, err := r.e.Transmit(ctx, getDataCmd(st.Object))
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
		if err := r.card.(Resetter).Reset(ctx); err != nil {
			return "", err
		}
		return "reset", r.reselect(ctx, "reset")
	case StepAssert:
		return r.assert(ctx, st)
	}
	sim := r.card.(SimControl)
	switch st.Kind {
	case StepPowerCycle:
		if err := sim.PowerCycle(ctx); err != nil {
			return "", err
		}
		return "power cycled", r.reselect(ctx, "power cycle")
	case StepRemove:
		return "removed", sim.Remove(ctx)
	case StepInsert:
		if err := sim.Insert(ctx); err != nil {
			return "", err
		}
		return "inserted", r.reselect(ctx, "insertion")
	case StepTear:
		return fmt.Sprintf("power cut armed after %s", writes(st.After)), sim.ArmPowerCut(ctx, st.After)
	case StepClock:
		sim.AdvanceClock(st.Advance)
		return "clock advanced by " + st.Advance.String(), nil
	case StepRestart:
		if err := sim.Restart(ctx); err != nil {
			return "", err
		}
		return "simulator restarted", r.reselect(ctx, "restart")
	case StepReveal:
		pinV, pukV, err := sim.RevealCredentials(ctx)
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
	case StepEnrol:
		uri, err := sim.EnrolTOTP(ctx)
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
		step := uint64(sim.Now().Unix()) / 30
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
		}
		r.lastCode = code
		return r.exchange(ctx, st, apdu.Command{INS: apdu.InsVerify, P2: refTOTP, Data: []byte(code)}, "9000")
	case StepTouchMode:
		return "touch sensor " + st.Mode, sim.SetTouchMode(st.Mode)
	}
	return "", fmt.Errorf("step %q has no runner", st.Kind)
}

func (r *runner) reselect(ctx context.Context, after string) error {
	if err := r.e.selectApp(ctx); err != nil {
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
			return swText(resp.SW), nil
		}
	}
	if none && len(want) == 1 {
		return "", fmt.Errorf("the card answered %s, want no answer", swText(resp.SW))
	}
	return "", fmt.Errorf("the card answered %s, want %s", swText(resp.SW), strings.Join(want, " or "))
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
	alg, err := r.e.MgmtAlg(ctx)
	if err != nil {
		return "", err
	}
	var last apdu.Response
	send := func(c apdu.Command) (apdu.Response, error) {
		resp, err := r.e.Transmit(ctx, c)
		last = resp
		return resp, err
	}
	aerr := mutualAuth(send, alg, key)
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
	alg := st.Alg
	if alg == 0 {
		alg = algP256
	}
	tmpl := apdu.AppendTLV(nil, 0x80, []byte{alg})
	if st.PINPolicy != 0 {
		tmpl = apdu.AppendTLV(tmpl, 0xAA, []byte{st.PINPolicy})
	}
	if st.Touch != 0 {
		tmpl = apdu.AppendTLV(tmpl, 0xAB, []byte{st.Touch})
	}
	resp, err := r.e.Transmit(ctx, apdu.Command{INS: apdu.InsGenerateKeyPairOdd, P2: st.Slot, Data: apdu.Nest(0xAC, tmpl), Ne: 256})
	what, err := r.check(st, resp, err, "9000")
	if err != nil || resp.SW != apdu.SWSuccess {
		return what, err
	}
	curve := elliptic.P256()
	if alg == 0x14 {
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
	alg, digest := byte(algP256), sha256.Sum256([]byte("tessera scenario"))
	in := digest[:]
	pub, known := r.keys[st.Slot].(*ecdsa.PublicKey)
	if known && pub.Curve == elliptic.P384() {
		d := sha512.Sum384([]byte("tessera scenario"))
		alg, in = 0x14, d[:]
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
	cmd := putDataCmd(st.Object, content)
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
			n, err := r.pinTries(ctx)
			if err != nil {
				return "", fmt.Errorf("%s: %w", a.What, err)
			}
			got = n
			if a.What == "pin_blocked" {
				got = n == 0
			}
		case "puk_tries", "puk_blocked":
			n, _, ok, err := r.e.PUKTries(ctx)
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
			sw, err := r.e.Status(ctx)
			if err != nil {
				return "", fmt.Errorf("%s: %w", a.What, err)
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

// pinTries reads the PIN's tries left: GET METADATA where the card has it,
// else VERIFY without data (the ISO application: always the latter, which
// it answers 63CX whether or not the PIN is verified).
func (r *runner) pinTries(ctx context.Context) (int, error) {
	if r.s.App == AppISO {
		sw, err := r.e.isoPINStatus(ctx)
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
	if n, _, ok, err := r.e.counter(ctx, refPIN); err != nil || ok {
		return n, err
	}
	sw, err := r.e.Status(ctx)
	if err != nil {
		return 0, err
	}
	if sw == apdu.SWSuccess {
		return 0, errors.New("the PIN is verified, and without GET METADATA the card does not say its tries then")
	}
	return r.e.Tries(ctx)
}
