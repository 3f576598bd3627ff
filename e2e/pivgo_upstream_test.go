//go:build e2e

package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// pivgoUpstreamModule is the module whose own tests run against the card,
// at the version go.mod requires.
const pivgoUpstreamModule = "github.com/go-piv/piv-go/v2"

// pivgoExpected is an upstream test expected to fail or skip: why, and
// what its output must contain (so that it fails or skips for that reason
// and no other).
type pivgoExpected struct {
	why, output string
}

// pivgoExpectedFailures are piv-go's own tests that cannot pass against a
// card identical to a YubiKey 5.7 (docs/clients.md, piv-go section). A test
// failing that is not here fails TestPivGoUpstream, and so does one listed
// here that passes, does not run, or fails for another reason: the list
// stays honest.
var pivgoExpectedFailures = map[string]pivgoExpected{
	"TestYubiKeyAttestation": {
		why: "piv.Verify chains the F9 attestation certificate to Yubico's own root CA, " +
			"whose private key only Yubico has; the card's F9 certificate is self-signed",
		output: "x509: certificate signed by unknown authority",
	},
}

// pivgoExpectedSkips are piv-go's own tests that skip against the card;
// the same rules as for pivgoExpectedFailures hold.
var pivgoExpectedSkips = map[string]pivgoExpected{
	"TestPINPolicyMatchOnceIntegration":        pivgoBio,
	"TestPINPolicyMatchAlwaysTwoVerifications": pivgoBio,
	"TestPINPolicyMatchOnceSingleVerification": pivgoBio,
}

// pivgoBio is why piv-go's biometric tests skip.
var pivgoBio = pivgoExpected{
	why:    "YubiKey Bio only (PIV_BIO_TESTS=1); a YubiKey 5.7 has no fingerprint sensor",
	output: "set PIV_BIO_TESTS=1",
}

// TestPivGoUpstream runs piv-go v2's own test suite (go test ./piv
// -wipe-yubikey, from a copy of the module in the module cache) against a
// yubikey-5.7 card through pcscd and the IFD bridge, in a reader named as a
// YubiKey's (piv-go's tests only use a reader whose name contains
// "yubikey"), and compares the outcome test by test with
// pivgoExpectedFailures and pivgoExpectedSkips.
func TestPivGoUpstream(t *testing.T) {
	start := time.Now()
	src, version := pivgoModuleDir(t)
	dir := filepath.Join(t.TempDir(), "piv-go")
	if err := copyTree(src, dir); err != nil {
		t.Fatalf("copying %s from the module cache: %v", pivgoUpstreamModule, err)
	}
	env := pivgoAlignDeps(t, dir)

	c, p := newIFDYubiKeyCard(t, "--profile", "yubikey-5.7")

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	// The flag is piv-go's own (piv/piv_test.go, "wipe-yubikey").
	cmd := exec.CommandContext(ctx, "go", "test", "-count=1", "-json", "-timeout=5m", "./piv", "-args", "-wipe-yubikey")
	cmd.Dir = dir
	// rsa1024min=0: TestSetRSAPrivateKey/rsa_512 makes a 512-bit key on
	// the host to see piv-go refuse it before the card; Go 1.24 and later
	// refuse to make one at all unless told.
	cmd.Env = append(env, "PCSCLITE_CSOCK_NAME="+p.sock, "GODEBUG=rsa1024min=0")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, runErr := cmd.Output()
	res, err := parseTestEvents(bytes.NewReader(out))
	if err != nil {
		t.Fatalf("reading go test -json: %v\nstderr:\n%s", err, stderr.String())
	}
	if len(res.status) == 0 {
		t.Fatalf("go test ./piv ran no test (%v):\n%s\nstderr:\n%s", runErr, res.buildOutput.String(), stderr.String())
	}
	for _, problem := range res.check(pivgoExpectedFailures, pivgoExpectedSkips) {
		t.Error(problem)
	}
	n := res.count()
	fmt.Printf("report: piv-go %s upstream suite on yubikey-5.7 through pcscd and the IFD bridge: %d passed, %d failed (%d expected), %d skipped (%d expected) in %v\n",
		version, n["pass"], n["fail"], len(pivgoExpectedFailures), n["skip"], len(pivgoExpectedSkips), time.Since(start).Round(time.Millisecond))
	if t.Failed() {
		t.Logf("simulator trace, last exchanges:\n%s", c.traceSince(0, 40))
	}
}

