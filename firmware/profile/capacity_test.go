package profile

import (
	"fmt"
	"strings"
	"testing"

	"github.com/tesseracard/tessera/firmware/nvm"
)

// TestMaxCapacityIsTheCardOS: the limit profiles are checked against is the
// one the card OS applies.
func TestMaxCapacityIsTheCardOS(t *testing.T) {
	if MaxCapacity != nvm.MaxCapacity {
		t.Errorf("profile.MaxCapacity = %d, nvm.MaxCapacity = %d: want them equal", MaxCapacity, nvm.MaxCapacity)
	}
}

func TestParseCapacity(t *testing.T) {
	tests := []struct {
		capacity int
		wantErr  string // "": valid
	}{
		{0, ""}, // the card OS's limit
		{512 << 10, ""},
		{MaxCapacity, ""},
		{MaxCapacity + 1, fmt.Sprintf("capacity: %d bytes, over the card's limit of %d", MaxCapacity+1, MaxCapacity)},
		{64 << 20, "capacity: 67108864 bytes, over the card's limit of 2097152"},
		{-1, "capacity and max_command must not be negative"},
	}
	for _, tt := range tests {
		p, err := Parse(fmt.Appendf(nil, "name: x\ncapacity: %d\n", tt.capacity))
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("capacity %d: Parse() error = %v", tt.capacity, err)
		case tt.wantErr == "" && p.Capacity != tt.capacity:
			t.Errorf("capacity %d: Parse().Capacity = %d", tt.capacity, p.Capacity)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("capacity %d: Parse() error = %v, want one saying %q", tt.capacity, err, tt.wantErr)
		}
	}
}
