package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/tesseracard/tessera/internal/hosttest"
	"github.com/tesseracard/tessera/simulator"
)

// runTessera runs the command line in process and returns its output.
func runTessera(ctx context.Context, args ...string) (stdout, stderr string, err error) {
	var out, errb bytes.Buffer
	cmd := newRootCmd()
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&errb)
	err = cmd.ExecuteContext(ctx)
	return out.String(), errb.String(), err
}

func TestSimFlagErrors(t *testing.T) {
	dir := hosttest.ShortDir(t)
	notDir := filepath.Join(dir, "file")
	os.WriteFile(notDir, []byte("x"), 0o600)
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"sim", "--cards", "-1"}, "--cards -1: want 0 to"},
		{[]string{"sim", "--cards", "300"}, "--cards 300"},
		{[]string{"sim", "--vpcd", "nowhere"}, "--vpcd: vpcd address \"nowhere\": want HOST:PORT"},
		{[]string{"sim", "--vpcd", "127.0.0.1:http"}, "is not a number"},
		{[]string{"sim", "--vpcd", "127.0.0.1:65535", "--cards", "2"}, "past 65535"},
		{[]string{"sim", "--vpcd", "127.0.0.1:1", "--no-vpcd"}, "contradict"},
		{[]string{"sim", "--no-vpcd", "--vpcd-any-owner"}, "--vpcd-any-owner is for vpcd links"},
		{[]string{"sim", "--bridge", "ifd", "--vpcd-any-owner"}, "--vpcd-any-owner is for vpcd links"},
		{[]string{"sim", "--bridge", "usb"}, `--bridge "usb": want vpcd or ifd`},
		{[]string{"sim", "--reader-name", "YubiKey"}, "--reader-name and --ifd-dir go with --bridge ifd"},
		{[]string{"sim", "--bridge", "ifd", "--no-vpcd"}, "the cards have one bridge"},
		{[]string{"sim", "--bridge", "ifd", "--cards", "17"}, "at most 16 readers"},
		{[]string{"sim", "--bridge", "ifd", "--cards", "1", "--reader-name", "A", "--reader-name", "B"}, "one name per card"},
		{[]string{"sim", "--bridge", "ifd", "--reader-name", "A", "--reader-name", "A"}, `--reader-name "A" twice`},
		{[]string{"sim", "--bridge", "ifd", "--reader-name", "Key\"; rm"}, "letters, digits, spaces"},
		{[]string{"sim", "--bridge", "ifd", "--reader-name", " Key"}, "letters, digits, spaces"},
		{[]string{"sim", "--ifd-spin", "1ms"}, "--ifd-spin goes with --bridge ifd"},
		{[]string{"sim", "--bridge", "ifd", "--ifd-spin", "-1us"}, "--ifd-spin -1µs: want 0 (never) up to 10ms"},
		{[]string{"sim", "--bridge", "ifd", "--ifd-spin", "11ms"}, "--ifd-spin 11ms: want 0 (never) up to 10ms"},
		{[]string{"sim", "--bridge", "ifd", "--ifd-spin", "soon"}, `invalid argument "soon" for "--ifd-spin"`},
		{[]string{"sim", "--serial", "0"}, "--serial 0"},
		{[]string{"sim", "--touch", "maybe"}, "--touch: touch mode \"maybe\""},
		{[]string{"sim", "--touch-timeout", "0s"}, "--touch-timeout"},
		{[]string{"sim", "--profile", "nosuch"}, "--profile: profile \"nosuch\" is neither"},
		{[]string{"sim", "--control", "a", "--control-tcp", "127.0.0.1:0"}, "choose one"},
		{[]string{"sim", "--log-level", "loud"}, "--log-level"},
		{[]string{"sim", "--no-vpcd", "--state", notDir}, "creating state directory"},
		{[]string{"sim", "--no-vpcd", "--state", dir, "--control-tcp", "0.0.0.0:0"}, "loopback only"},
		{[]string{"sim", "--no-vpcd", "--state", dir, "--trace", filepath.Join(dir, "no", "such", "dir")}, "--trace"},
		{[]string{"sim", "extra"}, "unknown command"},
		{[]string{"sim", "--relay", ""}, "--relay \"\": name the PC/SC reader"},
		{[]string{"sim", "--trace-secrets", "--trace", filepath.Join(dir, "t.jsonl")}, "--trace-secrets goes with --relay and --trace"},
		{[]string{"sim", "--relay", "Some Reader", "--trace-secrets"}, "--trace-secrets goes with --relay and --trace"},
		{[]string{"card", "state", "zero"}, "want a card number"},
		{[]string{"card", "tear", "0"}, "--after K"},
		{[]string{"card", "factory-reset", "0"}, "add --yes"},
		{[]string{"card", "touch", "0", "--mode", "maybe"}, "--mode"},
		{[]string{"card", "list", "--control", filepath.Join(dir, "none.sock")}, "no simulator answers"},
		{[]string{"trace", filepath.Join(dir, "missing.jsonl")}, "opening trace"},
	}
	for _, tt := range tests {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, _, err := runTessera(ctx, tt.args...)
		cancel()
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("tessera %s: error %v, want one containing %q", strings.Join(tt.args, " "), err, tt.want)
		}
	}
}

