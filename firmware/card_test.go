package firmware

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tesseracard/tessera/apdu"
	"github.com/tesseracard/tessera/firmware/nvm"
)

var testATR = []byte{0x3B, 0x80, 0x80, 0x01, 0x01}

func testConfig(m nvm.Medium) Config {
	return Config{
		ATR:     testATR,
		Medium:  m,
		Rand:    rand.NewChaCha8([32]byte{1}),
		Clock:   func() time.Time { return time.Unix(1_800_000_000, 0) },
		Applets: []Applet{testApplet{}},
	}
}

// newCard returns a powered test card on a tearable memory medium.
func newCard(t testing.TB) (*Card, *nvm.Tearable) {
	t.Helper()
	tm := nvm.NewTearable(&nvm.Memory{})
	return poweredCard(t, testConfig(tm)), tm
}

// poweredCard returns a powered card of cfg.
func poweredCard(t testing.TB, cfg Config) *Card {
	t.Helper()
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.PowerOn(); err != nil {
		t.Fatal(err)
	}
	return c
}

func h(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

// send transmits an APDU given in hex and returns data and status word.
func send(t testing.TB, c *Card, hexAPDU string) ([]byte, apdu.StatusWord) {
	t.Helper()
	return sendRaw(t, c, h(hexAPDU))
}

func sendRaw(t testing.TB, c *Card, raw []byte) ([]byte, apdu.StatusWord) {
	t.Helper()
	out := c.Process(raw)
	r, err := apdu.ParseResponse(out)
	if err != nil {
		t.Fatalf("Process(% X) = % X: %v", raw, out, err)
	}
	return r.Data, r.SW
}

func expectSW(t testing.TB, c *Card, hexAPDU string, want apdu.StatusWord) []byte {
	t.Helper()
	data, sw := send(t, c, hexAPDU)
	if sw != want {
		t.Fatalf("%s: SW = %04X, want %04X", hexAPDU, uint16(sw), uint16(want))
	}
	return data
}

const (
	selectTest   = "00 A4 04 00 05 F0 54 45 53 54"
	verifyRight  = "00 20 00 80 06 313233343536"
	verifyWrong  = "00 20 00 80 06 303030303030"
	verifyStatus = "00 20 00 80"
)

func TestCheckATR(t *testing.T) {
	good := []string{
		"3B 80 80 01 01",
		"3B FD 13 00 00 81 31 FE 15 80 73 C0 21 C0 57 59 75 62 69 4B 65 79 40", // YubiKey 5.7.1
	}
	for _, s := range good {
		if err := checkATR(h(s)); err != nil {
			t.Errorf("checkATR(%s) = %v, want nil", s, err)
		}
	}
	bad := map[string]string{
		"T=0 only":  "3B 00",
		"bad TCK":   "3B 80 80 01 02",
		"no TCK":    "3B 80 80 01",
		"bad TS":    "3C 80 80 01 01",
		"truncated": "3B 80",
		"one byte":  "3B",
	}
	for name, s := range bad {
		if err := checkATR(h(s)); err == nil {
			t.Errorf("%s: checkATR(%s) = nil, want error", name, s)
		}
	}
	cfg := testConfig(&nvm.Memory{})
	cfg.ATR = h("3B 00")
	if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), "T=1") {
		t.Errorf("New with a T=0 ATR: error %v, want one naming T=1", err)
	}
}

func TestPowerAndMute(t *testing.T) {
	c, err := New(testConfig(&nvm.Memory{}))
	if err != nil {
		t.Fatal(err)
	}
	if out := c.Process(h(selectTest)); out != nil {
		t.Errorf("unpowered card answered % X", out)
	}
	atr, err := c.PowerOn()
	if err != nil || !bytes.Equal(atr, testATR) {
		t.Fatalf("PowerOn() = % X, %v; want % X", atr, err, testATR)
	}
	expectSW(t, c, selectTest, apdu.SWSuccess)
	c.PowerOff()
	if out := c.Process(h(verifyStatus)); out != nil {
		t.Errorf("card answered after PowerOff: % X", out)
	}
}

