package replay

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/tesseracard/tessera/apdu"
	"github.com/tesseracard/tessera/hostdriver"
	"github.com/tesseracard/tessera/pivalg"
)

// Target is the card a recording is replayed on: a hostdriver.Transport
// that can also be reset (the simulator in process, simtarget.Card; a
// PC/SC card). Replay sends raw APDUs through it, exactly as recorded (or
// as recomputed), one by one: no GET RESPONSE is sent unless recorded.
type Target interface {
	hostdriver.Transport
	Reset(ctx context.Context) error
}

// Options tune a replay.
type Options struct {
	// Allowlist holds the reviewed departures; only the entries naming
	// the recording apply.
	Allowlist Allowlist
	// ManagementKeys are keys a recorded host may have authenticated with
	// besides the default and those the recording sets (SET MANAGEMENT
	// KEY): the replay finds the one that decrypts the recorded witness.
	ManagementKeys [][]byte
}

// Verdict is how one exchange compares.
type Verdict string

// The verdicts.
const (
	Exact      Verdict = "exact"      // status word and data as recorded
	Structural Verdict = "structural" // status word as recorded, random data checked in structure
	Allowed    Verdict = "allowed"    // a departure the allowlist names, with its reason
	Mismatch   Verdict = "mismatch"   // a difference, with the reason
	NotRun     Verdict = "not-run"    // after a status word differed, the rest is not sent
)

// ExchangeResult is one exchange of a replay.
type ExchangeResult struct {
	N    int `json:"n"`    // the exchange's number in the recording, from 1
	Line int `json:"line"` // its line in the recording's file
	// Command is what was sent: the recorded command, or the host's side
	// recomputed (management-key authentication, RSA decryption).
	Command []byte `json:"command"`
	// Recorded is the recorded command when Command differs from it.
	Recorded []byte `json:"recorded,omitempty"`
	// Want is the recorded response, Got the target's (status word last).
	// For an allowed exchange, Got is the target's complete answer on its
	// first exchange and empty on the GET RESPONSEs that followed.
	Want    []byte  `json:"want"`
	Got     []byte  `json:"got,omitempty"`
	Verdict Verdict `json:"verdict"`
	// Why says what was checked (structural), the allowlist's reason
	// (allowed), or what differs (mismatch).
	Why string `json:"why,omitempty"`
}

// Counts sums the verdicts of a replay.
type Counts struct {
	Exchanges  int `json:"exchanges"`
	Exact      int `json:"exact"`
	Structural int `json:"structural"`
	Allowed    int `json:"allowed"`
	Mismatch   int `json:"mismatch"`
	NotRun     int `json:"not_run"`
}

// Add adds o to c.
func (c *Counts) Add(o Counts) {
	c.Exchanges += o.Exchanges
	c.Exact += o.Exact
	c.Structural += o.Structural
	c.Allowed += o.Allowed
	c.Mismatch += o.Mismatch
	c.NotRun += o.NotRun
}

// Agree reports whether every exchange agreed.
func (c Counts) Agree() bool { return c.Mismatch == 0 && c.NotRun == 0 }

// Result is the outcome of replaying one recording.
type Result struct {
	Recording string           `json:"recording"`
	Format    Format           `json:"format"`
	Exchanges []ExchangeResult `json:"exchanges"`
	Counts    Counts           `json:"counts"`
	// Stopped says why the replay stopped before the end, if it did.
	Stopped  string        `json:"stopped,omitempty"`
	Duration time.Duration `json:"duration_ns"`
}

// OK reports whether every exchange agreed.
func (r *Result) OK() bool { return r.Counts.Agree() }

// ErrRedacted is returned by Replay, before anything is sent, for a
// recording whose commands have data withheld (a Tessera trace made
// without --trace-secrets): such a command cannot be sent as it was.
var ErrRedacted = errors.New("replay: the recording withholds a command's data")

