package hostdriver_test

import (
	"bytes"
	"context"
	"crypto/des"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"math/big"
	"slices"
	"testing"
	"time"

	"github.com/tesseracard/tessera/apdu"
	"github.com/tesseracard/tessera/firmware/nvm"
	"github.com/tesseracard/tessera/firmware/profile"
	"github.com/tesseracard/tessera/hostdriver"
	"github.com/tesseracard/tessera/simulator"
)

var now = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

// provision prepares a default-profile card the way a field token looks:
// keys in 9A and 9C, an expired certificate in 9A, one expiring in 10 days
// in 9C, and a blocked PUK.
func provision(t *testing.T, c *hostdriver.Conn) {
	t.Helper()
	ctx := context.Background()
	do := func(cmd apdu.Command) []byte {
		t.Helper()
		data, err := c.Do(ctx, cmd)
		if err != nil {
			t.Fatalf("INS %02X: %v", cmd.INS, err)
		}
		return data
	}
	do(apdu.Command{INS: 0xA4, P1: 0x04, Data: []byte{0xA0, 0, 0, 3, 8}})
	// 3DES mutual authentication with the default key.
	block, _ := des.NewTripleDESCipher(bytes.Repeat([]byte{1, 2, 3, 4, 5, 6, 7, 8}, 3))
	resp := do(apdu.Command{INS: 0x87, P1: 0x03, P2: 0x9B, Data: []byte{0x7C, 0x02, 0x80, 0x00}})
	wit := make([]byte, 8)
	block.Decrypt(wit, resp[4:12])
	do(apdu.Command{INS: 0x87, P1: 0x03, P2: 0x9B, Data: apdu.Nest(0x7C, apdu.AppendTLV(apdu.AppendTLV(nil, 0x80, wit), 0x81, make([]byte, 8)))})
	for _, slot := range []byte{0x9A, 0x9C} {
		do(apdu.Command{INS: 0x47, P2: slot, Data: []byte{0xAC, 0x03, 0x80, 0x01, 0x11}})
	}
	ca, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	for _, c := range []struct {
		object   []byte
		cn       string
		notAfter time.Time
	}{
		{[]byte{0x5F, 0xC1, 0x05}, "expired", now.Add(-10 * 24 * time.Hour)},
		{[]byte{0x5F, 0xC1, 0x0A}, "expiring", now.Add(10*24*time.Hour + time.Hour)},
	} {
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: c.cn}, NotBefore: now.Add(-365 * 24 * time.Hour), NotAfter: c.notAfter}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &ca.PublicKey, ca)
		if err != nil {
			t.Fatal(err)
		}
		obj := append(apdu.AppendTLV(nil, 0x70, der), 0x71, 0x01, 0x00)
		do(apdu.Command{INS: 0xDB, P1: 0x3F, P2: 0xFF, Data: append(append([]byte{0x5C, 0x03}, c.object...), apdu.AppendTLV(nil, 0x53, obj)...)})
	}
	for range 3 {
		c.Transmit(ctx, apdu.Command{INS: 0x24, P2: 0x81, Data: []byte("00000000" + "00000000")})
	}
}

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
	provision(t, &hostdriver.Conn{T: cardTransport{card}})
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
	want := map[string]any{
		"atr":       "3B FD 13 00 00 81 31 FE 15 80 73 C0 21 C0 57 59 75 62 69 4B 65 79 40",
		"atr_names": []any{"Yubico YubiKey 5 NFC (PKI)"},
		"protocols": []any{1.0},
		"applications": []any{
			map[string]any{"name": "PIV", "aid": "A000000308", "present": true, "status": "9000"},
			map[string]any{"name": "OpenPGP", "aid": "D27600012401", "present": false, "status": "6A82"},
			map[string]any{"name": "FIDO U2F", "aid": "A0000006472F0001", "present": false, "status": "6A82"},
			map[string]any{"name": "OATH", "aid": "A0000005272101", "present": false, "status": "6A82"},
			map[string]any{"name": "YubiKey management", "aid": "A000000527471117", "present": false, "status": "6A82"},
			map[string]any{"name": "GlobalPlatform ISD", "aid": "A000000151000000", "present": false, "status": "6A82"},
			map[string]any{"name": "PKCS#15", "aid": "A000000063504B43532D3135", "present": false, "status": "6A82"},
		},
		"piv": map[string]any{
			"version":                  "5.7.1",
			"serial":                   10000001.0,
			"pin_verified":             false,
			"pin":                      map[string]any{"tries_left": 3.0, "limit": 3.0, "default": true, "blocked": false},
			"puk":                      map[string]any{"tries_left": 0.0, "limit": 3.0, "default": true, "blocked": true},
			"management_key_algorithm": "3DES",
			"management_key_default":   true,
			"slots": []any{
				map[string]any{"slot": "9A", "algorithm": "ECC P-256", "origin": "generated", "pin_policy": "once", "touch_policy": "never"},
				map[string]any{"slot": "9C", "algorithm": "ECC P-256", "origin": "generated", "pin_policy": "always", "touch_policy": "never"},
				map[string]any{"slot": "F9", "algorithm": "ECC P-256", "origin": "generated", "pin_policy": "never", "touch_policy": "never"},
			},
		},
		"warnings": []any{
			"PIN is still the factory default",
			"PUK is blocked",
			"PUK is still the factory default",
			"certificate in slot 9A expired 10 days ago",
			"certificate in slot 9C expires in 10 days",
			"management key is still the factory default",
		},
	}
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
