package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/tesseracard/tessera/apdu"
	"github.com/tesseracard/tessera/hostdriver"
	"github.com/tesseracard/tessera/internal/hosttest"
	"github.com/tesseracard/tessera/simulator/simtarget"
)

// TestDiagTextPersonas: the text report names each persona's state: the
// PIN policy, the PIN's and PUK's delivery state, the TOTP authorisation
// and the signatures left, with the warnings.
func TestDiagTextPersonas(t *testing.T) {
	tests := []struct {
		profile string
		lines   []string
	}{
		{"transport-pin-token", []string{
			"PIN state       transport PIN still set: every key locked until it is changed",
			"PUK state       factory default PUK still set",
			"PIN policy      6-8 characters, any characters; PIN field of 8 bytes",
			"! PIN is still the transport PIN: no key can be used until it is changed",
		}},
		{"pin-puk-envelope", []string{
			"PIN state       issued envelope PIN not changed yet",
			"PUK state       issued envelope PUK not changed yet",
			"! PIN is still the issued envelope value: the holder has not changed it yet",
		}},
		{"virtual-token", []string{
			"PUK state       none for the holder: an administrator resets the PIN",
			"PIN policy      8-12 characters, letters and digits, with an upper-case letter, a lower-case letter and a digit; PIN field of 12 bytes",
			"Holder identity number  8001015009087",
		}},
		{"yubikey-5.7", []string{
			"OATH",
			"Version 5.7.1",
			"Access code not set",
		}},
		{"cloud-signature", []string{
			"TOTP            not enrolled",
			"Signatures left  200",
			"! TOTP not enrolled: no signature possible",
		}},
	}
	for _, tt := range tests {
		text := diagText(t, tt.profile)
		norm := func(s string) string { return strings.Join(strings.Fields(s), " ") }
		for _, want := range tt.lines {
			if !strings.Contains(norm(text), norm(want)) {
				t.Errorf("%s: the report has no line %q:\n%s", tt.profile, want, text)
			}
		}
	}
}

