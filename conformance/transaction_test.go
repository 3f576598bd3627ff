package conformance

import (
	"context"
	"testing"
)

// txCard is a scriptCard that can hold transactions, and logs them among
// the commands: "begin", "end", or "cmd".
type txCard struct {
	scriptCard
	log []string
	in  bool
}

func (c *txCard) Transmit(ctx context.Context, cmd []byte) ([]byte, error) {
	c.log = append(c.log, "cmd")
	return c.scriptCard.Transmit(ctx, cmd)
}

func (c *txCard) BeginTransaction(context.Context) error {
	c.log = append(c.log, "begin")
	c.in = true
	return nil
}

func (c *txCard) EndTransaction() error {
	c.log = append(c.log, "end")
	c.in = false
	return nil
}

// TestRunHoldsATransactionPerCase: on a card that is not Fresh, each case
// runs inside a transaction of its own, so that no other program's
// command reaches the card between two of the case's (on a real card in a
// shared reader, another program's SELECT between VERIFY and the command
// it allows failed the case); only the choice of applications before the
// first case is sent outside one. Before, the suite took none.
func TestRunHoldsATransactionPerCase(t *testing.T) {
	card := &txCard{scriptCard: scriptCard{answer: pivOnly}}
	ids := map[string]bool{"VE05.07": true, "PIV-GETDATA-P1P2": true}
	rep, err := Run(context.Background(), Target{Name: "PIV in a shared reader", Open: func(context.Context) (Card, error) { return card, nil }},
		Options{Filter: func(c Case) bool { return ids[c.ID] }})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Results) != len(ids) {
		t.Fatalf("%d results, want %d: %s", len(rep.Results), len(ids), rep.Summary())
	}
	begins, depth, first := 0, 0, -1
	for i, e := range card.log {
		switch e {
		case "begin":
			begins++
			depth++
			if first < 0 {
				first = i
			}
		case "end":
			depth--
		case "cmd":
			if first >= 0 && depth != 1 {
				t.Errorf("command %d of the run sent outside a transaction (%v)", i, card.log)
			}
		}
		if depth < 0 || depth > 1 {
			t.Fatalf("transactions unbalanced at %d: %v", i, card.log)
		}
	}
	if begins != len(ids) || depth != 0 {
		t.Errorf("%d transactions begun, %d left open, want one per case (%d), all ended: %v", begins, depth, len(ids), card.log)
	}
}
