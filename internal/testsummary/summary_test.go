package main

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/*.digest from the recorded streams")

// The streams in testdata were recorded from the module in testdata/sample
// (Go 1.26): all.json is `go test -json ./...` (a pass with a tear report,
// skips with reasons, a failing test, a failing subtest, a build failure, a
// panic), race.json `go test -json -race ./racy ./mixed` (a data race), and
// bad.json `go test -json ./quiet ./panics/... ./nosuch` (a package without
// tests, a package that does not exist).
func TestDigest(t *testing.T) {
	for _, tt := range []struct {
		name             string
		pass, fail, skip int
		races            int
		want, wantNot    []string
	}{
		{
			name: "all", pass: 4, fail: 3, skip: 1,
			want: []string{
				"tear test: mixed: exercised 7 tear points\n",
				"kill test: racy survived true\n",
				"report: table done\n",
				"ok  \texample.com/sample/racy\t",
				"FAIL\texample.com/sample/mixed\t",
				"FAIL\texample.com/sample/nobuild [build failed]\n",
				"--- SKIP: TestSkip (0.00s)\n    mixed_test.go:13: no pcscd on this machine\n",
				"--- SKIP: TestTable/three (0.00s)\n    mixed_test.go:27: three is not for today\n",
				"---- failing tests (full log: LOG) ----\n",
				"    mixed_test.go:17: Verify() = 1, want 2\n--- FAIL: TestFail (0.00s)\n",
				"    mixed_test.go:25: two went wrong\n",
				"nobuild/nobuild_test.go:5:32: undefined: undefined\n",
				"panic: assignment to entry in nil map",
				"all: 4 passed, 3 failed, 1 skipped\n",
			},
			wantNot: []string{"an ordinary log line", "data race", "example.com/sample/quiet"},
		},
		{
			name: "race", pass: 2, fail: 3, skip: 1, races: 1,
			want: []string{
				"---- 1 data race report(s) (WARNING: DATA RACE in LOG) ----\n",
				"testing.go:1712: race detected during execution of test\n--- FAIL: TestRace (0.00s)\n",
				"race: 2 passed, 3 failed, 1 skipped\n",
			},
		},
		{
			name: "bad", pass: 1, fail: 1, skip: 0,
			want: []string{
				"FAIL\t./nosuch [setup failed]\n",
				"stat /src/sample/nosuch: directory not found\n",
				"bad: 1 passed, 1 failed, 0 skipped\n",
			},
			wantNot: []string{"no test files", "SKIP"},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f, err := os.Open(filepath.Join("testdata", tt.name+".json"))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			r, err := Read(f)
			if err != nil {
				t.Fatal(err)
			}
			if p, fl, s := r.Counts(); p != tt.pass || fl != tt.fail || s != tt.skip {
				t.Errorf("Counts() = %d, %d, %d, want %d, %d, %d", p, fl, s, tt.pass, tt.fail, tt.skip)
			}
			if got := r.Races(); got != tt.races {
				t.Errorf("Races() = %d, want %d", got, tt.races)
			}
			got := r.Digest(tt.name, "LOG")
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("digest lacks %q:\n%s", w, got)
				}
			}
			for _, w := range tt.wantNot {
				if strings.Contains(got, w) {
					t.Errorf("digest has %q:\n%s", w, got)
				}
			}
			golden := filepath.Join("testdata", tt.name+".digest")
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				t.Errorf("digest:\n%s\nwant (%s):\n%s", got, golden, want)
			}
			text := r.Text()
			for _, w := range []string{"=== RUN   TestFail\n", "    mixed_test.go:10: an ordinary log line\n", "--- FAIL: TestPanics"} {
				if strings.Contains(string(mustRead(t, filepath.Join("testdata", tt.name+".json"))), strings.TrimSpace(w)) && !strings.Contains(text, w) {
					t.Errorf("Text() lacks %q", w)
				}
			}
		})
	}
}

// TestRun: the program writes the plain-text log and prints the digest,
// with the go command's standard error in both.
func TestRun(t *testing.T) {
	dir := t.TempDir()
	stderr := filepath.Join(dir, "stderr")
	if err := os.WriteFile(stderr, []byte("go: warning: something the go command said\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	log := filepath.Join(dir, "test.log")
	var out strings.Builder
	if err := run(filepath.Join("testdata", "all.json"), stderr, log, "unit", &out); err != nil {
		t.Fatal(err)
	}
	text := string(mustRead(t, log))
	for _, w := range []string{"=== RUN   TestFail\n", "ok  \texample.com/sample/racy", "go: warning: something the go command said\n"} {
		if !strings.Contains(text, w) {
			t.Errorf("log lacks %q", w)
		}
	}
	for _, w := range []string{"(full log: " + log + ")", "go: warning: something the go command said\n", "unit: 4 passed, 3 failed, 1 skipped\n"} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("digest lacks %q:\n%s", w, out.String())
		}
	}
	if err := run(filepath.Join(dir, "missing.json"), "", "", "unit", &out); err == nil {
		t.Error("run() of a missing stream: error = nil")
	}
}

// TestPartialLines: output split across events is put back into lines.
func TestPartialLines(t *testing.T) {
	stream := `{"Action":"output","Package":"p","Test":"TestA","Output":"tear te"}
{"Action":"output","Package":"p","Test":"TestA","Output":"st: p: 3 points\n--- PASS: TestA (0.00s)\n"}
{"Action":"pass","Package":"p","Test":"TestA"}
not json at all
{"Action":"output","Package":"p","Output":"ok  \tp\t0.1s\n"}
{"Action":"pass","Package":"p"}
`
	r, err := Read(strings.NewReader(stream))
	if err != nil {
		t.Fatal(err)
	}
	want := "tear test: p: 3 points\nok  \tp\t0.1s\nunit: 1 passed, 0 failed, 0 skipped\n"
	if got := r.Digest("unit", "LOG"); got != want {
		t.Errorf("Digest() = %q, want %q", got, want)
	}
	if got := r.Text(); !strings.Contains(got, "not json at all\n") {
		t.Errorf("Text() = %q, want the line that is not JSON kept", got)
	}
}

func mustRead(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
