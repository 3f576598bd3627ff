package piv

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/binary"
	"fmt"
	"math/big"
	"testing"

	"github.com/tesseracard/tessera/apdu"
	"github.com/tesseracard/tessera/firmware/nvm"
	"github.com/tesseracard/tessera/firmware/profile"
	"github.com/tesseracard/tessera/pivalg"
)

// TestKeyQuirks: ecdh-full-point answers the shared point 04‖x‖y whose x
// is the secret, and rsa-leading-zero-dropped answers a decrypted PKCS#1
// block without its leading 00; the clean profile answers x alone and the
// whole block.
func TestKeyQuirks(t *testing.T) {
	for _, quirk := range []string{"", profile.QuirkECDHFullPoint, profile.QuirkRSALeadingZeroDropped} {
		var quirks []string
		if quirk != "" {
			quirks = []string{quirk}
		}
		tc := quirkCard(t, "default", quirks...)

		// ECDH P-256 in 9D.
		tc.mustAuthenticate()
		tmpl := tc.expectCmd(apdu.Command{INS: 0x47, P2: 0x9D, Data: []byte{0xAC, 0x03, 0x80, 0x01, pivalg.P256}}, apdu.SWSuccess)
		inner, _, _ := apdu.FindTLV(tmpl, 0x7F49)
		point, _, _ := apdu.FindTLV(inner, 0x86)
		cardPub, err := ecdh.P256().NewPublicKey(point)
		if err != nil {
			t.Fatalf("GENERATE answered % X: %v", tmpl, err)
		}
		host, _ := ecdh.P256().GenerateKey(rand.Reader)
		secret, _ := host.ECDH(cardPub)
		tc.verifyPIN("123456")
		dyn := apdu.Nest(0x7C, apdu.AppendTLV(nil, 0x82, nil), apdu.AppendTLV(nil, 0x85, host.PublicKey().Bytes()))
		resp := tc.expectCmd(apdu.Command{INS: 0x87, P1: pivalg.P256, P2: 0x9D, Data: dyn}, apdu.SWSuccess)
		got := mustTag(t, resp)
		if quirk == profile.QuirkECDHFullPoint {
			if len(got) != 65 || got[0] != 0x04 || !bytes.Equal(got[1:33], secret) {
				t.Errorf("%s: ECDH answered % X, want 04‖x‖y with x % X", quirk, got, secret)
			} else if _, err := ecdh.P256().NewPublicKey(got); err != nil {
				t.Errorf("%s: the answered point is not on the curve: %v", quirk, err)
			}
		} else if !bytes.Equal(got, secret) {
			t.Errorf("%q: ECDH answered % X, want % X", quirk, got, secret)
		}

		// RSA-1024 decryption in 9D: the block starts with 00 02.
		tc.mustAuthenticate()
		tmpl = tc.expectCmd(apdu.Command{INS: 0x47, P2: 0x9D, Data: []byte{0xAC, 0x03, 0x80, 0x01, pivalg.RSA1024}}, apdu.SWSuccess)
		inner, _, _ = apdu.FindTLV(tmpl, 0x7F49)
		n, _, _ := apdu.FindTLV(inner, 0x81)
		e, _, _ := apdu.FindTLV(inner, 0x82)
		block := bytes.Repeat([]byte{0x5A}, 128)
		block[0], block[1], block[100] = 0x00, 0x02, 0x00
		c := new(big.Int).Exp(new(big.Int).SetBytes(block), new(big.Int).SetBytes(e), new(big.Int).SetBytes(n))
		tc.verifyPIN("123456")
		dyn = apdu.Nest(0x7C, apdu.AppendTLV(nil, 0x82, nil), apdu.AppendTLV(nil, 0x81, c.FillBytes(make([]byte, 128))))
		got = mustTag(t, tc.expectCmd(apdu.Command{INS: 0x87, P1: pivalg.RSA1024, P2: 0x9D, Data: dyn, Ne: 256}, apdu.SWSuccess))
		want := block
		if quirk == profile.QuirkRSALeadingZeroDropped {
			want = block[1:]
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%q: RSA decryption answered %d bytes % X, want %d bytes", quirk, len(got), got[:4], len(want))
		}
	}
}

