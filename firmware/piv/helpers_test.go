package piv

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"encoding/hex"
	"testing"

	"github.com/tesseracard/tessera/apdu"
	"github.com/tesseracard/tessera/firmware"
	"github.com/tesseracard/tessera/firmware/nvm"
	"github.com/tesseracard/tessera/firmware/profile"
	"github.com/tesseracard/tessera/internal/cardtest"
	"github.com/tesseracard/tessera/pivalg"
)

var defaultMgmt = h("010203040506070801020304050607080102030405060708")

// h is cardtest.Hex: an APDU written in spaced hex.
func h(s string) []byte { return cardtest.Hex(s) }

// testCard is a powered PIV card on a tearable memory medium.
type testCard struct {
	t    testing.TB
	c    *firmware.Card
	tm   *nvm.Tearable
	prof profile.Profile
}

func newTestCard(t testing.TB, profileName string) *testCard {
	t.Helper()
	p, ok := profile.Builtin(profileName)
	if !ok {
		t.Fatalf("no profile %q", profileName)
	}
	return newTestCardWith(t, p, nvm.NewTearable(&nvm.Memory{}), Options{})
}

func newTestCardWith(t testing.TB, p profile.Profile, tm *nvm.Tearable, opts Options) *testCard {
	t.Helper()
	c := cardtest.NewCard(t, p, tm, 7, New(p, opts))
	tc := &testCard{t: t, c: c, tm: tm, prof: p}
	tc.expect("00 A4 04 00 05 A0 00 00 03 08", apdu.SWSuccess)
	return tc
}

// send transmits raw bytes and returns the reassembled response data (GET
// RESPONSE followed) and the final status word.
func (tc *testCard) sendRaw(raw []byte) ([]byte, apdu.StatusWord) {
	tc.t.Helper()
	var data []byte
	for {
		out := tc.c.Process(raw)
		r, err := apdu.ParseResponse(out)
		if err != nil {
			tc.t.Fatalf("Process(% X) = % X: %v", raw, out, err)
		}
		data = append(data, r.Data...)
		if r.SW.SW1() != 0x61 {
			return data, r.SW
		}
		raw = []byte{0x00, 0xC0, 0x00, 0x00, r.SW.SW2()}
	}
}

func (tc *testCard) send(hexAPDU string) ([]byte, apdu.StatusWord) {
	tc.t.Helper()
	return tc.sendRaw(h(hexAPDU))
}

// cmd sends a command, chaining it when long.
func (tc *testCard) cmd(c apdu.Command) ([]byte, apdu.StatusWord) {
	tc.t.Helper()
	parts, err := apdu.SplitChain(c, 255)
	if err != nil {
		tc.t.Fatal(err)
	}
	for _, p := range parts[:len(parts)-1] {
		raw, _ := p.Marshal()
		if _, sw := tc.sendRaw(raw); sw != apdu.SWSuccess {
			return nil, sw
		}
	}
	raw, _ := parts[len(parts)-1].Marshal()
	return tc.sendRaw(raw)
}

func (tc *testCard) expect(hexAPDU string, want apdu.StatusWord) []byte {
	tc.t.Helper()
	data, sw := tc.send(hexAPDU)
	if sw != want {
		tc.t.Fatalf("%s: SW %04X, want %04X", hexAPDU, uint16(sw), uint16(want))
	}
	return data
}

func (tc *testCard) expectCmd(c apdu.Command, want apdu.StatusWord) []byte {
	tc.t.Helper()
	data, sw := tc.cmd(c)
	if sw != want {
		tc.t.Fatalf("% X: SW %04X, want %04X", c.Data, uint16(sw), uint16(want))
	}
	return data
}

func blockCipher(t testing.TB, alg byte, key []byte) cipher.Block {
	t.Helper()
	var b cipher.Block
	var err error
	if alg == pivalg.TDES {
		b, err = des.NewTripleDESCipher(key)
	} else {
		b, err = aes.NewCipher(key)
	}
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// authenticate runs mutual authentication with the management key as a host
// does, checking the card's answer to the host challenge.
func (tc *testCard) authenticate(alg byte, key []byte) apdu.StatusWord {
	tc.t.Helper()
	b := blockCipher(tc.t, alg, key)
	bs := b.BlockSize()
	resp, sw := tc.cmd(apdu.Command{INS: 0x87, P1: alg, P2: 0x9B, Data: h("7C 02 80 00")})
	if sw != apdu.SWSuccess {
		return sw
	}
	enc, ok, _ := apdu.FindTLV(resp, 0x7C)
	wit, ok2, _ := apdu.FindTLV(enc, 0x80)
	if !ok || !ok2 || len(wit) != bs {
		tc.t.Fatalf("witness response % X", resp)
	}
	plain := make([]byte, bs)
	b.Decrypt(plain, wit)
	chal := bytes.Repeat([]byte{0xAB}, bs)
	inner := apdu.AppendTLV(apdu.AppendTLV(nil, 0x80, plain), 0x81, chal)
	resp, sw = tc.cmd(apdu.Command{INS: 0x87, P1: alg, P2: 0x9B, Data: apdu.Nest(0x7C, inner)})
	if sw != apdu.SWSuccess {
		return sw
	}
	want := make([]byte, bs)
	b.Encrypt(want, chal)
	if got := apdu.Nest(0x7C, apdu.AppendTLV(nil, 0x82, want)); !bytes.Equal(resp, got) {
		tc.t.Fatalf("card's answer to the challenge % X, want % X", resp, got)
	}
	return sw
}

func (tc *testCard) mustAuthenticate() {
	tc.t.Helper()
	if sw := tc.authenticate(tc.prof.PIV.MgmtKeyAlgorithmID(), tc.prof.PIV.MgmtKey); sw != apdu.SWSuccess {
		tc.t.Fatalf("management key authentication: %04X", uint16(sw))
	}
}

func pinField(pin string) string {
	b := append([]byte(pin), bytes.Repeat([]byte{0xFF}, 8-len(pin))...)
	return hex.EncodeToString(b)
}

func (tc *testCard) verifyPIN(pin string) apdu.StatusWord {
	tc.t.Helper()
	_, sw := tc.send("00 20 00 80 08 " + pinField(pin))
	return sw
}