// Replay sends rec's commands to t and compares every answer. A reset in
// the recording resets t. After a status word that differs, the rest is
// not sent (the two cards' states have parted). The error is about the
// replay itself, not the card's answers: a redacted command (ErrRedacted),
// an allowlist entry that does not match the recording (ErrAllowlist), a
// transport failure; the Result holds what was done until then.
func Replay(ctx context.Context, t Target, rec *Recording, opts Options) (*Result, error) {
	start := time.Now()
	res := &Result{Recording: rec.Name, Format: rec.Format}
	for _, s := range rec.Steps {
		if s.RedactedCommand {
			return res, fmt.Errorf("%w: %s exchange %d (line %d, %s): a command whose data was withheld cannot be sent as it was; record the session with secrets shown (--trace-secrets)",
				ErrRedacted, rec.Name, s.N, s.Line, insName(s.Command))
		}
	}
	allow, err := opts.Allowlist.For(rec)
	if err != nil {
		return res, err
	}
	r := &replayer{ctx: ctx, t: t, res: res, allow: allow, mgmtKey: defaultMgmtKey(), slots: map[byte]*slotState{}}
	r.hostKeys = append([][]byte{defaultMgmtKey()}, opts.ManagementKeys...)
	for _, s := range rec.Steps {
		if s.Reset {
			r.steps = append(r.steps, s)
			continue
		}
		if c, err := apdu.ParseCommand(s.Command); err == nil && c.INS == apdu.InsSetManagementKey && len(c.Data) > 3 {
			r.hostKeys = append(r.hostKeys, c.Data[3:])
		}
		r.steps = append(r.steps, s)
	}
	err = r.run()
	res.Duration = time.Since(start)
	for _, e := range res.Exchanges {
		res.Counts.Exchanges++
		switch e.Verdict {
		case Exact:
			res.Counts.Exact++
		case Structural:
			res.Counts.Structural++
		case Allowed:
			res.Counts.Allowed++
		case Mismatch:
			res.Counts.Mismatch++
		case NotRun:
			res.Counts.NotRun++
		}
	}
	return res, err
}

func insName(cmd []byte) string {
	if len(cmd) < 2 {
		return "?"
	}
	if n := apdu.InsName(cmd[1]); n != "" {
		return n
	}
	return fmt.Sprintf("INS %02X", cmd[1])
}

// replayer replays one recording on one target.
type replayer struct {
	ctx   context.Context
	t     Target
	res   *Result
	steps []Step
	allow map[int]Allowance

	// mgmtKey is the management key the card holds, tracked through SET
	// MANAGEMENT KEY; hostKeys are the keys a host of this recording may
	// authenticate with.
	mgmtKey  []byte
	hostKeys [][]byte
	// The encrypted witnesses of the last mutual authentication's first
	// step: the recorded card's and the target's.
	recWitness, cardWitness []byte
	// attestation is the target's attestation certificate, once read.
	attestation *x509.Certificate

	slots map[byte]*slotState
}

// slotState is what the replay knows of a PIV key slot.
type slotState struct {
	alg       byte
	generated bool             // random: generated on the card
	pub       crypto.PublicKey // the target's public key, if known
}

func (s *slotState) pubKey() crypto.PublicKey {
	if s == nil {
		return nil
	}
	return s.pub
}

// plan is how one command is replayed: the command sent, how its answer
// compares, what was checked, and the check of the complete answer (after
// any GET RESPONSE) when both cards answer 9000.
type plan struct {
	cmd     []byte
	verdict Verdict // Exact or Structural
	why     string
	done    func(got, rec []byte) error
}

// planError is a command the replay cannot send as the recorded host
// would have.
type planError struct{ msg string }

func (e *planError) Error() string { return e.msg }

func isGetResponse(cmd []byte) bool { return len(cmd) >= 2 && cmd[1] == apdu.InsGetResponse }

// chain returns the steps that carry the answer to steps[i]: it and the
// GET RESPONSEs that follow while the recorded card answered 61xx.
func (r *replayer) chain(i int) []Step {
	j := i + 1
	for j < len(r.steps) && !r.steps[j].Reset && r.steps[j-1].SW().SW1() == 0x61 && isGetResponse(r.steps[j].Command) {
		j++
	}
	return r.steps[i:j]
}

func (r *replayer) run() error {
	for i := 0; i < len(r.steps); {
		s := r.steps[i]
		if s.Reset {
			if err := r.t.Reset(r.ctx); err != nil {
				r.stop(i, fmt.Sprintf("resetting the card (line %d): %v", s.Line, err))
				return fmt.Errorf("resetting the card at line %d: %w", s.Line, err)
			}
			r.recWitness, r.cardWitness = nil, nil
			i++
			continue
		}
		ch := r.chain(i)
		var ok bool
		var err error
		before := len(r.res.Exchanges)
		if a, found := r.allow[s.N]; found {
			ok, err = r.replayAllowed(ch, a)
		} else {
			ok, err = r.replay(ch)
		}
		if err != nil {
			// The exchange that failed, and the rest, are not run.
			r.stop(i+len(r.res.Exchanges)-before, err.Error())
			return err
		}
		i += len(ch)
		if !ok {
			r.stop(i, fmt.Sprintf("exchange %d: the status words differ, so the target's state now differs from the recorded card's", s.N))
			return nil
		}
	}
	return nil
}