// mustTag returns the response (82) of a GENERAL AUTHENTICATE answer.
func mustTag(t *testing.T, resp []byte) []byte {
	t.Helper()
	dyn, ok, err := apdu.FindTLV(resp, 0x7C)
	if err != nil || !ok {
		t.Fatalf("answer % X: no 7C", resp)
	}
	v, ok, err := apdu.FindTLV(dyn, 0x82)
	if err != nil || !ok {
		t.Fatalf("answer % X: no 82", resp)
	}
	return v
}

// TestPINPolicyQuirks: a P-256 key of PIN policy "always" in 9A signs once
// per VERIFY and GET METADATA reports policy 03; pin-policy-always-ignored
// signs a second time without a new VERIFY, metadata-pin-policy-wrong
// reports policy 01 (never).
func TestPINPolicyQuirks(t *testing.T) {
	for _, quirk := range []string{"", profile.QuirkPINPolicyAlwaysIgnored, profile.QuirkMetadataPINPolicyWrong} {
		var quirks []string
		if quirk != "" {
			quirks = []string{quirk}
		}
		tc := quirkCard(t, "default", quirks...)
		tc.mustAuthenticate()
		tc.expectCmd(apdu.Command{INS: 0x47, P2: 0x9A, Data: apdu.Nest(0xAC, []byte{0x80, 0x01, pivalg.P256, 0xAA, 0x01, 0x03, 0xAB, 0x01, 0x01})}, apdu.SWSuccess)
		wantPolicy := []byte{0x03, 0x01}
		if quirk == profile.QuirkMetadataPINPolicyWrong {
			wantPolicy = []byte{0x01, 0x01}
		}
		md := tc.expectCmd(apdu.Command{INS: 0xF7, P2: 0x9A, Ne: 256}, apdu.SWSuccess)
		if got, _, _ := apdu.FindTLV(md, 0x02); !bytes.Equal(got, wantPolicy) {
			t.Errorf("%q: GET METADATA 9A policies % X, want % X", quirk, got, wantPolicy)
		}
		sign := apdu.Command{INS: 0x87, P1: pivalg.P256, P2: 0x9A, Data: apdu.Nest(0x7C, apdu.AppendTLV(nil, 0x82, nil), apdu.AppendTLV(nil, 0x81, make([]byte, 32))), Ne: 256}
		tc.verifyPIN("123456")
		tc.expectCmd(sign, apdu.SWSuccess)
		second := apdu.SWSecurityStatusNotSatisfied
		if quirk == profile.QuirkPINPolicyAlwaysIgnored {
			second = apdu.SWSuccess
		}
		tc.expectCmd(sign, second)
	}
}

