package hostdriver

import (
	"encoding/hex"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tesseracard/tessera/apdu"
)

// yubiKey6E returns a YubiKey 5's recorded answer to GET DATA 006E
// (testdata/openpgp/README.md says where it comes from).
func yubiKey6E(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/openpgp/yubikey5-6e.hex")
	if err != nil {
		t.Fatal(err)
	}
	return mustHex(string(b))
}

// ed25519OID and cv25519OID are the curve OIDs (content bytes) GnuPG
// writes into the algorithm attributes: 1.3.6.1.4.1.11591.15.1 and
// 1.3.6.1.4.1.3029.1.5.1 (RFC 9580 §9.2).
var (
	ed25519OID = []byte{0x2B, 0x06, 0x01, 0x04, 0x01, 0xDA, 0x47, 0x0F, 0x01}
	cv25519OID = []byte{0x2B, 0x06, 0x01, 0x04, 0x01, 0x97, 0x55, 0x01, 0x05, 0x01}
)

// gnuk6E builds, from the OpenPGP card 2.0 layout (discretionary data
// objects directly in 6E, no 73, no DE), a Gnuk token's (manufacturer
// F517, FSIJ) application related data with an Ed25519 signature key,
// a Curve25519 decryption key and no authentication key; pw is C4.
func gnuk6E(pw []byte) []byte {
	fp := make([]byte, 60)
	copy(fp, mustHex("0123456789ABCDEF0123456789ABCDEF01234567"))
	copy(fp[20:], mustHex("89ABCDEF0123456789ABCDEF0123456789ABCDEF"))
	dates := mustHex("5F5E1000" + "5F5E1000" + "00000000")
	return apdu.Nest(0x6E,
		apdu.AppendTLV(nil, 0x4F, mustHex("D276000124010200F517000012340000")),
		apdu.AppendTLV(nil, 0x5F52, mustHex("0031845F")),
		apdu.AppendTLV(nil, 0xC0, mustHex("7400000000000000FF00")),
		apdu.AppendTLV(nil, 0xC1, append([]byte{0x16}, ed25519OID...)),
		apdu.AppendTLV(nil, 0xC2, append(append([]byte{0x12}, cv25519OID...), 0xFF)),
		apdu.AppendTLV(nil, 0xC3, mustHex("010800002000")),
		apdu.AppendTLV(nil, 0xC4, pw),
		apdu.AppendTLV(nil, 0xC5, fp),
		apdu.AppendTLV(nil, 0xC6, make([]byte, 60)),
		apdu.AppendTLV(nil, 0xCD, dates),
	)
}

func mustHex(s string) []byte {
	b, err := hex.DecodeString(strings.NewReplacer(" ", "", "\n", "").Replace(s))
	if err != nil {
		panic(err)
	}
	return b
}

func utc(sec int64) *time.Time { t := time.Unix(sec, 0).UTC(); return &t }
func yes() *bool               { b := true; return &b }
func no() *bool                { b := false; return &b }