// TestDiagTextISOToken: the text report of a blank iso-token card names
// the ISO application's API, features and missing PIN, with the warning.
func TestDiagTextISOToken(t *testing.T) {
	text := diagText(t, "iso-token")
	norm := func(s string) string { return strings.Join(strings.Fields(s), " ") }
	for _, want := range []string{
		"ISO file system (IsoApplet) F276A288BCFBA69D34F31001 present",
		"ISO file system (IsoApplet) API version 00.06",
		"Features secure-random, ecc",
		"PIN not set (token not personalised)",
		"PUK not read (only a try would tell)",
		"PKCS#15 -",
		"! token not personalised (no PIN set)",
	} {
		if !strings.Contains(norm(text), norm(want)) {
			t.Errorf("the report has no line %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "\nPIV\n") {
		t.Errorf("an iso-token card's report has a PIV section:\n%s", text)
	}
}

// diagText is the text report of diag on a fresh simulated card of a
// built-in profile.
func diagText(t *testing.T, profile string) string {
	t.Helper()
	c, err := simtarget.Open(simtarget.Options{Profile: profile})
	if err != nil {
		t.Fatal(err)
	}
	r, err := hostdriver.Diagnose(context.Background(), &hostdriver.Conn{T: c}, []byte{0x3B, 0x00}, hostdriver.DiagOptions{})
	c.Close()
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	printReport(&b, r)
	return b.String()
}

// testReaders is a set of readers holding in-process simulated cards: a
// nil card is an empty reader, and a reader in broken has a card that
// cannot be connected to.
type testReaders struct {
	names  []string
	cards  map[string]*simtarget.Card
	broken map[string]error
}

func (r testReaders) Readers() ([]string, error) { return r.names, nil }

func (r testReaders) FindReader(name string) (string, error) {
	for _, n := range r.names {
		if strings.Contains(n, name) {
			return n, nil
		}
	}
	return "", fmt.Errorf("no reader %q", name)
}

func (r testReaders) Connect(reader string) (readerCard, error) {
	if err := r.broken[reader]; err != nil {
		return nil, err
	}
	c := r.cards[reader]
	if c == nil {
		return nil, fmt.Errorf("connecting to %s: %w", reader, hostdriver.ErrCardRemoved)
	}
	return simCard{c}, nil
}

// simCard is a simulated card as a card in a reader.
type simCard struct{ *simtarget.Card }

func (c simCard) ATR() ([]byte, error) { return c.Card.ATR(context.Background()) }
func (c simCard) Close() error         { return nil }

// TestDiagAllReaders: with no --reader, diag reports every reader in the
// order PC/SC lists them, one JSON object each: two cards (a PIV card and
// an ISO token), an empty reader ("no card", no error) and a card that
// could not be reached ("error", with the reason); the text report says
// the empty reader holds no card. --reader picks one.
func TestDiagAllReaders(t *testing.T) {
	ctx := context.Background()
	rs := testReaders{
		names:  []string{"Reader A 00", "Reader B 01", "Empty 02", "Broken 03"},
		cards:  map[string]*simtarget.Card{},
		broken: map[string]error{"Broken 03": errors.New("the card does not answer")},
	}
	for reader, prof := range map[string]string{"Reader A 00": "default", "Reader B 01": "iso-token"} {
		c, err := simtarget.Open(simtarget.Options{Profile: prof})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		rs.cards[reader] = c
	}
	names, err := hostdriver.ReadATRList(strings.NewReader("3B FD 13 00 00 81 31 FE 15 80 73 C0 21 C0 57 59 75 62 69 4B 65 79 40\n\tfirst name\n\n3B FD 13 .. 00 81 31 FE 15 80 73 C0 21 C0 57 59 75 62 69 4B 65 79 ..\n\tsecond name\n"))
	if err != nil {
		t.Fatal(err)
	}
	reports, err := diagnoseReaderSet(ctx, rs, "", names)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(reports)
	var got []map[string]any
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	want := []map[string]any{
		{"reader": "Reader A 00", "state": "card", "error": nil},
		{"reader": "Reader B 01", "state": "card", "error": nil},
		{"reader": "Empty 02", "state": "no card", "error": nil, "atr": ""},
		{"reader": "Broken 03", "state": "error", "error": "the card does not answer"},
	}
	if len(got) != len(want) {
		t.Fatalf("%d reports, want %d: %s", len(got), len(want), raw)
	}
	for i, w := range want {
		for k, v := range w {
			if got[i][k] != v {
				t.Errorf("report %d %s = %v, want %v", i, k, got[i][k], v)
			}
		}
	}
	if _, ok := got[0]["piv"]; !ok {
		t.Errorf("the PIV card's report has no piv section: %v", got[0])
	}
	if n := got[0]["atr_names"]; fmt.Sprint(n) != "[first name second name]" {
		t.Errorf("the PIV card's atr_names = %v, want both names", n)
	}
	if _, ok := got[1]["iso"]; !ok {
		t.Errorf("the ISO token's report has no iso section: %v", got[1])
	}

	var b bytes.Buffer
	for _, r := range reports {
		printReport(&b, r)
	}
	norm := func(s string) string { return strings.Join(strings.Fields(s), " ") }
	for _, line := range []string{
		"Reader Reader A 00 ATR 3B FD 13 00 00 81 31 FE 15 80 73 C0 21 C0 57 59 75 62 69 4B 65 79 40 first name second name",
		"Reader Empty 02 Card none (the reader is empty) Reader Broken 03 Error the card does not answer",
	} {
		if !strings.Contains(norm(b.String()), line) {
			t.Errorf("the text report has no %q:\n%s", line, b.String())
		}
	}

	one, err := diagnoseReaderSet(ctx, rs, "B 01", names)
	if err != nil || len(one) != 1 || one[0].Reader != "Reader B 01" || one[0].ISO == nil {
		t.Errorf("--reader 'B 01': %+v, %v; want the ISO token's report alone", one, err)
	}
	if _, err := diagnoseReaderSet(ctx, testReaders{}, "", nil); err == nil || !strings.Contains(err.Error(), "no PC/SC readers") {
		t.Errorf("no readers: error = %v, want 'no PC/SC readers'", err)
	}
}

// TestLoadATRList: a list absent from its default place, or no default on
// this system, is a note on stderr naming where to get one, and diag goes
// on without names; a list named with --atr-list that is absent is an
// error; lines that are not ATR patterns are counted in a note.
func TestLoadATRList(t *testing.T) {
	dir := t.TempDir()
	good, bad := dir+"/list.txt", dir+"/bad.txt"
	os.WriteFile(good, []byte("3B 00\n\tan ATR\n"), 0o644)
	os.WriteFile(bad, []byte("3B 00\n\tan ATR\n\nnot a pattern\n3B ZZ\n"), 0o644)
	tests := []struct {
		name   string
		path   string
		named  bool
		list   bool
		err    string
		stderr string
	}{
		{"default, present", good, false, true, "", ""},
		{"default, absent", dir + "/absent.txt", false, false, "", "diag: ATR list not found at " + dir + "/absent.txt: install pcsc-tools or pass --atr-list FILE (the file is https://pcsc-tools.apdu.fr/smartcard_list.txt)\n"},
		{"no default on this system", "", false, false, "", "pass --atr-list FILE (the file is https://pcsc-tools.apdu.fr/smartcard_list.txt)\n"},
		{"named, present", good, true, true, "", ""},
		{"named, absent", dir + "/absent.txt", true, false, "--atr-list: ATR list not found at " + dir + "/absent.txt (the file is https://pcsc-tools.apdu.fr/smartcard_list.txt)", ""},
		{"named, empty", "", true, false, "--atr-list: no file named", ""},
		{"lines passed over", bad, true, true, "", "diag: ATR list " + bad + ": 2 lines that are not ATR patterns passed over\n"},
	}
	for _, tt := range tests {
		var stderr bytes.Buffer
		l, err := loadATRList(tt.path, tt.named, &stderr)
		if tt.err != "" && (err == nil || err.Error() != tt.err) || tt.err == "" && err != nil {
			t.Errorf("%s: error = %v, want %q", tt.name, err, tt.err)
		}
		if (l != nil) != tt.list {
			t.Errorf("%s: list %v, want one: %v", tt.name, l, tt.list)
		}
		if !strings.HasSuffix(stderr.String(), tt.stderr) || tt.stderr == "" && stderr.Len() > 0 {
			t.Errorf("%s: stderr %q, want %q", tt.name, stderr.String(), tt.stderr)
		}
	}
}

// txSimCard is a simulated card in a shared reader that can hold a
// transaction: it counts the commands sent outside one.
type txSimCard struct {
	simCard
	in, begun, outside *int
}

func (c txSimCard) Transmit(ctx context.Context, cmd []byte) ([]byte, error) {
	if *c.in == 0 {
		*c.outside++
	}
	return c.simCard.Transmit(ctx, cmd)
}

func (c txSimCard) BeginTransaction(context.Context) error { *c.in++; *c.begun++; return nil }
func (c txSimCard) EndTransaction() error                  { *c.in--; return nil }

type txReaders struct {
	testReaders
	card txSimCard
}

func (r txReaders) Connect(string) (readerCard, error) { return r.card, nil }

// TestDiagHoldsATransaction: diag reads a card in one PC/SC transaction,
// so that another program's SELECT cannot land between two of its
// commands (a YubiKey's PIV, OpenPGP and management applications are
// selected in turn) and make it read the wrong application. Before, it
// took none.
func TestDiagHoldsATransaction(t *testing.T) {
	c, err := simtarget.Open(simtarget.Options{Profile: "yubikey-5.7"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var in, begun, outside int
	rs := txReaders{testReaders{names: []string{"Yubico YubiKey OTP+FIDO+CCID 00 00"}}, txSimCard{simCard{c}, &in, &begun, &outside}}
	reports, err := diagnoseReaderSet(context.Background(), rs, "", nil)
	if err != nil || len(reports) != 1 || reports[0].State != hostdriver.StateCard {
		t.Fatalf("diagnoseReaderSet() = %+v, %v", reports, err)
	}
	if begun != 1 || in != 0 || outside != 0 {
		t.Errorf("%d transactions begun, %d left open, %d commands outside one; want 1, 0, 0", begun, in, outside)
	}
}

// t0Readers holds one simulated card reached as PC/SC reaches a T=0 card.
type t0Readers struct {
	testReaders
	card         simCard
	getResponses *int
}

func (r t0Readers) Connect(string) (readerCard, error) {
	return t0SimCard{r.card, &hosttest.T0{Transport: r.card}, r.getResponses}, nil
}

type t0SimCard struct {
	simCard
	t0           *hosttest.T0
	getResponses *int
}

func (c t0SimCard) Transmit(ctx context.Context, cmd []byte) ([]byte, error) {
	if len(cmd) > 1 && cmd[1] == apdu.InsGetResponse {
		*c.getResponses++
	}
	return c.t0.Transmit(ctx, cmd)
}

// TestDiagT0: diag reports the same of a card over T=0 (every answer to a
// command with a data field a bare 61xx, the data by GET RESPONSE) as over
// T=1, for each kind of card it reads.
func TestDiagT0(t *testing.T) {
	for _, prof := range []string{"default", "yubikey-5.7", "openpgp", "iso-token"} {
		t.Run(prof, func(t *testing.T) {
			c, err := simtarget.Open(simtarget.Options{Profile: prof})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			names := []string{"Reader 00"}
			var got [2]string
			getResponses := 0
			for i, rs := range []readerSet{testReaders{names: names, cards: map[string]*simtarget.Card{"Reader 00": c}}, t0Readers{testReaders{names: names}, simCard{c}, &getResponses}} {
				reports, err := diagnoseReaderSet(context.Background(), rs, "", nil)
				if err != nil || len(reports) != 1 {
					t.Fatalf("diagnoseReaderSet() = %+v, %v", reports, err)
				}
				raw, _ := json.Marshal(reports[0])
				got[i] = string(raw)
			}
			if got[0] != got[1] {
				t.Errorf("over T=0 diag reports\n%s\nover T=1\n%s", got[1], got[0])
			}
			if getResponses == 0 {
				t.Errorf("diag sent no GET RESPONSE over T=0: the T=0 path was not taken")
			}
		})
	}
}
