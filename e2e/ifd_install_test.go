//go:build e2e

package e2e

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tesseracard/tessera/internal/hosttest"
)

// `scripts/ifd.sh install` and `uninstall` (docs/ifd-bridge.md, "Install
// into the machine's pcscd"), always under DESTDIR: these tests never
// write /etc/reader.conf.d or restart the machine's pcscd.

// The paths install writes under DESTDIR, and its files' markers.
const (
	installedLib            = "/usr/local/lib/tessera/libifdtessera.so"
	installedConf           = "/etc/reader.conf.d/tessera-ifd"
	installedTmpfiles       = "/usr/lib/tmpfiles.d/tessera-ifd.conf"
	installedMarker         = "# Tessera IFD bridge readers: written by scripts/ifd.sh install, removed by scripts/ifd.sh uninstall."
	installedTmpfilesMarker = "# Tessera IFD bridge socket directory: written by scripts/ifd.sh install, removed by scripts/ifd.sh uninstall."
)

// installedEntries is the reader.conf text install writes for names with
// TESSERA_RUN_DIR=run: the entries of `scripts/ifd.sh start`, LIBPATH the
// installed library, the sockets where `tessera sim --bridge ifd` serves
// its cards by default.
func installedEntries(run string, names []string) string {
	var b strings.Builder
	for k, name := range names {
		fmt.Fprintf(&b, "FRIENDLYNAME \"%s\"\nDEVICENAME   /dev/null:%s\nLIBPATH      %s\nCHANNELID    %d\n\n",
			name, filepath.Join(run, "ifd", fmt.Sprintf("card-%d.sock", k)), installedLib, k)
	}
	return b.String()
}

// checkTmpfiles fails the test unless path is install's tmpfiles.d file
// for the socket directory dir and group: mode 0644, the marker, comments,
// and one line making dir root:group mode 3770 (group-writable, setgid,
// sticky, no world bits).
func checkTmpfiles(t *testing.T, path, dir, group string) {
	t.Helper()
	checkMode(t, path, 0o644)
	text, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(text), "\n"), "\n")
	if lines[0] != installedTmpfilesMarker {
		t.Errorf("%s: first line %q, want the marker %q", path, lines[0], installedTmpfilesMarker)
	}
	last := len(lines) - 1
	for _, line := range lines[:last] {
		if !strings.HasPrefix(line, "#") {
			t.Errorf("%s: line %q is not a comment", path, line)
		}
	}
	if want := "d " + dir + " 3770 root " + group + " -"; lines[last] != want {
		t.Errorf("%s: entry %q, want %q", path, lines[last], want)
	}
}

// installedDirMode is the mode scripts/ifd.sh install gives the socket
// directory: the one its tmpfiles.d line (d DIR MODE root GROUP -) says,
// install run under a DESTDIR of its own.
func installedDirMode(t *testing.T) os.FileMode {
	t.Helper()
	dest := t.TempDir()
	if out, code := ifdScript(t, []string{"DESTDIR=" + dest, "TESSERA_RUN_DIR=" + t.TempDir()}, "install", "Mode"); code != 0 {
		t.Fatalf("scripts/ifd.sh install: exit %d\n%s", code, out)
	}
	text, err := os.ReadFile(filepath.Join(dest, installedTmpfiles))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(text)), "\n")
	f := strings.Fields(lines[len(lines)-1])
	if len(f) != 6 || f[0] != "d" {
		t.Fatalf("%s: last line %q, not d DIR MODE USER GROUP -", installedTmpfiles, lines[len(lines)-1])
	}
	m, err := strconv.ParseUint(f[2], 8, 32)
	if err != nil {
		t.Fatalf("%s: mode %q: %v", installedTmpfiles, f[2], err)
	}
	mode := os.FileMode(m & 0o777)
	if m&0o2000 != 0 {
		mode |= os.ModeSetgid
	}
	if m&0o1000 != 0 {
		mode |= os.ModeSticky
	}
	return mode
}

// checkMode fails the test unless path exists with the permission bits
// want.
func checkMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != want {
		t.Errorf("%s: mode %v, want %v", path, got, want)
	}
}