// pivgoModuleDir returns where the module cache holds piv-go at the
// version go.mod requires, and that version.
func pivgoModuleDir(t *testing.T) (dir, version string) {
	t.Helper()
	cmd := exec.Command("go", "list", "-m", "-f", "{{.Dir}}\t{{.Version}}", pivgoUpstreamModule)
	cmd.Dir = e2e.root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -m %s: %v", pivgoUpstreamModule, err)
	}
	dir, version, ok := strings.Cut(strings.TrimSpace(string(out)), "\t")
	if !ok || dir == "" {
		t.Fatalf("go list -m %s = %q: not in the module cache (go mod download)", pivgoUpstreamModule, out)
	}
	return dir, version
}

// pivgoAlignDeps makes the copied module build offline from the module
// cache: its requirements are raised to the versions this module builds
// piv-go with (what minimal version selection picks here, and so what is
// in the cache), with this module's go.sum. It returns the environment for
// go commands in the copy.
func pivgoAlignDeps(t *testing.T, dir string) []string {
	t.Helper()
	env := append(os.Environ(), "GOFLAGS=-mod=mod", "GOPROXY=off", "GOWORK=off", "GOTOOLCHAIN=local")
	goIn := func(d string, args ...string) []byte {
		t.Helper()
		cmd := exec.Command("go", args...)
		cmd.Dir, cmd.Env = d, env
		out, err := cmd.Output()
		if err != nil {
			var stderr []byte
			if ee, ok := err.(*exec.ExitError); ok {
				stderr = ee.Stderr
			}
			t.Fatalf("go %s in %s: %v\n%s", strings.Join(args, " "), d, err, stderr)
		}
		return out
	}
	var mod struct {
		Require []struct{ Path, Version string }
	}
	if err := json.Unmarshal(goIn(dir, "mod", "edit", "-json"), &mod); err != nil {
		t.Fatalf("reading the copied go.mod: %v", err)
	}
	for _, r := range mod.Require {
		v := strings.TrimSpace(string(goIn(e2e.root, "list", "-m", "-f", "{{.Version}}", r.Path)))
		if v != r.Version {
			goIn(dir, "mod", "edit", "-require="+r.Path+"@"+v)
		}
	}
	sum, err := os.ReadFile(filepath.Join(e2e.root, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "go.sum"), sum, 0o644); err != nil {
		t.Fatal(err)
	}
	return env
}

// copyTree copies the regular files under src to dst, writable (the module
// cache is read-only).
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		to := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(to, 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(to, b, 0o644)
	})
}

// testEvents is what go test -json reported: each test's (and subtest's)
// final action, its output, and output not tied to a test (build errors).
type testEvents struct {
	status      map[string]string // test name → pass, fail or skip
	output      map[string]*strings.Builder
	buildOutput strings.Builder
}

// parseTestEvents reads the JSON events of go test -json (cmd/test2json).
func parseTestEvents(r io.Reader) (*testEvents, error) {
	res := &testEvents{status: map[string]string{}, output: map[string]*strings.Builder{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 4<<20)
	for sc.Scan() {
		var ev struct {
			Action, Test, Output string
		}
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			return nil, fmt.Errorf("event %q: %w", sc.Text(), err)
		}
		switch {
		case ev.Action == "build-output", ev.Test == "" && ev.Action == "output":
			res.buildOutput.WriteString(ev.Output)
		case ev.Test == "":
		case ev.Action == "output":
			b := res.output[ev.Test]
			if b == nil {
				b = &strings.Builder{}
				res.output[ev.Test] = b
			}
			b.WriteString(ev.Output)
		case ev.Action == "pass", ev.Action == "fail", ev.Action == "skip":
			res.status[ev.Test] = ev.Action
		}
	}
	return res, sc.Err()
}

// out is the output of test name.
func (r *testEvents) out(name string) string {
	if b := r.output[name]; b != nil {
		return b.String()
	}
	return ""
}

// count counts the tests and subtests by final action.
func (r *testEvents) count() map[string]int {
	n := map[string]int{}
	for _, a := range r.status {
		n[a]++
	}
	return n
}

