package pin

import (
	"errors"
	"testing"

	"github.com/tesseracard/tessera/firmware/nvm"
)

// TestQuirks: each try-counter quirk misbehaves as its name says, and only
// then. A wrong value: how many writes it makes, and the counter after it;
// then, cutting power after each write of a wrong attempt, the highest
// counter left once the decrement had already been written (a free try when
// it is back at 3).
func TestQuirks(t *testing.T) {
	tests := []struct {
		name       string
		q          Quirks
		writes     int
		triesAfter int
		freeTry    bool
	}{
		{"correct", Quirks{}, 1, 2, false},
		{"no-decrement", Quirks{NoDecrement: true}, 0, 3, false},
		{"restore-before-compare", Quirks{RestoreBeforeCompare: true}, 3, 2, true},
	}
	for _, tt := range tests {
		tm, _, p, _ := newObjects(t)
		p.WithQuirks(tt.q)
		before := tm.Saves()
		var we *WrongError
		if err := p.Verify([]byte("000000")); !errors.As(err, &we) {
			t.Fatalf("%s: Verify(wrong) = %v, want a WrongError", tt.name, err)
		}
		if got := tm.Saves() - before; got != tt.writes {
			t.Errorf("%s: a wrong try made %d writes, want %d", tt.name, got, tt.writes)
		}
		if got := tries(t, p); got != tt.triesAfter || we.Retries != tt.triesAfter {
			t.Errorf("%s: %d tries left (answered %d), want %d", tt.name, got, we.Retries, tt.triesAfter)
		}
		if err := p.Verify([]byte("123456")); err != nil || tries(t, p) != 3 {
			t.Errorf("%s: Verify(right) = %v with %d tries left, want nil and 3", tt.name, err, tries(t, p))
		}

		free := false
		for cut := 1; cut < tt.writes; cut++ {
			tm, _, p, _ := newObjects(t)
			p.WithQuirks(tt.q)
			tm.CutAfter(cut)
			if err := p.Verify([]byte("000000")); !errors.Is(err, nvm.ErrPowerLost) {
				t.Fatalf("%s, cut after %d: %v, want ErrPowerLost", tt.name, cut, err)
			}
			tm.Restore()
			s, err := nvm.Open(tm, nvm.Options{})
			if err != nil {
				t.Fatal(err)
			}
			free = free || tries(t, New(s, "pin")) == 3
		}
		if free != tt.freeTry {
			t.Errorf("%s: a power cut during the compare gives a free try = %v, want %v", tt.name, free, tt.freeTry)
		}
	}
}