func TestParseOpenPGPAppData(t *testing.T) {
	tests := []struct {
		name string
		data []byte
		want *OpenPGPReport
	}{
		{
			name: "YubiKey 5, recorded",
			data: yubiKey6E(t),
			want: &OpenPGPReport{
				AID: "D2760001240103040006133814870000", Version: "3.4", Manufacturer: "0006", ManufacturerName: "Yubico", Serial: "13381487",
				HistoricalBytes: "00730000E0059000",
				Features:        []string{"get-challenge", "key-import", "pw-status-changeable", "private-use-dos", "algorithm-attributes-changeable", "kdf"},
				PW1:             &Counter{Tries: 3}, RC: &Counter{Tries: 3}, PW3: &Counter{Tries: 3},
				PW1ForEachSignature: no(), MaxLengths: []int{127, 127, 127},
				Keys: []OpenPGPKey{
					{Key: "signature", Algorithm: "RSA-4096", Fingerprint: "B2A75FD1EDD7C848AADD73B196DFC57DF89FA884", Created: utc(0x662C05FF), Status: "imported"},
					{Key: "decryption", Algorithm: "RSA-4096", Fingerprint: "D9687614EA63A90BFB633F5A9CFF1A789198ABA1", Created: utc(0x662C05FF), Status: "imported"},
					{Key: "authentication", Algorithm: "RSA-4096", Fingerprint: "4CB9FF81CDEC943494A4FFFE6FB7C2CB60D99DFA", Created: utc(0x687E986E), Status: "imported"},
					{Key: "attestation", Algorithm: "RSA-2048", Status: "imported"},
				},
			},
		},
		{
			name: "Gnuk, OpenPGP 2.0 layout, PW1 blocked",
			data: gnuk6E(mustHex("00 7F 7F 7F 00 00 03")),
			want: &OpenPGPReport{
				AID: "D276000124010200F517000012340000", Version: "2.0", Manufacturer: "F517", ManufacturerName: "FSIJ", Serial: "00001234",
				HistoricalBytes: "0031845F",
				Features:        []string{"get-challenge", "key-import", "pw-status-changeable", "algorithm-attributes-changeable"},
				PW1:             &Counter{Blocked: true}, RC: &Counter{}, PW3: &Counter{Tries: 3},
				PW1ForEachSignature: yes(), MaxLengths: []int{127, 127, 127},
				Keys: []OpenPGPKey{
					{Key: "signature", Algorithm: "EdDSA Ed25519", Fingerprint: "0123456789ABCDEF0123456789ABCDEF01234567", Created: utc(0x5F5E1000)},
					{Key: "decryption", Algorithm: "ECDH Curve25519", Fingerprint: "89ABCDEF0123456789ABCDEF0123456789ABCDEF", Created: utc(0x5F5E1000)},
					{Key: "authentication", Algorithm: "RSA-2048"},
				},
			},
		},
		{
			name: "value without the 6E wrapper, unknown manufacturer",
			data: apdu.AppendTLV(nil, 0x4F, mustHex("D2760001240103041234000000010000")),
			want: &OpenPGPReport{
				AID: "D2760001240103041234000000010000", Version: "3.4", Manufacturer: "1234", Serial: "00000001",
				Keys: []OpenPGPKey{{Key: "signature"}, {Key: "decryption"}, {Key: "authentication"}},
			},
		},
	}
	for _, tt := range tests {
		got, err := parseOpenPGPAppData(tt.data)
		if err != nil {
			t.Errorf("%s: parseOpenPGPAppData: %v", tt.name, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: parseOpenPGPAppData =\n%+v\nwant\n%+v", tt.name, got, tt.want)
		}
	}
}

func TestParseOpenPGPAppDataRefuses(t *testing.T) {
	aid := apdu.AppendTLV(nil, 0x4F, mustHex("D2760001240103040006133814870000"))
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "no AID"},
		{"no AID", apdu.Nest(0x6E, apdu.AppendTLV(nil, 0x5F52, []byte{0})), "no AID"},
		{"short AID", apdu.Nest(0x6E, apdu.AppendTLV(nil, 0x4F, mustHex("D27600012401"))), "not an OpenPGP AID"},
		{"PIV AID", apdu.Nest(0x6E, apdu.AppendTLV(nil, 0x4F, mustHex("A0000003080000100001000000000000"))), "not an OpenPGP AID"},
		{"truncated", yubiKey6E(t)[:100], "extends past the input"},
		{"short C4", apdu.Nest(0x6E, aid, apdu.AppendTLV(nil, 0xC4, []byte{1, 2, 3})), "PW status bytes (C4) of 3 bytes"},
		{"fingerprints not 20 per key", apdu.Nest(0x6E, aid, apdu.AppendTLV(nil, 0xC5, make([]byte, 30))), "fingerprints of 30 bytes"},
		{"dates not 4 per key", apdu.Nest(0x6E, aid, apdu.AppendTLV(nil, 0xCD, make([]byte, 5))), "generation dates of 5 bytes"},
		{"odd DE", apdu.Nest(0x6E, aid, apdu.AppendTLV(nil, 0xDE, []byte{1, 2, 3})), "key information (DE) of 3 bytes"},
		{"bad 73", apdu.Nest(0x6E, aid, apdu.AppendTLV(nil, 0x73, []byte{0xC4, 0x09})), "discretionary data objects (73)"},
	}
	for _, tt := range tests {
		got, err := parseOpenPGPAppData(tt.data)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: parseOpenPGPAppData = %+v, %v; want an error saying %q", tt.name, got, err, tt.want)
		}
	}
}

