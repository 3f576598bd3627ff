//go:build !cgo && !windows

package pcsc

import (
	"errors"
	"runtime"
	"testing"
)

// Establish in a build without cgo (CGO_ENABLED=0 go test) fails with
// errNoCgo before touching anything; `make cross` runs this test.
func TestEstablishWithoutCgo(t *testing.T) {
	c, err := Establish()
	if err == nil {
		c.Release()
		t.Fatal("Establish() without cgo = nil error, want errors.ErrUnsupported")
	}
	if !errors.Is(err, errors.ErrUnsupported) || err.Error() != errNoCgo(runtime.GOOS).Error() {
		t.Errorf("Establish() = %v, want %v", err, errNoCgo(runtime.GOOS))
	}
}
