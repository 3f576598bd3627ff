package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/tesseracard/tessera/simulator"
)

// TestMain makes the test binary the tessera command when testscript runs
// it as one (the scripts' `tessera ...` and `exec tessera ...`): the command
// line as a person types it, in process.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){"tessera": func() { os.Exit(run()) }})
}

// maxSocketPath is the longest unix socket path every platform takes
// (sockaddr_un's sun_path: 104 bytes on macOS and the BSDs, 108 on Linux,
// with its terminating NUL).
const maxSocketPath = 103

// TestScripts runs the command-line scripts in testdata/script: each
// subcommand's --help and its main flows, as a user types them.
//
// Besides testscript's own, the scripts have:
//
//	$STATE          a state directory of their own, short enough for the
//	                control socket
//	waitsim [SOCK]  wait (up to 20s) until a simulator answers on its
//	                control socket (default $STATE/control.sock)
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: filepath.Join("testdata", "script"),
		Setup: func(env *testscript.Env) error {
			state := filepath.Join(env.WorkDir, "state")
			if len(filepath.Join(state, "control.sock")) > maxSocketPath {
				d, err := os.MkdirTemp("", "tss")
				if err != nil {
					return err
				}
				env.Defer(func() { os.RemoveAll(d) })
				state = filepath.Join(d, "state")
			}
			env.Setenv("STATE", state)
			// No simulator of the user's is ever reached.
			env.Setenv("XDG_STATE_HOME", filepath.Join(env.WorkDir, "xdg"))
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"waitsim": cmdWaitSim,
		},
	})
}

// cmdWaitSim waits until a simulator's control API answers on the socket.
func cmdWaitSim(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) > 1 {
		ts.Fatalf("usage: waitsim [SOCKET]")
	}
	sock := filepath.Join(ts.Getenv("STATE"), "control.sock")
	if len(args) == 1 {
		sock = ts.MkAbs(args[0])
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c := simulator.NewClient(sock, "")
	for {
		if _, err := c.List(ctx); err == nil {
			return
		} else if ctx.Err() != nil {
			ts.Fatalf("no simulator answers on %s after 20s: %v", sock, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
