package hosttest

import (
	"context"
	"sync"

	"github.com/tesseracard/tessera/apdu"
	"github.com/tesseracard/tessera/hostdriver"
)

// T0 reaches a card as PC/SC reaches a T=0 card (ISO/IEC 7816-3 §12.2): a
// command with a data field (case 3 or 4) carries no response data back,
// so when the card has data for it the answer is 61xx alone, and the data
// comes by GET RESPONSE, the card's own status word after the last piece.
// Host code that handles real T=0 cards handles it; code that wants data
// with the first answer to such a command does not.
type T0 struct {
	hostdriver.Transport

	mu      sync.Mutex
	pending []byte // data waiting for GET RESPONSE
	sw      []byte // the card's status word after it; nil: nothing pending
}

// Transmit sends cmd over the T=0 rules above.
func (c *T0) Transmit(ctx context.Context, cmd []byte) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
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
	resp, err := c.Transport.Transmit(ctx, cmd)
	if err != nil || len(cmd) <= 5 || len(resp) <= 2 {
		return resp, err // no data field, or no response data
	}
	c.pending, c.sw = resp[:len(resp)-2], resp[len(resp)-2:]
	return appendSW(nil, apdu.MoreDataSW(len(c.pending))), nil
}

// Forget drops what is pending, as a reset of the card does.
func (c *T0) Forget() {
	c.mu.Lock()
	c.pending, c.sw = nil, nil
	c.mu.Unlock()
}

func appendSW(b []byte, sw apdu.StatusWord) []byte { return append(b, sw.SW1(), sw.SW2()) }