// stop marks the exchanges from steps[i] on as not run.
func (r *replayer) stop(i int, why string) {
	r.res.Stopped = why
	for _, s := range r.steps[i:] {
		if !s.Reset {
			r.res.Exchanges = append(r.res.Exchanges, ExchangeResult{N: s.N, Line: s.Line, Command: s.Command, Want: s.Response, Verdict: NotRun})
		}
	}
}

// transmit sends one command for step s and checks the answer is an
// APDU. Its errors name the step: a real card pulled out or reset by
// another program in the middle says where the replay stopped.
func (r *replayer) transmit(s Step, cmd []byte) ([]byte, error) {
	out, err := r.t.Transmit(r.ctx, cmd)
	if err != nil {
		return nil, fmt.Errorf("exchange %d (line %d): sending %s: %w", s.N, s.Line, insName(cmd), err)
	}
	if len(out) < 2 {
		return nil, fmt.Errorf("exchange %d (line %d): sending %s: the answer % X has no status word", s.N, s.Line, insName(cmd), out)
	}
	return out, nil
}

func swOf(resp []byte) apdu.StatusWord {
	return apdu.SWFromBytes(resp[len(resp)-2], resp[len(resp)-1])
}

// replay replays a command and the GET RESPONSEs continuing its answer,
// exchange by exchange. It reports false when a status word differs.
func (r *replayer) replay(ch []Step) (bool, error) {
	first := ch[0]
	p, err := r.plan(first)
	if err != nil {
		var pe *planError
		if !errors.As(err, &pe) {
			return false, err
		}
		r.res.Exchanges = append(r.res.Exchanges, ExchangeResult{N: first.N, Line: first.Line, Command: first.Command, Want: first.Response, Verdict: Mismatch, Why: pe.msg})
		return false, nil
	}
	var got, rec []byte
	for i, s := range ch {
		cmd := s.Command
		if i == 0 {
			cmd = p.cmd
		}
		out, err := r.transmit(s, cmd)
		if err != nil {
			return false, err
		}
		x := ExchangeResult{N: s.N, Line: s.Line, Command: cmd, Want: s.Response, Got: out, Verdict: p.verdict, Why: p.why}
		if !bytes.Equal(cmd, s.Command) {
			x.Recorded = s.Command
		}
		gotData, sw := out[:len(out)-2], swOf(out)
		switch {
		case sw != s.SW():
			x.Verdict, x.Why = Mismatch, fmt.Sprintf("status word %04X, recorded %04X", uint16(sw), uint16(s.SW()))
			r.res.Exchanges = append(r.res.Exchanges, x)
			return false, nil
		case s.RedactedResponse:
			if err := sameLength(gotData, s.Data()); err != nil {
				x.Verdict, x.Why = Mismatch, "data withheld in the recording: "+err.Error()
			} else if x.Verdict == Exact {
				x.Verdict, x.Why = Structural, "data withheld in the recording: status word and length compared"
			}
		case x.Verdict == Exact && !bytes.Equal(gotData, s.Data()):
			x.Verdict, x.Why = Mismatch, "data differ"
		}
		r.res.Exchanges = append(r.res.Exchanges, x)
		got, rec = append(got, gotData...), append(rec, s.Data()...)
	}
	if p.done != nil && ch[len(ch)-1].SW() == apdu.SWSuccess && !first.RedactedResponse {
		if err := p.done(got, rec); err != nil {
			x := &r.res.Exchanges[len(r.res.Exchanges)-1]
			x.Verdict, x.Why = Mismatch, err.Error()
		}
	}
	return true, nil
}