func TestSimCorruptStateNamesTheFile(t *testing.T) {
	dir := hosttest.ShortDir(t)
	card := filepath.Join(dir, "cards", "0")
	os.MkdirAll(card, 0o700)
	os.WriteFile(filepath.Join(card, "card.json"), []byte(`{"profile": "default", "serial": 1}`), 0o600)
	state := filepath.Join(card, "card.state")
	os.WriteFile(state, []byte("garbage, not a journal"), 0o600)
	_, _, err := runTessera(context.Background(), "sim", "--no-vpcd", "--state", dir)
	if err == nil || !strings.Contains(err.Error(), state) {
		t.Fatalf("sim on a corrupt state file: error %v, want one naming %s", err, state)
	}
	if b, _ := os.ReadFile(state); string(b) != "garbage, not a journal" {
		t.Error("the corrupt state file was changed")
	}
}

// TestSimAndCardCommands runs `tessera sim` and drives it with `tessera card`.
func TestSimAndCardCommands(t *testing.T) {
	dir := hosttest.ShortDir(t)
	tracePath := filepath.Join(dir, "trace.jsonl")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var simErr string
	go func() {
		_, e, err := runTessera(ctx, "sim", "--no-vpcd", "--state", dir, "--cards", "2", "--trace", tracePath, "--profile", "piv")
		simErr = e
		done <- err
	}()
	waitControl(t, dir)
	card := func(args ...string) string {
		t.Helper()
		out, _, err := runTessera(context.Background(), append([]string{"card", "--state", dir}, args...)...)
		if err != nil {
			t.Fatalf("tessera card %s: %v", strings.Join(args, " "), err)
		}
		return out
	}
	var cards []simulator.CardInfo
	if err := json.Unmarshal([]byte(card("list", "--json")), &cards); err != nil || len(cards) != 2 || cards[1].Profile != "piv" || cards[1].Serial != 10000003 {
		t.Fatalf("card list --json = %+v, %v", cards, err)
	}
	if out := card("list"); !strings.Contains(out, "CARD") || !strings.Contains(out, "in process") {
		t.Errorf("card list =\n%s", out)
	}
	out := card("apdu", "1", "00A4040005A000000308", "002000800831323334353637FF")
	if !strings.Contains(out, "63C2  [63C2 verification failed (2 retries left)]") {
		t.Errorf("card apdu =\n%s", out)
	}
	if out := card("state", "1"); !strings.Contains(out, "PIN: 2 of 3 tries left") || !strings.Contains(out, "verified: no") {
		t.Errorf("card state =\n%s", out)
	}
	if out := card("tear", "1", "--after", "2"); !strings.Contains(out, "tear armed: 2 writes left") {
		t.Errorf("card tear =\n%s", out)
	}
	card("tear", "1", "--off")
	if out := card("touch", "1", "--mode", "manual"); !strings.Contains(out, "touch manual") {
		t.Errorf("card touch --mode =\n%s", out)
	}
	if out := card("touch", "1"); !strings.Contains(out, "not waiting") {
		t.Errorf("card touch =\n%s", out)
	}
	card("remove", "0")
	if out := card("list"); !strings.Contains(out, "no ") {
		t.Errorf("after remove, card list =\n%s", out)
	}
	card("insert", "0")
	card("power-cycle", "1")
	card("factory-reset", "1", "--yes")
	if out := card("state", "1", "--json"); !strings.Contains(out, `"tries": 3`) {
		t.Errorf("after factory reset, state =\n%s", out)
	}
	card("delete", "0")
	if out := card("add", "--slot", "5"); !strings.Contains(out, "10000007") {
		t.Errorf("card add --slot 5 =\n%s", out)
	}

	cancel()
	if err := <-done; err != nil {
		t.Fatalf("sim: %v\n%s", err, simErr)
	}
	if strings.Contains(simErr, "31323334") {
		t.Errorf("the log holds the PIN:\n%s", simErr)
	}

	out, _, err := runTessera(context.Background(), "trace", tracePath)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"SELECT", "VERIFY  00200080 08XXXXXXXXXXXXXXXX → 63C2  [63C2 verification failed (2 retries left)]", "-- remove", "-- factory-reset"} {
		if !strings.Contains(out, want) {
			t.Errorf("trace output lacks %q:\n%s", want, out)
		}
	}
	out, _, _ = runTessera(context.Background(), "trace", "--card", "0", "--exchanges", tracePath)
	if strings.Contains(out, "card 1") || strings.Contains(out, "--") {
		t.Errorf("trace --card 0 --exchanges shows other records:\n%s", out)
	}
}

