package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestShippedScenarios runs every scenario in scenarios/ on the simulator.
func TestShippedScenarios(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "..", "scenarios", "*.yaml"))
	if err != nil || len(files) < 5 {
		t.Fatalf("scenarios: %v, %d files", err, len(files))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, _, err := runTessera(ctx, append([]string{"scenario"}, files...)...)
	if err != nil {
		t.Fatalf("tessera scenario: %v\n%s", err, out)
	}
	if got := strings.Count(out, "PASS "); got != len(files) {
		t.Errorf("%d of %d scenarios passed:\n%s", got, len(files), out)
	}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		fmt.Println("report: scenario " + line)
	}
}

// TestScenarioMessages: a scenario with a syntax error, and one whose
// expectation fails, give the exact messages a user needs: file, line,
// step, what was expected and what came; pin_verified on a YubiKey's
// OpenPGP application, which has no status query, says so.
func TestScenarioMessages(t *testing.T) {
	dir := filepath.Join("testdata", "scenarios")
	tests := []struct {
		file    string
		wantOut string
		wantErr string
	}{
		{
			file:    "syntax-error.yaml",
			wantErr: `testdata/scenarios/syntax-error.yaml:5: step 3: unknown step "verfy" (known: assert, authenticate, change_pin, change_puk, clock, enrol, generate, get_data, insert, oath_put, personalise, power_cycle, put_data, remove, reset, restart, reveal, select, send, sign, tear, totp, touch_mode, unblock, verify)`,
		},
		{
			file:    "failing-expectation.yaml",
			wantOut: "FAIL testdata/scenarios/failing-expectation.yaml:6: step 3 (verify): the card answered 63C1 (1 try left), want 63C2\n",
			wantErr: "scenario failed: 1 of 1",
		},
		{
			file:    "failing-assert.yaml",
			wantOut: "FAIL testdata/scenarios/failing-assert.yaml:4: step 2 (assert): pin_tries is 2, want 3\n",
			wantErr: "scenario failed: 1 of 1",
		},
		{
			file:    "openpgp-yubikey-status.yaml",
			wantOut: "FAIL testdata/scenarios/openpgp-yubikey-status.yaml:6: step 2 (assert): pin_verified: the card does not tell whether PW1 is verified: VERIFY without data answered 6A80, as a YubiKey's OpenPGP application does (assert pin_tries, or send a command that needs PW1)\n",
			wantErr: "scenario failed: 1 of 1",
		},
	}
	for _, tt := range tests {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		out, _, err := runTessera(ctx, "scenario", filepath.Join(dir, tt.file))
		cancel()
		if err == nil || err.Error() != tt.wantErr {
			t.Errorf("%s: error %v\nwant %s", tt.file, err, tt.wantErr)
		}
		if out != tt.wantOut {
			t.Errorf("%s: printed %q\nwant %q", tt.file, out, tt.wantOut)
		}
		if tt.wantOut != "" && !errors.Is(err, errScenario) {
			t.Errorf("%s: error %v does not wrap errScenario", tt.file, err)
		}
	}
}
