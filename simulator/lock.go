package simulator

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/tesseracard/tessera/firmware/nvm"
)

// ErrStateLocked is returned (wrapped) by New when another simulator, in
// this process or another, uses the state directory. The error names the
// directory and the holder's process id.
var ErrStateLocked = errors.New("simulator: state directory in use")

// stateLockName is the state directory's lock file. The simulator holds it
// for its whole life; it records the holder's process id, for the error a
// second simulator gets. The lock dies with its process (kill -9 included):
// a lock file left behind blocks nobody.
const stateLockName = ".lock"

// lockStateDir takes the state directory's lock.
func lockStateDir(dir string) (*nvm.Lock, error) {
	l, err := nvm.AcquireLock(filepath.Join(dir, stateLockName))
	var held *nvm.LockedError
	if errors.As(err, &held) {
		who := "another process"
		if held.PID != 0 {
			who = fmt.Sprintf("process %d", held.PID)
		}
		return nil, fmt.Errorf("%w: %s is used by %s (lock file %s): stop that simulator or use another state directory", ErrStateLocked, dir, who, held.Path)
	}
	if err != nil {
		return nil, fmt.Errorf("locking state directory %s: %w", dir, err)
	}
	return l, nil
}