// TestIFDInstall installs the driver and two readers under DESTDIR and
// checks the files (the library, the reader.conf.d entries, the tmpfiles.d
// entry of their socket directory, with the default group and with
// TESSERA_IFD_GROUP's); then loads exactly those readers in a private pcscd
// and sees the simulator's two cards in them; then uninstalls, twice, and
// checks that neither install nor uninstall touches a file that is not
// theirs.
//
// The reader.conf install writes names the library's final path
// (/usr/local/lib/tessera/...), as a packager's staged file must: DESTDIR
// never appears in a file's content. The test checks that text as it is,
// then starts its pcscd (`scripts/ifd.sh start --conf`) on a copy whose
// LIBPATH lines, and only those, name the DESTDIR copy of the library
// instead; the sockets are the installed file's own, and the simulator
// finds them by its default --ifd-dir (TESSERA_RUN_DIR/ifd, no flag).
func TestIFDInstall(t *testing.T) {
	names := []string{"Tessera Install A", "Yubico YubiKey OTP+FIDO+CCID"}
	r0, r1 := names[0]+" 00 00", names[1]+" 01 00"
	dest, run := t.TempDir(), hosttest.ShortDir(t)
	env := []string{"DESTDIR=" + dest, "TESSERA_RUN_DIR=" + run}
	lib, conf := filepath.Join(dest, installedLib), filepath.Join(dest, installedConf)
	tmpfiles, sockets := filepath.Join(dest, installedTmpfiles), filepath.Join(run, "ifd")

	// Another group first: a second install replaces the file.
	out, code := ifdScript(t, append(env, "TESSERA_IFD_GROUP=tessera-qa"), "install", names[0])
	if code != 0 {
		t.Fatalf("scripts/ifd.sh install with TESSERA_IFD_GROUP: exit %d\n%s", code, out)
	}
	checkTmpfiles(t, tmpfiles, sockets, "tessera-qa")
	out, code = ifdScript(t, env, append([]string{"install"}, names...)...)
	if code != 0 {
		t.Fatalf("scripts/ifd.sh install: exit %d\n%s", code, out)
	}
	mustContain(t, "install", out, "installed "+lib+", "+conf+" and "+tmpfiles, "staged under DESTDIR="+dest,
		"the driver looks for the cards' sockets in "+sockets+", root:tessera mode 3770", "the package must provide the group tessera")
	checkTmpfiles(t, tmpfiles, sockets, "tessera")
	if ents, err := os.ReadDir(filepath.Dir(tmpfiles)); err != nil || len(ents) != 1 {
		t.Errorf("%s holds %v (%v), want only %s", filepath.Dir(tmpfiles), ents, err, filepath.Base(tmpfiles))
	}
	if _, err := os.Stat(sockets); !os.IsNotExist(err) {
		t.Errorf("install under DESTDIR made the socket directory %s (%v): the machine is not concerned", sockets, err)
	}
	if strings.Contains(out, "restart") {
		t.Errorf("install under DESTDIR gives restart advice, as if the machine's pcscd were concerned:\n%s", out)
	}

	built, err := os.ReadFile(filepath.Join(e2e.root, "bin", "libifdtessera.so"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(lib)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, built) {
		t.Errorf("%s: %d bytes, not the driver make ifd built (%d bytes)", lib, len(got), len(built))
	}
	checkMode(t, lib, 0o644)
	checkMode(t, filepath.Dir(lib), 0o755)
	checkMode(t, conf, 0o644)
	text, err := os.ReadFile(conf)
	if err != nil {
		t.Fatal(err)
	}
	first, _, _ := strings.Cut(string(text), "\n")
	if first != installedMarker {
		t.Errorf("%s: first line %q, want the marker %q", conf, first, installedMarker)
	}
	// After the header comment and a blank line: exactly the entries.
	header, entries, _ := strings.Cut(string(text), "\n\n")
	for _, line := range strings.Split(header, "\n") {
		if !strings.HasPrefix(line, "#") {
			t.Errorf("%s: header line %q is not a comment", conf, line)
		}
	}
	if want := installedEntries(run, names); entries != want {
		t.Errorf("%s: entries\n%s\nwant\n%s", conf, entries, want)
	}
	if ents, err := os.ReadDir(filepath.Dir(conf)); err != nil || len(ents) != 1 {
		t.Errorf("%s holds %v (%v), want only %s", filepath.Dir(conf), ents, err, filepath.Base(conf))
	}

	t.Run("pcscd loads it", func(t *testing.T) {
		staged := strings.ReplaceAll(string(text), "LIBPATH      "+installedLib+"\n", "LIBPATH      "+lib+"\n")
		if n := strings.Count(staged, lib); n != len(names) {
			t.Fatalf("the staged copy names %s %d times, want %d", lib, n, len(names))
		}
		confCopy := filepath.Join(hosttest.ShortDir(t), "tessera-ifd")
		if err := os.WriteFile(confCopy, []byte(staged), 0o644); err != nil {
			t.Fatal(err)
		}
		p := startIFDPCSCDIn(t, run, "start", "--conf", confCopy)
		t.Setenv("PCSCLITE_CSOCK_NAME", p.sock)
		t.Setenv("TESSERA_RUN_DIR", run) // the simulator's default --ifd-dir
		record, err := os.ReadFile(filepath.Join(run, "ifd-pcscd.pid"))
		if err != nil {
			t.Fatal(err)
		}
		// The record is "PID START" (scripts/proc.sh record_pid).
		pid, _, _ := strings.Cut(strings.TrimSpace(string(record)), " ")
		maps, err := os.ReadFile(filepath.Join("/proc", pid, "maps"))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(maps), lib) {
			t.Errorf("pcscd (pid %s) has not loaded %s", pid, lib)
		}
		startSim(t, hosttest.ShortDir(t), "--bridge", "ifd", "--cards", "2", "--reader-name", names[0], "--reader-name", names[1])
		p.waitCard(t, r0, true, 15*time.Second)
		p.waitCard(t, r1, true, 15*time.Second)
		if rs := p.readers(t); len(rs) != 2 {
			t.Errorf("the pcscd on the installed reader.conf lists %v, want exactly %q and %q", rs, r0, r1)
		}
	})

	out, code = ifdScript(t, env, "uninstall")
	if code != 0 {
		t.Fatalf("scripts/ifd.sh uninstall: exit %d\n%s", code, out)
	}
	mustContain(t, "uninstall", out, "removed "+conf+" "+lib+" "+tmpfiles, "staged under DESTDIR="+dest)
	for _, gone := range []string{conf, lib, filepath.Dir(lib), tmpfiles} {
		if _, err := os.Stat(gone); !os.IsNotExist(err) {
			t.Errorf("after uninstall, %s: %v, want it gone", gone, err)
		}
	}
	for _, kept := range []string{filepath.Dir(conf), filepath.Dir(tmpfiles)} {
		if _, err := os.Stat(kept); err != nil {
			t.Errorf("uninstall removed %s, which holds other packages' files on a machine: %v", kept, err)
		}
	}
	out, code = ifdScript(t, env, "uninstall")
	if code != 0 || !strings.Contains(out, "nothing installed") {
		t.Errorf("a second uninstall: exit %d, want 0 and \"nothing installed\"\n%s", code, out)
	}

	// Files install did not write: install and uninstall leave them be.
	foreign := []struct{ path, text, want string }{
		{conf, "FRIENDLYNAME \"Somebody Else's\"\n", "not written by scripts/ifd.sh install"},
		{lib, "not Tessera's driver\n", "is not Tessera's IFD driver"},
		{tmpfiles, "d /run/somebody 0755 root root -\n", "not written by scripts/ifd.sh install"},
	}
	for _, f := range foreign {
		if err := os.MkdirAll(filepath.Dir(f.path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f.path, []byte(f.text), 0o644); err != nil {
			t.Fatal(err)
		}
		for _, args := range [][]string{{"install", names[0]}, {"uninstall"}} {
			out, code := ifdScript(t, env, args...)
			if code == 0 || !strings.Contains(out, f.want) {
				t.Errorf("scripts/ifd.sh %s beside a foreign %s: exit %d, want an error saying %q\n%s", strings.Join(args, " "), f.path, code, f.want, out)
			}
			if b, err := os.ReadFile(f.path); err != nil || string(b) != f.text {
				t.Errorf("scripts/ifd.sh %s changed the foreign %s: %q, %v", strings.Join(args, " "), f.path, b, err)
			}
		}
		for _, other := range []string{conf, lib, tmpfiles} {
			if _, err := os.Stat(other); other != f.path && !os.IsNotExist(err) {
				t.Errorf("install refused beside a foreign %s but wrote %s (%v)", f.path, other, err)
			}
		}
		if err := os.Remove(f.path); err != nil {
			t.Fatal(err)
		}
	}

	// Half an installation (the library deleted by hand): uninstall
	// removes the half that is left, and says which.
	if out, code := ifdScript(t, env, "install", names[0]); code != 0 {
		t.Fatalf("scripts/ifd.sh install again: exit %d\n%s", code, out)
	}
	if err := os.Remove(lib); err != nil {
		t.Fatal(err)
	}
	out, code = ifdScript(t, env, "uninstall")
	if code != 0 || !strings.Contains(out, "removed "+conf+" "+tmpfiles+"\n") {
		t.Errorf("uninstall without the library: exit %d, want 0 and \"removed %s %s\" alone\n%s", code, conf, tmpfiles, out)
	}
	for _, gone := range []string{conf, tmpfiles} {
		if _, err := os.Stat(gone); !os.IsNotExist(err) {
			t.Errorf("after uninstall, %s: %v, want it gone", gone, err)
		}
	}
}

// TestIFDScriptArgs checks scripts/ifd.sh's argument errors: each is a
// non-zero exit with a message naming what is wrong, and writes nothing.
// install and uninstall without DESTDIR are refused to a user other than
// root (nobody, uid 65534, here) before they build or write anything.
func TestIFDScriptArgs(t *testing.T) {
	many := make([]string, 17)
	for i := range many {
		many[i] = fmt.Sprintf("Reader %d", i)
	}
	tests := []struct {
		name string
		args []string
		want string
		env  []string // beside DESTDIR and TESSERA_RUN_DIR
	}{
		{"install without names", []string{"install"}, "name the readers", nil},
		{"install a name with a slash", []string{"install", "Good", "Bad/Name"}, "reader name 'Bad/Name'", nil},
		{"install a name starting with a dash", []string{"install", "-x"}, "reader name '-x'", nil},
		{"install a name too long", []string{"install", strings.Repeat("n", 65)}, "at most 64", nil},
		{"install 17 names", append([]string{"install"}, many...), "17 readers: one pcscd has at most 16", nil},
		{"uninstall with an argument", []string{"uninstall", "Good"}, "uninstall (no arguments)", nil},
		{"start a name with a quote", []string{"start", `Bad"Name`}, `reader name 'Bad"Name'`, nil},
		{"start --conf without a file", []string{"start", "--conf"}, "start --conf FILE", nil},
		{"start --conf a missing file", []string{"start", "--conf", "/nonexistent/tessera-ifd"}, "/nonexistent/tessera-ifd: not readable", nil},
		{"an unknown command", []string{"instal", "Good"}, "usage: scripts/ifd.sh", nil},
		{"install for a bad group", []string{"install", "Good"}, "TESSERA_IFD_GROUP 'Bad Group': a group name", []string{"TESSERA_IFD_GROUP=Bad Group"}},
		{"install for a group starting with a dash", []string{"install", "Good"}, "TESSERA_IFD_GROUP '-g': a group name", []string{"TESSERA_IFD_GROUP=-g"}},
		{"a ready timeout with a unit", []string{"status"}, "PCSCD_READY_TIMEOUT '15s': whole seconds", []string{"PCSCD_READY_TIMEOUT=15s"}},
		{"install for a relative run directory", []string{"install", "Good"}, "socket directory run/ifd (TESSERA_RUN_DIR/ifd): install needs an absolute path", []string{"TESSERA_RUN_DIR=run"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dest, run := t.TempDir(), t.TempDir()
			out, code := ifdScript(t, append([]string{"DESTDIR=" + dest, "TESSERA_RUN_DIR=" + run}, tt.env...), tt.args...)
			if code == 0 || !strings.Contains(out, tt.want) {
				t.Errorf("scripts/ifd.sh %q: exit %d, want non-zero and %q\n%s", tt.args, code, tt.want, out)
			}
			for _, d := range []string{dest, run} {
				if ents, err := os.ReadDir(d); err != nil || len(ents) != 0 {
					t.Errorf("scripts/ifd.sh %q wrote %v in %s (%v)", tt.args, ents, d, err)
				}
			}
		})
	}
	nobody := &syscall.Credential{Uid: 65534, Gid: 65534}
	for _, args := range [][]string{{"install", "Good"}, {"uninstall"}} {
		t.Run(args[0]+" as nobody", func(t *testing.T) {
			// DESTDIR empty: the real paths, which the check must keep
			// nobody from even trying.
			out, code := ifdScriptAs(t, nobody, []string{"DESTDIR="}, args...)
			if code == 0 || !strings.Contains(out, "run it as root (or set DESTDIR to stage the files)") {
				t.Errorf("scripts/ifd.sh %q as nobody: exit %d, want non-zero and the root message\n%s", args, code, out)
			}
		})
	}
}
