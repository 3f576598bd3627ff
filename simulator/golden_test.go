package simulator

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tesseracard/tessera/firmware/nvm"
	"github.com/tesseracard/tessera/firmware/profile"
	"github.com/tesseracard/tessera/hostdriver"
	"github.com/tesseracard/tessera/internal/cardtest"
	"github.com/tesseracard/tessera/internal/hosttest"
)

var (
	updateGolden = flag.Bool("update-golden", false, "record a golden state directory under testdata/state/NAME (see -golden-name)")
	goldenName   = flag.String("golden-name", "", "the golden state directory -update-golden writes: the commit or date of the code that writes it")
)

// goldenFile is the expectations file of a golden state directory.
const goldenFile = "golden.json"

// goldenCard is what a golden state directory's card held when recorded:
// its slot, profile and serial, its State as JSON without the fields of
// the moment (see goldenVolatile), the answer to goldenProbe, and on a
// YubiKey's OpenPGP (directories recorded since the resetting code's kept
// limit) the answer to rcProbe, and (since the OpenPGP attestation) to
// attestProbe.
type goldenCard struct {
	Slot        int            `json:"slot"`
	Profile     string         `json:"profile"`
	Serial      uint32         `json:"serial"`
	State       map[string]any `json:"state"`
	Probe       string         `json:"probe"`
	RCProbe     string         `json:"rc_probe,omitempty"`
	AttestProbe string         `json:"attest_probe,omitempty"`
}

// goldenVolatile are CardState fields that say how the card is held now,
// or that a migration may change (its writes, its memory), not what it
// holds.
var goldenVolatile = []string{"dir", "vpcd", "inserted", "connected", "powered", "mute", "tear", "touch_mode", "touch_waiting",
	"pin_verified", "pin_verified_note", "generation", "memory_used", "memory_capacity"}

const (
	isoSelect     = "00A404000CF276A288BCFBA69D34F31001"
	openpgpSelect = "00A4040006D27600012401"
)

// goldenProbe is a command sequence whose last answer shows a counter: the
// PIV PIN's status, the OpenPGP PW1's on a card without PIV, or the ISO
// application's.
func goldenProbe(p profile.Profile) []string {
	switch {
	case slices.Contains(p.Apps(), profile.AppPIV):
		return []string{selectPIV, pinStatus}
	case slices.Contains(p.Apps(), profile.AppOpenPGP):
		return []string{openpgpSelect, "0020008100"}
	}
	return []string{isoSelect, "0020000100"}
}

