package pcsc

import (
	"errors"
	"strings"
	"testing"
)

// A build without cgo says it has no PC/SC and how to get a binary that
// has: on a Mac for macOS, with libpcsclite's headers elsewhere.
func TestNoCgoError(t *testing.T) {
	for _, tt := range []struct{ goos, want string }{
		{"darwin", "build it on a Mac"},
		{"linux", "libpcsclite"},
		{"freebsd", "libpcsclite"},
	} {
		err := errNoCgo(tt.goos)
		if !errors.Is(err, errors.ErrUnsupported) {
			t.Errorf("errNoCgo(%q) = %v, want errors.ErrUnsupported", tt.goos, err)
		}
		for _, want := range []string{tt.goos, "without cgo", tt.want, "CGO_ENABLED=1"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("errNoCgo(%q) = %v, want it to say %q", tt.goos, err, want)
			}
		}
	}
}