// TestSimProfilePerCard: a --profile list gives each card its own profile,
// so a PIV card and an ISO token can sit side by side.
func TestSimProfilePerCard(t *testing.T) {
	dir := hosttest.ShortDir(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, _, err := runTessera(ctx, "sim", "--no-vpcd", "--state", dir, "--cards", "3", "--profile", "piv,iso-token")
		done <- err
	}()
	defer func() { cancel(); <-done }()
	waitControl(t, dir)
	card := func(args ...string) string {
		t.Helper()
		out, errOut, err := runTessera(context.Background(), append([]string{"card", "--state", dir}, args...)...)
		if err != nil {
			t.Fatalf("tessera card %s: %v\n%s", strings.Join(args, " "), err, errOut)
		}
		return out
	}
	var cards []simulator.CardInfo
	if err := json.Unmarshal([]byte(card("list", "--json")), &cards); err != nil || len(cards) != 3 {
		t.Fatalf("card list --json = %+v, %v", cards, err)
	}
	for i, want := range []string{"piv", "iso-token", "iso-token"} {
		if cards[i].Profile != want {
			t.Errorf("card %d has profile %q, want %q", i, cards[i].Profile, want)
		}
	}
	if out := card("apdu", "1", "00A404000CF276A288BCFBA69D34F31001"); !strings.Contains(out, "000606") || !strings.Contains(out, "9000") {
		t.Errorf("SELECT of the ISO application on card 1 =\n%s", out)
	}
	if out := card("apdu", "0", "00A404000CF276A288BCFBA69D34F31001"); !strings.Contains(out, "6A82") {
		t.Errorf("SELECT of the ISO application on the PIV card 0 =\n%s", out)
	}
	if out := card("state", "1"); !strings.Contains(out, "ISO application: life cycle creation") || !strings.Contains(out, "PIN: not set") {
		t.Errorf("card state 1 of a blank token =\n%s", out)
	}
	card("apdu", "1", "00A404000CF276A288BCFBA69D34F31001", "002401021030313233343536373839616263646566", "0024010106313233343536",
		"00E000000D6F0B8102004082010183024401")
	out := card("state", "1")
	for _, want := range []string{"life cycle operational", "PIN: 3 of 3 tries left", "PUK: 5 of 5 tries left", "3F00/4401  EF, 64 bytes"} {
		if !strings.Contains(out, want) {
			t.Errorf("card state 1 of a personalised token lacks %q:\n%s", want, out)
		}
	}
}

