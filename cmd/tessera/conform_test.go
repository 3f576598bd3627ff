package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tesseracard/tessera/apdu"
	"github.com/tesseracard/tessera/conformance"
	"github.com/tesseracard/tessera/firmware/profile"
	"github.com/tesseracard/tessera/hostdriver"
	"github.com/tesseracard/tessera/internal/hosttest"
	"github.com/tesseracard/tessera/simulator"
	"github.com/tesseracard/tessera/simulator/simtarget"
)

func runSuite(t *testing.T, target conformance.Target, opts conformance.Options) *conformance.Report {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rep, err := conformance.Run(ctx, target, opts)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// failures describes the failed cases of a report, for test messages.
func failures(rep *conformance.Report) string {
	var b strings.Builder
	for _, r := range rep.Results {
		if r.Outcome == conformance.Failed {
			fmt.Fprintf(&b, "\n  %s: %s", r.ID, r.Message)
		}
	}
	return b.String()
}

// casesNoting returns the IDs of the cases whose result notes the
// departure name, sorted.
func casesNoting(rep *conformance.Report, name string) []string {
	var ids []string
	for _, r := range rep.Results {
		if slices.ContainsFunc(r.Departures, func(d conformance.DepartureNote) bool { return d.Name == name }) {
			ids = append(ids, r.ID)
		}
	}
	slices.Sort(ids)
	return ids
}

// quirkProfiles writes, for each quirk, a profile file: default with that
// quirk on.
func quirkProfiles(t *testing.T) map[string]string {
	dir := t.TempDir()
	files := map[string]string{}
	for _, q := range profile.KnownQuirks() {
		path := filepath.Join(dir, q+".yaml")
		doc := fmt.Sprintf("base: default\nname: quirk-%s\nquirks: [%s]\n", q, q)
		if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
			t.Fatal(err)
		}
		files[q] = path
	}
	return files
}

// realish is one simulated card reached as a real card: one connection for
// the run, nothing made fresh, nothing closed by the suite.
type realish struct{ *simtarget.Card }

func (realish) Close() error { return nil }

func realishTarget(t *testing.T, profileName string) (conformance.Target, *simtarget.Card) {
	t.Helper()
	c, err := simtarget.Open(simtarget.Options{Profile: profileName})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	target := conformance.Target{Name: "one simulated card taken for a real one", Open: func(context.Context) (conformance.Card, error) { return realish{c}, nil }}
	return target, c
}

