package piv

import (
	"github.com/tesseracard/tessera/internal/cardtest"
	"testing"
	"testing/cryptotest"

	"github.com/tesseracard/tessera/apdu"
	"github.com/tesseracard/tessera/firmware/nvm"
	"github.com/tesseracard/tessera/pivalg"
)

// Meta-operations in a fuzz script, in place of a length byte: the fuzzer
// cannot decrypt a witness or guess the PIN, so these let it reach the
// commands behind them.
const (
	metaAuthenticate = 0xFF // mutual authentication with the right key
	metaVerifyPIN    = 0xFE // VERIFY with the right PIN
	metaReset        = 0xFD // warm reset
	maxScript        = 2048
)

// FuzzPIV drives the PIV application with random APDU sequences: no panic,
// every answer is a response with a valid status word, and a refused command
// leaves persistent memory unchanged, except that a failed verification
// (63Cx, or 6983 for the blocking try) changes only the PIN or PUK counter.
func FuzzPIV(f *testing.F) {
	f.Add(cardtest.Script("00 FD 00 00", "00 F8 00 00", "00 F7 00 9B", "00 20 00 80"))
	f.Add(cardtest.Script(byte(metaAuthenticate), "00 47 00 9A 05 AC 03 80 01 11", byte(metaVerifyPIN), "00 87 11 9A 26 7C 24 82 00 81 20 0102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F20"))
	f.Add(cardtest.Script(byte(metaAuthenticate), "00 DB 3F FF 0B 5C 03 5F C1 02 53 04 01 02 03 04", "00 CB 3F FF 05 5C 03 5F C1 02"))
	f.Add(cardtest.Script("00 20 00 80 08 3030303030303030", "00 20 00 80 08 3030303030303030", "00 20 00 80 08 3030303030303030", "00 2C 00 80 10 3132333435363738 313131313131FFFF"))
	f.Add(cardtest.Script(byte(metaAuthenticate), "00 47 00 9E 05 AC 03 80 01 E0", "00 F9 9E 00", "00 C0 00 00 00", "00 F6 FF 9E"))
	f.Add(cardtest.Script(byte(metaAuthenticate), "00 FF FF FF 13 08 9B 10 0102030405060708090A0B0C0D0E0F10", byte(metaReset), "00 A4 04 00 05 A0 00 00 03 08", "00 F7 00 9B"))
	f.Fuzz(func(t *testing.T, script []byte) {
		if len(script) > maxScript {
			return
		}
		cryptotest.SetGlobalRandom(t, 1)
		tc := newTestCard(t, "default")
		for len(script) > 0 {
			n := int(script[0])
			script = script[1:]
			switch n {
			case metaAuthenticate: // may fail, e.g. with nothing selected after a reset
				tc.authenticate(tc.prof.PIV.MgmtKeyAlgorithmID(), tc.prof.PIV.MgmtKey)
				continue
			case metaVerifyPIN:
				tc.verifyPIN("123456")
				continue
			case metaReset:
				if _, err := tc.c.Reset(); err != nil {
					t.Fatal(err)
				}
				continue
			}
			n = min(n, len(script))
			raw := script[:n]
			script = script[n:]
			if cmd, err := apdu.ParseCommand(raw); err == nil && cmd.INS == apdu.InsGenerateKeyPairOdd && len(cmd.Data) > 4 && pivalg.RSABits(cmd.Data[4]) > 1024 {
				continue // large RSA key generation finds nothing new and slows the fuzzer
			}
			before, _ := tc.tm.Load()
			out := tc.c.Process(raw)
			r, err := apdu.ParseResponse(out)
			if err != nil {
				t.Fatalf("Process(% X) = % X: not a response", raw, out)
			}
			sw1 := r.SW.SW1()
			if sw1 != 0x90 && sw1 != 0x61 && (sw1 < 0x62 || sw1 > 0x6F || sw1 == 0x6C) {
				t.Fatalf("Process(% X): SW %04X is not a valid status word", raw, uint16(r.SW))
			}
			if r.SW == apdu.SWSuccess || sw1 == 0x61 {
				continue
			}
			after, _ := tc.tm.Load()
			changed, err := nvm.ChangedKeys(before, after)
			if err != nil {
				t.Fatal(err)
			}
			if r.SW.Is(apdu.SWVerificationFailed) || r.SW == apdu.SWAuthMethodBlocked {
				for _, k := range changed {
					if k != keyPIN && k != keyPUK {
						t.Fatalf("Process(% X) failed verification with %04X but changed %s", raw, uint16(r.SW), k)
					}
				}
				continue
			}
			if len(changed) > 0 {
				t.Fatalf("Process(% X) refused with %04X but changed %v", raw, uint16(r.SW), changed)
			}
		}
	})
}
