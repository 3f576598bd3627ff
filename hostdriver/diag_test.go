package hostdriver_test

import (
	"bytes"
	"context"
	"encoding/json"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/tesseracard/tessera/apdu"
	"github.com/tesseracard/tessera/firmware"
	"github.com/tesseracard/tessera/firmware/nvm"
	"github.com/tesseracard/tessera/firmware/piv"
	"github.com/tesseracard/tessera/hostdriver"
	"github.com/tesseracard/tessera/internal/hosttest"
)

var now = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

func TestDiagnoseReadsWithoutChanging(t *testing.T) {
	card, mem, atr := newCard(t, "default")
	if err := hosttest.ProvisionFieldToken(context.Background(), &hostdriver.Conn{T: cardTransport{card}}, now); err != nil {
		t.Fatal(err)
	}
	// A fresh session, as diag would have.
	if _, err := card.Reset(); err != nil {
		t.Fatal(err)
	}
	before, _ := mem.Load()
	var sent [][]byte
	c := &hostdriver.Conn{T: cardTransport{card}, Trace: func(cmd, _ []byte) { sent = append(sent, cmd) }}
	names, _ := hostdriver.ReadATRList(bytes.NewReader([]byte("3B FD 13 00 00 81 31 FE 15 80 73 C0 21 C0 57 59 75 62 69 4B 65 79 40\n\tYubico YubiKey 5 NFC (PKI)\n")))
	r, err := hostdriver.Diagnose(context.Background(), c, atr, hostdriver.DiagOptions{Now: now, Names: names})
	if err != nil {
		t.Fatal(err)
	}
	if after, _ := mem.Load(); !bytes.Equal(before, after) {
		t.Errorf("Diagnose changed the card's persistent memory")
	}
	for _, cmd := range sent {
		if !slices.Contains(hostdriver.ReadOnlyINS(), cmd[1]) {
			t.Errorf("Diagnose sent a non-read instruction: % X", cmd)
		}
		if cmd[1] == 0x20 && len(cmd) > 5 {
			t.Errorf("Diagnose sent VERIFY with data: % X", cmd)
		}
	}

	// Every field, through the stable JSON form.
	raw, _ := json.Marshal(r)
	var got map[string]any
	json.Unmarshal(raw, &got)
	want := hosttest.FieldTokenReport("", []any{"Yubico YubiKey 5 NFC (PKI)"})
	certs := got["piv"].(map[string]any)["certificates"].([]any)
	delete(got["piv"].(map[string]any), "certificates")
	gj, _ := json.MarshalIndent(got, "", " ")
	wj, _ := json.MarshalIndent(want, "", " ")
	if !bytes.Equal(gj, wj) {
		t.Errorf("report:\n%s\nwant:\n%s", gj, wj)
	}
	if len(certs) != 3 {
		t.Fatalf("%d certificates, want 3 (9A, 9C, F9)", len(certs))
	}
	c0 := certs[0].(map[string]any)
	for k, v := range map[string]any{"slot": "9A", "object": "5FC105", "subject": "CN=expired", "issuer": "CN=expired", "days_to_expiry": -10.0, "public_key": "ECDSA P-256", "not_after": "2026-11-12T12:00:00Z"} {
		if c0[k] != v {
			t.Errorf("certificate 9A %s = %v, want %v", k, c0[k], v)
		}
	}
	if c1 := certs[1].(map[string]any); c1["days_to_expiry"] != 10.0 || c1["subject"] != "CN=expiring" {
		t.Errorf("certificate 9C = %v", c1)
	}
	if c2 := certs[2].(map[string]any); c2["slot"] != "F9" || c2["subject"] != "SERIALNUMBER=10000001,CN=Tessera PIV Attestation" {
		t.Errorf("attestation certificate = %v", c2)
	}
}

