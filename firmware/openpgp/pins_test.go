package openpgp

import (
	"bytes"
	"encoding/hex"
	"testing"

	"github.com/tesseracard/tessera/apdu"
	"github.com/tesseracard/tessera/firmware/nvm"
)

// hexOf is s's bytes in hex.
func hexOf(s string) string { return hex.EncodeToString([]byte(s)) }

// pwCmd builds a password command with data s.
func pwCmd(ins, p1, p2 byte, s string) []byte { return command(0x00, ins, p1, p2, []byte(s)) }

// TestPasswordCommands: CHANGE REFERENCE DATA, RESET RETRY COUNTER with the
// resetting code and with PW3, and PUT DATA D3, step by step, each answer
// and the C4 counters checked.
func TestPasswordCommands(t *testing.T) {
	type step struct {
		name string
		cmd  []byte
		sw   apdu.StatusWord
		c4   string // C4 after the step, "" unchecked
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"change PW1", []step{
			{"wrong old", pwCmd(0x24, 0, 0x81, "000000"+"654321"), 0x63C2, "017F7F7F020003"},
			{"new too short", pwCmd(0x24, 0, 0x81, "123456"+"65432"), apdu.SWWrongLength, "017F7F7F020003"},
			{"right old", pwCmd(0x24, 0, 0x81, "123456"+"65432109"), apdu.SWSuccess, "017F7F7F030003"},
			{"old no longer", pwCmd(0x20, 0, 0x82, "123456"), 0x63C2, ""},
			{"new verifies", pwCmd(0x20, 0, 0x82, "65432109"), apdu.SWSuccess, ""},
			{"change again by the new length", pwCmd(0x24, 0, 0x81, "65432109"+"123456"), apdu.SWSuccess, ""},
			{"P2 82 refused", pwCmd(0x24, 0, 0x82, "123456"+"654321"), apdu.SWIncorrectP1P2, ""},
			{"P1 01 refused", pwCmd(0x24, 1, 0x81, "123456"+"654321"), apdu.SWIncorrectP1P2, ""},
			{"data too short", pwCmd(0x24, 0, 0x81, "12345"), apdu.SWWrongLength, "017F7F7F030003"},
		}},
		{"change PW3", []step{
			{"new too short", pwCmd(0x24, 0, 0x83, "12345678"+"1234567"), apdu.SWWrongLength, ""},
			{"right", pwCmd(0x24, 0, 0x83, "12345678"+"abcdefghij"), apdu.SWSuccess, ""},
			{"new verifies", pwCmd(0x20, 0, 0x83, "abcdefghij"), apdu.SWSuccess, ""},
		}},
		{"unblock with PW3", []step{
			{"wrong 1", pwCmd(0x20, 0, 0x81, "000000"), 0x63C2, ""},
			{"wrong 2", pwCmd(0x20, 0, 0x81, "000000"), 0x63C1, ""},
			{"wrong 3", pwCmd(0x20, 0, 0x81, "000000"), 0x63C0, "017F7F7F000003"},
			{"blocked", pwCmd(0x20, 0, 0x81, "123456"), apdu.SWAuthMethodBlocked, ""},
			{"no PW3", pwCmd(0x2C, 2, 0x81, "777777"), apdu.SWSecurityStatusNotSatisfied, ""},
			{"PW3", h(verifyPW3), apdu.SWSuccess, ""},
			{"new too short", pwCmd(0x2C, 2, 0x81, "77777"), apdu.SWWrongLength, ""},
			{"reset", pwCmd(0x2C, 2, 0x81, "777777"), apdu.SWSuccess, "017F7F7F030003"},
			{"new PW1", pwCmd(0x20, 0, 0x81, "777777"), apdu.SWSuccess, ""},
			{"P2 82 refused", pwCmd(0x2C, 2, 0x82, "777777"), apdu.SWIncorrectP1P2, ""},
			{"P1 01 refused", pwCmd(0x2C, 1, 0x81, "777777"), apdu.SWIncorrectP1P2, ""},
		}},
		{"resetting code", []step{
			{"no code set", pwCmd(0x2C, 0, 0x81, "rcrcrcrc"+"777777"), apdu.SWSecurityStatusNotSatisfied, ""},
			{"D3 needs PW3", putData(tagResetCode, []byte("rcrcrcrc")), apdu.SWSecurityStatusNotSatisfied, ""},
			{"PW3", h(verifyPW3), apdu.SWSuccess, ""},
			{"D3 too short", putData(tagResetCode, []byte("rcrcrcr")), apdu.SWWrongLength, "017F7F7F030003"},
			{"D3", putData(tagResetCode, []byte("rcrcrcrc")), apdu.SWSuccess, "017F7F7F030303"},
			{"reselect", h(cmdSelect), apdu.SWSuccess, ""},
			{"wrong 1", pwCmd(0x20, 0, 0x81, "000000"), 0x63C2, ""},
			{"wrong 2", pwCmd(0x20, 0, 0x81, "000000"), 0x63C1, ""},
			{"wrong 3", pwCmd(0x20, 0, 0x81, "000000"), 0x63C0, "017F7F7F000303"},
			{"wrong code", pwCmd(0x2C, 0, 0x81, "xxxxxxxx"+"777777"), 0x63C2, "017F7F7F000203"},
			{"new PW1 too short", pwCmd(0x2C, 0, 0x81, "rcrcrcrc"+"77777"), apdu.SWWrongLength, "017F7F7F000203"},
			{"right code", pwCmd(0x2C, 0, 0x81, "rcrcrcrc"+"777777"), apdu.SWSuccess, "017F7F7F030303"},
			{"new PW1", pwCmd(0x20, 0, 0x82, "777777"), apdu.SWSuccess, ""},
			{"PW3 again", h(verifyPW3), apdu.SWSuccess, ""},
			{"D3 empty removes", putData(tagResetCode, nil), apdu.SWSuccess, "017F7F7F030003"},
		}},
		{"PW3 blocked blocks admin", []step{
			{"wrong 1", h(wrongPW3), 0x63C2, ""},
			{"wrong 2", h(wrongPW3), 0x63C1, ""},
			{"wrong 3", h(wrongPW3), 0x63C0, "017F7F7F030000"},
			{"right", h(verifyPW3), apdu.SWAuthMethodBlocked, ""},
			{"PUT DATA", putData(tagName, []byte("x")), apdu.SWSecurityStatusNotSatisfied, ""},
			{"change PW3", pwCmd(0x24, 0, 0x83, "12345678"+"87654321"), apdu.SWAuthMethodBlocked, ""},
			{"generate", h("00 47 80 00 02 B6 00"), apdu.SWSecurityStatusNotSatisfied, ""},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tc := newTestCard(t)
			tc.must(cmdSelect, apdu.SWSuccess)
			for _, s := range tt.steps {
				if _, sw := tc.sendRaw(s.cmd); sw != s.sw {
					t.Fatalf("%s: % X: SW %04X, want %04X", s.name, s.cmd, uint16(sw), uint16(s.sw))
				}
				if s.c4 != "" {
					if got := hex.EncodeToString(tc.getData(tagPWStatus)); got != hexLower(s.c4) {
						t.Fatalf("%s: C4 = %s, want %s", s.name, got, s.c4)
					}
				}
			}
		})
	}
}

