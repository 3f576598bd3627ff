package hostdriver_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tesseracard/tessera/apdu"
	"github.com/tesseracard/tessera/firmware"
	"github.com/tesseracard/tessera/hostdriver"
)

func unhex(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

func jsonOf(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// pkcs15Case is one parser table row: input, the parse's JSON, and
// whether it errs.
type pkcs15Case struct {
	name    string
	in      []byte
	want    string
	wantErr bool
}

func runPKCS15Cases[T any](t *testing.T, parse func([]byte) (T, error), tests []pkcs15Case) {
	t.Helper()
	for _, tt := range tests {
		got, err := parse(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("%s: error %v, want error %v", tt.name, err, tt.wantErr)
		}
		if err != nil {
			var pe *hostdriver.PKCS15Error
			if !errors.Is(err, hostdriver.ErrPKCS15) || !errors.As(err, &pe) {
				t.Errorf("%s: error %v is no *PKCS15Error wrapping ErrPKCS15", tt.name, err)
			}
		}
		if g := jsonOf(t, got); g != tt.want {
			t.Errorf("%s: got\n%s\nwant\n%s", tt.name, g, tt.want)
		}
	}
}

func TestParseEFDIR(t *testing.T) {
	runPKCS15Cases(t, hostdriver.ParseEFDIR, []pkcs15Case{
		{"OpenSC's, padded", openSC(t, "dir"), `[{"aid":"A000000063504B43532D3135","label":"JavaCard isoApplet","path":"3F005015"}]`, false},
		{"records end to end", unhex("6107 4F05A000000001 610E 4F0CA000000063504B43532D3135 FFFF"), `[{"aid":"A000000001"},{"aid":"A000000063504B43532D3135"}]`, false},
		{"a template without AID among good ones", unhex("6103 500141 6107 4F05A000000001"), `[{"aid":"A000000001"}]`, true},
		{"odd path", unhex("610A 4F01A1 5103 3F0050"), `null`, true},
		{"AID too long", unhex("6113 4F11" + strings.Repeat("00", 17)), `null`, true},
		{"other tag", unhex("7003 4F01A1"), `null`, true},
		{"truncated", unhex("6128 4F0C"), `null`, true},
		{"empty", nil, `null`, false},
	})
}

func TestParseODF(t *testing.T) {
	runPKCS15Cases(t, hostdriver.ParseODF, []pkcs15Case{
		{"OpenSC's, padded", openSC(t, "odf"), `[{"kind":"auth_objects","path":"3F0050154401"},{"kind":"private_keys","path":"3F0050154402"},{"kind":"public_keys","path":"3F0050154403"},{"kind":"certificates","path":"3F0050154404"}]`, false},
		{"relative path with index and length, objects inline", unhex("A50C 300A 04024404 020110 800120 A807 A005 3003 300100"), `[{"kind":"trusted_certificates","path":"4404"},{"kind":"auth_objects"}]`, false},
		{"unknown kind skipped", unhex("AF03 300100 A006 3004 04024402"), `[{"kind":"private_keys","path":"4402"}]`, false},
		{"path too long kept out", unhex("A016 3014 0412" + strings.Repeat("5015", 9) + " A006 3004 04024402"), `[{"kind":"private_keys","path":"4402"}]`, true},
		{"protected directory", unhex("A002 A100"), `null`, true},
		{"odd path", unhex("A005 3003 040144"), `null`, true},
		{"negative index", unhex("A009 3007 04024402 0201FF"), `null`, true},
		{"truncated", unhex("A00A 3008"), `null`, true},
	})
}

func TestParseAODF(t *testing.T) {
	const userPIN = `{"label":"User PIN","auth_id":"FF","reference":1,"type":"ascii-numeric","min_length":4,"stored_length":16,"max_length":16,"pad_char":"00","flags":["case-sensitive","initialized","needs-padding"]}`
	// A CardOS-style SO PIN: local, unblockingPin... every flag, type
	// utf8, no maximum, a path, reference 81.
	soPIN := apdu.Nest(0x30,
		apdu.Nest(0x30, apdu.AppendTLV(nil, 0x0C, []byte("SO PIN"))),
		apdu.Nest(0x30, apdu.AppendTLV(nil, 0x04, []byte{0x02})),
		apdu.Nest(0xA1, apdu.Nest(0x30,
			unhex("0303 04FFF0"), unhex("0A0102"), unhex("020106"), unhex("020108"), unhex("80020081"),
			apdu.Nest(0x30, apdu.AppendTLV(nil, 0x04, unhex("3F005015"))))))
	const so = `{"label":"SO PIN","auth_id":"02","reference":129,"type":"utf8","min_length":6,"stored_length":8,"flags":["case-sensitive","local","change-disabled","unblock-disabled","initialized","needs-padding","unblockingPin","soPin","disable-allowed","integrity-protected","confidentiality-protected","exchangeRefData"],"path":"3F005015"}`
	runPKCS15Cases(t, hostdriver.ParseAODF, []pkcs15Case{
		{"OpenSC's user PIN, padded", openSC(t, "aodf"), `[` + userPIN + `]`, false},
		{"an SO PIN with every flag, a biometric object passed over", append(append(slices.Clone(soPIN), unhex("A000")...), openSC(t, "aodf")...), `[` + so + `,` + userPIN + `]`, false},
		{"no type attributes, then a good one", append(unhex("3009 3000 3003 040101 A000"), openSC(t, "aodf")...), `[` + userPIN + `]`, true},
		{"no lengths", apdu.Nest(0x30, unhex("3000"), unhex("3000"), apdu.Nest(0xA1, apdu.Nest(0x30, unhex("0A0101")))), `null`, true},
		{"type attributes not a SEQUENCE", unhex("300A 3000 3000 A104 0402 0000"), `null`, true},
		{"five-byte INTEGER", apdu.Nest(0x30, unhex("3000"), unhex("3000"), apdu.Nest(0xA1, apdu.Nest(0x30, unhex("0A0101 0205 0000000001 020101")))), `null`, true},
		{"unknown kind", unhex("A300"), `null`, true},
	})
}

func TestParsePrKDF(t *testing.T) {
	runPKCS15Cases(t, hostdriver.ParsePrKDF, []pkcs15Case{
		{"OpenSC's EC and RSA keys", openSC(t, "prkdf"), `[` +
			`{"label":"Private Key","id":"01","auth_id":"FF","algorithm":"EC","key_size":256,"usage":["sign","signRecover"],"access":["sensitive","alwaysSensitive","neverExtractable","local"],"key_reference":0,"path":"3F005015"},` +
			`{"label":"RSA key","id":"03","auth_id":"FF","algorithm":"RSA","key_size":2048,"usage":["decrypt","sign","signRecover","unwrap"],"access":["sensitive","alwaysSensitive","neverExtractable","local"],"key_reference":1,"path":"3F005015"}]`, false},
		{"a DSA key without label, size or reference, nonRepudiation", apdu.Nest(0xA2, unhex("3000"), unhex("3008 0401AB 0303060040"), apdu.Nest(0xA1, apdu.Nest(0x30, unhex("3004 04024400")))),
			`[{"id":"AB","algorithm":"DSA","usage":["nonRepudiation"],"path":"4400"}]`, false},
		{"no ID", apdu.Nest(0x30, unhex("3000"), unhex("3004 03020520"), apdu.Nest(0xA1, apdu.Nest(0x30, unhex("020200FF")))), `null`, true},
		{"unknown type, then OpenSC's", append(unhex("A700"), openSC(t, "prkdf")[:56]...), `[{"label":"Private Key","id":"01","auth_id":"FF","algorithm":"EC","key_size":256,"usage":["sign","signRecover"],"access":["sensitive","alwaysSensitive","neverExtractable","local"],"key_reference":0,"path":"3F005015"}]`, true},
		{"truncated", openSC(t, "prkdf")[:20], `null`, true},
	})
}

func TestParseCDF(t *testing.T) {
	runPKCS15Cases(t, hostdriver.ParseCDF, []pkcs15Case{
		{"OpenSC's, padded", openSC(t, "cdf"), `[{"label":"Test cert","id":"02","directory":"","type":"x509","path":"3F0050153400"}]`, false},
		{"an authority's, a CV certificate", append(
			apdu.Nest(0x30, unhex("3005 0C0343412E"), unhex("3006 040101 0101FF"), apdu.Nest(0xA1, apdu.Nest(0x30, unhex("3008 04063F0050153401")))),
			apdu.Nest(0xA5, unhex("3000"), unhex("3003 040103"), apdu.Nest(0xA1, apdu.Nest(0x30, unhex("3004 04024405"))))...),
			`[{"label":"CA.","id":"01","directory":"","authority":true,"type":"x509","path":"3F0050153401"},{"id":"03","directory":"","type":"cv","path":"4405"}]`, false},
		{"no value", apdu.Nest(0x30, unhex("3000"), unhex("3003 040101"), apdu.Nest(0xA1, unhex("3000"))), `null`, true},
		{"no ID", apdu.Nest(0x30, unhex("3000"), unhex("3000"), apdu.Nest(0xA1, apdu.Nest(0x30, unhex("3004 04024405")))), `null`, true},
		{"unknown type", unhex("A900"), `null`, true},
	})
}

// FuzzPKCS15: any bytes give each parser objects, an error or both, never
// a panic; an error is always a *PKCS15Error wrapping ErrPKCS15.
func FuzzPKCS15(f *testing.F) {
	for _, name := range []string{"dir", "odf", "tokeninfo", "aodf", "prkdf", "pukdf", "cdf"} {
		f.Add(openSC(f, name))
	}
	f.Add(unhex("A807 A005 3003 300100"))
	f.Fuzz(func(t *testing.T, b []byte) {
		check := func(name string, err error) {
			if err == nil {
				return
			}
			var pe *hostdriver.PKCS15Error
			if !errors.Is(err, hostdriver.ErrPKCS15) || !errors.As(err, &pe) {
				t.Fatalf("%s(% X): error %v is no *PKCS15Error", name, b, err)
			}
		}
		_, err := hostdriver.ParseEFDIR(b)
		check("ParseEFDIR", err)
		_, err = hostdriver.ParseODF(b)
		check("ParseODF", err)
		_, err = hostdriver.ParseTokenInfo(b)
		check("ParseTokenInfo", err)
		_, err = hostdriver.ParseAODF(b)
		check("ParseAODF", err)
		_, err = hostdriver.ParsePrKDF(b)
		check("ParsePrKDF", err)
		_, err = hostdriver.ParseCDF(b)
		check("ParseCDF", err)
	})
}

// diagnoseAt is Diagnose of card at the time at, checked as
// diagnoseReadOnly checks it: memory unchanged, only reads sent.
func diagnoseAt(t *testing.T, card *firmware.Card, at time.Time) *hostdriver.Report {
	t.Helper()
	if _, err := card.Reset(); err != nil {
		t.Fatal(err)
	}
	var sent [][]byte
	c := &hostdriver.Conn{T: cardTransport{card}, Trace: func(cmd, _ []byte) { sent = append(sent, cmd) }}
	r, err := hostdriver.Diagnose(context.Background(), c, nil, hostdriver.DiagOptions{Now: at})
	if err != nil {
		t.Fatal(err)
	}
	for _, cmd := range sent {
		if !slices.Contains(hostdriver.ReadOnlyINS(), cmd[1]) || cmd[1] == apdu.InsVerify && len(cmd) > 5 {
			t.Errorf("Diagnose sent % X, which is not a read", cmd)
		}
	}
	return r
}

// TestDiagnosePKCS15: diag of an iso-token card with OpenSC's PKCS#15
// structure reads every field of the PIN, the keys and the certificate,
// the PIN's tries by VERIFY without data, blocked; a broken AODF or a
// certificate file that is not one is a warning; the card's memory is the
// same before and after.
func TestDiagnosePKCS15(t *testing.T) {
	app := `"application":{"aid":"A000000063504B43532D3135","label":"JavaCard isoApplet","path":"3F005015"}`
	info := `{"label":"JavaCard isoApplet","serial":"0000","manufacturer":"unknown","flags":["eid-compliant"],"objects":{"auth_objects":1,"certificates":1,"private_keys":2,"public_keys":2},` + app
	pin := func(state string) string {
		return `"pins":[{"label":"User PIN","auth_id":"FF","reference":1,"type":"ascii-numeric","min_length":4,"stored_length":16,"max_length":16,"pad_char":"00","flags":["case-sensitive","initialized","needs-padding"],` + state + `}]`
	}
	keys := `"private_keys":[` +
		`{"label":"Private Key","id":"01","auth_id":"FF","algorithm":"EC","key_size":256,"usage":["sign","signRecover"],"access":["sensitive","alwaysSensitive","neverExtractable","local"],"key_reference":0,"path":"3F005015"},` +
		`{"label":"RSA key","id":"03","auth_id":"FF","algorithm":"RSA","key_size":2048,"usage":["decrypt","sign","signRecover","unwrap"],"access":["sensitive","alwaysSensitive","neverExtractable","local"],"key_reference":1,"path":"3F005015"}]`
	cert := func(days int) string {
		return `"certificates":[{"label":"Test cert","id":"02","directory":"certificates","type":"x509","path":"3F0050153400","subject":"CN=Tessera test,O=Tessera","issuer":"CN=Tessera test,O=Tessera","not_before":"2026-12-03T08:15:48Z","not_after":"2026-12-23T08:15:48Z","days_to_expiry":` + jsonOf(t, days) + `,"public_key":"ECDSA P-256"}]`
	}
	tries3 := `"state":"tries-left","tries_left":3,"status":"63C3"`
	at := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	wrongPIN := apdu.Command{INS: 0x20, P2: 0x01, Data: []byte("000000")}
	tests := []struct {
		name     string
		prepare  func(t *testing.T, card *firmware.Card)
		at       time.Time
		want     string
		warnings []string
	}{
		{"OpenSC's", func(t *testing.T, card *firmware.Card) { personaliseFiles(t, card, nil) }, at,
			info + `,` + pin(tries3) + `,` + keys + `,` + cert(19) + `}`,
			[]string{`PKCS#15 certificate "Test cert" (ID 02) expires in 19 days`}},
		{"one wrong PIN, certificate fine", func(t *testing.T, card *firmware.Card) {
			personaliseFiles(t, card, nil)
			isoSend(t, card, apdu.StatusWord(0x63C2), wrongPIN)
		}, at.AddDate(0, 0, -40), info + `,` + pin(`"state":"tries-left","tries_left":2,"status":"63C2"`) + `,` + keys + `,` + cert(59) + `}`, []string{}},
		{"PIN blocked, certificate expired", func(t *testing.T, card *firmware.Card) {
			personaliseFiles(t, card, nil)
			for _, sw := range []apdu.StatusWord{0x63C2, 0x63C1, 0x63C0} {
				isoSend(t, card, sw, wrongPIN)
			}
		}, at.AddDate(0, 1, 0), info + `,` + pin(`"state":"blocked","status":"6983"`) + `,` + keys + `,` + cert(-11) + `}`,
			[]string{"PIN is blocked", `PKCS#15 PIN "User PIN" (reference 01) is blocked`, `PKCS#15 certificate "Test cert" (ID 02) expired 11 days ago`}},
		{"broken AODF, certificate file not a certificate", func(t *testing.T, card *firmware.Card) {
			personaliseFiles(t, card, []pkcs15File{{0x4401, unhex("3009 3000 3003 040101 A000")}, {0x3400, unhex("0401FF")}})
		}, at, info + `,` + keys + `,` +
			`"certificates":[{"label":"Test cert","id":"02","directory":"certificates","type":"x509","path":"3F0050153400","subject":"","issuer":"","not_before":"0001-01-01T00:00:00Z","not_after":"0001-01-01T00:00:00Z","days_to_expiry":0,"public_key":"","parse_error":"x509: malformed certificate"}]}`,
			[]string{`PKCS#15 AODF 3F0050154401: parsing AODF object 1: no type attributes ([1] A1)`, `PKCS#15 certificate "Test cert" (ID 02) does not parse: x509: malformed certificate`}},
		{"no EF.DIR: found at 3F00/5015", func(t *testing.T, card *firmware.Card) { personaliseFiles(t, card, []pkcs15File{{0x2F00, nil}}) }, at,
			strings.Replace(info, `,`+app, ``, 1) + `,` + pin(tries3) + `,` + keys + `,` + cert(19) + `}`,
			[]string{`PKCS#15 certificate "Test cert" (ID 02) expires in 19 days`}},
		{"ODF names a missing directory", func(t *testing.T, card *firmware.Card) { personaliseFiles(t, card, []pkcs15File{{0x4402, nil}}) }, at,
			strings.Replace(info, `"private_keys":2,`, ``, 1) + `,` + pin(tries3) + `,` + cert(19) + `}`,
			[]string{`PKCS#15 certificate "Test cert" (ID 02) expires in 19 days`, "PKCS#15 private_keys directory 3F0050154402 unreadable: apdu: 6A82 file or application not found"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			card, mem, _ := newCard(t, "iso-token")
			tt.prepare(t, card)
			before, _ := mem.Load()
			r := diagnoseAt(t, card, tt.at)
			if after, _ := mem.Load(); !bytes.Equal(before, after) {
				t.Errorf("Diagnose changed the card's memory: %x, then %x", sha256.Sum256(before), sha256.Sum256(after))
			}
			if got := jsonOf(t, r.PKCS15); got != tt.want {
				t.Errorf("pkcs15:\n%s\nwant:\n%s", got, tt.want)
			}
			want := slices.Sorted(slices.Values(tt.warnings))
			if !slices.Equal(r.Warnings, want) {
				t.Errorf("warnings:\n%q\nwant:\n%q", r.Warnings, want)
			}
		})
	}
}

// TestDiagnoseNoPKCS15: a PIV card's report has no PKCS#15 section, and
// diag sends it no file command; a blank iso-token has none either.
func TestDiagnoseNoPKCS15(t *testing.T) {
	for _, profile := range []string{"default", "iso-token"} {
		card, _, _ := newCard(t, profile)
		r := diagnoseAt(t, card, now)
		if r.PKCS15 != nil {
			t.Errorf("%s: PKCS#15 section %s, want none", profile, jsonOf(t, r.PKCS15))
		}
	}
}