// replayAllowed replays an allowlisted command: the target's answer is
// collected through its own 61xx chain, and only the final status word
// (the allowance's, or the recorded one) and the check of the complete
// answer are held against the recording.
func (r *replayer) replayAllowed(ch []Step, a Allowance) (bool, error) {
	p, err := r.plan(ch[0])
	if err != nil {
		var pe *planError
		if !errors.As(err, &pe) {
			return false, err
		}
		p = plan{cmd: ch[0].Command}
	}
	out, err := r.transmit(ch[0], p.cmd)
	if err != nil {
		return false, err
	}
	got := out[:len(out)-2]
	for i := 0; swOf(out).SW1() == 0x61; i++ {
		if i == 256 {
			return false, fmt.Errorf("exchange %d: the target answers 61xx without end", ch[0].N)
		}
		if out, err = r.transmit(ch[0], []byte{0x00, 0xC0, 0x00, 0x00, swOf(out).SW2()}); err != nil {
			return false, err
		}
		got = append(got, out[:len(out)-2]...)
	}
	full := append(bytes.Clone(got), out[len(out)-2:]...)
	var rec []byte
	for i, s := range ch {
		rec = append(rec, s.Data()...)
		x := ExchangeResult{N: s.N, Line: s.Line, Command: s.Command, Want: s.Response, Verdict: Allowed, Why: a.Reason}
		if i == 0 {
			x.Command, x.Got = p.cmd, full
			if !bytes.Equal(p.cmd, s.Command) {
				x.Recorded = s.Command
			}
		}
		r.res.Exchanges = append(r.res.Exchanges, x)
	}
	want := ch[len(ch)-1].SW()
	if a.SW != "" {
		want, _ = a.sw()
	}
	x := &r.res.Exchanges[len(r.res.Exchanges)-len(ch)]
	if sw := swOf(out); sw != want {
		x.Verdict, x.Why = Mismatch, fmt.Sprintf("allowlisted, but the final status word is %04X, want %04X (%s)", uint16(sw), uint16(want), a.Reason)
		return false, nil
	}
	if p.done != nil && want == apdu.SWSuccess && ch[len(ch)-1].SW() == apdu.SWSuccess {
		if err := p.done(got, rec); err != nil {
			x.Verdict, x.Why = Mismatch, "allowlisted, but "+err.Error()
		}
	}
	return true, nil
}

// recordedAnswer returns the recorded card's complete answer to step s.
func (r *replayer) recordedAnswer(s Step) []byte {
	for i := range r.steps {
		if !r.steps[i].Reset && r.steps[i].N == s.N {
			var rec []byte
			for _, x := range r.chain(i) {
				rec = append(rec, x.Data()...)
			}
			return rec
		}
	}
	return nil
}

// plan decides how to replay the command of step s. The rules are by
// instruction; PIV's and the ISO file system application's instructions
// that carry random answers do not overlap.
func (r *replayer) plan(s Step) (plan, error) {
	c, err := apdu.ParseCommand(s.Command)
	exact := plan{cmd: s.Command, verdict: Exact}
	if err != nil {
		return exact, nil // malformed on purpose: the error compares exactly
	}
	structural := func(why string, done func(got, rec []byte) error) (plan, error) {
		return plan{cmd: s.Command, verdict: Structural, why: why, done: done}, nil
	}
	switch c.INS {
	case apdu.InsGeneralAuthenticate:
		if c.P2 == refMgmtKey {
			return r.planMgmtAuth(s, c)
		}
		return r.planKeyOp(s, c)
	case apdu.InsGenerateKeyPairOdd:
		return structural("a generated key pair: the same TLV shape, a key of the algorithm and size asked", func(got, rec []byte) error {
			if err := sameShape(got, rec); err != nil {
				return fmt.Errorf("GENERATE answer: %v", err)
			}
			tmpl, _, _ := apdu.FindTLV(c.Data, 0xAC)
			alg, _, _ := apdu.FindTLV(tmpl, 0x80)
			if len(alg) != 1 {
				return errors.New("GENERATE without an algorithm")
			}
			pub, err := generatedPublic(alg[0], got)
			if err != nil {
				return fmt.Errorf("generated key: %v", err)
			}
			r.slots[c.P2] = &slotState{alg: alg[0], generated: true, pub: pub}
			return nil
		})
	case apdu.InsGenerateKeyPair:
		return structural("a generated key pair (ISO 7816-8): the same length", sameLength)
	case apdu.InsGetChallenge:
		return structural("a random challenge: the same length", sameLength)
	case apdu.InsPerformSecurityOperation:
		if c.P1 == 0x9E && c.P2 == 0x9A { // COMPUTE DIGITAL SIGNATURE with a generated key
			return structural("a signature: DER ECDSA, or an RSA signature of the same length", func(got, rec []byte) error {
				if len(rec) > 0 && rec[0] == 0x30 {
					return derECDSA(got)
				}
				return sameLength(got, rec)
			})
		}
	case apdu.InsGetMetadata:
		if sl := r.slots[c.P2]; sl != nil && sl.generated {
			return structural("the metadata of a generated key: exact but for the public key, compared in shape", metadataMatches)
		}
	case apdu.InsImportKey:
		exact.done = func(_, _ []byte) error {
			r.slots[c.P2] = &slotState{alg: c.P1, pub: importedPublic(c)}
			return nil
		}
	case apdu.InsMoveKey:
		exact.done = func(_, _ []byte) error {
			if c.P1 != 0xFF {
				r.slots[c.P1] = r.slots[c.P2]
			}
			delete(r.slots, c.P2)
			return nil
		}
	case apdu.InsSetManagementKey:
		exact.done = func(_, _ []byte) error {
			r.mgmtKey = c.Data[3:]
			return nil
		}
	case apdu.InsResetPIV:
		exact.done = func(_, _ []byte) error {
			r.mgmtKey, r.slots = defaultMgmtKey(), map[byte]*slotState{}
			return nil
		}
	case apdu.InsAttest:
		return structural("an attestation certificate: the recorded subject and extensions, the slot's key, signed by the attestation key", func(got, rec []byte) error {
			return attestationMatches(got, rec, r.slots[c.P1].pubKey(), r.attestation)
		})
	case apdu.InsGetDataOdd:
		if bytes.Equal(c.Data, []byte{0x5C, 0x03, 0x5F, 0xFF, 0x01}) {
			return structural("the attestation certificate object: the same tags around a certificate that parses", func(got, rec []byte) error {
				cert, err := attestationObject(got, rec)
				if err == nil {
					r.attestation = cert
				}
				return err
			})
		}
	}
	return exact, nil
}