func hexLower(s string) string { return hex.EncodeToString(h(s)) }

// TestPasswordQuirks: the profile's password quirks act on the
// application's passwords, each read in one place.
func TestPasswordQuirks(t *testing.T) {
	tests := []struct {
		quirk string
		cmd   []byte
		sw    apdu.StatusWord
		c4    string
	}{
		{"", pwCmd(0x20, 0, 0x81, "000000"), 0x63C2, "017F7F7F020003"},
		{"no-decrement", pwCmd(0x20, 0, 0x81, "000000"), 0x63C3, "017F7F7F030003"},
		{"", pwCmd(0x20, 0, 0x81, "00000"), apdu.SWWrongLength, "017F7F7F030003"},
		{"malformed-pin-spends-try", pwCmd(0x20, 0, 0x81, "00000"), apdu.SWWrongLength, "017F7F7F020003"},
		{"malformed-pin-spends-try", pwCmd(0x20, 0, 0x81, string(bytes.Repeat([]byte("0"), 128))), apdu.SWWrongLength, "017F7F7F020003"},
		{"", pwCmd(0x24, 0, 0x81, "123456"+"1"), apdu.SWWrongLength, "017F7F7F030003"},
		{"pin-policy-not-enforced", pwCmd(0x24, 0, 0x81, "123456"+"1"), apdu.SWSuccess, "017F7F7F030003"},
	}
	for _, tt := range tests {
		doc := ""
		if tt.quirk != "" {
			doc = "quirks: [" + tt.quirk + "]"
		}
		tc := newCardOf(t, testProfile(t, "openpgp", doc), nvm.NewTearable(&nvm.Memory{}))
		tc.must(cmdSelect, apdu.SWSuccess)
		if _, sw := tc.sendRaw(tt.cmd); sw != tt.sw {
			t.Errorf("%q: % X: SW %04X, want %04X", tt.quirk, tt.cmd, uint16(sw), uint16(tt.sw))
		}
		if got := hex.EncodeToString(tc.getData(tagPWStatus)); got != hexLower(tt.c4) {
			t.Errorf("%q: % X: C4 = %s, want %s", tt.quirk, tt.cmd, got, tt.c4)
		}
	}
}

