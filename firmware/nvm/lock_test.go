package nvm

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

const lockChildEnv = "TESSERA_NVM_LOCK_CHILD"

func TestAcquireLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), ".lock")
	l, err := AcquireLock(path)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); strings.TrimSpace(string(b)) != strconv.Itoa(os.Getpid()) {
		t.Errorf("lock file holds %q, want this process's id %d", b, os.Getpid())
	}
	_, err = AcquireLock(path)
	var le *LockedError
	if !errors.As(err, &le) || !errors.Is(err, ErrLocked) || le.PID != os.Getpid() || le.Path != path {
		t.Fatalf("second AcquireLock error = %v, want a LockedError for %s by pid %d", err, path, os.Getpid())
	}
	if want := fmt.Sprintf("in use by process %d (it holds the lock on %s)", os.Getpid(), path); err.Error() != want {
		t.Errorf("error = %q, want %q", err, want)
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	if err := l.Release(); err != nil {
		t.Errorf("second Release() = %v, want nil", err)
	}
	l2, err := AcquireLock(path)
	if err != nil {
		t.Fatalf("AcquireLock after Release: %v", err)
	}
	l2.Release()
	if _, err := AcquireLock(filepath.Join(t.TempDir(), "no", "dir", ".lock")); err == nil || errors.Is(err, ErrLocked) {
		t.Errorf("AcquireLock in a missing directory: error = %v, want a plain error", err)
	}
}

// TestLockHeldByAnotherProcess: a child process takes the lock; the parent
// is refused with the child's pid; once the child is killed (kill -9), the
// lock file it leaves, which still names it, blocks nobody.
func TestLockHeldByAnotherProcess(t *testing.T) {
	if path := os.Getenv(lockChildEnv); path != "" {
		if _, err := AcquireLock(path); err != nil {
			fmt.Println(err)
			os.Exit(2)
		}
		fmt.Println("locked")
		time.Sleep(time.Minute) // holding it until killed; a minute at most if the parent dies
		os.Exit(0)
	}
	path := filepath.Join(t.TempDir(), ".lock")
	cmd := exec.Command(os.Args[0], "-test.run=^TestLockHeldByAnotherProcess$")
	cmd.Env = append(os.Environ(), lockChildEnv+"="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer cmd.Process.Kill()
	if line, _ := bufio.NewReader(out).ReadString('\n'); line != "locked\n" {
		t.Fatalf("child: %q, want locked", line)
	}
	_, err = AcquireLock(path)
	var le *LockedError
	if !errors.As(err, &le) || le.PID != cmd.Process.Pid {
		t.Fatalf("AcquireLock while the child holds it: error = %v, want a LockedError naming pid %d", err, cmd.Process.Pid)
	}
	cmd.Process.Kill()
	cmd.Wait()
	if b, _ := os.ReadFile(path); strings.TrimSpace(string(b)) != strconv.Itoa(cmd.Process.Pid) {
		t.Fatalf("the dead child's lock file holds %q, want its pid %d (a stale lock file)", b, cmd.Process.Pid)
	}
	l, err := AcquireLock(path)
	if err != nil {
		t.Fatalf("AcquireLock after the holder died: %v", err)
	}
	l.Release()
}