func cardState(t *testing.T, c *simtarget.Card) simulator.CardState {
	t.Helper()
	st, err := c.Reader().State(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func factoryCredentials(t *testing.T, name string) conformance.Credentials {
	t.Helper()
	_, creds, err := simTarget(name)
	if err != nil {
		t.Fatal(err)
	}
	return creds
}

// TestSafeCasesWriteNothing: on a card that is not fresh and without
// --destructive, the suite runs only the safe cases, and the card's
// persistent memory sees not one write.
func TestSafeCasesWriteNothing(t *testing.T) {
	target, c := realishTarget(t, "default")
	before := cardState(t, c)
	rep := runSuite(t, target, conformance.Options{})
	after := cardState(t, c)
	for _, r := range rep.Results {
		switch {
		case r.Class == conformance.Destructive && r.Outcome != conformance.Skipped:
			t.Errorf("%s: destructive, and %s without --destructive", r.ID, r.Outcome)
		case r.Class == conformance.Safe && r.Outcome != conformance.Passed:
			t.Errorf("%s: %s: %s", r.ID, r.Outcome, r.Message)
		}
	}
	if after.Generation != before.Generation || after.PIN != before.PIN || after.PUK != before.PUK {
		t.Errorf("the safe cases changed the card: generation %d → %d, PIN %+v → %+v, PUK %+v → %+v",
			before.Generation, after.Generation, before.PIN, after.PIN, before.PUK, after.PUK)
	}
}

// TestDestructiveCasesPutTheCardBack: against one card taken for a real
// one, the destructive cases run, refuse what they could not undo, and
// leave the counters, keys and objects as they were.
func TestDestructiveCasesPutTheCardBack(t *testing.T) {
	for _, name := range []string{"default", "piv"} {
		target, c := realishTarget(t, name)
		before := cardState(t, c)
		// The key cases may use every key slot: the card has no key there.
		slots := []byte{0x9A, 0x9C, 0x9D, 0x9E}
		rep := runSuite(t, target, conformance.Options{Destructive: true, Credentials: factoryCredentials(t, name), Slots: slots})
		for _, r := range rep.Results {
			switch {
			case r.ID == "VE05.30" || r.ID == "YK-RESET" || r.ID == "YK-RESET-PUK-ONLY":
				if r.Outcome != conformance.Refused || !strings.Contains(r.Message, "blocks the PUK") {
					t.Errorf("%s: %s %s (%s), want refused: it blocks the PUK", name, r.ID, r.Outcome, r.Message)
				}
			case r.Outcome == conformance.Failed || r.Outcome == conformance.Refused || r.Outcome == conformance.Skipped:
				t.Errorf("%s: %s %s: %s", name, r.ID, r.Outcome, r.Message)
			}
		}
		after := cardState(t, c)
		if after.PIN.Tries != before.PIN.Tries || after.PUK.Tries != before.PUK.Tries || after.PIN.Blocked || after.PUK.Blocked {
			t.Errorf("%s: counters PIN %+v PUK %+v, before PIN %+v PUK %+v", name, after.PIN, after.PUK, before.PIN, before.PUK)
		}
		if !slices.Equal(after.Keys, before.Keys) || !slices.Equal(after.Objects, before.Objects) {
			t.Errorf("%s: keys %v objects %v, before %v %v", name, after.Keys, after.Objects, before.Keys, before.Objects)
		}
		if resp, err := c.Transmit(context.Background(), []byte("\x00\x20\x00\x80\x08123456\xFF\xFF")); err != nil || string(resp) != "\x90\x00" {
			t.Errorf("%s: VERIFY with the factory PIN after the suite: % X, %v", name, resp, err)
		}
		fmt.Printf("report: conform --destructive on one %s card: %s\n", name, rep.Summary())
		for _, n := range rep.Notes {
			fmt.Printf("report:   note: %s\n", n)
		}
	}
}

// TestPlanRefusesWhatItCannotUndo: before any destructive case, the suite
// checks each credential where a mistake cannot block anything, refuses
// (and says why) the cases it could not undo, and spends no more tries.
func TestPlanRefusesWhatItCannotUndo(t *testing.T) {
	wrongPIN := []byte("\x00\x20\x00\x80\x08000000\xFF\xFF")
	wrongPUK := []byte("\x00\x24\x00\x81\x1000000000" + "00000000")
	tests := []struct {
		name     string
		prepare  [][]byte // commands sent first
		creds    func(*conformance.Credentials)
		refused  map[string]string // case → part of the reason
		runs     []string          // cases that must still pass or depart
		pin, puk int               // tries left afterwards
	}{
		{
			name:    "wrong --pin",
			creds:   func(c *conformance.Credentials) { c.PIN = "999999" },
			refused: map[string]string{"VE05.19": "--pin is wrong", "VE05.31": "--pin is wrong", "VE05.36B": "--pin is wrong"},
			runs:    []string{"VE05.37", "VE05.36C"},
			pin:     2, puk: 3,
		},
		{
			name:    "a PIN with one try left",
			prepare: [][]byte{wrongPIN, wrongPIN},
			refused: map[string]string{"VE05.19": "the PIN has 1 try left", "VE05.32": "the PIN has 1 try left"},
			runs:    []string{"VE05.37"},
			pin:     1, puk: 3,
		},
		{
			name:    "wrong --puk",
			creds:   func(c *conformance.Credentials) { c.PUK = "99999999" },
			refused: map[string]string{"VE05.31": "--puk is wrong", "VE05.17": "--puk is wrong"},
			runs:    []string{"VE05.19", "VE05.26", "VE05.22C"},
			pin:     3, puk: 2,
		},
		{
			name:    "a PUK with one try left",
			prepare: [][]byte{wrongPUK, wrongPUK},
			refused: map[string]string{"VE05.32": "the PUK has 1 try left"},
			runs:    []string{"VE05.19"},
			pin:     3, puk: 1,
		},
		{
			name:    "wrong --mgmt-key",
			creds:   func(c *conformance.Credentials) { c.MgmtKey = make([]byte, 24) },
			refused: map[string]string{"VE05.37": "management key", "PIV-SIGN-ECDSA": "management key"},
			runs:    []string{"VE05.19", "VE05.32"},
			pin:     3, puk: 3,
		},
	}
	for _, tt := range tests {
		target, c := realishTarget(t, "default")
		for _, cmd := range append([][]byte{{0x00, 0xA4, 0x04, 0x00, 0x05, 0xA0, 0x00, 0x00, 0x03, 0x08}}, tt.prepare...) {
			if _, err := c.Transmit(context.Background(), cmd); err != nil {
				t.Fatal(err)
			}
		}
		creds := factoryCredentials(t, "default")
		if tt.creds != nil {
			tt.creds(&creds)
		}
		rep := runSuite(t, target, conformance.Options{Destructive: true, Credentials: creds})
		byID := map[string]conformance.Result{}
		for _, r := range rep.Results {
			byID[r.ID] = r
			if r.Outcome == conformance.Failed {
				t.Errorf("%s: %s failed: %s", tt.name, r.ID, r.Message)
			}
		}
		for id, why := range tt.refused {
			if r := byID[id]; r.Outcome != conformance.Refused || !strings.Contains(r.Message, why) {
				t.Errorf("%s: %s %s (%q), want refused because %q", tt.name, id, r.Outcome, r.Message, why)
			}
		}
		for _, id := range tt.runs {
			if r := byID[id]; r.Outcome != conformance.Passed && r.Outcome != conformance.Departed {
				t.Errorf("%s: %s %s (%s), want it run", tt.name, id, r.Outcome, r.Message)
			}
		}
		if st := cardState(t, c); st.PIN.Tries != tt.pin || st.PUK.Tries != tt.puk {
			t.Errorf("%s: PIN %d and PUK %d tries left, want %d and %d", tt.name, st.PIN.Tries, st.PUK.Tries, tt.pin, tt.puk)
		}
	}
}

func TestConformCommand(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	junit := filepath.Join(t.TempDir(), "junit.xml")
	out, _, err := runTessera(ctx, "conform", "--run", "^(ISO-|VE05.1)", "--json", "--junit", junit)
	if err != nil {
		t.Fatalf("conform: %v\n%s", err, out)
	}
	var rep struct {
		Summary conformance.Counts `json:"summary"`
		Cases   []struct {
			ID, Result string
		} `json:"cases"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || rep.Summary.Total == 0 || rep.Summary.Failed != 0 {
		t.Fatalf("--json: %v %+v\n%s", err, rep.Summary, out)
	}
	raw, err := os.ReadFile(junit)
	if err != nil {
		t.Fatal(err)
	}
	var suites struct {
		Tests int `xml:"tests,attr"`
	}
	if err := xml.Unmarshal(raw, &suites); err != nil || suites.Tests != rep.Summary.Total {
		t.Errorf("--junit: %v, %d tests, want %d", err, suites.Tests, rep.Summary.Total)
	}

	quirk := quirkProfiles(t)[profile.QuirkNoChaining]
	out, _, err = runTessera(ctx, "conform", "--profile", quirk, "--run", "CHAIN")
	if !errors.Is(err, errConformance) || !strings.Contains(err.Error(), "1 of 2 cases failed (ISO-CHAIN)") {
		t.Errorf("conform against no-chaining: error %v", err)
	}
	if !strings.Contains(out, "ISO-CHAIN        FAIL") || !strings.Contains(out, "6884") {
		t.Errorf("conform against no-chaining printed:\n%s", out)
	}

	out, _, err = runTessera(ctx, "conform", "--list")
	if err != nil || !strings.Contains(out, "VE05.22D") || !strings.Contains(out, conformance.DepartureBlocking6983) {
		t.Errorf("conform --list: %v\n%s", err, out)
	}
}

func TestConformFlagErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"conform", "--target", "usb"}, `--target "usb": want sim or pcsc`},
		{[]string{"conform", "--pin", "123456"}, "are for --target pcsc"},
		{[]string{"conform", "--target", "pcsc"}, "--target pcsc needs --reader NAME"},
		{[]string{"conform", "--target", "pcsc", "--reader", "x", "--profile", "piv"}, "--profile is for --target sim"},
		{[]string{"conform", "--target", "pcsc", "--reader", "x", "--destructive", "--pin", "123456"}, "--destructive needs --pin, --puk and --mgmt-key"},
		{[]string{"conform", "--target", "pcsc", "--reader", "x", "--pin", "123456"}, "used only with --destructive"},
		{[]string{"conform", "--target", "pcsc", "--reader", "x", "--destructive", "--pin", "1", "--puk", "2", "--mgmt-key", "zz"}, "--mgmt-key: not hex"},
		{[]string{"conform", "--target", "pcsc", "--reader", "x", "--mgmt-alg", "rot13"}, "--mgmt-alg"},
		{[]string{"conform", "--run", "("}, "--run"},
		{[]string{"conform", "--slots", "9a"}, "are for --target pcsc"},
		{[]string{"conform", "--pw1", "123456"}, "are for --target pcsc"},
		{[]string{"conform", "--target", "pcsc", "--reader", "x", "--pw1", "123456", "--pw3", "12345678"}, "--pw1 and --pw3 go together, and only with --destructive"},
		{[]string{"conform", "--target", "pcsc", "--reader", "x", "--destructive", "--pw1", "123456"}, "--pw1 and --pw3 go together"},
		{[]string{"conform", "--target", "pcsc", "--reader", "x", "--slots", "9a"}, "--slots is used only with --destructive"},
		{[]string{"conform", "--target", "pcsc", "--reader", "x", "--destructive", "--pin", "1", "--puk", "2", "--mgmt-key", "01", "--slots", "9a,9b"}, `--slots: "9b" is no key slot`},
		{[]string{"conform", "--profile", "nosuch"}, `profile "nosuch" is neither`},
		{[]string{"scenario"}, "requires at least 1 arg"},
		{[]string{"scenario", "--target", "pcsc", "x.yaml"}, "--target pcsc needs --reader"},
		{[]string{"scenario", "nosuch.yaml"}, "no such file"},
	}
	for _, tt := range tests {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, _, err := runTessera(ctx, tt.args...)
		cancel()
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("tessera %s: error %v, want one containing %q", strings.Join(tt.args, " "), err, tt.want)
		}
	}
}

// TestConformPersonasSafe: the safe cases (those a field engineer runs on
// a token in use: no credential, nothing written) pass against every
// persona as delivered, with no departure at all: each persona difference
// shows only where a key is used or a PIN presented.
func TestConformPersonasSafe(t *testing.T) {
	for _, name := range []string{"transport-pin-token", "pin-puk-envelope", "virtual-token", "cloud-signature"} {
		target, creds, err := simTarget(name)
		if err != nil {
			t.Fatal(err)
		}
		rep := runSuite(t, target, conformance.Options{Credentials: creds, Filter: func(c conformance.Case) bool { return c.Class == conformance.Safe }})
		c := rep.Counts()
		if c.Failed != 0 || c.Skipped != 0 || c.Refused != 0 || c.Departed != 0 || c.Passed == 0 {
			t.Errorf("%s: safe cases: %s%s", name, rep.Summary(), failures(rep))
		}
		fmt.Printf("report: conform %s, safe cases: %s\n", name, rep.Summary())
	}
}

// TestConformPersonaQuota: on a card whose signature quota is spent, the
// signing cases name the persona difference persona-signature-quota (the
// card's token state object says no signature is left) instead of
// failing; with signatures left, the same card signs and passes.
func TestConformPersonaQuota(t *testing.T) {
	file := filepath.Join(t.TempDir(), "quota.yaml")
	if err := os.WriteFile(file, []byte("base: default\nname: quota\npiv:\n  signature_quota: 5\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, spent := range []bool{false, true} {
		target, creds, err := simTarget(file)
		if err != nil {
			t.Fatal(err)
		}
		if spent {
			open := target.Open
			target.Open = func(ctx context.Context) (conformance.Card, error) {
				c, err := open(ctx)
				if err != nil {
					return nil, err
				}
				if err := spendQuota(ctx, c); err != nil {
					c.Close()
					return nil, err
				}
				return c, nil
			}
		}
		rep := runSuite(t, target, conformance.Options{Credentials: creds, Filter: func(c conformance.Case) bool { return c.ID == "PIV-SIGN-ECDSA" || c.ID == "VE05.36B" }})
		c := rep.Counts()
		if c.Failed != 0 || c.Skipped != 0 || c.Passed+c.Departed != 2 {
			t.Errorf("quota spent %v: %s%s", spent, rep.Summary(), failures(rep))
		}
		var want []string
		if spent {
			want = []string{"PIV-SIGN-ECDSA", "VE05.36B"}
		}
		if got := casesNoting(rep, conformance.DeparturePersonaQuota); !slices.Equal(got, want) {
			t.Errorf("quota spent %v: %s noted by %v, want %v", spent, conformance.DeparturePersonaQuota, got, want)
		}
	}
}

// spendQuota sets a card's signature quota (object 5FFF22) to zero with
// the factory management key.
func spendQuota(ctx context.Context, card conformance.Card) error {
	c := &hostdriver.Conn{T: card}
	if _, err := c.Do(ctx, apdu.Command{INS: 0xA4, P1: 0x04, Data: []byte{0xA0, 0, 0, 3, 8}}); err != nil {
		return err
	}
	if err := hostdriver.AuthenticateManagementKey(ctx, c, 0x03, hosttest.DefaultMgmtKey(), nil); err != nil {
		return err
	}
	_, err := c.Do(ctx, apdu.Command{INS: 0xDB, P1: 0x3F, P2: 0xFF, Data: []byte{0x5C, 0x03, 0x5F, 0xFF, 0x22, 0x53, 0x04, 0, 0, 0, 0}})
	return err
}

// TestKeyCasesOnlyInNamedSlots: on a card taken for a real one, the key
// cases are refused while no slot is named; with --slots they run in the
// slots named alone (a case needing another, 9E, is skipped), delete the
// keys they made, and leave the key of a slot not named as it was.
func TestKeyCasesOnlyInNamedSlots(t *testing.T) {
	// Every case that writes keys, those that once used a free retired
	// slot of their choosing among them.
	keyCase := func(c conformance.Case) bool {
		writes := c.Needs&conformance.NeedSlot != 0 || slices.Contains([]string{"VE05.36B", "PIV-SIGN-ECDSA", "YK-IMPORT", "YK-MOVE-DELETE", "YK-ATTEST"}, c.ID)
		return writes && !strings.Contains(c.ID, "RSA3072") && !strings.Contains(c.ID, "RSA4096")
	}
	ctx := context.Background()
	tests := []struct {
		name    string
		slots   []byte
		outcome map[string]conformance.Outcome // by case; the others pass
		why     string                         // part of every refusal or skip
	}{
		{"no --slots", nil, nil, "--slots"},
		{"--slots 9a", []byte{0x9A}, map[string]conformance.Outcome{"PIV-CARDAUTH-9E": conformance.Skipped, "YK-MOVE-DELETE": conformance.Skipped, "PIV-9C-PIN-ALWAYS": conformance.Skipped}, "--slots"},
		{"--slots 9d,9e", []byte{0x9D, 0x9E}, map[string]conformance.Outcome{"PIV-9C-PIN-ALWAYS": conformance.Skipped}, "slot 9C"},
	}
	for _, tt := range tests {
		target, c := realishTarget(t, "default")
		// A key of the user's in 9C, which no case may touch.
		conn := adminConn(t, c)
		if _, err := conn.Do(ctx, conformance.GenerateCommand(0x9C, 0x11, 0, 0)); err != nil {
			t.Fatal(err)
		}
		userKey, err := conn.Do(ctx, apdu.Command{INS: 0xF7, P2: 0x9C, Ne: 256})
		if err != nil {
			t.Fatal(err)
		}
		before := cardState(t, c)
		w := &keyWrites{Card: c}
		target.Open = func(context.Context) (conformance.Card, error) { return w, nil }
		rep := runSuite(t, target, conformance.Options{Destructive: true, Credentials: factoryCredentials(t, "default"), Slots: tt.slots, Filter: keyCase})
		for _, s := range w.slots {
			// F9 included: a move there, which a real card should refuse,
			// would lose its attestation key for good if it did not.
			if !slices.Contains(tt.slots, s) {
				t.Errorf("%s: a key was written to slot %02X, which --slots does not name (slots written: % X)", tt.name, s, w.slots)
				break
			}
		}
		if len(rep.Results) < 10 {
			t.Fatalf("%s: %d key cases, want at least 10", tt.name, len(rep.Results))
		}
		for _, r := range rep.Results {
			want, ok := tt.outcome[r.ID]
			switch {
			case tt.outcome == nil:
				want = conformance.Refused
			case !ok:
				want = conformance.Passed
			}
			if r.Outcome != want || want != conformance.Passed && !strings.Contains(r.Message, tt.why) {
				t.Errorf("%s: %s %s (%s), want %s", tt.name, r.ID, r.Outcome, r.Message, want)
			}
		}
		if after := cardState(t, c); !slices.Equal(after.Keys, before.Keys) {
			t.Errorf("%s: keys %v after the key cases, before %v", tt.name, after.Keys, before.Keys)
		}
		if got, err := conn.Do(ctx, apdu.Command{INS: 0xF7, P2: 0x9C, Ne: 256}); err != nil || !bytes.Equal(got, userKey) {
			t.Errorf("%s: the key in 9C, not named, changed: metadata % X, before % X (%v)", tt.name, got, userKey, err)
		}
	}
}

// keyWrites is a simulated card taken for a real one that records the key
// slots the commands it is sent write: GENERATE (47) and IMPORT (FE) in P2,
// MOVE KEY (F6) in P1 (its destination) and P2. DELETE KEY (F6, P1 FF) is
// not counted: the plan checks the card has it on an empty slot, and the
// tests check every key is as it was.
type keyWrites struct {
	*simtarget.Card
	slots []byte
}

func (w *keyWrites) Transmit(ctx context.Context, cmd []byte) ([]byte, error) {
	if len(cmd) >= 4 {
		switch cmd[1] {
		case 0x47, 0xFE:
			w.slots = append(w.slots, cmd[3])
		case 0xF6:
			if cmd[2] != 0xFF {
				w.slots = append(w.slots, cmd[2], cmd[3])
			}
		}
	}
	return w.Card.Transmit(ctx, cmd)
}

func (*keyWrites) Close() error { return nil }

// TestMgmtKeyCasesKeepTouchPolicy: the management key cases (YK-MGMT-,
// YK-TOUCH-MGMT) put back the key they found with its touch policy: a key
// that needed a touch still does.
func TestMgmtKeyCasesKeepTouchPolicy(t *testing.T) {
	ctx := context.Background()
	target, c := realishTarget(t, "default")
	conn := adminConn(t, c)
	// The factory key again, with touch policy always (P2 FE).
	if _, err := conn.Do(ctx, apdu.Command{INS: 0xFF, P1: 0xFF, P2: 0xFE, Data: append([]byte{0x03, 0x9B, 24}, hosttest.DefaultMgmtKey()...)}); err != nil {
		t.Fatal(err)
	}
	before, err := conn.Do(ctx, apdu.Command{INS: 0xF7, P2: 0x9B, Ne: 256})
	if err != nil {
		t.Fatal(err)
	}
	rep := runSuite(t, target, conformance.Options{Destructive: true, Credentials: factoryCredentials(t, "default"), Filter: func(c conformance.Case) bool { return strings.HasPrefix(c.ID, "YK-MGMT-") || c.ID == "YK-TOUCH-MGMT" }})
	if c := rep.Counts(); c.Passed != 5 {
		t.Errorf("the management key cases: %s%s", rep.Summary(), failures(rep))
	}
	after, err := conn.Do(ctx, apdu.Command{INS: 0xF7, P2: 0x9B, Ne: 256})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(after, before) {
		t.Errorf("GET METADATA 9B after the management key cases: % X, before % X (the touch policy is tag 02)", after, before)
	}
}

// adminConn selects PIV on c and authenticates the factory management key.
func adminConn(t *testing.T, c *simtarget.Card) *hostdriver.Conn {
	t.Helper()
	ctx := context.Background()
	conn := &hostdriver.Conn{T: c}
	if _, err := conn.Do(ctx, apdu.Command{INS: 0xA4, P1: 0x04, Data: []byte{0xA0, 0, 0, 3, 8}}); err != nil {
		t.Fatal(err)
	}
	if err := hostdriver.AuthenticateManagementKey(ctx, conn, 0x03, hosttest.DefaultMgmtKey(), nil); err != nil {
		t.Fatal(err)
	}
	return conn
}
