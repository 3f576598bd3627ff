package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/tesseracard/tessera/hostdriver"
	"github.com/tesseracard/tessera/hostdriver/pcsc"
	"github.com/tesseracard/tessera/tokenstate"
)

func newDiagCmd() *cobra.Command {
	var reader, target, prof, atrList string
	var asJSON bool
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "diag",
		Short: "Read-only diagnostics of the cards in PC/SC readers, or of a simulated card",
		Long: `diag reports, for one reader or every reader (empty ones too, as "no card"), the ATR
decoded and named, the applications present, and the PIV state: version, serial, PIN and PUK tries left, the management
key algorithm, each key slot and each certificate with its expiry, and warnings.

--target sim diagnoses a factory-fresh simulated card of --profile in process
instead, with no pcscd: what diag shows of a card of that profile.

diag never sends a command that changes a card's state and never spends a try:
it sends only SELECT, GET DATA, GET RESPONSE, GET VERSION, GET SERIAL, GET METADATA,
READ BINARY, READ RECORD, VERIFY without data and, right after selecting a YubiKey's
management application, READ CONFIG. This is enforced where the bytes leave:
the connection diag uses refuses any other command (and VERIFY with data)
before it reaches the reader (hostdriver.ReadOnly).

On an OpenPGP card it reports the version, manufacturer and serial, each key's
algorithm, fingerprint and creation date (and a YubiKey's attestation key and
its certificate FC), the signature counter and the tries
left of PW1, the resetting code and PW3 (from the PW status bytes: no try is
spent, no PIN is tried). On a YubiKey it reports the firmware version, serial,
form factor and the applications supported and enabled over USB and NFC.

On a token with an ISO 7816 file-system application (IsoApplet, the iso-token
profile) it reports the API version and features, the PIN state (tries left,
blocked, or no PIN set yet: a blank token; the PUK is not read, that would
spend a try) and, when the token has a PKCS#15 structure, the label, serial
and manufacturer from EF TokenInfo and the number of PKCS#15 objects.

On any card with a PKCS#15 application (ISO/IEC 7816-15: IsoApplet, CardOS,
SmartCard-HSM, many national eIDs) it reports EF.DIR's entry, TokenInfo, each
PIN object (label, reference, type, lengths, flags) with its tries from VERIFY
without data, each private key (label, ID, algorithm, size) and each
certificate (subject, issuer, validity, days left).

On a field token (a Tessera persona) it also reads the token state object
(GET DATA 5FFF20, no PIN needed): the PIN policy; whether the PIN is still
the factory default, an issued envelope PIN not changed yet, or a transport
PIN that locks every key until changed; the TOTP authorisation (enrolled,
wrong codes left, blocked) and the signatures left.

Cards are named from their ATR with pcsc-tools' list of ATRs (--atr-list;
on Linux /usr/share/pcsc/smartcard_list.txt by default, elsewhere no default:
the file is https://pcsc-tools.apdu.fr/smartcard_list.txt), every matching
name; without the list the report is the same, without names.

The --json output is an array with one object per reader (its "state" is
"card", "no card" or "error"); its fields are only ever added to (see
hostdriver.Report).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			var reports []*hostdriver.Report
			names, err := loadATRList(atrList, cmd.Flags().Changed("atr-list"), cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			switch target {
			case "pcsc":
				if cmd.Flags().Changed("profile") {
					return errors.New("--profile is for --target sim: a card in a reader has the profile it has")
				}
				reports, err = diagnoseReaders(ctx, reader, names)
			case "sim":
				if reader != "" {
					return errors.New("--reader is for --target pcsc: --target sim diagnoses a simulated card in process")
				}
				reports, err = diagnoseSim(ctx, prof, names)
			default:
				return fmt.Errorf("--target %q: want pcsc or sim", target)
			}
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(reports)
			}
			for i, r := range reports {
				if i > 0 {
					fmt.Fprintln(cmd.OutOrStdout())
				}
				printReport(cmd.OutOrStdout(), r)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&target, "target", "pcsc", "pcsc (the cards in PC/SC readers) or sim (a factory-fresh simulated card in process)")
	cmd.Flags().StringVar(&reader, "reader", "", "reader name, exact or a unique substring (default: every reader; --target pcsc)")
	cmd.Flags().StringVar(&prof, "profile", "default", "the simulated card's profile: a built-in name or a YAML file (--target sim)")
	cmd.Flags().StringVar(&atrList, "atr-list", hostdriver.DefaultATRListPath(), "pcsc-tools' smartcard_list.txt, to name cards by their ATR (default none on Windows and macOS)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	cmd.Flags().DurationVar(&timeout, "timeout", 30*time.Second, "give up after this long")
	return cmd
}

// loadATRList reads the list that names cards by their ATR. Naming is
// optional: when the list is not where it is looked for by default, or
// this system has no default place, diag says so on stderr and reports
// without names; a list named with --atr-list (named) that cannot be read
// is an error.
func loadATRList(path string, named bool, stderr io.Writer) (*hostdriver.ATRList, error) {
	get := fmt.Sprintf("install pcsc-tools or pass --atr-list FILE (the file is %s)", hostdriver.ATRListURL)
	if path == "" {
		if named {
			return nil, errors.New("--atr-list: no file named")
		}
		fmt.Fprintf(stderr, "diag: no ATR list on %s, cards are not named: pass --atr-list FILE (the file is %s)\n", runtime.GOOS, hostdriver.ATRListURL)
		return nil, nil
	}
	l, err := hostdriver.LoadATRList(path)
	switch {
	case err == nil:
	case errors.Is(err, fs.ErrNotExist) && named:
		return nil, fmt.Errorf("--atr-list: ATR list not found at %s (the file is %s)", path, hostdriver.ATRListURL)
	case named:
		return nil, fmt.Errorf("--atr-list: %w", err)
	case errors.Is(err, fs.ErrNotExist):
		fmt.Fprintf(stderr, "diag: ATR list not found at %s: %s\n", path, get)
		return nil, nil
	default:
		fmt.Fprintf(stderr, "diag: %v; cards are not named\n", err)
		return nil, nil
	}
	if n := l.Skipped(); n > 0 {
		fmt.Fprintf(stderr, "diag: ATR list %s: %d lines that are not ATR patterns passed over\n", path, n)
	}
	return l, nil
}

// readerSet is what diag needs of PC/SC: *pcsc.Context (pcscReaders), or
// a test's in-process cards.
type readerSet interface {
	Readers() ([]string, error)
	FindReader(name string) (string, error)
	// Connect connects, shared, to the card in reader; an error wrapping
	// hostdriver.ErrCardRemoved means the reader is empty.
	Connect(reader string) (readerCard, error)
}

// readerCard is a card connected in a reader.
type readerCard interface {
	hostdriver.Transport
	ATR() ([]byte, error)
	Close() error
}

// pcscReaders is the readers of pcscd (of the PC/SC service on Windows
// and macOS).
type pcscReaders struct{ *pcsc.Context }

func (p pcscReaders) Connect(reader string) (readerCard, error) {
	card, err := p.Context.Connect(reader, pcsc.Shared)
	if err != nil {
		return nil, err
	}
	return card, nil
}

func diagnoseReaders(ctx context.Context, want string, names *hostdriver.ATRList) ([]*hostdriver.Report, error) {
	pc, err := pcsc.Establish()
	if err != nil {
		return nil, err
	}
	defer pc.Release()
	return diagnoseReaderSet(ctx, pcscReaders{pc}, want, names)
}

// diagnoseReaderSet diagnoses the card in the reader named want (exactly or
// by a unique substring) or, when want is "", in every reader, one report
// per reader in the order PC/SC lists them: an empty reader has the state
// "no card", a card that could not be diagnosed "error".
func diagnoseReaderSet(ctx context.Context, rs readerSet, want string, names *hostdriver.ATRList) ([]*hostdriver.Report, error) {
	var readers []string
	if want != "" {
		r, err := rs.FindReader(want)
		if err != nil {
			return nil, err
		}
		readers = []string{r}
	} else {
		var err error
		if readers, err = rs.Readers(); err != nil {
			return nil, err
		}
	}
	if len(readers) == 0 {
		return nil, errors.New("no PC/SC readers (is pcscd running, and a reader or the simulator attached?)")
	}
	var reports []*hostdriver.Report
	for _, name := range readers {
		reports = append(reports, diagnoseOne(ctx, rs, name, names))
	}
	return reports, nil
}

func diagnoseOne(ctx context.Context, rs readerSet, reader string, names *hostdriver.ATRList) *hostdriver.Report {
	failed := func(err error) *hostdriver.Report {
		return &hostdriver.Report{Reader: reader, State: hostdriver.StateError, Error: err.Error(), Applications: []hostdriver.Application{}, Warnings: []string{}}
	}
	card, err := rs.Connect(reader)
	if errors.Is(err, hostdriver.ErrCardRemoved) {
		return &hostdriver.Report{Reader: reader, State: hostdriver.StateNoCard, Applications: []hostdriver.Application{}, Warnings: []string{}}
	}
	if err != nil {
		return failed(err)
	}
	defer card.Close()
	// One transaction for the whole diagnosis: no other program's SELECT
	// between two of diag's commands (a card in a shared reader).
	if tx, ok := card.(hostdriver.Transactor); ok {
		if err := tx.BeginTransaction(ctx); err != nil {
			return failed(err)
		}
		defer tx.EndTransaction()
	}
	atr, err := card.ATR()
	if err != nil {
		return failed(err)
	}
	// Diagnose guards its connection itself; wrapping here too keeps the
	// guarantee visible where the reader is opened.
	r, err := hostdriver.Diagnose(ctx, &hostdriver.Conn{T: hostdriver.ReadOnly(card)}, atr, hostdriver.DiagOptions{Names: names})
	if err != nil {
		return failed(err)
	}
	r.Reader, r.State = reader, hostdriver.StateCard
	return r
}

func printReport(w io.Writer, r *hostdriver.Report) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	defer tw.Flush()
	fmt.Fprintf(tw, "Reader\t%s\n", r.Reader)
	if r.State == hostdriver.StateNoCard {
		fmt.Fprintf(tw, "Card\tnone (the reader is empty)\n")
		return
	}
	if r.Error != "" {
		fmt.Fprintf(tw, "Error\t%s\n", r.Error)
		return
	}
	fmt.Fprintf(tw, "ATR\t%s\n", r.ATR)
	for _, n := range r.ATRNames {
		fmt.Fprintf(tw, "\t%s\n", n)
	}
	if r.ATRError != "" {
		fmt.Fprintf(tw, "\t%s\n", r.ATRError)
	}
	var protos []string
	for _, p := range r.Protocols {
		protos = append(protos, fmt.Sprintf("T=%d", p))
	}
	fmt.Fprintf(tw, "Protocols\t%s\n", strings.Join(protos, ", "))
	fmt.Fprintln(tw, "Applications")
	for _, a := range r.Applications {
		state := "present"
		if !a.Present {
			state = "absent (" + a.Status + ")"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", a.Name, a.AID, state)
	}
	if p := r.PIV; p != nil {
		fmt.Fprintln(tw, "PIV")
		fmt.Fprintf(tw, "  Version\t%s\n", orDash(p.Version))
		if p.Serial != 0 {
			fmt.Fprintf(tw, "  Serial\t%d\n", p.Serial)
		}
		fmt.Fprintf(tw, "  PIN\t%s\n", counter(p.PIN, p.Verified))
		fmt.Fprintf(tw, "  PUK\t%s\n", counter(p.PUK, false))
		if p.PINState != "" {
			fmt.Fprintf(tw, "  PIN state\t%s\n", deliveryState("PIN", p.PINState))
		}
		if p.PUKState != "" {
			fmt.Fprintf(tw, "  PUK state\t%s\n", deliveryState("PUK", p.PUKState))
		}
		if p.PINPolicy != nil {
			fmt.Fprintf(tw, "  PIN policy\t%s\n", p.PINPolicy)
		}
		mk := orDash(p.MgmtAlgorithm)
		if p.MgmtDefault != nil && *p.MgmtDefault {
			mk += " (factory default)"
		}
		fmt.Fprintf(tw, "  Management key\t%s\n", mk)
		if p.HolderID != "" {
			fmt.Fprintf(tw, "  Holder identity number\t%s\n", p.HolderID)
		}
		if t := p.TOTP; t != nil {
			state := fmt.Sprintf("enrolled, %d wrong codes left", t.Tries)
			if t.Limit > 0 {
				state = fmt.Sprintf("enrolled, %d of %d wrong codes left", t.Tries, t.Limit)
			}
			switch {
			case !t.Enrolled:
				state = "not enrolled"
			case t.Blocked:
				state = "blocked (re-enrol)"
			}
			fmt.Fprintf(tw, "  TOTP\t%s\n", state)
		}
		if p.SignaturesLeft != nil {
			fmt.Fprintf(tw, "  Signatures left\t%d\n", *p.SignaturesLeft)
		}
		if len(p.Slots) > 0 {
			fmt.Fprintln(tw, "  Slot\tAlgorithm\tOrigin\tPIN policy\tTouch policy")
			for _, s := range p.Slots {
				fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", s.Slot, s.Algorithm, orDash(s.Origin), s.PINPolicy, s.TouchPolicy)
			}
		}
		if len(p.Certificates) > 0 {
			fmt.Fprintln(tw, "  Certificate\tSubject\tIssuer\tNot after\tDays left")
			for _, c := range p.Certificates {
				if c.ParseError != "" {
					fmt.Fprintf(tw, "  %s\t(unreadable: %s)\n", c.Slot, c.ParseError)
					continue
				}
				fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%d\n", c.Slot, c.Subject, c.Issuer, c.NotAfter.Format("2006-01-02"), c.DaysLeft)
			}
		}
	}
	if iso := r.ISO; iso != nil {
		printISO(tw, iso, r.PKCS15 != nil)
	}
	if p := r.PKCS15; p != nil {
		printPKCS15(tw, p)
	}
	if p := r.OpenPGP; p != nil {
		printOpenPGP(tw, p)
	}
	if y := r.YubiKey; y != nil {
		printYubiKey(tw, y)
	}
	if o := r.OATH; o != nil {
		printOATH(tw, o)
	}
	if len(r.Warnings) > 0 {
		fmt.Fprintln(tw, "Warnings")
		for _, w := range r.Warnings {
			fmt.Fprintf(tw, "  ! %s\n", w)
		}
	}
}

// printOpenPGP prints the OpenPGP application's section.
func printOpenPGP(tw io.Writer, p *hostdriver.OpenPGPReport) {
	fmt.Fprintln(tw, "OpenPGP")
	fmt.Fprintf(tw, "  Version\t%s\n", orDash(p.Version))
	maker := p.Manufacturer
	if p.ManufacturerName != "" {
		maker += " (" + p.ManufacturerName + ")"
	}
	fmt.Fprintf(tw, "  Manufacturer\t%s\n", orDash(maker))
	fmt.Fprintf(tw, "  Serial\t%s\n", orDash(p.Serial))
	if p.Cardholder != "" {
		fmt.Fprintf(tw, "  Cardholder\t%s\n", p.Cardholder)
	}
	if p.URL != "" {
		fmt.Fprintf(tw, "  URL\t%s\n", p.URL)
	}
	fmt.Fprintf(tw, "  PW1 (user PIN)\t%s\n", counter(p.PW1, false))
	rc := counter(p.RC, false)
	if p.RC != nil && p.RC.Tries == 0 && !p.RC.Blocked {
		rc = "none set, or blocked (0 tries)" // C4 says 0 for both
	}
	fmt.Fprintf(tw, "  RC (resetting code)\t%s\n", rc)
	fmt.Fprintf(tw, "  PW3 (admin PIN)\t%s\n", counter(p.PW3, false))
	if p.SignatureCounter != nil {
		fmt.Fprintf(tw, "  Signatures made\t%d\n", *p.SignatureCounter)
	}
	if len(p.Keys) > 0 {
		fmt.Fprintln(tw, "  Key\tAlgorithm\tFingerprint\tCreated\tOrigin")
		for _, k := range p.Keys {
			created := "-"
			if k.Created != nil {
				created = k.Created.Format("2006-01-02")
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", k.Key, orDash(k.Algorithm), orDash(k.Fingerprint), created, orDash(k.Status))
		}
		for _, k := range p.Keys {
			if len(k.Supported) > 0 {
				fmt.Fprintf(tw, "  Supported (%s)\t%s\n", k.Key, strings.Join(k.Supported, ", "))
			}
		}
	}
	if c := p.AttestationCertificate; c != nil {
		if c.ParseError != "" {
			fmt.Fprintf(tw, "  Attestation certificate\tunreadable: %s\n", c.ParseError)
		} else {
			fmt.Fprintf(tw, "  Attestation certificate\t%s, issued by %s, %s\n", c.Subject, c.Issuer, c.PublicKey)
		}
	}
}

// printOATH prints the OATH application's section: its version and
// whether an access code is set, never its credentials.
func printOATH(tw io.Writer, o *hostdriver.OATHReport) {
	fmt.Fprintln(tw, "OATH")
	fmt.Fprintf(tw, "  Version\t%s\n", orDash(o.Version))
	code := "not set"
	if o.AccessCode {
		code = "set"
	}
	fmt.Fprintf(tw, "  Access code\t%s\n", code)
}

// printYubiKey prints a YubiKey's identity from its management
// application.
func printYubiKey(tw io.Writer, y *hostdriver.YubiKeyReport) {
	fmt.Fprintln(tw, "YubiKey")
	fmt.Fprintf(tw, "  Firmware\t%s\n", orDash(y.Version))
	if y.ConfigError != "" {
		fmt.Fprintf(tw, "  Configuration\t%s\n", y.ConfigError)
		return
	}
	if y.Serial != 0 {
		fmt.Fprintf(tw, "  Serial\t%d\n", y.Serial)
	}
	ff := orDash(y.FormFactor)
	if y.FIPS {
		ff += ", FIPS"
	}
	if y.SecurityKey {
		ff += ", Security Key"
	}
	fmt.Fprintf(tw, "  Form factor\t%s\n", ff)
	for _, t := range []struct {
		name               string
		supported, enabled []string
	}{{"USB", y.USBSupported, y.USBEnabled}, {"NFC", y.NFCSupported, y.NFCEnabled}} {
		if t.supported == nil {
			continue
		}
		fmt.Fprintf(tw, "  %s applications\t%s enabled (of %s)\n", t.name, orDash(strings.Join(t.enabled, ", ")), orDash(strings.Join(t.supported, ", ")))
	}
	locked := "no"
	if y.ConfigLocked {
		locked = "yes (lock code set)"
	}
	fmt.Fprintf(tw, "  Configuration locked\t%s\n", locked)
}

// printISO prints the ISO file-system application's section; its PKCS#15
// TokenInfo only when the report has no PKCS#15 section (printPKCS15).
func printISO(tw io.Writer, iso *hostdriver.ISOReport, pkcs15Section bool) {
	fmt.Fprintln(tw, "ISO file system (IsoApplet)")
	fmt.Fprintf(tw, "  API version\t%s\n", orDash(iso.APIVersion))
	fmt.Fprintf(tw, "  Features\t%s\n", orDash(strings.Join(iso.Features, ", ")))
	pin := "not set (token not personalised)"
	if iso.PINSet {
		pin = counter(iso.PIN, false)
	}
	fmt.Fprintf(tw, "  PIN\t%s\n", pin)
	fmt.Fprintf(tw, "  PUK\tnot read (only a try would tell)\n")
	switch p := iso.PKCS15; {
	case pkcs15Section:
		fmt.Fprintf(tw, "  PKCS#15\tsee below\n")
	case p == nil:
		fmt.Fprintf(tw, "  PKCS#15\t-\n")
	default:
		printTokenInfo(tw, p)
	}
}

func counter(c *hostdriver.Counter, verified bool) string {
	switch {
	case verified:
		return "verified in this session"
	case c == nil:
		return "-"
	case c.Blocked:
		return "BLOCKED"
	}
	s := fmt.Sprintf("%d tries left", c.Tries)
	if c.Limit > 0 {
		s = fmt.Sprintf("%d of %d tries left", c.Tries, c.Limit)
	}
	if c.Default != nil && *c.Default {
		s += " (factory default)"
	}
	return s
}

// deliveryState describes a PIN's or PUK's delivery state (a token state
// object's, hostdriver.PIVReport.PINState).
func deliveryState(name, state string) string {
	switch state {
	case tokenstate.Personal:
		return "set by the holder"
	case tokenstate.Factory:
		return "factory default " + name + " still set"
	case tokenstate.Issued:
		return "issued envelope " + name + " not changed yet"
	case tokenstate.Transport:
		return "transport " + name + " still set: every key locked until it is changed"
	case tokenstate.AdminOnly:
		return "none for the holder: an administrator resets the PIN"
	}
	return state
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
