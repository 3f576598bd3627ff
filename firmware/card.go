package firmware

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/tesseracard/tessera/apdu"
	"github.com/tesseracard/tessera/firmware/nvm"
)

// DefaultMaxCommand is the default bound on a command's data after chaining
// reassembly.
const DefaultMaxCommand = 16 << 10

// maxShortResponse is the most data one short response carries; the rest
// waits for GET RESPONSE.
const maxShortResponse = 256

// Config is everything a Card is made from. ATR, Medium, Rand and Clock are
// required.
type Config struct {
	ATR    []byte     // answer-to-reset; must offer T=1
	Medium nvm.Medium // persistent memory
	Rand   io.Reader  // the card's random source
	Clock  func() time.Time
	// Capacity bounds the persistent bytes of keys and values; 0, or more
	// than nvm.MaxCapacity, means nvm.MaxCapacity.
	Capacity int
	// MaxCommand bounds a command's data after chaining; 0: DefaultMaxCommand.
	MaxCommand int
	// ExtendedLength accepts extended-length APDUs; without it they get 6700.
	ExtendedLength bool
	// Applets are the on-card applications, in selection-priority order.
	Applets []Applet
	// Quirks are deliberate faults of the card OS, for testing host
	// software; the zero value is a correct card.
	Quirks Quirks
}

// Quirks are the card OS's deliberate faults (profile quirks).
type Quirks struct {
	// StatusSurvivesReset: security status (PIN verified, management key
	// authenticated) is kept over power-off and reset, as on cards that
	// keep it in persistent memory (profile quirk "status-survives-reset").
	StatusSurvivesReset bool
}

// Card is one smart card: its OS state in RAM and its persistent store. It
// is not safe for concurrent use; a reader serialises access to a card.
type Card struct {
	cfg      Config
	format   int  // the card-state format version it writes (see StateFormat)
	blank    bool // the store held no records at the last power-on
	booting  bool // applets are booting (Context.NewCard)
	store    *nvm.Store
	powered  bool
	selected int // index into cfg.Applets, or -1
	// hidden: the applets a Gate disabled at power-on, by index.
	hidden   []bool
	security []Security
	chain    chainState
	pending  []byte // response data awaiting GET RESPONSE
	// pendingShown: the pending data may be shown in a trace (the
	// Response disclosure of the command that produced them).
	pendingShown bool
	// disclosure is what a trace may show of the last command Process
	// handled (see TakeDisclosure).
	disclosure Disclosure
}

type chainState struct {
	active bool
	head   [4]byte // CLA without the chaining bit, INS, P1, P2
	data   []byte
}

// New makes a card, powered off. It fails if the configuration is
// incomplete, if the medium holds a damaged image (wrapping
// nvm.ErrCorrupt): the card refuses to start rather than silently beginning
// afresh, or if it holds a state of a newer card-state format than the
// card knows (wrapping ErrStateFormat).
func New(cfg Config) (*Card, error) {
	if err := checkATR(cfg.ATR); err != nil {
		return nil, fmt.Errorf("firmware: %w", err)
	}
	if cfg.Medium == nil || cfg.Rand == nil || cfg.Clock == nil {
		return nil, errors.New("firmware: Config needs a Medium, a Rand and a Clock")
	}
	if cfg.MaxCommand == 0 {
		cfg.MaxCommand = DefaultMaxCommand
	}
	cfg.ATR = bytes.Clone(cfg.ATR)
	format, err := stateFormat(cfg.Applets)
	if err != nil {
		return nil, fmt.Errorf("firmware: %w", err)
	}
	c := &Card{cfg: cfg, format: format, selected: -1, security: make([]Security, len(cfg.Applets))}
	s, err := nvm.Open(cfg.Medium, nvm.Options{Capacity: cfg.Capacity})
	if err == nil {
		_, err = c.checkStateFormat(s)
	}
	if err != nil {
		return nil, fmt.Errorf("firmware: loading card state: %w", err)
	}
	return c, nil
}

// ATR returns the card's answer-to-reset.
func (c *Card) ATR() []byte { return bytes.Clone(c.cfg.ATR) }

// Powered reports whether the card is powered and answering.
func (c *Card) Powered() bool { return c.powered }

// Store returns the card's persistent store while it is powered, else nil.
// It is meant for inspection by tests and the simulator's control API.
func (c *Card) Store() *nvm.Store {
	if !c.powered {
		return nil
	}
	return c.store
}

