//go:build !(darwin || dragonfly || freebsd || linux || netbsd || openbsd || windows)

package nvm

import (
	"errors"
	"fmt"
	"os"
	"runtime"
)

// lockFD fails: this platform has no file lock this package knows, and a
// state file that two processes could write at once is not offered.
func lockFD(*os.File) error {
	return fmt.Errorf("locking: %w: no file locks on %s", errors.ErrUnsupported, runtime.GOOS)
}

func unlockFD(*os.File) error { return nil }
