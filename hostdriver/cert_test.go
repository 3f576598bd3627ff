package hostdriver_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tesseracard/tessera/apdu"
	"github.com/tesseracard/tessera/hostdriver"
	"github.com/tesseracard/tessera/internal/hosttest"
)

// selfSigned is a DER certificate for key, named cn, valid until notAfter.
func selfSigned(t *testing.T, cn string, key crypto.Signer, notAfter time.Time) []byte {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn}, NotBefore: now.Add(-365 * 24 * time.Hour), NotAfter: notAfter}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// TestSummarizeCertificate: every certificate is summarised with its
// subject, issuer, expiry, whole days left (once expired, minus the whole
// days since and at least 1, so a certificate that expired an hour ago has
// -1 days, not 0, and one that expired ten days and an hour ago -10) and key; Warning warns of an
// expired certificate, one expiring within 30 days (or within the given
// time) and one that does not parse, and of nothing else.
func TestSummarizeCertificate(t *testing.T) {
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	const day = 24 * time.Hour
	tests := []struct {
		name     string
		der      []byte
		within   time.Duration
		daysLeft int
		key      string
		warning  string
	}{
		{"valid for a year", selfSigned(t, "a", p256, now.Add(365*day)), 0, 365, "ECDSA P-256", ""},
		{"31 days", selfSigned(t, "b", p384, now.Add(31*day)), 0, 31, "ECDSA P-384", ""},
		{"29 days and a half", selfSigned(t, "c", rsaKey, now.Add(29*day+12*time.Hour)), 0, 29, "RSA-2048", "certificate X expires in 29 days"},
		{"one day", selfSigned(t, "d", edKey, now.Add(day+time.Hour)), 0, 1, "Ed25519", "certificate X expires in 1 day"},
		{"an hour", selfSigned(t, "e", p256, now.Add(time.Hour)), 0, 0, "ECDSA P-256", "certificate X expires within a day"},
		{"expired an hour ago", selfSigned(t, "f", p256, now.Add(-time.Hour)), 0, -1, "ECDSA P-256", "certificate X expired less than a day ago"},
		{"expired 10 days ago", selfSigned(t, "g", p256, now.Add(-10*day)), 0, -10, "ECDSA P-256", "certificate X expired 10 days ago"},
		{"expired 10 days and an hour ago", selfSigned(t, "g2", p256, now.Add(-10*day-time.Hour)), 0, -10, "ECDSA P-256", "certificate X expired 10 days ago"},
		{"60 days, warned at 90", selfSigned(t, "h", p256, now.Add(60*day)), 90 * day, 60, "ECDSA P-256", "certificate X expires in 60 days"},
		{"not a certificate", []byte{0x30, 0x03, 0x02, 0x01, 0x01}, 0, 0, "", "certificate X does not parse: "},
	}
	for _, tt := range tests {
		ci := hostdriver.SummarizeCertificate(tt.der, now)
		if ci.DaysLeft != tt.daysLeft || ci.PublicKey != tt.key {
			t.Errorf("%s: DaysLeft, PublicKey = %d, %q; want %d, %q", tt.name, ci.DaysLeft, ci.PublicKey, tt.daysLeft, tt.key)
		}
		if ci.ParseError == "" {
			if ci.Subject != ci.Issuer || ci.Subject == "" || ci.NotAfter.Location() != time.UTC {
				t.Errorf("%s: Subject %q Issuer %q NotAfter %v, want a self-signed certificate's names, in UTC", tt.name, ci.Subject, ci.Issuer, ci.NotAfter)
			}
		}
		w := ci.Warning("certificate X", now, tt.within)
		if tt.warning == "" && w != "" || tt.warning != "" && !strings.HasPrefix(w, tt.warning) {
			t.Errorf("%s: Warning() = %q, want %q", tt.name, w, tt.warning)
		}
	}
}

// TestDiagnoseEveryCertificateSlot: diag reads the certificate of every
// PIV slot that can hold one: 9A, 9C, 9D, 9E, the twenty retired key
// slots 82-95 and the attestation slot F9, in that order, and warns of
// each expired or expiring one by its slot.
func TestDiagnoseEveryCertificateSlot(t *testing.T) {
	card, mem, atr := newCard(t, "default")
	ctx := context.Background()
	c := &hostdriver.Conn{T: cardTransport{card}}
	if err := hosttest.ProvisionFieldToken(ctx, c, now); err != nil { // 9A expired, 9C expiring
		t.Fatal(err)
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	extra := map[string]struct {
		object   uint32
		notAfter time.Time
	}{
		"9D": {0x5FC10B, now.Add(400 * 24 * time.Hour)},
		"9E": {0x5FC101, now.Add(-2 * 24 * time.Hour)},
		"82": {0x5FC10D, now.Add(5*24*time.Hour + time.Hour)},
		"8B": {0x5FC116, now.Add(100 * 24 * time.Hour)},
		"95": {0x5FC120, now.Add(-time.Hour)},
	}
	for slot, x := range extra {
		obj := append(apdu.AppendTLV(nil, 0x70, selfSigned(t, "slot "+slot, key, x.notAfter)), 0x71, 0x01, 0x00)
		data := append([]byte{0x5C, 0x03, byte(x.object >> 16), byte(x.object >> 8), byte(x.object)}, apdu.AppendTLV(nil, 0x53, obj)...)
		if _, err := c.Do(ctx, apdu.Command{INS: apdu.InsPutDataOdd, P1: 0x3F, P2: 0xFF, Data: data}); err != nil {
			t.Fatalf("writing the certificate of slot %s: %v", slot, err)
		}
	}
	if _, err := card.Reset(); err != nil {
		t.Fatal(err)
	}
	r := diagnoseReadOnly(t, card, mem, atr)
	var slots []string
	for _, cr := range r.PIV.Certificates {
		slots = append(slots, cr.Slot)
		if cr.ParseError != "" || cr.Subject == "" || cr.NotAfter.IsZero() {
			t.Errorf("certificate %s: %+v, want it read", cr.Slot, cr)
		}
		if x, ok := extra[cr.Slot]; ok && (cr.Object != fmt.Sprintf("%06X", x.object) || cr.Subject != "CN=slot "+cr.Slot) {
			t.Errorf("certificate %s: object %s subject %q, want %06X, CN=slot %s", cr.Slot, cr.Object, cr.Subject, x.object, cr.Slot)
		}
	}
	if want := []string{"9A", "9C", "9D", "9E", "82", "8B", "95", "F9"}; !slices.Equal(slots, want) {
		t.Errorf("certificates of slots %v, want %v", slots, want)
	}
	for _, w := range []string{
		"certificate in slot 9A expired 10 days ago",
		"certificate in slot 9C expires in 10 days",
		"certificate in slot 9E expired 2 days ago",
		"certificate in slot 82 expires in 5 days",
		"certificate in slot 95 expired less than a day ago",
	} {
		if !slices.Contains(r.Warnings, w) {
			t.Errorf("no warning %q in %q", w, r.Warnings)
		}
	}
	for _, w := range r.Warnings {
		for _, quiet := range []string{"9D", "8B", "F9"} {
			if strings.HasPrefix(w, "certificate in slot "+quiet+" ") {
				t.Errorf("warning %q for a certificate valid for long enough", w)
			}
		}
	}
}
