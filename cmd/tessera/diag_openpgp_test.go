package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/tesseracard/tessera/hostdriver"
)

// TestPrintOpenPGPAndYubiKey: the text report shows the OpenPGP section
// (version, manufacturer by name, serial, tries, signature counter, one
// line per key, the algorithms a key supports (FA), the attestation key's certificate) and the YubiKey section (firmware, serial, form factor,
// applications per transport, lock).
func TestPrintOpenPGPAndYubiKey(t *testing.T) {
	created := time.Date(2024, 4, 26, 19, 52, 31, 0, time.UTC)
	r := &hostdriver.Report{
		Reader: "Yubico YubiKey OTP+FIDO+CCID 00 00", ATR: "3B FD", Applications: []hostdriver.Application{}, Warnings: []string{},
		OpenPGP: &hostdriver.OpenPGPReport{
			Version: "3.4", Manufacturer: "0006", ManufacturerName: "Yubico", Serial: "13381487",
			PW1: &hostdriver.Counter{Tries: 3}, RC: &hostdriver.Counter{}, PW3: &hostdriver.Counter{Tries: 3},
			SignatureCounter: new(int),
			Keys: []hostdriver.OpenPGPKey{
				{Key: "signature", Algorithm: "RSA-4096", Fingerprint: "B2A75FD1EDD7C848AADD73B196DFC57DF89FA884", Created: &created, Status: "imported", Supported: []string{"RSA-2048", "RSA-4096", "EdDSA Ed25519"}},
				{Key: "decryption"},
				{Key: "attestation", Algorithm: "RSA-2048"},
			},
			AttestationCertificate: &hostdriver.CertificateInfo{Subject: "CN=YubiKey OPGP Attestation", Issuer: "CN=Yubico OPGP Attestation B 1", PublicKey: "RSA-2048"},
		},
		YubiKey: &hostdriver.YubiKeyReport{
			Version: "5.4.3", Serial: 12345678, FormFactor: "Keychain (USB-A)",
			USBSupported: []string{"OTP", "PIV"}, USBEnabled: []string{"PIV"}, ConfigLocked: true,
		},
	}
	var out bytes.Buffer
	printReport(&out, r)
	// Column widths are tabwriter's: compare with runs of spaces as one.
	var lines []string
	for _, l := range strings.Split(out.String(), "\n") {
		lines = append(lines, strings.Join(strings.Fields(l), " "))
	}
	text := strings.Join(lines, "\n")
	for _, want := range []string{
		"\nOpenPGP\n", "Manufacturer 0006 (Yubico)", "Serial 13381487",
		"PW1 (user PIN) 3 tries left", "RC (resetting code) none set, or blocked (0 tries)", "Signatures made 0",
		"signature RSA-4096 B2A75FD1EDD7C848AADD73B196DFC57DF89FA884 2024-04-26 imported",
		"decryption - - - -",
		"attestation RSA-2048 - - -",
		"Supported (signature) RSA-2048, RSA-4096, EdDSA Ed25519",
		"Attestation certificate CN=YubiKey OPGP Attestation, issued by CN=Yubico OPGP Attestation B 1, RSA-2048",
		"\nYubiKey\n", "Firmware 5.4.3", "Form factor Keychain (USB-A)",
		"USB applications PIV enabled (of OTP, PIV)", "Configuration locked yes (lock code set)",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("report does not show %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "NFC applications") {
		t.Errorf("NFC applications shown for a key without NFC:\n%s", out.String())
	}
}
