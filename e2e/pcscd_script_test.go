//go:build e2e

package e2e

import (
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/tesseracard/tessera/internal/hosttest"
)

// The review of scripts/pcscd.sh as root (docs/security.md, "The scripts
// run as root"): each test here failed before its fix.

// unsafeInstance is the pcscd instance (vpcd ports 35973 and 35974) the
// tests of scripts/pcscd.sh's refusals name: none of them may start it.
const unsafeInstance = "5"

// TestPCSCDScriptUnsafeRunDir: scripts/pcscd.sh, run by root, refuses a
// TESSERA_RUN_DIR another user could change (owned by another user,
// writable by others without the sticky bit, or reached through a symlink
// into such a place): that user could plant a pid file there that makes
// root's stop kill a pcscd it did not start (here a stand-in named pcscd),
// or redirect the pid file, log and reader.conf root writes. start,
// stop-instance and stop all refuse, naming the directory; nothing is
// killed, written or removed.
func TestPCSCDScriptUnsafeRunDir(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("this test runs scripts/pcscd.sh as root, as make run and make test do: run the e2e tests as root")
	}
	const nobody = 65534
	tests := []struct {
		name    string
		arrange func(t *testing.T) (run, unsafe string)
	}{
		{"owned by another user", func(t *testing.T) (string, string) {
			run := t.TempDir()
			if err := os.Chown(run, nobody, nobody); err != nil {
				t.Fatal(err)
			}
			return run, run
		}},
		{"anyone may write it", func(t *testing.T) (string, string) {
			run := t.TempDir()
			mkdirMode(t, run, 0o777)
			return run, run
		}},
		{"a symlink into another user's directory", func(t *testing.T) (string, string) {
			theirs := filepath.Join(t.TempDir(), "theirs")
			mkdirMode(t, theirs, 0o755)
			if err := os.Chown(theirs, nobody, nobody); err != nil {
				t.Fatal(err)
			}
			run := filepath.Join(t.TempDir(), "run")
			if err := os.Symlink(theirs, run); err != nil {
				t.Fatal(err)
			}
			return run, theirs
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			run, unsafe := tt.arrange(t)
			victim := fakePCSCD(t)
			pf := filepath.Join(run, "pcscd-"+unsafeInstance+".pid")
			writePidFile(t, pf, victim)
			env := []string{"TESSERA_RUN_DIR=" + run}
			for _, args := range [][]string{{"stop-instance", unsafeInstance}, {"stop"}, {"start-instance", unsafeInstance}} {
				out, code := pcscdScript(t, nil, env, args...)
				if code == 0 && args[0] == "start-instance" {
					// Started after all: stop what it recorded.
					defer pcscdScript(t, nil, env, "stop-instance", unsafeInstance)
				}
				if code == 0 || !strings.Contains(out, unsafe+": ") || !strings.Contains(out, "another user") {
					t.Errorf("scripts/pcscd.sh %s with TESSERA_RUN_DIR %s: exit %d, want non-zero and an error naming %s and another user\n%s", strings.Join(args, " "), run, code, unsafe, out)
				}
				if !processAlive(victim.Process.Pid) {
					t.Fatalf("scripts/pcscd.sh %s killed pid %d, which a pid file in %s named and which it did not start", strings.Join(args, " "), victim.Process.Pid, unsafe)
				}
			}
			ents, err := os.ReadDir(unsafe)
			if err != nil || len(ents) != 1 || ents[0].Name() != filepath.Base(pf) {
				t.Errorf("scripts/pcscd.sh changed %s: now %v (%v), want the planted pid file alone", unsafe, ents, err)
			}
		})
	}
}

// fakePCSCD starts a process named pcscd (a copy of sleep) that no script
// started, and kills it at the end of the test.
func fakePCSCD(t *testing.T) *exec.Cmd {
	t.Helper()
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(sleep)
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "pcscd")
	if err := os.WriteFile(bin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "600")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	return cmd
}

