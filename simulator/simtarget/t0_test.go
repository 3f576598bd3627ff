package simtarget

import (
	"context"
	"testing"

	"github.com/tesseracard/tessera/apdu"
	"github.com/tesseracard/tessera/conformance"
)

// t0Card is a simulated card reached as a T=0 card is through PC/SC
// (ISO/IEC 7816-3 §12.2): a command with a data field (case 3 or 4) can
// carry no response data back, so when the card has data for it the
// answer is 61xx alone, and the data comes by GET RESPONSE; the card's
// own status word follows the last piece.
type t0Card struct {
	*Card
	pending []byte // data waiting for GET RESPONSE
	sw      []byte // the card's status word after it
}

func (c *t0Card) Transmit(ctx context.Context, cmd []byte) ([]byte, error) {
	if c.sw != nil && len(cmd) >= 4 && cmd[1] == apdu.InsGetResponse {
		ne := 256
		if len(cmd) == 5 && cmd[4] != 0 {
			ne = int(cmd[4])
		}
		n := min(ne, len(c.pending))
		out := append([]byte(nil), c.pending[:n]...)
		c.pending = c.pending[n:]
		if len(c.pending) > 0 {
			return appendSW(out, apdu.MoreDataSW(len(c.pending))), nil
		}
		out, c.sw = append(out, c.sw...), nil
		return out, nil
	}
	c.pending, c.sw = nil, nil
	resp, err := c.Card.Transmit(ctx, cmd)
	if err != nil || len(cmd) <= 5 || len(resp) <= 2 {
		return resp, err // no data field, or no response data
	}
	c.pending, c.sw = resp[:len(resp)-2], resp[len(resp)-2:]
	return appendSW(nil, apdu.MoreDataSW(len(c.pending))), nil
}

func (c *t0Card) Reset(ctx context.Context) error {
	c.pending, c.sw = nil, nil
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
				return &t0Card{Card: c}, nil
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

func appendSW(b []byte, sw apdu.StatusWord) []byte { return append(b, sw.SW1(), sw.SW2()) }
