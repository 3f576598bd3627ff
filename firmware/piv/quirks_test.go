package piv

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"

	"github.com/tesseracard/tessera/apdu"
	"github.com/tesseracard/tessera/firmware/nvm"
	"github.com/tesseracard/tessera/firmware/profile"
	"github.com/tesseracard/tessera/pivalg"
)

// quirkCard is a PIV test card of the built-in profile base with quirks on.
func quirkCard(t *testing.T, base string, quirks ...string) *testCard {
	t.Helper()
	p, _ := profile.Builtin(base)
	p.Quirks = quirks
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	return newTestCardWith(t, p, nvm.NewTearable(&nvm.Memory{}), Options{})
}

// TestPINQuirks: each PIN quirk of the applet shows where its name says,
// and the same commands on the clean profile behave.
func TestPINQuirks(t *testing.T) {
	type step struct {
		apdu string
		want apdu.StatusWord
	}
	tests := []struct {
		name  string
		base  string
		quirk string // "" for the clean profile
		steps []step
	}{
		{"policy enforced", "default", "", []step{
			{"00 24 00 80 10 " + pinField("123456") + pinField("12345"), apdu.SWIncorrectData},
			{"00 20 00 80", apdu.RetriesSW(3)},
		}},
		{"policy not enforced", "default", profile.QuirkPINPolicyNotEnforced, []step{
			{"00 24 00 80 10 " + pinField("123456") + pinField("12345"), apdu.SWSuccess},
			{"00 20 00 80 08 " + pinField("12345"), apdu.SWSuccess},
		}},
		{"malformed PIN spends nothing", "default", "", []step{
			{"00 20 00 80 07 31 32 33 34 35 36 FF", apdu.SWIncorrectData},
			{"00 20 00 80", apdu.RetriesSW(3)},
		}},
		{"malformed PIN spends a try", "default", profile.QuirkMalformedPINSpendsTry, []step{
			{"00 20 00 80 07 31 32 33 34 35 36 FF", apdu.SWIncorrectData},
			{"00 20 00 80", apdu.RetriesSW(2)},
		}},
		{"malformed PIN spends a try, strict profile", "piv", profile.QuirkMalformedPINSpendsTry, []step{
			{"00 20 00 80 08 31 FF 32 33 34 35 36 FF", apdu.SWIncorrectData},
			{"00 20 00 80", apdu.RetriesSW(2)},
		}},
		{"no decrement", "default", profile.QuirkNoDecrement, []step{
			{"00 20 00 80 08 " + pinField("000000"), apdu.RetriesSW(3)},
			{"00 20 00 80 08 " + pinField("000000"), apdu.RetriesSW(3)},
			{"00 20 00 80 08 " + pinField("000000"), apdu.RetriesSW(3)},
			{"00 20 00 80 08 " + pinField("123456"), apdu.SWSuccess},
		}},
		{"restore before compare answers like a correct card", "default", profile.QuirkRestoreBeforeCompare, []step{
			{"00 20 00 80 08 " + pinField("000000"), apdu.RetriesSW(2)},
			{"00 20 00 80", apdu.RetriesSW(2)},
		}},
	}
	for _, tt := range tests {
		var tc *testCard
		if tt.quirk == "" {
			tc = quirkCard(t, tt.base)
		} else {
			tc = quirkCard(t, tt.base, tt.quirk)
		}
		for i, s := range tt.steps {
			if _, sw := tc.send(s.apdu); sw != s.want {
				t.Errorf("%s: step %d %s: SW %04X, want %04X", tt.name, i+1, s.apdu, uint16(sw), uint16(s.want))
			}
		}
	}
}

// TestChangeVerifiesThePIN: a successful CHANGE REFERENCE DATA of the PIN
// leaves it verified (SP 800-73-4 Part 2 §3.2.2, SP 800-85A-4 VE05.26); a
// failed one leaves it unverified (VE05.27).
func TestChangeVerifiesThePIN(t *testing.T) {
	tc := newTestCard(t, "default")
	tc.expect("00 24 00 80 10 "+pinField("123456")+pinField("654321"), apdu.SWSuccess)
	tc.expect("00 20 00 80", apdu.SWSuccess)
	tc.expect("00 24 00 80 10 "+pinField("000000")+pinField("111111"), apdu.RetriesSW(2))
	tc.expect("00 20 00 80", apdu.RetriesSW(2))
}

