package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/tesseracard/tessera/firmware/isoapp"
	"github.com/tesseracard/tessera/firmware/pin"
	"github.com/tesseracard/tessera/simulator"
)

type cardOptions struct {
	state        string
	control      string
	controlTCP   string
	controlToken string // --control-token-file
	json         bool

	tokenFrom string // where the TCP token came from, for a 401's message
}

// controlTokenEnv names the environment variable that holds the control
// API's token for tessera card --control-tcp.
const controlTokenEnv = "TESSERA_CONTROL_TOKEN"

func (o *cardOptions) client() (*simulator.Client, error) {
	if o.control != "" && o.controlTCP != "" {
		return nil, errors.New("--control and --control-tcp: choose one")
	}
	if o.controlToken != "" && o.controlTCP == "" {
		return nil, errors.New("--control-token-file goes with --control-tcp: the unix socket needs no token")
	}
	if o.controlTCP != "" {
		token, err := o.token()
		if err != nil {
			return nil, err
		}
		return simulator.NewClient("", o.controlTCP, simulator.WithToken(token)), nil
	}
	sock, err := controlSocket(o.control, o.state)
	if err != nil {
		return nil, err
	}
	return simulator.NewClient(sock, ""), nil
}

// token finds the control API's token for --control-tcp: the file
// --control-token-file names, else $TESSERA_CONTROL_TOKEN, else the file
// tessera sim wrote in the state directory.
func (o *cardOptions) token() (string, error) {
	if o.controlToken == "" {
		if t := os.Getenv(controlTokenEnv); t != "" {
			o.tokenFrom = "$" + controlTokenEnv
			if err := simulator.CheckControlToken(t); err != nil {
				return "", fmt.Errorf("$%s: %w", controlTokenEnv, err)
			}
			return t, nil
		}
	}
	path, err := controlTokenPath(o.controlToken, o.state)
	if err != nil {
		return "", err
	}
	o.tokenFrom = path
	t, err := simulator.ReadControlToken(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("--control-tcp needs the token tessera sim wrote to %s, and there is none: give the simulator's --state, --control-token-file or $%s (%w)", path, controlTokenEnv, err)
	}
	return t, err
}

