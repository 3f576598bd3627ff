package oath

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/tesseracard/tessera/apdu"
)

// RFC 4226 Appendix D and RFC 6238 Appendix B.
var (
	seed20 = []byte("12345678901234567890")
	seed32 = []byte("12345678901234567890123456789012")
	seed64 = []byte("1234567890123456789012345678901234567890123456789012345678901234")
)

func TestHOTPVectors(t *testing.T) {
	tc := newTestCard(t)
	tc.selectInfo()
	tc.must(putCmd("hotp", typeHOTP|algSHA1, 6, seed20), apdu.SWSuccess)
	want := []string{"755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871", "520489"}
	for i, w := range want {
		if got := otp(t, tc.must(calcCmd("hotp", nil, 1), apdu.SWSuccess)); got != w {
			t.Errorf("HOTP counter %d = %s, want %s", i, got, w)
		}
	}
}

func TestTOTPVectors(t *testing.T) {
	tc := newTestCard(t)
	tc.selectInfo()
	tc.must(putCmd("sha1", typeTOTP|algSHA1, 8, seed20), apdu.SWSuccess)
	tc.must(putCmd("sha256", typeTOTP|algSHA2, 8, seed32), apdu.SWSuccess)
	tc.must(putCmd("sha512", typeTOTP|algSHA5, 8, seed64), apdu.SWSuccess)
	tests := []struct {
		time                 int64
		sha1, sha256, sha512 string
	}{
		{59, "94287082", "46119246", "90693936"},
		{1111111109, "07081804", "68084774", "25091201"},
		{1111111111, "14050471", "67062674", "99943326"},
		{1234567890, "89005924", "91819424", "93441116"},
		{2000000000, "69279037", "90698825", "38618901"},
		{20000000000, "65353130", "77737706", "47863826"},
	}
	for _, tt := range tests {
		for name, want := range map[string]string{"sha1": tt.sha1, "sha256": tt.sha256, "sha512": tt.sha512} {
			if got := otp(t, tc.must(calcCmd(name, timeStep(tt.time), 1), apdu.SWSuccess)); got != want {
				t.Errorf("TOTP %s at %d = %s, want %s", name, tt.time, got, want)
			}
		}
	}
	// The full response (P2 00) is the digits and the whole HMAC.
	full := tc.must(calcCmd("sha1", timeStep(59), 0), apdu.SWSuccess)
	if want := tlv(tagResponse, append([]byte{8}, hmacSHA1(seed20, timeStep(59))...)); !bytes.Equal(full, want) {
		t.Errorf("full CALCULATE = % X, want % X", full, want)
	}
}

func TestCalculateAllAndList(t *testing.T) {
	tc := newTestCard(t)
	tc.selectInfo()
	tc.must(putCmd("totp", typeTOTP|algSHA1, 8, seed20), apdu.SWSuccess)
	tc.must(putCmd("hotp", typeHOTP|algSHA1, 6, seed20), apdu.SWSuccess)
	tc.must(putCmd("touch", typeTOTP|algSHA2, 6, seed32, []byte{tagProperty, propTouch}), apdu.SWSuccess)
	all := tc.must(command(apdu.InsOATHCalculateAll, 0, 1, tlv(tagChallenge, timeStep(59))), apdu.SWSuccess)
	want := map[string]string{}
	for rest := all; len(rest) > 0; {
		n, r, _ := apdu.ParseTLV(rest)
		v, r2, _ := apdu.ParseTLV(r)
		rest = r2
		want[string(n.Value)] = fmt.Sprintf("%X:% X", uint32(v.Tag), v.Value)
	}
	if got := want["hotp"]; got != "77:06" {
		t.Errorf("CALCULATE ALL of HOTP = %s, want 77:06 (not calculated)", got)
	}
	if got := want["touch"]; got != "7C:06" {
		t.Errorf("CALCULATE ALL of a touch credential = %s, want 7C:06", got)
	}
	if got := want["totp"]; !strings.HasPrefix(got, "76:08") {
		t.Errorf("CALCULATE ALL of TOTP = %s, want 76 08 ...", got)
	}
	// CALCULATE ALL did not advance the HOTP counter.
	if got := otp(t, tc.must(calcCmd("hotp", nil, 1), apdu.SWSuccess)); got != "755224" {
		t.Errorf("HOTP after CALCULATE ALL = %s, want the counter-0 code 755224", got)
	}
	list := tc.must(command(apdu.InsOATHList, 0, 0), apdu.SWSuccess)
	for _, w := range [][]byte{tlv(tagNameList, append([]byte{0x21}, "totp"...)), tlv(tagNameList, append([]byte{0x11}, "hotp"...)), tlv(tagNameList, append([]byte{0x22}, "touch"...))} {
		if !bytes.Contains(list, w) {
			t.Errorf("LIST = % X, lacks % X", list, w)
		}
	}
}

