package main

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tesseracard/tessera/apdu"
	"github.com/tesseracard/tessera/simulator"
	"github.com/tesseracard/tessera/simulator/pcapng"
)

func newTraceCmd() *cobra.Command {
	var card int
	var exchangesOnly bool
	var pcapOut string
	cmd := &cobra.Command{
		Use:   "trace FILE [--pcapng OUT]",
		Short: "Pretty-print a JSON Lines trace written by tessera sim --trace (- for stdin)",
		Long: `Pretty-print a trace written by tessera sim --trace: one line per exchange
with the command's name, the APDUs (secret data shown as XX), the status word
and its meaning, and how long the card took; and the events (power-on, reset,
insert, remove, power-lost, ...) between them.

--pcapng OUT writes the trace instead as a pcapng capture of USB CCID
readers (one per card) for Wireshark; - writes it to stdout. Wireshark
shows the CCID messages at once; for the APDUs, Decode As USB CCID → ISO
7816 (tshark -r OUT -d usbccid.subdissector,iso7816). Data the trace
withheld are zero bytes, with a packet comment saying how many.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var in io.Reader = cmd.InOrStdin()
			name := "stdin"
			if args[0] != "-" {
				f, err := os.Open(args[0])
				if err != nil {
					return fmt.Errorf("opening trace: %w", err)
				}
				defer f.Close()
				in, name = f, args[0]
			}
			filter := cmd.Flags().Changed("card")
			keep := func(rec simulator.TraceRecord) bool {
				return !(filter && rec.Card != card || exchangesOnly && rec.Event != "")
			}
			if pcapOut != "" {
				return writePcapng(cmd, in, name, pcapOut, keep)
			}
			w := bufio.NewWriter(cmd.OutOrStdout())
			defer w.Flush()
			err := simulator.ReadTrace(in, func(rec simulator.TraceRecord) error {
				if !keep(rec) {
					return nil
				}
				_, err := fmt.Fprintln(w, simulator.FormatRecord(rec))
				return err
			})
			if err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			return nil
		},
	}
	cmd.Flags().IntVar(&card, "card", 0, "show only this card")
	cmd.Flags().BoolVar(&exchangesOnly, "exchanges", false, "show exchanges only, no events")
	cmd.Flags().StringVar(&pcapOut, "pcapng", "", "write a pcapng capture for Wireshark to `OUT` (- for stdout) instead of printing")
	return cmd
}

// writePcapng converts the records of in that keep accepts into a pcapng
// file out, or stdout for -. A new file is mode 0600, as the trace it
// comes from (docs/security.md). A file left half written by an error is
// removed.
func writePcapng(cmd *cobra.Command, in io.Reader, name, out string, keep func(simulator.TraceRecord) bool) (err error) {
	var dst io.Writer = cmd.OutOrStdout()
	if out != "-" {
		f, ferr := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
		if ferr != nil {
			return fmt.Errorf("creating pcapng file: %w", ferr)
		}
		defer func() {
			if cerr := f.Close(); err == nil && cerr != nil {
				err = fmt.Errorf("writing %s: %w", out, cerr)
			}
			if err != nil {
				os.Remove(out)
			}
		}()
		dst = f
	}
	bw := bufio.NewWriter(dst)
	tw, err := pcapng.NewTraceWriter(bw)
	if err != nil {
		return err
	}
	n := 0
	err = simulator.ReadTrace(in, func(rec simulator.TraceRecord) error {
		if !keep(rec) {
			return nil
		}
		n++
		return tw.Write(rec)
	})
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("writing pcapng: %w", err)
	}
	if out != "-" {
		fmt.Fprintf(cmd.ErrOrStderr(), "%s: %d records; the APDUs show with: tshark -r %s -d usbccid.subdissector,iso7816\n", out, n, out)
	}
	return nil
}

// swMeaning decodes a status word given in hex.
func swMeaning(s string) string {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 2 {
		return "no status word"
	}
	return strings.TrimPrefix(apdu.SWFromBytes(b[0], b[1]).Error(), "apdu: ")
}
