package main

import (
	"bufio"
	"context"
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tesseracard/tessera/internal/hosttest"
)

// helperProcessEnv makes the test binary run the tessera command line with
// the arguments after "--" (TestTesseraHelperProcess): `tessera` as a
// process of its own, for tests that need two of them or a kill -9.
const helperProcessEnv = "TESSERA_TEST_HELPER_PROCESS"

func TestTesseraHelperProcess(t *testing.T) {
	if os.Getenv(helperProcessEnv) != "1" {
		return
	}
	for i, a := range os.Args {
		if a == "--" {
			os.Args = append([]string{"tessera"}, os.Args[i+1:]...)
			break
		}
	}
	main()
	os.Exit(0)
}

// tesseraProcess returns `tessera args...` as a process of its own.
func tesseraProcess(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, os.Args[0], append([]string{"-test.run=^TestTesseraHelperProcess$", "--"}, args...)...)
	cmd.Env = append(os.Environ(), helperProcessEnv+"=1")
	return cmd
}

// startSim starts `tessera sim args...` as a process of its own and returns
// once it is ready; the test kills it at the end if still running.
func startSim(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	cmd := tesseraProcess(context.Background(), append([]string{"sim"}, args...)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	ready := make(chan bool, 1)
	var log strings.Builder
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			log.WriteString(sc.Text() + "\n")
			if strings.Contains(sc.Text(), "tessera sim ready") {
				ready <- true
				break
			}
		}
		close(ready)
		for sc.Scan() { // drain, so that the simulator never blocks on its log
		}
	}()
	select {
	case ok := <-ready:
		if !ok {
			t.Fatalf("tessera sim %s ended before it was ready:\n%s", strings.Join(args, " "), log.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("tessera sim %s: not ready after 20s", strings.Join(args, " "))
	}
	return cmd
}

// TestSimTwoOnOneState: two `tessera sim` processes on one state directory,
// the second with its control API on TCP so that no control socket stands
// in its way. The second exits with an error naming the directory and the
// first's pid, before it touches anything: with an ISO token (whose first
// boot writes no state file) both used to start, and one's writes were lost
// to the other's. Once the first is killed (-9), the lock file it leaves
// does not stop the next start.
func TestSimTwoOnOneState(t *testing.T) {
	dir := hosttest.ShortDir(t)
	first := startSim(t, "--state", dir, "--no-vpcd", "--profile", "iso-token")

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := tesseraProcess(ctx, "sim", "--state", dir, "--no-vpcd", "--profile", "iso-token", "--control-tcp", "127.0.0.1:0").CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("a second tessera sim on %s was still running after 20s:\n%s", dir, out)
	}
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() == 0 {
		t.Fatalf("second tessera sim on %s: %v, want a non-zero exit\n%s", dir, err, out)
	}
	for _, want := range []string{"state directory in use", dir, "process " + strconv.Itoa(first.Process.Pid)} {
		if !strings.Contains(string(out), want) {
			t.Errorf("second tessera sim's error lacks %q:\n%s", want, out)
		}
	}

	first.Process.Kill()
	first.Wait()
	again := startSim(t, "--state", dir, "--no-vpcd", "--control-tcp", "127.0.0.1:0")
	again.Process.Signal(os.Interrupt)
	if err := again.Wait(); err != nil {
		t.Errorf("tessera sim after the first was killed: %v", err)
	}
}
