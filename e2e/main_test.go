//go:build e2e

// Package e2e holds Tessera's end-to-end tests: the simulator binary seen
// through the real PC/SC stack (pcscd with the vsmartcard vpcd driver) by
// real PC/SC clients: github.com/ebfe/scard, and in the interop flows
// (interop_*_test.go) piv-go, yubico-piv-tool, OpenSC's tools and PKCS#11
// module, ssh-keygen, ykman, and GnuPG's gpg with scdaemon and gpg-agent;
// the IFD benchmark's exchanges are made by a small C client on libpcsclite
// (testdata/pcscbench.c, built with cc for the run). They need root on
// Debian 12 to install and start pcscd, and run one package at a time:
//
//	go test -tags e2e -p 1 -count=1 ./e2e/...
//
// TestMain starts pcscd through scripts/pcscd.sh, and stops it afterwards
// only if it started it. A missing pcscd that cannot be installed or started
// is a failure, never a skip.
package e2e

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// env is what TestMain prepared.
type env struct {
	root string // the module root
	bin  string // the tessera binary, built for this run
	// ifdDir, in a run over the IFD bridge (TestIFDClients' child), is
	// where the simulator serves its cards to the IFD pcscd.
	ifdDir string
}

var e2e env // set once by TestMain, read-only afterwards

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Dir(filepath.Dir(file))
	if spec := os.Getenv(ifdClientsEnv); spec != "" {
		// TestIFDClients' child: its parent built the binary and runs the
		// IFD pcscd, which PCSCLITE_CSOCK_NAME names.
		bin, dir, ok := strings.Cut(spec, "\n")
		if !ok {
			fmt.Printf("report: e2e FAIL: %s=%q: want BIN, newline, IFD-DIR\n", ifdClientsEnv, spec)
			return 1
		}
		e2e = env{root: root, bin: bin, ifdDir: dir}
		reader0 = ifdClientsReader + " 00 00"
		return m.Run()
	}
	tmp, err := os.MkdirTemp("", "tessera-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(tmp)
	bin := filepath.Join(tmp, "tessera")
	build := exec.Command("go", "build", "-o", bin, "./cmd/tessera")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Printf("report: e2e FAIL: building tessera: %v\n%s", err, out)
		return 1
	}
	e2e = env{root: root, bin: bin}

	started, err := startPCSCD(root)
	if err != nil {
		// "report:" lines reach the digest of scripts/gotest.sh.
		fmt.Printf("report: e2e FAIL: pcscd with the vpcd driver is needed and could not be started: %v\n", err)
		return 1
	}
	code := m.Run()
	if started {
		if out, err := exec.Command("bash", filepath.Join(root, "scripts", "pcscd.sh"), "stop", "1").CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "e2e: stopping pcscd: %v\n%s", err, out)
			code = 1
		}
	}
	return code
}

// startPCSCD makes sure pcscd runs (installing it if needed) and reports
// whether this run started it.
func startPCSCD(root string) (started bool, err error) {
	cmd := exec.Command("bash", filepath.Join(root, "scripts", "pcscd.sh"), "start", "1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return false, fmt.Errorf("scripts/pcscd.sh start: %v\n%s", err, stderr.String())
	}
	var last string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		last = sc.Text()
	}
	switch {
	case strings.HasPrefix(last, "started "):
		fmt.Printf("report: e2e started pcscd (pid %s) and will stop it\n", strings.TrimPrefix(last, "started "))
		return true, nil
	case strings.HasPrefix(last, "running "):
		fmt.Printf("report: e2e uses the pcscd already running (pid %s) and leaves it running\n", strings.TrimPrefix(last, "running "))
		return false, nil
	}
	return false, fmt.Errorf("scripts/pcscd.sh start printed %q, want started/running PID", out)
}