func TestOpenPGPAlgorithm(t *testing.T) {
	tests := []struct {
		attr string
		want string
	}{
		{"01 0800 0011 00", "RSA-2048"},
		{"01 1000 0020 03", "RSA-4096"},
		{"13 2A8648CE3D030107", "ECDSA P-256"},
		{"12 2B81040022", "ECDH P-384"},
		{"13 2B81040023 FF", "ECDSA P-521"},
		{"13 2B2403030208010107", "ECDSA brainpoolP256r1"},
		{"12 2B240303020801010B", "ECDH brainpoolP384r1"},
		{"13 2B240303020801010D FF", "ECDSA brainpoolP512r1"},
		{"16 2B06010401DA470F01", "EdDSA Ed25519"},
		{"12 2B060104019755010501", "ECDH Curve25519"},
		{"16 2B6571", "EdDSA Ed448"},
		{"13 2A0304", "ECDSA OID 1.2.3.4"},
		{"13 80", "ECDSA OID 80"},
		{"01", "RSA"},
		{"42 0102", "unknown (420102)"},
	}
	for _, tt := range tests {
		if got := openPGPAlgorithm(mustHex(tt.attr)); got != tt.want {
			t.Errorf("openPGPAlgorithm(%s) = %q, want %q", tt.attr, got, tt.want)
		}
	}
}

// TestOpenPGPAlgorithmInformation: FA, with or without its tag and
// length (and with the length two bytes long that yubikit tolerates),
// gives each key its supported algorithms, each name once; tags that
// name no key are skipped; a malformed FA is an error.
func TestOpenPGPAlgorithmInformation(t *testing.T) {
	entries := "C106010800001100 C106010800002000 C1060110000020 00 C10A162B06010401DA470F01" +
		"C2060108000020 00 C20B122B060104019755010501 C30A 132A8648CE3D030107 FF 020102 DA06132B81040022"
	entries = strings.ReplaceAll(entries, " ", "")
	n := len(entries) / 2
	want := [][]string{
		{"RSA-2048", "RSA-4096", "EdDSA Ed25519"},
		{"RSA-2048", "ECDH Curve25519"},
		{"ECDSA P-256"},
		{"ECDSA P-384"},
	}
	for _, tt := range []struct{ name, fa string }{
		{"wrapped", fmt.Sprintf("FA81%02X", n) + entries},
		{"value alone", entries},
		{"length two too long", fmt.Sprintf("FA81%02X", n+2) + entries},
	} {
		p := &OpenPGPReport{Keys: make([]OpenPGPKey, 4)}
		if err := p.algorithmInformation(mustHex(tt.fa)); err != nil {
			t.Errorf("%s: algorithmInformation = %v", tt.name, err)
			continue
		}
		for i, k := range p.Keys {
			if !slices.Equal(k.Supported, want[i]) {
				t.Errorf("%s: key %d supports %q, want %q", tt.name, i, k.Supported, want[i])
			}
		}
	}
	short := &OpenPGPReport{Keys: make([]OpenPGPKey, 3)}
	if err := short.algorithmInformation(mustHex(entries)); err != nil || short.Keys[2].Supported[0] != "ECDSA P-256" {
		t.Errorf("a card without an attestation key: %v, %+v", err, short.Keys)
	}
	for _, bad := range []string{"FA05C10301", "FA8102C100" + "00", "C1", "C100"} {
		p := &OpenPGPReport{Keys: make([]OpenPGPKey, 4)}
		if err := p.algorithmInformation(mustHex(bad)); err == nil {
			t.Errorf("algorithmInformation(%s) = nil, want an error", bad)
		}
	}
}

