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
)

func newTraceCmd() *cobra.Command {
	var card int
	var exchangesOnly bool
	cmd := &cobra.Command{
		Use:   "trace FILE",
		Short: "Pretty-print a JSON Lines trace written by tessera sim --trace (- for stdin)",
		Long: `Pretty-print a trace written by tessera sim --trace: one line per exchange
with the command's name, the APDUs (secret data shown as XX), the status word
and its meaning, and how long the card took; and the events (power-on, reset,
insert, remove, power-lost, ...) between them.`,
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
			w := bufio.NewWriter(cmd.OutOrStdout())
			defer w.Flush()
			err := simulator.ReadTrace(in, func(rec simulator.TraceRecord) error {
				if filter && rec.Card != card || exchangesOnly && rec.Event != "" {
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
	return cmd
}

// swMeaning decodes a status word given in hex.
func swMeaning(s string) string {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 2 {
		return "no status word"
	}
	return strings.TrimPrefix(apdu.SWFromBytes(b[0], b[1]).Error(), "apdu: ")
}
