package main

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/tesseracard/tessera/conformance"
	"github.com/tesseracard/tessera/pivalg"
)

// errConformance is returned when a conformance run has failures: the
// report says which.
var errConformance = errors.New("the card does not conform")

func newConformCmd() *cobra.Command {
	var (
		target, prof, reader   string
		destructive, list      bool
		pin, puk, mgmtKey, alg string
		pw1, pw3               string
		run, slots             string
		report                 reportFlags
		timeout                time.Duration
	)
	cmd := &cobra.Command{
		Use:   "conform",
		Short: "Run the conformance suite (PIV, ISO 7816 file-system application, OATH, OpenPGP) against the simulator or a card",
		Long: `conform runs the conformance suite: cases written from NIST SP 800-73-4, the
SP 800-85A-4 test assertions (case IDs such as VE05.19) and ISO/IEC 7816-4.

--target sim (the default) runs every case in process, each on a
factory-fresh simulated card of --profile. --target pcsc --reader NAME runs
against the card in a PC/SC reader, simulated or real, and treats it as a real
card: only the safe cases (which read, and spend no try) run, unless
--destructive is given with --pin, --puk and --mgmt-key. Destructive cases put
back what they change; before running any, the suite checks each credential
where a mistake cannot block anything, and refuses up front, saying why, every
case it could not undo (blocking the PUK, for one). The key cases (VE05.36B,
PIV-SIGN-, PIV-DECRYPT-, PIV-ECDH-, PIV-CARDAUTH-9E, PIV-9C-PIN-ALWAYS,
PIV-GA-WRONG-ALG, PIV-GENERATE-BAD-ALG, YK-PIN-POLICY-, YK-TOUCH-, YK-IMPORT,
YK-MOVE-DELETE, YK-ATTEST, YK-METADATA-GENERATED, YK-GENERATE-BAD-POLICY)
write keys, so on such a card they
run only in the slots --slots names (e.g. --slots 9a,9c,9d,9e): the key a named
slot holds is replaced and the generated one deleted afterwards; no other slot
is touched.

The suite runs the cases of the applications the card answers SELECT for:
PIV, and the ISO 7816 file-system application (IsoApplet v0, profile
iso-token; cases ISOAPP-...). A card with the ISO application takes
--destructive without credentials, and only in the creation state (no PUK,
no PIN): its destructive cases personalise it with OpenSC's test PIN 123456
and PUK 0123456789abcdef, which stay set. An OpenPGP card (cases OPGP-...)
takes --destructive with --pw1 and --pw3: its cases that generate keys or
reset the application are refused on a card in a reader, and PW3 is never
brought near blocking. A card that answers SELECT for none of them (a
PKCS#15 token) is outside the suite: every case
is reported not applicable, with the status words of the SELECTs (in
JUnit, skipped), and nothing else is sent; that is no failure.

Where a card departs from SP 800-73-4 as a YubiKey documentedly does, the case
passes and the report names the departure. The exit status is 1 when a case
fails.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if list {
				return listCases(cmd.OutOrStdout())
			}
			// Credentials may come from the environment, which keeps them
			// out of the process list and shell history.
			for _, c := range []struct {
				v   *string
				env string
			}{{&pin, "TESSERA_PIN"}, {&puk, "TESSERA_PUK"}, {&mgmtKey, "TESSERA_MGMT_KEY"}, {&pw1, "TESSERA_PW1"}, {&pw3, "TESSERA_PW3"}} {
				if *c.v == "" && target == "pcsc" {
					*c.v = os.Getenv(c.env)
				}
			}
			opts := conformance.Options{Destructive: destructive}
			var t conformance.Target
			switch target {
			case "sim":
				if reader != "" || destructive || pin != "" || puk != "" || mgmtKey != "" || slots != "" || pw1 != "" || pw3 != "" {
					return errors.New("--reader, --destructive, --pin, --puk, --mgmt-key, --pw1, --pw3 and --slots are for --target pcsc: the simulator's cards are made fresh for each case with their profile's factory credentials")
				}
				var err error
				if t, opts.Credentials, err = simTarget(prof); err != nil {
					return err
				}
			case "pcsc":
				if cmd.Flags().Changed("profile") {
					return errors.New("--profile is for --target sim: a card in a reader has the profile it has")
				}
				if reader == "" {
					return errors.New("--target pcsc needs --reader NAME (see `tessera diag` for the readers)")
				}
				creds, err := parseCredentials(pin, puk, mgmtKey, alg)
				if err != nil {
					return err
				}
				// A card with the ISO application alone needs none of them: its
				// destructive cases personalise it with the suite's own.
				if destructive && (pin != "" || puk != "" || mgmtKey != "") && (pin == "" || puk == "" || mgmtKey == "") {
					return errors.New("--destructive needs --pin, --puk and --mgmt-key: destructive cases put the card back as it was, which takes all three")
				}
				if !destructive && (pin != "" || puk != "" || mgmtKey != "") {
					return errors.New("--pin, --puk and --mgmt-key are used only with --destructive")
				}
				if (pw1 != "" || pw3 != "") && (!destructive || pw1 == "" || pw3 == "") {
					return errors.New("--pw1 and --pw3 go together, and only with --destructive: the OpenPGP cases put PW1 and PW3 back, which takes both")
				}
				creds.PW1, creds.PW3 = pw1, pw3
				if slots != "" && !destructive {
					return errors.New("--slots is used only with --destructive: it names the slots whose keys the key cases may replace")
				}
				if opts.Slots, err = parseSlots(slots); err != nil {
					return err
				}
				opts.Credentials = creds
				t = pcscTarget(reader)
			default:
				return fmt.Errorf("--target %q: want sim or pcsc", target)
			}
			if run != "" {
				re, err := regexp.Compile(run)
				if err != nil {
					return fmt.Errorf("--run: %w", err)
				}
				opts.Filter = func(c conformance.Case) bool { return re.MatchString(c.ID) }
			}
			stderr := cmd.ErrOrStderr()
			live := isTerminal(stderr)
			opts.Progress = func(p conformance.Progress) {
				switch {
				case p.Note != "":
					fmt.Fprintf(stderr, "note: %s\n", p.Note)
				case live && p.Result == nil:
					line := fmt.Sprintf("[%d/%d] %s  %s", p.Index+1, p.Total, p.Case.ID, p.Case.Title)
					if len(line) > 78 {
						line = line[:77] + "…"
					}
					fmt.Fprintf(stderr, "\r\x1b[K%s", line)
				}
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			rep, err := conformance.Run(ctx, t, opts)
			if live {
				fmt.Fprint(stderr, "\r\x1b[K")
			}
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if err := report.write(out, rep.WriteJUnit, rep.WriteJSON); err != nil {
				return err
			}
			if err := rep.WriteText(report.text(out)); err != nil {
				return err
			}
			if rep.Failed() {
				return fmt.Errorf("%w: %d of %d cases failed (%s)", errConformance, rep.Counts().Failed, rep.Counts().Total, strings.Join(rep.IDs(conformance.Failed), ", "))
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&target, "target", "sim", "sim (the simulator in process) or pcsc (a card in a PC/SC reader)")
	f.StringVar(&prof, "profile", "default", "the simulated card's profile: a built-in name or a YAML file (--target sim)")
	f.StringVar(&reader, "reader", "", "the PC/SC reader, exact name or a unique part of it (--target pcsc)")
	f.BoolVar(&destructive, "destructive", false, "on a card in a reader, run the destructive cases too (needs --pin, --puk, --mgmt-key)")
	f.StringVar(&pin, "pin", "", "the card's PIN (--destructive; or $TESSERA_PIN)")
	f.StringVar(&puk, "puk", "", "the card's PUK (--destructive; or $TESSERA_PUK)")
	f.StringVar(&mgmtKey, "mgmt-key", "", "the card's management key in hex (--destructive; or $TESSERA_MGMT_KEY)")
	f.StringVar(&alg, "mgmt-alg", "", "the management key's algorithm: 3des, aes128, aes192 or aes256 (default: ask the card, else 3des)")
	f.StringVar(&pw1, "pw1", "", "the OpenPGP application's user PIN (--destructive; or $TESSERA_PW1)")
	f.StringVar(&pw3, "pw3", "", "the OpenPGP application's admin PIN (--destructive; or $TESSERA_PW3)")
	f.StringVar(&slots, "slots", "", "with --destructive, the key slots whose keys the key cases may replace, e.g. 9a,9c,9d,9e,82 (--target pcsc)")
	f.StringVar(&run, "run", "", "run only the cases whose ID matches this regular expression")
	f.BoolVar(&list, "list", false, "list the cases and exit")
	report.register(cmd)
	f.DurationVar(&timeout, "timeout", 10*time.Minute, "give up after this long")
	return cmd
}

// parseCredentials reads the credential flags.
func parseCredentials(pin, puk, mgmtKey, alg string) (conformance.Credentials, error) {
	c := conformance.Credentials{PIN: pin, PUK: puk}
	if mgmtKey != "" {
		k, err := hex.DecodeString(strings.NewReplacer(" ", "", ":", "").Replace(mgmtKey))
		if err != nil {
			return c, fmt.Errorf("--mgmt-key: not hex: %w", err)
		}
		c.MgmtKey = k
	}
	if alg != "" {
		id, ok := pivalg.MgmtKeyID(alg)
		if !ok {
			return c, fmt.Errorf("--mgmt-alg %q: want 3des, aes128, aes192 or aes256", alg)
		}
		c.MgmtAlg = id
	}
	for name, v := range map[string]string{"--pin": pin, "--puk": puk} {
		if len(v) > 8 {
			return c, fmt.Errorf("%s: %d characters, a PIV PIN or PUK has at most 8", name, len(v))
		}
	}
	return c, nil
}

// parseSlots reads --slots: key slots in hex, comma-separated: 9A, 9C,
// 9D, 9E (SP 800-73-4 Part 1 Table 4b) or a retired key management slot 82
// to 95.
func parseSlots(v string) ([]byte, error) {
	if v == "" {
		return nil, nil
	}
	var out []byte
	for _, f := range strings.Split(v, ",") {
		f = strings.TrimSpace(f)
		b, err := hex.DecodeString(f)
		if err != nil || len(b) != 1 || !(b[0] == 0x9A || b[0] == 0x9C || b[0] == 0x9D || b[0] == 0x9E || b[0] >= 0x82 && b[0] <= 0x95) {
			return nil, fmt.Errorf("--slots: %q is no key slot: want 9a, 9c, 9d, 9e or 82 to 95, comma-separated", f)
		}
		if !slices.Contains(out, b[0]) {
			out = append(out, b[0])
		}
	}
	return out, nil
}

func listCases(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CASE\tCLASS\tWHAT\tREFERENCE")
	for _, c := range conformance.Cases() {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", c.ID, c.Class, c.Title, c.Ref)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w, "\nDocumented departures (reported, not failed):")
	for _, d := range conformance.Departures() {
		fmt.Fprintf(w, "  %s: %s\n", d.Name, d.Description)
	}
	return nil
}

// writeFile writes a file with fn, atomically enough for a report.
func writeFile(path string, fn func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := fn(f); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return f.Close()
}

// isTerminal reports whether w is a terminal (a character device).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
