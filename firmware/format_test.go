package firmware

import (
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/tesseracard/tessera/firmware/nvm"
)

// migratingApplet is the test applet at a later card-state format: its
// migrations rewrite t/obj.
type migratingApplet struct {
	testApplet
	migs []Migration
}

func (a migratingApplet) Migrations() []Migration { return a.migs }

// prefixObj is a migration from version from that prefixes t/obj with
// tag and counts its runs in *runs.
func prefixObj(from int, tag string, runs *int) Migration {
	return Migration{From: from, Name: "prefix t/obj with " + tag, Apply: func(env *Context, tx *nvm.Tx) error {
		*runs++
		v, _ := tx.Get("t/obj")
		return tx.Put("t/obj", append([]byte(tag+":"), v...))
	}}
}

// stateOf returns the image a card of applets leaves on a blank medium at
// its first power-on.
func stateOf(t *testing.T, applets ...Applet) []byte {
	t.Helper()
	m := &nvm.Memory{}
	cfg := testConfig(m)
	cfg.Applets = applets
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.PowerOn(); err != nil {
		t.Fatal(err)
	}
	img, _ := m.Load()
	return img
}

// withState returns a tearable medium holding img, and a card of applets on it.
func withState(t *testing.T, img []byte, applets ...Applet) (*Card, *nvm.Tearable, error) {
	t.Helper()
	m := &nvm.Memory{}
	if img != nil {
		if err := m.Save(img); err != nil {
			t.Fatal(err)
		}
	}
	tm := nvm.NewTearable(m)
	cfg := testConfig(tm)
	cfg.Applets = applets
	c, err := New(cfg)
	return c, tm, err
}

func obj(t *testing.T, c *Card) string {
	t.Helper()
	v, _ := c.Store().Get("t/obj")
	return string(v)
}

