package hostdriver_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/tesseracard/tessera/apdu"
	"github.com/tesseracard/tessera/hostdriver"
)

// OpenPGP card 3.4 commands the test drives the simulated application
// with, written from the specification (§7.2).
func opgpPut(tag uint16, v []byte) apdu.Command {
	return apdu.Command{INS: apdu.InsPutData, P1: byte(tag >> 8), P2: byte(tag), Data: v}
}

func opgpVerify(ref byte, pw string) apdu.Command {
	return apdu.Command{INS: apdu.InsVerify, P2: ref, Data: []byte(pw)}
}

// TestDiagnoseOpenPGPSimulated: diag of the simulated OpenPGP application,
// alone (openpgp) and beside PIV (yubikey-5.7), reads only and reports
// the version, manufacturer, serial (on yubikey-5.7 the device's, as the
// management application gives it), the three keys' factory algorithm
// (RSA-2048) with no key, PW1 3, RC 0 (none set) and PW3 3 tries, counter
// 0; and after an Ed25519 signature key and an X25519 decryption key are
// generated and their fingerprints and dates written, a brainpoolP384r1
// authentication key generated (no fingerprint), one signature and one
// wrong PW1 (63C2, and on yubikey-5.7 a YubiKey's 6982, which tells no
// count: diag reads the tries from C4): their algorithms, fingerprints,
// dates and origin, PW1 2 tries and a counter of 1.
func TestDiagnoseOpenPGPSimulated(t *testing.T) {
	for _, tt := range []struct {
		profile, aid, maker, makerName, serial string
		wrongPW1                               apdu.StatusWord
	}{
		{"openpgp", "D276000124010304FFFE100000080000", "FFFE", "unmanaged serial number range", "10000008", apdu.RetriesSW(2)},
		{"yubikey-5.7", "D2760001240103040006291736730000", "0006", "Yubico", "29173673", apdu.SWSecurityStatusNotSatisfied},
	} {
		card, mem, atr := newCard(t, tt.profile)
		r := diagnoseReadOnly(t, card, mem, atr)
		// What the card's algorithm information (FA) lists for each key.
		rsas := []string{"RSA-2048", "RSA-3072", "RSA-4096"}
		signing := append(rsas, "ECDSA P-256", "ECDSA P-384", "EdDSA Ed25519", "ECDSA brainpoolP256r1", "ECDSA brainpoolP384r1", "ECDSA brainpoolP512r1")
		supported := map[string][]string{
			"signature": signing, "authentication": signing,
			"decryption":  append(rsas, "ECDH P-256", "ECDH P-384", "ECDH Curve25519", "ECDH brainpoolP256r1", "ECDH brainpoolP384r1", "ECDH brainpoolP512r1"),
			"attestation": append(rsas, "ECDSA P-256", "ECDSA P-384", "EdDSA Ed25519"),
		}
		rsa := func(name string) hostdriver.OpenPGPKey {
			return hostdriver.OpenPGPKey{Key: name, Algorithm: "RSA-2048", Status: "none", Supported: supported[name]}
		}
		zero, no := 0, false
		want := &hostdriver.OpenPGPReport{
			AID: tt.aid, Version: "3.4", Manufacturer: tt.maker, ManufacturerName: tt.makerName, Serial: tt.serial,
			HistoricalBytes: "00730000C0059000",
			Features:        []string{"get-challenge", "key-import", "pw-status-changeable", "private-use-dos", "algorithm-attributes-changeable"},
			PW1:             &hostdriver.Counter{Tries: 3}, RC: &hostdriver.Counter{}, PW3: &hostdriver.Counter{Tries: 3},
			PW1ForEachSignature: &no, MaxLengths: []int{127, 127, 127},
			Keys:             []hostdriver.OpenPGPKey{rsa("signature"), rsa("decryption"), rsa("authentication")},
			SignatureCounter: &zero,
		}
		var att []hostdriver.OpenPGPKey
		if tt.profile == "yubikey-5.7" {
			// The YubiKey's attestation key (DA in 6E; generated, 81 01 in
			// DE, as a YubiKey 5 lists it) and its certificate FC, issued by
			// the card's PIV attestation key (F9).
			att = []hostdriver.OpenPGPKey{{Key: "attestation", Algorithm: "ECDSA P-256", Status: "generated", Supported: supported["attestation"]}}
			want.Keys = append(want.Keys, att...)
			c := r.OpenPGP.AttestationCertificate
			if c == nil || c.Subject != "SERIALNUMBER=29173673,CN=Tessera OpenPGP Attestation" ||
				c.Issuer != "SERIALNUMBER=29173673,CN=Tessera PIV Attestation" || c.PublicKey != "ECDSA P-256" {
				t.Errorf("attestation certificate %+v, want Tessera OpenPGP Attestation issued by Tessera PIV Attestation", c)
			}
			want.AttestationCertificate = c
		}
		if got, want := asJSON(t, r.OpenPGP), asJSON(t, want); got != want {
			t.Errorf("%s as delivered: OpenPGP report\n%s\nwant\n%s", tt.profile, got, want)
		}
		if r.YubiKey != nil && fmt.Sprint(r.YubiKey.Serial) != r.OpenPGP.Serial {
			t.Errorf("%s: OpenPGP serial %s, the management application's %d", tt.profile, r.OpenPGP.Serial, r.YubiKey.Serial)
		}

		sigFP, decFP := bytes.Repeat([]byte{0xA1}, 20), bytes.Repeat([]byte{0xB2}, 20)
		created := time.Date(2026, 11, 1, 9, 30, 0, 0, time.UTC)
		date := []byte{byte(created.Unix() >> 24), byte(created.Unix() >> 16), byte(created.Unix() >> 8), byte(created.Unix())}
		gen := func(crt byte) apdu.Command {
			return apdu.Command{INS: apdu.InsGenerateKeyPairOdd, P1: 0x80, Data: []byte{crt, 0x00}, Ne: 256}
		}
		isoSend(t, card, apdu.SWSuccess,
			apdu.Command{INS: apdu.InsSelect, P1: 0x04, Data: hostdriver.OpenPGPAID()},
			opgpVerify(0x83, "12345678"),
			opgpPut(0xC1, []byte{0x16, 0x2B, 0x06, 0x01, 0x04, 0x01, 0xDA, 0x47, 0x0F, 0x01}), // EdDSA Ed25519
			gen(0xB6), opgpPut(0xC7, sigFP), opgpPut(0xCE, date),
			opgpPut(0xC2, []byte{0x12, 0x2B, 0x06, 0x01, 0x04, 0x01, 0x97, 0x55, 0x01, 0x05, 0x01}), // ECDH Curve25519
			gen(0xB8), opgpPut(0xC8, decFP), opgpPut(0xCF, date),
			opgpPut(0xC3, []byte{0x13, 0x2B, 0x24, 0x03, 0x03, 0x02, 0x08, 0x01, 0x01, 0x0B}), // ECDSA brainpoolP384r1
			gen(0xA4),
		)
		isoSend(t, card, apdu.SWSuccess, opgpVerify(0x81, "123456"),
			apdu.Command{INS: apdu.InsPerformSecurityOperation, P1: 0x9E, P2: 0x9A, Data: []byte("a message"), Ne: 256})
		isoSend(t, card, tt.wrongPW1, opgpVerify(0x82, "000000"))

		r = diagnoseReadOnly(t, card, mem, atr)
		one := 1
		want.PW1 = &hostdriver.Counter{Tries: 2}
		want.SignatureCounter = &one
		want.Keys = []hostdriver.OpenPGPKey{
			{Key: "signature", Algorithm: "EdDSA Ed25519", Fingerprint: fmt.Sprintf("%X", sigFP), Created: &created, Status: "generated", Supported: supported["signature"]},
			{Key: "decryption", Algorithm: "ECDH Curve25519", Fingerprint: fmt.Sprintf("%X", decFP), Created: &created, Status: "generated", Supported: supported["decryption"]},
			{Key: "authentication", Algorithm: "ECDSA brainpoolP384r1", Status: "generated", Supported: supported["authentication"]},
		}
		want.Keys = append(want.Keys, att...)
		if got, want := asJSON(t, r.OpenPGP), asJSON(t, want); got != want {
			t.Errorf("%s with keys: OpenPGP report\n%s\nwant\n%s", tt.profile, got, want)
		}
	}
}

func asJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
