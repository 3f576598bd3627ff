package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/tesseracard/tessera/simulator"
)

// TestPcapngMode: the pcapng export of a trace is as private as the trace
// (docs/security.md: traces are mode 0600), whatever the umask lets
// through: it holds the same exchanges.
func TestPcapngMode(t *testing.T) {
	trace := `{"time":"2026-01-02T03:04:05Z","card":0,"command":"00A4040005A000000308","response":"9000","sw":"9000","duration_ns":1000}` + "\n"
	out := filepath.Join(t.TempDir(), "trace.pcapng")
	cmd := &cobra.Command{}
	cmd.SetOut(new(bytes.Buffer))
	cmd.SetErr(new(bytes.Buffer))
	if err := writePcapng(cmd, strings.NewReader(trace), "trace.jsonl", out, func(simulator.TraceRecord) bool { return true }); err != nil {
		t.Fatalf("writePcapng: %v", err)
	}
	fi, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o600 {
		t.Errorf("pcapng export mode %v, want %v (the trace's)", got, os.FileMode(0o600))
	}
}
