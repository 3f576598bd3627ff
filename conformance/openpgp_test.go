package conformance

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/hex"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/tesseracard/tessera/apdu"
)

// opgpOnly answers SELECT of the OpenPGP AID with 9000, other SELECTs with
// 6A82, GET DATA C4 with factory PW status bytes and everything else with
// 6D00.
func opgpOnly(cmd []byte) []byte {
	switch {
	case len(cmd) > 5 && cmd[1] == apdu.InsSelect && bytes.Equal(cmd[5:5+int(cmd[4])], opgpAID()):
		return []byte{0x90, 0x00}
	case len(cmd) >= 4 && cmd[1] == apdu.InsGetData && cmd[2] == 0x00 && cmd[3] == 0xC4:
		return []byte{0x01, 0x7F, 0x7F, 0x7F, 0x03, 0x00, 0x03, 0x90, 0x00}
	}
	return notPIV(cmd)
}

// TestRunPicksOpenPGP: a card that answers the OpenPGP AID alone gets the
// OpenPGP cases only, none not applicable; without --destructive the
// destructive ones are skipped, saying they need PW1 and PW3.
func TestRunPicksOpenPGP(t *testing.T) {
	card := &scriptCard{answer: opgpOnly}
	rep, err := Run(context.Background(), Target{Name: "OpenPGP", Open: func(context.Context) (Card, error) { return card, nil }}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, r := range rep.Results {
		switch {
		case r.App != AppOpenPGP:
			t.Errorf("case %s (%s) on an OpenPGP-only card", r.ID, r.App)
		case r.Outcome == NotApplicable:
			t.Errorf("%s: not applicable on an OpenPGP card", r.ID)
		case r.Class == Destructive && (r.Outcome != Skipped || r.Message != "destructive: runs on a real card only with --destructive and its PW1 and PW3"):
			t.Errorf("%s: %s %q, want skipped: destructive", r.ID, r.Outcome, r.Message)
		}
		n++
	}
	if want := len(opgpCases()); n != want {
		t.Errorf("%d cases ran, want the %d OpenPGP cases", n, want)
	}
	if a := rep.ByApplication(); len(a) != 1 || a[0].App.Code() != "OpenPGP" {
		t.Errorf("ByApplication() = %+v, want OpenPGP alone", a)
	}
}

// TestOpenPGPPlanRefuses: with --destructive, a real card's destructive
// OpenPGP cases are refused without PW1 and PW3 (and nothing is sent to
// find out), and with them the ones that generate keys or reset the
// application always are; an OpenPGP-only card needs no PIV credentials.
func TestOpenPGPPlanRefuses(t *testing.T) {
	for _, tt := range []struct {
		name, want string
		creds      Credentials
	}{
		{"without PW1 and PW3", "needs the OpenPGP user and admin PINs (--pw1, --pw3)", Credentials{}},
		// The script card answers VERIFY 6D00: the plan refuses them all.
		{"PW1 and PW3 given", "VERIFY 83 with the given password answered 6D00 (instruction not supported)", Credentials{PW1: "123456", PW3: "12345678"}},
	} {
		card := &scriptCard{answer: opgpOnly}
		rep, err := Run(context.Background(), Target{Name: "OpenPGP", Open: func(context.Context) (Card, error) { return card, nil }}, Options{Destructive: true, Credentials: tt.creds})
		if err != nil {
			t.Fatalf("%s: Run() = %v", tt.name, err)
		}
		cases := map[string]Case{}
		for _, c := range opgpCases() {
			cases[c.ID] = c
		}
		for _, r := range rep.Results {
			c := cases[r.ID]
			want := tt.want
			switch {
			case c.Class != Destructive:
				continue
			case c.Needs&NeedOpenPGPKeys != 0:
				want = "generates OpenPGP keys, replacing the card's, which nothing can put back: run it on the simulator (--target sim)"
			case c.Needs&NeedTerminate != 0:
				want = "resets the OpenPGP application to its factory state (TERMINATE DF, ACTIVATE FILE): run it on the simulator (--target sim)"
			}
			if r.Outcome != Refused || r.Message != want {
				t.Errorf("%s: %s: %s %q, want refused %q", tt.name, r.ID, r.Outcome, r.Message, want)
			}
		}
		if tt.creds.PW1 == "" {
			for _, cmd := range card.sent {
				if cmd[1] == apdu.InsVerify && len(cmd) > 5 {
					t.Errorf("%s: sent VERIFY % X without passwords", tt.name, cmd)
				}
			}
		}
	}
}

// yubiKey6E is a YubiKey 5's recorded GET DATA 6E (the host driver's test
// data).
func yubiKey6E(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile("../hostdriver/testdata/openpgp/yubikey5-6e.hex")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := hex.DecodeString(strings.Join(strings.Fields(string(b)), ""))
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func TestParseOpenPGPAppData(t *testing.T) {
	raw := yubiKey6E(t)
	for _, b := range [][]byte{raw, raw[4:]} { // the object, and its value alone
		d, err := parseOpenPGPAppData(b)
		if err != nil {
			t.Fatal(err)
		}
		aid, _ := d.get(0x4F)
		c4, _ := d.get(0xC4)
		fps, _ := d.get(0xC5)
		if hex.EncodeToString(aid) != "d2760001240103040006133814870000" || !bytes.Equal(c4, []byte{0xFF, 0x7F, 0x7F, 0x7F, 3, 3, 3}) || len(fps) != 80 {
			t.Errorf("parsed 4F % X, C4 % X, C5 of %d bytes", aid, c4, len(fps))
		}
	}
	if _, err := parseOpenPGPAppData([]byte{0x6E, 0x03, 0x73, 0x05, 0x00}); err == nil {
		t.Error("a 73 whose length runs past the end parsed")
	}
}

func FuzzParseOpenPGPAppData(f *testing.F) {
	f.Add(yubiKey6E(f))
	f.Add([]byte{0x6E, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := parseOpenPGPAppData(b)
		if err != nil {
			return
		}
		for tag, v := range d.do {
			if len(v) > len(b) {
				t.Fatalf("%X: %d bytes from %d", uint16(tag), len(v), len(b))
			}
		}
	})
}

func TestOpenPGPPublicKey(t *testing.T) {
	rk, _ := rsa.GenerateKey(rand.Reader, 1024)
	ek, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	epoint, _ := ek.PublicKey.Bytes()
	edPub, _, _ := ed25519.GenerateKey(rand.Reader)
	xk, _ := ecdh.X25519().GenerateKey(rand.Reader)
	tmpl := func(parts ...[]byte) []byte { return apdu.Nest(0x7F49, parts...) }
	bp := brainpoolP256r1()
	tests := []struct {
		name    string
		b, attr []byte
		ok      bool
	}{
		{"RSA", tmpl(apdu.AppendTLV(nil, 0x81, rk.N.Bytes()), apdu.AppendTLV(nil, 0x82, []byte{1, 0, 1})), opgpRSA2048, true},
		{"RSA without exponent", tmpl(apdu.AppendTLV(nil, 0x81, rk.N.Bytes())), opgpRSA2048, false},
		{"P-256", tmpl(apdu.AppendTLV(nil, 0x86, epoint)), opgpECDSAP256, true},
		{"P-256 point off the curve", tmpl(apdu.AppendTLV(nil, 0x86, append([]byte{4}, make([]byte, 64)...))), opgpECDSAP256, false},
		{"Ed25519", tmpl(apdu.AppendTLV(nil, 0x86, edPub)), opgpEd25519, true},
		{"Ed25519 of 31 bytes", tmpl(apdu.AppendTLV(nil, 0x86, edPub[:31])), opgpEd25519, false},
		{"X25519", tmpl(apdu.AppendTLV(nil, 0x86, xk.PublicKey().Bytes())), opgpX25519, true},
		{"brainpoolP256r1 G", tmpl(apdu.AppendTLV(nil, 0x86, append(append([]byte{4}, bp.gx.Bytes()...), bp.gy.Bytes()...))), bp.attrECDH, true},
		{"brainpoolP256r1 point off the curve", tmpl(apdu.AppendTLV(nil, 0x86, append(append([]byte{4}, bp.gx.Bytes()...), bp.gx.Bytes()...))), bp.attrECDSA, false},
		{"not 7F49", apdu.AppendTLV(nil, 0x86, edPub), opgpEd25519, false},
		{"trailing byte", append(tmpl(apdu.AppendTLV(nil, 0x86, edPub)), 0), opgpEd25519, false},
	}
	for _, tt := range tests {
		_, err := opgpPublicKey(tt.b, tt.attr)
		if (err == nil) != tt.ok {
			t.Errorf("%s: opgpPublicKey() error = %v, want ok %v", tt.name, err, tt.ok)
		}
	}
}

func TestOpenPGPWrongAnswer(t *testing.T) {
	tests := []struct {
		sw   apdu.StatusWord
		left int
		ok   bool
	}{
		{apdu.SWSecurityStatusNotSatisfied, 2, true},
		{apdu.RetriesSW(2), 2, true},
		{apdu.RetriesSW(3), 2, false}, // no try spent
		{apdu.SWWarningNoInfo, 2, false},
		{apdu.SWAuthMethodBlocked, 0, true},
		{apdu.SWAuthMethodBlocked, 1, false},
		{apdu.SWSuccess, 2, false},
	}
	for _, tt := range tests {
		if err := opgpWrongAnswer("VERIFY", tt.sw, tt.left); (err == nil) != tt.ok {
			t.Errorf("opgpWrongAnswer(%04X, %d) = %v, want ok %v", uint16(tt.sw), tt.left, err, tt.ok)
		}
	}
}

// yubiKeyOpenPGP answers as a YubiKey 5's OpenPGP application does, from
// its recorded application related data: GET DATA of 6E and of the DOs in
// it (a constructed one, 7F74 or 7F66, whole, as 6E is recorded), VERIFY
// without data 6A80 (as a YubiKey 5.4.3 answers: OpenSC issue 2565), GET
// CHALLENGE, an empty cardholder, PUT DATA without PW3 6982; and its
// management application's serial.
func yubiKeyOpenPGP(t *testing.T) func([]byte) []byte {
	raw := yubiKey6E(t)
	d, err := parseOpenPGPAppData(raw)
	if err != nil {
		t.Fatal(err)
	}
	ok := func(b []byte) []byte { return append(bytes.Clone(b), 0x90, 0x00) }
	return func(cmd []byte) []byte {
		switch {
		case cmd[1] == apdu.InsSelect && bytes.Equal(cmd[5:5+int(cmd[4])], opgpAID()):
			return ok(nil)
		case cmd[1] == apdu.InsSelect && bytes.Equal(cmd[5:5+int(cmd[4])], mgmtAID()):
			return ok([]byte("Virtual mgr - FW version 5.4.3"))
		case cmd[1] == apdu.InsReadConfig: // the serial, 13381487
			return ok([]byte{0x06, mgmtTagSerial, 0x04, 0x00, 0xCC, 0x2F, 0x6F})
		case cmd[1] == apdu.InsSelect:
			aid, _ := d.get(0x4F)
			if bytes.Equal(cmd[5:5+int(cmd[4])], aid) {
				return ok(nil)
			}
			return []byte{0x6A, 0x82}
		case cmd[1] == apdu.InsGetData && cmd[2] == 0x00 && cmd[3] == 0x6E:
			return ok(raw)
		case cmd[1] == apdu.InsGetData && cmd[2] == 0x00 && cmd[3] == 0x65:
			return ok([]byte{0x65, 0x00})
		case cmd[1] == apdu.InsGetData:
			tag := apdu.Tag(uint16(cmd[2])<<8 | uint16(cmd[3]))
			if v, found := d.get(tag); found && tag.Constructed() { // whole, as 6E
				return ok(apdu.AppendTLV(nil, tag, v))
			} else if found {
				return ok(v)
			}
			return []byte{0x6A, 0x88}
		case cmd[1] == apdu.InsVerify && len(cmd) <= 5:
			return []byte{0x6A, 0x80}
		case cmd[1] == apdu.InsPutData:
			return []byte{0x69, 0x82}
		case cmd[1] == apdu.InsGetChallenge:
			b := make([]byte, int(cmd[4]))
			rand.Read(b)
			return ok(b)
		}
		return []byte{0x6D, 0x00}
	}
}

// TestOpenPGPSafeCasesOnAYubiKey: the safe OpenPGP cases pass on a card
// answering as a recorded YubiKey 5 (C5 of 80 bytes with the attestation
// key, C4 starting FF: the departure yubikey-pw1-validity-ff; VERIFY
// without data 6A80: the departure yubikey-openpgp-no-status-query).
func TestOpenPGPSafeCasesOnAYubiKey(t *testing.T) {
	card := &scriptCard{answer: yubiKeyOpenPGP(t)}
	rep, err := Run(context.Background(), Target{Name: "YubiKey 5", Open: func(context.Context) (Card, error) { return card, nil }}, Options{Filter: func(c Case) bool { return c.Class == Safe && c.App == AppOpenPGP }})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Results) == 0 {
		t.Fatal("no case ran")
	}
	for _, r := range rep.Results {
		want := Passed
		switch r.ID {
		case "OPGP-4.4.3.4-PWSTATUS", "OPGP-7.2.2-STATUS":
			want = Departed
		case "OPGP-4.4.3.11-ALGINFO":
			want = Skipped // the recording has no FA: 6A88 (TestOpenPGPAlgInfo has FAs)
		}
		if r.Outcome != want {
			t.Errorf("%s: %s %q, want %s", r.ID, r.Outcome, r.Message, want)
		}
	}
	if got, want := rep.DepartureNames(), []string{DepartureOpenPGPNoStatusQuery, DepartureOpenPGPValidityFF}; !slices.Equal(got, want) {
		t.Errorf("departures %v, want %v", got, want)
	}
}

// TestOpenPGPAlgInfo: OPGP-4.4.3.11-ALGINFO on the recorded YubiKey 5
// with GET DATA FA answered otherwise: well-formed entries that include
// the current attributes pass, with or without the FA tag and length;
// the current attributes missing, a tag that names no key or malformed
// attributes fail; 6A88 skips; another status word fails.
func TestOpenPGPAlgInfo(t *testing.T) {
	d, err := parseOpenPGPAppData(yubiKey6E(t))
	if err != nil {
		t.Fatal(err)
	}
	entries := func(skip apdu.Tag, extra ...[]byte) []byte {
		var out []byte
		for _, tag := range []apdu.Tag{0xC1, 0xC2, 0xC3, 0xDA} {
			if v, ok := d.get(tag); ok && tag != skip {
				out = apdu.AppendTLV(out, tag, v)
			}
		}
		out = apdu.AppendTLV(out, 0xC1, []byte{0x01, 0x10, 0x00, 0x00, 0x11, 0x00})
		out = apdu.AppendTLV(out, 0xC2, []byte{0x12, 0x2B, 0x06, 0x01, 0x04, 0x01, 0x97, 0x55, 0x01, 0x05, 0x01})
		for _, e := range extra {
			out = append(out, e...)
		}
		return out
	}
	ok := func(b []byte) []byte { return append(bytes.Clone(b), 0x90, 0x00) }
	tests := []struct {
		name string
		fa   []byte // the answer to GET DATA FA, status word included
		want Outcome
	}{
		{"FA with tag and length", ok(apdu.AppendTLV(nil, 0xFA, entries(0))), Passed},
		{"FA's value alone", ok(entries(0)), Passed},
		{"an ECC entry with import format FF", ok(apdu.AppendTLV(nil, 0xFA, entries(0, []byte{0xC3, 0x0B, 0x16, 0x2B, 0x06, 0x01, 0x04, 0x01, 0xDA, 0x47, 0x0F, 0x01, 0xFF}))), Passed},
		{"the current C2 not listed", ok(apdu.AppendTLV(nil, 0xFA, entries(0xC2))), Failed},
		{"an entry tagged C4", ok(apdu.AppendTLV(nil, 0xFA, entries(0, []byte{0xC4, 0x01, 0x01}))), Failed},
		{"RSA attributes of 5 bytes", ok(apdu.AppendTLV(nil, 0xFA, entries(0, []byte{0xC1, 0x05, 0x01, 0x08, 0x00, 0x00, 0x20}))), Failed},
		{"an OID that does not decode", ok(apdu.AppendTLV(nil, 0xFA, entries(0, []byte{0xC1, 0x02, 0x13, 0x80}))), Failed},
		{"algorithm ID 42", ok(apdu.AppendTLV(nil, 0xFA, entries(0, []byte{0xC1, 0x02, 0x42, 0x01}))), Failed},
		{"FA that does not parse", ok([]byte{0xFA, 0x05, 0xC1, 0x03}), Failed},
		{"6A88 (no FA)", []byte{0x6A, 0x88}, Skipped},
		{"6D00", []byte{0x6D, 0x00}, Failed},
	}
	for _, tt := range tests {
		base := yubiKeyOpenPGP(t)
		card := &scriptCard{answer: func(cmd []byte) []byte {
			if cmd[1] == apdu.InsGetData && cmd[2] == 0x00 && cmd[3] == 0xFA {
				return tt.fa
			}
			return base(cmd)
		}}
		rep, err := Run(context.Background(), Target{Name: "YubiKey 5", Open: func(context.Context) (Card, error) { return card, nil }},
			Options{Filter: func(c Case) bool { return c.ID == "OPGP-4.4.3.11-ALGINFO" }})
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Results) != 1 || rep.Results[0].Outcome != tt.want {
			t.Errorf("%s: %+v, want %s", tt.name, rep.Results, tt.want)
		}
	}
}