// diagnoseReadOnly runs Diagnose on card and checks that it sent only
// read instructions (VERIFY only without data) and left the card's
// persistent memory as it was.
func diagnoseReadOnly(t *testing.T, card *firmware.Card, mem *nvm.Memory, atr []byte) *hostdriver.Report {
	t.Helper()
	before, _ := mem.Load()
	var sent [][]byte
	c := &hostdriver.Conn{T: cardTransport{card}, Trace: func(cmd, _ []byte) { sent = append(sent, cmd) }}
	r, err := hostdriver.Diagnose(context.Background(), c, atr, hostdriver.DiagOptions{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if after, _ := mem.Load(); !bytes.Equal(before, after) {
		t.Errorf("Diagnose changed the card's persistent memory")
	}
	for _, cmd := range sent {
		if !slices.Contains(hostdriver.ReadOnlyINS(), cmd[1]) || cmd[1] == 0x20 && len(cmd) > 5 {
			t.Errorf("Diagnose sent % X, which is not a read", cmd)
		}
	}
	return r
}

// personaReport is the persona part of a diag report, as JSON.
func personaReport(r *hostdriver.Report) map[string]any {
	raw, _ := json.Marshal(r.PIV)
	var p map[string]any
	json.Unmarshal(raw, &p)
	out := map[string]any{}
	for _, k := range []string{"pin_state", "puk_state", "pin_policy", "totp", "signatures_left", "holder_id"} {
		if v, ok := p[k]; ok {
			out[k] = v
		}
	}
	return out
}

// field pads a PIN to a PIN field of n bytes.
func field(v string, n int) []byte { return append([]byte(v), bytes.Repeat([]byte{0xFF}, n-len(v))...) }

// changeIssuedPIN is a holder's first use of a card issued with a random
// PIN: the PIN revealed, then changed to 24681357.
func changeIssuedPIN(t *testing.T, card *firmware.Card, c *hostdriver.Conn) {
	t.Helper()
	in, err := piv.RevealIssued(card.Store())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Do(context.Background(), apdu.Command{INS: 0x24, P2: 0x80, Data: append(field(in.PIN, 8), field("24681357", 8)...)}); err != nil {
		t.Fatalf("changing the issued PIN: %v", err)
	}
}

// TestDiagnosePersonas: for each persona, diag shows (text names and JSON
// fields) the PIN policy, whether the PIN and PUK are still as delivered
// (factory default, an issued envelope value, a transport PIN), the TOTP
// authorisation and the quota, read from the token state object without
// the PIN and without changing anything; it warns while the delivered PIN
// is still set, and no longer once the holder has changed it.
func TestDiagnosePersonas(t *testing.T) {
	digits := map[string]any{"min_length": 6.0, "max_length": 8.0, "charset": "any", "require_upper": false, "require_lower": false, "require_digit": false, "field_length": 8.0}
	password := map[string]any{"min_length": 8.0, "max_length": 12.0, "charset": "alphanumeric", "require_upper": true, "require_lower": true, "require_digit": true, "field_length": 12.0}
	tests := []struct {
		profile    string
		delivered  map[string]any
		warnings   []string // about the persona, on the delivered card
		firstUse   func(t *testing.T, card *firmware.Card, c *hostdriver.Conn)
		inUse      map[string]any
		inUseWarns []string
	}{
		{
			profile:    "transport-pin-token",
			delivered:  map[string]any{"pin_state": "transport", "puk_state": "factory-default", "pin_policy": digits},
			warnings:   []string{"PIN is still the transport PIN: no key can be used until it is changed", "PUK is still the factory default"},
			firstUse:   changeIssuedPIN,
			inUse:      map[string]any{"pin_state": "personal", "puk_state": "factory-default", "pin_policy": digits},
			inUseWarns: []string{"PUK is still the factory default"},
		},
		{
			profile:    "pin-puk-envelope",
			delivered:  map[string]any{"pin_state": "issued", "puk_state": "issued", "pin_policy": digits},
			warnings:   []string{"PIN is still the issued envelope value: the holder has not changed it yet", "PUK is still the issued envelope value: the holder has not changed it yet"},
			firstUse:   changeIssuedPIN,
			inUse:      map[string]any{"pin_state": "personal", "puk_state": "issued", "pin_policy": digits},
			inUseWarns: []string{"PUK is still the issued envelope value: the holder has not changed it yet"},
		},
		{
			profile:   "virtual-token",
			delivered: map[string]any{"pin_state": "factory-default", "puk_state": "administrator-reset-only", "pin_policy": password, "holder_id": "8001015009087"},
			warnings:  []string{"PIN is still the factory default"},
			firstUse: func(t *testing.T, _ *firmware.Card, c *hostdriver.Conn) {
				if _, err := c.Do(context.Background(), apdu.Command{INS: 0x24, P2: 0x80, Data: append(field("Initial1", 12), field("Other2468", 12)...)}); err != nil {
					t.Fatalf("changing the password: %v", err)
				}
			},
			inUse: map[string]any{"pin_state": "personal", "puk_state": "administrator-reset-only", "pin_policy": password, "holder_id": "8001015009087"},
		},
		{
			profile: "cloud-signature",
			delivered: map[string]any{"pin_state": "factory-default", "puk_state": "factory-default", "pin_policy": digits, "signatures_left": 200.0,
				"totp": map[string]any{"enrolled": false, "tries_left": 0.0, "blocked": false, "limit": 5.0}},
			warnings: []string{"PIN is still the factory default", "PUK is still the factory default", "TOTP not enrolled: no signature possible"},
			firstUse: func(t *testing.T, card *firmware.Card, _ *hostdriver.Conn) {
				if _, err := piv.EnrolTOTP(card.Store(), bytes.NewReader(make([]byte, 20)), "1"); err != nil {
					t.Fatal(err)
				}
			},
			inUse: map[string]any{"pin_state": "factory-default", "puk_state": "factory-default", "pin_policy": digits, "signatures_left": 200.0,
				"totp": map[string]any{"enrolled": true, "tries_left": 5.0, "blocked": false, "limit": 5.0}},
			inUseWarns: []string{"PIN is still the factory default", "PUK is still the factory default"},
		},
	}
	persona := func(ws []string) []string {
		return slices.DeleteFunc(slices.Clone(ws), func(w string) bool { return w == "management key is still the factory default" })
	}
	for _, tt := range tests {
		card, mem, atr := newCard(t, tt.profile)
		r := diagnoseReadOnly(t, card, mem, atr)
		if got := personaReport(r); !reflect.DeepEqual(got, tt.delivered) {
			t.Errorf("%s: delivered: persona fields %v, want %v", tt.profile, got, tt.delivered)
		}
		if got := persona(r.Warnings); !slices.Equal(got, tt.warnings) {
			t.Errorf("%s: delivered: warnings %q, want %q", tt.profile, got, tt.warnings)
		}
		tt.firstUse(t, card, &hostdriver.Conn{T: cardTransport{card}})
		r = diagnoseReadOnly(t, card, mem, atr)
		if got := personaReport(r); !reflect.DeepEqual(got, tt.inUse) {
			t.Errorf("%s: in use: persona fields %v, want %v", tt.profile, got, tt.inUse)
		}
		if got := persona(r.Warnings); !slices.Equal(got, tt.inUseWarns) {
			t.Errorf("%s: in use: warnings %q, want %q", tt.profile, got, tt.inUseWarns)
		}
	}
}