// PowerOn powers the card: RAM state is fresh, persistent state is loaded
// from the medium and brought up to the card's state format (see
// Migration), and every applet boots. It returns the ATR. Powering an
// already powered card is a cold reset.
func (c *Card) PowerOn() ([]byte, error) {
	c.PowerOff()
	s, err := nvm.Open(c.cfg.Medium, nvm.Options{Capacity: c.cfg.Capacity})
	if err != nil {
		return nil, fmt.Errorf("firmware: loading card state: %w", err)
	}
	c.store = s
	if c.blank, err = c.migrate(); err != nil {
		c.store = nil
		return nil, fmt.Errorf("firmware: loading card state: %w", err)
	}
	c.booting = true
	for i, a := range c.cfg.Applets {
		if err := a.Boot(c.context(i)); err != nil {
			c.booting = false
			s.AbortTx()
			c.store = nil
			return nil, fmt.Errorf("firmware: booting applet %X: %w", a.AID(), err)
		}
	}
	c.booting = false
	c.gate()
	c.powered = true
	return c.ATR(), nil
}

// Reset is a warm reset: the same as powering off and on.
func (c *Card) Reset() ([]byte, error) { return c.PowerOn() }

// PowerOff removes power: every RAM state, security status included, is lost.
func (c *Card) PowerOff() {
	c.powered = false
	c.store = nil
	c.selected = -1
	c.clearSecurity()
	c.chain = chainState{}
	c.pending, c.pendingShown = nil, false
	c.disclosure = Disclosure{}
}

// clearSecurity forgets every applet's security status, as losing power
// does; the quirk StatusSurvivesReset is read here and nowhere else.
func (c *Card) clearSecurity() {
	if c.cfg.Quirks.StatusSurvivesReset {
		return
	}
	for i := range c.security {
		c.security[i].Clear()
	}
}

func (c *Card) context(i int) *Context {
	return &Context{Store: c.store, Security: &c.security[i], Rand: c.cfg.Rand, Now: c.cfg.Clock, NewCard: c.booting && c.blank}
}

// Process handles one command APDU and returns the response APDU: data
// followed by SW1 SW2. It returns nil when the card is not powered, and when
// a power cut (nvm.ErrPowerLost) happened during the command, after which the
// card stays off until PowerOn.
func (c *Card) Process(raw []byte) []byte {
	c.disclosure = Disclosure{}
	if !c.powered {
		return nil
	}
	data, sw, mute := c.process(raw)
	if mute {
		c.PowerOff()
		return nil
	}
	return apdu.Response{Data: data, SW: sw}.Marshal()
}

func (c *Card) process(raw []byte) (data []byte, sw apdu.StatusWord, mute bool) {
	cmd, err := apdu.ParseCommand(raw)
	if err != nil {
		c.chain, c.pending = chainState{}, nil
		return nil, apdu.SWWrongLength, false
	}
	if sw, ok := c.checkClass(cmd); !ok {
		c.chain, c.pending = chainState{}, nil
		return nil, sw, false
	}
	if cmd.Extended && !c.cfg.ExtendedLength {
		c.chain, c.pending = chainState{}, nil
		return nil, apdu.SWWrongLength, false
	}
	strict := c.strictResponses()
	if (cmd.INS == apdu.InsGetResponse || c.continues(cmd.INS)) && cmd.CLA&0x80 == 0 {
		c.chain = chainState{}
		// GET RESPONSE has no data of its own; what it answers is the
		// pending data of the command before.
		c.disclosure = Disclosure{Response: c.pendingShown}
		return c.getResponse(cmd, strict)
	}
	if c.pending != nil && strict && !isSelectAID(cmd) {
		return nil, swPendingResponse, false
	}
	c.pending = nil

	full, sw, done := c.reassemble(cmd)
	if done {
		if sw == apdu.SWSuccess { // a piece of a chain, kept
			piece := apdu.Command{CLA: cmd.CLA, INS: cmd.INS, P1: cmd.P1, P2: cmd.P2, Data: c.chain.data}
			c.disclosure = Disclosure{Command: c.disclose(piece).Command}
		}
		return nil, sw, false
	}
	c.disclosure = c.disclose(full)
	data, err = c.dispatch(full)
	c.store.AbortTx() // a transaction left open is all-or-nothing: nothing
	if err != nil {
		if errors.Is(err, nvm.ErrPowerLost) {
			return nil, 0, true
		}
		return nil, statusOf(err), false
	}
	data, sw = c.respond(data, full)
	c.pendingShown = c.disclosure.Response
	return data, sw, false
}

// TakeDisclosure returns what a trace may show of the command Process
// handled last, and forgets it: asked again, or after a command that never
// reached Process (one a wire-quirk decorator answered itself), it returns
// the zero Disclosure, which shows no data. The card OS decides for what it
// answers itself: SELECT by AID is shown both ways; GET RESPONSE shows its
// data only if the command that left them pending could show its response;
// a command refused before it reaches an applet (malformed, a class or
// length the card does not take, no applet selected, a chain refused, a
// strict applet's pending response) has its data withheld, as it may be a
// PIN sent to the wrong place. For everything else the selected applet
// decides (see Discloser).
func (c *Card) TakeDisclosure() Disclosure {
	d := c.disclosure
	c.disclosure = Disclosure{}
	return d
}