// TestOpenPGPStatusQueryAnswers: OPGP-7.2.2-STATUS on the recorded
// YubiKey 5 with VERIFY without data answered otherwise: 63CX with C4's
// counter passes; 6A80 to every form and password departs
// (yubikey-openpgp-no-status-query); 6A80 to some and 63CX to others, or
// 6A80 to the first form only, fails, as does any other answer.
func TestOpenPGPStatusQueryAnswers(t *testing.T) {
	tests := []struct {
		name   string
		status func(cmd []byte) []byte // the answer to VERIFY without data
		want   Outcome
	}{
		{"63C3 (C4's counter)", func([]byte) []byte { return []byte{0x63, 0xC3} }, Passed},
		{"6A80", func([]byte) []byte { return []byte{0x6A, 0x80} }, Departed},
		{"6A80 for PW1, 63C3 for PW3", func(cmd []byte) []byte {
			if cmd[3] == 0x83 {
				return []byte{0x63, 0xC3}
			}
			return []byte{0x6A, 0x80}
		}, Failed},
		{"6A80 to case 1 only", func(cmd []byte) []byte {
			if len(cmd) == 4 {
				return []byte{0x6A, 0x80}
			}
			return []byte{0x63, 0xC3}
		}, Failed},
		{"6982", func([]byte) []byte { return []byte{0x69, 0x82} }, Failed},
		{"9000 though not verified", func([]byte) []byte { return []byte{0x90, 0x00} }, Failed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			yk := yubiKeyOpenPGP(t)
			card := &scriptCard{answer: func(cmd []byte) []byte {
				if cmd[1] == apdu.InsVerify && len(cmd) <= 5 {
					return tt.status(cmd)
				}
				return yk(cmd)
			}}
			rep, err := Run(context.Background(), Target{Name: "YubiKey 5", Open: func(context.Context) (Card, error) { return card, nil }}, Options{Filter: func(c Case) bool { return c.ID == "OPGP-7.2.2-STATUS" }})
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Results) != 1 {
				t.Fatalf("%d results, want OPGP-7.2.2-STATUS alone", len(rep.Results))
			}
			r := rep.Results[0]
			if r.Outcome != tt.want {
				t.Errorf("OPGP-7.2.2-STATUS: %s %q, want %s", r.Outcome, r.Message, tt.want)
			}
			noted := slices.ContainsFunc(r.Departures, func(d DepartureNote) bool { return d.Name == DepartureOpenPGPNoStatusQuery })
			if tt.want != Failed && noted != (tt.want == Departed) {
				t.Errorf("departure %s noted %v, want %v (%v)", DepartureOpenPGPNoStatusQuery, noted, tt.want == Departed, r.Departures)
			}
		})
	}
}