func newCardCmd() *cobra.Command {
	o := &cardOptions{}
	cmd := &cobra.Command{
		Use:   "card",
		Short: "Drive a running simulator's cards through its control API",
		Long: `Drive a running simulator (tessera sim) through its control API: list, add
and delete cards; insert and remove them; power-cycle; arm power cuts
(tears); touch; read their state (never a secret); factory-reset them.
Cards are named by number (their slot). --json prints the API's answer.

Over --control-tcp the API wants the bearer token tessera sim wrote (new at
each start): tessera card reads it from --control-token-file, else from
$TESSERA_CONTROL_TOKEN, else from STATE/control.token.`,
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&o.state, "state", "", "the simulator's state directory (default $XDG_STATE_HOME/tessera or ~/.local/state/tessera)")
	pf.StringVar(&o.control, "control", "", "control API unix socket (default STATE/control.sock)")
	pf.StringVar(&o.controlTCP, "control-tcp", "", "control API on this loopback HOST:PORT instead (with the token of --control-token-file or $"+controlTokenEnv+")")
	pf.StringVar(&o.controlToken, "control-token-file", "", "with --control-tcp: read the control API's token from FILE (without it: the token in $"+controlTokenEnv+", else the file STATE/control.token)")
	pf.BoolVar(&o.json, "json", false, "print JSON")

	// run wraps an operation: a client, then print its result.
	run := func(fn func(ctx context.Context, c *simulator.Client, args []string) (any, func(io.Writer), error)) func(*cobra.Command, []string) error {
		return func(cmd *cobra.Command, args []string) error {
			c, err := o.client()
			if err != nil {
				return err
			}
			v, human, err := fn(cmd.Context(), c, args)
			var ae *simulator.APIError
			if errors.As(err, &ae) && ae.Status == http.StatusUnauthorized {
				return fmt.Errorf("%w (the token came from %s: is it the token of the simulator at %s?)", err, o.tokenFrom, o.controlTCP)
			}
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if o.json {
				enc := json.NewEncoder(w)
				enc.SetIndent("", "  ")
				return enc.Encode(v)
			}
			human(w)
			return nil
		}
	}
	infoOp := func(op func(*simulator.Client, context.Context, int) (simulator.CardInfo, error)) func(*cobra.Command, []string) error {
		return run(func(ctx context.Context, c *simulator.Client, args []string) (any, func(io.Writer), error) {
			id, err := cardID(args[0])
			if err != nil {
				return nil, nil, err
			}
			in, err := op(c, ctx, id)
			return in, func(w io.Writer) { printInfos(w, []simulator.CardInfo{in}) }, err
		})
	}

	list := &cobra.Command{
		Use: "list", Short: "List the cards", Args: cobra.NoArgs,
		RunE: run(func(ctx context.Context, c *simulator.Client, _ []string) (any, func(io.Writer), error) {
			cards, err := c.List(ctx)
			return cards, func(w io.Writer) { printInfos(w, cards) }, err
		}),
	}

	var add simulator.AddRequest
	var addSlot int
	addCmd := &cobra.Command{
		Use: "add", Short: "Add a card (its state is kept if the slot had one)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if cmd.Flags().Changed("slot") {
				add.Slot = &addSlot
			}
			return run(func(ctx context.Context, c *simulator.Client, _ []string) (any, func(io.Writer), error) {
				in, err := c.Add(ctx, add)
				return in, func(w io.Writer) { printInfos(w, []simulator.CardInfo{in}) }, err
			})(cmd, args)
		},
	}
	addCmd.Flags().IntVar(&addSlot, "slot", 0, "slot (card number); default: the lowest free")
	addCmd.Flags().StringVar(&add.Profile, "profile", "", "profile: a built-in name or a YAML file (default: the simulator's)")
	addCmd.Flags().Uint32Var(&add.Serial, "serial", 0, "serial number at first boot (default: the profile's plus the slot)")

	var wipe bool
	del := &cobra.Command{
		Use: "delete ID", Short: "Take a card out of the simulator (its state stays on disk unless --wipe)", Args: cobra.ExactArgs(1),
		RunE: run(func(ctx context.Context, c *simulator.Client, args []string) (any, func(io.Writer), error) {
			id, err := cardID(args[0])
			if err != nil {
				return nil, nil, err
			}
			err = c.Delete(ctx, id, wipe)
			return map[string]any{"deleted": id, "wiped": wipe}, func(w io.Writer) {
				fmt.Fprintf(w, "card %d deleted%s\n", id, map[bool]string{true: ", its state wiped", false: ""}[wipe])
			}, err
		}),
	}
	del.Flags().BoolVar(&wipe, "wipe", false, "also remove the card's state directory")

	insert := &cobra.Command{Use: "insert ID", Short: "Put a card in its reader (a mute card gets its power back)", Args: cobra.ExactArgs(1), RunE: infoOp((*simulator.Client).Insert)}
	remove := &cobra.Command{Use: "remove ID", Short: "Pull a card out of its reader", Args: cobra.ExactArgs(1), RunE: infoOp((*simulator.Client).Remove)}
	cycle := &cobra.Command{Use: "power-cycle ID", Short: "Cut a card's power and give it back", Args: cobra.ExactArgs(1), RunE: infoOp((*simulator.Client).PowerCycle)}

	var after int
	var disarm bool
	tear := &cobra.Command{
		Use: "tear ID --after K", Short: "Cut a card's power after K more persistent writes (--off disarms)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			switch {
			case disarm && cmd.Flags().Changed("after"):
				return errors.New("--after and --off: choose one")
			case !disarm && !cmd.Flags().Changed("after"):
				return errors.New("tear needs --after K (writes to let through before the cut) or --off")
			case !disarm && after < 0:
				return fmt.Errorf("--after %d: want 0 or more", after)
			}
			k := after
			if disarm {
				k = -1
			}
			return infoOp(func(c *simulator.Client, ctx context.Context, id int) (simulator.CardInfo, error) {
				return c.ArmTear(ctx, id, k)
			})(cmd, args)
		},
	}
	tear.Flags().IntVar(&after, "after", 0, "writes to let through before the power cut (0: the next write is cut)")
	tear.Flags().BoolVar(&disarm, "off", false, "disarm")

	var mode string
	touch := &cobra.Command{
		Use: "touch ID", Short: "Touch a card's sensor (or set its touch mode with --mode)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if mode != "" {
				m, err := simulator.ParseTouchMode(mode)
				if err != nil {
					return fmt.Errorf("--mode: %w", err)
				}
				return infoOp(func(c *simulator.Client, ctx context.Context, id int) (simulator.CardInfo, error) {
					return c.SetTouchMode(ctx, id, m)
				})(cmd, args)
			}
			return run(func(ctx context.Context, c *simulator.Client, args []string) (any, func(io.Writer), error) {
				id, err := cardID(args[0])
				if err != nil {
					return nil, nil, err
				}
				res, err := c.Touch(ctx, id)
				return res, func(w io.Writer) {
					if res.Waiting {
						fmt.Fprintf(w, "card %d touched\n", id)
					} else {
						fmt.Fprintf(w, "card %d touched; it was not waiting, so the touch counts for its next wait\n", id)
					}
				}, err
			})(cmd, args)
		},
	}
	touch.Flags().StringVar(&mode, "mode", "", "set the touch mode instead: auto, manual or never")

	state := &cobra.Command{
		Use: "state ID", Short: "Show a card's counters, keys and objects (never a secret)", Args: cobra.ExactArgs(1),
		RunE: run(func(ctx context.Context, c *simulator.Client, args []string) (any, func(io.Writer), error) {
			id, err := cardID(args[0])
			if err != nil {
				return nil, nil, err
			}
			st, err := c.State(ctx, id)
			return st, func(w io.Writer) { printState(w, st) }, err
		}),
	}

	var yes bool
	reset := &cobra.Command{
		Use: "factory-reset ID --yes", Short: "Erase a card back to its profile's factory state", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !yes {
				return errors.New("factory-reset erases the card's keys, certificates and PINs: add --yes to confirm")
			}
			return infoOp((*simulator.Client).FactoryReset)(cmd, args)
		},
	}
	reset.Flags().BoolVar(&yes, "yes", false, "confirm the erasure")

	reveal := &cobra.Command{
		Use: "reveal ID", Short: "Show, once, the random PIN/PUK a card was issued with (transport-pin-token, pin-puk-envelope)", Args: cobra.ExactArgs(1),
		RunE: run(func(ctx context.Context, c *simulator.Client, args []string) (any, func(io.Writer), error) {
			id, err := cardID(args[0])
			if err != nil {
				return nil, nil, err
			}
			in, err := c.RevealCredentials(ctx, id)
			return in, func(w io.Writer) {
				if in.PIN != "" {
					fmt.Fprintf(w, "PIN: %s\n", in.PIN)
				}
				if in.PUK != "" {
					fmt.Fprintf(w, "PUK: %s\n", in.PUK)
				}
				fmt.Fprintln(w, "(shown once: the card will not reveal them again)")
			}, err
		}),
	}

	enrol := &cobra.Command{
		Use: "totp-enrol ID", Short: "(Re-)enrol a cloud-signature card's TOTP authorisation; prints the otpauth:// URI once", Args: cobra.ExactArgs(1),
		RunE: run(func(ctx context.Context, c *simulator.Client, args []string) (any, func(io.Writer), error) {
			id, err := cardID(args[0])
			if err != nil {
				return nil, nil, err
			}
			e, err := c.EnrolTOTP(ctx, id)
			return e, func(w io.Writer) { fmt.Fprintln(w, e.URI) }, err
		}),
	}

	apduCmd := &cobra.Command{
		Use: "apdu ID HEX...", Short: "Send command APDUs (hex) to a card in process, bypassing pcscd", Args: cobra.MinimumNArgs(2),
		RunE: run(func(ctx context.Context, c *simulator.Client, args []string) (any, func(io.Writer), error) {
			id, err := cardID(args[0])
			if err != nil {
				return nil, nil, err
			}
			var results []simulator.TransmitResult
			for _, a := range args[1:] {
				res, err := c.Transmit(ctx, id, a)
				if err != nil {
					return nil, nil, err
				}
				results = append(results, res)
			}
			return results, func(w io.Writer) {
				for i, r := range results {
					fmt.Fprintf(w, "> %s\n< %s  [%s]\n", strings.ToUpper(args[i+1]), r.Response, swMeaning(r.SW))
				}
			}, nil
		}),
	}

	cmd.AddCommand(list, addCmd, del, insert, remove, cycle, tear, touch, state, reset, reveal, enrol, apduCmd)
	return cmd
}

