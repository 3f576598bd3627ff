package hostdriver_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"testing"

	"github.com/tesseracard/tessera/apdu"
	"github.com/tesseracard/tessera/firmware"
	"github.com/tesseracard/tessera/firmware/nvm"
	"github.com/tesseracard/tessera/firmware/profile"
	"github.com/tesseracard/tessera/hostdriver"
	"github.com/tesseracard/tessera/simulator"
)

// newCard is a powered card of a built-in profile, its memory and ATR.
func newCard(t *testing.T, name string) (*firmware.Card, *nvm.Memory, []byte) {
	t.Helper()
	p, ok := profile.Builtin(name)
	if !ok {
		t.Fatalf("no profile %q", name)
	}
	mem := &nvm.Memory{}
	card, err := simulator.NewCard(p, mem, simulator.CardOptions{})
	if err != nil {
		t.Fatal(err)
	}
	atr, err := card.PowerOn()
	if err != nil {
		t.Fatal(err)
	}
	return card, mem, atr
}

// isoSend sends commands to the ISO application, each expecting sw.
func isoSend(t *testing.T, card *firmware.Card, sw apdu.StatusWord, cmds ...apdu.Command) {
	t.Helper()
	c := &hostdriver.Conn{T: cardTransport{card}}
	for _, cmd := range cmds {
		resp, err := c.Transmit(context.Background(), cmd)
		if err != nil || resp.SW != sw {
			t.Fatalf("% X: %04X, %v; want %04X", cmd.Data, uint16(resp.SW), err, uint16(sw))
		}
	}
}

// createEF is CREATE FILE of a transparent EF (or a DF) with no access
// rules, then UPDATE BINARY of content (in pieces of at most 255 bytes, at
// their offsets); the new file is left selected.
func createFile(fid uint16, df bool, content []byte) []apdu.Command {
	fdb, size := byte(0x01), len(content)+16 // room for the padding a token leaves
	if df {
		fdb, size = 0x38, 0
	}
	fcp := apdu.AppendTLV(nil, 0x81, []byte{byte(size >> 8), byte(size)})
	fcp = apdu.AppendTLV(fcp, 0x82, []byte{fdb})
	fcp = apdu.AppendTLV(fcp, 0x83, []byte{byte(fid >> 8), byte(fid)})
	cmds := []apdu.Command{{INS: 0xE0, Data: apdu.AppendTLV(nil, 0x6F, fcp)}}
	for off := 0; off < len(content); off += apdu.MaxShortNc {
		piece := content[off:min(off+apdu.MaxShortNc, len(content))]
		cmds = append(cmds, apdu.Command{INS: 0xD6, P1: byte(off >> 8), P2: byte(off), Data: piece})
	}
	return cmds
}

// tokenInfo is a PKCS#15 TokenInfo as OpenSC writes it.
var tokenInfo = func() []byte {
	v := apdu.AppendTLV(nil, 0x02, []byte{0x00})
	v = apdu.AppendTLV(v, 0x04, []byte{0x12, 0x34, 0x56, 0x78})
	v = apdu.AppendTLV(v, 0x0C, []byte("Tessera"))
	v = apdu.AppendTLV(v, 0x80, []byte("CA token"))
	v = apdu.AppendTLV(v, 0x03, []byte{0x06, 0x40}) // login-required
	return apdu.AppendTLV(nil, 0x30, v)
}()