func FuzzOpenPGPPublicKey(f *testing.F) {
	edPub, _, _ := ed25519.GenerateKey(rand.Reader)
	f.Add(apdu.Nest(0x7F49, apdu.AppendTLV(nil, 0x86, edPub)), opgpEd25519)
	f.Add(apdu.Nest(0x7F49, apdu.AppendTLV(nil, 0x81, []byte{0xC3}), apdu.AppendTLV(nil, 0x82, []byte{1, 0, 1})), opgpRSA2048)
	f.Add([]byte{0x7F, 0x49, 0x00}, opgpECDSAP256)
	f.Fuzz(func(t *testing.T, b, attr []byte) {
		if len(attr) == 0 {
			return
		}
		pub, err := opgpPublicKey(b, attr)
		if err == nil && pub == nil {
			t.Fatalf("opgpPublicKey(% X, % X) = nil, nil", b, attr)
		}
	})
}

// FuzzOpenPGPAlgorithmAttributes: the suite's check of one algorithm
// attributes value never panics, and what it accepts reduces to a prefix
// of itself (RSA five bytes, ECC without a final FF) that it accepts again
// in its ECC form.
func FuzzOpenPGPAlgorithmAttributes(f *testing.F) {
	for _, s := range []string{"010800001100", "0110000020", "132A8648CE3D030107", "162B06010401DA470F01FF", "122B060104019755010501", "1380", "42", ""} {
		b, _ := hex.DecodeString(s)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, a []byte) {
		err := opgpCheckAttributes(a)
		std := opgpStandardAttributes(a)
		if !bytes.HasPrefix(a, std) {
			t.Fatalf("opgpStandardAttributes(% X) = % X, not a prefix", a, std)
		}
		if err == nil && a[0] != 0x01 {
			if err := opgpCheckAttributes(std); err != nil {
				t.Fatalf("% X passes, its standard form % X does not: %v", a, std, err)
			}
		}
	})
}