// TestSimControlTCPToken: tessera sim --control-tcp writes a new token to
// STATE/control.token (mode 0600), where tessera card --control-tcp finds
// it; without it, or with another, tessera card fails saying why.
func TestSimControlTCPToken(t *testing.T) {
	dir := hosttest.ShortDir(t)
	t.Setenv("XDG_STATE_HOME", hosttest.ShortDir(t)) // the default state holds no token
	t.Setenv("TESSERA_CONTROL_TOKEN", "")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var simErr string
	go func() {
		_, e, err := runTessera(ctx, "sim", "--no-vpcd", "--state", dir, "--control-tcp", addr)
		simErr = e
		done <- err
	}()
	tokenPath := filepath.Join(dir, "control.token")
	if err := waitFile(tokenPath); err != nil {
		cancel()
		t.Fatalf("%v (the simulator ended with %v)", err, <-done)
	}
	if fi, err := os.Stat(tokenPath); err != nil || (runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600) {
		t.Errorf("token file: %v, %v; want mode 0600", fi.Mode(), err)
	}
	token, err := simulator.ReadControlToken(tokenPath)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := simulator.NewControlToken()

	works := []struct {
		name string
		env  string
		args []string
	}{
		{"token in --state", "", []string{"--state", dir}},
		{"--control-token-file", "", []string{"--control-token-file", tokenPath}},
		{"$TESSERA_CONTROL_TOKEN", token, nil},
	}
	for _, tt := range works {
		t.Setenv("TESSERA_CONTROL_TOKEN", tt.env)
		args := append([]string{"card", "--control-tcp", addr, "list", "--json"}, tt.args...)
		out, _, err := runTessera(context.Background(), args...)
		var cards []simulator.CardInfo
		if err != nil || json.Unmarshal([]byte(out), &cards) != nil || len(cards) != 1 {
			t.Errorf("%s: tessera %s = %q, %v; want one card", tt.name, strings.Join(args, " "), out, err)
		}
	}
	fails := []struct {
		name string
		env  string
		args []string
		want string
	}{
		{"no token", "", nil, "--control-tcp needs the token tessera sim wrote to " + filepath.Join(os.Getenv("XDG_STATE_HOME"), "tessera", "control.token")},
		{"another token", other, nil, "wrong bearer token: over TCP the control API needs Authorization: Bearer with the token the simulator wrote to its token file (STATE/control.token) (the token came from $TESSERA_CONTROL_TOKEN"},
		{"not a token", "secret", nil, "$TESSERA_CONTROL_TOKEN: not a tessera control token"},
		{"token file for the socket", "", []string{"--control-token-file", tokenPath, "--control", filepath.Join(dir, "x.sock")}, "goes with --control-tcp"},
	}
	for _, tt := range fails {
		t.Setenv("TESSERA_CONTROL_TOKEN", tt.env)
		args := append([]string{"card", "list"}, tt.args...)
		if tt.args == nil {
			args = append(args, "--control-tcp", addr)
		}
		if _, _, err := runTessera(context.Background(), args...); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: tessera %s: error %v, want one containing %q", tt.name, strings.Join(args, " "), err, tt.want)
		}
	}

	cancel()
	if err := <-done; err != nil {
		t.Fatalf("sim: %v\n%s", err, simErr)
	}
	if !strings.Contains(simErr, "control_token_file="+tokenPath) || strings.Contains(simErr, token) {
		t.Errorf("the sim's log should name the token file and never hold the token:\n%s", simErr)
	}
}

// waitControl waits until the simulator with state dir serves its control
// socket.
func waitControl(t *testing.T, dir string) {
	t.Helper()
	if err := waitFile(filepath.Join(dir, "control.sock")); err != nil {
		t.Fatal(err)
	}
}

// simStartWait bounds the wait for a starting simulator's control socket
// or token file. Its cards' first durable writes (fsync) come before them,
// so the wait is bounded for a disk under someone else's load, not by a
// count of polls (100 of 20 ms, once); a wait for what does appear only
// costs time.
const simStartWait = time.Minute

// waitFile waits until path exists, up to simStartWait.
func waitFile(path string) error {
	for deadline := time.Now().Add(simStartWait); ; {
		_, err := os.Stat(path)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not appear within %v: %w", path, simStartWait, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
