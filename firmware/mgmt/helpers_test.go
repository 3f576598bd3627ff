package mgmt

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

const cmdSelect = "00 A4 04 00 08 A000000527471117"

// stubApplet stands for an application the configuration governs: it
// answers SELECT and nothing else.
type stubApplet struct{ aid []byte }

func (s stubApplet) AID() []byte                                          { return s.aid }
func (stubApplet) Boot(*firmware.Context) error                           { return nil }
func (stubApplet) Select(*firmware.Context, apdu.Command) ([]byte, error) { return nil, nil }
func (stubApplet) Deselect(*firmware.Context)                             {}
func (stubApplet) Process(*firmware.Context, apdu.Command) ([]byte, error) {
	return nil, apdu.SWINSNotSupported
}

var (
	pivAID  = []byte{0xA0, 0x00, 0x00, 0x03, 0x08, 0x00, 0x00, 0x10, 0x00, 0x01, 0x00}
	oathAID = []byte{0xA0, 0x00, 0x00, 0x05, 0x27, 0x21, 0x01}
	// pgpAID is an OpenPGP AID: version 3.4, Yubico, serial 29173673.
	pgpAID = []byte{0xD2, 0x76, 0x00, 0x01, 0x24, 0x01, 0x03, 0x04, 0x00, 0x06, 0x29, 0x17, 0x36, 0x73, 0x00, 0x00}
)

// testCard is a powered yubikey-5.7 card with the management application
// and stand-ins for PIV, OATH and OpenPGP, on a tearable medium.
type testCard struct {
	t  testing.TB
	c  *firmware.Card
	tm *nvm.Tearable
}

func newTestCard(t testing.TB, doc string) *testCard {
	t.Helper()
	return newTestCardOn(t, doc, nvm.NewTearable(&nvm.Memory{}))
}

// newTestCardOn is newTestCard on the medium tm, which may hold a card.
func newTestCardOn(t testing.TB, doc string, tm *nvm.Tearable) *testCard {
	t.Helper()
	p, err := profile.Parse([]byte("base: yubikey-5.7\nname: t\n" + doc))
	if err != nil {
		t.Fatal(err)
	}
	return &testCard{t: t, c: cardtest.NewCard(t, p, tm, 7, stubApplet{pivAID}, New(p, Options{}), stubApplet{oathAID}, stubApplet{pgpAID}), tm: tm}
}

func (tc *testCard) power() {
	tc.t.Helper()
	if _, err := tc.c.PowerOn(); err != nil {
		tc.t.Fatal(err)
	}
}

func (tc *testCard) send(hexCmd string) ([]byte, apdu.StatusWord) {
	tc.t.Helper()
	resp := tc.c.Process(h(hexCmd))
	if len(resp) < 2 {
		tc.t.Fatalf("%s: card mute", hexCmd)
	}
	return resp[:len(resp)-2], apdu.SWFromBytes(resp[len(resp)-2], resp[len(resp)-1])
}

func (tc *testCard) must(hexCmd string, want apdu.StatusWord) []byte {
	tc.t.Helper()
	data, sw := tc.send(hexCmd)
	if sw != want {
		tc.t.Fatalf("%s = %v, want %v", hexCmd, sw, want)
	}
	return data
}

// readConfig selects the application and returns READ CONFIG's TLVs.
func (tc *testCard) readConfig() map[apdu.Tag][]byte {
	tc.t.Helper()
	tc.must(cmdSelect, apdu.SWSuccess)
	data := tc.must("00 1D 00 00 00", apdu.SWSuccess)
	if len(data) == 0 || int(data[0]) != len(data)-1 {
		tc.t.Fatalf("READ CONFIG = % X: length byte wrong", data)
	}
	tlvs, err := apdu.ParseTLVs(data[1:])
	if err != nil {
		tc.t.Fatal(err)
	}
	m := map[apdu.Tag][]byte{}
	for _, t := range tlvs {
		m[t.Tag] = t.Value
	}
	return m
}
