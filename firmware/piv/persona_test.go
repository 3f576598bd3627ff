package piv

import (
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/tesseracard/tessera/apdu"
	"github.com/tesseracard/tessera/firmware/nvm"
)

// TestIssuedCredentials: a pin-puk-envelope card draws a random PIN and
// PUK at its first boot; RevealIssued gives them once, and they work.
func TestIssuedCredentials(t *testing.T) {
	tc := newTestCard(t, "pin-puk-envelope")
	s := tc.c.Store()
	if !HasIssued(s) {
		t.Fatal("HasIssued() = false on a fresh card")
	}
	in, err := RevealIssued(s)
	if err != nil || len(in.PIN) != 6 || len(in.PUK) != 8 {
		t.Fatalf("RevealIssued() = %+v, %v; want a 6-digit PIN and an 8-digit PUK", in, err)
	}
	for _, c := range in.PIN + in.PUK {
		if c < '0' || c > '9' {
			t.Fatalf("RevealIssued() = %+v: not digits", in)
		}
	}
	if _, err := RevealIssued(s); !errors.Is(err, ErrNotIssued) {
		t.Errorf("second RevealIssued() error %v, want ErrNotIssued", err)
	}
	if sw := tc.verifyPIN(in.PIN); sw != apdu.SWSuccess {
		t.Errorf("VERIFY with the issued PIN = %04X, want 9000", uint16(sw))
	}
	tc.expect("00 24 00 81 10 "+pinField(in.PUK)+pinField("11223344"), apdu.SWSuccess)
}

// TestAdminReset: on the virtual-token persona the user has no PUK (6985)
// and the management key resets the password, keeping the keys.
func TestAdminReset(t *testing.T) {
	tc := newTestCard(t, "virtual-token")
	field := func(v string) string {
		b := []byte(v)
		for len(b) < 12 {
			b = append(b, 0xFF)
		}
		return hex.EncodeToString(b)
	}
	tc.expect("00 CB 3F FF 05 5C 03 5F FF 21", apdu.SWSuccess) // the holder's identity number, no PIN
	tc.expect("00 2C 00 80 14 3132333435363738"+field("Other1234"), apdu.SWConditionsNotSatisfied)
	tc.expect("00 24 00 81 10 "+pinField("12345678")+pinField("87654321"), apdu.SWConditionsNotSatisfied)
	tc.expect("00 2C 02 80 0C "+field("Admin1Reset"), apdu.SWSecurityStatusNotSatisfied)
	tc.mustAuthenticate()
	tc.expect("00 2C 01 80 0C "+field("Admin1Reset"), apdu.SWIncorrectP1P2)
	tc.expect("00 2C 02 80 0C "+field("nodigits"), apdu.SWIncorrectData)
	tc.expect("00 2C 02 80 0C "+field("Admin1Reset"), apdu.SWSuccess)
	tc.expect("00 20 00 80 0C "+field("Admin1Reset"), apdu.SWSuccess)
}

// TestQuotaSpentOnSuccess: the quota counts signatures produced, not
// attempts: an operation that fails on its input (6A80) or its security
// status (6982) spends nothing; once spent, 6985.
func TestQuotaSpentOnSuccess(t *testing.T) {
	tc := newTestCardWith(t, quotaProfile(), nvm.NewTearable(&nvm.Memory{}), Options{})
	withKey(tc)
	steps := []struct {
		what  string
		cmd   string
		want  apdu.StatusWord
		quota int
	}{
		{"sign without the PIN", signDigest, apdu.SWSecurityStatusNotSatisfied, 2},
		{"verify", "00 20 00 80 08 " + pinField("123456"), apdu.SWSuccess, 2},
		{"sign a digest longer than the curve", badDigest, apdu.SWIncorrectData, 2},
		{"sign with an algorithm the slot does not hold", "00 87 14 9A 26 7C 24 82 00 81 20 " + strings.Repeat("11", 32), apdu.SWIncorrectData, 2},
		{"sign", signDigest, apdu.SWSuccess, 1},
		{"sign again", signDigest, apdu.SWSuccess, 0},
		{"sign with the quota spent", signDigest, apdu.SWConditionsNotSatisfied, 0},
	}
	for _, s := range steps {
		tc.expect(s.cmd, s.want)
		st, err := ReadCloudState(tc.c.Store())
		if err != nil {
			t.Fatal(err)
		}
		if st.Quota != s.quota {
			t.Errorf("after %s: %d signatures left, want %d", s.what, st.Quota, s.quota)
		}
	}
}

// tokenStateObject reads the token state object (5FFF20) with GET DATA,
// without the PIN, and returns its content.
func (tc *testCard) tokenStateObject() string {
	tc.t.Helper()
	out := tc.expect("00 CB 3F FF 05 5C 03 5F FF 20", apdu.SWSuccess)
	body, rest, err := apdu.ParseTLV(out)
	if err != nil || body.Tag != 0x53 || len(rest) != 0 {
		tc.t.Fatalf("GET DATA 5FFF20 = % X: not one 53 TLV", out)
	}
	return strings.ToUpper(hex.EncodeToString(body.Value))
}

