package hostdriver_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tesseracard/tessera/apdu"
	"github.com/tesseracard/tessera/firmware"
	"github.com/tesseracard/tessera/firmware/nvm"
	"github.com/tesseracard/tessera/hostdriver"
	"github.com/tesseracard/tessera/internal/cardtest"
)

// tableApplet is a test-only application answering from a table kept in
// the card's persistent store: GET DATA (CA) of the object P1P2, READ
// CONFIG (1D) of page P1 and SELECT with a fixed answer. Any other command
// writes a record before it is refused, so a diag that sent one would
// change the card's memory.
type tableApplet struct {
	aid    []byte
	prefix string            // store key prefix
	selAns []byte            // the SELECT answer
	table  map[string][]byte // "CA 006E", "1D 00" -> answer
}

func (a tableApplet) AID() []byte { return a.aid }

func (a tableApplet) Boot(env *firmware.Context) error {
	if _, ok := env.Store.Get(a.prefix + "installed"); ok {
		return nil
	}
	tx, err := env.Store.Begin()
	if err != nil {
		return err
	}
	defer tx.Abort()
	for k, v := range a.table {
		tx.Put(a.prefix+k, v)
	}
	tx.Put(a.prefix+"installed", []byte{1})
	return tx.Commit()
}

func (a tableApplet) Select(*firmware.Context, apdu.Command) ([]byte, error) { return a.selAns, nil }
func (a tableApplet) Deselect(*firmware.Context)                             {}

func (a tableApplet) Process(env *firmware.Context, cmd apdu.Command) ([]byte, error) {
	var key string
	switch {
	case cmd.INS == apdu.InsGetData && len(cmd.Data) == 0:
		key = hex.EncodeToString([]byte{cmd.INS, cmd.P1, cmd.P2})
	case cmd.INS == apdu.InsReadConfig && cmd.P2 == 0 && len(cmd.Data) == 0:
		key = hex.EncodeToString([]byte{cmd.INS, cmd.P1})
	default:
		env.Store.Put(a.prefix+"touched", []byte{cmd.INS})
		return nil, apdu.SWINSNotSupported
	}
	if v, ok := env.Store.Get(a.prefix + key); ok {
		return v, nil
	}
	return nil, apdu.SWReferenceNotFound
}

// openPGPApplet is a YubiKey 5's OpenPGP application as diag reads it:
// the recorded application related data (testdata/openpgp), a signature counter
// of 42, cardholder data and a URL. pw replaces C4 when not nil.
func openPGPApplet(t *testing.T, pw []byte) tableApplet {
	t.Helper()
	b, err := os.ReadFile("testdata/openpgp/yubikey5-6e.hex")
	if err != nil {
		t.Fatal(err)
	}
	ard := cardtest.Hex(string(b))
	if pw != nil {
		i := bytes.Index(ard, cardtest.Hex("C4 07"))
		copy(ard[i+2:], pw)
	}
	return tableApplet{
		aid: cardtest.Hex("D2760001240103040006133814870000"), prefix: "pgp/",
		table: map[string][]byte{
			"ca006e": ard,
			"ca007a": cardtest.Hex("7A 05 93 03 00 00 2A"),
			"ca0065": cardtest.Hex("65165b0b53696c76613c3c45736c695f2d02656e5f350131"),
			"ca5f50": []byte("https://keys.openpgp.org/vks/v1/by-fingerprint/B2A75FD1EDD7C848AADD73B196DFC57DF89FA884"),
		},
	}
}

// managementApplet is a YubiKey 5 NFC's management application (firmware
// 5.4.3, serial 12345678, USB-A keychain), its READ CONFIG page built
// from yubikit's tags; config says whether it answers READ CONFIG at all
// (a YubiKey NEO's does not).
func managementApplet(config bool) tableApplet {
	a := tableApplet{aid: hostdriver.YubiKeyManagementAID(), prefix: "mgmt/", selAns: []byte("5.4.3"), table: map[string][]byte{}}
	if config {
		a.table["1d00"] = cardtest.Hex("2e 0102033b 0302023b 020400bc614e 040101 0a0100 0d02033b 0e02023b 0503050403 0602000007010f 080100 0f0100")
	}
	return a
}