// planMgmtAuth replays management-key mutual authentication (SP 800-73-4
// Part 2 Appendix A.2). Step 1's witness is random; in step 2 the host's
// decrypted witness is recomputed from the target's witness with the key
// the recorded host used, and the recorded host challenge is kept, so that
// the target's answer, enc(challenge), compares exactly.
func (r *replayer) planMgmtAuth(s Step, c apdu.Command) (plan, error) {
	dyn, _, err := apdu.FindTLV(c.Data, 0x7C)
	tlvs, err2 := tlvMap(dyn)
	if err != nil || err2 != nil {
		return plan{cmd: s.Command, verdict: Exact}, nil // malformed on purpose
	}
	w, hasW := tlvs[0x80]
	chal, hasC := tlvs[0x81]
	switch {
	case hasW && len(w) == 0 && !hasC: // step 1: the card's encrypted witness
		return plan{cmd: s.Command, verdict: Structural, why: "a random management-key witness: the same TLV shape", done: func(got, rec []byte) error {
			if err := sameShape(got, rec); err != nil {
				return fmt.Errorf("witness: %v", err)
			}
			r.cardWitness, r.recWitness = witness(got), witness(rec)
			return nil
		}}, nil
	case hasW && hasC: // step 2: the host's witness and challenge
		if r.cardWitness == nil {
			return plan{}, &planError{"management-key authentication: no witness from the target in step 1"}
		}
		if !bytes.Equal(apdu.Nest(0x7C, apdu.AppendTLV(nil, 0x80, w), apdu.AppendTLV(nil, 0x81, chal)), c.Data) {
			return plan{cmd: s.Command, verdict: Exact}, nil
		}
		key := r.hostKey(c.P1, w)
		if key == nil {
			return plan{}, &planError{fmt.Sprintf("management-key authentication: no known key decrypts the recorded witness to the host's (the default, the keys the recording sets%s)", map[bool]string{true: ", the keys given", false: ""}[len(r.hostKeys) > 1])}
		}
		b, err := hostdriver.ManagementKeyCipher(c.P1, key)
		if err != nil || len(r.cardWitness) != b.BlockSize() {
			return plan{}, &planError{"management-key authentication: the target's witness is not one block"}
		}
		plain := make([]byte, b.BlockSize())
		b.Decrypt(plain, r.cardWitness)
		c.Data = apdu.Nest(0x7C, apdu.AppendTLV(nil, 0x80, plain), apdu.AppendTLV(nil, 0x81, chal))
		r.cardWitness, r.recWitness = nil, nil
		raw, err := c.Marshal()
		if err != nil {
			return plan{}, &planError{err.Error()}
		}
		return plan{cmd: raw, verdict: Exact, why: "the host's witness recomputed with the management key"}, nil
	}
	return plan{cmd: s.Command, verdict: Exact}, nil
}

