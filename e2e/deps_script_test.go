//go:build e2e

package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/tesseracard/tessera/internal/hosttest"
)

// TestDepsScriptThroughSudo: scripts/deps.sh run by a user other than root
// installs through sudo, whose env_reset drops the caller's environment: it
// must hand DEBIAN_FRONTEND=noninteractive to apt-get through sudo, or a
// package's debconf question (tshark's, on capture by non-root users)
// stops the install at a prompt. Here sudo, apt-get and dpkg-query are
// stand-ins on PATH: sudo keeps nothing of the environment but PATH, and
// apt-get fails an install that would prompt. On a machine just booted,
// apt-daily or unattended-upgrades may hold the dpkg lock: apt-get (unlike
// apt) then fails at once unless told to wait (DPkg::Lock::Timeout), which
// the stand-in's held lock models.
func TestDepsScriptThroughSudo(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("this test runs scripts/deps.sh as the user nobody: run the e2e tests as root")
	}
	for _, locked := range []bool{false, true} {
		name := "free"
		if locked {
			name = "dpkg lock held"
		}
		t.Run(name, func(t *testing.T) { depsThroughSudo(t, locked) })
	}
}

func depsThroughSudo(t *testing.T, locked bool) {
	dir := hosttest.ShortDir(t)
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	bin, installed, log := filepath.Join(dir, "bin"), filepath.Join(dir, "installed"), filepath.Join(dir, "apt.log")
	lock := filepath.Join(dir, "lock")
	if locked {
		if err := os.WriteFile(lock, nil, 0o666); err != nil {
			t.Fatal(err)
		}
	}
	mkdirMode(t, bin, 0o755)
	mkdirMode(t, installed, 0o777)
	path := bin + ":/usr/sbin:/usr/bin:/sbin:/bin"
	fakes := map[string]string{
		"sudo": "exec env -i PATH=" + path + ` "$@"`,
		"dpkg-query": `for p; do :; done
[ -e ` + installed + `/"$p" ] || exit 1
echo "installed all"`,
		"apt-get": `echo "DEBIAN_FRONTEND=${DEBIAN_FRONTEND:-} $*" >>` + log + `
if [ -e ` + lock + ` ]; then
  case " $* " in
    *" -o DPkg::Lock::Timeout="*) rm -f ` + lock + ` ;; # freed while apt-get waits
    *) echo "E: Could not get lock /var/lib/dpkg/lock-frontend. It is held by process 1234 (unattended-upgr)" >&2; exit 100 ;;
  esac
fi
case " $* " in *" install "*) ;; *) exit 0 ;; esac
if [ "${DEBIAN_FRONTEND:-}" != noninteractive ]; then
  echo "Configuring wireshark-common: Should non-superusers be able to capture packets? [yes/no]" >&2
  exit 1
fi
for p; do case "$p" in -*|install) ;; *) touch ` + installed + `/"$p" ;; esac; done`,
	}
	for name, body := range fakes {
		if err := os.WriteFile(filepath.Join(bin, name), []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	nobody := &syscall.Credential{Uid: 65534, Gid: 65534}
	out, code := runScript(t, "deps.sh", nobody, []string{"PATH=" + path, "HOME=" + dir})
	apt, _ := os.ReadFile(log)
	if code != 0 {
		t.Fatalf("scripts/deps.sh through sudo: exit %d, want 0\n%s\napt-get saw:\n%s", code, out, apt)
	}
	var install bool
	for _, line := range strings.Split(strings.TrimSpace(string(apt)), "\n") {
		if strings.Contains(line, " install ") {
			install = true
			if !strings.HasPrefix(line, "DEBIAN_FRONTEND=noninteractive ") {
				t.Errorf("apt-get install ran with %q, want DEBIAN_FRONTEND=noninteractive", line)
			}
		}
	}
	if !install {
		t.Errorf("scripts/deps.sh never ran apt-get install; apt-get saw:\n%s", apt)
	}
}