// disclose asks what a trace may show of cmd, a complete command or a piece
// of a chain: the card OS itself for SELECT by AID (the data are an AID, the
// answer the application's FCI or property template), else the selected
// applet if it is a Discloser; otherwise nothing.
func (c *Card) disclose(cmd apdu.Command) Disclosure {
	if isSelectAID(cmd) {
		return Disclosure{Command: true, Response: true}
	}
	if c.selected < 0 {
		// A SELECT of a file with no application selected (the MF, 3F00,
		// as OpenSC tries first) names a file and gets the card OS's
		// refusal or its control information: public. Once an application
		// is selected, INS A4 is its own to judge (YKOATH's CALCULATE ALL
		// is A4 00).
		if cmd.INS == apdu.InsSelect && cmd.CLA&0x80 == 0 {
			return Disclosure{Command: true, Response: true}
		}
		return Disclosure{}
	}
	d, ok := c.cfg.Applets[c.selected].(Discloser)
	if !ok {
		return Disclosure{}
	}
	return d.Disclose(cmd)
}

// isSelectAID reports whether cmd is SELECT by AID, which the card OS
// answers itself.
func isSelectAID(cmd apdu.Command) bool {
	return cmd.INS == apdu.InsSelect && cmd.P1 == 0x04 && cmd.CLA&0x80 == 0
}

// checkClass refuses what this card OS does not do: secure messaging,
// logical channels other than the basic one, and the invalid class FF.
func (c *Card) checkClass(cmd apdu.Command) (apdu.StatusWord, bool) {
	cla := cmd.CLA
	switch {
	case cla == 0xFF || cla&0xE0 == 0x20:
		return apdu.SWCLANotSupported, false
	case cla&0x80 != 0:
		return 0, true // proprietary: the applet decides
	case cla&0x40 != 0:
		return apdu.SWLogicalChannelNotSupported, false // channels 4..19
	case cla&0x0C != 0:
		return apdu.SWSecureMessagingNotSupported, false
	case cla&0x03 != 0:
		return apdu.SWLogicalChannelNotSupported, false
	}
	return 0, true
}

// reassemble applies command chaining. It returns the complete command, or
// done with the status word to answer a chain part with.
func (c *Card) reassemble(cmd apdu.Command) (full apdu.Command, sw apdu.StatusWord, done bool) {
	head := [4]byte{cmd.CLA &^ apdu.CLAChaining, cmd.INS, cmd.P1, cmd.P2}
	if c.chain.active && c.chain.head != head {
		c.chain = chainState{} // interrupted by another command: discarded
	}
	if cmd.IsChained() {
		if !c.chainable(cmd.INS) {
			c.chain = chainState{}
			return cmd, apdu.SWChainingNotSupported, true
		}
		if !c.chain.active {
			c.chain = chainState{active: true, head: head}
		}
		if len(c.chain.data)+len(cmd.Data) > c.cfg.MaxCommand {
			c.chain = chainState{}
			return cmd, apdu.SWWrongLength, true
		}
		c.chain.data = append(c.chain.data, cmd.Data...)
		return cmd, apdu.SWSuccess, true
	}
	if c.chain.active {
		if len(c.chain.data)+len(cmd.Data) > c.cfg.MaxCommand {
			c.chain = chainState{}
			return cmd, apdu.SWWrongLength, true
		}
		cmd.Data = append(c.chain.data, cmd.Data...)
		c.chain = chainState{}
	} else if len(cmd.Data) > c.cfg.MaxCommand {
		return cmd, apdu.SWWrongLength, true
	}
	return cmd, 0, false
}

// swPendingResponse is 6900, "command not allowed": another command while a
// strict applet's response is pending (see StrictResponder).
const swPendingResponse apdu.StatusWord = 0x6900

// strictResponses reports whether the selected applet keeps strict response
// rules (see StrictResponder).
func (c *Card) strictResponses() bool {
	if c.selected < 0 {
		return false
	}
	sr, ok := c.cfg.Applets[c.selected].(StrictResponder)
	return ok && sr.StrictResponses()
}

// continues reports whether ins is the selected applet's own GET RESPONSE
// (see Continuer).
func (c *Card) continues(ins byte) bool {
	if c.selected < 0 {
		return false
	}
	co, ok := c.cfg.Applets[c.selected].(Continuer)
	return ok && co.ContinueIns() == ins
}

// chainable reports whether the selected applet accepts a chained command
// with instruction ins (see Chainer).
func (c *Card) chainable(ins byte) bool {
	if c.selected < 0 {
		return true
	}
	ch, ok := c.cfg.Applets[c.selected].(Chainer)
	return !ok || ch.Chainable(ins)
}