func cardID(s string) (int, error) {
	id, err := strconv.Atoi(s)
	if err != nil || id < 0 {
		return 0, fmt.Errorf("card %q: want a card number such as 0 (see tessera card list)", s)
	}
	return id, nil
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func printInfos(w io.Writer, cards []simulator.CardInfo) {
	if len(cards) == 0 {
		fmt.Fprintln(w, "no cards")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CARD\tPROFILE\tSERIAL\tREADER\tINSERTED\tPOWERED\tNOTES")
	for _, c := range cards {
		reader := "in process"
		if c.IFD != "" {
			reader = fmt.Sprintf("%q", c.Reader)
			if c.Connected {
				reader += " (connected)"
			}
		}
		if c.VPCD != "" {
			reader = "vpcd " + c.VPCD
			if c.Connected {
				reader += " (connected)"
			} else {
				reader += " (not connected)"
			}
		}
		var notes []string
		if c.Mute {
			notes = append(notes, "MUTE (power lost; insert or power-cycle)")
		}
		if c.Tear != nil {
			if c.Tear.Fired {
				notes = append(notes, "tear fired")
			} else {
				notes = append(notes, fmt.Sprintf("tear armed: %d writes left", c.Tear.WritesLeft))
			}
		}
		if c.TouchMode != simulator.TouchAuto {
			notes = append(notes, "touch "+string(c.TouchMode))
		}
		if c.TouchWaiting != "" {
			notes = append(notes, "WAITING FOR A TOUCH (slot "+c.TouchWaiting+")")
		}
		fmt.Fprintf(tw, "%d\t%s\t%d\t%s\t%s\t%s\t%s\n", c.ID, c.Profile, c.Serial, reader, yesNo(c.Inserted), yesNo(c.Powered), strings.Join(notes, "; "))
	}
	tw.Flush()
}

func credential(c simulator.Credential) string {
	s := fmt.Sprintf("%d of %d tries left", c.Tries, c.Limit)
	if c.Blocked {
		s += ", BLOCKED"
	}
	if c.Default {
		s += ", factory value"
	}
	if c.MustChange {
		s += ", must be changed"
	}
	return s
}

func printState(w io.Writer, st simulator.CardState) {
	printInfos(w, []simulator.CardInfo{st.CardInfo})
	if st.ISO != nil {
		printISOState(w, st.ISO)
		if st.PINVerifiedNote != "" { // no PIV application
			printMemory(w, st)
			return
		}
	}
	fmt.Fprintf(w, "\nserial (GET SERIAL): %d\n", st.CardSerial)
	verified := "unknown"
	if st.PINVerified != nil {
		verified = yesNo(*st.PINVerified)
	}
	if st.PINVerifiedNote != "" {
		verified += " (" + st.PINVerifiedNote + ")"
	}
	fmt.Fprintf(w, "PIN: %s; verified: %s\n", credential(st.PIN), verified)
	fmt.Fprintf(w, "PUK: %s\n", credential(st.PUK))
	mk := fmt.Sprintf("management key: %s, touch %s", st.MgmtKey.Algorithm, st.MgmtKey.Touch)
	if st.MgmtKey.Default {
		mk += ", factory value"
	}
	fmt.Fprintln(w, mk)
	if t := st.TOTP; t != nil {
		fmt.Fprintf(w, "TOTP: enrolled %s, %d wrong codes left, blocked %s\n", yesNo(t.Enrolled), t.Tries, yesNo(t.Blocked))
	}
	if st.SignaturesLeft != nil {
		fmt.Fprintf(w, "signatures left: %d\n", *st.SignaturesLeft)
	}
	if st.IssuedUnrevealed {
		fmt.Fprintln(w, "issued PIN/PUK: not yet revealed (tessera card reveal)")
	}
	if len(st.Keys) == 0 {
		fmt.Fprintln(w, "keys: none")
	} else {
		fmt.Fprintln(w, "keys:")
		for _, k := range st.Keys {
			fmt.Fprintf(w, "  %s  %s, %s, PIN %s, touch %s\n", k.Slot, k.Algorithm, k.Origin, k.PINPolicy, k.Touch)
		}
	}
	if len(st.Objects) == 0 {
		fmt.Fprintln(w, "objects: none")
	} else {
		fmt.Fprintln(w, "objects:")
		for _, o := range st.Objects {
			fmt.Fprintf(w, "  %s  %d bytes  %s\n", o.Tag, o.Size, o.Name)
		}
	}
	printMemory(w, st)
}

// printISOState prints the ISO 7816 file-system application's state.
func printISOState(w io.Writer, is *isoapp.State) {
	fmt.Fprintf(w, "\nISO application: life cycle %s\n", is.LifeCycle)
	for _, c := range []struct {
		name string
		st   *pin.Status
	}{{"PIN", is.PIN}, {"PUK", is.PUK}} {
		if c.st == nil {
			fmt.Fprintf(w, "%s: not set\n", c.name)
			continue
		}
		fmt.Fprintf(w, "%s: %s\n", c.name, credential(simulator.Credential{Tries: c.st.Tries, Limit: c.st.Limit, Blocked: c.st.Blocked()}))
	}
	if len(is.Files) == 0 {
		fmt.Fprintln(w, "files: the MF alone")
	} else {
		fmt.Fprintln(w, "files:")
		for _, f := range is.Files {
			if f.DF {
				fmt.Fprintf(w, "  %s  DF\n", f.Path)
			} else {
				fmt.Fprintf(w, "  %s  EF, %d bytes\n", f.Path, f.Size)
			}
		}
	}
	if len(is.Keys) == 0 {
		fmt.Fprintln(w, "keys: none")
	} else {
		fmt.Fprintln(w, "keys:")
		for _, k := range is.Keys {
			fmt.Fprintf(w, "  slot %d  %s\n", k.Slot, k.Algorithm)
		}
	}
}

func printMemory(w io.Writer, st simulator.CardState) {
	capacity := "no limit"
	if st.MemoryCapacity > 0 {
		capacity = strconv.Itoa(st.MemoryCapacity)
	}
	fmt.Fprintf(w, "memory: %d bytes used of %s; generation %d\n", st.MemoryUsed, capacity, st.Generation)
}
