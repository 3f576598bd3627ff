package oath

import (
	"fmt"
	"testing"

	"github.com/tesseracard/tessera/apdu"
	"github.com/tesseracard/tessera/firmware/nvm"
	"github.com/tesseracard/tessera/internal/cardtest"
)

// oathTearCase is one OATH command that writes persistent memory, with the
// exchanges that prepare the card for it.
type oathTearCase struct {
	name  string
	setup func(tc *testCard)
	cmd   []byte
}

func withCreds(tc *testCard) {
	tc.selectInfo()
	tc.must(putCmd("totp", typeTOTP|algSHA1, 6, seed20), apdu.SWSuccess)
	tc.must(putCmd("hotp", typeHOTP|algSHA1, 6, seed20), apdu.SWSuccess)
}

func withCode(tc *testCard) {
	withCreds(tc)
	tc.must(setCodeCmd(accessKey), apdu.SWSuccess)
	tc.unlock()
}

var oathTearCases = []oathTearCase{
	{"put", func(tc *testCard) { tc.selectInfo() }, putCmd("new", typeTOTP|algSHA2, 8, seed32, []byte{tagProperty, propTouch})},
	{"put over", withCreds, putCmd("totp", typeHOTP|algSHA5, 8, seed64, tlv(tagIMF, []byte{0, 0, 1, 0}))},
	{"delete", withCreds, command(apdu.InsOATHDelete, 0, 0, tlv(tagName, []byte("hotp")))},
	{"rename", withCreds, command(apdu.InsOATHRename, 0, 0, tlv(tagName, []byte("hotp")), tlv(tagName, []byte("renamed")))},
	{"calculate HOTP", withCreds, calcCmd("hotp", nil, 1)},
	{"set code", withCreds, setCodeCmd(accessKey)},
	{"remove code", withCode, command(apdu.InsOATHSetCode, 0, 0, tlv(tagKey, nil))},
	{"reset", withCode, h("00 04 DE AD")},
}

// TestOATHTearEveryWrite cuts the power after each write of every OATH
// command that writes: the card must power on holding the old or the new
// records and nothing in between (a HOTP counter advanced or not, a
// credential renamed or not, RESET all or nothing), and answer SELECT.
func TestOATHTearEveryWrite(t *testing.T) {
	points := 0
	for _, tt := range oathTearCases {
		t.Run(tt.name, func(t *testing.T) {
			points += cardtest.Tear{
				Prepare: func() cardtest.Card {
					tm := nvm.NewTearable(&nvm.Memory{})
					p := testProfile()
					tc := &testCard{t: t, c: cardtest.NewCard(t, p, tm, 7, New(p, Options{})), tm: tm}
					tt.setup(tc)
					return cardtest.Card{Card: tc.c, Tear: tm}
				},
				Cmd: tt.cmd,
				Alive: func(c cardtest.Card) {
					tc := &testCard{t: t, c: c.Card, tm: c.Tear}
					tc.selectInfo()
				},
			}.EveryWrite(t)
		})
	}
	fmt.Printf("tear test: oath: exercised %d tear points over %d commands\n", points, len(oathTearCases))
}