func TestOpenPGPCardholderAndCounter(t *testing.T) {
	p := &OpenPGPReport{}
	// A cardholder DO as a YubiKey answers GET DATA 0065: name
	// "Silva<<Esli", languages "en", sex '1'.
	if err := p.cardholder(mustHex("65165b0b53696c76613c3c45736c695f2d02656e5f350131")); err != nil {
		t.Fatal(err)
	}
	if p.Cardholder != "Silva<<Esli" || !reflect.DeepEqual(p.Languages, []string{"en"}) || p.Sex != "male" {
		t.Errorf("cardholder = %q %q %q, want Silva<<Esli [en] male", p.Cardholder, p.Languages, p.Sex)
	}
	if err := p.cardholder(mustHex("5b03 4dfc6c")); err != nil || p.Cardholder != "Mül" {
		t.Errorf("latin-1 name = %q, %v; want Mül", p.Cardholder, err)
	}
	for _, tt := range []struct {
		data string
		want *int // nil: no counter
		err  bool
	}{
		{"7A 05 93 03 00 01 2C", ptr(300), false},
		{"93 03 00 00 05", ptr(5), false},
		{"7A 00", nil, false},
		{"7A 02 93 00", nil, true},
		{"7A 03 93 05 00", nil, true},
	} {
		p := &OpenPGPReport{}
		if err := p.securitySupport(mustHex(tt.data)); (err != nil) != tt.err {
			t.Errorf("securitySupport(%s) error %v, want error %v", tt.data, err, tt.err)
		}
		if !reflect.DeepEqual(p.SignatureCounter, tt.want) {
			t.Errorf("securitySupport(%s): counter %v, want %v", tt.data, p.SignatureCounter, tt.want)
		}
	}
}

func ptr(n int) *int { return &n }

func TestOpenPGPManufacturer(t *testing.T) {
	for id, want := range map[uint16]string{
		0x0006: "Yubico", 0x0005: "ZeitControl", 0xF517: "FSIJ", 0x000A: "VivoKey", 0x000D: "Dangerous Things",
		0x2342: "warpzone", 0x0000: "test card", 0xFFFF: "test card", 0xFF12: "unmanaged serial number range", 0x000F: "", 0xF1D0: "",
	} {
		if got := OpenPGPManufacturer(id); got != want {
			t.Errorf("OpenPGPManufacturer(%04X) = %q, want %q", id, got, want)
		}
	}
}

// FuzzParseOpenPGPAppData: no input panics, and what parses names three
// or four keys.
func FuzzParseOpenPGPAppData(f *testing.F) {
	f.Add(yubiKey6E(f))
	f.Add(gnuk6E(mustHex("01 20 20 20 03 00 03")))
	f.Add(apdu.Nest(0x6E, apdu.AppendTLV(nil, 0x4F, mustHex("D2760001240103040006133814870000")), apdu.AppendTLV(nil, 0xDE, []byte{1, 1, 0x81, 9})))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := parseOpenPGPAppData(b)
		if err == nil && (len(p.Keys) < 3 || len(p.Keys) > 4) {
			t.Errorf("%d keys", len(p.Keys))
		}
	})
}

// FuzzOpenPGPObjects: the PW status, key information, cardholder and
// security support parsers never panic on any value.
func FuzzOpenPGPObjects(f *testing.F) {
	f.Add(mustHex("ff7f7f7f030303"))
	f.Add(mustHex("0102020203028102"))
	f.Add(mustHex("65165b0b53696c76613c3c45736c695f2d02656e5f350131"))
	f.Add(mustHex("7A05930300012C"))
	f.Add(mustHex("FA1EC106010800001100C10A162B06010401DA470F01DA06132B81040022")) // algorithm information
	f.Fuzz(func(t *testing.T, b []byte) {
		p := &OpenPGPReport{Keys: make([]OpenPGPKey, 4)}
		if err := p.pwStatus(b); err == nil && (p.PW1 == nil || p.PW1.Blocked != (b[4] == 0)) {
			t.Errorf("pwStatus(% X): PW1 %+v", b, p.PW1)
		}
		p.keyInformation(b)
		p.cardholder(b)
		p.securitySupport(b)
		p.algorithmInformation(b)
		if len(b) > 0 {
			openPGPAlgorithm(b)
		}
	})
}

