package conformance

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Class says whether a case may run on a card that must be left as it was.
type Class int

const (
	// Safe cases only read: they need no credential, spend no try and
	// write nothing. They run on every target.
	Safe Class = iota
	// Destructive cases need the PIN, PUK or management key, spend tries,
	// block, or write keys and objects. On a target that is not Fresh they
	// run only with Options.Destructive, and put back what they changed.
	Destructive
)

func (c Class) String() string {
	if c == Destructive {
		return "destructive"
	}
	return "safe"
}

// MarshalText writes "safe" or "destructive".
func (c Class) MarshalText() ([]byte, error) { return []byte(c.String()), nil }

// Need is what a case uses, so that the suite can tell before running
// anything whether it can put a real card back as it was.
type Need uint

const (
	// NeedPIN: the case verifies the PIN or spends PIN tries (put back by
	// verifying the PIN, or unblocking it with the PUK).
	NeedPIN Need = 1 << iota
	// NeedPUK: the case uses the PUK or spends PUK tries (put back by
	// using the PUK).
	NeedPUK
	// NeedMgmt: the case authenticates with the management key; it may
	// write a data object, which it puts back.
	NeedMgmt
	// NeedBlockPUK: the case blocks the PUK, which only a full reset of the
	// card undoes. Never run on a target that is not Fresh.
	NeedBlockPUK
	// NeedReset: the case resets the card; skipped when the card cannot be
	// reset.
	NeedReset
	// NeedPowerCut: the case cuts the power mid-command; simulator only,
	// skipped elsewhere.
	NeedPowerCut
	// NeedOATH: the case writes OATH credentials of its own (names starting
	// "tessera-conformance:") and deletes them; skipped on a card with an
	// access code or holding one of those names.
	NeedOATH
	// NeedSlot: the case generates or imports keys in key slots: on a real
	// card only in the slots Options.Slots names, whose keys it replaces
	// and then deletes (YubiKey 5.7 DELETE KEY); refused when none is
	// named, or when the card cannot delete a key.
	NeedSlot
	// NeedOpenPGPPW: the case verifies the OpenPGP card's PW1 or PW3,
	// spends their tries or changes them (put back with PW1 and PW3,
	// Credentials.PW1 and PW3).
	NeedOpenPGPPW
	// NeedOpenPGPKeys: the case generates OpenPGP keys, replacing the
	// card's. Never run on a target that is not Fresh.
	NeedOpenPGPKeys
	// NeedTerminate: the case resets the OpenPGP application to its
	// factory state. Never run on a target that is not Fresh.
	NeedTerminate
)

// Case is one conformance check.
type Case struct {
	// ID is the SP 800-85A-4 assertion label where one applies (VE05.19),
	// else a name of our own: ISO-... for the APDU layer, PIV-... for SP
	// 800-73-4 behaviour without a label, YK-... for the YubiKey
	// extensions PIV clients rely on, ISOAPP-... for the ISO 7816
	// file-system application.
	ID string
	// Title says what a conformant card does.
	Title string
	// Ref cites the specification.
	Ref   string
	Class Class
	Needs Need
	// App is the application the case tests; the suite runs the cases of
	// the applications the card answers SELECT for.
	App Application
	// Run performs the check on a card whose application App is selected
	// and whose security status is clear. It returns nil when the card
	// conforms (recording departures with Env.Departure), a skip (see
	// Skipf) when the case does not apply, and otherwise an error saying
	// what the card did wrong.
	Run func(ctx context.Context, e *Env) error
}

// skipError is a case that does not apply to this card.
type skipError struct{ reason string }

func (s *skipError) Error() string { return s.reason }

// Skipf returns the error a case's Run returns when the case does not apply
// to the card, saying why.
func Skipf(format string, args ...any) error { return &skipError{fmt.Sprintf(format, args...)} }

