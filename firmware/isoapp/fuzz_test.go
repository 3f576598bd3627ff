package isoapp

import (
	"testing"
	"testing/cryptotest"

	"github.com/tesseracard/tessera/apdu"
	"github.com/tesseracard/tessera/internal/cardtest"
)

// Meta-operations in a fuzz script, in place of a length byte, so that the
// fuzzer reaches the commands behind the PIN.
const (
	metaPersonalise = 0xFF // SELECT, set PUK and PIN (answers ignored)
	metaVerifyPIN   = 0xFE // VERIFY with the right PIN
	metaReset       = 0xFD // warm reset
	maxScript       = 2048
)

// FuzzISO drives the application with random APDU sequences: no panic,
// every answer is a response with a valid status word, and a refused command
// leaves persistent memory unchanged, except that a failed verification
// (63Cx or 6983) changes only the PIN or PUK counter.
func FuzzISO(f *testing.F) {
	f.Add(cardtest.Script(cmdSelectApp, "00 A4 00 00 02 3F00 00", cmdCreateDF, cmdCreateEF, "00 D6 00 00 02 0102", "00 B0 00 00 00"))
	f.Add(cardtest.Script(byte(metaPersonalise), byte(metaVerifyPIN), cmdCreateDF, cmdCreateEF, "00 E4 00 00 02 5015", "00 A4 08 00 04 50154401 00"))
	f.Add(cardtest.Script(byte(metaPersonalise), cmdWrongPIN, cmdWrongPIN, cmdWrongPIN, cmdVerifyPIN, "00 2C 00 01 14 30313233343536373839616263646566 39393939"))
	f.Add(cardtest.Script(byte(metaPersonalise), byte(metaVerifyPIN), "00 22 41 00 06 80 01 EC 84 01 02", ecGenP256, "00 C0 00 00 17", "00 22 41 B6 06 80 01 21 84 01 02", "00 2A 9E 9A 03 010203 00"))
	f.Add(cardtest.Script(byte(metaPersonalise), byte(metaVerifyPIN), "00 22 41 00 06 80 01 EC 84 01 03", "10 DB 3F FF 04 E0 81 F1 81", byte(metaReset), "00 84 00 00 08"))
	f.Fuzz(func(t *testing.T, script []byte) {
		if len(script) > maxScript {
			return
		}
		cryptotest.SetGlobalRandom(t, 1)
		tc := newTestCard(t)
		for len(script) > 0 {
			n := int(script[0])
			script = script[1:]
			switch n {
			case metaPersonalise:
				for _, c := range []string{cmdSelectApp, cmdSetPUK, cmdSetPIN} {
					tc.send(c)
				}
				continue
			case metaVerifyPIN:
				tc.send(cmdVerifyPIN)
				continue
			case metaReset:
				tc.power()
				continue
			}
			n = min(n, len(script))
			raw := script[:n]
			script = script[n:]
			if len(raw) >= 2 && raw[1] == 0x46 {
				if cmd, err := apdu.ParseCommand(raw); err == nil && len(cmd.Data) == 0 && cmd.CLA&0x10 == 0 {
					continue // RSA-2048 generation finds nothing new and slows the fuzzer
				}
			}
			before, _ := tc.tm.Load()
			out := tc.c.Process(raw)
			after, _ := tc.tm.Load()
			cardtest.CheckAnswer(t, raw, out, before, after, keyPIN, keyPUK)
		}
	})
}