func TestSelect(t *testing.T) {
	c, _ := newCard(t)
	expectSW(t, c, verifyStatus, apdu.SWINSNotSupported) // nothing selected yet
	expectSW(t, c, "00 A4 04 00 04 F0 54 45 53", apdu.SWFileNotFound)
	expectSW(t, c, "00 A4 04 00 07 F0 54 45 53 54 01 02", apdu.SWSuccess) // full AID
	expectSW(t, c, "00 A4 04 00 08 F0 54 45 53 54 01 02 03", apdu.SWFileNotFound)
	expectSW(t, c, verifyStatus, apdu.RetriesSW(3)) // the test applet stayed selected
	expectSW(t, c, "00 A4 04 00 05 A0 00 00 05 27", apdu.SWFileNotFound)
	expectSW(t, c, verifyStatus, apdu.RetriesSW(3))
	expectSW(t, c, "00 A4 04 00 11 F0 54 45 53 54 01 02 00 00 00 00 00 00 00 00 00 00", apdu.SWWrongLength)
	expectSW(t, c, "00 A4 04 02 05 F0 54 45 53 54", apdu.SWIncorrectP1P2)
	expectSW(t, c, selectTest+" 00", apdu.SWSuccess) // case 4 form
}

func TestMalformedCommandsGetAStatusWord(t *testing.T) {
	tests := []struct {
		apdu string
		want apdu.StatusWord
	}{
		{"", apdu.SWWrongLength},
		{"00", apdu.SWWrongLength},
		{"00 20 00", apdu.SWWrongLength},
		{"00 20 00 80 05 31", apdu.SWWrongLength},       // Lc beyond the data
		{"00 20 00 80 01 31 00 00", apdu.SWWrongLength}, // trailing bytes
		{"FF 20 00 80", apdu.SWCLANotSupported},
		{"20 20 00 80", apdu.SWCLANotSupported},
		{"0C 20 00 80", apdu.SWSecureMessagingNotSupported},
		{"01 20 00 80", apdu.SWLogicalChannelNotSupported},
		{"40 20 00 80", apdu.SWLogicalChannelNotSupported},
		{"80 20 00 80", apdu.SWCLANotSupported}, // the applet refuses a proprietary class
		{"00 EE 00 00", apdu.SWINSNotSupported},
		{"00 20 00 82", apdu.SWReferenceNotFound},
		{"00 20 01 80", apdu.SWIncorrectP1P2},
		{"00 CA 00 00 00 00 00", apdu.SWWrongLength}, // extended, not enabled
		{"00 C0 00 00 00", apdu.SWConditionsNotSatisfied},
	}
	c, _ := newCard(t)
	expectSW(t, c, selectTest, apdu.SWSuccess)
	for _, tt := range tests {
		if _, sw := send(t, c, tt.apdu); sw != tt.want {
			t.Errorf("%q: SW = %04X, want %04X", tt.apdu, uint16(sw), uint16(tt.want))
		}
	}
	expectSW(t, c, verifyStatus, apdu.RetriesSW(3))
}

func TestNoDataForms(t *testing.T) {
	c, _ := newCard(t)
	expectSW(t, c, selectTest, apdu.SWSuccess)
	for _, form := range []string{"00 20 00 80", "00 20 00 80 00"} {
		expectSW(t, c, form, apdu.RetriesSW(3))
	}
}

