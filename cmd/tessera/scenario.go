package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/tesseracard/tessera/conformance"
	"github.com/tesseracard/tessera/scenario"
	"github.com/tesseracard/tessera/simulator/simtarget"
)

// errScenario is returned when a scenario fails; the failure is printed.
var errScenario = errors.New("scenario failed")

func newScenarioCmd() *cobra.Command {
	var (
		target, reader, prof string
		verbose, destructive bool
		report               reportFlags
		timeout              time.Duration
	)
	cmd := &cobra.Command{
		Use:   "scenario FILE...",
		Short: "Run QA scenarios (YAML) against the simulator or a card",
		Long: `scenario runs each YAML scenario file: a list of steps (send an APDU and
expect a status word or data; verify, change or unblock the PIN; authenticate;
generate and sign; put and get data; reset; and, on the simulator only,
power-cycle, remove and insert the card, cut its power after k writes, advance
its clock, restart the simulator, set its touch sensor), then assert the
counters and the PIN's status. See docs/scenarios.md for the language.

--target sim (the default) runs each scenario on a fresh simulated card with
the scenario's profile (or --profile), its state in a temporary directory that
survives the restart step. --target pcsc --reader NAME runs it on the card in
a reader; a scenario with simulator-only steps is refused there before any
step runs, and so is one with a step that could block the PUK (or an OpenPGP
card's PW3) or wipe the card, unless --destructive is given: unblock,
change_puk, personalise, and send steps of RESET RETRY COUNTER, of VERIFY or
CHANGE REFERENCE DATA of a PUK, of RESET, SET PIN RETRIES, TERMINATE, DELETE
FILE or ERASE BINARY (see docs/scenarios.md). Errors name the file, the line and the step. --json prints the
report as JSON instead (each scenario's result, failure and the steps it ran);
--junit also writes it as JUnit XML, one testcase per scenario. The exit
status is 1 when a scenario fails.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, files []string) error {
			if target != "sim" && target != "pcsc" {
				return fmt.Errorf("--target %q: want sim or pcsc", target)
			}
			if target == "pcsc" && reader == "" {
				return errors.New("--target pcsc needs --reader NAME")
			}
			if target == "sim" && destructive {
				return errors.New("--destructive is for --target pcsc: a simulated card is made fresh for each scenario, and takes every step")
			}
			if verbose && report.asJSON {
				return errors.New("--verbose and --json: choose one (the JSON report has every step that ran)")
			}
			var scenarios []*scenario.Scenario
			for _, f := range files {
				data, err := os.ReadFile(f)
				if err != nil {
					return err
				}
				s, err := scenario.Parse(f, data)
				if err != nil {
					return err
				}
				scenarios = append(scenarios, s)
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			out := cmd.OutOrStdout()
			text := report.text(out)
			rep := &scenario.Report{Started: time.Now()}
			for _, s := range scenarios {
				res := runScenario(ctx, text, s, target, reader, prof, verbose, destructive)
				if res.Passed() {
					fmt.Fprintf(text, "PASS %s: %s (%d steps, %s)\n", s.File, s.Name, len(s.Steps), res.Duration.Round(time.Millisecond))
				} else {
					fmt.Fprintf(text, "FAIL %s\n", res.Err)
				}
				rep.Results = append(rep.Results, res)
			}
			rep.Duration = time.Since(rep.Started)
			if err := report.write(out, rep.WriteJUnit, rep.WriteJSON); err != nil {
				return err
			}
			if n := rep.Failed(); n > 0 {
				return fmt.Errorf("%w: %d of %d", errScenario, n, len(scenarios))
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&target, "target", "sim", "sim (a simulated card in process) or pcsc (a card in a PC/SC reader)")
	f.StringVar(&reader, "reader", "", "the PC/SC reader (--target pcsc)")
	f.StringVar(&prof, "profile", "", "the simulated card's profile, instead of the scenario's (--target sim)")
	f.BoolVar(&destructive, "destructive", false, "on a card in a reader, allow steps that could block its PUK or wipe it (--target pcsc)")
	f.BoolVarP(&verbose, "verbose", "v", false, "print every step")
	report.register(cmd)
	f.DurationVar(&timeout, "timeout", 5*time.Minute, "give up after this long")
	return cmd
}

// runScenario runs one scenario, printing every step to out when verbose,
// and returns its result with the log of the steps that ran.
func runScenario(ctx context.Context, out io.Writer, s *scenario.Scenario, target, reader, prof string, verbose, destructive bool) (res scenario.Result) {
	start := time.Now()
	res = scenario.Result{File: s.File, Name: s.Name, Steps: len(s.Steps)}
	defer func() { res.Duration = time.Since(start) }()
	var card conformance.Card
	switch target {
	case "sim":
		ss, err := simtarget.ForScenario(s, prof)
		if err != nil {
			res.Err = fmt.Errorf("%s: %w", s.File, err)
			return res
		}
		card, res.Target = ss, "the simulator (profile "+ss.Profile()+")"
	default:
		c, err := openPCSC(reader)
		if err != nil {
			res.Err = fmt.Errorf("%s: %w", s.File, err)
			return res
		}
		card, res.Target = c, "the card in PC/SC reader "+c.reader
	}
	defer card.Close()
	if verbose {
		fmt.Fprintf(out, "%s: %s, on %s\n", s.File, s.Name, res.Target)
	}
	opts := scenario.Options{Target: res.Target, Destructive: destructive, Step: func(st *scenario.Step, what string) {
		res.Log = append(res.Log, fmt.Sprintf("%s:%d: step %d (%s): %s", s.File, st.Line, st.N, st.Kind, what))
		if verbose {
			fmt.Fprintf(out, "  %s:%d step %d %s: %s\n", s.File, st.Line, st.N, st.Kind, what)
		}
	}}
	res.Err = s.Run(ctx, card, opts)
	return res
}
