package piv

import (
	"fmt"
	"testing"
	"testing/cryptotest"

	"github.com/tesseracard/tessera/apdu"
	"github.com/tesseracard/tessera/firmware/nvm"
	"github.com/tesseracard/tessera/firmware/profile"
	"github.com/tesseracard/tessera/internal/cardtest"
)

// pivTearCase is one PIV command that writes persistent memory, with the
// exchanges that prepare the card for it.
type pivTearCase struct {
	name    string
	setup   func(tc *testCard)
	cmd     string
	counter string // the PIN record whose tries the command spends, if any
	right   bool   // the value presented is the right one
}

func blockPIN(tc *testCard) {
	for range 3 {
		tc.verifyPIN("000000")
	}
}

func blockPUK(tc *testCard) {
	for range 3 {
		tc.send("00 24 00 81 10 " + pinField("00000000") + pinField("00000000"))
	}
}

func withKey(tc *testCard) {
	tc.mustAuthenticate()
	tc.expect("00 47 00 9A 05 AC 03 80 01 11", apdu.SWSuccess)
}

var pivTearCases = []pivTearCase{
	{"verify right", nil, "00 20 00 80 08 " + pinField("123456"), keyPIN, true},
	{"verify wrong", nil, "00 20 00 80 08 " + pinField("000000"), keyPIN, false},
	{"change PIN right", nil, "00 24 00 80 10 " + pinField("123456") + pinField("246810"), keyPIN, true},
	{"change PIN wrong", nil, "00 24 00 80 10 " + pinField("000000") + pinField("246810"), keyPIN, false},
	{"change PUK right", nil, "00 24 00 81 10 " + pinField("12345678") + pinField("87654321"), keyPUK, true},
	{"change PUK wrong", nil, "00 24 00 81 10 " + pinField("00000000") + pinField("87654321"), keyPUK, false},
	{"unblock right", blockPIN, "00 2C 00 80 10 " + pinField("12345678") + pinField("135790"), keyPUK, true},
	{"unblock wrong", blockPIN, "00 2C 00 80 10 " + pinField("00000000") + pinField("135790"), keyPUK, false},
	{"unblock wrong, empty new PIN", blockPIN, "00 2C 00 80 10 " + pinField("") + pinField(""), keyPUK, false},
	{"generate P-256", (*testCard).mustAuthenticate, "00 47 00 9A 0B AC 09 80 01 11 AA 01 02 AB 01 01", "", true},
	{"generate Ed25519 over a key", withKey, "00 47 00 9A 05 AC 03 80 01 E0", "", true},
	{"import P-256", (*testCard).mustAuthenticate, "00 FE 11 9C 22 06 20 " + fmt.Sprintf("%064x", 12345), "", true},
	{"put data", (*testCard).mustAuthenticate, "00 DB 3F FF 0F 5C 03 5F C1 02 53 08 30 06 02 01 01 02 01 02", "", true},
	{"delete data", func(tc *testCard) {
		tc.mustAuthenticate()
		tc.expect("00 DB 3F FF 0B 5C 03 5F C1 02 53 04 01 02 03 04", apdu.SWSuccess)
	}, "00 DB 3F FF 07 5C 03 5F C1 02 53 00", "", true},
	{"set management key", (*testCard).mustAuthenticate, "00 FF FF FF 1B 03 9B 18 " + fmt.Sprintf("%048x", 1), "", true},
	{"set PIN retries", func(tc *testCard) { tc.mustAuthenticate(); tc.verifyPIN("123456") }, "00 FA 05 04", "", true},
	{"move key", withKey, "00 F6 9D 9A", "", true},
	{"delete key", withKey, "00 F6 FF 9A", "", true},
	{"reset", func(tc *testCard) { withKey(tc); blockPIN(tc); blockPUK(tc) }, "00 FB 00 00", "", true},
}

// TestPIVTearEveryWrite extends the card OS's exhaustive tear test to every
// PIV command that writes: power is cut after each of its writes in turn, the
// card is powered on from what the medium holds, and no try may be gained,
// every other change must be all-or-nothing, and the card must answer.
func TestPIVTearEveryWrite(t *testing.T) {
	p, _ := profile.Builtin("default")
	points := 0
	for _, tc := range pivTearCases {
		t.Run(tc.name, func(t *testing.T) { points += pivTear(t, p, tc).EveryWrite(t) })
	}
	fmt.Printf("tear test: piv: exercised %d tear points over %d commands\n", points, len(pivTearCases))
}

