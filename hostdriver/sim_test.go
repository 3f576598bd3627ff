package hostdriver_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/tesseracard/tessera/apdu"
	"github.com/tesseracard/tessera/firmware"
	"github.com/tesseracard/tessera/firmware/nvm"
	"github.com/tesseracard/tessera/firmware/profile"
	"github.com/tesseracard/tessera/hostdriver"
	"github.com/tesseracard/tessera/simulator"
)

// cardTransport reaches a firmware card in-process.
type cardTransport struct{ c *firmware.Card }

func (t cardTransport) Transmit(_ context.Context, cmd []byte) ([]byte, error) {
	out := t.c.Process(cmd)
	if out == nil {
		return nil, hostdriver.ErrCardRemoved
	}
	return out, nil
}

// TestConnAgainstTheFirmware runs the exchange rules against a real Tessera
// card: a long object fetched through 61xx and a 3 KB object written by
// chaining and read back.
func TestConnAgainstTheFirmware(t *testing.T) {
	p, _ := profile.Builtin("default")
	card, err := simulator.NewCard(p, &nvm.Memory{}, simulator.CardOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := card.PowerOn(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	c := &hostdriver.Conn{T: cardTransport{card}}
	if _, err := c.Do(ctx, apdu.Command{INS: 0xA4, P1: 0x04, Data: []byte{0xA0, 0, 0, 3, 8}}); err != nil {
		t.Fatal(err)
	}
	att, err := c.Do(ctx, apdu.Command{INS: 0xCB, P1: 0x3F, P2: 0xFF, Data: []byte{0x5C, 0x03, 0x5F, 0xFF, 0x01}, Ne: 256})
	if err != nil || len(att) <= 256 {
		t.Fatalf("GET DATA 5FFF01 = %d bytes, %v; want the whole object past 256 bytes", len(att), err)
	}
	if _, _, err := apdu.ParseTLV(att); err != nil {
		t.Errorf("reassembled object does not parse: %v", err)
	}
	if _, err := c.Do(ctx, apdu.Command{INS: 0x20, P2: 0x80, Data: []byte("000000\xFF\xFF")}); err == nil {
		t.Errorf("a wrong PIN was accepted")
	}
	if _, err := c.Do(ctx, apdu.Command{INS: 0xDB, P1: 0x3F, P2: 0xFF, Data: append([]byte{0x5C, 0x03, 0x5F, 0xC1, 0x05, 0x53, 0x82, 0x0B, 0xB8}, make([]byte, 3000)...)}); err == nil {
		t.Errorf("PUT DATA without management key authentication succeeded")
	} else if !bytes.Contains([]byte(err.Error()), []byte("6982")) {
		t.Errorf("PUT DATA error = %v, want 6982", err)
	}
}
