package conformance

import (
	"context"
	"crypto/ecdsa"
	"fmt"
	"slices"
	"strings"

	"github.com/tesseracard/tessera/apdu"
	"github.com/tesseracard/tessera/hostdriver"
	"github.com/tesseracard/tessera/pivalg"
)

// Env is what a case works with: the card, the credentials, and helpers
// that speak PIV. Its methods return an error for a transport failure or an
// answer that makes going on pointless; expectations are the case's.
type Env struct {
	card       Card
	conn       *hostdriver.Conn
	creds      Credentials
	fresh      bool
	plan       *plan // nil on a Fresh target
	departures []DepartureNote
	cleanups   []func(context.Context) error
	log        exchangeLog
	app        Application // the case's application, selected by begin and Reset
}

func newEnv(card Card, creds Credentials, fresh bool, pl *plan) *Env {
	e := &Env{card: card, creds: creds, fresh: fresh, plan: pl}
	e.conn = &hostdriver.Conn{T: card, Trace: e.log.add}
	if pl != nil && pl.mgmtAlg != 0 {
		e.creds.MgmtAlg = pl.mgmtAlg
	}
	return e
}

// begin brings the card to a case's starting point: reset when it can be
// (so no PIN verification or authentication is left over from an earlier
// case), the case's application selected.
func (e *Env) begin(ctx context.Context) error {
	if !e.fresh {
		if r, ok := e.card.(Resetter); ok {
			if err := r.Reset(ctx); err != nil {
				return fmt.Errorf("resetting the card: %w", err)
			}
		}
	}
	return e.selectApp(ctx)
}

// Fresh reports whether the card was made for this case (the simulator):
// nothing it changes needs to be put back.
func (e *Env) Fresh() bool { return e.fresh }

// Departure records that the card did what a documented real card does
// where it departs from the specification (see Departures); the case still
// passes.
func (e *Env) Departure(name, format string, args ...any) {
	e.departures = append(e.departures, DepartureNote{Name: name, Detail: fmt.Sprintf(format, args...)})
}

// Cleanup registers fn to put back something the case changed, on a card
// that is not Fresh. Cleanups run last first, after the case.
func (e *Env) Cleanup(fn func(context.Context) error) {
	if !e.fresh {
		e.cleanups = append(e.cleanups, fn)
	}
}

// Transmit sends cmd with the ISO/IEC 7816-4 exchange rules (61xx fetched,
// long commands chained) and returns the complete response.
func (e *Env) Transmit(ctx context.Context, cmd apdu.Command) (apdu.Response, error) {
	r, err := e.conn.Transmit(ctx, cmd)
	if err != nil {
		return r, fmt.Errorf("sending %s: %w", describe(cmd), err)
	}
	return r, nil
}

// send is one exchange, logged, whose transport error is returned as is.
func (e *Env) send(ctx context.Context, raw []byte) ([]byte, error) {
	out, err := e.card.Transmit(ctx, raw)
	if err != nil {
		e.log.addNoAnswer(raw, err)
		return nil, err
	}
	e.log.add(raw, out)
	return out, nil
}

// Raw sends the bytes as they are, one exchange, and parses the answer.
func (e *Env) Raw(ctx context.Context, raw []byte) (apdu.Response, error) {
	out, err := e.send(ctx, raw)
	if err != nil {
		return apdu.Response{}, fmt.Errorf("sending % X: %w", raw, err)
	}
	r, err := apdu.ParseResponse(out)
	if err != nil {
		return apdu.Response{}, fmt.Errorf("the card answered % X to % X: %w", out, raw, err)
	}
	return r, nil
}

// firstPiece sends cmd, a command with a data field, and returns the first
// piece of its long answer as a T=1 card gives it: the data that came with
// 61xx. Over T=0 such a command carries no response data back (ISO/IEC
// 7816-3 §12.2): the card answers 61xx alone, and the piece is fetched
// with one GET RESPONSE for what it announced.
func (e *Env) firstPiece(ctx context.Context, cmd apdu.Command) (apdu.Response, error) {
	r, err := e.RawCmd(ctx, cmd)
	if n, ok := r.SW.BytesRemaining(); err == nil && ok && len(r.Data) == 0 && len(cmd.Data) > 0 {
		return e.RawCmd(ctx, apdu.Command{CLA: cmd.CLA &^ apdu.CLAChaining, INS: apdu.InsGetResponse, Ne: n})
	}
	return r, err
}

// RawCmd marshals cmd and sends it as one exchange.
func (e *Env) RawCmd(ctx context.Context, cmd apdu.Command) (apdu.Response, error) {
	raw, err := cmd.Marshal()
	if err != nil {
		return apdu.Response{}, err
	}
	return e.Raw(ctx, raw)
}

