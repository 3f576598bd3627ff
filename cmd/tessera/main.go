// Command tessera is Tessera's one binary: the card simulator and the tools
// that talk to cards. Run `tessera help` for the commands.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "tessera",
		Short:         "An emulated smart card (PIV, and an ISO 7816 file-system token), its simulator and tools",
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	// -V, as curl, ssh and grep have it: -v is --verbose where a command
	// has one (tessera scenario -v).
	root.Flags().BoolP("version", "V", false, "print the version")
	root.AddCommand(newSimCmd(), newCardCmd(), newTraceCmd(), newDiagCmd(), newConformCmd(), newScenarioCmd(), newReplayCmd())
	return root
}

func main() { os.Exit(run()) }

// run runs the command line in os.Args and returns the exit status: 0, or 1
// after printing the error. Tests run it in process (testscript's Main).
func run() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := newRootCmd().ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "tessera:", err)
		return 1
	}
	return 0
}