// writePidFile writes a pid file naming cmd's process as scripts/pcscd.sh
// writes its own.
func writePidFile(t *testing.T, path string, cmd *exec.Cmd) {
	t.Helper()
	if err := os.WriteFile(path, []byte(strconv.Itoa(cmd.Process.Pid)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// processAlive reports whether pid runs (and is not a zombie).
func processAlive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && s[i+2] != 'Z' && s[i+2] != 'X'
}

// pcscdScript runs scripts/pcscd.sh as the user cred (nil: the test's),
// env added to the test's environment, and returns its output (stdout and
// stderr) and exit code.
func pcscdScript(t testing.TB, cred *syscall.Credential, env []string, args ...string) (string, int) {
	t.Helper()
	return runScript(t, "pcscd.sh", cred, env, args...)
}

// runScript runs scripts/NAME with args as the user cred (nil: the test's),
// env added to the test's environment, and returns its output (stdout and
// stderr) and exit code.
func runScript(t testing.TB, name string, cred *syscall.Credential, env []string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command("bash", append([]string{filepath.Join(e2e.root, "scripts", name)}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		return string(out), exit.ExitCode()
	case err != nil:
		t.Fatalf("running scripts/%s %s: %v", name, strings.Join(args, " "), err)
	}
	return string(out), 0
}

// TestScriptsStopOnlyTheirOwn: scripts/pcscd.sh and scripts/ifd.sh stop
// only the process they started. A pid file whose pcscd exited may name,
// by the time stop runs, a process the kernel gave that pid since (another
// pcscd, the machine's say; here a stand-in named pcscd): a pid alone does
// not say which process it was. stop leaves such a process alone, says so,
// and forgets the pid file.
func TestScriptsStopOnlyTheirOwn(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("this test runs the scripts as root, as make run and make test do: run the e2e tests as root")
	}
	tests := []struct {
		name    string
		script  string
		pidfile string
		args    []string
		content func(pid int) string
	}{
		{"pcscd.sh, the pid alone", "pcscd.sh", "pcscd-" + unsafeInstance + ".pid", []string{"stop-instance", unsafeInstance},
			func(pid int) string { return strconv.Itoa(pid) + "\n" }},
		{"pcscd.sh, another start time", "pcscd.sh", "pcscd-" + unsafeInstance + ".pid", []string{"stop-instance", unsafeInstance},
			func(pid int) string {
				return strconv.Itoa(pid) + " " + strconv.FormatUint(startTime(t, pid)-1, 10) + "\n"
			}},
		{"pcscd.sh stop, another start time", "pcscd.sh", "pcscd-" + unsafeInstance + ".pid", []string{"stop"},
			func(pid int) string { return strconv.Itoa(pid) + " 1\n" }},
		{"ifd.sh, the pid alone", "ifd.sh", "ifd-pcscd.pid", []string{"stop"},
			func(pid int) string { return strconv.Itoa(pid) + "\n" }},
		{"ifd.sh, another start time", "ifd.sh", "ifd-pcscd.pid", []string{"stop"},
			func(pid int) string {
				return strconv.Itoa(pid) + " " + strconv.FormatUint(startTime(t, pid)+1, 10) + "\n"
			}},
		{"pcscd.sh, a pid of -1", "pcscd.sh", "pcscd-" + unsafeInstance + ".pid", []string{"stop-instance", unsafeInstance},
			func(int) string { return "-1 1\n" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			run := t.TempDir()
			victim := fakePCSCD(t)
			pf := filepath.Join(run, tt.pidfile)
			if err := os.WriteFile(pf, []byte(tt.content(victim.Process.Pid)), 0o644); err != nil {
				t.Fatal(err)
			}
			out, code := runScript(t, tt.script, nil, []string{"TESSERA_RUN_DIR=" + run}, tt.args...)
			if !processAlive(victim.Process.Pid) {
				t.Fatalf("scripts/%s %s killed pid %d, a process named pcscd it did not start\n%s", tt.script, strings.Join(tt.args, " "), victim.Process.Pid, out)
			}
			if code != 0 || !strings.Contains(out, "not running any more") || strings.Contains(out, ": stopped ") {
				t.Errorf("scripts/%s %s: exit %d, want 0 and that the recorded pcscd is not running any more, nothing stopped\n%s", tt.script, strings.Join(tt.args, " "), code, out)
			}
			if _, err := os.Stat(pf); !os.IsNotExist(err) {
				t.Errorf("after scripts/%s %s, %s: %v, want it removed", tt.script, strings.Join(tt.args, " "), pf, err)
			}
		})
	}
}

// startTime is pid's start time, field 22 of /proc/PID/stat.
func startTime(t *testing.T, pid int) uint64 {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	n, err := strconv.ParseUint(f[19], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestPCSCDScriptStartStop: what scripts/pcscd.sh start-instance starts,
// it records with its start time, and stop-instance stops it.
func TestPCSCDScriptStartStop(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("this test starts pcscd through scripts/pcscd.sh, which needs root: run the e2e tests as root")
	}
	env := []string{"TESSERA_RUN_DIR=" + hosttest.ShortDir(t)}
	out, code := pcscdScript(t, nil, env, "start-instance", unsafeInstance)
	last := strings.Fields(out[strings.LastIndex(strings.TrimSpace(out), "\n")+1:])
	if code != 0 || len(last) != 2 || last[0] != "started" {
		pcscdScript(t, nil, env, "stop-instance", unsafeInstance)
		t.Fatalf("scripts/pcscd.sh start-instance %s: exit %d, want 0 and \"started PID\" last\n%s", unsafeInstance, code, out)
	}
	pid, err := strconv.Atoi(last[1])
	if err != nil {
		t.Fatal(err)
	}
	if !processAlive(pid) {
		t.Fatalf("scripts/pcscd.sh start-instance said started %d, which is not running\n%s", pid, out)
	}
	out, code = pcscdScript(t, nil, env, "stop-instance", unsafeInstance)
	if code != 0 || !strings.Contains(out, "stopped pcscd instance "+unsafeInstance+" (pid "+last[1]+")") {
		t.Errorf("scripts/pcscd.sh stop-instance %s: exit %d, want 0 and that it stopped pid %d\n%s", unsafeInstance, code, pid, out)
	}
	if processAlive(pid) {
		t.Errorf("after scripts/pcscd.sh stop-instance %s, pid %d (the pcscd it started) still runs", unsafeInstance, pid)
	}
}

// TestScriptsKeepAListenedSocket: scripts/pcscd.sh and scripts/ifd.sh
// never remove a pcscd socket some process listens on (here the test's own
// listener, as systemd's pcscd.socket holds the machine's): start refuses
// to start a second pcscd over it, and stop, whose recorded pcscd is gone,
// leaves it. Removing it cut that process off from its clients.
func TestScriptsKeepAListenedSocket(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("this test runs the scripts as root, as make run and make test do: run the e2e tests as root")
	}
	tests := []struct {
		script, sock, pidfile string
		args                  []string
	}{
		{"pcscd.sh", "pcscd-" + unsafeInstance + "/pcscd.comm", "pcscd-" + unsafeInstance + ".pid", []string{"start-instance", unsafeInstance}},
		{"pcscd.sh", "pcscd-" + unsafeInstance + "/pcscd.comm", "pcscd-" + unsafeInstance + ".pid", []string{"stop-instance", unsafeInstance}},
		{"ifd.sh", "ifd-pcscd/pcscd.comm", "ifd-pcscd.pid", []string{"start", "Tessera Listened"}},
		{"ifd.sh", "ifd-pcscd/pcscd.comm", "ifd-pcscd.pid", []string{"stop"}},
	}
	for _, tt := range tests {
		t.Run(tt.script+" "+tt.args[0], func(t *testing.T) {
			run := hosttest.ShortDir(t)
			env := []string{"TESSERA_RUN_DIR=" + run}
			sock := filepath.Join(run, tt.sock)
			if err := os.MkdirAll(filepath.Dir(sock), 0o755); err != nil {
				t.Fatal(err)
			}
			ln, err := net.Listen("unix", sock)
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			go func() { // answer opensc-tool's connections by hanging up
				for {
					c, err := ln.Accept()
					if err != nil {
						return
					}
					c.Close()
				}
			}()
			start := strings.HasPrefix(tt.args[0], "start")
			if !start {
				// The pcscd it recorded has exited (a start time that is no
				// process's).
				if err := os.WriteFile(filepath.Join(run, tt.pidfile), []byte("999999 1\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			out, code := runScript(t, tt.script, nil, env, tt.args...)
			if start {
				if code == 0 {
					stop := []string{"stop"}
					if tt.script == "pcscd.sh" {
						stop = []string{"stop-instance", unsafeInstance}
					}
					defer runScript(t, tt.script, nil, env, stop...)
				}
				if code == 0 || !strings.Contains(out, sock+": a process listens on it") {
					t.Errorf("scripts/%s %s beside a listener on %s: exit %d, want non-zero and an error naming the socket\n%s", tt.script, strings.Join(tt.args, " "), sock, code, out)
				}
			} else if code != 0 || !strings.Contains(out, "left "+sock) {
				t.Errorf("scripts/%s %s beside a listener on %s: exit %d, want 0 and that it left the socket\n%s", tt.script, strings.Join(tt.args, " "), sock, code, out)
			}
			if fi, err := os.Lstat(sock); err != nil || fi.Mode().Type() != os.ModeSocket {
				t.Errorf("after scripts/%s %s, %s: %v, %v: want the listener's socket still there", tt.script, strings.Join(tt.args, " "), sock, fi, err)
			}
		})
	}
}

// TestPCSCDScriptArgs checks scripts/pcscd.sh's argument and environment
// errors, run by root: each is a non-zero exit with a message naming what
// is wrong, before anything is started or written. PCSCD_READY_TIMEOUT
// went into bash arithmetic as it was, where a[$(command)] runs the
// command: as root.
func TestPCSCDScriptArgs(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("this test runs scripts/pcscd.sh as root, as make run and make test do: run the e2e tests as root")
	}
	witness := filepath.Join(t.TempDir(), "ran")
	tests := []struct {
		name string
		args []string
		env  []string // beside TESSERA_RUN_DIR
		want string
	}{
		{"no command", nil, nil, "usage: scripts/pcscd.sh"},
		{"an unknown command", []string{"begin"}, nil, "usage: scripts/pcscd.sh"},
		{"start 0 instances", []string{"start", "0"}, nil, "instance count '0': want 1 to 64"},
		{"start 65 instances", []string{"start", "65"}, nil, "instance count '65': want 1 to 64"},
		{"start-instance without K", []string{"start-instance"}, nil, "start-instance K, with 1 <= K < 64"},
		{"start-instance 64", []string{"start-instance", "64"}, nil, "start-instance K, with 1 <= K < 64"},
		{"a reader name with a quote", []string{"start-instance", unsafeInstance}, []string{`PCSCD_READER_NAME=Bad"Name`}, `reader name 'Bad"Name'`},
		{"a timeout with a unit", []string{"start-instance", unsafeInstance}, []string{"PCSCD_READY_TIMEOUT=15s"}, "PCSCD_READY_TIMEOUT '15s': whole seconds"},
		{"a timeout that runs a command", []string{"start-instance", unsafeInstance}, []string{"PCSCD_READY_TIMEOUT=i[$(touch " + witness + ")]"}, "PCSCD_READY_TIMEOUT 'i[$(touch"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			run := hosttest.ShortDir(t)
			env := append([]string{"TESSERA_RUN_DIR=" + run}, tt.env...)
			out, code := pcscdScript(t, nil, env, tt.args...)
			// Whatever it started and recorded (nothing, since the fix).
			defer pcscdScript(t, nil, env, "stop")
			if code == 0 || !strings.Contains(out, tt.want) {
				t.Errorf("scripts/pcscd.sh %q: exit %d, want non-zero and %q\n%s", tt.args, code, tt.want, out)
			}
			if _, err := os.Stat(witness); err == nil {
				t.Fatalf("scripts/pcscd.sh %q ran the command in its environment (%s exists)\n%s", tt.args, witness, out)
			}
			if ents, err := os.ReadDir(run); err != nil || len(ents) != 0 {
				t.Errorf("scripts/pcscd.sh %q wrote %v in %s (%v)", tt.args, ents, run, err)
			}
		})
	}
}

// TestScriptsStopAsAnotherUser: stop run by a user who may not signal the
// recorded pcscd (root's) fails naming what to do, and neither claims it
// stopped it nor forgets its pid file. It used to wait 7 s, print
// "stopped", and fail on the pid file it could not remove.
func TestScriptsStopAsAnotherUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("this test runs a root process and the scripts as nobody: run the e2e tests as root")
	}
	nobody := &syscall.Credential{Uid: 65534, Gid: 65534}
	tests := []struct {
		script, pidfile string
		args            []string
	}{
		{"pcscd.sh", "pcscd-" + unsafeInstance + ".pid", []string{"stop-instance", unsafeInstance}},
		{"pcscd.sh", "pcscd-" + unsafeInstance + ".pid", []string{"stop"}},
		{"ifd.sh", "ifd-pcscd.pid", []string{"stop"}},
	}
	for _, tt := range tests {
		t.Run(tt.script+" "+strings.Join(tt.args, " "), func(t *testing.T) {
			run := hosttest.ShortDir(t)
			if err := os.Chmod(run, 0o755); err != nil {
				t.Fatal(err)
			}
			victim := fakePCSCD(t)
			pid := victim.Process.Pid
			pf := filepath.Join(run, tt.pidfile)
			if err := os.WriteFile(pf, []byte(strconv.Itoa(pid)+" "+strconv.FormatUint(startTime(t, pid), 10)+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			out, code := runScript(t, tt.script, nobody, []string{"TESSERA_RUN_DIR=" + run}, tt.args...)
			if code == 0 || !strings.Contains(out, "run this as root") || strings.Contains(out, ": stopped ") {
				t.Errorf("scripts/%s %s as nobody: exit %d, want non-zero, no claim that it stopped pid %d, and \"run this as root\"\n%s", tt.script, strings.Join(tt.args, " "), code, pid, out)
			}
			if !processAlive(pid) {
				t.Fatalf("scripts/%s %s as nobody stopped root's pid %d", tt.script, strings.Join(tt.args, " "), pid)
			}
			if _, err := os.Stat(pf); err != nil {
				t.Errorf("after scripts/%s %s as nobody, %s: %v, want it kept", tt.script, strings.Join(tt.args, " "), pf, err)
			}
		})
	}
}