// yubiKeyATR is a YubiKey 5 NFC's ATR over USB.
const yubiKeyATR = "3B FD 13 00 00 81 31 FE 15 80 73 C0 21 C0 57 59 75 62 69 4B 65 79 40"

// tableCard makes a card with the given applets, powered on.
func tableCard(t *testing.T, applets ...firmware.Applet) (*firmware.Card, *nvm.Memory, []byte) {
	t.Helper()
	mem := &nvm.Memory{}
	card, err := firmware.New(firmware.Config{ATR: cardtest.Hex(yubiKeyATR), Medium: mem, Rand: rand.Reader, Clock: time.Now, Applets: applets})
	if err != nil {
		t.Fatal(err)
	}
	atr, err := card.PowerOn()
	if err != nil {
		t.Fatal(err)
	}
	return card, mem, atr
}

// TestDiagnoseOpenPGP: on a card answering the OpenPGP AID, diag reports
// the version, manufacturer, serial, each key's algorithm, fingerprint,
// creation date and origin, the signature counter, the PW1/RC/PW3 tries
// from C4 (spending none), the cardholder and the URL, through ReadOnly
// and without changing the card; PW1 or PW3 at 0 tries draws a warning.
func TestDiagnoseOpenPGP(t *testing.T) {
	tests := []struct {
		name     string
		pw       []byte
		tries    [3]float64
		warnings []string
	}{
		{"as recorded", nil, [3]float64{3, 3, 3}, []string{}},
		{"PW1 blocked, no resetting code", cardtest.Hex("01 7F 7F 7F 00 00 03"), [3]float64{0, 0, 3},
			[]string{"OpenPGP PW1 (user PIN) is blocked: the resetting code or PW3 can unblock it"}},
		{"PW3 blocked", cardtest.Hex("01 7F 7F 7F 02 00 00"), [3]float64{2, 0, 0},
			[]string{"OpenPGP PW3 (admin PIN) is blocked: only a reset of the application (all keys lost) brings it back"}},
	}
	for _, tt := range tests {
		card, mem, atr := tableCard(t, openPGPApplet(t, tt.pw))
		r := diagnoseReadOnly(t, card, mem, atr)
		if _, ok := card.Store().Get("pgp/touched"); ok {
			t.Errorf("%s: diag sent the OpenPGP application a command it does not read with", tt.name)
		}
		raw, _ := json.Marshal(r)
		var got map[string]any
		json.Unmarshal(raw, &got)
		pgp, _ := got["openpgp"].(map[string]any)
		if pgp == nil {
			t.Fatalf("%s: no openpgp in %s", tt.name, raw)
		}
		for k, want := range map[string]any{
			"version": "3.4", "manufacturer": "0006", "manufacturer_name": "Yubico", "serial": "13381487",
			"signature_counter": 42.0, "cardholder": "Silva<<Esli", "sex": "male",
			"url": "https://keys.openpgp.org/vks/v1/by-fingerprint/B2A75FD1EDD7C848AADD73B196DFC57DF89FA884",
		} {
			if pgp[k] != want {
				t.Errorf("%s: openpgp.%s = %v, want %v", tt.name, k, pgp[k], want)
			}
		}
		for i, k := range []string{"pw1", "rc", "pw3"} {
			c, _ := pgp[k].(map[string]any)
			// RC at 0 is none set as often as blocked: never reported blocked.
			if c == nil || c["tries_left"] != tt.tries[i] || c["blocked"] != (tt.tries[i] == 0 && k != "rc") {
				t.Errorf("%s: openpgp.%s = %v, want %v tries", tt.name, k, pgp[k], tt.tries[i])
			}
		}
		keys, _ := pgp["keys"].([]any)
		if len(keys) != 4 {
			t.Fatalf("%s: keys %v, want 4", tt.name, keys)
		}
		sig := keys[0].(map[string]any)
		want := map[string]any{"key": "signature", "algorithm": "RSA-4096", "fingerprint": "B2A75FD1EDD7C848AADD73B196DFC57DF89FA884", "created": "2024-04-26T19:52:31Z", "status": "imported"}
		if !reflect.DeepEqual(sig, want) {
			t.Errorf("%s: signature key %v, want %v", tt.name, sig, want)
		}
		if !slices.Equal(r.Warnings, tt.warnings) {
			t.Errorf("%s: warnings %q, want %q", tt.name, r.Warnings, tt.warnings)
		}
		if r.YubiKey != nil || r.PIV != nil || r.ISO != nil {
			t.Errorf("%s: reports of absent applications: %s", tt.name, raw)
		}
	}
}

