package hostdriver_test

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/tesseracard/tessera/apdu"
	"github.com/tesseracard/tessera/firmware/nvm"
	"github.com/tesseracard/tessera/firmware/piv"
	"github.com/tesseracard/tessera/firmware/profile"
	"github.com/tesseracard/tessera/hostdriver"
	"github.com/tesseracard/tessera/internal/testcard"
	"github.com/tesseracard/tessera/simulator"
)

var now = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

func TestDiagnoseReadsWithoutChanging(t *testing.T) {
	p, _ := profile.Builtin("default")
	mem := &nvm.Memory{}
	card, err := simulator.NewCard(p, mem, simulator.CardOptions{})
	if err != nil {
		t.Fatal(err)
	}
	atr, err := card.PowerOn()
	if err != nil {
		t.Fatal(err)
	}
	if err := testcard.ProvisionFieldToken(context.Background(), &hostdriver.Conn{T: cardTransport{card}}, now); err != nil {
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
	want := testcard.FieldTokenReport("", []any{"Yubico YubiKey 5 NFC (PKI)"})
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

// TestDiagnosePersonaIssuedPIN: on the personas whose card is issued with a
// random PIN (transport-pin-token, pin-puk-envelope), diag warns while the
// issued PIN has not been changed, and stops once the holder has changed it.
func TestDiagnosePersonaIssuedPIN(t *testing.T) {
	for _, name := range []string{"transport-pin-token", "pin-puk-envelope"} {
		p, _ := profile.Builtin(name)
		card, err := simulator.NewCard(p, &nvm.Memory{}, simulator.CardOptions{})
		if err != nil {
			t.Fatal(err)
		}
		atr, err := card.PowerOn()
		if err != nil {
			t.Fatal(err)
		}
		c := &hostdriver.Conn{T: cardTransport{card}}
		const warning = "PIN is still the factory default"
		r, err := hostdriver.Diagnose(context.Background(), c, atr, hostdriver.DiagOptions{Now: now})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(r.Warnings, warning) {
			t.Errorf("%s: fresh card: warnings %q, want %q", name, r.Warnings, warning)
		}
		in, err := piv.RevealIssued(card.Store())
		if err != nil || in.PIN == "" {
			t.Fatalf("%s: RevealIssued() = %+v, %v", name, in, err)
		}
		field := func(v string) []byte { return append([]byte(v), bytes.Repeat([]byte{0xFF}, 8-len(v))...) }
		change := apdu.Command{INS: 0x24, P2: 0x80, Data: append(field(in.PIN), field("24681357")...)}
		if _, err := c.Do(context.Background(), change); err != nil {
			t.Fatalf("%s: CHANGE REFERENCE DATA: %v", name, err)
		}
		r, err = hostdriver.Diagnose(context.Background(), c, atr, hostdriver.DiagOptions{Now: now})
		if err != nil {
			t.Fatal(err)
		}
		if slices.Contains(r.Warnings, warning) {
			t.Errorf("%s: PIN changed: warnings %q, want none about the PIN", name, r.Warnings)
		}
	}
}

// TestDiagnosePersonaState: diag shows the virtual token's holder identity
// number and the cloud-signature card's TOTP state and quota.
func TestDiagnosePersonaState(t *testing.T) {
	for _, tt := range []struct {
		name                 string
		holder               string
		quota                int // -1: none
		totpEnrolled, totpOK bool
		warning              string
	}{
		{"virtual-token", "8001015009087", -1, false, false, ""},
		{"cloud-signature", "", 200, false, true, "TOTP not enrolled: no signature possible"},
	} {
		p, _ := profile.Builtin(tt.name)
		card, err := simulator.NewCard(p, &nvm.Memory{}, simulator.CardOptions{})
		if err != nil {
			t.Fatal(err)
		}
		atr, err := card.PowerOn()
		if err != nil {
			t.Fatal(err)
		}
		r, err := hostdriver.Diagnose(context.Background(), &hostdriver.Conn{T: cardTransport{card}}, atr, hostdriver.DiagOptions{Now: now})
		if err != nil {
			t.Fatal(err)
		}
		if r.PIV.HolderID != tt.holder {
			t.Errorf("%s: HolderID = %q, want %q", tt.name, r.PIV.HolderID, tt.holder)
		}
		if got := r.PIV.SignaturesLeft; tt.quota < 0 && got != nil || tt.quota >= 0 && (got == nil || *got != tt.quota) {
			t.Errorf("%s: SignaturesLeft = %v, want %d", tt.name, got, tt.quota)
		}
		if (r.PIV.TOTP != nil) != tt.totpOK {
			t.Errorf("%s: TOTP = %+v, want present %v", tt.name, r.PIV.TOTP, tt.totpOK)
		}
		if tt.warning != "" && !slices.Contains(r.Warnings, tt.warning) {
			t.Errorf("%s: warnings %q, want %q", tt.name, r.Warnings, tt.warning)
		}
	}
}
