package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// Event is one line of `go test -json` (cmd/test2json's TestEvent, plus the
// build events of the go command).
type Event struct {
	Action      string
	Package     string
	Test        string
	Output      string
	ImportPath  string // build-output, build-fail
	FailedBuild string // a package's fail when its build failed
}

// reportPrefixes start the lines tests print for the digest.
var reportPrefixes = []string{"tear test:", "kill test:", "report:"}

const (
	raceStart = "WARNING: DATA RACE"
	raceEnd   = "=================="
	// maxLines bounds the lines the digest shows of one failing test or
	// package; the log has them all.
	maxLines = 200
)

// line is one complete output line and whose it is.
type line struct {
	pkg, test string
	text      string // without the newline
}

type testKey struct{ pkg, test string }

// Result is a test run read from its event stream.
type Result struct {
	events  []Event
	lines   []line // every output line, in stream order
	final   map[testKey]string
	order   []testKey // tests and packages by the order they finished
	builds  map[string][]string
	buildOK map[string]bool
	// Stderr is what the go command wrote to standard error.
	Stderr string
}

// Read parses a `go test -json` stream. A line that is not a JSON event
// (the go command's own messages, when they share the stream) is kept as
// output of no package.
func Read(r io.Reader) (*Result, error) {
	res := &Result{final: map[testKey]string{}, builds: map[string][]string{}, buildOK: map[string]bool{}}
	partial := map[testKey]string{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	for sc.Scan() {
		raw := sc.Bytes()
		var e Event
		if len(raw) == 0 || raw[0] != '{' || json.Unmarshal(raw, &e) != nil {
			e = Event{Action: "output", Output: string(raw) + "\n"}
		}
		res.events = append(res.events, e)
		switch e.Action {
		case "build-output":
			res.builds[e.ImportPath] = append(res.builds[e.ImportPath], strings.TrimSuffix(e.Output, "\n"))
		case "build-fail":
			res.buildOK[e.ImportPath] = false
		case "output":
			k := testKey{e.Package, e.Test}
			text := partial[k] + e.Output
			for {
				i := strings.IndexByte(text, '\n')
				if i < 0 {
					break
				}
				res.lines = append(res.lines, line{e.Package, e.Test, text[:i]})
				text = text[i+1:]
			}
			partial[k] = text
		case "pass", "fail", "skip":
			k := testKey{e.Package, e.Test}
			if _, done := res.final[k]; !done {
				res.order = append(res.order, k)
			}
			res.final[k] = e.Action
		}
	}
	for k, text := range partial {
		if text != "" {
			res.lines = append(res.lines, line{k.pkg, k.test, text})
		}
	}
	return res, sc.Err()
}

// Text is the run as `go test -v` prints it: every output in stream order,
// the build output included, then the go command's standard error.
func (r *Result) Text() string {
	var b strings.Builder
	for _, e := range r.events {
		if e.Action == "output" || e.Action == "build-output" {
			b.WriteString(e.Output)
		}
	}
	b.WriteString(r.Stderr)
	return b.String()
}

// Counts returns how many top-level tests passed, failed and were skipped.
func (r *Result) Counts() (pass, fail, skip int) {
	for k, a := range r.final {
		if k.test == "" || strings.Contains(k.test, "/") {
			continue
		}
		switch a {
		case "pass":
			pass++
		case "fail":
			fail++
		case "skip":
			skip++
		}
	}
	return pass, fail, skip
}

// Races returns how many data race reports the run printed.
func (r *Result) Races() int {
	n := 0
	for _, l := range r.lines {
		if l.text == raceStart {
			n++
		}
	}
	return n
}

// own returns the output lines of one test (not its subtests), or of a
// package outside its tests when test is empty.
func (r *Result) own(pkg, test string) []string {
	var out []string
	for _, l := range r.lines {
		if l.pkg == pkg && l.test == test {
			out = append(out, l.text)
		}
	}
	return out
}

// Digest is what a test step prints: see the package comment. log names the
// full log in the section headers; label starts the closing line.
func (r *Result) Digest(label, log string) string {
	var b strings.Builder
	for _, l := range r.lines {
		if isPackageResult(l) || strings.HasPrefix(l.text, "panic:") || isReport(l.text) {
			fmt.Fprintln(&b, l.text)
		}
	}
	for _, k := range r.order {
		if k.test != "" && r.final[k] == "skip" {
			writeSkip(&b, r.own(k.pkg, k.test))
		}
	}
	failing := false
	for _, a := range r.final {
		failing = failing || a == "fail"
	}
	if failing || r.Stderr != "" {
		fmt.Fprintf(&b, "---- failing tests (full log: %s) ----\n", log)
		for _, k := range r.order {
			if r.final[k] != "fail" {
				continue
			}
			if k.test != "" {
				writeTail(&b, r.own(k.pkg, k.test), log)
				continue
			}
			// A package failed: its build output, and what it printed
			// outside any test (a panic in TestMain, a race found after
			// the tests ran, a timeout).
			for path, out := range r.builds {
				if ok, seen := r.buildOK[path]; seen && !ok && (path == k.pkg || strings.HasPrefix(path, k.pkg+" ")) {
					writeTail(&b, out, log)
				}
			}
			var rest []string
			for _, t := range r.own(k.pkg, "") {
				if !isPackageResult(line{k.pkg, "", t}) && t != "FAIL" {
					rest = append(rest, t)
				}
			}
			writeTail(&b, rest, log)
		}
		if r.Stderr != "" {
			b.WriteString(r.Stderr)
			if !strings.HasSuffix(r.Stderr, "\n") {
				b.WriteString("\n")
			}
		}
	}
	if n := r.Races(); n > 0 {
		fmt.Fprintf(&b, "---- %d data race report(s) (%s in %s) ----\n", n, raceStart, log)
		if !r.testFailed() {
			// The race was found after the tests ran (it fails only the
			// package): show the first report whole.
			in := false
			for _, l := range r.lines {
				in = in || l.text == raceStart
				if in {
					fmt.Fprintln(&b, l.text)
					if l.text == raceEnd {
						break
					}
				}
			}
		}
	}
	pass, fail, skip := r.Counts()
	fmt.Fprintf(&b, "%s: %d passed, %d failed, %d skipped\n", label, pass, fail, skip)
	return b.String()
}

// testFailed reports whether a test (not only a package) failed.
func (r *Result) testFailed() bool {
	for k, a := range r.final {
		if k.test != "" && a == "fail" {
			return true
		}
	}
	return false
}

// isPackageResult reports whether l is a package's closing line: "ok" or
// "FAIL" with the package's path.
func isPackageResult(l line) bool {
	return l.test == "" && (strings.HasPrefix(l.text, "ok  \t") || strings.HasPrefix(l.text, "FAIL\t"))
}

func isReport(text string) bool {
	for _, p := range reportPrefixes {
		if strings.HasPrefix(text, p) {
			return true
		}
	}
	return false
}

// writeSkip writes a skipped test's "--- SKIP" line, then its reason.
func writeSkip(b *strings.Builder, out []string) {
	var reason []string
	for _, t := range out {
		switch {
		case strings.HasPrefix(strings.TrimSpace(t), "--- SKIP"):
			fmt.Fprintln(b, t)
		case strings.HasPrefix(t, "=== "):
		default:
			reason = append(reason, t)
		}
	}
	for _, t := range reason {
		fmt.Fprintln(b, t)
	}
}

// writeTail writes lines, only the last maxLines of them when there are
// more.
func writeTail(b *strings.Builder, lines []string, log string) {
	if len(lines) > maxLines {
		fmt.Fprintf(b, "[%d earlier lines in %s]\n", len(lines)-maxLines, log)
		lines = lines[len(lines)-maxLines:]
	}
	for _, t := range lines {
		fmt.Fprintln(b, t)
	}
}
