package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tesseracard/tessera/firmware/nvm"
	"github.com/tesseracard/tessera/firmware/profile"
	"github.com/tesseracard/tessera/relay"
	"github.com/tesseracard/tessera/simulator"
	"github.com/tesseracard/tessera/simulator/tpmstore"
)

// defaultStateDir is $XDG_STATE_HOME/tessera, or ~/.local/state/tessera.
func defaultStateDir() (string, error) {
	if d := os.Getenv("XDG_STATE_HOME"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "tessera"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("no state directory: set --state, XDG_STATE_HOME or HOME (%w)", err)
	}
	return filepath.Join(home, ".local", "state", "tessera"), nil
}

// controlSocket returns the control socket path: explicit, or in the state
// directory.
func controlSocket(explicit, state string) (string, error) {
	return stateFile(explicit, state, "control.sock")
}

// controlTokenPath returns the path of the control API's token file:
// explicit, or in the state directory.
func controlTokenPath(explicit, state string) (string, error) {
	return stateFile(explicit, state, simulator.ControlTokenFile)
}

// stateFile returns explicit, or the file name in the state directory
// (state, or the default).
func stateFile(explicit, state, name string) (string, error) {
	if explicit != "" {
		return explicit, nil
	}
	if state == "" {
		var err error
		if state, err = defaultStateDir(); err != nil {
			return "", err
		}
	}
	return filepath.Join(state, name), nil
}

type simOptions struct {
	state        string
	profiles     []string
	cards        int
	vpcd         string
	noVPCD       bool
	vpcdAnyOwner bool
	bridge       string        // --bridge: vpcd or ifd
	readerNames  []string      // --reader-name, with --bridge ifd
	ifdDir       string        // --ifd-dir
	ifdSpin      time.Duration // --ifd-spin
	control      string
	controlTCP   string
	controlToken string // --control-token-file
	trace        string
	serial       uint32
	touch        string
	touchTimeout time.Duration
	logLevel     string
	tpm          string
	relay        string // --relay READER
	traceSecrets bool
}

