// Package hosttest is the host side's test helper: it prepares a PIV card
// the way a field token looks by sending commands through any
// hostdriver.Conn (the in-process simulator or pcscd), as a host program
// would. Its firmware-side counterpart, which builds cards and drives the
// card OS directly, is internal/cardtest.
package hosttest

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"os"
	"testing"
	"time"

	"github.com/tesseracard/tessera/apdu"
	"github.com/tesseracard/tessera/hostdriver"
)

// DefaultMgmtKey is the factory 3DES management key of the default profile.
func DefaultMgmtKey() []byte { return bytes.Repeat([]byte{1, 2, 3, 4, 5, 6, 7, 8}, 3) }

// ProvisionFieldToken gives a default-profile card P-256 keys in 9A and 9C,
// a certificate in 9A that expired 10 days before now, one in 9C that
// expires 10 days (and an hour) after now, and a blocked PUK.
func ProvisionFieldToken(ctx context.Context, c *hostdriver.Conn, now time.Time) error {
	if _, err := c.Do(ctx, apdu.Command{INS: apdu.InsSelect, P1: 0x04, Data: []byte{0xA0, 0, 0, 3, 8}}); err != nil {
		return fmt.Errorf("selecting PIV: %w", err)
	}
	if err := hostdriver.AuthenticateManagementKey(ctx, c, 0x03, DefaultMgmtKey(), nil); err != nil { // 03: 3DES
		return err
	}
	for _, slot := range []byte{0x9A, 0x9C} {
		if _, err := c.Do(ctx, apdu.Command{INS: apdu.InsGenerateKeyPairOdd, P2: slot, Data: []byte{0xAC, 0x03, 0x80, 0x01, 0x11}}); err != nil {
			return fmt.Errorf("generating in %02X: %w", slot, err)
		}
	}
	ca, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	for _, cert := range []struct {
		object   []byte
		cn       string
		notAfter time.Time
	}{
		{[]byte{0x5F, 0xC1, 0x05}, "expired", now.Add(-10 * 24 * time.Hour)},
		{[]byte{0x5F, 0xC1, 0x0A}, "expiring", now.Add(10*24*time.Hour + time.Hour)},
	} {
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cert.cn}, NotBefore: now.Add(-365 * 24 * time.Hour), NotAfter: cert.notAfter}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &ca.PublicKey, ca)
		if err != nil {
			return err
		}
		obj := append(apdu.AppendTLV(nil, 0x70, der), 0x71, 0x01, 0x00)
		data := append(append([]byte{0x5C, 0x03}, cert.object...), apdu.AppendTLV(nil, 0x53, obj)...)
		if _, err := c.Do(ctx, apdu.Command{INS: apdu.InsPutDataOdd, P1: 0x3F, P2: 0xFF, Data: data}); err != nil {
			return fmt.Errorf("writing certificate %s: %w", cert.cn, err)
		}
	}
	for range 3 {
		if _, err := c.Transmit(ctx, apdu.Command{INS: apdu.InsChangeReferenceData, P2: 0x81, Data: []byte("0000000000000000")}); err != nil {
			return err
		}
	}
	return nil
}

// FieldTokenReport is the JSON form of hostdriver.Report (as a generic map,
// without the certificates) that `tessera diag` must give for a card made
// by ProvisionFieldToken; reader "" leaves the reader and its state out
// (hostdriver.Diagnose's report, not tessera diag's).
func FieldTokenReport(reader string, atrNames []any) map[string]any {
	r := map[string]any{
		"reader":    reader,
		"state":     "card",
		"atr":       "3B FD 13 00 00 81 31 FE 15 80 73 C0 21 C0 57 59 75 62 69 4B 65 79 40",
		"atr_names": atrNames,
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
	if reader == "" {
		delete(r, "reader")
		delete(r, "state")
	}
	return r
}

// ShortDir is a temporary directory, removed at the end of t, whose path is
// short enough for unix sockets in it (a simulator's control socket, an IFD
// link, a private pcscd): os.TempDir, not t.TempDir, whose paths carry the
// test's name and pass the 107 bytes a socket path may have.
func ShortDir(t testing.TB) string {
	t.Helper()
	d, err := os.MkdirTemp("", "ts")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}