func TestLongResponsesAndGetResponse(t *testing.T) {
	c, _ := newCard(t)
	expectSW(t, c, selectTest, apdu.SWSuccess)
	want := make([]byte, 0x2F0)
	for i := range want {
		want[i] = byte(i)
	}
	got := expectSW(t, c, "00 CB 02 F0", apdu.MoreDataSW(0x2F0-256))
	got = append(got, expectSW(t, c, "00 C0 00 00 00", apdu.SWBytesRemaining|0xF0)...)
	got = append(got, expectSW(t, c, "00 C0 00 00 10", apdu.SWBytesRemaining|0xE0)...) // a smaller Le is honoured
	got = append(got, expectSW(t, c, "00 C0 00 00 E0", apdu.SWSuccess)...)             // ykpiv asks for SW2
	if !bytes.Equal(got, want) {
		t.Errorf("reassembled response differs from the %d bytes sent", len(want))
	}
	expectSW(t, c, "00 C0 00 00 00", apdu.SWConditionsNotSatisfied)

	// Another command drops what was pending.
	expectSW(t, c, "00 CB 03 00", apdu.SWBytesRemaining)
	expectSW(t, c, verifyStatus, apdu.RetriesSW(3))
	expectSW(t, c, "00 C0 00 00 00", apdu.SWConditionsNotSatisfied)

	// A short Le below the data length gives 61xx, never 6Cxx.
	if data := expectSW(t, c, "00 CB 00 0A 04", apdu.MoreDataSW(6)); len(data) != 4 {
		t.Errorf("Le=4 returned %d bytes", len(data))
	}
	// Exactly 256 bytes fit without GET RESPONSE.
	if data := expectSW(t, c, "00 CB 01 00", apdu.SWSuccess); len(data) != 256 {
		t.Errorf("256-byte response returned %d bytes", len(data))
	}
}

func TestExtendedLengthResponses(t *testing.T) {
	cfg := testConfig(nvm.NewTearable(&nvm.Memory{}))
	cfg.ExtendedLength = true
	c := poweredCard(t, cfg)
	expectSW(t, c, selectTest, apdu.SWSuccess)
	tests := []struct {
		apdu   string
		n      int
		wantSW apdu.StatusWord
	}{
		{"00 CB 02 F0 00 00 01 7E", 0x2F0, apdu.SWSuccess},                   // 3E, no Le: everything, as a YubiKey answers
		{"00 CB 02 F0 00 00 00", 0x2F0, apdu.SWSuccess},                      // 2E, Le 0000: up to 65536
		{"00 CB 02 F0 00 00 01 7E 01 00", 256, apdu.MoreDataSW(0x2F0 - 256)}, // 4E, Le 0100
		{"00 CB 02 F0", 256, apdu.MoreDataSW(0x2F0 - 256)},                   // short, no Le: 256 at most
	}
	for _, tt := range tests {
		if data := expectSW(t, c, tt.apdu, tt.wantSW); len(data) != tt.n {
			t.Errorf("%s: %d bytes, want %d", tt.apdu, len(data), tt.n)
		}
	}
}

func TestChaining(t *testing.T) {
	c, tm := newCard(t)
	expectSW(t, c, selectTest, apdu.SWSuccess)
	expectSW(t, c, verifyRight, apdu.SWSuccess)
	obj := bytes.Repeat([]byte("0123456789abcdef"), 40) // 640 bytes
	parts, err := apdu.SplitChain(apdu.Command{INS: 0xDB, Data: obj}, 255)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range parts {
		raw, _ := p.Marshal()
		saves := tm.Saves()
		if _, sw := sendRaw(t, c, raw); sw != apdu.SWSuccess {
			t.Fatalf("chain part %d: SW %04X", i, uint16(sw))
		}
		if i < len(parts)-1 && tm.Saves() != saves {
			t.Fatalf("chain part %d wrote persistent memory before the chain was complete", i)
		}
	}
	if got := expectSW(t, c, "00 CA 00 00", apdu.MoreDataSW(len(obj)-256)); !bytes.Equal(got, obj[:256]) {
		t.Errorf("chained PUT DATA stored %q...", got[:16])
	}

	// A chain interrupted by another command is discarded.
	expectSW(t, c, "10 DB 00 00 03 41 42 43", apdu.SWSuccess)
	expectSW(t, c, verifyStatus, apdu.SWSuccess)
	expectSW(t, c, "00 DB 00 00 03 44 45 46", apdu.SWSuccess)
	if got := expectSW(t, c, "00 CA 00 00", apdu.SWSuccess); string(got) != "DEF" {
		t.Errorf("after an interrupted chain GET DATA = %q, want DEF", got)
	}
	// A chain part with another header starts a new chain.
	expectSW(t, c, "10 DB 00 00 03 41 42 43", apdu.SWSuccess)
	expectSW(t, c, "10 DB 01 00 01 58", apdu.SWSuccess)
	expectSW(t, c, "00 DB 01 00 01 59", apdu.SWSuccess)
	if got := expectSW(t, c, "00 CA 00 00", apdu.SWSuccess); string(got) != "XY" {
		t.Errorf("after a chain with a changed header GET DATA = %q, want XY", got)
	}

	// Past MaxCommand the chain is refused and nothing is written.
	saves := tm.Saves()
	part := "10 DB 00 00 FF " + strings.Repeat("AA", 255)
	for range DefaultMaxCommand / 255 {
		expectSW(t, c, part, apdu.SWSuccess)
	}
	expectSW(t, c, part, apdu.SWWrongLength)
	expectSW(t, c, "00 DB 00 00 01 41", apdu.SWSuccess) // a fresh command after the refusal
	if tm.Saves() != saves+1 {
		t.Errorf("an over-long chain wrote persistent memory")
	}
}

