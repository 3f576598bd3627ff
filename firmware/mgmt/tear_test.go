package mgmt

import (
	"fmt"
	"strings"
	"testing"

	"github.com/tesseracard/tessera/apdu"
	"github.com/tesseracard/tessera/internal/cardtest"
)

// TestMgmtTearEveryWrite cuts the power after each write of WRITE CONFIG,
// in turn: the card must power on holding the old or the new
// configuration, and READ CONFIG must answer.
func TestMgmtTearEveryWrite(t *testing.T) {
	code := strings.Repeat("5A", 16)
	locked := func(tc *testCard) {
		tc.must(cmdSelect, apdu.SWSuccess)
		tc.must("00 1C 00 00 13 12 0A 10 "+code, apdu.SWSuccess)
	}
	tests := []struct {
		name  string
		setup func(tc *testCard)
		cmd   string
	}{
		{"disable PIV", nil, "00 1C 00 00 07 06 03 02 00 20 0C 00"},
		{"timeouts and flags", nil, "00 1C 00 00 0B 0A 06 02 01 2C 07 01 0F 08 01 80"},
		{"set lock code", nil, "00 1C 00 00 13 12 0A 10 " + code},
		{"clear lock code, enable all", locked, "00 1C 00 00 29 28 0B 10 " + code + " 0A 10 " + strings.Repeat("00", 16) + " 03 02 00 30"},
	}
	points := 0
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			points += cardtest.Tear{
				Prepare: func() cardtest.Card {
					tc := newTestCard(t, "")
					tc.must(cmdSelect, apdu.SWSuccess)
					if tt.setup != nil {
						tt.setup(tc)
					}
					return cardtest.Card{Card: tc.c, Tear: tc.tm}
				},
				Cmd: h(tt.cmd),
				Alive: func(c cardtest.Card) {
					tc := &testCard{t: t, c: c.Card, tm: c.Tear}
					tc.readConfig()
				},
			}.EveryWrite(t)
		})
	}
	fmt.Printf("tear test: mgmt: exercised %d tear points over %d commands\n", points, len(tests))
}
