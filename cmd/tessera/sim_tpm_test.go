package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tesseracard/tessera/internal/hosttest"
	"github.com/tesseracard/tessera/simulator/tpmstore/swtpmtest"
)

// runSimFor runs `tessera sim --tpm spec` on dir, sends each APDU (hex) to
// card 0 through `tessera card apdu`, stops the simulator and returns the
// outputs, or the error with which the simulator refused to start.
func runSimFor(t *testing.T, dir, spec string, apdus ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, _, err := runTessera(ctx, "sim", "--no-vpcd", "--state", dir, "--tpm", spec)
		done <- err
	}()
	sock := filepath.Join(dir, "control.sock")
	for {
		if _, err := os.Stat(sock); err == nil {
			break
		}
		select {
		case err := <-done:
			return "", err
		case <-time.After(20 * time.Millisecond):
		}
	}
	out := ""
	if len(apdus) > 0 {
		o, _, err := runTessera(context.Background(), append([]string{"card", "--state", dir, "apdu", "0"}, apdus...)...)
		if err != nil {
			t.Fatalf("tessera card apdu: %v", err)
		}
		out = o
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("sim: %v", err)
	}
	return out, nil
}

// TestSimTPMRefusesRollback: `tessera sim --tpm unix:SOCKET` against swtpm.
// A wrong PIN spends a try; the state file from before it, put back, is
// refused at the next start.
func TestSimTPMRefusesRollback(t *testing.T) {
	sw := swtpmtest.Start(t)
	dir := hosttest.ShortDir(t)
	state := filepath.Join(dir, "cards", "0", "card.state")
	if _, err := runSimFor(t, dir, sw.Spec()); err != nil { // first boot
		t.Fatal(err)
	}
	before, err := os.ReadFile(state)
	if err != nil {
		t.Fatal(err)
	}
	out, err := runSimFor(t, dir, sw.Spec(), "00A4040005A000000308", "002000800839393939393939FF")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "63C2") {
		t.Fatalf("wrong PIN through the TPM-backed card: %s, want 63C2", out)
	}
	sw.Restart(t) // the machine's TPM across a reboot
	out, err = runSimFor(t, dir, sw.Spec(), "00A4040005A000000308", "00200080")
	if err != nil || !strings.Contains(out, "63C2") {
		t.Fatalf("after a restart: %q, %v; want the PIN at 63C2", out, err)
	}
	if err := os.WriteFile(state, before, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = runSimFor(t, dir, sw.Spec())
	if err == nil || !strings.Contains(err.Error(), "state rolled back") || !strings.Contains(err.Error(), state) {
		t.Fatalf("sim on a copied-back state file: error = %v, want \"state rolled back\" naming %s", err, state)
	}
	// Without the TPM the protected file does not open either.
	_, _, err = runTessera(context.Background(), "sim", "--no-vpcd", "--state", dir)
	if err == nil || !strings.Contains(err.Error(), "TPM") {
		t.Errorf("sim without --tpm on a protected state: error = %v, want one saying it is bound to a TPM", err)
	}
}

func TestSimTPMFlagErrors(t *testing.T) {
	dir := hosttest.ShortDir(t)
	for _, tt := range []struct{ spec, want string }{
		{"", "--tpm \"\""},
		{"unix:" + filepath.Join(dir, "none.sock"), "--tpm: tpmstore: opening TPM unix:"},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, _, err := runTessera(ctx, "sim", "--no-vpcd", "--state", dir, "--tpm", tt.spec)
		cancel()
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("sim --tpm %q: error = %v, want one containing %q", tt.spec, err, tt.want)
		}
	}
}