// pivTear is the power-cut test of tc on a card of profile p: every run
// starts from the same card, prepared by tc.setup, and after each cut the
// PIV application must still be selectable and report its PIN status. The
// PIN and PUK records are left out of the all-or-nothing comparison (their
// counters change in steps of their own, checked through Counter).
func pivTear(t *testing.T, p profile.Profile, tc pivTearCase) cardtest.Tear {
	return cardtest.Tear{
		Prepare: func() cardtest.Card {
			// Go's key generation draws from the process-wide source,
			// reset here.
			cryptotest.SetGlobalRandom(t, 1)
			c := newTestCardWith(t, p, nvm.NewTearable(&nvm.Memory{}), Options{})
			if tc.setup != nil {
				tc.setup(c)
			}
			return cardtest.Card{Card: c.c, Tear: c.tm}
		},
		Cmd: h(tc.cmd), Counter: tc.counter, Right: tc.right, Skip: []string{keyPIN, keyPUK},
		Alive: func(c cardtest.Card) {
			tc := &testCard{t: t, c: c.Card, tm: c.Tear, prof: p}
			tc.expect("00 A4 04 00 05 A0 00 00 03 08", apdu.SWSuccess)
			if _, sw := tc.send("00 20 00 80"); sw != apdu.SWAuthMethodBlocked && !sw.Is(apdu.SWVerificationFailed) {
				t.Errorf("PIN status answered %04X", uint16(sw))
			}
		},
	}
}

// signDigest is GENERAL AUTHENTICATE of slot 9A (P-256) over a 32-byte
// digest; badDigest's 33 bytes are longer than the curve and answer 6A80.
const (
	signDigest = "00 87 11 9A 26 7C 24 82 00 81 20 " + "1111111111111111111111111111111111111111111111111111111111111111"
	badDigest  = "00 87 11 9A 27 7C 25 82 00 81 21 " + "111111111111111111111111111111111111111111111111111111111111111111"
)

// quotaProfile is the default profile with a signature quota of 2 (and no
// TOTP, so that signing needs only the PIN).
func quotaProfile() profile.Profile {
	p, _ := profile.Builtin("default")
	p.PIV.SignatureQuota = 2
	return p
}

// TestPIVTearQuota: on a card with a signature quota, a signature is
// answered only once the quota has been spent on record. Power is cut at
// each write of a signature: the card then answers nothing and the quota
// is the old one, or answers the signature and the quota is spent.
func TestPIVTearQuota(t *testing.T) {
	p := quotaProfile()
	setup := func(tc *testCard) { withKey(tc); tc.verifyPIN("123456") }
	points := pivTear(t, p, pivTearCase{name: "sign with a quota", setup: setup, cmd: signDigest, right: true}).EveryWrite(t)
	quota := func(tc *testCard) int {
		st, err := ReadCloudState(tc.c.Store())
		if err != nil {
			t.Fatal(err)
		}
		return st.Quota
	}
	for cut := 0; cut <= 1; cut++ {
		cryptotest.SetGlobalRandom(t, 1)
		tc := newTestCardWith(t, p, nvm.NewTearable(&nvm.Memory{}), Options{})
		setup(tc)
		tc.tm.CutAfter(cut)
		out := tc.c.Process(h(signDigest))
		tc.tm.Restore()
		if _, err := tc.c.PowerOn(); err != nil {
			t.Fatal(err)
		}
		switch got := quota(tc); {
		case out != nil && got != 1:
			t.Errorf("cut after %d writes: the card answered % X with %d signatures left on record, want the quota spent (1)", cut, out, got)
		case out == nil && got != 2:
			t.Errorf("cut after %d writes: no answer, yet %d signatures left on record, want 2", cut, got)
		case cut == 1 && out == nil:
			t.Errorf("cut after the quota write: no answer, want the signature")
		}
	}
	fmt.Printf("tear test: piv quota: exercised %d tear points\n", points)
}
