package firmware

import (
	"testing"
	"time"
)

// TestTouchCached: a touch holds from the moment it was given for less than
// TouchGrace; none given, one in the future (the clock set back), or one
// TouchGrace old holds nothing.
func TestTouchCached(t *testing.T) {
	at := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		name string
		last time.Time
		now  time.Time
		want bool
	}{
		{"none given", time.Time{}, at, false},
		{"at once", at, at, true},
		{"just inside", at, at.Add(TouchGrace - time.Nanosecond), true},
		{"at the grace", at, at.Add(TouchGrace), false},
		{"long after", at, at.Add(time.Hour), false},
		{"clock set back", at, at.Add(-time.Second), false},
	} {
		if got := TouchCached(tt.last, tt.now); got != tt.want {
			t.Errorf("%s: TouchCached = %v, want %v", tt.name, got, tt.want)
		}
	}
}