// SW sends cmd (Transmit) and returns the final status word.
func (e *Env) SW(ctx context.Context, cmd apdu.Command) (apdu.StatusWord, error) {
	r, err := e.Transmit(ctx, cmd)
	return r.SW, err
}

// Select selects the PIV application by its full AID.
func (e *Env) Select(ctx context.Context) error {
	r, err := e.Transmit(ctx, selectCmd(pivAID()))
	if err != nil {
		return err
	}
	if r.SW != apdu.SWSuccess {
		return fmt.Errorf("SELECT of the PIV application answered %s: is this a PIV card?", swText(r.SW))
	}
	return nil
}

// Status sends VERIFY without data: 9000 when the PIN is verified, 63CX
// with X tries left when not, 6983 when blocked. It spends no try.
func (e *Env) Status(ctx context.Context) (apdu.StatusWord, error) {
	return e.SW(ctx, statusCmd())
}

// Tries returns the PIN's tries left from VERIFY without data, which the
// card answers 63CX (or 6983, none). It is an error if the card answers
// anything else, 9000 (verified) included.
func (e *Env) Tries(ctx context.Context) (int, error) {
	sw, err := e.Status(ctx)
	if err != nil {
		return 0, err
	}
	if n, ok := sw.Retries(); ok {
		return n, nil
	}
	if sw == apdu.SWAuthMethodBlocked {
		return 0, nil
	}
	return 0, fmt.Errorf("VERIFY without data answered %s, want 63CX with the tries left", swText(sw))
}

// VerifyPIN sends VERIFY with pin padded to 8 bytes.
func (e *Env) VerifyPIN(ctx context.Context, pin string) (apdu.StatusWord, error) {
	return e.SW(ctx, verifyCmd(pin))
}

// Logout clears the PIN's security status: VERIFY with P1 = FF (SP 800-73-4
// Part 2 §3.2.1), or a reset if the card refuses that.
func (e *Env) Logout(ctx context.Context) error {
	sw, err := e.SW(ctx, apdu.Command{INS: apdu.InsVerify, P1: 0xFF, P2: refPIN})
	if err != nil || sw == apdu.SWSuccess {
		return err
	}
	if _, ok := e.card.(Resetter); ok {
		return e.Reset(ctx)
	}
	return fmt.Errorf("VERIFY with P1 = FF answered %s and the card cannot be reset", swText(sw))
}

// Reset gives the card a warm reset and selects the case's application
// again. A case that needs it declares NeedReset; on a card that cannot be
// reset Reset returns a skip.
func (e *Env) Reset(ctx context.Context) error {
	r, ok := e.card.(Resetter)
	if !ok {
		return Skipf("the target cannot reset the card")
	}
	if err := r.Reset(ctx); err != nil {
		return fmt.Errorf("resetting the card: %w", err)
	}
	return e.selectApp(ctx)
}

// PowerCutter returns the card's power-cut control, or a skip when the
// target is not the simulator.
func (e *Env) PowerCutter() (PowerCutter, error) {
	p, ok := e.card.(PowerCutter)
	if !ok {
		return nil, Skipf("needs a simulated card: the target cannot cut the card's power")
	}
	return p, nil
}

// Metadata sends the YubiKey's GET METADATA for ref. ok is false when the
// card does not offer it.
func (e *Env) Metadata(ctx context.Context, ref byte) (data []byte, sw apdu.StatusWord, err error) {
	r, err := e.Transmit(ctx, metadataCmd(ref))
	return r.Data, r.SW, err
}

// PUKTries returns the PUK's tries left and its limit from GET METADATA;
// ok is false when the card does not say.
func (e *Env) PUKTries(ctx context.Context) (tries, limit int, ok bool, err error) {
	return e.counter(ctx, refPUK)
}

// counter reads a PIN's or PUK's counter from GET METADATA, tag 06: the
// limit, then the tries left.
func (e *Env) counter(ctx context.Context, ref byte) (tries, limit int, ok bool, err error) {
	md, sw, err := e.Metadata(ctx, ref)
	if err != nil || sw != apdu.SWSuccess {
		return 0, 0, false, err
	}
	v, found := metadataTag(md, 0x06)
	if !found || len(v) != 2 {
		return 0, 0, false, nil
	}
	return int(v[1]), int(v[0]), true, nil
}

