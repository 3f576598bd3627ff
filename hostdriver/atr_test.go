package hostdriver

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
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

// atrListSample is a list in pcsc-tools' format with the shapes the real
// one has, and some it must survive: CR LF line ends, a comment inside an
// entry, lower-case hex, and lines that are not ATR patterns.
const atrListSample = "# smartcard_list.txt sample\r\n" +
	"#\r\n" +
	"\r\n" +
	"3B 80 80 01 01\r\n" +
	"\tISO 14443 Type B without historical bytes\r\n" +
	"\tElectronic Passport\r\n" +
	"\r\n" +
	"3B FD 13 00 00 81 31 FE 15 80 73 C0 21 C0 57 59 75 62 69 4B 65 79 40\n" +
	"\tYubico YubiKey 5 NFC (PKI)\n" +
	"# a comment inside an entry\n" +
	"\thttps://www.yubico.com/product/yubikey-5-nfc\n" +
	"\n" +
	"3B FD 13 00 00 81 31 FE 15 80 73 C0 21 C0 57 59 75 62 69 4B 65 79 ..\n" +
	"\tYubico YubiKey 5 series (any TCK)\n" +
	"\tYubico YubiKey 5 NFC (PKI)\n" +
	"\n" +
	"3b 95 .. 81 01 80 73 ff 01 00 0[ab]\n" +
	"\tvsmartcard vicc (lower-case pattern)\n" +
	"\n" +
	"3B 6F 00 00 80 5A .. 0[1-5] .. .. .. .. .. .. .. .. 82 90 00\n" +
	"\tCalypso (a class and wildcards)\n" +
	"\n" +
	"3B EF 00 FF 81 31 42 45 .* 38\n" +
	"\tany length in the middle\n" +
	"\n" +
	"3B [bad\n" +
	"\tdescription of a pattern that does not compile\n" +
	"\n" +
	"3B ZZ 00\n" +
	"\tdescription of a pattern with non-hex bytes\n" +
	"\n" +
	"Some text that is not a pattern\n" +
	"\n" +
	"3B \\d\\d\n" +
	"\tescapes are not ATR patterns\n" +
	"\n" +
	"\tan orphan description\n"

func TestATRList(t *testing.T) {
	list, err := ReadATRList(strings.NewReader(atrListSample))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, atr string
		want      []string
	}{
		{"two patterns, every name once", "3B FD 13 00 00 81 31 FE 15 80 73 C0 21 C0 57 59 75 62 69 4B 65 79 40",
			[]string{"Yubico YubiKey 5 NFC (PKI)", "https://www.yubico.com/product/yubikey-5-nfc", "Yubico YubiKey 5 series (any TCK)"}},
		{"wildcard only", "3B FD 13 00 00 81 31 FE 15 80 73 C0 21 C0 57 59 75 62 69 4B 65 79 41",
			[]string{"Yubico YubiKey 5 series (any TCK)", "Yubico YubiKey 5 NFC (PKI)"}},
		{"continuation lines, CR LF", "3B 80 80 01 01", []string{"ISO 14443 Type B without historical bytes", "Electronic Passport"}},
		{"lower-case pattern", "3B 95 13 81 01 80 73 FF 01 00 0B", []string{"vsmartcard vicc (lower-case pattern)"}},
		{"class and wildcards", "3B 6F 00 00 80 5A 0A 03 01 02 03 04 05 06 07 08 82 90 00", []string{"Calypso (a class and wildcards)"}},
		{"class excludes", "3B 6F 00 00 80 5A 0A 06 01 02 03 04 05 06 07 08 82 90 00", nil},
		{".*", "3B EF 00 FF 81 31 42 45 01 02 03 38", []string{"any length in the middle"}},
		{"matched whole, not a prefix", "3B 80 80 01 01 00", nil},
		{"unknown", "3B 00", nil},
	}
	for _, tt := range tests {
		if got := list.Names(unhex(tt.atr)); !slices.Equal(got, tt.want) {
			t.Errorf("%s: Names(%s) = %q, want %q", tt.name, tt.atr, got, tt.want)
		}
	}
	if list.Len() != 6 || list.Skipped() != 4 {
		t.Errorf("Len(), Skipped() = %d, %d; want 6, 4 (3B [bad, 3B ZZ 00, the text line and the escapes passed over)", list.Len(), list.Skipped())
	}
	for _, name := range []string{"description of a pattern that does not compile", "description of a pattern with non-hex bytes", "an orphan description"} {
		for _, e := range list.entries {
			if slices.Contains(e.names, name) {
				t.Errorf("%q was kept, under %s", name, e.re)
			}
		}
	}
}

func TestATRListLimits(t *testing.T) {
	if _, err := ReadATRList(strings.NewReader(strings.Repeat("# padding to past the bound\n", maxATRList/28+1))); err == nil {
		t.Errorf("ReadATRList of more than %d bytes: no error", maxATRList)
	}
	if _, err := ReadATRList(strings.NewReader("3B " + strings.Repeat(".", 2<<20) + "\n")); err == nil {
		t.Errorf("ReadATRList of a 2 MiB line: no error")
	}
	if _, err := LoadATRList(t.TempDir() + "/absent.txt"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("LoadATRList(absent) error = %v, want fs.ErrNotExist", err)
	}
	l, err := ReadATRList(strings.NewReader(""))
	if err != nil || l.Len() != 0 || l.Names(unhex("3B 00")) != nil {
		t.Errorf("empty list: %v, %v", l, err)
	}
}

// TestATRListInstalled: the list pcsc-tools installs parses with no line
// passed over and names the vsmartcard ATR. On Linux the list must be
// there (scripts/deps.sh installs pcsc-tools for make test); other systems
// have no default list to read.
func TestATRListInstalled(t *testing.T) {
	path := DefaultATRListPath()
	if path == "" {
		t.Skip("no default ATR list on this OS: pcsc-tools' list is at a Linux path only")
	}
	l, err := LoadATRList(path)
	if errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("no %s: install pcsc-tools (scripts/deps.sh does)", path)
	}
	if err != nil {
		t.Fatal(err)
	}
	if l.Len() < 1000 || l.Skipped() != 0 {
		t.Errorf("the installed list: Len() %d, Skipped() %d; want over 1000 patterns, none skipped", l.Len(), l.Skipped())
	}
	if got := l.Names(unhex("3B 95 13 81 01 80 73 FF 01 00 0B")); len(got) == 0 {
		t.Errorf("the installed smartcard_list.txt does not name the vicc ATR")
	}
}

func FuzzReadATRList(f *testing.F) {
	f.Add([]byte(atrListSample), unhex("3B 80 80 01 01"))
	f.Add([]byte("3B .. (01|02)\n\tx\n"), unhex("3B 00 01"))
	f.Add([]byte("\t\r\n3B{1,1000}\n"), []byte{0x3B})
	f.Fuzz(func(t *testing.T, list, atr []byte) {
		l, err := ReadATRList(bytes.NewReader(list))
		if err != nil {
			return
		}
		lines := bytes.Count(list, []byte("\n")) + 1
		if l.Len()+l.Skipped() > lines {
			t.Fatalf("%d patterns and %d skipped from %d lines", l.Len(), l.Skipped(), lines)
		}
		names := l.Names(atr)
		for i, n := range names {
			if n == "" || strings.TrimSpace(n) != n || slices.Contains(names[:i], n) {
				t.Fatalf("Names() = %q: an empty, untrimmed or repeated name", names)
			}
			if !bytes.Contains(list, []byte(n)) {
				t.Fatalf("Names() = %q: %q is not in the list", names, n)
			}
		}
	})
}