func TestParseReadConfig(t *testing.T) {
	tests := []struct {
		name string
		data string
		want *YubiKeyReport
		more bool
		err  string
	}{
		{
			// A YubiKey 5 NFC, firmware 5.4.3, USB-A keychain: every
			// application supported and enabled on both transports, as
			// ykman info shows such a key.
			name: "YubiKey 5 NFC",
			data: "2e 0102033b 0302023b 020400bc614e 040101 0a0100 0d02033b 0e02023b 0503050403 0602000007010f 080100 0f0100",
			want: &YubiKeyReport{
				Version: "5.4.3", Serial: 12345678, FormFactor: "Keychain (USB-A)",
				USBSupported: []string{"OTP", "FIDO U2F", "OpenPGP", "PIV", "OATH", "YubiHSM Auth", "FIDO2"},
				USBEnabled:   []string{"OTP", "FIDO U2F", "OpenPGP", "PIV", "OATH", "FIDO2"},
				NFCSupported: []string{"OTP", "FIDO U2F", "OpenPGP", "PIV", "OATH", "YubiHSM Auth", "FIDO2"},
				NFCEnabled:   []string{"OTP", "FIDO U2F", "OpenPGP", "PIV", "OATH", "FIDO2"},
			},
		},
		{
			name: "FIPS nano USB-C, locked, more data",
			data: "1c 01020218 03020018 020400000001 040184 0a0101 100101 1303414243",
			want: &YubiKeyReport{
				Serial: 1, FormFactor: "Nano (USB-C)", FIPS: true, PartNumber: "ABC", ConfigLocked: true,
				USBSupported: []string{"OpenPGP", "PIV", "FIDO2"}, USBEnabled: []string{"OpenPGP", "PIV"},
			},
			more: true,
		},
		{name: "unknown bits and form factor", data: "07 0102 0404 0401 4f", want: &YubiKeyReport{FormFactor: "unknown (0F)", SecurityKey: true, USBSupported: []string{"0x4", "0x400"}}},
		{name: "empty", data: "", err: "length byte"},
		{name: "length too long", data: "05 0101 01", err: "length byte"},
		{name: "bad TLV", data: "02 0105", err: "extends past the input"},
	}
	for _, tt := range tests {
		tlvs, more, err := parseReadConfig(mustHex(tt.data))
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%s: parseReadConfig error %v, want %q", tt.name, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: parseReadConfig: %v", tt.name, err)
			continue
		}
		got := &YubiKeyReport{}
		got.fill(tlvs)
		if !reflect.DeepEqual(got, tt.want) || more != tt.more {
			t.Errorf("%s: got %+v more %v,\nwant %+v more %v", tt.name, got, more, tt.want, tt.more)
		}
	}
}

// FuzzParseReadConfig: no page panics, and the report of one that parses
// can be filled.
func FuzzParseReadConfig(f *testing.F) {
	f.Add(mustHex("2e0102023f0302023b020400bc614e0401010a01000d02023f0e02023b05030504030602000007010f0801000f0100"))
	f.Add(mustHex("1c010202180302001802040000000104018 40a01011001011303414243"))
	f.Add([]byte{0})
	f.Fuzz(func(t *testing.T, b []byte) {
		tlvs, _, err := parseReadConfig(b)
		if err == nil {
			(&YubiKeyReport{}).fill(tlvs)
		}
	})
}

func TestVersionInText(t *testing.T) {
	for in, want := range map[string]string{"5.4.3": "5.4.3", "Virtual mgmt - FW version 3.4.7": "3.4.7", "no version": "", "5.7": ""} {
		if got := versionInText([]byte(in)); got != want {
			t.Errorf("versionInText(%q) = %q, want %q", in, got, want)
		}
	}
}