// TestTokenStateObject: each persona's token state object, as delivered
// and after the holder's first use; the other profiles have none (6A80,
// as for any tag outside their objects) and no profile lets PUT DATA
// write it.
func TestTokenStateObject(t *testing.T) {
	tests := []struct {
		profile   string
		delivered string // 80 PIN state, 81 PUK state, 82 policy, 83 TOTP, 84 quota
		firstUse  func(tc *testCard)
		inUse     string
	}{
		{"transport-pin-token", "800103 810101 820506080000 08", func(tc *testCard) {
			in, _ := RevealIssued(tc.c.Store())
			tc.expect("00 24 00 80 10 "+pinField(in.PIN)+pinField("246813"), apdu.SWSuccess)
		}, "800100 810101 820506080000 08"},
		{"pin-puk-envelope", "800102 810102 820506080000 08", func(tc *testCard) {
			in, _ := RevealIssued(tc.c.Store())
			tc.expect("00 24 00 80 10 "+pinField(in.PIN)+pinField("246813"), apdu.SWSuccess)
		}, "800100 810102 820506080000 08"},
		{"virtual-token", "800101 810104 8205080C0207 0C", func(tc *testCard) {
			tc.expect("00 24 00 80 18 "+hex.EncodeToString([]byte("Initial1\xFF\xFF\xFF\xFFOther246\xFF\xFF\xFF\xFF")), apdu.SWSuccess)
		}, "800100 810104 8205080C0207 0C"},
		{"cloud-signature", "800101 810101 820506080000 08 830300 0005 840400 0000C8", func(tc *testCard) {
			if _, err := EnrolTOTP(tc.c.Store(), strings.NewReader(strings.Repeat("s", seedLen)), "1"); err != nil {
				t.Fatal(err)
			}
		}, "800101 810101 820506080000 08 830301 0505 840400 0000C8"},
	}
	for _, tt := range tests {
		tc := newTestCard(t, tt.profile)
		norm := func(s string) string { return strings.ReplaceAll(s, " ", "") }
		if got := tc.tokenStateObject(); got != norm(tt.delivered) {
			t.Errorf("%s: delivered: token state %s, want %s", tt.profile, got, norm(tt.delivered))
		}
		tt.firstUse(tc)
		if got := tc.tokenStateObject(); got != norm(tt.inUse) {
			t.Errorf("%s: in use: token state %s, want %s", tt.profile, got, norm(tt.inUse))
		}
		tc.mustAuthenticate()
		tc.expect("00 DB 3F FF 0A 5C 03 5F FF 20 53 03 80 01 00", apdu.SWIncorrectData)
	}
	for _, name := range []string{"default", "yubikey-5.7", "piv"} {
		tc := newTestCard(t, name)
		tc.expect("00 CB 3F FF 05 5C 03 5F FF 20", apdu.SWIncorrectData)
	}
}

// TestReissue: SET PIN RETRIES and RESET put a card issued with random
// credentials back into its delivered state, as its issuer would deliver
// it again: the card draws a new PIN (and PUK) that the issuer's channel
// (RevealIssued, the control API) reveals once more, exactly once, and the
// token state object says so again (issued, or transport). The holder's
// personal PIN no longer works.
func TestReissue(t *testing.T) {
	tests := []struct {
		profile  string
		pinState string // token state's 80 and 81 after the re-issue
	}{
		{"transport-pin-token", "800103810101"},
		{"pin-puk-envelope", "800102810102"},
	}
	reissues := []struct {
		name string
		do   func(tc *testCard)
	}{
		{"SET PIN RETRIES", func(tc *testCard) {
			tc.mustAuthenticate()
			tc.verifyPIN("24681357")
			tc.expect("00 FA 00 00", apdu.SWIncorrectP1P2)
			tc.expect("00 FA 04 04", apdu.SWSuccess)
		}},
		{"RESET", func(tc *testCard) {
			blockPIN(tc)
			blockPUK(tc)
			tc.expect("00 FB 00 00", apdu.SWSuccess)
		}},
	}
	for _, tt := range tests {
		for _, re := range reissues {
			tc := newTestCard(t, tt.profile)
			first, err := RevealIssued(tc.c.Store())
			if err != nil {
				t.Fatal(err)
			}
			tc.expect("00 24 00 80 10 "+pinField(first.PIN)+pinField("24681357"), apdu.SWSuccess)
			re.do(tc)
			if !HasIssued(tc.c.Store()) {
				t.Fatalf("%s, %s: HasIssued() = false, want a new envelope", tt.profile, re.name)
			}
			if got := tc.tokenStateObject(); !strings.HasPrefix(got, tt.pinState) {
				t.Errorf("%s, %s: token state %s, want it to start %s", tt.profile, re.name, got, tt.pinState)
			}
			again, err := RevealIssued(tc.c.Store())
			if err != nil || len(again.PIN) != 6 || (again.PUK == "") != (first.PUK == "") {
				t.Fatalf("%s, %s: RevealIssued() = %+v, %v; want a new envelope like the first", tt.profile, re.name, again, err)
			}
			if again == first {
				t.Errorf("%s, %s: the new envelope holds the values of the first", tt.profile, re.name)
			}
			if _, err := RevealIssued(tc.c.Store()); !errors.Is(err, ErrNotIssued) {
				t.Errorf("%s, %s: second reveal of the new envelope: %v, want ErrNotIssued", tt.profile, re.name, err)
			}
			if sw := tc.verifyPIN("24681357"); !sw.Is(apdu.SWVerificationFailed) {
				t.Errorf("%s, %s: VERIFY with the holder's old PIN = %04X, want 63Cx", tt.profile, re.name, uint16(sw))
			}
			if sw := tc.verifyPIN(again.PIN); sw != apdu.SWSuccess {
				t.Errorf("%s, %s: VERIFY with the new issued PIN = %04X, want 9000", tt.profile, re.name, uint16(sw))
			}
		}
	}
}