func TestManage(t *testing.T) {
	tc := newTestCard(t)
	tc.selectInfo()
	tc.must(putCmd("a", typeTOTP|algSHA1, 6, seed20), apdu.SWSuccess)
	tc.must(putCmd("b", typeTOTP|algSHA1, 6, seed20), apdu.SWSuccess)
	rename := func(from, to string) []byte {
		return command(apdu.InsOATHRename, 0, 0, tlv(tagName, []byte(from)), tlv(tagName, []byte(to)))
	}
	tc.must(rename("a", "b"), apdu.SWFileExists)
	tc.must(rename("a", "c"), apdu.SWSuccess)
	tc.must(calcCmd("a", timeStep(59), 1), apdu.SWReferenceDataUnusable)
	tc.must(calcCmd("c", timeStep(59), 1), apdu.SWSuccess)
	tc.must(command(apdu.InsOATHDelete, 0, 0, tlv(tagName, []byte("c"))), apdu.SWSuccess)
	tc.must(command(apdu.InsOATHDelete, 0, 0, tlv(tagName, []byte("c"))), apdu.SWReferenceDataUnusable)
	// Bad input, each refused with 6A80.
	for _, cmd := range [][]byte{
		putCmd("x", 0x30|algSHA1, 6, seed20),                          // no such type
		putCmd("x", typeTOTP|0x04, 6, seed20),                         // no such algorithm
		putCmd("x", typeTOTP|algSHA1, 9, seed20),                      // 9 digits
		putCmd("", typeTOTP|algSHA1, 6, seed20),                       // no name
		putCmd("x", typeTOTP|algSHA1, 6, seed20, []byte{tagProperty}), // property without its byte
		putCmd("x", typeTOTP|algSHA1, 6, make([]byte, 65)),            // secret over the block size
	} {
		tc.must(cmd, apdu.SWIncorrectData)
	}
	// The card holds MaxCredentials.
	for i := range MaxCredentials - 1 {
		tc.must(putCmd(fmt.Sprintf("credential-%02d", i), typeTOTP|algSHA1, 6, seed20), apdu.SWSuccess)
	}
	tc.must(putCmd("one too many", typeTOTP|algSHA1, 6, seed20), apdu.SWNotEnoughMemory)
	tc.must(putCmd("b", typeHOTP|algSHA1, 6, seed20), apdu.SWSuccess) // replacing is fine
	// LIST of 32 names is longer than 256 bytes: fetched with SEND REMAINING.
	if r, _ := apdu.ParseResponse(tc.c.Process(command(apdu.InsOATHList, 0, 0))); !r.SW.Is(apdu.SWBytesRemaining) {
		t.Fatalf("LIST of %d credentials answered %04X, want 61xx", MaxCredentials, uint16(r.SW))
	}
	if d, sw := tc.sendRaw([]byte{0x00, apdu.InsOATHSendRemaining, 0x00, 0x00}); sw != apdu.SWSuccess || len(d) == 0 {
		t.Errorf("SEND REMAINING answered %d bytes, %04X", len(d), uint16(sw))
	}
	// RESET wipes all and draws a new salt.
	salt, _ := tc.selectInfo()
	tc.must(h("00 04 DE AE"), apdu.SWWrongP1P2)
	tc.must(h("00 04 DE AD"), apdu.SWSuccess)
	if l := tc.must(command(apdu.InsOATHList, 0, 0), apdu.SWSuccess); len(l) != 0 {
		t.Errorf("LIST after RESET = % X, want nothing", l)
	}
	if s2, _ := tc.selectInfo(); bytes.Equal(salt, s2) {
		t.Error("RESET kept the salt")
	}
}