// TestExtensionQuirks: each quirk of the YubiKey extensions shows where
// its name says (the value a host reads), and the clean profile behaves.
func TestExtensionQuirks(t *testing.T) {
	tests := []struct {
		quirk string
		// run returns what the card answered where the quirk acts.
		run        func(t *testing.T, tc *testCard, touch *bool) string
		clean, bad string
	}{
		{profile.QuirkAttestWrongSerial, func(t *testing.T, tc *testCard, _ *bool) string {
			tc.mustAuthenticate()
			generate(t, tc, 0x9A, pivalg.P256)
			serial := tc.expectCmd(apdu.Command{INS: 0xF8, Ne: 256}, apdu.SWSuccess)
			cert, err := x509.ParseCertificate(tc.expectCmd(apdu.Command{INS: 0xF9, P1: 0x9A, Ne: 256}, apdu.SWSuccess))
			if err != nil {
				t.Fatal(err)
			}
			for _, x := range cert.Extensions {
				if x.Id.Equal(asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 41482, 3, 7}) {
					var n int64
					asn1.Unmarshal(x.Value, &n)
					if n == int64(binary.BigEndian.Uint32(serial)) {
						return "GET SERIAL's"
					}
					return "another"
				}
			}
			return "none"
		}, "GET SERIAL's", "another"},
		{profile.QuirkImportOriginGenerated, func(t *testing.T, tc *testCard, _ *bool) string {
			tc.mustAuthenticate()
			k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			tc.expectCmd(apdu.Command{INS: 0xFE, P1: pivalg.P256, P2: 0x9A, Data: apdu.AppendTLV(nil, 0x06, k.D.FillBytes(make([]byte, 32)))}, apdu.SWSuccess)
			origin, _, _ := apdu.FindTLV(tc.expectCmd(apdu.Command{INS: 0xF7, P2: 0x9A, Ne: 256}, apdu.SWSuccess), 0x03)
			return fmt.Sprintf("% X", origin)
		}, "02", "01"},
		{profile.QuirkECDHNoPointCheck, func(t *testing.T, tc *testCard, _ *bool) string {
			tc.mustAuthenticate()
			generate(t, tc, 0x9D, pivalg.P256)
			tc.verifyPIN("123456")
			bad := make([]byte, 65)
			bad[0], bad[32], bad[64] = 0x04, 1, 1
			_, sw := tc.cmd(apdu.Command{INS: 0x87, P1: pivalg.P256, P2: 0x9D, Data: apdu.Nest(0x7C, apdu.AppendTLV(nil, 0x82, nil), apdu.AppendTLV(nil, 0x85, bad))})
			return fmt.Sprintf("%04X", uint16(sw))
		}, "6A80", "9000"},
		{profile.QuirkResetOneBlocked, func(t *testing.T, tc *testCard, _ *bool) string {
			for range 3 {
				tc.verifyPIN("000000")
			}
			_, sw := tc.cmd(apdu.Command{INS: 0xFB})
			return fmt.Sprintf("%04X", uint16(sw))
		}, "6985", "9000"},
		{profile.QuirkMoveKeyCopies, func(t *testing.T, tc *testCard, _ *bool) string {
			tc.mustAuthenticate()
			generate(t, tc, 0x82, pivalg.P256)
			tc.expectCmd(apdu.Command{INS: 0xF6, P1: 0x83, P2: 0x82}, apdu.SWSuccess)
			_, sw := tc.cmd(apdu.Command{INS: 0xF7, P2: 0x82, Ne: 256})
			return fmt.Sprintf("%04X", uint16(sw))
		}, "6A88", "9000"},
		{profile.QuirkExternalAuthUnchecked, func(t *testing.T, tc *testCard, _ *bool) string {
			tc.expectCmd(apdu.Command{INS: 0x87, P1: pivalg.TDES, P2: 0x9B, Data: []byte{0x7C, 0x02, 0x81, 0x00}, Ne: 256}, apdu.SWSuccess)
			_, sw := tc.cmd(apdu.Command{INS: 0x87, P1: pivalg.TDES, P2: 0x9B, Data: apdu.Nest(0x7C, apdu.AppendTLV(nil, 0x82, make([]byte, 8)))})
			return fmt.Sprintf("%04X", uint16(sw))
		}, "6982", "9000"},
		{profile.QuirkSetRetriesWithoutPIN, func(t *testing.T, tc *testCard, _ *bool) string {
			tc.mustAuthenticate()
			_, sw := tc.cmd(apdu.Command{INS: 0xFA, P1: 5, P2: 4})
			return fmt.Sprintf("%04X", uint16(sw))
		}, "6982", "9000"},
		{profile.QuirkSerialLittleEndian, func(t *testing.T, tc *testCard, _ *bool) string {
			return fmt.Sprintf("% X", tc.expectCmd(apdu.Command{INS: 0xF8, Ne: 256}, apdu.SWSuccess))
		}, "00 98 96 81", "81 96 98 00"}, // the default serial, 10000001
		{profile.QuirkTouchAlwaysCached, func(t *testing.T, tc *testCard, touch *bool) string {
			tc.mustAuthenticate()
			generate(t, tc, 0x82, pivalg.P256, 0xAA, 0x01, 0x01, 0xAB, 0x01, touchAlways)
			digest := sha256.Sum256([]byte("x"))
			*touch = true
			if _, sw := sign(t, tc, 0x82, pivalg.P256, digest[:]); sw != apdu.SWSuccess {
				t.Fatalf("with a touch: %04X", uint16(sw))
			}
			*touch = false
			_, sw := sign(t, tc, 0x82, pivalg.P256, digest[:])
			return fmt.Sprintf("%04X", uint16(sw))
		}, "6982", "9000"},
	}
	for _, tt := range tests {
		for _, quirk := range []string{"", tt.quirk} {
			p, _ := profile.Builtin("default")
			if quirk != "" {
				p.Quirks = []string{quirk}
			}
			touch := true
			tc := newTestCardWith(t, p, nvm.NewTearable(&nvm.Memory{}), Options{Touch: TouchFunc(func(byte) bool { return touch })})
			want := tt.clean
			if quirk != "" {
				want = tt.bad
			}
			if got := tt.run(t, tc, &touch); got != want {
				t.Errorf("%s, quirk %q: %s, want %s", tt.quirk, quirk, got, want)
			}
		}
	}
}
