package isoapp

import (
	"testing"

	"github.com/tesseracard/tessera/apdu"
	"github.com/tesseracard/tessera/firmware"
	"github.com/tesseracard/tessera/firmware/nvm"
	"github.com/tesseracard/tessera/firmware/profile"
	"github.com/tesseracard/tessera/internal/cardtest"
)

// h is cardtest.Hex: an APDU written in spaced hex.
func h(s string) []byte { return cardtest.Hex(s) }

// testCard is a powered iso-token card on a tearable memory medium.
type testCard struct {
	t  testing.TB
	c  *firmware.Card
	tm *nvm.Tearable
}

func newTestCard(t testing.TB) *testCard {
	t.Helper()
	return newTestCardOn(t, nvm.NewTearable(&nvm.Memory{}))
}

func newTestCardOn(t testing.TB, tm *nvm.Tearable) *testCard {
	t.Helper()
	p, ok := profile.Builtin("iso-token")
	if !ok {
		t.Fatal("no iso-token profile")
	}
	return &testCard{t: t, c: cardtest.NewCard(t, p, tm, 9, New(p.ISO)), tm: tm}
}

func (tc *testCard) power() {
	tc.t.Helper()
	if _, err := tc.c.PowerOn(); err != nil {
		tc.t.Fatal(err)
	}
}

// send transmits a command given in hex and returns data and status word.
func (tc *testCard) send(hexCmd string) ([]byte, apdu.StatusWord) {
	tc.t.Helper()
	return tc.sendRaw(h(hexCmd))
}

func (tc *testCard) sendRaw(cmd []byte) ([]byte, apdu.StatusWord) {
	tc.t.Helper()
	resp := tc.c.Process(cmd)
	if len(resp) < 2 {
		tc.t.Fatalf("%X: card mute", cmd)
	}
	return resp[:len(resp)-2], apdu.SWFromBytes(resp[len(resp)-2], resp[len(resp)-1])
}

// must sends a command and fails the test unless it answers want.
func (tc *testCard) must(hexCmd string, want apdu.StatusWord) []byte {
	tc.t.Helper()
	data, sw := tc.send(hexCmd)
	if sw != want {
		tc.t.Fatalf("%s: SW %04X, want %04X", hexCmd, uint16(sw), uint16(want))
	}
	return data
}

// fetch sends a command and follows 61xx with GET RESPONSE.
func (tc *testCard) fetch(cmd []byte) ([]byte, apdu.StatusWord) {
	tc.t.Helper()
	data, sw := tc.sendRaw(cmd)
	for {
		n, more := sw.BytesRemaining()
		if !more {
			return data, sw
		}
		var d []byte
		d, sw = tc.sendRaw([]byte{0x00, 0xC0, 0x00, 0x00, byte(n)})
		data = append(data, d...)
	}
}

// Commands of the personalisation: SELECT the application, set the PUK
// 0123456789abcdef and the PIN 123456, VERIFY it.
const (
	cmdSelectApp = "00a404000cf276a288bcfba69d34f31001"
	cmdSetPUK    = "002401021030313233343536373839616263646566"
	cmdSetPIN    = "0024010106313233343536"
	cmdVerifyPIN = "002000011031323334353600000000000000000000"
)

// personalised returns a card with PUK and PIN set and the application
// selected (the PIN not verified).
func personalised(t testing.TB) *testCard {
	tc := newTestCard(t)
	tc.must(cmdSelectApp, apdu.SWSuccess)
	tc.must(cmdSetPUK, apdu.SWSuccess)
	tc.must(cmdSetPIN, apdu.SWSuccess)
	return tc
}
