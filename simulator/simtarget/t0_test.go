package simtarget

import (
	"context"
	"testing"

	"github.com/tesseracard/tessera/conformance"
	"github.com/tesseracard/tessera/internal/hosttest"
)

// t0Card is a simulated card reached as PC/SC reaches a T=0 card.
type t0Card struct {
	*Card
	t0 *hosttest.T0
}

func (c t0Card) Transmit(ctx context.Context, cmd []byte) ([]byte, error) {
	return c.t0.Transmit(ctx, cmd)
}

func (c t0Card) Reset(ctx context.Context) error {
	c.t0.Forget()
	return c.Card.Reset(ctx)
}

// TestConformT0 runs the suite on simulated cards reached as T=0 cards
// are, every case that answers on T=1 answering alike. Before, ISO-61XX
// failed every T=0 card: it wanted 256 bytes with the first 61xx, which
// T=0 cannot carry for a command with a data field.
func TestConformT0(t *testing.T) {
	for _, prof := range []string{"default", "yubikey-5.7", "openpgp", "iso-token"} {
		t.Run(prof, func(t *testing.T) {
			_, creds, err := Target(prof)
			if err != nil {
				t.Fatal(err)
			}
			target := conformance.Target{Name: "a T=0 card", Fresh: true, Open: func(context.Context) (conformance.Card, error) {
				c, err := Open(Options{Profile: prof})
				if err != nil {
					return nil, err
				}
				return t0Card{c, &hosttest.T0{Transport: c}}, nil
			}}
			rep := runSuite(t, target, conformance.Options{Credentials: creds, Filter: notSlowRSA})
			for _, r := range rep.Results {
				if r.Outcome == conformance.Failed {
					t.Errorf("%s: %s", r.ID, r.Message)
				}
			}
		})
	}
}
