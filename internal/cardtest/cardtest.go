// Package cardtest is the firmware side's test helper: the test drivers
// that every on-card application shares (the card builder, the exhaustive
// power-cut test and the fuzz-script checks), working on the card OS
// directly. It is imported by tests only. Its host-side counterpart, which
// reaches a card through hostdriver as a host program does, is
// internal/hosttest.
package cardtest

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/tesseracard/tessera/apdu"
	"github.com/tesseracard/tessera/firmware"
	"github.com/tesseracard/tessera/firmware/nvm"
	"github.com/tesseracard/tessera/firmware/pin"
	"github.com/tesseracard/tessera/firmware/profile"
)

// Card is a powered card on a tearable medium.
type Card struct {
	Card *firmware.Card
	Tear *nvm.Tearable
}

// Tear describes one state-changing command to cut the power in.
type Tear struct {
	// Prepare returns a fresh powered card ready for Cmd. Every call must
	// give the same card (reset any global random source in it).
	Prepare func() Card
	// Cmd is the command; 61xx is followed with GET RESPONSE.
	Cmd []byte
	// Counter is the store key of the PIN or PUK whose try the command
	// spends, if any; Right says the value presented is the right one.
	Counter string
	Right   bool
	// Skip are store keys left out of the all-or-nothing comparison (the
	// PIN and PUK records, whose counters change in steps of their own).
	Skip []string
	// Alive checks, after each cut and power-on, that the card still
	// answers as it should.
	Alive func(c Card)
}