func TestAccessCode(t *testing.T) {
	tc := newTestCard(t)
	tc.selectInfo()
	tc.must(putCmd("totp", typeTOTP|algSHA1, 6, seed20), apdu.SWSuccess)
	// SET CODE whose response does not prove the key is refused.
	bad := setCodeCmd(accessKey)
	bad[len(bad)-1] ^= 1
	tc.must(bad, apdu.SWIncorrectData)
	tc.must(setCodeCmd(accessKey), apdu.SWSuccess)
	salt, ch := tc.selectInfo()
	if len(salt) != 8 || len(ch) != 8 {
		t.Fatalf("SELECT with a code: salt % X, challenge % X, want 8 bytes each", salt, ch)
	}
	for _, cmd := range [][]byte{command(apdu.InsOATHList, 0, 0), calcCmd("totp", timeStep(59), 1), putCmd("x", typeTOTP|algSHA1, 6, seed20), setCodeCmd([]byte("other"))} {
		tc.must(cmd, apdu.SWSecurityStatusNotSatisfied)
	}
	// A wrong response is refused, and spends the challenge: the right one
	// after it is refused too until the next SELECT.
	tc.must(command(apdu.InsOATHValidate, 0, 0, tlv(tagResponse, hmacSHA1([]byte("wrong"), ch)), tlv(tagChallenge, []byte("12345678"))), apdu.SWReferenceDataUnusable)
	tc.must(command(apdu.InsOATHValidate, 0, 0, tlv(tagResponse, hmacSHA1(accessKey, ch)), tlv(tagChallenge, []byte("12345678"))), apdu.SWReferenceDataUnusable)
	tc.must(command(apdu.InsOATHList, 0, 0), apdu.SWSecurityStatusNotSatisfied)
	tc.unlock()
	tc.must(command(apdu.InsOATHList, 0, 0), apdu.SWSuccess)
	// Validation lasts until the next SELECT or power-off.
	tc.selectInfo()
	tc.must(command(apdu.InsOATHList, 0, 0), apdu.SWSecurityStatusNotSatisfied)
	tc.unlock()
	// An empty key removes the code.
	tc.must(command(apdu.InsOATHSetCode, 0, 0, tlv(tagKey, nil)), apdu.SWSuccess)
	if _, ch := tc.selectInfo(); ch != nil {
		t.Errorf("SELECT after removing the code still sends a challenge % X", ch)
	}
	tc.must(command(apdu.InsOATHList, 0, 0), apdu.SWSuccess)
	// RESET needs no code.
	tc.must(setCodeCmd(accessKey), apdu.SWSuccess)
	tc.selectInfo()
	tc.must(h("00 04 DE AD"), apdu.SWSuccess)
	tc.selectInfo()
	tc.must(command(apdu.InsOATHList, 0, 0), apdu.SWSuccess)
}

func TestHOTPCounterSurvivesPowerCycle(t *testing.T) {
	tc := newTestCard(t)
	tc.selectInfo()
	tc.must(putCmd("hotp", typeHOTP|algSHA1, 6, seed20, tlv(tagIMF, []byte{0, 0, 0, 3})), apdu.SWSuccess)
	if got := otp(t, tc.must(calcCmd("hotp", nil, 1), apdu.SWSuccess)); got != "969429" {
		t.Errorf("HOTP with IMF 3 = %s, want 969429", got)
	}
	if _, err := tc.c.PowerOn(); err != nil {
		t.Fatal(err)
	}
	tc.selectInfo()
	if got := otp(t, tc.must(calcCmd("hotp", nil, 1), apdu.SWSuccess)); got != "338314" {
		t.Errorf("HOTP after a power cycle = %s, want 338314 (counter 4)", got)
	}
}

func TestSelectVersion(t *testing.T) {
	tc := newTestCard(t)
	resp := tc.must(h(cmdSelect), apdu.SWSuccess)
	v, _, _ := apdu.FindTLV(resp, tagVersion)
	p := testProfile()
	if want := []byte{p.Version.Major, p.Version.Minor, p.Version.Patch}; !bytes.Equal(v, want) {
		t.Errorf("SELECT version = % X, want % X", v, want)
	}
}
