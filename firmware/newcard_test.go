package firmware

import (
	"slices"
	"testing"

	"github.com/tesseracard/tessera/firmware/nvm"
)

// bootRecorder records Context.NewCard at each Boot, and writes a record
// at its first, as an application installing its factory state does.
type bootRecorder struct {
	testApplet
	seen *[]bool
}

func (b bootRecorder) Boot(env *Context) error {
	*b.seen = append(*b.seen, env.NewCard)
	return env.Store.Put("b/booted", []byte{1})
}

// TestContextNewCard: applets boot with NewCard on a blank store only,
// never on a store that holds records, and calls after boot never see it.
func TestContextNewCard(t *testing.T) {
	var seen []bool
	cfg := testConfig(nvm.NewTearable(&nvm.Memory{}))
	cfg.Applets = []Applet{bootRecorder{seen: &seen}, bootRecorder{seen: &seen}}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := c.PowerOn(); err != nil {
			t.Fatal(err)
		}
	}
	if want := []bool{true, true, false, false}; !slices.Equal(seen, want) {
		t.Errorf("NewCard at each boot = %v, want %v", seen, want)
	}
	if c.context(0).NewCard {
		t.Errorf("NewCard set after boot")
	}
}