func TestSecurityStatusIsRAMOnly(t *testing.T) {
	for name, cycle := range map[string]func(*Card) error{
		"reset":     func(c *Card) error { _, err := c.Reset(); return err },
		"power off": func(c *Card) error { c.PowerOff(); _, err := c.PowerOn(); return err },
	} {
		c, _ := newCard(t)
		expectSW(t, c, selectTest, apdu.SWSuccess)
		expectSW(t, c, verifyRight, apdu.SWSuccess)
		expectSW(t, c, verifyStatus, apdu.SWSuccess)
		if err := cycle(c); err != nil {
			t.Fatal(err)
		}
		expectSW(t, c, selectTest, apdu.SWSuccess)
		if _, sw := send(t, c, verifyStatus); sw != apdu.RetriesSW(3) {
			t.Errorf("%s: PIN status %04X, want 63C3 (not verified)", name, uint16(sw))
		}
		expectSW(t, c, "00 DB 00 00 01 41", apdu.SWSecurityStatusNotSatisfied)
	}
	c, _ := newCard(t)
	expectSW(t, c, selectTest, apdu.SWSuccess)
	expectSW(t, c, verifyRight, apdu.SWSuccess)
	expectSW(t, c, "00 20 FF 80", apdu.SWSuccess)
	expectSW(t, c, verifyStatus, apdu.RetriesSW(3))
}

func TestBlockedAcrossPowerCycles(t *testing.T) {
	c, _ := newCard(t)
	expectSW(t, c, selectTest, apdu.SWSuccess)
	expectSW(t, c, verifyWrong, apdu.RetriesSW(2))
	expectSW(t, c, verifyWrong, apdu.RetriesSW(1))
	expectSW(t, c, verifyWrong, apdu.RetriesSW(0))
	for range 2 {
		if _, err := c.Reset(); err != nil {
			t.Fatal(err)
		}
		expectSW(t, c, selectTest, apdu.SWSuccess)
		expectSW(t, c, verifyRight, apdu.SWAuthMethodBlocked)
		expectSW(t, c, verifyStatus, apdu.SWAuthMethodBlocked)
	}
	expectSW(t, c, "00 2C 00 80 0F 08 3132333435363738 313131313131", apdu.SWSuccess)
	expectSW(t, c, "00 20 00 80 06 313131313131", apdu.SWSuccess)
}

func TestCapacityRefusalWritesNothing(t *testing.T) {
	cfg := testConfig(&nvm.Memory{})
	cfg.Capacity = 600
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.PowerOn(); err != nil {
		t.Fatal(err)
	}
	expectSW(t, c, selectTest, apdu.SWSuccess)
	expectSW(t, c, verifyRight, apdu.SWSuccess)
	before, _ := cfg.Medium.Load()
	expectSW(t, c, "00 DB 03 00 FF "+strings.Repeat("AA", 255), apdu.SWNotEnoughMemory)
	after, _ := cfg.Medium.Load()
	if !bytes.Equal(before, after) {
		t.Errorf("a refused PUT DATA changed persistent memory")
	}
	expectSW(t, c, "00 DB 01 00 10 "+strings.Repeat("AA", 16), apdu.SWSuccess)
}