// hostKey finds the key the recorded host authenticated with: the one that
// decrypts the recorded witness to the host's.
func (r *replayer) hostKey(alg byte, hostWitness []byte) []byte {
	for _, k := range append([][]byte{r.mgmtKey}, r.hostKeys...) {
		b, err := hostdriver.ManagementKeyCipher(alg, k)
		if err != nil || len(r.recWitness) != len(hostWitness) || len(hostWitness) != b.BlockSize() {
			continue
		}
		plain := make([]byte, len(hostWitness))
		b.Decrypt(plain, r.recWitness)
		if bytes.Equal(plain, hostWitness) {
			return k
		}
	}
	return nil
}

func witness(resp []byte) []byte {
	dyn, _, _ := apdu.FindTLV(resp, 0x7C)
	w, _, _ := apdu.FindTLV(dyn, 0x80)
	return w
}

// planKeyOp replays a signature, decryption or key agreement with a PIV
// slot's key. With a key the recorded card generated, the answer is
// random: ECDSA signatures compare in structure and must verify under the
// target's key; RSA signature blocks are sent as recorded and the answer
// must verify; an RSA ciphertext was made with the recorded card's public
// key, so the recorded plaintext is encrypted again under the target's key
// and the answer compares exactly.
func (r *replayer) planKeyOp(s Step, c apdu.Command) (plan, error) {
	exact := plan{cmd: s.Command, verdict: Exact}
	dyn, _, _ := apdu.FindTLV(c.Data, 0x7C)
	tlvs, err := tlvMap(dyn)
	if err != nil {
		return exact, nil // malformed on purpose: the error compares exactly
	}
	in, sign := tlvs[0x81]
	sl := r.slots[c.P2]
	switch {
	case pivalg.RSABits(c.P1) > 0 && sign:
		if sl == nil || !sl.generated {
			return exact, nil
		}
		pub, ok := sl.pub.(*rsa.PublicKey)
		if !ok {
			return exact, nil // the card refuses: compare exactly
		}
		if isSignatureBlock(in) {
			return plan{cmd: s.Command, verdict: Structural, why: "an RSA signature with a generated key: verified under the target's key", done: func(got, rec []byte) error {
				if err := sameShape(got, rec); err != nil {
					return err
				}
				if out := keyOpOutput(got); !bytes.Equal(rsaPublic(pub, out), in) {
					return errors.New("RSA signature does not verify under the target's key")
				}
				return nil
			}}, nil
		}
		m := keyOpOutput(r.recordedAnswer(s))
		if m == nil || !bytes.HasSuffix(c.Data, in) {
			return plan{}, &planError{"RSA decryption: cannot recompute the host's ciphertext for the target's key"}
		}
		c.Data = append(bytes.Clone(c.Data[:len(c.Data)-len(in)]), rsaPublic(pub, m)...)
		raw, err := c.Marshal()
		if err != nil {
			return plan{}, &planError{err.Error()}
		}
		return plan{cmd: raw, verdict: Exact, why: "the ciphertext recomputed under the target's generated key"}, nil
	case sign && (c.P1 == pivalg.P256 || c.P1 == pivalg.P384):
		return plan{cmd: s.Command, verdict: Structural, why: "an ECDSA signature: DER, and it verifies under the slot's key", done: func(got, rec []byte) error {
			if err := ecdsaShape(rec); err != nil {
				return fmt.Errorf("recorded signature: %v", err)
			}
			if err := ecdsaShape(got); err != nil {
				return fmt.Errorf("target's signature: %v", err)
			}
			if pub, ok := sl.pubKey().(*ecdsa.PublicKey); ok && !ecdsa.VerifyASN1(pub, in, keyOpOutput(got)) {
				return errors.New("ECDSA signature does not verify under the target's key")
			}
			return nil
		}}, nil
	case sl != nil && sl.generated: // a key agreement with a random key, or a refusal
		return plan{cmd: s.Command, verdict: Structural, why: "an answer with a generated key: the same TLV shape", done: sameShape}, nil
	}
	return exact, nil
}
