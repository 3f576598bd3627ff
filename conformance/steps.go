package conformance

import (
	"context"

	"github.com/tesseracard/tessera/apdu"
)

// isoStep is one command of a table-driven case and the answers it may
// give. The ISO cases brought it in; the PIV PIN and PUK cases use it too.
type isoStep struct {
	what string
	cmd  apdu.Command
	want []apdu.StatusWord
}

func step(what string, cmd apdu.Command, want ...apdu.StatusWord) isoStep {
	return isoStep{what: what, cmd: cmd, want: want}
}

// run sends the steps in order; the first answer not wanted fails.
func (e *Env) run(ctx context.Context, steps ...isoStep) error {
	for _, s := range steps {
		sw, err := e.SW(ctx, s.cmd)
		if err != nil {
			return err
		}
		if err := expectSW(s.what, sw, s.want...); err != nil {
			return err
		}
	}
	return nil
}

// counters are the PIN's tries left, the PIN not verified, and the PUK's
// when the card reports them (GET METADATA, a YubiKey extension; pukKnown
// false otherwise, and then puk is not checked).
type counters struct {
	pin, puk int
	pukKnown bool
}

// pinLeft returns c with the PIN's tries left n.
func (c counters) pinLeft(n int) counters { c.pin = n; return c }

// pukLeft returns c with the PUK's tries left n.
func (c counters) pukLeft(n int) counters { c.puk = n; return c }

// pinCase adapts the run of a case that starts from the PIN's counter,
// full (see Env.full): run is given it.
func pinCase(run func(context.Context, *Env, counters) error) func(context.Context, *Env) error {
	return func(ctx context.Context, e *Env) error {
		full, err := e.full(ctx)
		if err != nil {
			return err
		}
		return run(ctx, e, counters{pin: full})
	}
}

// pukCase adapts the run of a case that starts from the PIN's counter,
// full, and the PUK's when the card reports it: run is given them.
func pukCase(run func(context.Context, *Env, counters) error) func(context.Context, *Env) error {
	return pinCase(func(ctx context.Context, e *Env, c counters) error {
		puk, _, known, err := e.PUKTries(ctx)
		if err != nil {
			return err
		}
		c.puk, c.pukKnown = puk, known
		return run(ctx, e, c)
	})
}

// counted sends s's command, which must answer one of s.want, then checks
// that it left the counters at left, naming the moment after.
func (e *Env) counted(ctx context.Context, s isoStep, after string, left counters) error {
	sw, err := e.SW(ctx, s.cmd)
	if err != nil {
		return err
	}
	return e.answered(ctx, s, sw, after, left)
}

// answered is counted's check for a case that has sent s's command itself
// and looked at its answer sw first.
func (e *Env) answered(ctx context.Context, s isoStep, sw apdu.StatusWord, after string, left counters) error {
	if err := expectSW(s.what, sw, s.want...); err != nil {
		return err
	}
	return e.expectCounters(ctx, after, left)
}
