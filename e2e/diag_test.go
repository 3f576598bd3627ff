//go:build e2e

package e2e

import (
	"bufio"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tesseracard/tessera/apdu"
	"github.com/tesseracard/tessera/hostdriver"
	hdpcsc "github.com/tesseracard/tessera/hostdriver/pcsc"
	"github.com/tesseracard/tessera/internal/hosttest"
)

// traceCommand is a traced command: its header and its length (the trace
// redacts secret data bytes as XX but keeps their number).
type traceCommand struct {
	header []byte
	length int
}

// traceCommands returns the commands in a simulator trace from line skip on.
func traceCommands(t *testing.T, path string, skip int) (cmds []traceCommand, lines int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		lines++
		if lines <= skip {
			continue
		}
		var rec struct {
			Command string `json:"command"`
		}
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("trace line %d: %v", lines, err)
		}
		if rec.Command != "" {
			b, err := hex.DecodeString(rec.Command[:min(8, len(rec.Command))])
			if err != nil || len(b) < 4 {
				t.Fatalf("trace line %d: command %q", lines, rec.Command)
			}
			cmds = append(cmds, traceCommand{b, len(rec.Command) / 2})
		}
	}
	return cmds, lines
}

// TestDiagThroughPCSCD runs `tessera diag --json` through pcscd against a
// simulated field token (keys, an expired certificate, one expiring soon, a
// blocked PUK), asserts every field of the report, and proves from the
// simulator's trace and state that diag only read.
func TestDiagThroughPCSCD(t *testing.T) {
	sc := pcsc(t)
	checkNoCard(t, sc, reader0)
	state := hosttest.ShortDir(t)
	tracePath := filepath.Join(state, "trace.jsonl")
	s := startSim(t, state, "--trace", tracePath)
	waitCard(t, sc, reader0, true, 15*time.Second)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pc, err := hdpcsc.Establish()
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Release()
	card, err := pc.Connect(reader0, hdpcsc.Shared)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if err := hosttest.ProvisionFieldToken(ctx, &hostdriver.Conn{T: card}, now); err != nil {
		t.Fatalf("provisioning through pcscd: %v", err)
	}
	card.Close()

	before, err := s.client().State(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, skip := traceCommands(t, tracePath, 0)
	out, err := exec.CommandContext(ctx, e2e.bin, "diag", "--reader", reader0, "--json").Output()
	if err != nil {
		t.Fatalf("tessera diag: %v\n%s", err, out)
	}
	after, err := s.client().State(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if before.PIN != after.PIN || before.PUK != after.PUK || before.Generation != after.Generation {
		t.Errorf("diag changed the card: before PIN %+v PUK %+v gen %d, after PIN %+v PUK %+v gen %d", before.PIN, before.PUK, before.Generation, after.PIN, after.PUK, after.Generation)
	}
	cmds, _ := traceCommands(t, tracePath, skip)
	if len(cmds) < 20 {
		t.Errorf("the trace holds only %d commands from diag", len(cmds))
	}
	for _, c := range cmds {
		if ins := c.header[1]; !slices.Contains(hostdriver.ReadOnlyINS(), ins) || ins == 0x20 && c.length > 5 {
			t.Errorf("diag sent % X (%d bytes), which is not a read", c.header, c.length)
		}
	}

	var reports []map[string]any
	if err := json.Unmarshal(out, &reports); err != nil || len(reports) != 1 {
		t.Fatalf("diag --json printed %s: %v", out, err)
	}
	r := reports[0]
	certs := r["piv"].(map[string]any)["certificates"].([]any)
	delete(r["piv"].(map[string]any), "certificates")
	want := hosttest.FieldTokenReport(reader0, []any{"Yubico YubiKey 5 NFC (PKI)", "https://www.yubico.com/product/yubikey-5-nfc"})
	gj, _ := json.MarshalIndent(r, "", " ")
	wj, _ := json.MarshalIndent(want, "", " ")
	if string(gj) != string(wj) {
		t.Errorf("diag report:\n%s\nwant:\n%s", gj, wj)
	}
	if len(certs) != 3 {
		t.Fatalf("%d certificates, want 3", len(certs))
	}
	for i, w := range []map[string]any{
		{"slot": "9A", "object": "5FC105", "subject": "CN=expired", "issuer": "CN=expired", "days_to_expiry": -10.0, "public_key": "ECDSA P-256"},
		{"slot": "9C", "object": "5FC10A", "subject": "CN=expiring", "issuer": "CN=expiring", "days_to_expiry": 10.0, "public_key": "ECDSA P-256"},
		{"slot": "F9", "object": "5FFF01", "subject": "SERIALNUMBER=10000001,CN=Tessera PIV Attestation", "public_key": "ECDSA P-256"},
	} {
		c := certs[i].(map[string]any)
		for k, v := range w {
			if c[k] != v {
				t.Errorf("certificate %d %s = %v, want %v", i, k, c[k], v)
			}
		}
		for _, k := range []string{"not_before", "not_after"} {
			if _, err := time.Parse(time.RFC3339, c[k].(string)); err != nil {
				t.Errorf("certificate %d %s = %v", i, k, c[k])
			}
		}
	}

	// The human report names the same things.
	human, err := exec.CommandContext(ctx, e2e.bin, "diag", "--reader", reader0).Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"Yubico YubiKey 5 NFC (PKI)", "PUK", "BLOCKED", "CN=expiring", "! certificate in slot 9A expired 10 days ago"} {
		if !strings.Contains(string(human), s) {
			t.Errorf("human report lacks %q:\n%s", s, human)
		}
	}
}

// TestPCSCTransportTypedRemoval checks hostdriver/pcsc's typed errors: a
// card removed through the control API makes Transmit fail with
// hostdriver.ErrCardRemoved, and WaitForCard sees it come back.
func TestPCSCTransportTypedRemoval(t *testing.T) {
	sc := pcsc(t)
	checkNoCard(t, sc, reader0)
	s := startSim(t, hosttest.ShortDir(t))
	waitCard(t, sc, reader0, true, 15*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pc, err := hdpcsc.Establish()
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Release()
	name, err := pc.FindReader(strings.ToLower(reader0[len(reader0)-9:])) // "pcd 00 00" over vpcd
	if err != nil || name != reader0 {
		t.Fatalf("FindReader(substring) = %q, %v", name, err)
	}
	if _, err := pc.FindReader("no such reader"); !errors.Is(err, hdpcsc.ErrNoReader) {
		t.Errorf("FindReader(missing) error = %v, want ErrNoReader", err)
	}
	card, err := pc.Connect(reader0, hdpcsc.Exclusive)
	if err != nil {
		t.Fatal(err)
	}
	defer card.Close()
	conn := &hostdriver.Conn{T: card}
	if v, err := conn.Do(ctx, apdu.Command{INS: 0xA4, P1: 0x04, Data: []byte{0xA0, 0, 0, 3, 8}}); err != nil || len(v) == 0 {
		t.Fatalf("SELECT: % X, %v", v, err)
	}
	if _, err := s.client().Remove(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if err := pc.WaitForRemoval(ctx, reader0); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Do(ctx, apdu.Command{INS: 0xFD}); !errors.Is(err, hostdriver.ErrCardRemoved) {
		t.Errorf("Transmit after removal error = %v, want ErrCardRemoved", err)
	}
	if _, err := s.client().Insert(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if err := pc.WaitForCard(ctx, reader0); err != nil {
		t.Fatal(err)
	}
}
