// Command testsummary reads the event stream of `go test -json` and prints
// the digest scripts/gotest.sh shows after a test step: each package's
// result line, the report lines tests print (lines starting "tear test:",
// "kill test:" or "report:"), every skipped test with its reason, every
// failure with its output (and a failed build's compiler output), the
// number of data race reports with the first one whole when no failing
// test showed it, and a closing "LABEL: N passed, N failed, N skipped" line
// counted over top-level tests. It also writes the plain-text rendering of
// the stream (what `go test -v` would have printed) for people to read.
//
// Usage:
//
//	go test -json ./... >test.json 2>test.stderr
//	go run ./internal/testsummary -json test.json -stderr test.stderr -log test.log -label unit
//
// It exits 0 once the digest is printed (the test step's status is go
// test's own), 2 when it cannot read its input.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
)

func main() {
	jsonPath := flag.String("json", "", "the `file` go test -json wrote (required)")
	stderrPath := flag.String("stderr", "", "the `file` go test's standard error went to, printed in the digest and the log when not empty")
	logPath := flag.String("log", "", "write the plain-text rendering of the run to `file`")
	label := flag.String("label", "unit", "the `name` of the closing count line")
	flag.Parse()
	if *jsonPath == "" || flag.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "usage: testsummary -json FILE [-stderr FILE] [-log FILE] [-label NAME]")
		os.Exit(2)
	}
	if err := run(*jsonPath, *stderrPath, *logPath, *label, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "testsummary:", err)
		os.Exit(2)
	}
}

func run(jsonPath, stderrPath, logPath, label string, out io.Writer) error {
	f, err := os.Open(jsonPath)
	if err != nil {
		return err
	}
	defer f.Close()
	r, err := Read(f)
	if err != nil {
		return fmt.Errorf("reading %s: %w", jsonPath, err)
	}
	if stderrPath != "" {
		b, err := os.ReadFile(stderrPath)
		if err != nil && !os.IsNotExist(err) {
			return err
		}
		r.Stderr = string(b)
	}
	logName := logPath
	if logName == "" {
		logName = jsonPath
	}
	if logPath != "" {
		if err := os.WriteFile(logPath, []byte(r.Text()), 0o644); err != nil {
			return err
		}
	}
	_, err = io.WriteString(out, r.Digest(label, logName))
	return err
}