func TestCorruptStateRefusesToStart(t *testing.T) {
	m := &nvm.Memory{}
	c, err := New(testConfig(m))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.PowerOn(); err != nil {
		t.Fatal(err)
	}
	img, _ := m.Load()
	img[len(img)/2] ^= 1
	m.Save(img)
	if _, err := New(testConfig(m)); !errors.Is(err, nvm.ErrCorrupt) {
		t.Errorf("New on a damaged image: %v, want ErrCorrupt", err)
	}
	if _, err := c.PowerOn(); !errors.Is(err, nvm.ErrCorrupt) || c.Powered() {
		t.Errorf("PowerOn on a damaged image: %v (powered %v), want ErrCorrupt and off", err, c.Powered())
	}
}

func TestChallengeUsesTheHandedInRandom(t *testing.T) {
	a, _ := newCard(t)
	b, _ := newCard(t)
	for _, c := range []*Card{a, b} {
		expectSW(t, c, selectTest, apdu.SWSuccess)
	}
	x := expectSW(t, a, "00 84 00 00 08", apdu.SWSuccess)
	y := expectSW(t, b, "00 84 00 00 08", apdu.SWSuccess)
	if len(x) != 8 || !bytes.Equal(x, y) {
		t.Errorf("same seed gave challenges % X and % X", x, y)
	}
}

// diskFull is a medium whose writes start failing on demand.
type diskFull struct {
	nvm.Memory
	full bool
}

func (d *diskFull) Save(b []byte) error {
	if d.full {
		return errors.New("no space left on device")
	}
	return d.Memory.Save(b)
}

func TestMediumFailureAnswers6581AndSpendsNothing(t *testing.T) {
	m := &diskFull{}
	c, err := New(testConfig(m))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.PowerOn(); err != nil {
		t.Fatal(err)
	}
	expectSW(t, c, selectTest, apdu.SWSuccess)
	m.full = true
	expectSW(t, c, verifyRight, apdu.SWMemoryFailure) // no compare without the decrement on record
	expectSW(t, c, verifyStatus, apdu.RetriesSW(3))
	m.full = false
	expectSW(t, c, verifyRight, apdu.SWSuccess)
}

// disclosingApplet is testApplet saying what a trace may show: a LONG
// answer (CB) shows when P1 is 03 and is withheld otherwise; PUT DATA (DB)
// shows its data until they hold an "S"; GET DATA (CA) shows both ways;
// the rest is withheld. It records the commands Disclose was asked about.
type disclosingApplet struct {
	testApplet
	asked *[]apdu.Command
}

func (a disclosingApplet) Disclose(cmd apdu.Command) Disclosure {
	cmd.Data = bytes.Clone(cmd.Data)
	*a.asked = append(*a.asked, cmd)
	switch cmd.INS {
	case 0xCB:
		return Disclosure{Command: true, Response: cmd.P1 == 0x03}
	case 0xDB:
		return Disclosure{Command: !bytes.Contains(cmd.Data, []byte("S")), Response: true}
	case 0xCA:
		return Disclosure{Command: true, Response: true}
	}
	return Disclosure{}
}

// otherApplet is testApplet under another AID, without Disclose.
type otherApplet struct{ testApplet }

func (otherApplet) AID() []byte { return []byte{0xF0, 0x54, 0x45, 0x53, 0x54, 0x09} }