// ykWrong is a YubiKey profile's answer to a wrong password that leaves
// left tries: 6982, and 6983 for the one that exhausts the counter.
func ykWrong(left int) apdu.StatusWord {
	if left == 0 {
		return apdu.SWAuthMethodBlocked
	}
	return apdu.SWSecurityStatusNotSatisfied
}

// TestWrongPasswordAnswers: a wrong password, and VERIFY without data, on
// the plain OpenPGP 3.4 card (63Cx; the status query 9000 or 63Cx, 6983
// once blocked) and on a YubiKey profile (6982, 6983 for the try that
// exhausts the counter; the status query 6A80 whatever the status), for
// each command that checks a password: VERIFY 81, 82 and 83, CHANGE
// REFERENCE DATA 81 and 83 with a wrong old value, RESET RETRY COUNTER
// with a wrong resetting code. Every wrong try is spent alike on both
// (C4's counters), and a blocked password answers 6983 on both.
func TestWrongPasswordAnswers(t *testing.T) {
	type step struct {
		name      string
		cmd       []byte
		plain, yk apdu.StatusWord
		tries     string // C4's PW1, RC, PW3 counters after the step, "" unchecked
	}
	rc := func(tc *testCard) {
		tc.admin()
		tc.mustRaw(putData(tagResetCode, []byte("rcrcrcrc")), apdu.SWSuccess)
		tc.must(cmdSelect, apdu.SWSuccess)
	}
	wrongRC := pwCmd(0x2C, 0, 0x81, "xxxxxxxx"+"777777")
	tests := []struct {
		name  string
		setup func(*testCard)
		steps []step
	}{
		{"VERIFY PW1", nil, []step{
			{"status", h("00 20 00 82"), 0x63C3, apdu.SWIncorrectData, "030003"},
			{"wrong 82", h(wrongPW1), 0x63C2, apdu.SWSecurityStatusNotSatisfied, "020003"},
			{"status after a wrong one", h("00 20 00 82"), 0x63C2, apdu.SWIncorrectData, "020003"},
			{"wrong 81", pwCmd(0x20, 0, 0x81, "000000"), 0x63C1, apdu.SWSecurityStatusNotSatisfied, "010003"},
			{"right 82", h(verifyPW1Other), apdu.SWSuccess, apdu.SWSuccess, "030003"},
			{"status verified", h("00 20 00 82"), apdu.SWSuccess, apdu.SWIncorrectData, "030003"},
			{"status 81 not verified", h("00 20 00 81"), 0x63C3, apdu.SWIncorrectData, "030003"},
			{"wrong 1", h(wrongPW1), 0x63C2, apdu.SWSecurityStatusNotSatisfied, "020003"},
			{"wrong 2", h(wrongPW1), 0x63C1, apdu.SWSecurityStatusNotSatisfied, "010003"},
			{"wrong 3 exhausts", h(wrongPW1), 0x63C0, apdu.SWAuthMethodBlocked, "000003"},
			{"right, blocked", h(verifyPW1Other), apdu.SWAuthMethodBlocked, apdu.SWAuthMethodBlocked, "000003"},
			{"wrong, blocked", h(wrongPW1), apdu.SWAuthMethodBlocked, apdu.SWAuthMethodBlocked, "000003"},
			{"status blocked", h("00 20 00 82"), apdu.SWAuthMethodBlocked, apdu.SWIncorrectData, "000003"},
			{"P1 FF still forgets", h("00 20 FF 82"), apdu.SWSuccess, apdu.SWSuccess, ""},
			{"too short: no try", pwCmd(0x20, 0, 0x83, "0000000"), apdu.SWWrongLength, apdu.SWWrongLength, "000003"},
		}},
		{"VERIFY PW3", nil, []step{
			{"wrong 1", h(wrongPW3), 0x63C2, apdu.SWSecurityStatusNotSatisfied, "030002"},
			{"status", h("00 20 00 83"), 0x63C2, apdu.SWIncorrectData, "030002"},
			{"wrong 2", h(wrongPW3), 0x63C1, apdu.SWSecurityStatusNotSatisfied, "030001"},
			{"wrong 3 exhausts", h(wrongPW3), 0x63C0, apdu.SWAuthMethodBlocked, "030000"},
			{"right, blocked", h(verifyPW3), apdu.SWAuthMethodBlocked, apdu.SWAuthMethodBlocked, "030000"},
		}},
		{"CHANGE REFERENCE DATA", nil, []step{
			{"PW1 wrong old", pwCmd(0x24, 0, 0x81, "000000"+"654321"), 0x63C2, apdu.SWSecurityStatusNotSatisfied, "020003"},
			{"PW3 wrong old", pwCmd(0x24, 0, 0x83, "00000000"+"87654321"), 0x63C2, apdu.SWSecurityStatusNotSatisfied, "020002"},
			{"PW1 right old", pwCmd(0x24, 0, 0x81, "123456"+"654321"), apdu.SWSuccess, apdu.SWSuccess, "030002"},
			{"PW3 wrong 2", pwCmd(0x24, 0, 0x83, "00000000"+"87654321"), 0x63C1, apdu.SWSecurityStatusNotSatisfied, "030001"},
			{"PW3 wrong 3 exhausts", pwCmd(0x24, 0, 0x83, "00000000"+"87654321"), 0x63C0, apdu.SWAuthMethodBlocked, "030000"},
			{"PW3 blocked", pwCmd(0x24, 0, 0x83, "12345678"+"87654321"), apdu.SWAuthMethodBlocked, apdu.SWAuthMethodBlocked, "030000"},
		}},
		{"RESET RETRY COUNTER", rc, []step{
			{"wrong code 1", wrongRC, 0x63C2, apdu.SWSecurityStatusNotSatisfied, "030203"},
			{"wrong code 2", wrongRC, 0x63C1, apdu.SWSecurityStatusNotSatisfied, "030103"},
			{"wrong code 3 exhausts", wrongRC, 0x63C0, apdu.SWAuthMethodBlocked, "030003"},
			{"right code, blocked", pwCmd(0x2C, 0, 0x81, "rcrcrcrc"+"777777"), apdu.SWAuthMethodBlocked, apdu.SWAuthMethodBlocked, "030003"},
			{"P1 02 without PW3", pwCmd(0x2C, 2, 0x81, "777777"), apdu.SWSecurityStatusNotSatisfied, apdu.SWSecurityStatusNotSatisfied, "030003"},
		}},
	}
	for _, base := range []string{"openpgp", "yubikey-5.7"} {
		for _, tt := range tests {
			t.Run(base+"/"+tt.name, func(t *testing.T) {
				tc := newCardOf(t, testProfile(t, base, ""), nvm.NewTearable(&nvm.Memory{}))
				tc.must(cmdSelect, apdu.SWSuccess)
				if tt.setup != nil {
					tt.setup(tc)
				}
				for _, s := range tt.steps {
					want := s.plain
					if base != "openpgp" {
						want = s.yk
					}
					if _, sw := tc.sendRaw(s.cmd); sw != want {
						t.Fatalf("%s: % X: SW %04X, want %04X", s.name, s.cmd, uint16(sw), uint16(want))
					}
					if s.tries == "" {
						continue
					}
					if got := hex.EncodeToString(tc.getData(tagPWStatus)[4:]); got != s.tries {
						t.Fatalf("%s: C4 counters = %s, want %s", s.name, got, s.tries)
					}
				}
			})
		}
	}
}
