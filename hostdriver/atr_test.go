package hostdriver

import (
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

func unhex(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

func TestParseATRRealCards(t *testing.T) {
	tests := []struct {
		name       string
		atr        string
		protocols  []int
		historical string
		tck        bool // present and valid
		fi, di     int
		extended   bool
	}{
		{"YubiKey 5.7.1", "3B FD 13 00 00 81 31 FE 15 80 73 C0 21 C0 57 59 75 62 69 4B 65 79 40", []int{1}, "80 73 C0 21 C0 57 59 75 62 69 4B 65 79", true, 372, 4, true},
		{"vsmartcard vicc", "3B 95 13 81 01 80 73 FF 01 00 0B", []int{1}, "80 73 FF 01 00", true, 372, 4, false},
		{"PivApplet / jcardsim", "3B 80 80 01 01", []int{0, 1}, "", true, 372, 1, false},
		{"JCOP 31 v22", "3B 69 00 FF 4A 43 4F 50 33 31 56 32 32", []int{0}, "4A 43 4F 50 33 31 56 32 32", false, 372, 1, false},
		{"NXP JCOP 31 RFID", "3B 88 80 01 00 73 C8 40 00 00 90 00 62", []int{0, 1}, "00 73 C8 40 00 00 90 00", true, 372, 1, false},
		{"Gemalto IDPrime PIV 2.0", "3B 7D 96 00 00 80 31 80 65 B0 83 11 17 E5 83 00 90 00", []int{0}, "80 31 80 65 B0 83 11 17 E5 83 00 90 00", false, 512, 32, false},
	}
	for _, tt := range tests {
		a, err := ParseATR(unhex(tt.atr))
		if err != nil {
			t.Errorf("%s: ParseATR() error = %v", tt.name, err)
			continue
		}
		if !slices.Equal(a.Protocols, tt.protocols) {
			t.Errorf("%s: Protocols = %v, want %v", tt.name, a.Protocols, tt.protocols)
		}
		if got := fmt.Sprintf("% X", a.Historical); got != tt.historical {
			t.Errorf("%s: Historical = %s, want %s", tt.name, got, tt.historical)
		}
		if a.HasTCK != tt.tck || tt.tck && !a.TCKValid {
			t.Errorf("%s: HasTCK %v TCKValid %v, want %v", tt.name, a.HasTCK, a.TCKValid, tt.tck)
		}
		if a.Fi != tt.fi || a.Di != tt.di {
			t.Errorf("%s: Fi/Di = %d/%d, want %d/%d", tt.name, a.Fi, a.Di, tt.fi, tt.di)
		}
		if a.ExtendedLength() != tt.extended {
			t.Errorf("%s: ExtendedLength() = %v, want %v", tt.name, a.ExtendedLength(), tt.extended)
		}
		if a.String() != tt.atr {
			t.Errorf("%s: String() = %s", tt.name, a.String())
		}
	}
	yk, _ := ParseATR(unhex(tests[0].atr))
	if yk.Caps == nil || string(yk.Caps.Objects[0x5]) != "YubiKey" || !yk.Caps.CommandChaining {
		t.Errorf("YubiKey capabilities = %+v", yk.Caps)
	}
}

func TestParseATRMalformed(t *testing.T) {
	tests := map[string]string{
		"empty":               "",
		"TS only":             "3B",
		"bad TS":              "3C 00",
		"interface truncated": "3B F0 11",
		"historical short":    "3B 05 01 02",
		"TCK missing":         "3B 80 80 01",
		"stray bytes":         "3B 00 11 22",
		"too long":            strings.Repeat("3B ", 34),
	}
	for name, s := range tests {
		if _, err := ParseATR(unhex(s)); !errors.Is(err, ErrBadATR) {
			t.Errorf("%s: ParseATR(%s) error = %v, want ErrBadATR", name, s, err)
		}
	}
	a, err := ParseATR(unhex("3B 80 80 01 02"))
	if err != nil || !a.HasTCK || a.TCKValid {
		t.Errorf("wrong TCK: %+v, %v; want parsed with TCKValid false", a, err)
	}
}

func FuzzParseATR(f *testing.F) {
	for _, s := range []string{"3B FD 13 00 00 81 31 FE 15 80 73 C0 21 C0 57 59 75 62 69 4B 65 79 40", "3B 95 13 81 01 80 73 FF 01 00 0B", "3B 80 80 01 01"} {
		f.Add(unhex(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := ParseATR(b)
		if err != nil {
			return
		}
		if len(a.Historical) > len(b) || len(a.Protocols) == 0 {
			t.Fatalf("ParseATR(% X) = %+v", b, a)
		}
	})
}

func TestATRList(t *testing.T) {
	list, err := ReadATRList(strings.NewReader(`# comment
3B 80 80 01 01
	ISO 14443 Type B without historical bytes
	Electronic Passport

3B FD 13 00 00 81 31 FE 15 80 73 C0 21 C0 57 59 75 62 69 4B 65 79 40
	Yubico YubiKey 5 NFC (PKI)
3B 95 .. 81 01 80 73 FF 01 00 0[AB]
	vsmartcard pattern
3B [bad
	never matched
`))
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string]string{
		"3B FD 13 00 00 81 31 FE 15 80 73 C0 21 C0 57 59 75 62 69 4B 65 79 40": "Yubico YubiKey 5 NFC (PKI)",
		"3B 80 80 01 01":                   "ISO 14443 Type B without historical bytes",
		"3B 95 13 81 01 80 73 FF 01 00 0B": "vsmartcard pattern",
		"3B 00":                            "",
	}
	for atr, want := range tests {
		got := list.Name(unhex(atr))
		if first := strings.Join(got[:min(1, len(got))], ""); first != want {
			t.Errorf("Name(%s) = %q, want %q", atr, got, want)
		}
	}
	if list.Len() != 3 {
		t.Errorf("Len() = %d, want 3 (the bad pattern passed over)", list.Len())
	}
	if l, err := LoadATRList(DefaultATRList); err == nil {
		if got := l.Name(unhex("3B 95 13 81 01 80 73 FF 01 00 0B")); len(got) == 0 {
			t.Errorf("the installed smartcard_list.txt does not name the vicc ATR")
		}
	}
}