// TestGoldenState opens every golden state directory under testdata/state
// (one per Tessera version that recorded one, with a card of every built-in
// profile given some state), as every later version must: each card holds
// what was recorded, answers as recorded, is migrated at its first
// power-on only (a second power-on writes nothing), and a power cut at any
// write of that first power-on leaves a state the next power-on completes
// to the same records.
//
// go test ./simulator -run TestGoldenState -update-golden -golden-name ID
// records a new directory testdata/state/ID with the code of today.
func TestGoldenState(t *testing.T) {
	if *updateGolden {
		if *goldenName == "" || strings.ContainsAny(*goldenName, `/\`) {
			t.Fatal("-update-golden needs -golden-name, a commit or date naming the directory")
		}
		recordGolden(t, filepath.Join("testdata", "state", *goldenName))
	}
	dirs, err := filepath.Glob(filepath.Join("testdata", "state", "*", goldenFile))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no golden state directories (testdata/state/*/%s): %v", goldenFile, err)
	}
	for _, f := range dirs {
		dir := filepath.Dir(f)
		t.Run(filepath.Base(dir), func(t *testing.T) { checkGolden(t, dir) })
	}
}

// recordGolden writes a golden state directory: a card of every built-in
// profile, given state through its commands.
func recordGolden(t *testing.T, dir string) {
	if _, err := os.Stat(dir); err == nil {
		t.Fatalf("%s exists already: a golden directory is never rewritten", dir)
	}
	s := newTestSim(t, Config{StateDir: dir})
	var cards []goldenCard
	for slot, name := range profile.Names() {
		r := addCard(t, s, CardSpec{Slot: slot, Profile: name})
		p, _ := profile.Builtin(name)
		tr := r.Transport()
		switch {
		case !slices.Contains(p.Apps(), profile.AppPIV) && slices.Contains(p.Apps(), profile.AppOpenPGP):
			// The OpenPGP card: a name, a resetting code, one wrong PW1.
			for _, cmd := range []string{openpgpSelect, "0020008308" + hexOf("12345678"), "00DA005B06" + hexOf("Doe<<J"),
				"00DA00D308" + hexOf("rcrcrcrc"), "0020008106" + hexOf("000000")} {
				transmit(t, tr, cmd)
			}
		case !slices.Contains(p.Apps(), profile.AppPIV): // the ISO token: personalised, one wrong PIN
			for _, cmd := range []string{isoSelect, "0024010210" + hexOf("0123456789abcdef"), "0024010106" + hexOf("123456"), "0020000106" + hexOf("000000")} {
				transmit(t, tr, cmd)
			}
		case p.PIV.MgmtKeyAlgorithmID() == 0x03 && bytes.Equal(p.PIV.MgmtKey, hosttest.DefaultMgmtKey()):
			// Keys in 9A and 9C, two certificates, a blocked PUK.
			if err := hosttest.ProvisionFieldToken(t.Context(), &hostdriver.Conn{T: tr}, time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC)); err != nil {
				t.Fatalf("card %d (%s): %v", slot, name, err)
			}
		case p.PIV.PIN != "" && !p.PIV.RandomPIN && !p.PIV.TransportPIN:
			transmit(t, tr, selectPIV)
			transmit(t, tr, "0024008010"+pinBlock(p.PIV.PIN)+pinBlock("24682468"))
		}
		if slices.Contains(p.Apps(), profile.AppPIV) {
			if slices.Contains(p.Apps(), profile.AppOpenPGP) { // beside PIV: a cardholder name
				for _, cmd := range []string{openpgpSelect, "0020008308" + hexOf("12345678"), "00DA005B06" + hexOf("Doe<<J")} {
					transmit(t, tr, cmd)
				}
				if p.OpenPGP.YubiKey { // retry limits above 15 (PW1 25, RC 16, PW3 99), the resetting code's with no resetting code
					if got := transmit(t, tr, "00F2000003191063"); got != "9000" {
						t.Fatalf("card %d (%s): SET PIN RETRIES answered %s", slot, name, got)
					}
					// An Ed25519 signature key and its attestation (the
					// attestation key, FC and 7F21 occurrence 2 in the state).
					for _, cmd := range []string{"00DA00C10A162B06010401DA470F01", "0047800002B60000", "0020008106" + hexOf("123456"), "80FB0100"} {
						if got := transmit(t, tr, cmd); !strings.HasSuffix(got, "9000") {
							t.Fatalf("card %d (%s): %s answered %s", slot, name, cmd, got)
						}
					}
				}
			}
			transmit(t, tr, selectPIV)
			transmit(t, tr, wrongPIN)
		}
		cards = append(cards, goldenCard{Slot: slot, Profile: name, Serial: r.Info().Serial})
	}
	s.Close()
	// What the cards hold, as a later version reads it back.
	s = newTestSim(t, Config{StateDir: dir})
	for i, c := range cards {
		r := addCard(t, s, CardSpec{Slot: c.Slot})
		cards[i].State = goldenState(t, r)
		p, _ := profile.Builtin(c.Profile)
		cards[i].Probe = probe(t, r, p)
		if p.OpenPGP.YubiKey {
			cards[i].AttestProbe = attestProbe(t, r)
		}
	}
	s.Close()
	// The lock files of a running simulator are not state.
	locks, _ := filepath.Glob(filepath.Join(dir, "cards", "*", "*.lock"))
	for _, f := range append(locks, filepath.Join(dir, stateLockName)) {
		os.Remove(f)
	}
	// What a resetting code set now gets, on a copy: the probe writes.
	cp := t.TempDir()
	if err := os.CopyFS(cp, os.DirFS(dir)); err != nil {
		t.Fatal(err)
	}
	s = newTestSim(t, Config{StateDir: cp})
	for i, c := range cards {
		if p, _ := profile.Builtin(c.Profile); p.OpenPGP.YubiKey {
			cards[i].RCProbe = rcProbe(t, addCard(t, s, CardSpec{Slot: c.Slot}))
		}
	}
	s.Close()
	b, err := json.MarshalIndent(cards, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, goldenFile), append(b, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}

func checkGolden(t *testing.T, golden string) {
	b, err := os.ReadFile(filepath.Join(golden, goldenFile))
	if err != nil {
		t.Fatal(err)
	}
	var cards []goldenCard
	if err := json.Unmarshal(b, &cards); err != nil {
		t.Fatalf("%s: %v", goldenFile, err)
	}
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(golden)); err != nil {
		t.Fatal(err)
	}
	// Every write of each card's first power-on, cut in turn, on copies.
	for _, c := range cards {
		tearFirstPowerOn(t, filepath.Join(golden, "cards", strconv.Itoa(c.Slot)), c)
	}
	s := newTestSim(t, Config{StateDir: dir})
	for _, c := range cards {
		p, ok := profile.Builtin(c.Profile)
		if !ok {
			t.Errorf("card %d: profile %q is no longer built in", c.Slot, c.Profile)
			continue
		}
		r := addCard(t, s, CardSpec{Slot: c.Slot})
		if in := r.Info(); in.Profile != c.Profile || in.Serial != c.Serial {
			t.Errorf("card %d = %s serial %d, want %s serial %d", c.Slot, in.Profile, in.Serial, c.Profile, c.Serial)
		}
		got := goldenState(t, r)
		for k, want := range c.State {
			if !reflect.DeepEqual(got[k], want) {
				t.Errorf("card %d (%s): %s = %v, want %v", c.Slot, c.Profile, k, got[k], want)
			}
		}
		st, err := r.State(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		gen := st.Generation
		if err := r.PowerCycle(t.Context()); err != nil {
			t.Fatal(err)
		}
		if st, _ := r.State(t.Context()); st.Generation != gen {
			t.Errorf("card %d (%s): a second power-on wrote (generation %d, was %d): migrated twice?", c.Slot, c.Profile, st.Generation, gen)
		}
		if got := probe(t, r, p); got != c.Probe {
			t.Errorf("card %d (%s): probe answered %s, want %s", c.Slot, c.Profile, got, c.Probe)
		}
		if c.AttestProbe != "" {
			if got := attestProbe(t, r); got != c.AttestProbe {
				t.Errorf("card %d (%s): attestation probe answered %s, want %s", c.Slot, c.Profile, got, c.AttestProbe)
			}
		}
		if c.RCProbe == "" {
			continue
		}
		if got := rcProbe(t, r); got != c.RCProbe {
			t.Errorf("card %d (%s): resetting code probe answered %s, want %s", c.Slot, c.Profile, got, c.RCProbe)
		}
	}
}

// tearFirstPowerOn powers on a copy of a golden card's state once to count
// the writes of its first power-on (a migration's), then once per write
// with the power cut after it: the next power-on must succeed and leave the
// records of the uncut one.
func tearFirstPowerOn(t *testing.T, cardDir string, c goldenCard) {
	t.Helper()
	src := filepath.Join(cardDir, stateFileName)
	if _, err := os.Stat(src); errors.Is(err, os.ErrNotExist) {
		return // no state yet: the card boots as new
	}
	p, _ := profile.Builtin(c.Profile)
	open := func() (*nvm.Tearable, func() string, func() error) {
		dst := filepath.Join(t.TempDir(), stateFileName)
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, b, 0o600); err != nil {
			t.Fatal(err)
		}
		f, err := nvm.OpenFile(dst)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		tm := nvm.NewTearable(f)
		// An application new to the card (OATH on an older state) draws
		// random factory values at power-on: every power-on draws the same,
		// so that the records compare.
		rng := &reseeded{seed: [32]byte{byte(c.Slot)}}
		card, err := NewCard(p, tm, CardOptions{Serial: c.Serial, Rand: rng})
		if err != nil {
			t.Fatalf("card %d (%s): %v", c.Slot, c.Profile, err)
		}
		power := func() error { rng.r = rand.NewChaCha8(rng.seed); _, err := card.PowerOn(); return err }
		return tm, func() string { return cardtest.Records(card.Store()) }, power
	}
	tm, records, power := open()
	if err := power(); err != nil {
		t.Fatalf("card %d (%s): first power-on: %v", c.Slot, c.Profile, err)
	}
	writes, want := tm.Saves(), records()
	for cut := range writes {
		tm, records, power := open()
		tm.CutAfter(cut)
		if err := power(); !errors.Is(err, nvm.ErrPowerLost) {
			t.Fatalf("card %d: cut after %d of %d writes: power-on error = %v, want ErrPowerLost", c.Slot, cut, writes, err)
		}
		tm.Restore()
		if err := power(); err != nil {
			t.Fatalf("card %d: cut after %d: power on again: %v", c.Slot, cut, err)
		}
		if got := records(); got != want {
			t.Errorf("card %d (%s): cut after %d of %d writes: records differ from the uncut power-on", c.Slot, c.Profile, cut, writes)
		}
	}
}

// reseeded is a random source that power starts again from its seed.
type reseeded struct {
	seed [32]byte
	r    *rand.ChaCha8
}

func (s *reseeded) Read(p []byte) (int, error) { return s.r.Read(p) }

// goldenState is r's State as JSON fields, without goldenVolatile.
func goldenState(t *testing.T, r *Reader) map[string]any {
	t.Helper()
	st, err := r.State(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range goldenVolatile {
		delete(m, k)
	}
	return m
}

// probe runs goldenProbe on a fresh power-on and returns its last answer.
func probe(t *testing.T, r *Reader, p profile.Profile) string {
	t.Helper()
	if err := r.PowerCycle(t.Context()); err != nil {
		t.Fatal(err)
	}
	var out string
	for _, cmd := range goldenProbe(p) {
		out = transmit(t, r.Transport(), cmd)
	}
	return out
}

// rcProbe sets a resetting code on r's OpenPGP application (the probe
// writes: it runs last) and returns GET DATA C4, which shows the tries the
// code got.
func rcProbe(t *testing.T, r *Reader) string {
	t.Helper()
	if err := r.PowerCycle(t.Context()); err != nil {
		t.Fatal(err)
	}
	var out string
	for _, cmd := range []string{openpgpSelect, "0020008308" + hexOf("12345678"), "00DA00D308" + hexOf("rcrcrcrc"), "00CA00C400"} {
		out = transmit(t, r.Transport(), cmd)
	}
	return out
}

// attestProbe reads, without writing, the YubiKey OpenPGP attestation
// key's certificate FC and the signature key's cardholder certificate
// (7F21 occurrence 2, where GET ATTESTATION put its statement), and
// returns their SHA-256 and whether the statement is issued by FC.
func attestProbe(t *testing.T, r *Reader) string {
	t.Helper()
	tr := r.Transport()
	transmit(t, tr, openpgpSelect)
	fc := fetch(t, tr, "00CA00FC00")
	transmit(t, tr, "00A5020406"+"60045C027F21")
	leaf := fetch(t, tr, "00CA7F2100")
	verified := "unverified"
	if f, err := x509.ParseCertificate(fc); err == nil {
		if l, err := x509.ParseCertificate(leaf); err == nil && l.CheckSignatureFrom(f) == nil {
			verified = "issued by FC"
		}
	}
	return fmt.Sprintf("FC %X, 7F21/2 %X, %s", sha256.Sum256(fc), sha256.Sum256(leaf), verified)
}

// fetch sends cmd and returns its data, read on with GET RESPONSE after
// 61xx; anything but 9000 at the end fails the test.
func fetch(t *testing.T, tr *Transport, cmd string) []byte {
	t.Helper()
	var data []byte
	for {
		resp := unhex(t, transmit(t, tr, cmd))
		n := len(resp) - 2
		data = append(data, resp[:n]...)
		switch {
		case resp[n] == 0x61:
			cmd = fmt.Sprintf("00C00000%02X", resp[n+1])
		case resp[n] == 0x90 && resp[n+1] == 0x00:
			return data
		default:
			t.Fatalf("%s answered %X", cmd, resp[n:])
		}
	}
}

func hexOf(s string) string { return strings.ToUpper(hex.EncodeToString([]byte(s))) }

// pinBlock is a PIV PIN padded with FF to 8 bytes, in hex.
func pinBlock(pin string) string {
	b := append([]byte(pin), bytes.Repeat([]byte{0xFF}, 8-len(pin))...)
	return strings.ToUpper(hex.EncodeToString(b))
}
