package openpgp

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

// cmdSelect selects the application by its 6-byte prefix, as GnuPG does.
const cmdSelect = "00 A4 04 00 06 D2 76 00 01 24 01"

// Passwords and their VERIFY commands.
const (
	verifyPW1Sign  = "00 20 00 81 06 313233343536"
	verifyPW1Other = "00 20 00 82 06 313233343536"
	verifyPW3      = "00 20 00 83 08 3132333435363738"
	wrongPW1       = "00 20 00 82 06 303030303030"
	wrongPW3       = "00 20 00 83 08 3030303030303030"
)

// testCard is a powered card carrying the OpenPGP application alone, on a
// tearable memory medium.
type testCard struct {
	t  testing.TB
	c  *firmware.Card
	tm *nvm.Tearable
}

// testProfile is the profile named, with the extra YAML doc.
func testProfile(t testing.TB, base, doc string) profile.Profile {
	t.Helper()
	p, err := profile.Parse([]byte("base: " + base + "\nname: t\n" + doc))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func newTestCard(t testing.TB) *testCard {
	t.Helper()
	return newCardOf(t, testProfile(t, "openpgp", ""), nvm.NewTearable(&nvm.Memory{}))
}

// newCardOf is a card of profile p on tm, which may hold a card.
func newCardOf(t testing.TB, p profile.Profile, tm *nvm.Tearable) *testCard {
	t.Helper()
	return newCardWith(t, p, tm, Options{})
}

// newCardWith is newCardOf with the application's options.
func newCardWith(t testing.TB, p profile.Profile, tm *nvm.Tearable, opts Options) *testCard {
	t.Helper()
	return &testCard{t: t, c: cardtest.NewCard(t, p, tm, 7, New(p, opts)), tm: tm}
}

// sendRaw transmits a command and returns its data (61xx followed with GET
// RESPONSE) and status word.
func (tc *testCard) sendRaw(cmd []byte) ([]byte, apdu.StatusWord) {
	tc.t.Helper()
	r := cardtest.Fetch(tc.c, cmd)
	return r.Data, r.SW
}

func (tc *testCard) send(hexCmd string) ([]byte, apdu.StatusWord) {
	tc.t.Helper()
	return tc.sendRaw(h(hexCmd))
}

// must sends a command and fails the test unless it answers want.
func (tc *testCard) must(hexCmd string, want apdu.StatusWord) []byte {
	tc.t.Helper()
	return tc.mustRaw(h(hexCmd), want)
}

func (tc *testCard) mustRaw(cmd []byte, want apdu.StatusWord) []byte {
	tc.t.Helper()
	data, sw := tc.sendRaw(cmd)
	if sw != want {
		tc.t.Fatalf("% X: SW %04X, want %04X", cmd, uint16(sw), uint16(want))
	}
	return data
}

func (tc *testCard) power() {
	tc.t.Helper()
	if _, err := tc.c.PowerOn(); err != nil {
		tc.t.Fatal(err)
	}
}

// admin selects the application and verifies PW3.
func (tc *testCard) admin() {
	tc.t.Helper()
	tc.must(cmdSelect, apdu.SWSuccess)
	tc.must(verifyPW3, apdu.SWSuccess)
}

// getData is GET DATA of tag.
func (tc *testCard) getData(tag uint16) []byte {
	tc.t.Helper()
	return tc.mustRaw([]byte{0x00, 0xCA, byte(tag >> 8), byte(tag), 0x00}, apdu.SWSuccess)
}

// getWhole reads constructed DO tag with GET DATA and returns its value,
// failing the test unless the answer is the DO itself, tag and length
// included, and nothing else.
func (tc *testCard) getWhole(tag uint16) []byte {
	tc.t.Helper()
	b := tc.getData(tag)
	d, rest, err := apdu.ParseTLV(b)
	if err != nil || d.Tag != apdu.Tag(tag) || len(rest) != 0 {
		tc.t.Fatalf("GET DATA %04X = % X, want the DO %04X whole (%v)", tag, b, tag, err)
	}
	return d.Value
}

// command builds a short or extended command with data.
func command(cla, ins, p1, p2 byte, data []byte) []byte {
	c := apdu.Command{CLA: cla, INS: ins, P1: p1, P2: p2, Data: data, Ne: 256}
	b, err := c.Marshal()
	if err != nil {
		panic(err)
	}
	return b
}

// putData is PUT DATA of tag with v.
func putData(tag uint16, v []byte) []byte {
	return command(0x00, 0xDA, byte(tag>>8), byte(tag), v)
}