func format(t *testing.T, c *Card) int {
	t.Helper()
	v, err := ReadStateFormat(c.Store())
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestStateFormatOne: a card at format 1 (no applet migrates) writes no
// version record and nothing at power-on beyond its factory state, so every
// state written before the version existed is what it writes today.
func TestStateFormatOne(t *testing.T) {
	c, tm, err := withState(t, nil, testApplet{})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.StateFormat(); got != 1 {
		t.Errorf("StateFormat() = %d, want 1", got)
	}
	if _, err := c.PowerOn(); err != nil {
		t.Fatal(err)
	}
	saves := tm.Saves()
	if _, err := c.PowerOn(); err != nil {
		t.Fatal(err)
	}
	if tm.Saves() != saves {
		t.Errorf("second power-on made %d writes, want none", tm.Saves()-saves)
	}
	if _, ok := c.Store().Get(formatKey); ok {
		t.Errorf("a format-1 card wrote %s", formatKey)
	}
	if got := format(t, c); got != 1 {
		t.Errorf("ReadStateFormat() = %d, want 1", got)
	}
}

// TestMigrationRunsOnce: a state of version 1 opened by a card of version
// 3 is migrated step by step, in version order, each migration once, the
// version recorded; later power-ons migrate nothing.
func TestMigrationRunsOnce(t *testing.T) {
	old := stateOf(t, testApplet{})
	var runs2, runs3 int
	a := migratingApplet{migs: []Migration{prefixObj(2, "v3", &runs3), prefixObj(1, "v2", &runs2)}}
	c, tm, err := withState(t, old, a)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.StateFormat(); got != 3 {
		t.Fatalf("StateFormat() = %d, want 3", got)
	}
	if _, err := c.PowerOn(); err != nil {
		t.Fatal(err)
	}
	if got, want := obj(t, c), "v3:v2:factory"; got != want {
		t.Errorf("t/obj = %q, want %q", got, want)
	}
	if got := format(t, c); got != 3 {
		t.Errorf("format after migration = %d, want 3", got)
	}
	if tm.Saves() != 2 {
		t.Errorf("migration made %d writes, want 2 (one per step)", tm.Saves())
	}
	for range 2 {
		if _, err := c.PowerOn(); err != nil {
			t.Fatal(err)
		}
	}
	if runs2 != 1 || runs3 != 1 || obj(t, c) != "v3:v2:factory" || tm.Saves() != 2 {
		t.Errorf("after two more power-ons: runs %d and %d, t/obj %q, %d writes; want 1, 1, unchanged, 2", runs2, runs3, obj(t, c), tm.Saves())
	}
}

// TestMigrationTear cuts the power after every write of the first power-on
// of an old state: the card powers on afterwards, and ends migrated exactly
// once, as if never cut.
func TestMigrationTear(t *testing.T) {
	old := stateOf(t, testApplet{})
	var runs int
	a := migratingApplet{migs: []Migration{prefixObj(1, "v2", &runs), prefixObj(2, "v3", &runs)}}
	c, tm, err := withState(t, old, a)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.PowerOn(); err != nil {
		t.Fatal(err)
	}
	writes, want := tm.Saves(), recordsOf(c)
	for cut := 0; cut < writes; cut++ {
		c, tm, err := withState(t, old, a)
		if err != nil {
			t.Fatal(err)
		}
		tm.CutAfter(cut)
		if _, err := c.PowerOn(); !errors.Is(err, nvm.ErrPowerLost) {
			t.Fatalf("cut after %d of %d writes: PowerOn() error = %v, want ErrPowerLost", cut, writes, err)
		}
		tm.Restore()
		if _, err := c.PowerOn(); err != nil {
			t.Fatalf("cut after %d: power on again: %v", cut, err)
		}
		if got := recordsOf(c); got != want {
			t.Errorf("cut after %d of %d writes: records\n%s\nwant\n%s", cut, writes, got, want)
		}
	}
}

func recordsOf(c *Card) string {
	var b strings.Builder
	for _, k := range c.Store().Keys("") {
		v, _ := c.Store().Get(k)
		b.WriteString(k + "=" + string(v) + "\n")
	}
	return b.String()
}

// TestStateFormatBlank: a blank store is at the card's newest format: it
// is marked with it and never migrated.
func TestStateFormatBlank(t *testing.T) {
	var runs int
	c, _, err := withState(t, nil, migratingApplet{migs: []Migration{prefixObj(1, "v2", &runs)}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.PowerOn(); err != nil {
		t.Fatal(err)
	}
	if runs != 0 || obj(t, c) != "factory" || format(t, c) != 2 {
		t.Errorf("blank card: %d migrations, t/obj %q, format %d; want 0, factory, 2", runs, obj(t, c), format(t, c))
	}
}

// TestStateFormatNewerRefused: a state of a newer format than the card
// knows is refused by New and PowerOn, saying so, and left as it is.
func TestStateFormatNewerRefused(t *testing.T) {
	var runs int
	newer := stateOf(t, migratingApplet{migs: []Migration{prefixObj(1, "v2", &runs), prefixObj(2, "v3", &runs)}})
	for _, tt := range []struct {
		name    string
		applets []Applet
		reads   string
	}{
		{"format 1", []Applet{testApplet{}}, "versions 1 to 1"},
		{"format 2", []Applet{migratingApplet{migs: []Migration{prefixObj(1, "v2", &runs)}}}, "versions 1 to 2"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := withState(t, newer, tt.applets...)
			if !errors.Is(err, ErrStateFormat) || !strings.Contains(err.Error(), "version 3") || !strings.Contains(err.Error(), tt.reads) {
				t.Errorf("New() error = %v, want ErrStateFormat naming version 3 and %q", err, tt.reads)
			}
			// A card made before the state was replaced refuses it at power-on.
			m := &nvm.Memory{}
			cfg := testConfig(m)
			cfg.Applets = tt.applets
			c, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if err := m.Save(newer); err != nil {
				t.Fatal(err)
			}
			if _, err := c.PowerOn(); !errors.Is(err, ErrStateFormat) {
				t.Errorf("PowerOn() error = %v, want ErrStateFormat", err)
			}
			if c.Powered() {
				t.Error("card powered on a state it refused")
			}
			if got, _ := m.Load(); string(got) != string(newer) {
				t.Error("the refused state was changed")
			}
		})
	}
}

// TestStateFormatBadRecord: a damaged version record is a corrupt state;
// a migration without a From version or an Apply is a configuration error.
func TestStateFormatBadRecord(t *testing.T) {
	for _, rec := range [][]byte{{2}, {0, 0, 0, 0}, binary.BigEndian.AppendUint32(nil, 1<<24)} {
		img, err := nvm.EncodeImage(nvm.Image{Generation: 1, Records: map[string][]byte{formatKey: rec, "t/obj": []byte("x")}})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := withState(t, img, testApplet{}); !errors.Is(err, nvm.ErrCorrupt) || !strings.Contains(err.Error(), formatKey) {
			t.Errorf("version record % X: New() error = %v, want ErrCorrupt naming %s", rec, err, formatKey)
		}
	}
	for _, m := range []Migration{{From: 0, Name: "zero", Apply: func(*Context, *nvm.Tx) error { return nil }}, {From: 1, Name: "no apply"}} {
		if _, _, err := withState(t, nil, migratingApplet{migs: []Migration{m}}); err == nil || !strings.Contains(err.Error(), m.Name) {
			t.Errorf("migration %q: New() error = %v, want one naming it", m.Name, err)
		}
	}
}

// TestMigrationFails: a migration's error stops the power-on and leaves
// the old state.
func TestMigrationFails(t *testing.T) {
	old := stateOf(t, testApplet{})
	boom := errors.New("boom")
	a := migratingApplet{migs: []Migration{{From: 1, Name: "failing", Apply: func(env *Context, tx *nvm.Tx) error {
		tx.Put("t/obj", []byte("half"))
		return boom
	}}}}
	c, tm, err := withState(t, old, a)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.PowerOn(); !errors.Is(err, boom) || !strings.Contains(err.Error(), "failing") {
		t.Errorf("PowerOn() error = %v, want the migration's error, naming it", err)
	}
	if got, _ := tm.Load(); string(got) != string(old) || tm.Saves() != 0 {
		t.Errorf("the failed migration changed the state (%d writes)", tm.Saves())
	}
}
