package openpgp

import (
	"crypto/ecdh"
	"crypto/rand"
	"testing"
	"time"

	"github.com/tesseracard/tessera/apdu"
	"github.com/tesseracard/tessera/firmware"
	"github.com/tesseracard/tessera/firmware/nvm"
)

// fakeSensor is a touch sensor that records what it was asked and answers
// give.
type fakeSensor struct {
	give bool
	asks []byte
}

func (s *fakeSensor) Touch(ref byte) bool {
	s.asks = append(s.asks, ref)
	return s.give
}

// touchCard is a powered card of base profile with the OpenPGP
// application alone, a fake sensor, and a clock the test moves.
type touchCard struct {
	*testCard
	sensor *fakeSensor
	now    time.Time
}

func newTouchCard(t *testing.T, base string) *touchCard {
	t.Helper()
	p := testProfile(t, base, "")
	tcd := &touchCard{sensor: &fakeSensor{give: true}, now: time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)}
	tm := nvm.NewTearable(&nvm.Memory{})
	c, err := firmware.New(firmware.Config{
		ATR:     p.ATR,
		Medium:  tm,
		Rand:    rand.Reader,
		Clock:   func() time.Time { return tcd.now },
		Applets: []firmware.Applet{New(p, Options{Touch: tcd.sensor})},
	})
	if err != nil {
		t.Fatal(err)
	}
	tcd.testCard = &testCard{t: t, c: c, tm: tm}
	tcd.power()
	return tcd
}

// keyed generates Ed25519 signature and authentication keys and an X25519
// decryption key, and returns the three commands that use them (PSO:CDS,
// PSO:DECIPHER, INTERNAL AUTHENTICATE), with PW1 81 and 82 verified.
func (tc *touchCard) keyed() map[byte][]byte {
	tc.t.Helper()
	tc.generateEd25519(keySig)
	tc.generateEd25519(keyAut)
	tc.mustRaw(putData(tagAlgDec, attrX25519), apdu.SWSuccess)
	tc.must("00 47 80 00 02 B8 00 00", apdu.SWSuccess)
	eph, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		tc.t.Fatal(err)
	}
	tc.must(verifyPW1Sign, apdu.SWSuccess)
	tc.must(verifyPW1Other, apdu.SWSuccess)
	return map[byte][]byte{
		keySig: command(0x00, 0x2A, 0x9E, 0x9A, []byte("digest")),
		keyDec: command(0x00, 0x2A, 0x80, 0x86, apdu.Nest(0xA6, apdu.Nest(0x7F49, apdu.AppendTLV(nil, 0x86, eph.PublicKey().Bytes())))),
		keyAut: command(0x00, 0x88, 0x00, 0x00, []byte("challenge")),
	}
}

// step is one use of a key in a touch scenario: after advancing the card's
// clock by wait, the command of key ref is sent with the sensor answering
// give; the card must answer sw and ask the sensor ask times (for ref).
type step struct {
	wait time.Duration
	ref  byte
	give bool
	sw   apdu.StatusWord
	ask  int
}

// TestUIFTouchEnforced: on a YubiKey profile each key's user interaction
// flag (D6 for PSO:CDS, D7 for PSO:DECIPHER, D8 for INTERNAL AUTHENTICATE)
// asks the sensor for a touch: on and fixed every time, cached and
// cached-fixed once per firmware.TouchGrace of the card's clock for that
// key; no touch answers 6985 and uses no key.
func TestUIFTouchEnforced(t *testing.T) {
	const ok, none = apdu.SWSuccess, apdu.SWConditionsNotSatisfied
	for _, tt := range []struct {
		name  string
		uif   map[uint16]byte // D6-D8 values set before the steps
		steps []step
	}{
		{"off asks nothing", map[uint16]byte{0xD6: uifOff},
			[]step{{0, keySig, false, ok, 0}, {0, keyDec, false, ok, 0}, {0, keyAut, false, ok, 0}}},
		{"factory flags ask nothing", nil,
			[]step{{0, keySig, false, ok, 0}, {0, keyDec, false, ok, 0}, {0, keyAut, false, ok, 0}}},
		{"sig on: touch given", map[uint16]byte{0xD6: uifOn},
			[]step{{0, keySig, true, ok, 1}, {0, keySig, true, ok, 1}}},
		{"sig on: no touch", map[uint16]byte{0xD6: uifOn},
			[]step{{0, keySig, false, none, 1}, {0, keySig, true, ok, 1}}},
		{"sig fixed asks every time", map[uint16]byte{0xD6: uifFixed},
			[]step{{0, keySig, true, ok, 1}, {time.Second, keySig, false, none, 1}}},
		{"sig on does not cover the other keys", map[uint16]byte{0xD6: uifOn},
			[]step{{0, keyDec, false, ok, 0}, {0, keyAut, false, ok, 0}, {0, keySig, false, none, 1}}},
		{"dec on: DECIPHER only", map[uint16]byte{0xD7: uifOn},
			[]step{{0, keySig, false, ok, 0}, {0, keyAut, false, ok, 0}, {0, keyDec, false, none, 1}, {0, keyDec, true, ok, 1}}},
		{"aut on: INTERNAL AUTHENTICATE only", map[uint16]byte{0xD8: uifOn},
			[]step{{0, keySig, false, ok, 0}, {0, keyDec, false, ok, 0}, {0, keyAut, false, none, 1}, {0, keyAut, true, ok, 1}}},
		{"sig cached: within and past 15 s", map[uint16]byte{0xD6: uifCached},
			[]step{{0, keySig, true, ok, 1}, {14 * time.Second, keySig, false, ok, 0}, {time.Second, keySig, false, none, 1}, {0, keySig, true, ok, 1}}},
		{"cached: a refused touch caches nothing", map[uint16]byte{0xD8: uifCached},
			[]step{{0, keyAut, false, none, 1}, {time.Second, keyAut, false, none, 1}}},
		{"cached-fixed: within and past 15 s", map[uint16]byte{0xD7: uifCachedFixed},
			[]step{{0, keyDec, true, ok, 1}, {10 * time.Second, keyDec, false, ok, 0}, {5 * time.Second, keyDec, false, none, 1}}},
		{"cached: the clock set back voids the touch", map[uint16]byte{0xD6: uifCached},
			[]step{{0, keySig, true, ok, 1}, {-time.Second, keySig, false, none, 1}}},
		{"cached per key", map[uint16]byte{0xD6: uifCached, 0xD8: uifCached},
			[]step{{0, keySig, true, ok, 1}, {time.Second, keyAut, false, none, 1}, {0, keyAut, true, ok, 1}, {0, keySig, false, ok, 0}, {0, keyAut, false, ok, 0}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tc := newTouchCard(t, "yubikey-5.7")
			cmds := tc.keyed()
			tc.must(verifyPW3, apdu.SWSuccess)
			for tag, v := range tt.uif {
				tc.mustRaw(putData(tag, []byte{v, uifButton}), apdu.SWSuccess)
			}
			for i, s := range tt.steps {
				tc.now = tc.now.Add(s.wait)
				tc.sensor.give, tc.sensor.asks = s.give, nil
				counter := string(tc.getData(tagSecSupport))
				if _, sw := tc.sendRaw(cmds[s.ref]); sw != s.sw {
					t.Fatalf("step %d (key %X): SW %04X, want %04X", i, s.ref, uint16(sw), uint16(s.sw))
				}
				if len(tc.sensor.asks) != s.ask {
					t.Fatalf("step %d (key %X): sensor asked %d times, want %d", i, s.ref, len(tc.sensor.asks), s.ask)
				}
				for _, r := range tc.sensor.asks {
					if r != s.ref {
						t.Errorf("step %d: sensor asked for key %X, want %X", i, r, s.ref)
					}
				}
				if s.ref == keySig && s.sw != ok && string(tc.getData(tagSecSupport)) != counter {
					t.Errorf("step %d: a refused signature advanced the counter", i)
				}
			}
		})
	}
}