// TestTransportPINProfile: a profile with piv.transport_pin delivers the
// factory PIN as must-change; RESET brings it back so.
func TestTransportPINProfile(t *testing.T) {
	p, _ := profile.Builtin("default")
	p.PIV.TransportPIN = true
	tc := newTestCardWith(t, p, nvm.NewTearable(&nvm.Memory{}), Options{})
	tc.mustAuthenticate()
	generate(t, tc, slotSignature, pivalg.P256)
	digest := sha256.Sum256([]byte("x"))
	if sw := tc.verifyPIN("123456"); sw != apdu.SWSuccess {
		t.Fatalf("VERIFY transport PIN: %04X", uint16(sw))
	}
	if _, sw := sign(t, tc, slotSignature, pivalg.P256, digest[:]); sw != apdu.SWSecurityStatusNotSatisfied {
		t.Errorf("signature with the transport PIN: %04X, want 6982", uint16(sw))
	}
	tc.expect("00 24 00 80 10 "+pinField("123456")+pinField("271828"), apdu.SWSuccess)
	if _, sw := sign(t, tc, slotSignature, pivalg.P256, digest[:]); sw != apdu.SWSuccess {
		t.Errorf("signature after the change: %04X, want 9000", uint16(sw))
	}
}

// TestPasswordPINFields: a password policy of 8 to 12 characters widens the
// PIN field to 12 bytes; 8-byte fields still work for 8-character PINs.
func TestPasswordPINFields(t *testing.T) {
	p, _ := profile.Builtin("piv")
	p.PIV.PIN = "Initial1"
	p.PIV.PINPolicy = profile.Policy{MinLength: 8, MaxLength: 12, Charset: "alphanumeric", RequireUpper: true, RequireLower: true, RequireDigit: true}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	tc := newTestCardWith(t, p, nvm.NewTearable(&nvm.Memory{}), Options{})
	field := func(v string, n int) string {
		b := []byte(v)
		for len(b) < n {
			b = append(b, 0xFF)
		}
		return hex.EncodeToString(b)
	}
	tests := []struct {
		apdu string
		want apdu.StatusWord
	}{
		{"00 20 00 80 08 " + field("Initial1", 8), apdu.SWSuccess},
		{"00 20 00 80 0C " + field("Initial1", 12), apdu.SWSuccess},
		{"00 20 00 80 0A " + field("Initial1", 10), apdu.SWIncorrectData},                           // neither width
		{"00 24 00 80 18 " + field("Initial1", 12) + field("abcdefgh1", 12), apdu.SWIncorrectData},  // no upper case
		{"00 24 00 80 18 " + field("Initial1", 12) + field("Abcdefgh1!", 12), apdu.SWIncorrectData}, // special
		{"00 24 00 80 18 " + field("Initial1", 12) + field("Abc1234", 12), apdu.SWIncorrectData},    // 7
		{"00 20 00 80", apdu.RetriesSW(3)},
		{"00 24 00 80 18 " + field("Initial1", 12) + field("Passw0rd12AB", 12), apdu.SWSuccess},
		{"00 20 00 80 0C " + field("Passw0rd12AB", 12), apdu.SWSuccess},
		{"00 2C 00 80 14 " + field("12345678", 8) + field("Unblock3dPIN", 12), apdu.SWSuccess},
		{"00 20 00 80 0C " + field("Unblock3dPIN", 12), apdu.SWSuccess},
		{"00 24 00 81 18 " + field("12345678", 12) + field("87654321", 12), apdu.SWIncorrectData}, // the PUK field stays 8
	}
	for i, tt := range tests {
		if _, sw := tc.send(tt.apdu); sw != tt.want {
			t.Errorf("step %d %s: SW %04X, want %04X", i+1, tt.apdu, uint16(sw), uint16(tt.want))
		}
	}
}
