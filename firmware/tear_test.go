package firmware

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/tesseracard/tessera/apdu"
	"github.com/tesseracard/tessera/firmware/nvm"
	"github.com/tesseracard/tessera/firmware/pin"
)

const (
	right = true
	wrong = false
)

// tearCase is one state-changing command with the commands that set it up.
type tearCase struct {
	name    string
	setup   []string
	cmd     string
	counter string // the PIN record whose tries the command spends; "" if none
	right   bool   // whether the value presented is the right one
}

var tearCases = []tearCase{
	{"verify right", []string{selectTest}, verifyRight, "t/pin", right},
	{"verify wrong", []string{selectTest}, verifyWrong, "t/pin", wrong},
	{"verify wrong at last try", []string{selectTest, verifyWrong, verifyWrong}, verifyWrong, "t/pin", wrong},
	{"change PIN right", []string{selectTest}, "00 24 00 80 0D 06 313233343536 393939393939", "t/pin", right},
	{"change PIN wrong", []string{selectTest}, "00 24 00 80 0D 06 303030303030 393939393939", "t/pin", wrong},
	{"change PUK right", []string{selectTest}, "00 24 00 81 11 08 3132333435363738 3939393939393939", "t/puk", right},
	{"change PUK wrong", []string{selectTest}, "00 24 00 81 11 08 3030303030303030 3939393939393939", "t/puk", wrong},
	{"unblock right", []string{selectTest, verifyWrong, verifyWrong, verifyWrong}, "00 2C 00 80 0F 08 3132333435363738 313131313131", "t/puk", right},
	{"unblock wrong", []string{selectTest, verifyWrong}, "00 2C 00 80 0F 08 3030303030303030 313131313131", "t/puk", wrong},
	{"put data transaction", []string{selectTest, verifyRight}, "00 DB 05 00 04 4E455721", "", right},
}

func records(s *nvm.Store, prefix string) map[string]string {
	out := map[string]string{}
	for _, k := range s.Keys(prefix) {
		v, _ := s.Get(k)
		out[k] = string(v)
	}
	return out
}

// TestTearEveryWrite cuts power after every persistent write of every
// state-changing command, powers the card on again from what the medium
// holds, and checks that no try was gained, that transactions are
// all-or-nothing, and that the card answers normally.
func TestTearEveryWrite(t *testing.T) {
	points := 0
	for _, tc := range tearCases {
		t.Run(tc.name, func(t *testing.T) {
			prepare := func() (*Card, *nvm.Tearable, int, map[string]string) {
				c, tm := newCard(t)
				for _, s := range tc.setup {
					send(t, c, s)
				}
				tries := 0
				if tc.counter != "" {
					st, err := pin.New(c.Store(), tc.counter).Status()
					if err != nil {
						t.Fatal(err)
					}
					tries = st.Tries
				}
				return c, tm, tries, records(c.Store(), "t/obj")
			}
			// The complete run: how many writes, and the objects after.
			c, tm, _, before := prepare()
			saves := tm.Saves()
			_, sw := send(t, c, tc.cmd)
			writes := tm.Saves() - saves
			after := records(c.Store(), "t/obj")
			if writes == 0 {
				t.Fatalf("%s made no persistent write (SW %04X)", tc.cmd, uint16(sw))
			}
			for cut := 0; cut <= writes; cut++ {
				c, tm, tries, _ := prepare()
				tm.CutAfter(cut)
				out := c.Process(h(tc.cmd))
				if cut < writes && (out != nil || c.Powered()) {
					t.Fatalf("cut after %d of %d writes: card answered % X", cut, writes, out)
				}
				if cut == writes {
					if r, err := apdu.ParseResponse(out); err != nil || r.SW != sw {
						t.Fatalf("cut after all %d writes: answer % X, want SW %04X", writes, out, uint16(sw))
					}
				}
				tm.Restore()
				if _, err := c.PowerOn(); err != nil {
					t.Fatalf("cut after %d: power on: %v", cut, err)
				}
				if tc.counter != "" && cut < writes {
					st, err := pin.New(c.Store(), tc.counter).Status()
					if err != nil {
						t.Fatal(err)
					}
					// The first write is the decrement, made before the
					// compare; only a right value may restore the counter,
					// and only in a later write.
					switch {
					case cut == 0 && st.Tries != tries:
						t.Errorf("cut before any write: %d tries, want %d untouched", st.Tries, tries)
					case cut == 1 && st.Tries != tries-1:
						t.Errorf("cut after the first write: %d tries, want the decrement to %d on record", st.Tries, tries-1)
					case cut > 0 && !tc.right && st.Tries > tries-1:
						t.Errorf("cut after %d of %d writes: %d tries left, more than the %d a counted attempt leaves", cut, writes, st.Tries, tries-1)
					}
				}
				got := records(c.Store(), "t/obj")
				if fmt.Sprint(got) != fmt.Sprint(before) && fmt.Sprint(got) != fmt.Sprint(after) {
					t.Errorf("cut after %d of %d writes: objects %v are neither the old %v nor the new %v", cut, writes, got, before, after)
				}
				expectSW(t, c, selectTest, apdu.SWSuccess)
				if _, sw := send(t, c, verifyStatus); sw != apdu.SWAuthMethodBlocked && !sw.Is(apdu.SWVerificationFailed) {
					t.Errorf("cut after %d: next command answered %04X", cut, uint16(sw))
				}
				points++
			}
		})
	}
	fmt.Printf("tear test: firmware: exercised %d tear points over %d commands\n", points, len(tearCases))
}

