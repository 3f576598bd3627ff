package hostdriver_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"testing"

	"github.com/tesseracard/tessera/apdu"
	"github.com/tesseracard/tessera/firmware/nvm"
	"github.com/tesseracard/tessera/firmware/oath"
	"github.com/tesseracard/tessera/firmware/profile"
	"github.com/tesseracard/tessera/hostdriver"
	"github.com/tesseracard/tessera/internal/cardtest"
)

// TestDiagnoseOATH: diag reports the OATH application's version and whether
// an access code is set, from SELECT alone, and changes nothing.
func TestDiagnoseOATH(t *testing.T) {
	p, _ := profile.Builtin("yubikey-5.7")
	mem := &nvm.Memory{}
	card := cardtest.NewCard(t, p, mem, 3, oath.New(p, oath.Options{}))
	atr, _ := card.PowerOn()
	want := p.Version.String()
	if r := diagnoseReadOnly(t, card, mem, atr); r.OATH == nil || r.OATH.Version != want || r.OATH.AccessCode {
		t.Fatalf("OATH report %+v, want version %s, no access code", r.OATH, want)
	}
	// Set an access code: SELECT then answers a challenge.
	key, ch := []byte("0123456789abcdef"), []byte("12345678")
	m := hmac.New(sha1.New, key)
	m.Write(ch)
	data := apdu.AppendTLV(nil, 0x73, append([]byte{0x21}, key...))
	data = apdu.AppendTLV(data, 0x74, ch)
	data = apdu.AppendTLV(data, 0x75, m.Sum(nil))
	c := &hostdriver.Conn{T: cardTransport{card}}
	for _, cmd := range []apdu.Command{{INS: apdu.InsSelect, P1: 4, Data: oath.AID()}, {INS: apdu.InsOATHSetCode, Data: data}} {
		if resp, err := c.Transmit(context.Background(), cmd); err != nil || resp.SW != apdu.SWSuccess {
			t.Fatalf("% X: %04X, %v", cmd.Data, uint16(resp.SW), err)
		}
	}
	if r := diagnoseReadOnly(t, card, mem, atr); r.OATH == nil || !r.OATH.AccessCode {
		t.Errorf("OATH report %+v, want the access code seen", r.OATH)
	}
}

// TestDiagnoseNoOATH: a card without the application has no OATH report.
func TestDiagnoseNoOATH(t *testing.T) {
	card, mem, atr := newCard(t, "default")
	if r := diagnoseReadOnly(t, card, mem, atr); r.OATH != nil {
		t.Errorf("PIV card: OATH report %+v, want none", r.OATH)
	}
}
