package piv

import (
	"bytes"
	"fmt"
	"testing"
	"testing/cryptotest"

	"github.com/tesseracard/tessera/apdu"
	"github.com/tesseracard/tessera/firmware/nvm"
	"github.com/tesseracard/tessera/firmware/pin"
	"github.com/tesseracard/tessera/firmware/profile"
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

// records returns every record except the PIN and PUK, whose counters change
// in steps of their own.
func pivRecords(s *nvm.Store) string {
	var b bytes.Buffer
	for _, k := range s.Keys("") {
		if k == keyPIN || k == keyPUK {
			continue
		}
		v, _ := s.Get(k)
		fmt.Fprintf(&b, "%s=%x\n", k, v)
	}
	return b.String()
}

// TestPIVTearEveryWrite extends the card OS's exhaustive tear test to every
// PIV command that writes: power is cut after each of its writes in turn, the
// card is powered on from what the medium holds, and no try may be gained,
// every other change must be all-or-nothing, and the card must answer.
func TestPIVTearEveryWrite(t *testing.T) {
	p, _ := profile.Builtin("default")
	points := 0
	for _, tc := range pivTearCases {
		t.Run(tc.name, func(t *testing.T) { points += tearEveryWrite(t, p, tc) })
	}
	fmt.Printf("tear test: piv: exercised %d tear points over %d commands\n", points, len(pivTearCases))
}

// tearEveryWrite runs tc on a card of profile p, then again with the power
// cut after each of its writes in turn, and checks the card after each cut.
// It returns the number of tear points exercised.
func tearEveryWrite(t *testing.T, p profile.Profile, tc pivTearCase) (points int) {
	prepare := func() (*testCard, int, string) {
		// Every run starts from the same card: Go's key generation
		// draws from the process-wide source, reset here.
		cryptotest.SetGlobalRandom(t, 1)
		c := newTestCardWith(t, p, nvm.NewTearable(&nvm.Memory{}), Options{})
		if tc.setup != nil {
			tc.setup(c)
		}
		tries := 0
		if tc.counter != "" {
			st, err := pin.New(c.c.Store(), tc.counter).Status()
			if err != nil {
				t.Fatal(err)
			}
			tries = st.Tries
		}
		return c, tries, pivRecords(c.c.Store())
	}
	c, _, before := prepare()
	saves := c.tm.Saves()
	_, sw := c.send(tc.cmd)
	if sw != apdu.SWSuccess && !sw.Is(apdu.SWVerificationFailed) && sw != apdu.SWAuthMethodBlocked {
		t.Fatalf("%s answered %04X", tc.cmd, uint16(sw))
	}
	writes := c.tm.Saves() - saves
	after := pivRecords(c.c.Store())
	if writes == 0 {
		t.Fatalf("%s made no persistent write", tc.cmd)
	}
	for cut := 0; cut <= writes; cut++ {
		c, tries, _ := prepare()
		c.tm.CutAfter(cut)
		out := c.c.Process(h(tc.cmd))
		if cut < writes && out != nil {
			t.Fatalf("cut after %d of %d writes: card answered % X", cut, writes, out)
		}
		c.tm.Restore()
		if _, err := c.c.PowerOn(); err != nil {
			t.Fatalf("cut after %d: power on: %v", cut, err)
		}
		if tc.counter != "" && cut < writes {
			st, err := pin.New(c.c.Store(), tc.counter).Status()
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case cut == 0 && st.Tries != tries:
				t.Errorf("cut before any write: %d tries, want %d", st.Tries, tries)
			case cut == 1 && st.Tries != tries-1:
				t.Errorf("cut after the first write: %d tries, want the decrement to %d on record", st.Tries, tries-1)
			case cut > 0 && !tc.right && st.Tries > tries-1:
				t.Errorf("cut after %d of %d writes: %d tries, more than %d", cut, writes, st.Tries, tries-1)
			}
		}
		if got := pivRecords(c.c.Store()); got != before && got != after {
			t.Errorf("cut after %d of %d writes: records are neither the old nor the new state", cut, writes)
		}
		c.expect("00 A4 04 00 05 A0 00 00 03 08", apdu.SWSuccess)
		if _, sw := c.send("00 20 00 80"); sw != apdu.SWAuthMethodBlocked && !sw.Is(apdu.SWVerificationFailed) {
			t.Errorf("cut after %d: PIN status answered %04X", cut, uint16(sw))
		}
		points++
	}
	return points
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
	points := tearEveryWrite(t, p, pivTearCase{name: "sign with a quota", setup: setup, cmd: signDigest, right: true})
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