// TestDiagnoseYubiKey: on a card answering the management AID, diag
// reports the firmware version, serial, form factor and the applications
// supported and enabled over USB and NFC, reading with READ CONFIG right
// after the SELECT; a management application without READ CONFIG (a
// YubiKey NEO) still gives the version from the SELECT answer.
func TestDiagnoseYubiKey(t *testing.T) {
	card, mem, atr := tableCard(t, managementApplet(true))
	var sent [][]byte
	rec := &recorder{next: cardTransport{card}}
	r, err := hostdriver.Diagnose(context.Background(), &hostdriver.Conn{T: rec}, atr, hostdriver.DiagOptions{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	sent = rec.sent
	want := &hostdriver.YubiKeyReport{
		Version: "5.4.3", Serial: 12345678, FormFactor: "Keychain (USB-A)",
		USBSupported: []string{"OTP", "FIDO U2F", "OpenPGP", "PIV", "OATH", "YubiHSM Auth", "FIDO2"},
		USBEnabled:   []string{"OTP", "FIDO U2F", "OpenPGP", "PIV", "OATH", "FIDO2"},
		NFCSupported: []string{"OTP", "FIDO U2F", "OpenPGP", "PIV", "OATH", "YubiHSM Auth", "FIDO2"},
		NFCEnabled:   []string{"OTP", "FIDO U2F", "OpenPGP", "PIV", "OATH", "FIDO2"},
	}
	if !reflect.DeepEqual(r.YubiKey, want) {
		t.Errorf("YubiKey = %+v, want %+v", r.YubiKey, want)
	}
	var readConfig int
	for i, cmd := range sent {
		if cmd[1] != apdu.InsReadConfig {
			continue
		}
		readConfig++
		if !bytes.Equal(sent[i-1], cardtest.Hex("00 A4 04 00 08 A0 00 00 05 27 47 11 17 00")) {
			t.Errorf("READ CONFIG % X followed % X, not the management SELECT", cmd, sent[i-1])
		}
	}
	if readConfig != 1 {
		t.Errorf("%d READ CONFIG sent, want 1 (one page)", readConfig)
	}
	if _, ok := card.Store().Get("mgmt/touched"); ok {
		t.Errorf("diag sent the management application a command it does not read with")
	}
	if _, err := card.Reset(); err != nil {
		t.Fatal(err)
	}
	diagnoseReadOnly(t, card, mem, atr)

	neo, _, atr := tableCard(t, managementApplet(false))
	r, err = hostdriver.Diagnose(context.Background(), &hostdriver.Conn{T: cardTransport{neo}}, atr, hostdriver.DiagOptions{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if y := r.YubiKey; y == nil || y.Version != "5.4.3" || !strings.Contains(y.ConfigError, "READ CONFIG not answered") || y.Serial != 0 {
		t.Errorf("YubiKey without READ CONFIG = %+v, want the SELECT's version and the config error", y)
	}
}

// TestDiagnoseNeither: a card answering neither the OpenPGP nor the
// management AID gets no openpgp or yubikey section, and its report is
// what it was before they existed.
func TestDiagnoseNeither(t *testing.T) {
	card, mem, atr := newCard(t, "default")
	r := diagnoseReadOnly(t, card, mem, atr)
	raw, _ := json.Marshal(r)
	if r.OpenPGP != nil || r.YubiKey != nil || bytes.Contains(raw, []byte(`"openpgp"`)) || bytes.Contains(raw, []byte(`"yubikey"`)) {
		t.Errorf("report of a PIV card has OpenPGP or YubiKey sections: %s", raw)
	}
	for _, a := range r.Applications {
		if (a.Name == "OpenPGP" || a.Name == "YubiKey management") && a.Present {
			t.Errorf("%s listed present", a.Name)
		}
	}
}

// TestReadOnlyReadConfig: READ CONFIG (1D) passes ReadOnly only as 00 1D
// 0p 00 without data, and only while the last SELECT passed was an
// accepted SELECT of the whole YubiKey management AID on the basic
// channel.
func TestReadOnlyReadConfig(t *testing.T) {
	const (
		selMgmt   = "00 A4 04 00 08 A0 00 00 05 27 47 11 17 00"
		readCfg   = "00 1D 00 00 00"
		refusedRC = "right after SELECT of the YubiKey management application"
	)
	type step struct {
		cmd    string
		answer string // the card's answer; "" = 90 00, "error" = the transport fails
		want   string // "" = passes; else in the refusal
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"without SELECT", []step{{readCfg, "", refusedRC}}},
		{"after the management SELECT, every page", []step{{selMgmt, "", ""}, {readCfg, "", ""}, {"00 1D 01 00 00", "", ""}, {"00 1D 03 00", "", ""}, {readCfg, "", ""}}},
		{"after GET RESPONSE of the SELECT", []step{{selMgmt, "61 10", ""}, {"00 C0 00 00 10", "", ""}, {readCfg, "", ""}}},
		{"after another SELECT", []step{{selMgmt, "", ""}, {"00 A4 04 00 06 D2 76 00 01 24 01 00", "", ""}, {readCfg, "", refusedRC}}},
		{"after a refused management SELECT", []step{{selMgmt, "6A 82", ""}, {readCfg, "", refusedRC}}},
		{"after a management SELECT by a partial AID", []step{{"00 A4 04 00 07 A0 00 00 05 27 47 11 00", "", ""}, {readCfg, "", refusedRC}}},
		{"after a management SELECT on channel 1", []step{{"01 A4 04 00 08 A0 00 00 05 27 47 11 17 00", "", ""}, {readCfg, "", refusedRC}}},
		{"after a failed exchange", []step{{selMgmt, "", ""}, {"00 CA 00 6E 00", "error", ""}, {readCfg, "", refusedRC}}},
		{"page 4", []step{{selMgmt, "", ""}, {"00 1D 04 00 00", "", "page p below 4"}}},
		{"P2 not 00", []step{{selMgmt, "", ""}, {"00 1D 00 01 00", "", "00 1D 0p 00"}}},
		{"with data", []step{{selMgmt, "", ""}, {"00 1D 00 00 01 00", "", "without data"}}},
		{"class 01", []step{{selMgmt, "", ""}, {"01 1D 00 00 00", "", "00 1D 0p 00"}}},
		{"WRITE CONFIG", []step{{selMgmt, "", ""}, {"00 1C 00 00 03 02 03 00", "", "instruction 1C"}}},
	}
	for _, tt := range tests {
		var answers []string
		ro := hostdriver.ReadOnly(transportFunc(func(_ context.Context, cmd []byte) ([]byte, error) {
			a := answers[0]
			switch a {
			case "":
				return []byte{0x90, 0x00}, nil
			case "error":
				return nil, hostdriver.ErrCardRemoved
			}
			return cardtest.Hex(a), nil
		}))
		for i, s := range tt.steps {
			answers = []string{s.answer}
			_, err := ro.Transmit(context.Background(), cardtest.Hex(s.cmd))
			switch {
			case s.want == "" && s.answer == "error":
				if !errors.Is(err, hostdriver.ErrCardRemoved) {
					t.Errorf("%s: step %d (%s): %v, want the transport's error", tt.name, i, s.cmd, err)
				}
			case s.want == "" && err != nil:
				t.Errorf("%s: step %d (%s) refused: %v", tt.name, i, s.cmd, err)
			case s.want != "" && (!errors.Is(err, hostdriver.ErrNotReadOnly) || !strings.Contains(err.Error(), s.want)):
				t.Errorf("%s: step %d (%s): %v, want ErrNotReadOnly saying %q", tt.name, i, s.cmd, err, s.want)
			}
		}
	}
}

type transportFunc func(context.Context, []byte) ([]byte, error)

func (f transportFunc) Transmit(ctx context.Context, cmd []byte) ([]byte, error) { return f(ctx, cmd) }
