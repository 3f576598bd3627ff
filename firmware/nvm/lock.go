package nvm

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// ErrLocked is matched (errors.Is) by the *LockedError that AcquireLock and
// OpenFile return when another process holds the lock.
var ErrLocked = errors.New("in use by another process")

// LockedError says who holds a lock: AcquireLock and OpenFile return it
// (OpenFile wrapped, naming the state file) when another process, or
// another open File or Lock of this process, holds it. It matches ErrLocked.
type LockedError struct {
	// Path is the lock file; for a state file locked by an older Tessera,
	// which took no lock file, the state file itself.
	Path string
	// PID is the holder's process id as it recorded it in the lock file;
	// 0 when unknown.
	PID int
}

func (e *LockedError) Error() string {
	if e.PID == 0 {
		return fmt.Sprintf("in use by another process (it holds the lock on %s)", e.Path)
	}
	return fmt.Sprintf("in use by process %d (it holds the lock on %s)", e.PID, e.Path)
}

// Is reports whether target is ErrLocked.
func (e *LockedError) Is(target error) bool { return target == ErrLocked }

// Lock is an exclusive lock on a lock file, held from AcquireLock to
// Release. The operating system drops it when its process ends, however it
// ends (kill -9, a crash): a lock file left behind by a dead process never
// blocks anyone, and the process id written in it is only informative.
type Lock struct {
	path string
	f    *os.File
}

// AcquireLock takes the lock on the file at path, creating the file (mode
// 0600) if missing, and writes this process's id into it. It does not wait:
// when the lock is held it returns a *LockedError naming the holder's
// process id. Other errors (a missing directory, a platform without file
// locks, which wraps errors.ErrUnsupported) name the file.
func AcquireLock(path string) (*Lock, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("nvm: opening lock file: %w", err)
	}
	if err := lockFD(f); err != nil {
		f.Close()
		if errors.Is(err, ErrLocked) {
			return nil, &LockedError{Path: path, PID: readPID(path)}
		}
		return nil, fmt.Errorf("nvm: lock file %s: %w", path, err)
	}
	// Informative only: a reader may see it empty or half written.
	pid := []byte(strconv.Itoa(os.Getpid()) + "\n")
	if err := f.Truncate(0); err == nil {
		f.WriteAt(pid, 0)
	}
	return &Lock{path: path, f: f}, nil
}

// readPID returns the process id recorded in the lock file at path, or 0.
func readPID(path string) int {
	b, err := os.ReadFile(path)
	if err != nil || len(b) > 32 {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0
	}
	return pid
}

// Path returns the lock file's path.
func (l *Lock) Path() string { return l.path }

// Release releases the lock. The lock file stays: were it removed, a
// process that had just opened it could lock a file that no longer has a
// name while a third creates and locks a new one. Releasing twice is
// harmless.
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	l.f.Truncate(0) // no stale process id for the next reader
	uerr := unlockFD(l.f)
	cerr := l.f.Close()
	l.f = nil
	if err := errors.Join(uerr, cerr); err != nil {
		return fmt.Errorf("nvm: releasing lock file %s: %w", l.path, err)
	}
	return nil
}
