package oath

import (
	"testing"

	"github.com/tesseracard/tessera/internal/cardtest"
)

// Meta-operations in a fuzz script, in place of a length byte.
const (
	metaUnlock = 0xFF // SELECT and VALIDATE with the test access code
	metaReset  = 0xFE // warm reset
	maxScript  = 2048
)

// FuzzOATH drives the application with random APDU sequences: no panic,
// every answer is a response with a valid status word, and a refused
// command leaves persistent memory unchanged.
func FuzzOATH(f *testing.F) {
	f.Add(cardtest.Script(cmdSelect, putCmd("t", 0x21, 6, seed20), calcCmd("t", timeStep(59), 1), "00 A1 00 00", "00 A4 00 01 0A 74 08 0000000000000001"))
	f.Add(cardtest.Script(cmdSelect, putCmd("h", 0x11, 8, seed20, []byte{0x78, 0x02}, tlv(0x7A, []byte{0, 0, 0, 9})), calcCmd("h", nil, 0), "00 02 00 00 03 71 01 68"))
	f.Add(cardtest.Script(cmdSelect, setCodeCmd(accessKey), byte(metaReset), byte(metaUnlock), "00 05 00 00 06 71 01 74 71 01 75", "00 04 DE AD"))
	f.Add(cardtest.Script(cmdSelect, "00 A5 00 00", "00 03 00 00 02 73 00", "00 01 00 00 04 78 71 01 41"))
	f.Fuzz(func(t *testing.T, script []byte) {
		if len(script) > maxScript {
			return
		}
		tc := newTestCard(t)
		meta := func(op byte) bool {
			switch op {
			case metaUnlock:
				_, ch := tc.selectInfo()
				if ch != nil {
					tc.c.Process(command(0xA3, 0, 0, tlv(tagResponse, hmacSHA1(accessKey, ch)), tlv(tagChallenge, []byte("12345678"))))
				}
			case metaReset:
				if _, err := tc.c.PowerOn(); err != nil {
					t.Fatal(err)
				}
			default:
				return false
			}
			return true
		}
		cardtest.RunScript(t, cardtest.Card{Card: tc.c, Tear: tc.tm}, script, meta, nil)
	})
}