// check compares the outcome with the expected failures and skips and
// returns what differs. A test that fails only because subtests of it
// expected to fail failed is expected too.
func (r *testEvents) check(wantFail, wantSkip map[string]pivgoExpected) []string {
	var problems []string
	names := make([]string, 0, len(r.status))
	for name := range r.status {
		names = append(names, name)
	}
	slices.Sort(names)
	var expectedFail func(name string) bool
	expectedFail = func(name string) bool {
		if _, ok := wantFail[name]; ok {
			return true
		}
		failedSub := false
		for _, sub := range names {
			rest, ok := strings.CutPrefix(sub, name+"/")
			if !ok || strings.Contains(rest, "/") || r.status[sub] != "fail" {
				continue
			}
			if !expectedFail(sub) {
				return false
			}
			failedSub = true
		}
		return failedSub
	}
	for _, name := range names {
		got := r.status[name]
		switch {
		case got == "fail" && !expectedFail(name):
			problems = append(problems, fmt.Sprintf("%s failed, and is not an expected failure:\n%s", name, r.out(name)))
		case got == "skip" && wantSkip[name] == (pivgoExpected{}):
			problems = append(problems, fmt.Sprintf("%s skipped, and is not an expected skip:\n%s", name, r.out(name)))
		}
	}
	for _, want := range []struct {
		list   map[string]pivgoExpected
		action string
	}{{wantFail, "fail"}, {wantSkip, "skip"}} {
		for _, name := range slices.Sorted(maps.Keys(want.list)) {
			e := want.list[name]
			got, ran := r.status[name]
			switch {
			case got != want.action:
				if !ran {
					got = "did not run"
				}
				problems = append(problems, fmt.Sprintf("%s: %s, but it is listed as expected to %s (%s): update the list and docs/clients.md", name, got, want.action, e.why))
			case !strings.Contains(r.out(name), e.output):
				problems = append(problems, fmt.Sprintf("%s: %s without %q in its output, so not because %s:\n%s", name, got, e.output, e.why, r.out(name)))
			}
		}
	}
	return problems
}

// TestPivGoUpstreamCheck checks the comparison of TestPivGoUpstream on
// made-up outcomes.
func TestPivGoUpstreamCheck(t *testing.T) {
	wantFail := map[string]pivgoExpected{"TestA": {"a", "reason a"}, "TestB/sub1": {"b", "reason b"}}
	wantSkip := map[string]pivgoExpected{"TestS": {"s", "reason s"}}
	outputs := map[string]string{"TestA": "x reason a y", "TestB/sub1": "reason b", "TestS": "reason s"}
	silent := map[string]string{"expected failure for another reason": "TestA"} // case → a test with no output
	tests := []struct {
		name   string
		status map[string]string
		want   []string // a part of each problem, in order
	}{
		{"as expected", map[string]string{"TestA": "fail", "TestB": "fail", "TestB/sub1": "fail", "TestB/sub2": "pass", "TestS": "skip", "TestC": "pass"}, nil},
		{"unexpected failure", map[string]string{"TestA": "fail", "TestB": "fail", "TestB/sub1": "fail", "TestS": "skip", "TestC": "fail"},
			[]string{"TestC failed, and is not an expected failure"}},
		{"unexpected subtest failure", map[string]string{"TestA": "fail", "TestB": "fail", "TestB/sub1": "fail", "TestB/sub2": "fail", "TestS": "skip"},
			[]string{"TestB failed", "TestB/sub2 failed"}},
		{"expected failure passes", map[string]string{"TestA": "pass", "TestB": "fail", "TestB/sub1": "fail", "TestS": "skip"},
			[]string{"TestA: pass, but it is listed as expected to fail"}},
		{"unexpected skip and expected skip runs", map[string]string{"TestA": "fail", "TestB": "fail", "TestB/sub1": "fail", "TestS": "pass", "TestC": "skip"},
			[]string{"TestC skipped, and is not an expected skip", "TestS: pass, but it is listed as expected to skip"}},
		{"expected failure missing", map[string]string{"TestB": "fail", "TestB/sub1": "fail", "TestS": "skip"},
			[]string{"TestA: did not run"}},
		{"expected failure for another reason", map[string]string{"TestA": "fail", "TestB": "fail", "TestB/sub1": "fail", "TestS": "skip"},
			[]string{`TestA: fail without "reason a"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &testEvents{status: tt.status, output: map[string]*strings.Builder{}}
			for name, out := range outputs {
				if name != silent[tt.name] {
					r.output[name] = &strings.Builder{}
					r.output[name].WriteString(out)
				}
			}
			got := r.check(wantFail, wantSkip)
			if len(got) != len(tt.want) {
				t.Fatalf("check() = %q, want %d problems like %q", got, len(tt.want), tt.want)
			}
			for i := range got {
				if !strings.Contains(got[i], tt.want[i]) {
					t.Errorf("check()[%d] = %q, want it to contain %q", i, got[i], tt.want[i])
				}
			}
		})
	}
}