// Options control a run.
type Options struct {
	// Credentials are used by destructive cases. A Fresh target needs them
	// too: the factory values of its profile.
	Credentials Credentials
	// Destructive runs the destructive cases on a target that is not
	// Fresh, which needs every credential. They put back what they change,
	// and those that cannot are refused up front.
	Destructive bool
	// Slots are the key slots (9A, 9C, 9D, 9E, 82 to 95) whose keys the
	// NeedSlot cases may replace on a card that is not Fresh; they touch
	// no other. A case needing a slot not named is skipped.
	Slots []byte
	// Filter selects the cases to run; nil runs them all.
	Filter func(Case) bool
	// Progress, if set, is called before each case (Result nil) and after
	// it, and with each note of the plan made before the first case.
	Progress func(Progress)
	// CaseTimeout bounds one case and, apart, putting the card back after
	// it; zero means a minute on a Fresh target, five on a card that is
	// not (a real card's RSA-4096 key generation takes up to 90 s).
	CaseTimeout time.Duration
}

// Progress reports a run as it goes.
type Progress struct {
	Index, Total int
	Case         *Case
	Result       *Result // nil: the case is starting
	Note         string  // a note of the plan, before any case
}

// realCardCaseTimeout is CaseTimeout's default on a target that is not
// Fresh.
const realCardCaseTimeout = 5 * time.Minute

// ErrIncompleteCredentials is returned by Run when Options.Destructive is
// set for a target that is not Fresh without every credential, and
// destructive PIV cases are to run.
var ErrIncompleteCredentials = errors.New("conformance: destructive cases on a real card need the PIN, the PUK and the management key")

// Run runs the suite's cases (those Options.Filter selects) against t and
// returns the report. It returns an error, and no report, only when the
// run cannot start: the card cannot be reached, or ErrIncompleteCredentials.
// A card that fails cases is a report with failures, not an error; a card
// that answers SELECT for none of the applications the suite tests is a
// report whose every case is NotApplicable, with the reason.
func Run(ctx context.Context, t Target, opts Options) (*Report, error) {
	if opts.CaseTimeout == 0 {
		opts.CaseTimeout = time.Minute
		if !t.Fresh {
			// A real card's RSA-4096 GENERATE takes 10 to 90 s, and
			// PC/SC cannot abandon it: a minute failed the case after
			// the card had done its work.
			opts.CaseTimeout = realCardCaseTimeout
		}
	}
	var cases []Case
	rep := &Report{Target: t.Name, Started: time.Now()}
	progress := func(p Progress) {
		if opts.Progress != nil {
			p.Total = len(cases)
			opts.Progress(p)
		}
	}
	var shared Card
	var pl *plan
	if !t.Fresh {
		card, err := t.Open(ctx)
		if err != nil {
			return nil, fmt.Errorf("conformance: connecting to %s: %w", t.Name, err)
		}
		defer card.Close()
		shared = card
	}
	cases, notApplicable, err := pickCases(ctx, t, shared, opts.Filter)
	if err != nil {
		return nil, err
	}
	if notApplicable != "" {
		// Nothing is sent: no plan, no credentials needed, no case run.
		n := "no case applies: " + notApplicable
		rep.Notes = append(rep.Notes, n)
		progress(Progress{Note: n})
		for i := range cases {
			c := &cases[i]
			progress(Progress{Index: i, Case: c})
			rep.Results = append(rep.Results, Result{ID: c.ID, App: c.App, Title: c.Title, Ref: c.Ref, Class: c.Class, Outcome: NotApplicable, Message: notApplicable})
			progress(Progress{Index: i, Case: c, Result: &rep.Results[len(rep.Results)-1]})
		}
		rep.Duration = time.Since(rep.Started)
		return rep, nil
	}
	if !t.Fresh && opts.Destructive && needsPIVCredentials(cases) && !opts.Credentials.complete() {
		return nil, ErrIncompleteCredentials
	}
	if !t.Fresh && opts.Destructive && anyDestructive(cases) {
		pl = makePlans(ctx, shared, opts.Credentials, cases)
		pl.useSlots(opts.Slots, cases)
		for _, n := range pl.notes {
			rep.Notes = append(rep.Notes, n)
			progress(Progress{Note: n})
		}
	}
	for i := range cases {
		c := &cases[i]
		progress(Progress{Index: i, Case: c})
		var res Result
		if err := ctx.Err(); err != nil {
			// Interrupted (Ctrl-C, --timeout): no case starts on a card
			// the suite can no longer put back.
			res = Result{ID: c.ID, App: c.App, Title: c.Title, Ref: c.Ref, Class: c.Class, Outcome: Skipped, Message: fmt.Sprintf("not run: the run was stopped (%v)", err)}
		} else {
			res = runOne(ctx, t, shared, pl, c, opts)
		}
		rep.Results = append(rep.Results, res)
		progress(Progress{Index: i, Case: c, Result: &rep.Results[len(rep.Results)-1]})
	}
	rep.Duration = time.Since(rep.Started)
	return rep, nil
}