// openSC reads a file of testdata/pkcs15: the PKCS#15 structure OpenSC's
// pkcs15-init wrote on an iso-token card (--create-pkcs15, then an EC P-256
// key 01, a certificate 02 and an RSA-2048 key 03), read back from the card
// with its padding; cert is the certificate's DER.
func openSC(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/pkcs15/opensc-isoapplet-" + name + ".der")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// pkcs15File is a file of a PKCS#15 structure, in the MF or in DF 5015.
type pkcs15File struct {
	fid     uint16
	content []byte
}

// personalise gives card OpenSC's PKCS#15 structure (EF.DIR, and in DF
// 5015 TokenInfo, the ODF, AODF, PrKDF, PuKDF, CDF and the certificate),
// with info for TokenInfo and the files of replace instead of OpenSC's,
// then its PUK and PIN, as pkcs15-init does. The ODF ends with extraODF's
// entries.
func personalise(t *testing.T, card *firmware.Card, info []byte, extraODF ...[]byte) {
	t.Helper()
	personaliseFiles(t, card, []pkcs15File{{0x5032, info}, {0x5031, append(openSC(t, "odf")[:48:48], bytes.Join(extraODF, nil)...)}})
}

// personaliseFiles is personalise with the files of replace written
// instead of OpenSC's (a nil content leaves the file out).
func personaliseFiles(t *testing.T, card *firmware.Card, replace []pkcs15File) {
	t.Helper()
	files := []pkcs15File{
		{0x5032, openSC(t, "tokeninfo")}, {0x5031, openSC(t, "odf")}, {0x4401, openSC(t, "aodf")},
		{0x4402, openSC(t, "prkdf")}, {0x4403, openSC(t, "pukdf")}, {0x4404, openSC(t, "cdf")}, {0x3400, openSC(t, "cert")},
	}
	dir := openSC(t, "dir")
	for _, r := range replace {
		if r.fid == 0x2F00 {
			dir = r.content
		}
		for i := range files {
			if files[i].fid == r.fid {
				files[i].content = r.content
			}
		}
	}
	cmds := []apdu.Command{{INS: 0xA4, P1: 0x04, Data: hostdriver.IsoAppletAID()}}
	if dir != nil {
		cmds = append(cmds, createFile(0x2F00, false, dir)...)
		cmds = append(cmds, apdu.Command{INS: 0xA4, P1: 0x08, P2: 0x0C, Data: []byte{0x3F, 0x00}})
	}
	cmds = append(cmds, createFile(0x5015, true, nil)...)
	for _, f := range files {
		if f.content == nil {
			continue
		}
		cmds = append(cmds, apdu.Command{INS: 0xA4, P1: 0x08, P2: 0x0C, Data: []byte{0x50, 0x15}})
		cmds = append(cmds, createFile(f.fid, false, f.content)...)
	}
	cmds = append(cmds,
		apdu.Command{INS: 0x24, P1: 0x01, P2: 0x02, Data: []byte("0123456789abcdef")},
		apdu.Command{INS: 0x24, P1: 0x01, P2: 0x01, Data: []byte("123456")})
	isoSend(t, card, apdu.SWSuccess, cmds...)
}

// isoOnly is the part of a report an ISO card adds: the ISO section, the
// ISO application's entry, and the warnings, as JSON.
func isoOnly(t *testing.T, r *hostdriver.Report) string {
	t.Helper()
	if r.PIV != nil {
		t.Errorf("an iso-token card has a PIV report: %+v", r.PIV)
	}
	var apps []hostdriver.Application
	for _, a := range r.Applications {
		if a.Present {
			apps = append(apps, a)
		}
	}
	b, err := json.Marshal(map[string]any{"present": apps, "iso": r.ISO, "warnings": r.Warnings})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestDiagnoseISOToken: diag of an iso-token card, blank, personalised,
// with a wrong PIN, blocked, and with a TokenInfo that does not parse:
// every field of the ISO section (through its JSON form), read with read
// instructions only and no change to the card's memory.
func TestDiagnoseISOToken(t *testing.T) {
	const app = `{"name":"ISO file system (IsoApplet)","aid":"F276A288BCFBA69D34F31001","present":true,"status":"9000"}`
	const head = `"api_version":"00.06","features":["secure-random","ecc"]`
	const pkcs15 = `"pkcs15":{"label":"CA token","serial":"12345678","manufacturer":"Tessera","flags":["login-required"],"objects":{"auth_objects":1,"certificates":1,"private_keys":2,"public_keys":2}}`
	wrongPIN := apdu.Command{INS: 0x20, P2: 0x01, Data: []byte("000000")}
	tests := []struct {
		name    string
		prepare func(t *testing.T, card *firmware.Card)
		want    string
	}{
		{"blank", func(*testing.T, *firmware.Card) {},
			`{"iso":{` + head + `,"pin_set":false},"present":[` + app + `],"warnings":["token not personalised (no PIN set)"]}`},
		{"personalised", func(t *testing.T, card *firmware.Card) { personalise(t, card, tokenInfo) },
			`{"iso":{` + head + `,"pin_set":true,"pin":{"tries_left":3,"blocked":false},` + pkcs15 + `},"present":[` + app + `],"warnings":[]}`},
		{"one wrong PIN", func(t *testing.T, card *firmware.Card) {
			personalise(t, card, tokenInfo)
			isoSend(t, card, apdu.StatusWord(0x63C2), wrongPIN)
		}, `{"iso":{` + head + `,"pin_set":true,"pin":{"tries_left":2,"blocked":false},` + pkcs15 + `},"present":[` + app + `],"warnings":[]}`},
		{"PIN blocked", func(t *testing.T, card *firmware.Card) {
			personalise(t, card, tokenInfo)
			isoSend(t, card, apdu.StatusWord(0x63C2), wrongPIN)
			isoSend(t, card, apdu.StatusWord(0x63C1), wrongPIN)
			isoSend(t, card, apdu.StatusWord(0x63C0), wrongPIN)
			isoSend(t, card, apdu.SWAuthMethodBlocked, apdu.Command{INS: 0x20, P2: 0x01}) // blocked: 6983, as diag reads it
		}, `{"iso":{` + head + `,"pin_set":true,"pin":{"tries_left":0,"blocked":true},` + pkcs15 + `},"present":[` + app + `],"warnings":["PIN is blocked","PKCS#15 PIN \"User PIN\" (reference 01) is blocked"]}`},
		{"TokenInfo unreadable", func(t *testing.T, card *firmware.Card) { personalise(t, card, []byte{0x30, 0x03, 0x02, 0x01, 0x00}) },
			`{"iso":{` + head + `,"pin_set":true,"pin":{"tries_left":3,"blocked":false}},"present":[` + app + `],"warnings":["PKCS#15 TokenInfo unreadable: parsing TokenInfo: no version and serial number"]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			card, mem, atr := newCard(t, "iso-token")
			tt.prepare(t, card)
			if _, err := card.Reset(); err != nil { // a fresh session, as diag would have
				t.Fatal(err)
			}
			r := diagnoseReadOnly(t, card, mem, atr)
			if got := isoOnly(t, r); got != tt.want {
				t.Errorf("report:\n%s\nwant:\n%s", got, tt.want)
			}
			if len(r.Applications) != 8 {
				t.Errorf("%d applications listed, want the 7 probed and the ISO application", len(r.Applications))
			}
		})
	}
}

// TestDiagnosePIVListsNoISO: a PIV card's report does not mention the ISO
// application it lacks (its applications list stays as it was).
func TestDiagnosePIVListsNoISO(t *testing.T) {
	card, mem, atr := newCard(t, "default")
	r := diagnoseReadOnly(t, card, mem, atr)
	if r.ISO != nil || len(r.Applications) != 7 {
		t.Errorf("PIV card: ISO %+v, %d applications, want no ISO and 7", r.ISO, len(r.Applications))
	}
	raw, _ := json.Marshal(r)
	if bytes.Contains(raw, []byte(`"iso"`)) {
		t.Errorf("PIV card's JSON report has an iso field: %s", raw)
	}
}

func TestParseTokenInfo(t *testing.T) {
	pad := func(b []byte) []byte { return append(b, make([]byte, 16)...) }
	seq := func(fields ...[]byte) []byte { return apdu.AppendTLV(nil, 0x30, bytes.Join(fields, nil)) }
	version, serial := []byte{0x02, 0x01, 0x00}, []byte{0x04, 0x02, 0xAB, 0xCD}
	tests := []struct {
		name    string
		in      []byte
		want    *hostdriver.PKCS15Report
		wantErr bool
	}{
		{"OpenSC's, padded", pad(tokenInfo), &hostdriver.PKCS15Report{Label: "CA token", Serial: "12345678", Manufacturer: "Tessera", Flags: []string{"login-required"}}, false},
		{"no optional fields", seq(version, serial, []byte{0x03, 0x01, 0x00}), &hostdriver.PKCS15Report{Serial: "abcd", Flags: []string{}}, false},
		{"every flag, fields after", seq(version, serial, []byte{0x03, 0x02, 0x04, 0xF0, 0x0C, 0x01, 'x'}), &hostdriver.PKCS15Report{Serial: "abcd", Flags: []string{"read-only", "login-required", "prn-generation", "eid-compliant"}}, false},
		{"label as a second UTF8String", seq(version, serial, []byte{0x0C, 0x01, 'M', 0x0C, 0x01, 'L', 0x03, 0x01, 0x00}), &hostdriver.PKCS15Report{Serial: "abcd", Manufacturer: "M", Label: "L", Flags: []string{}}, false},
		{"non-minimal length", []byte{0x30, 0x81, 0x07, 0x02, 0x01, 0x00, 0x04, 0x02, 0xAB, 0xCD}, &hostdriver.PKCS15Report{Serial: "abcd", Flags: []string{}}, false},
		{"empty", nil, nil, true},
		{"zeros", make([]byte, 32), nil, true},
		{"not a SEQUENCE", []byte{0x31, 0x00}, nil, true},
		{"truncated", tokenInfo[:len(tokenInfo)-3], nil, true},
		{"no serial", seq(version), nil, true},
	}
	for _, tt := range tests {
		got, err := hostdriver.ParseTokenInfo(tt.in)
		if (err != nil) != tt.wantErr || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: ParseTokenInfo(% X) = %+v, %v; want %+v, error %v", tt.name, tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

// FuzzParseTokenInfo: any bytes give a report or an error, never a panic,
// and a report's serial is the hex of bytes that were there.
func FuzzParseTokenInfo(f *testing.F) {
	f.Add(tokenInfo)
	f.Add([]byte{0x30, 0x81, 0x07, 0x02, 0x01, 0x00, 0x04, 0x02, 0xAB, 0xCD})
	f.Add([]byte{0x30, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := hostdriver.ParseTokenInfo(b)
		if (r == nil) == (err == nil) {
			t.Fatalf("ParseTokenInfo(% X) = %v, %v: want a report or an error", b, r, err)
		}
		if r != nil && !bytes.Contains([]byte(fmt.Sprintf("%x", b)), []byte(r.Serial)) {
			t.Fatalf("ParseTokenInfo(% X): serial %q is not in the input", b, r.Serial)
		}
	})
}
