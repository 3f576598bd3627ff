package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tesseracard/tessera/replay"
	"github.com/tesseracard/tessera/simulator/simtarget"
)

// errReplay is returned when a recording disagrees: the exit status is 1.
var errReplay = errors.New("replay: recordings disagree")

func newReplayCmd() *cobra.Command {
	var (
		target, reader, format, allowFile string
		quiet, destructive                bool
		report                            reportFlags
		timeout                           time.Duration
	)
	cmd := &cobra.Command{
		Use:   "replay TRACE...",
		Short: "Send a recorded session's commands to a card and compare every answer",
		Long: `Replay recorded card sessions on a target and compare every answer with the
recorded one: status words exactly; data exactly where the answer is
deterministic, in structure where it is random by nature (generated keys of the
right algorithm and size, signatures that verify under the target's key,
challenges of the right length, attestation certificates); management-key
authentication recomputed with the key the recorded host used (the default, or
one the recording sets). A reset in the recording resets the target. After a
status word that differs the rest of that recording is not sent.

Recordings: Tessera traces (tessera sim --trace; one made without
--trace-secrets withholds secret command data and is refused, since such a
command cannot be sent as it was), piv-go/go-piv mock files, pcsc-spy output
and ">"/"<" APDU logs; --format auto tells them apart.

--target sim[:PROFILE] replays each recording on a fresh simulated card in
process (profile "default" unless named). --target pcsc --reader NAME replays
on the card in a reader: that sends whatever was recorded to a real card (PIN
changes, PUK blocking, key generation, RESET of the PIV application...) and can
change or lock it, so it is refused unless --destructive is given.

Each exchange is printed as tessera trace prints it, with its verdict: exact,
structural (what was checked), allowed (the allowlist's reason: --allowlist
FILE, a YAML list of recording, exchange, command, sw, reason), or mismatch
(why), then a summary with the counts. --quiet prints only the exchanges that
are not exact. --json prints the report as JSON instead; --junit also writes
it as JUnit XML (a testcase per exchange). The exit status is 0 only when
every exchange of every recording agrees. See docs/replay.md.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, files []string) error {
			kind, profile, _ := strings.Cut(target, ":")
			switch {
			case kind != "sim" && kind != "pcsc":
				return fmt.Errorf("--target %q: want sim, sim:PROFILE or pcsc", target)
			case kind == "pcsc" && profile != "":
				return fmt.Errorf("--target %q: a card in a reader has no profile", target)
			case kind == "pcsc" && reader == "":
				return errors.New("--target pcsc needs --reader NAME")
			case kind == "pcsc" && !destructive:
				return errors.New("--target pcsc sends every recorded command to the card in the reader, which can change it (PINs, keys, RESET) or block it: give --destructive if that card may be changed")
			case kind == "sim" && destructive:
				return errors.New("--destructive is for --target pcsc: a simulated card is made fresh for each recording")
			case kind == "sim" && reader != "":
				return errors.New("--reader is for --target pcsc")
			}
			f, err := replay.ParseFormat(format)
			if err != nil {
				return err
			}
			var allow replay.Allowlist
			if allowFile != "" {
				if allow, err = readAllowlistFile(allowFile); err != nil {
					return err
				}
			}
			var recs []*replay.Recording
			for _, name := range files {
				rec, err := readRecording(name, f)
				if err != nil {
					return err
				}
				recs = append(recs, rec)
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			out := cmd.OutOrStdout()
			text := report.text(out)
			start := time.Now()
			var results []*replay.Result
			var total replay.Counts
			for _, rec := range recs {
				res, err := replayOn(ctx, kind, profile, reader, rec, allow)
				if res != nil && len(res.Exchanges) > 0 {
					if werr := replay.WriteText(text, res, quiet); werr != nil {
						return werr
					}
					results = append(results, res)
					total.Add(res.Counts)
				}
				if err != nil {
					return fmt.Errorf("%s: %w", rec.Name, err)
				}
			}
			if len(results) > 1 {
				fmt.Fprintf(text, "total: %s\n", replay.FormatCounts(total))
			}
			if err := report.write(out,
				func(w io.Writer) error { return replay.WriteJUnit(w, results, start) },
				func(w io.Writer) error { return replay.WriteJSON(w, results) }); err != nil {
				return err
			}
			bad := 0
			for _, r := range results {
				if !r.OK() {
					bad++
				}
			}
			if bad > 0 {
				return fmt.Errorf("%w: %d of %d (%d mismatched, %d not run)", errReplay, bad, len(results), total.Mismatch, total.NotRun)
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&target, "target", "sim", "sim, sim:PROFILE (a fresh simulated card in process) or pcsc (the card in --reader)")
	fl.StringVar(&reader, "reader", "", "the PC/SC reader (--target pcsc)")
	fl.StringVar(&format, "format", "auto", "the recordings' format: auto, tessera, pivgo, pcsc-spy or opensc")
	fl.StringVar(&allowFile, "allowlist", "", "a YAML file of reviewed departures (recording, exchange, command, sw, reason)")
	report.register(cmd)
	fl.BoolVarP(&quiet, "quiet", "q", false, "print only the exchanges that are not exact, and the summary")
	fl.BoolVar(&destructive, "destructive", false, "allow replaying on a card in a reader, which the recorded commands can change or block (--target pcsc)")
	fl.DurationVar(&timeout, "timeout", 10*time.Minute, "give up after this long")
	return cmd
}

func readAllowlistFile(path string) (replay.Allowlist, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("opening allowlist: %w", err)
	}
	defer f.Close()
	l, err := replay.ReadAllowlist(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return l, nil
}

func readRecording(path string, f replay.Format) (*replay.Recording, error) {
	file, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("opening recording: %w", err)
	}
	defer file.Close()
	rec, err := replay.Read(file, filepath.Base(path), f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return rec, nil
}

// replayOn replays one recording on a fresh simulated card or on the card
// in the reader.
func replayOn(ctx context.Context, kind, profile, reader string, rec *replay.Recording, allow replay.Allowlist) (*replay.Result, error) {
	var t replay.Target
	if kind == "pcsc" {
		c, err := openPCSC(reader)
		if err != nil {
			return nil, err
		}
		defer c.Close()
		// No other program's command between two recorded ones.
		if err := c.BeginTransaction(ctx); err != nil {
			return nil, err
		}
		defer c.EndTransaction()
		t = c
	} else {
		c, err := simtarget.Open(simtarget.Options{Profile: profile})
		if err != nil {
			return nil, err
		}
		defer c.Close()
		t = c
	}
	return replay.Replay(ctx, t, rec, replay.Options{Allowlist: allow})
}
