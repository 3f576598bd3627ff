package simtarget

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/tesseracard/tessera/apdu"
	"github.com/tesseracard/tessera/conformance"
)

// interruptingCard is a simulated card taken for a real one behind PC/SC:
// Transmit and Reset refuse a context that has ended before anything is
// sent (PC/SC cannot abandon an exchange in flight, so hostdriver/pcsc
// checks first), and the first GENERATE's answer cancels the run, as a
// Ctrl-C during a real card's key generation does.
type interruptingCard struct {
	*Card
	cancel context.CancelFunc
}

func (c interruptingCard) Transmit(ctx context.Context, cmd []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out, err := c.Card.Transmit(ctx, cmd)
	if len(cmd) > 1 && cmd[1] == apdu.InsGenerateKeyPairOdd {
		c.cancel()
	}
	return out, err
}

func (c interruptingCard) Reset(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return c.Card.Reset(ctx)
}

func (interruptingCard) Close() error { return nil }

// asRealCard opens a default-profile card and returns it, its factory
// credentials and a target that takes it for a real one (not Fresh), each
// connection the card wrap makes of it.
func asRealCard(t *testing.T, wrap func(*Card) conformance.Card) (conformance.Target, conformance.Credentials, *Card) {
	t.Helper()
	_, creds, err := Target("default")
	if err != nil {
		t.Fatal(err)
	}
	c, err := Open(Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	target := conformance.Target{Name: "a simulated card taken for a real one", Open: func(context.Context) (conformance.Card, error) { return wrap(c), nil }}
	return target, creds, c
}

// emptySlots checks, after a reset, that GET METADATA finds no key in
// slots: the suite left none of its own.
func emptySlots(t *testing.T, c *Card, creds conformance.Credentials, slots ...byte) *conformance.Env {
	t.Helper()
	e := conformance.NewEnv(c, creds, conformance.AppPIV)
	bg := context.Background()
	if err := c.Reset(bg); err != nil {
		t.Fatal(err)
	}
	if err := e.SelectApp(bg); err != nil {
		t.Fatal(err)
	}
	for _, slot := range slots {
		if _, sw, err := e.Metadata(bg, slot); err != nil || sw != apdu.SWReferenceNotFound {
			t.Errorf("GET METADATA %02X after the run answered %04X (%v), want 6A88: the suite's key left in the slot", slot, uint16(sw), err)
		}
	}
	return e
}

// TestConformInterruptedPutsTheCardBack: a run on a real card interrupted
// (Ctrl-C, --timeout) right after GENERATE made a key in a slot --slots
// named deletes that key, the PIN's counter stays full, and no case starts
// after. P-384's answer is whole; RSA-2048's comes in two parts (61xx,
// then GET RESPONSE, which the ended context refuses): the key is on the
// card all the same. Before, the putting back ran on the cancelled context
// and failed at its first command, and a GENERATE whose GET RESPONSE
// failed registered no deletion: the real card kept the suite's key in the
// user's slot.
func TestConformInterruptedPutsTheCardBack(t *testing.T) {
	for _, id := range []string{"PIV-SIGN-P384", "PIV-SIGN-RSA2048"} {
		t.Run(id, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			target, creds, c := asRealCard(t, func(c *Card) conformance.Card { return interruptingCard{c, cancel} })
			rep, err := conformance.Run(ctx, target, conformance.Options{
				Destructive: true, Credentials: creds, Slots: []byte{0x9A, 0x9C},
				Filter: func(k conformance.Case) bool { return k.ID == id || k.ID == "PIV-ECDH-P256" },
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Results) != 2 {
				t.Fatalf("%d results, want 2: %s", len(rep.Results), rep.Summary())
			}
			for _, r := range rep.Results {
				switch {
				case r.ID == id && strings.Contains(r.Message, "putting the card back"):
					t.Errorf("%s: %s %q, want the card put back", r.ID, r.Outcome, r.Message)
				case r.ID != id && (r.Outcome != conformance.Skipped || !strings.Contains(r.Message, "stopped")):
					t.Errorf("%s after the interrupted case: %s %q, want skipped: the run was stopped", r.ID, r.Outcome, r.Message)
				}
			}
			e := emptySlots(t, c, creds, 0x9A, 0x9C)
			if tries, err := e.Tries(context.Background()); err != nil || tries != 3 {
				t.Errorf("the PIN has %d tries (%v) after the run, want 3", tries, err)
			}
		})
	}
}

// deadlineCard is a simulated card taken for a real one that notes how
// long the case had left when GENERATE was sent.
type deadlineCard struct {
	*Card
	left *time.Duration
}

func (c deadlineCard) Transmit(ctx context.Context, cmd []byte) ([]byte, error) {
	if d, ok := ctx.Deadline(); ok && len(cmd) > 1 && cmd[1] == apdu.InsGenerateKeyPairOdd {
		*c.left = time.Until(d)
	}
	return c.Card.Transmit(ctx, cmd)
}

func (deadlineCard) Close() error { return nil }

// TestConformRealCardCaseTime: on a card that is not Fresh, a case left to
// the default bound sends GENERATE with minutes to spare: a real card's
// RSA-4096 key generation takes 10 to 90 s, which PC/SC cannot cut short.
// Before, the bound was a minute for every target, so a slow real card
// failed the case right after it had made the key.
func TestConformRealCardCaseTime(t *testing.T) {
	var left time.Duration
	target, creds, _ := asRealCard(t, func(c *Card) conformance.Card { return deadlineCard{c, &left} })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute) // the run's bound, as tessera conform's --timeout
	defer cancel()
	rep, err := conformance.Run(ctx, target, conformance.Options{
		Destructive: true, Credentials: creds, Slots: []byte{0x9A},
		Filter: func(k conformance.Case) bool { return k.ID == "PIV-SIGN-ECDSA" },
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Results) != 1 || rep.Results[0].Outcome != conformance.Passed {
		t.Fatalf("results %+v, want PIV-SIGN-ECDSA passed", rep.Results)
	}
	if left < 3*time.Minute {
		t.Errorf("GENERATE was sent with %v left for the case, want minutes: a real card's RSA-4096 takes up to 90 s", left.Round(time.Second))
	}
}

// brokenGetResponse is a simulated card taken for a real one whose first
// GET RESPONSE after a GENERATE fails with 6F00: the key is on the card,
// its public key only half read.
type brokenGetResponse struct {
	*Card
	generated, failed *bool
}

func (c brokenGetResponse) Transmit(ctx context.Context, cmd []byte) ([]byte, error) {
	if len(cmd) > 1 && cmd[1] == apdu.InsGetResponse && *c.generated && !*c.failed {
		*c.failed = true
		return []byte{0x6F, 0x00}, nil
	}
	out, err := c.Card.Transmit(ctx, cmd)
	if len(cmd) > 1 && cmd[1] == apdu.InsGenerateKeyPairOdd {
		*c.generated = true
	}
	return out, err
}

func (brokenGetResponse) Close() error { return nil }

// TestConformGenerateHalfReadIsDeleted: a GENERATE whose public key came
// in part (256 bytes and 61xx) before the card failed made a key all the
// same: the case fails, and the key is deleted. Before, only a complete
// 9000 registered the deletion.
func TestConformGenerateHalfReadIsDeleted(t *testing.T) {
	var generated, failed bool
	target, creds, c := asRealCard(t, func(c *Card) conformance.Card { return brokenGetResponse{c, &generated, &failed} })
	rep := runSuite(t, target, conformance.Options{
		Destructive: true, Credentials: creds, Slots: []byte{0x9C},
		Filter: func(k conformance.Case) bool { return k.ID == "PIV-SIGN-RSA2048" },
	})
	if len(rep.Results) != 1 || rep.Results[0].Outcome != conformance.Failed || !failed {
		t.Fatalf("results %+v (GET RESPONSE failed: %v), want PIV-SIGN-RSA2048 failed", rep.Results, failed)
	}
	emptySlots(t, c, creds, 0x9C)
}
