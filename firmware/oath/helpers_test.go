package oath

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"testing"

	"github.com/tesseracard/tessera/apdu"
	"github.com/tesseracard/tessera/firmware"
	"github.com/tesseracard/tessera/firmware/nvm"
	"github.com/tesseracard/tessera/firmware/profile"
	"github.com/tesseracard/tessera/internal/cardtest"
)

// h is cardtest.Hex: an APDU written in spaced hex.
func h(s string) []byte { return cardtest.Hex(s) }

const cmdSelect = "00 A4 04 00 07 A0 00 00 05 27 21 01"

// testCard is a powered card carrying the OATH application alone, on a
// tearable memory medium.
type testCard struct {
	t  testing.TB
	c  *firmware.Card
	tm *nvm.Tearable
}

func testProfile() profile.Profile {
	p, _ := profile.Builtin("yubikey-5.7")
	return p
}

func newTestCard(t testing.TB) *testCard {
	t.Helper()
	tm := nvm.NewTearable(&nvm.Memory{})
	p := testProfile()
	return &testCard{t: t, c: cardtest.NewCard(t, p, tm, 7, New(p, Options{})), tm: tm}
}

// sendRaw transmits a command and returns data and status word, following
// 61xx with SEND REMAINING.
func (tc *testCard) sendRaw(cmd []byte) ([]byte, apdu.StatusWord) {
	tc.t.Helper()
	var data []byte
	for {
		r, err := apdu.ParseResponse(tc.c.Process(cmd))
		if err != nil {
			tc.t.Fatalf("% X: card mute", cmd)
		}
		data = append(data, r.Data...)
		if _, more := r.SW.BytesRemaining(); !more {
			return data, r.SW
		}
		cmd = []byte{0x00, apdu.InsOATHSendRemaining, 0x00, 0x00}
	}
}

func (tc *testCard) send(hexCmd string) ([]byte, apdu.StatusWord) {
	tc.t.Helper()
	return tc.sendRaw(h(hexCmd))
}

// must sends a command and fails the test unless it answers want.
func (tc *testCard) must(cmd []byte, want apdu.StatusWord) []byte {
	tc.t.Helper()
	data, sw := tc.sendRaw(cmd)
	if sw != want {
		tc.t.Fatalf("% X: SW %04X, want %04X", cmd, uint16(sw), uint16(want))
	}
	return data
}

// command builds a YKOATH command with data fields already encoded.
func command(ins, p1, p2 byte, data ...[]byte) []byte {
	var d []byte
	for _, x := range data {
		d = append(d, x...)
	}
	b, err := apdu.Command{CLA: 0, INS: ins, P1: p1, P2: p2, Data: d}.Marshal()
	if err != nil {
		panic(err)
	}
	return b
}

func tlv(tag byte, v []byte) []byte { return apdu.AppendTLV(nil, apdu.Tag(tag), v) }

// putCmd is PUT of a credential.
func putCmd(name string, kind, digits byte, secret []byte, extra ...[]byte) []byte {
	fields := append([][]byte{tlv(tagName, []byte(name)), tlv(tagKey, append([]byte{kind, digits}, secret...))}, extra...)
	return command(apdu.InsOATHPut, 0, 0, fields...)
}

func calcCmd(name string, challenge []byte, p2 byte) []byte {
	return command(apdu.InsOATHCalculate, 0, p2, tlv(tagName, []byte(name)), tlv(tagChallenge, challenge))
}

func timeStep(unix int64) []byte { return binary.BigEndian.AppendUint64(nil, uint64(unix/30)) }

// otp reduces a truncated response (76: digits, 4 bytes) to its code.
func otp(t testing.TB, resp []byte) string {
	t.Helper()
	v, ok, err := apdu.FindTLV(resp, tagTruncated)
	if err != nil || !ok || len(v) != 5 {
		t.Fatalf("answer % X: no truncated response", resp)
	}
	n := binary.BigEndian.Uint32(v[1:])
	mod := uint32(1)
	for range v[0] {
		mod *= 10
	}
	return fmt.Sprintf("%0*d", int(v[0]), n%mod)
}

// selectInfo selects the application and returns its salt and challenge.
func (tc *testCard) selectInfo() (salt, challenge []byte) {
	tc.t.Helper()
	resp := tc.must(h(cmdSelect), apdu.SWSuccess)
	salt, _, _ = apdu.FindTLV(resp, tagName)
	challenge, _, _ = apdu.FindTLV(resp, tagChallenge)
	return salt, challenge
}

func hmacSHA1(key, msg []byte) []byte {
	m := hmac.New(sha1.New, key)
	m.Write(msg)
	return m.Sum(nil)
}

// accessKey is the access code's key in these tests.
var accessKey = []byte("0123456789abcdef")

func setCodeCmd(key []byte) []byte {
	ch := []byte("hostchal")
	return command(apdu.InsOATHSetCode, 0, 0, tlv(tagKey, append([]byte{typeTOTP | algSHA1}, key...)), tlv(tagChallenge, ch), tlv(tagResponse, hmacSHA1(key, ch)))
}

// unlock selects and validates with accessKey.
func (tc *testCard) unlock() {
	tc.t.Helper()
	_, ch := tc.selectInfo()
	host := []byte("12345678")
	resp := tc.must(command(apdu.InsOATHValidate, 0, 0, tlv(tagResponse, hmacSHA1(accessKey, ch)), tlv(tagChallenge, host)), apdu.SWSuccess)
	if v, _, _ := apdu.FindTLV(resp, tagResponse); !hmac.Equal(v, hmacSHA1(accessKey, host)) {
		tc.t.Fatalf("VALIDATE answered % X, not the card's proof", resp)
	}
}

func unhex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}