// TestDisclosure: the card OS decides what a trace may show of what it
// answers itself, asks the selected applet for the rest (chain pieces with
// the data so far), lets GET RESPONSE inherit the decision of the command
// whose data are pending, and withholds everything nobody vouched for.
func TestDisclosure(t *testing.T) {
	var asked []apdu.Command
	cfg := testConfig(nvm.NewTearable(&nvm.Memory{}))
	cfg.Applets = []Applet{disclosingApplet{asked: &asked}, otherApplet{}}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.TakeDisclosure(); got != (Disclosure{}) {
		t.Errorf("TakeDisclosure() of a card that processed nothing = %+v, want nothing shown", got)
	}
	if _, err := c.PowerOn(); err != nil {
		t.Fatal(err)
	}
	var (
		none    = Disclosure{}
		both    = Disclosure{Command: true, Response: true}
		cmdOnly = Disclosure{Command: true}
	)
	steps := []struct {
		name, apdu string
		sw         apdu.StatusWord
		want       Disclosure
	}{
		{"no applet selected", verifyRight, apdu.SWINSNotSupported, none},
		{"no applet selected, a command the applet would show", "00 CA 00 00", apdu.SWINSNotSupported, none},
		{"no applet selected, SELECT MF", "00 A4 00 0C 02 3F 00", apdu.SWINSNotSupported, both},
		{"SELECT by AID", selectTest, apdu.SWSuccess, both},
		{"the applet shows", "00 CA 00 00", apdu.SWSuccess, both},
		{"the applet withholds", verifyRight, apdu.SWSuccess, none},
		{"a long answer withheld", "00 CB 02 F0", apdu.MoreDataSW(0x2F0 - 256), cmdOnly},
		{"its GET RESPONSE", "00 C0 00 00 00", apdu.MoreDataSW(0xF0), none},
		{"its last GET RESPONSE", "00 C0 00 00 00", apdu.SWSuccess, none},
		{"a long answer shown", "00 CB 03 00", apdu.MoreDataSW(0x200), both},
		{"its GET RESPONSE", "00 C0 00 00 00", apdu.MoreDataSW(0x100), Disclosure{Response: true}},
		{"GET RESPONSE with nothing pending", "00 CB 00 02", apdu.SWSuccess, cmdOnly},
		{"", "00 C0 00 00 00", apdu.SWConditionsNotSatisfied, none},
		{"a chain piece", "10 DB 00 00 02 4142", apdu.SWSuccess, cmdOnly},
		{"a piece that makes the chain secret", "10 DB 00 00 01 53", apdu.SWSuccess, none},
		{"the last piece", "00 DB 00 00 01 43", apdu.SWSuccess, Disclosure{Response: true}},
		{"malformed", "00 CA 00 00 05 41", apdu.SWWrongLength, none},
		{"secure messaging", "0C CA 00 00 02 4142", apdu.SWSecureMessagingNotSupported, none},
		{"SELECT an applet without Disclose", "00 A4 04 00 06 F0 54 45 53 54 09", apdu.SWSuccess, both},
		{"", verifyRight, apdu.SWSuccess, none},
		{"", "00 CA 00 00", apdu.SWSuccess, none},
	}
	for _, st := range steps {
		_, sw := send(t, c, st.apdu)
		if sw != st.sw {
			t.Fatalf("%s: %s answered %04X, want %04X", st.name, st.apdu, uint16(sw), uint16(st.sw))
		}
		if got := c.TakeDisclosure(); got != st.want {
			t.Errorf("%s: %s: TakeDisclosure() = %+v, want %+v", st.name, st.apdu, got, st.want)
		}
		if got := c.TakeDisclosure(); got != none {
			t.Errorf("%s: TakeDisclosure() a second time = %+v, want nothing shown", st.name, got)
		}
	}
	// The pieces of the chain were judged on their data so far, marked as
	// pieces; the whole command on all of it.
	var pieces []string
	for _, cmd := range asked {
		if cmd.INS == 0xDB {
			pieces = append(pieces, fmt.Sprintf("%02X %s", cmd.CLA, cmd.Data))
		}
	}
	if want := []string{"10 AB", "10 ABS", "00 ABSC"}; !slices.Equal(pieces, want) {
		t.Errorf("Disclose was asked about PUT DATA as %q, want %q", pieces, want)
	}
	c.PowerOff()
	if out := c.Process(h("00 CA 00 00")); out != nil || c.TakeDisclosure() != none {
		t.Errorf("an unpowered card answered %X or disclosed something", out)
	}
}