// MgmtAlg returns the management key's algorithm: the one given, else the
// one GET METADATA reports, else 3DES.
func (e *Env) MgmtAlg(ctx context.Context) (byte, error) {
	if e.creds.MgmtAlg != 0 {
		return e.creds.MgmtAlg, nil
	}
	md, sw, err := e.Metadata(ctx, refMgmt)
	if err != nil {
		return 0, err
	}
	if v, ok := metadataTag(md, 0x01); sw == apdu.SWSuccess && ok && len(v) == 1 {
		e.creds.MgmtAlg = v[0]
	} else {
		e.creds.MgmtAlg = pivalg.TDES
	}
	return e.creds.MgmtAlg, nil
}

// Authenticate authenticates the management key (mutual authentication).
func (e *Env) Authenticate(ctx context.Context) error {
	alg, err := e.MgmtAlg(ctx)
	if err != nil {
		return err
	}
	if err := hostdriver.AuthenticateManagementKey(ctx, e, alg, e.creds.MgmtKey, nil); err != nil {
		return fmt.Errorf("management key: %w", err)
	}
	return nil
}

// ScratchKey generates a P-256 key whose PIN policy is the slot's default
// and returns its slot and public key: slot 9A (PIV authentication, which
// SP 800-73-4 protects with the PIN) on a Fresh card; on a real card 9A or
// another slot Options.Slots names (see keySlot), whose key is deleted
// afterwards, else a skip. It authenticates the management key first.
func (e *Env) ScratchKey(ctx context.Context) (byte, *ecdsa.PublicKey, error) {
	slot, err := e.keySlot()
	if err != nil {
		return 0, nil, err
	}
	pub, err := e.generate(ctx, slot, pivalg.P256)
	if err != nil {
		return 0, nil, err
	}
	return slot, pub.(*ecdsa.PublicKey), nil
}

// Sign asks the key in slot to sign a digest (GENERAL AUTHENTICATE with a
// challenge, SP 800-73-4 Part 2 §3.2.4) and returns the status word and the
// signature.
func (e *Env) Sign(ctx context.Context, alg, slot byte, digest []byte) (apdu.StatusWord, []byte, error) {
	dyn := apdu.Nest(0x7C, apdu.AppendTLV(nil, 0x82, nil), apdu.AppendTLV(nil, 0x81, digest))
	r, err := e.Transmit(ctx, apdu.Command{INS: apdu.InsGeneralAuthenticate, P1: alg, P2: slot, Data: dyn, Ne: 256})
	if err != nil || r.SW != apdu.SWSuccess {
		return r.SW, nil, err
	}
	sig, err := hostdriver.DynamicAuthData(r.Data, 0x82)
	if err != nil {
		return r.SW, nil, fmt.Errorf("the signature answer % X: %w", r.Data, err)
	}
	return r.SW, sig, nil
}

// expectSW returns nil if got is one of want, else an error naming what.
func expectSW(what string, got apdu.StatusWord, want ...apdu.StatusWord) error {
	if slices.Contains(want, got) {
		return nil
	}
	var ws []string
	for _, w := range want {
		ws = append(ws, fmt.Sprintf("%04X", uint16(w)))
	}
	return fmt.Errorf("%s: card answered %s, want %s", what, swText(got), strings.Join(ws, " or "))
}

// describe names a command for messages: its header and data length, never
// its data (which may hold a PIN).
func describe(cmd apdu.Command) string {
	return fmt.Sprintf("%02X %02X %02X %02X (%d data bytes)", cmd.CLA, cmd.INS, cmd.P1, cmd.P2, len(cmd.Data))
}

// exchangeLog keeps the last exchanges of a case, to show with a failure.
// Secrets are replaced by XX as the host side's one rule set says
// (hostdriver.Redactor): a response withheld stays withheld through the GET
// RESPONSE commands that fetch the rest of it.
type exchangeLog struct {
	entries  []string
	redactor hostdriver.Redactor
}

const maxLogged = 24

func (l *exchangeLog) add(cmd, resp []byte) {
	c, r := l.redact(cmd, resp)
	l.push(fmt.Sprintf("> %s\n< %s", c, r))
}

func (l *exchangeLog) addNoAnswer(cmd []byte, err error) {
	c, _ := l.redact(cmd, nil)
	l.push(fmt.Sprintf("> %s\n< no answer: %v", c, err))
}

// redact writes an exchange in hex, what may not be shown as XX.
func (l *exchangeLog) redact(cmd, resp []byte) (c, r string) {
	showCmd, showResp := l.redactor.Disclose(cmd, resp)
	c, r, _ = apdu.RedactHex(cmd, resp, showCmd, showResp)
	return c, r
}

func (l *exchangeLog) push(entry string) {
	if len(l.entries) == maxLogged {
		l.entries = append(l.entries[:0], l.entries[1:]...)
	}
	l.entries = append(l.entries, entry)
}

func (l *exchangeLog) lines() []string { return slices.Clone(l.entries) }