// Records formats every record of s except those named in skip.
func Records(s *nvm.Store, skip ...string) string {
	var b bytes.Buffer
	for _, k := range s.Keys("") {
		if contains(skip, k) {
			continue
		}
		v, _ := s.Get(k)
		fmt.Fprintf(&b, "%s=%x\n", k, v)
	}
	return b.String()
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// tries is the counter's tries left, or 0 when there is no counter.
func (tr Tear) tries(t testing.TB, c Card) int {
	t.Helper()
	if tr.Counter == "" {
		return 0
	}
	st, err := pin.New(c.Card.Store(), tr.Counter).Status()
	if err != nil {
		t.Fatal(err)
	}
	return st.Tries
}

// EveryWrite runs the command once to count its writes, then again with the
// power cut after each of them in turn. After each cut the card must power
// on from what the medium holds, gain no try, hold the old or the new
// records and nothing in between, and pass Alive. It returns the number of
// tear points exercised.
func (tr Tear) EveryWrite(t testing.TB) (points int) {
	t.Helper()
	c := tr.Prepare()
	before := Records(c.Card.Store(), tr.Skip...)
	saves := c.Tear.Saves()
	resp := Fetch(c.Card, tr.Cmd)
	if sw := resp.SW; sw != apdu.SWSuccess && !FailedTry(tr.Cmd, sw) {
		t.Fatalf("% X answered %04X", tr.Cmd, uint16(sw))
	}
	writes := c.Tear.Saves() - saves
	after := Records(c.Card.Store(), tr.Skip...)
	if writes == 0 {
		t.Fatalf("% X made no persistent write", tr.Cmd)
	}
	for cut := 0; cut <= writes; cut++ {
		c := tr.Prepare()
		tries := tr.tries(t, c)
		c.Tear.CutAfter(cut)
		out := c.Card.Process(tr.Cmd)
		if cut < writes && out != nil {
			t.Fatalf("cut after %d of %d writes: card answered % X", cut, writes, out)
		}
		c.Tear.Restore()
		if _, err := c.Card.PowerOn(); err != nil {
			t.Fatalf("cut after %d: power on: %v", cut, err)
		}
		if tr.Counter != "" && cut < writes {
			switch got := tr.tries(t, c); {
			case cut == 0 && got != tries:
				t.Errorf("cut before any write: %d tries, want %d", got, tries)
			case cut == 1 && got != tries-1:
				t.Errorf("cut after the first write: %d tries, want the decrement to %d on record", got, tries-1)
			case cut > 0 && !tr.Right && got > tries-1:
				t.Errorf("cut after %d of %d writes: %d tries, more than %d", cut, writes, got, tries-1)
			}
		}
		if got := Records(c.Card.Store(), tr.Skip...); got != before && got != after {
			t.Errorf("cut after %d of %d writes: records are neither the old nor the new state", cut, writes)
		}
		tr.Alive(c)
		points++
	}
	return points
}

// Fetch sends a command and follows 61xx with GET RESPONSE; a mute card
// gives the zero Response.
func Fetch(c *firmware.Card, cmd []byte) apdu.Response {
	var data []byte
	for {
		r, err := apdu.ParseResponse(c.Process(cmd))
		if err != nil {
			return apdu.Response{}
		}
		data = append(data, r.Data...)
		n, more := r.SW.BytesRemaining()
		if !more {
			return apdu.Response{Data: data, SW: r.SW}
		}
		cmd = []byte{0x00, 0xC0, 0x00, 0x00, byte(n)}
	}
}

// Script builds a fuzz seed: each command ([]byte, or a string in spaced
// hex as Hex reads it) is prefixed with its length; each byte is a
// meta-operation the fuzz target interprets.
func Script(parts ...any) []byte {
	var b []byte
	for _, p := range parts {
		if s, ok := p.(string); ok {
			p = Hex(s)
		}
		switch p := p.(type) {
		case byte:
			b = append(b, p)
		case []byte:
			b = append(b, byte(len(p)))
			b = append(b, p...)
		default:
			panic(fmt.Sprintf("cardtest.Script: %T", p))
		}
	}
	return b
}

// RunScript runs a fuzz script (see Script) on c: a byte for which meta
// reports true is a meta-operation meta has carried out; any other is the
// length of the command that follows (cut short at the script's end),
// which is sent unless skip (if not nil) leaves it out, and its answer
// checked with CheckAnswer, counters as there.
func RunScript(t testing.TB, c Card, script []byte, meta func(op byte) bool, skip func(raw []byte) bool, counters ...string) {
	t.Helper()
	for len(script) > 0 {
		op := script[0]
		script = script[1:]
		if meta(op) {
			continue
		}
		n := min(int(op), len(script))
		raw := script[:n]
		script = script[n:]
		if skip != nil && skip(raw) {
			continue
		}
		before, _ := c.Tear.Load()
		out := c.Card.Process(raw)
		after, _ := c.Tear.Load()
		CheckAnswer(t, raw, out, before, after, counters...)
	}
}

// FailedTry reports whether sw answers cmd as a failed verification, one
// that may have spent a try: 63Cx or 6983 to any command, and 6982 to
// VERIFY, CHANGE REFERENCE DATA and RESET RETRY COUNTER (a YubiKey's
// OpenPGP application answers a wrong password so).
func FailedTry(cmd []byte, sw apdu.StatusWord) bool {
	if sw.Is(apdu.SWVerificationFailed) || sw == apdu.SWAuthMethodBlocked {
		return true
	}
	if sw != apdu.SWSecurityStatusNotSatisfied || len(cmd) < 2 {
		return false
	}
	switch cmd[1] {
	case apdu.InsVerify, apdu.InsChangeReferenceData, apdu.InsResetRetryCounter:
		return true
	}
	return false
}

// CheckAnswer is the fuzz invariant for one command: the card answered a
// response with a valid status word (6Cxx only to GET RESPONSE), and a refused command changed no
// persistent record, except that a failed verification (FailedTry) may
// change the records named in counters.
func CheckAnswer(t testing.TB, cmd, out, before, after []byte, counters ...string) {
	t.Helper()
	r, err := apdu.ParseResponse(out)
	if err != nil {
		t.Fatalf("Process(% X) = % X: not a response", cmd, out)
	}
	sw1 := r.SW.SW1()
	wrongLe := sw1 == 0x6C && len(cmd) >= 2 && cmd[1] == apdu.InsGetResponse // only GET RESPONSE may answer 6Cxx
	if sw1 != 0x90 && sw1 != 0x61 && (sw1 < 0x62 || sw1 > 0x6F || (sw1 == 0x6C && !wrongLe)) {
		t.Fatalf("Process(% X): SW %04X is not a valid status word", cmd, uint16(r.SW))
	}
	if r.SW == apdu.SWSuccess || sw1 == 0x61 {
		return
	}
	changed, err := nvm.ChangedKeys(before, after)
	if err != nil {
		t.Fatal(err)
	}
	verifying := FailedTry(cmd, r.SW)
	for _, k := range changed {
		if !verifying || !contains(counters, k) {
			t.Fatalf("Process(% X) refused with %04X but changed %s", cmd, uint16(r.SW), k)
		}
	}
}

// NewCard makes a card of profile p with the given applets on medium m,
// with a deterministic random source (from seed) and a fixed clock, and
// powers it on.
func NewCard(t testing.TB, p profile.Profile, m nvm.Medium, seed byte, applets ...firmware.Applet) *firmware.Card {
	t.Helper()
	c, err := firmware.New(firmware.Config{
		ATR:            p.ATR,
		Medium:         m,
		Rand:           rand.NewChaCha8([32]byte{seed}),
		Clock:          func() time.Time { return time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC) },
		Capacity:       p.Capacity,
		MaxCommand:     p.MaxCommand,
		ExtendedLength: p.ExtendedLength,
		Applets:        applets,
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.PowerOn(); err != nil {
		t.Fatal(err)
	}
	return c
}

// Hex decodes hex written with spaces, tabs or newlines between the digits,
// as tests write APDUs; a malformed literal is a bug in the test and panics.
func Hex(s string) []byte {
	b, err := hex.DecodeString(strings.NewReplacer(" ", "", "\n", "", "\t", "").Replace(s))
	if err != nil {
		panic(err)
	}
	return b
}