func newSimCmd() *cobra.Command {
	var o simOptions
	cmd := &cobra.Command{
		Use:   "sim",
		Short: "Run the card simulator: cards visible to PC/SC programs through pcscd's vpcd driver",
		Long: `Run the card simulator. Each card keeps its persistent memory in
STATE/cards/<n>/ and connects to the vsmartcard vpcd driver inside pcscd
(card n to port 35963+n, the readers "Virtual PCD 00 00" and "Virtual PCD 00 01"
of the first pcscd). The control API (tessera card ...) listens on
STATE/control.sock. Logs go to stderr; PINs and keys are never logged.

The control API is an administrator interface (it wipes cards and reveals
issued PINs). On its unix socket (mode 0600) the file mode is the
authentication. With --control-tcp every request needs a bearer token, made
new at each start and written to STATE/control.token (mode 0600; or
--control-token-file), where tessera card finds it; requests with a browser's
Origin header, a Host other than loopback, or a body that is not JSON are
refused.

With --tpm, each card's state file is encrypted with a key sealed by a TPM
and bound to a TPM NV counter, so that an older copy of the file put back
(restoring spent PIN tries) or the file copied to another machine (cloning
the card's keys) is refused (docs/tpm.md). --tpm names the
TPM: a device (/dev/tpmrm0; Linux only), unix:SOCKET (swtpm socket --tpm2
--server type=unixio,path=SOCKET), or sim, the in-process reference
simulator (Linux builds with cgo only), whose TPM lives and dies with this
process: with sim the state cannot survive a restart, it only
demonstrates. State files made without --tpm do not open with it, nor the
reverse.

With --relay READER, card 0 is the real card in the PC/SC reader READER
(its exact name or a unique part of it): every APDU a program sends to card
0's vpcd reader goes to the real card as it is, and its answer comes back
as it is (no GET RESPONSE or 6Cxx handling of the relay's own); power-on and
reset reset the real card, the ATR is the real card's, and when the real
card leaves its reader card 0 leaves its vpcd reader, and comes back with
it. Simulated cards (--cards, none by default with --relay) follow in slots
1 and up. Give --vpcd a port other than the real reader's own vpcd slot
when the real card is itself simulated. --trace records the relayed
session with what a host-side rule set knows to be secret redacted (PIN,
PUK, management key, key import, decryption; anything it does not know);
--trace-secrets keeps everything, PINs and keys in clear (docs/simulator.md).

With --bridge ifd, the cards reach pcscd through Tessera's own reader driver
instead of vpcd (docs/ifd-bridge.md; Linux only): card n serves the driver
on the unix socket IFD-DIR/card-n.sock, and its reader is named by the n-th
--reader-name (pcscd appends the slot in hex and 00: "NAME 00 00" for
card 0, "NAME 01 00" for card 1; default "Tessera IFD n"). Up to 16
cards, the readers of one pcscd; scripts/ifd.sh start NAME... writes that
pcscd's reader.conf and starts it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runSim(cmd, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.state, "state", "", "state directory (default $XDG_STATE_HOME/tessera or ~/.local/state/tessera)")
	f.StringSliceVar(&o.profiles, "profile", []string{"default"}, "profile of new cards: "+strings.Join(profile.Names(), ", ")+", or a YAML file; a list (repeat the flag or separate with commas) gives card n the n-th, the last one repeating, e.g. --cards 2 --profile default,iso-token")
	f.IntVar(&o.cards, "cards", 1, "number of cards, in slots 0 to N-1")
	f.StringVar(&o.vpcd, "vpcd", fmt.Sprintf("127.0.0.1:%d", simulator.DefaultVPCDPort), "vpcd HOST:PORT of slot 0; card n uses PORT+n")
	f.BoolVar(&o.noVPCD, "no-vpcd", false, "no vpcd links: the cards are reachable through the control API only")
	f.BoolVar(&o.vpcdAnyOwner, "vpcd-any-owner", false, "hand the cards to whatever holds their loopback vpcd ports; without it a card connects only to a port held by root (pcscd) or this user (Linux)")
	f.StringVar(&o.bridge, "bridge", "vpcd", "how the cards reach pcscd: vpcd (the vsmartcard driver) or ifd (Tessera's own driver, scripts/ifd.sh; Linux only)")
	f.StringArrayVar(&o.readerNames, "reader-name", nil, "with --bridge ifd: the PC/SC reader name of the next card (repeat: one per card, in slot order)")
	f.StringVar(&o.ifdDir, "ifd-dir", "", "with --bridge ifd: the directory of the cards' sockets (default $TESSERA_RUN_DIR/ifd, or /run/tessera/ifd)")
	f.DurationVar(&o.ifdSpin, "ifd-spin", simulator.DefaultIFDSpin, "with --bridge ifd: how long a card that answered an APDU waits awake (on the CPU) for the next before it sleeps; 0: it sleeps at once (docs/ifd-bridge.md)")
	f.StringVar(&o.control, "control", "", "control API unix socket (default STATE/control.sock)")
	f.StringVar(&o.controlTCP, "control-tcp", "", "serve the control API on this loopback HOST:PORT instead of the unix socket (requests need the token of --control-token-file)")
	f.StringVar(&o.controlToken, "control-token-file", "", "with --control-tcp: write the control API's bearer token, new at each start, to FILE (mode 0600; default STATE/control.token)")
	f.StringVar(&o.trace, "trace", "", "append a JSON Lines trace of every exchange to FILE (secrets redacted)")
	f.Uint32Var(&o.serial, "serial", 0, "serial number of card 0 at its first boot; card n gets SERIAL+n (default: the profile's)")
	f.StringVar(&o.touch, "touch", "auto", "touch sensor: auto (touched at once), manual (waits for tessera card touch N), never")
	f.DurationVar(&o.touchTimeout, "touch-timeout", simulator.DefaultTouchTimeout, "how long a card in manual touch mode waits for a touch")
	f.StringVar(&o.logLevel, "log-level", "info", "debug, info, warn or error")
	f.StringVar(&o.relay, "relay", "", "card 0 relays the real card in this PC/SC reader (exact name or a unique part of it)")
	f.BoolVar(&o.traceSecrets, "trace-secrets", false, "with --relay and --trace: record the relayed session unredacted, PINs and keys in clear")
	f.StringVar(&o.tpm, "tpm", "", "seal each card's state with a TPM and refuse rolled-back state: PATH (a Linux TPM device: /dev/tpmrm0), unix:SOCKET (swtpm), or sim (in-process simulator: a demonstration, its state cannot survive a restart)")
	return cmd
}

// check validates the flags, each error naming its flag.
func (o *simOptions) check(cmd *cobra.Command) error {
	if o.cards < 0 || o.cards > simulator.MaxSlots {
		return fmt.Errorf("--cards %d: want 0 to %d", o.cards, simulator.MaxSlots)
	}
	if o.noVPCD && cmd.Flags().Changed("vpcd") {
		return errors.New("--vpcd and --no-vpcd contradict each other")
	}
	if cmd.Flags().Changed("vpcd-any-owner") && (o.noVPCD || o.bridge != "vpcd") {
		return errors.New("--vpcd-any-owner is for vpcd links: not with --no-vpcd or --bridge ifd")
	}
	if err := o.checkBridge(cmd); err != nil {
		return err
	}
	if !o.noVPCD && o.bridge == "vpcd" {
		_, port, err := simulator.ParseVPCDAddr(o.vpcd)
		if err != nil {
			return fmt.Errorf("--vpcd: %w", err)
		}
		if o.cards > 0 && port+o.cards-1 > 65535 {
			return fmt.Errorf("--vpcd port %d with --cards %d: the last card's port would be past 65535", port, o.cards)
		}
	}
	if cmd.Flags().Changed("serial") && o.serial == 0 {
		return errors.New("--serial 0: a serial number is 1 or more")
	}
	if _, err := simulator.ParseTouchMode(o.touch); err != nil {
		return fmt.Errorf("--touch: %w", err)
	}
	if o.touchTimeout <= 0 {
		return fmt.Errorf("--touch-timeout %v: want a positive duration", o.touchTimeout)
	}
	if len(o.profiles) == 0 {
		return errors.New("--profile: name at least one profile")
	}
	for _, p := range o.profiles {
		if _, err := simulator.ResolveProfile(p); err != nil {
			return fmt.Errorf("--profile: %w", err)
		}
	}
	if o.control != "" && o.controlTCP != "" {
		return errors.New("--control and --control-tcp: choose one")
	}
	if o.controlToken != "" && o.controlTCP == "" {
		return errors.New("--control-token-file goes with --control-tcp: the unix socket needs no token")
	}
	if cmd.Flags().Changed("relay") && o.relay == "" {
		return errors.New("--relay \"\": name the PC/SC reader of the real card")
	}
	if o.traceSecrets && (o.relay == "" || o.trace == "") {
		return errors.New("--trace-secrets goes with --relay and --trace: a simulated card's trace is redacted by its applications")
	}
	if o.relay != "" && o.cards > simulator.MaxSlots-1 {
		return fmt.Errorf("--cards %d with --relay: the relayed card takes slot 0, so at most %d", o.cards, simulator.MaxSlots-1)
	}
	if cmd.Flags().Changed("tpm") && o.tpm == "" {
		return errors.New("--tpm \"\": want a device path such as /dev/tpmrm0, unix:SOCKET or sim")
	}
	return nil
}

// maxIFDReaders is how many readers one pcscd has
// (PCSCLITE_MAX_READERS_CONTEXTS), and the driver's table.
const maxIFDReaders = 16

// checkBridge validates --bridge and the flags that go with it.
func (o *simOptions) checkBridge(cmd *cobra.Command) error {
	switch o.bridge {
	case "vpcd":
		if len(o.readerNames) > 0 || o.ifdDir != "" {
			return errors.New("--reader-name and --ifd-dir go with --bridge ifd: vpcd names its readers itself (\"Virtual PCD 00 0N\")")
		}
		if cmd.Flags().Changed("ifd-spin") {
			return errors.New("--ifd-spin goes with --bridge ifd")
		}
		return nil
	case "ifd":
	default:
		return fmt.Errorf("--bridge %q: want vpcd or ifd", o.bridge)
	}
	if runtime.GOOS != "linux" {
		return fmt.Errorf("--bridge ifd: supported on Linux only (a pcsc-lite reader driver); %s has vpcd or --no-vpcd", runtime.GOOS)
	}
	if o.noVPCD || cmd.Flags().Changed("vpcd") {
		return errors.New("--bridge ifd and --vpcd/--no-vpcd: the cards have one bridge")
	}
	if o.ifdSpin < 0 || o.ifdSpin > simulator.MaxIFDSpin {
		return fmt.Errorf("--ifd-spin %v: want 0 (never) up to %v", o.ifdSpin, simulator.MaxIFDSpin)
	}
	total := o.cards
	if o.relay != "" {
		total++
	}
	if total > maxIFDReaders {
		return fmt.Errorf("--bridge ifd with %d cards: one pcscd has at most %d readers", total, maxIFDReaders)
	}
	if len(o.readerNames) > total {
		return fmt.Errorf("--reader-name given %d times for %d cards: one name per card", len(o.readerNames), total)
	}
	seen := map[string]bool{}
	for _, n := range o.readerNames {
		if !validReaderName(n) {
			return fmt.Errorf("--reader-name %q: letters, digits, spaces and +._- only, starting with a letter or digit, at most 64 bytes", n)
		}
		if seen[n] {
			return fmt.Errorf("--reader-name %q twice: each card's reader needs its own name", n)
		}
		seen[n] = true
	}
	return nil
}

// validReaderName: what scripts/ifd.sh writes into reader.conf as it is.
func validReaderName(n string) bool {
	if n == "" || len(n) > 64 {
		return false
	}
	for i, c := range n {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !ok && (i == 0 || !strings.ContainsRune(" +._-", c)) {
			return false
		}
	}
	return true
}

// defaultIFDDir is where scripts/ifd.sh looks for the cards' sockets.
func defaultIFDDir() string {
	if d := os.Getenv("TESSERA_RUN_DIR"); d != "" {
		return filepath.Join(d, "ifd")
	}
	return "/run/tessera/ifd"
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("--log-level %q: want debug, info, warn or error", s)
	}
	return l, nil
}

// tpmOpenTimeout bounds connecting to the TPM at start.
const tpmOpenTimeout = 30 * time.Second

// openTPM connects to the --tpm TPM.
func openTPM(ctx context.Context, spec string, log *slog.Logger) (*tpmstore.TPM, error) {
	ctx, cancel := context.WithTimeout(ctx, tpmOpenTimeout)
	defer cancel()
	tpm, err := tpmstore.Open(ctx, spec)
	if err != nil {
		return nil, fmt.Errorf("--tpm: %w", err)
	}
	if spec == "sim" {
		log.Warn("--tpm sim: the in-process TPM simulator lives only as long as this process; the cards' state cannot be opened after a restart (a demonstration only)")
	}
	log.Info("card state sealed by a TPM, rollback refused", "tpm", spec)
	return tpm, nil
}

func runSim(cmd *cobra.Command, o simOptions) error {
	if o.relay != "" && !cmd.Flags().Changed("cards") {
		o.cards = 0
	}
	if n := len(o.readerNames); o.bridge == "ifd" && n > 0 && !cmd.Flags().Changed("cards") {
		o.cards = n // one card per name
		if o.relay != "" {
			o.cards = n - 1
		}
	}
	if err := o.check(cmd); err != nil {
		return err
	}
	level, err := parseLevel(o.logLevel)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: level}))
	if o.state == "" {
		if o.state, err = defaultStateDir(); err != nil {
			return err
		}
	}
	var tracer *simulator.Tracer
	if o.trace != "" {
		f, err := os.OpenFile(o.trace, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
		if err != nil {
			return fmt.Errorf("--trace: %w", err)
		}
		defer f.Close()
		tracer = simulator.NewTracer(f)
	}
	cfg := simulator.Config{
		StateDir: o.state, Profile: o.profiles[0], Tracer: tracer, Log: log,
		TouchMode: simulator.TouchMode(o.touch), TouchTimeout: o.touchTimeout,
	}
	if o.tpm != "" {
		tpm, err := openTPM(cmd.Context(), o.tpm, log)
		if err != nil {
			return err
		}
		defer tpm.Close()
		cfg.Protect = func(path string, m nvm.Medium) (nvm.Medium, error) { return tpm.Protect(path, m) }
	}
	switch {
	case o.bridge == "ifd":
		cfg.IFDDir, cfg.IFDReaderNames, cfg.IFDSpin = o.ifdDir, o.readerNames, o.ifdSpin
		if o.ifdSpin == 0 {
			cfg.IFDSpin = -1 // the Config's zero is the default
		}
		if cfg.IFDDir == "" {
			cfg.IFDDir = defaultIFDDir()
		}
	case !o.noVPCD:
		cfg.VPCD, cfg.VPCDAnyOwner = o.vpcd, o.vpcdAnyOwner
	}
	sim, err := simulator.New(cfg)
	if err != nil {
		return err
	}
	defer sim.Close()

	// simulator.New has locked the state directory: a second simulator on it
	// stopped there, its error naming the first one's pid. The control
	// socket next, before any card is touched: it refuses a second simulator
	// on the same socket.
	sock := ""
	if o.controlTCP == "" {
		if sock, err = controlSocket(o.control, o.state); err != nil {
			return err
		}
	}
	ln, err := simulator.ListenControl(sock, o.controlTCP)
	if err != nil {
		return err
	}
	defer ln.Close()
	// Over TCP, a new token for this run, written before the first request
	// is served.
	token, tokenPath, err := newControlToken(o)
	if err != nil {
		return err
	}

	ctx, cancel := context.WithCancel(cmd.Context())
	defer cancel()
	var cards []simulator.CardInfo
	first := 0 // the first simulated card's slot
	if o.relay != "" {
		if o.traceSecrets {
			log.Warn("--trace-secrets: the trace will hold PINs and keys in clear", "trace", o.trace)
		}
		real, err := openRelayReader(o.relay)
		if err != nil {
			return fmt.Errorf("--relay: %w", err)
		}
		defer real.Close()
		r, err := relay.Start(ctx, sim, 0, real, relay.Options{Secrets: o.traceSecrets})
		if err != nil {
			return fmt.Errorf("--relay: %w", err)
		}
		cards = append(cards, r.Info())
		first = 1
	}
	for i := range o.cards {
		spec := simulator.CardSpec{Slot: first + i}
		if cmd.Flags().Changed("profile") { // else a card keeps the profile it was made with
			spec.Profile = o.profiles[min(i, len(o.profiles)-1)]
		}
		if o.serial != 0 {
			spec.Serial = o.serial + uint32(i)
		}
		r, err := sim.Add(spec)
		if err != nil {
			return err
		}
		cards = append(cards, r.Info())
	}
	if err := writeBanner(cmd.OutOrStdout(), cards); err != nil {
		return err
	}

	served := make(chan error, 1)
	go func() { served <- simulator.ServeControl(ctx, ln, sim, log, token) }()
	where := ln.Addr().String()
	ready := []any{"cards", o.cards, "state", o.state, "control", where, "vpcd", cfg.VPCD}
	if cfg.IFDDir != "" {
		ready = append(ready, "ifd", cfg.IFDDir)
	}
	if tokenPath != "" {
		ready = append(ready, "control_token_file", tokenPath)
	}
	log.Info("tessera sim ready", ready...)

	var serveErr error
	select {
	case <-ctx.Done():
		log.Info("tessera sim stopping")
		serveErr = <-served
	case serveErr = <-served:
	}
	cancel()
	sim.Close()
	if serveErr != nil {
		return fmt.Errorf("control API: %w", serveErr)
	}
	return tracer.Err()
}

// newControlToken makes and writes the control API's token when it is served
// over TCP, and returns it with its file's path; on the unix socket there is
// none.
func newControlToken(o simOptions) (token, path string, err error) {
	if o.controlTCP == "" {
		return "", "", nil
	}
	if path, err = controlTokenPath(o.controlToken, o.state); err != nil {
		return "", "", err
	}
	if token, err = simulator.NewControlToken(); err != nil {
		return "", "", err
	}
	if err := simulator.WriteControlToken(path, token); err != nil {
		return "", "", fmt.Errorf("--control-token-file: %w", err)
	}
	return token, path, nil
}
