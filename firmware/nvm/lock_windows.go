//go:build windows

package nvm

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"unsafe"
)

// LockFileEx and UnlockFileEx (Win32 fileapi.h) are called in kernel32
// directly: this package imports the standard library only.
const (
	lockfileFailImmediately = 0x1
	lockfileExclusiveLock   = 0x2
	// errorLockViolation is ERROR_LOCK_VIOLATION.
	errorLockViolation syscall.Errno = 33
	// lockOffsetHigh places the one locked byte at 2^62, far past any data:
	// Windows byte-range locks are mandatory, and a lock on the data would
	// stop others reading the holder's process id.
	lockOffsetHigh = 1 << 30
)

// lockFD locks one byte of f exclusively without waiting; ErrLocked if
// another handle holds it (one in this process included).
func lockFD(f *os.File) error {
	err := callKernel32(f, "LockFileEx", func(p *syscall.LazyProc, h uintptr, ol *syscall.Overlapped) (uintptr, error) {
		r, _, err := p.Call(h, lockfileExclusiveLock|lockfileFailImmediately, 0, 1, 0, uintptr(unsafe.Pointer(ol)))
		return r, err
	})
	if errors.Is(err, errorLockViolation) {
		return ErrLocked
	}
	return err
}

func unlockFD(f *os.File) error {
	return callKernel32(f, "UnlockFileEx", func(p *syscall.LazyProc, h uintptr, ol *syscall.Overlapped) (uintptr, error) {
		r, _, err := p.Call(h, 0, 1, 0, uintptr(unsafe.Pointer(ol)))
		return r, err
	})
}

// callKernel32 calls the kernel32 procedure name through call with f's
// handle and an OVERLAPPED that addresses the lock byte; call returns the
// procedure's result (0: failure) and its error.
func callKernel32(f *os.File, name string, call func(p *syscall.LazyProc, h uintptr, ol *syscall.Overlapped) (uintptr, error)) error {
	proc := syscall.NewLazyDLL("kernel32.dll").NewProc(name)
	if err := proc.Find(); err != nil {
		return fmt.Errorf("locking: %w", err)
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return fmt.Errorf("locking: %w", err)
	}
	var r uintptr
	var callErr error
	if err := rc.Control(func(h uintptr) {
		ol := syscall.Overlapped{OffsetHigh: lockOffsetHigh}
		r, callErr = call(proc, h, &ol)
	}); err != nil {
		return fmt.Errorf("locking: %w", err)
	}
	if r == 0 {
		return fmt.Errorf("locking: %s: %w", name, callErr)
	}
	return nil
}
