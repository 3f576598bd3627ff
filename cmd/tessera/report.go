package main

import (
	"io"

	"github.com/spf13/cobra"
)

// reportFlags are the report options that conform, scenario and replay
// share: --json prints the report as JSON instead of text, --junit also
// writes it as JUnit XML to a file.
type reportFlags struct {
	asJSON bool
	junit  string
}

// register adds --json and --junit to cmd.
func (r *reportFlags) register(cmd *cobra.Command) {
	cmd.Flags().BoolVar(&r.asJSON, "json", false, "print the report as JSON")
	cmd.Flags().StringVar(&r.junit, "junit", "", "also write the report as JUnit XML to this file")
}

// text returns where the text report goes: out, or nowhere with --json.
func (r *reportFlags) text(out io.Writer) io.Writer {
	if r.asJSON {
		return io.Discard
	}
	return out
}

// write writes the JUnit file when --junit names one, then the JSON report
// to out with --json.
func (r *reportFlags) write(out io.Writer, writeJUnit, writeJSON func(io.Writer) error) error {
	if r.junit != "" {
		if err := writeFile(r.junit, writeJUnit); err != nil {
			return err
		}
	}
	if r.asJSON {
		return writeJSON(out)
	}
	return nil
}
