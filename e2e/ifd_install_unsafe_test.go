//go:build e2e

package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestIFDInstallUnsafeDir: install and uninstall, run by root, refuse a
// directory on the way to the files they write or remove that another user
// could change (owned by another user, or writable by others without the
// sticky bit, or reached through a symlink into such a place): root would
// write (or a pcscd running as root would load) what that user may replace
// or redirect. Nothing is written, nothing removed.
func TestIFDInstallUnsafeDir(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("this test runs scripts/ifd.sh as root, as install runs: run the e2e tests as root")
	}
	const nobody = 65534
	tests := []struct {
		name    string
		arrange func(t *testing.T, dest string) string // returns the unsafe directory
	}{
		{"a library directory anyone may write", func(t *testing.T, dest string) string {
			d := filepath.Join(dest, filepath.Dir(installedLib))
			mkdirMode(t, d, 0o777)
			return d
		}},
		{"a reader.conf.d owned by another user", func(t *testing.T, dest string) string {
			d := filepath.Join(dest, filepath.Dir(installedConf))
			mkdirMode(t, d, 0o755)
			if err := os.Chown(d, nobody, nobody); err != nil {
				t.Fatal(err)
			}
			return d
		}},
		{"a DESTDIR owned by another user", func(t *testing.T, dest string) string {
			if err := os.Chown(dest, nobody, nobody); err != nil {
				t.Fatal(err)
			}
			return dest
		}},
		{"a tmpfiles.d symlinked into another user's directory", func(t *testing.T, dest string) string {
			theirs := filepath.Join(t.TempDir(), "theirs")
			mkdirMode(t, theirs, 0o755)
			if err := os.Chown(theirs, nobody, nobody); err != nil {
				t.Fatal(err)
			}
			link := filepath.Join(dest, filepath.Dir(installedTmpfiles))
			mkdirMode(t, filepath.Dir(link), 0o755)
			if err := os.Symlink(theirs, link); err != nil {
				t.Fatal(err)
			}
			return theirs
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dest := t.TempDir()
			unsafe := tt.arrange(t, dest)
			env := []string{"DESTDIR=" + dest, "TESSERA_RUN_DIR=" + t.TempDir()}
			for _, args := range [][]string{{"install", "Tessera Unsafe"}, {"uninstall"}} {
				out, code := ifdScript(t, env, args...)
				if want := unsafe + ": "; code == 0 || !strings.Contains(out, want) || !strings.Contains(out, "another user") {
					t.Errorf("scripts/ifd.sh %s with %s: exit %d, want non-zero and an error naming %s and another user\n%s", args[0], unsafe, code, unsafe, out)
				}
			}
			for _, f := range []string{installedLib, installedConf, installedTmpfiles} {
				if _, err := os.Lstat(filepath.Join(dest, f)); !os.IsNotExist(err) {
					t.Errorf("scripts/ifd.sh install wrote %s beside %s (%v)", f, unsafe, err)
				}
			}
		})
	}
}

// mkdirMode makes d (and its parents) and gives d mode perm, whatever the
// umask.
func mkdirMode(t *testing.T, d string, perm os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(d, perm); err != nil {
		t.Fatal(err)
	}
}

// TestIFDStartUnsafeRunDir: scripts/ifd.sh start, run by root, refuses a
// TESSERA_RUN_DIR another user owns: root would write the private pcscd's
// reader.conf, pid file and log where that user could redirect them.
// Nothing is started, nothing written.
func TestIFDStartUnsafeRunDir(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("this test runs scripts/ifd.sh as root, as start runs: run the e2e tests as root")
	}
	run := t.TempDir()
	if err := os.Chown(run, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	env := []string{"TESSERA_RUN_DIR=" + run}
	out, code := ifdScript(t, env, "start", "Tessera Unsafe")
	if code == 0 {
		// Started after all: stop the pcscd it recorded.
		defer ifdScript(t, env, "stop")
	}
	if code == 0 || !strings.Contains(out, run+": ") || !strings.Contains(out, "another user") {
		t.Errorf("scripts/ifd.sh start with TESSERA_RUN_DIR %s owned by nobody: exit %d, want non-zero and an error naming it\n%s", run, code, out)
	}
	if ents, err := os.ReadDir(run); err != nil || len(ents) != 0 {
		t.Errorf("scripts/ifd.sh start wrote %v in %s (%v)", ents, run, err)
	}
}