func anyDestructive(cases []Case) bool {
	for _, c := range cases {
		if c.Class == Destructive {
			return true
		}
	}
	return false
}

// runOne runs one case and returns its result.
func runOne(ctx context.Context, t Target, shared Card, pl *plan, c *Case, opts Options) (res Result) {
	res = Result{ID: c.ID, App: c.App, Title: c.Title, Ref: c.Ref, Class: c.Class}
	start := time.Now()
	defer func() { res.Duration = time.Since(start) }()
	if !t.Fresh && c.Class == Destructive {
		switch {
		case pl == nil:
			res.Outcome, res.Message = Skipped, withoutDestructive(c)
			return res
		case pl.refusal(c) != "":
			res.Outcome, res.Message = Refused, pl.refusal(c)
			return res
		}
	}
	outer := ctx
	ctx, cancel := context.WithTimeout(ctx, opts.CaseTimeout)
	defer cancel()
	card := shared
	if t.Fresh {
		var err error
		if card, err = t.Open(ctx); err != nil {
			res.Outcome, res.Message = Failed, fmt.Sprintf("making a fresh card: %v", err)
			return res
		}
		defer card.Close()
	}
	if tx, ok := card.(Transactor); ok && !t.Fresh {
		if err := tx.BeginTransaction(ctx); err != nil {
			res.Outcome, res.Message = Failed, fmt.Sprintf("keeping other programs off the card: %v", err)
			return res
		}
		// Deferred: ends after the putting back below.
		defer tx.EndTransaction()
	}
	creds := opts.Credentials
	if cc, ok := card.(CardCredentials); ok && t.Fresh {
		creds = cc.Credentials()
	}
	e := newEnv(card, creds, t.Fresh, pl)
	e.app = c.App
	err := e.begin(ctx)
	if err == nil {
		err = c.Run(ctx, e)
	}
	var skip *skipError
	switch {
	case errors.As(err, &skip):
		res.Outcome, res.Message = Skipped, skip.reason
	case err != nil:
		res.Outcome, res.Message = Failed, err.Error()
	case len(e.departures) > 0:
		res.Outcome = Departed
	default:
		res.Outcome = Passed
	}
	res.Departures = e.departures
	if !t.Fresh && c.Class == Destructive {
		// The card is put back even when the run was interrupted or the
		// case ran out of time (a real card's RSA-4096 GENERATE can take
		// a minute): on a context of its own, with a bound of its own.
		rctx, rcancel := context.WithTimeout(context.WithoutCancel(outer), opts.CaseTimeout)
		defer rcancel()
		if rerr := e.restore(rctx, c); rerr != nil {
			pl.broken = fmt.Sprintf("%s could not put the card back as it was (%v): no further destructive case runs", c.ID, rerr)
			res.Outcome = Failed
			res.Message = joinMessages(res.Message, "putting the card back: "+rerr.Error())
		}
	}
	if res.Outcome == Failed {
		res.Exchanges = e.log.lines()
	}
	return res
}

func joinMessages(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}
