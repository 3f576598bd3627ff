//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package nvm

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// lockFD takes an exclusive flock(2) on f without waiting; ErrLocked if
// another open file holds it. flock belongs to the open file, so a second
// open of the same file in this process is refused too.
func lockFD(f *os.File) error {
	return flock(f, syscall.LOCK_EX|syscall.LOCK_NB)
}

func unlockFD(f *os.File) error {
	return flock(f, syscall.LOCK_UN)
}

func flock(f *os.File, how int) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return fmt.Errorf("locking: %w", err)
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) { ferr = syscall.Flock(int(fd), how) }); err != nil {
		return fmt.Errorf("locking: %w", err)
	}
	if errors.Is(ferr, syscall.EWOULDBLOCK) {
		return ErrLocked
	}
	if ferr != nil {
		return fmt.Errorf("locking: %w", ferr)
	}
	return nil
}