// FuzzProcess drives Card.Process with random APDU sequences: no panic, every
// answer ends in a valid status word, and persistent memory is unchanged
// after every command the card refused.
func FuzzProcess(f *testing.F) {
	seq := func(cmds ...string) []byte {
		var b []byte
		for _, c := range cmds {
			raw := h(c)
			b = append(b, byte(len(raw)))
			b = append(b, raw...)
		}
		return b
	}
	f.Add(seq(selectTest, verifyRight, "00 DB 02 00 02 4142", "00 CA 00 00"))
	f.Add(seq(selectTest, verifyWrong, verifyWrong, verifyWrong, verifyStatus))
	f.Add(seq(selectTest, "00 CB 03 00", "00 C0 00 00 00", "00 C0 00 00 10"))
	f.Add(seq(selectTest, verifyRight, "10 DB 00 00 02 4142", "00 DB 00 00 01 43"))
	f.Add(seq(selectTest, "00 2C 00 80 0F 08 3132333435363738 313131313131"))
	f.Fuzz(func(t *testing.T, script []byte) {
		if len(script) > 4096 { // longer scripts find nothing new and slow the fuzzer
			return
		}
		c, tm := newCard(t)
		for len(script) > 0 {
			n := int(script[0])
			script = script[1:]
			if n == 0xFF { // a reset in the middle of the sequence
				if _, err := c.Reset(); err != nil {
					t.Fatal(err)
				}
				continue
			}
			n = min(n, len(script))
			raw := script[:n]
			script = script[n:]
			before, _ := tm.Load()
			out := c.Process(raw)
			r, err := apdu.ParseResponse(out)
			if err != nil {
				t.Fatalf("Process(% X) = % X: not a response", raw, out)
			}
			sw1 := r.SW.SW1()
			if sw1 != 0x90 && sw1 != 0x61 && (sw1 < 0x62 || sw1 > 0x6F) || sw1 == 0x6C || sw1 == 0x60 {
				t.Fatalf("Process(% X) SW %04X is not a valid status word", raw, uint16(r.SW))
			}
			if r.SW != apdu.SWSuccess && sw1 != 0x61 && !r.SW.Is(apdu.SWVerificationFailed) {
				if after, _ := tm.Load(); !bytes.Equal(before, after) {
					t.Fatalf("Process(% X) refused with %04X but changed persistent memory", raw, uint16(r.SW))
				}
			}
		}
	})
}