// dispatch handles SELECT by AID itself and passes everything else to the
// selected applet.
func (c *Card) dispatch(cmd apdu.Command) ([]byte, error) {
	if isSelectAID(cmd) {
		return c.selectAID(cmd)
	}
	if c.selected < 0 {
		return nil, apdu.SWINSNotSupported
	}
	return c.cfg.Applets[c.selected].Process(c.context(c.selected), cmd)
}

func (c *Card) selectAID(cmd apdu.Command) ([]byte, error) {
	if len(cmd.Data) > 16 {
		return nil, apdu.SWWrongLength
	}
	if cmd.P2&^0x0C != 0 { // first occurrence, FCI/FCP/FMD/none; no next/previous
		return nil, apdu.SWIncorrectP1P2
	}
	i := c.findApplet(cmd.Data)
	if i < 0 {
		return nil, apdu.SWFileNotFound
	}
	resp, err := c.cfg.Applets[i].Select(c.context(i), cmd)
	if err != nil && !selectWarning(err) {
		return nil, err
	}
	if c.selected >= 0 && c.selected != i {
		c.cfg.Applets[c.selected].Deselect(c.context(c.selected))
	}
	c.selected = i
	return resp, err
}

// selectWarning reports whether an applet's Select error is a warning
// (SW1 62 or 63, ISO/IEC 7816-4 §5.1.3), such as 6285 of an application in
// termination state: the applet is selected, and the warning answered.
func selectWarning(err error) bool {
	var sw apdu.StatusWord
	return errors.As(err, &sw) && (sw.SW1() == 0x62 || sw.SW1() == 0x63)
}

// findApplet returns the first applet not hidden by a Gate whose AID
// starts with aid, which must be at least a RID (5 bytes) long, or -1.
func (c *Card) findApplet(aid []byte) int {
	if len(aid) < 5 {
		return -1
	}
	for i, a := range c.cfg.Applets {
		if bytes.HasPrefix(a.AID(), aid) && !c.hidden[i] {
			return i
		}
	}
	return -1
}

// respond returns the first piece of data the command may carry, with 9000
// if that is all, or 61xx with the rest kept for GET RESPONSE. It never
// answers 6Cxx: PIV clients treat it as an error. A short command without
// Le gets up to 256 bytes; an extended one gets everything, as a YubiKey
// answers an extended RSA-4096 decryption with its 520 bytes at once.
func (c *Card) respond(data []byte, cmd apdu.Command) ([]byte, apdu.StatusWord) {
	limit := maxShortResponse
	switch {
	case cmd.Extended && cmd.Ne == 0:
		limit = apdu.MaxExtendedNe
	case cmd.Extended:
		limit = max(cmd.Ne, maxShortResponse)
	case cmd.Ne > 0:
		limit = cmd.Ne
	}
	if len(data) <= limit {
		return data, apdu.SWSuccess
	}
	c.pending = data[limit:]
	return data[:limit], apdu.MoreDataSW(len(c.pending))
}

// getResponse answers GET RESPONSE (ISO/IEC 7816-4 §7.6.1) from the pending
// data: up to Ne bytes (256 without Le), then 61xx while more remains.
func (c *Card) getResponse(cmd apdu.Command, strict bool) ([]byte, apdu.StatusWord, bool) {
	if c.pending == nil {
		return nil, apdu.SWConditionsNotSatisfied, false
	}
	if cmd.P1 != 0 || cmd.P2 != 0 {
		c.pending = nil
		return nil, apdu.SWIncorrectP1P2, false
	}
	n := cmd.Ne
	if n == 0 {
		n = maxShortResponse
	}
	if want := min(len(c.pending), maxShortResponse); strict && n != want {
		return nil, apdu.WrongLeSW(want), false
	}
	n = min(n, len(c.pending))
	out := c.pending[:n]
	c.pending = c.pending[n:]
	if len(c.pending) == 0 {
		c.pending = nil
		return out, apdu.SWSuccess, false
	}
	return out, apdu.MoreDataSW(len(c.pending)), false
}

// statusOf maps an applet's error to the status word the card answers.
func statusOf(err error) apdu.StatusWord {
	var sw apdu.StatusWord
	var ae *apdu.AuthError
	switch {
	case errors.As(err, &ae):
		return ae.SW
	case errors.As(err, &sw):
		return sw
	case errors.Is(err, nvm.ErrCapacity):
		return apdu.SWNotEnoughMemory
	case errors.Is(err, nvm.ErrCorrupt), errors.Is(err, nvm.ErrMedium):
		return apdu.SWMemoryFailure
	}
	return apdu.SWUnknown
}
