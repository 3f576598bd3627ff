package main

import (
	"strings"
	"testing"

	"github.com/tesseracard/tessera/simulator"
)

// TestBanner: tessera sim's banner gives each card's reader and the factory
// credentials of its profile (with the management key's algorithm), and
// never a credential the card drew at random: for those it says how to
// reveal them.
func TestBanner(t *testing.T) {
	const mgmt = "010203040506070801020304050607080102030405060708"
	tests := []struct {
		card    simulator.CardInfo
		want    []string
		notWant []string
	}{
		{
			card: simulator.CardInfo{ID: 0, Profile: "default", Serial: 10000001, VPCD: "127.0.0.1:35963"},
			want: []string{
				"Card 0: a PIV card (profile default, serial 10000001)",
				`reader          "Virtual PCD 00 00" (vpcd 127.0.0.1:35963)`,
				"PIN             123456\n",
				"PUK             12345678\n",
				"management key  " + mgmt + " (3DES)\n",
			},
		},
		{
			card: simulator.CardInfo{ID: 1, Profile: "yubikey-5.7", Serial: 7, VPCD: "localhost:35964"},
			want: []string{`"Virtual PCD 00 01" (vpcd localhost:35964)`, "management key  " + mgmt + " (AES-192)\n"},
		},
		{
			card: simulator.CardInfo{ID: 2, Profile: "pin-puk-envelope", VPCD: "127.0.0.1:35965"},
			want: []string{
				"PIN             random, reveal once with tessera card reveal 2\n",
				"PUK             random, reveal once with tessera card reveal 2\n",
				`"Virtual PCD 00 00" (vpcd 127.0.0.1:35965, pcscd instance 1: PCSCLITE_CSOCK_NAME=/run/tessera/pcscd-1/pcscd.comm)`,
			},
			notWant: []string{"PIN             123456", "PUK             12345678"},
		},
		{
			card: simulator.CardInfo{ID: 3, Profile: "transport-pin-token"},
			want: []string{
				"PIN             random, reveal once with tessera card reveal 3 (a transport PIN: change it before any key operation)\n",
				"PUK             12345678\n",
				"reader          none: no vpcd link (--no-vpcd); tessera card apdu 3 reaches the card",
			},
		},
		{
			card: simulator.CardInfo{ID: 1, Profile: "yubikey-5.7", IFD: "/run/tessera/ifd/card-1.sock", Reader: "Yubico YubiKey OTP+FIDO+CCID 01 00"},
			want: []string{`reader          "Yubico YubiKey OTP+FIDO+CCID 01 00" (IFD link /run/tessera/ifd/card-1.sock; scripts/ifd.sh start starts its pcscd)`},
		},
		{
			card: simulator.CardInfo{ID: 0, Profile: "virtual-token", VPCD: "192.0.2.1:35963"},
			want: []string{
				"PIN             Initial1\n",
				"PUK             none for the holder (an administrator resets the PIN with the management key)\n",
				"reader          vpcd 192.0.2.1:35963\n", // not a local pcscd: its reader's name is unknown
			},
			notWant: []string{"12345678"},
		},
		{
			card: simulator.CardInfo{ID: 0, Profile: "cloud-signature"},
			want: []string{"TOTP            not enrolled: tessera card totp-enrol 0\n"},
		},
		{
			card:    simulator.CardInfo{ID: 0, Profile: "iso-token"},
			want:    []string{"Card 0: a PKCS#11 token, an ISO 7816 file-system application (profile iso-token", "blank until personalised"},
			notWant: []string{"PIN             ", "PUK             ", "management key"},
		},
		{
			card:    simulator.CardInfo{ID: 0, Profile: "openpgp"},
			want:    []string{"Card 0: an OpenPGP card (profile openpgp", "OpenPGP         PW1 123456, admin PW3 12345678, no resetting code\n"},
			notWant: []string{"PIN             ", "management key"},
		},
		{
			card: simulator.CardInfo{ID: 0, Profile: "yubikey-5.7"},
			want: []string{"Card 0: a PIV card (profile yubikey-5.7", "PIN             123456\n", "OpenPGP         PW1 123456, admin PW3 12345678"},
		},
	}
	for _, tt := range tests {
		var b strings.Builder
		if err := writeBanner(&b, []simulator.CardInfo{tt.card}); err != nil {
			t.Errorf("%s: writeBanner: %v", tt.card.Profile, err)
			continue
		}
		got := b.String()
		for _, w := range tt.want {
			if !strings.Contains(got, w) {
				t.Errorf("%s: banner\n%s\nwant it to contain %q", tt.card.Profile, got, w)
			}
		}
		for _, w := range tt.notWant {
			if strings.Contains(got, w) {
				t.Errorf("%s: banner\n%s\nwant it not to contain %q", tt.card.Profile, got, w)
			}
		}
	}
}

// TestBannerUnknownProfile: a card whose profile cannot be read is an error
// naming the card, not a banner with empty credentials.
func TestBannerUnknownProfile(t *testing.T) {
	err := writeBanner(new(strings.Builder), []simulator.CardInfo{{ID: 4, Profile: "/nonexistent/p.yaml"}})
	if err == nil || !strings.HasPrefix(err.Error(), "card 4: ") {
		t.Errorf("writeBanner = %v, want an error naming card 4", err)
	}
}
