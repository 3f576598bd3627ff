package mgmt

import (
	"testing"

	"github.com/tesseracard/tessera/internal/cardtest"
)

const (
	metaReset = 0xFD // power-on
	maxScript = 2048
)

// FuzzMgmt drives the management application with random APDU sequences:
// no panic, every answer is a response with a valid status word, and a
// refused command leaves persistent memory unchanged.
func FuzzMgmt(f *testing.F) {
	f.Add(cardtest.Script(cmdSelect, "00 1D 00 00 00", "00 1C 00 00 07 06 03 02 00 20 0C 00", byte(metaReset), "00 A4 04 00 05 A000000308"))
	f.Add(cardtest.Script(cmdSelect, "00 1C 00 00 13 12 0A 10 11111111111111111111111111111111", "00 1C 00 00 05 04 03 02 00 10", "00 1D 00 00 00"))
	f.Add(cardtest.Script(cmdSelect, "00 1C 00 00 0B 0A 06 02 01 2C 07 01 0F 08 01 80", "00 16 11 00 01 06", "10 1C 00 00 01 00"))
	f.Fuzz(func(t *testing.T, script []byte) {
		if len(script) > maxScript {
			return
		}
		tc := newTestCard(t, "device: {nfc: true}")
		meta := func(op byte) bool {
			if op == metaReset {
				tc.power()
			}
			return op == metaReset
		}
		cardtest.RunScript(t, cardtest.Card{Card: tc.c, Tear: tc.tm}, script, meta, nil)
	})
}