// TestUIFTouchForgottenAtPowerOff: a cached touch lives in RAM; after a
// power cycle the next use asks again.
func TestUIFTouchForgottenAtPowerOff(t *testing.T) {
	tc := newTouchCard(t, "yubikey-5.7")
	cmds := tc.keyed()
	tc.must(verifyPW3, apdu.SWSuccess)
	tc.mustRaw(putData(0x00D6, []byte{uifCached, uifButton}), apdu.SWSuccess)
	tc.mustRaw(cmds[keySig], apdu.SWSuccess)
	tc.c.PowerOff()
	tc.power()
	tc.must(cmdSelect, apdu.SWSuccess)
	tc.must(verifyPW1Sign, apdu.SWSuccess)
	tc.sensor.give, tc.sensor.asks = false, nil
	tc.mustRaw(cmds[keySig], apdu.SWConditionsNotSatisfied)
	if len(tc.sensor.asks) != 1 {
		t.Errorf("sensor asked %d times after the power cycle, want 1", len(tc.sensor.asks))
	}
}

// TestUIFFixedRefusesChange: a fixed flag (02, 04) refuses every PUT DATA
// of its DO with 6982 until the factory reset (TERMINATE DF, ACTIVATE
// FILE); on and cached change freely.
func TestUIFFixedRefusesChange(t *testing.T) {
	for _, tt := range []struct {
		from, to byte
		sw       apdu.StatusWord
	}{
		{uifOn, uifOff, apdu.SWSuccess},
		{uifCached, uifOn, apdu.SWSuccess},
		{uifFixed, uifOff, apdu.SWSecurityStatusNotSatisfied},
		{uifFixed, uifFixed, apdu.SWSecurityStatusNotSatisfied},
		{uifCachedFixed, uifFixed, apdu.SWSecurityStatusNotSatisfied},
		{uifCachedFixed, uifOff, apdu.SWSecurityStatusNotSatisfied},
	} {
		tc := newTouchCard(t, "yubikey-5.7")
		tc.admin()
		tc.mustRaw(putData(0x00D8, []byte{tt.from, uifButton}), apdu.SWSuccess)
		tc.mustRaw(putData(0x00D8, []byte{tt.to, uifButton}), tt.sw)
		want := tt.to
		if tt.sw != apdu.SWSuccess {
			want = tt.from
		}
		if got := tc.getData(0x00D8); got[0] != want {
			t.Errorf("%02X then %02X: D8 = % X, want %02X 20", tt.from, tt.to, got, want)
		}
		tc.must("00 E6 00 00", apdu.SWSuccess)
		tc.must("00 44 00 00", apdu.SWSuccess)
		tc.admin()
		tc.mustRaw(putData(0x00D8, []byte{uifOff, uifButton}), apdu.SWSuccess)
	}
}

// TestNoTouchWithoutYubiKeyExtras: the plain openpgp profile has no user
// interaction flags and never asks the sensor, whatever it would answer.
func TestNoTouchWithoutYubiKeyExtras(t *testing.T) {
	tc := newTouchCard(t, "openpgp")
	cmds := tc.keyed()
	tc.sensor.give = false
	for _, ref := range keyRefs() {
		tc.mustRaw(cmds[ref], apdu.SWSuccess)
	}
	if len(tc.sensor.asks) != 0 {
		t.Errorf("sensor asked for % X on a card without touch", tc.sensor.asks)
	}
}
