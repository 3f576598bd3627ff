package hostdriver

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"fmt"
	"time"
)

// DefaultExpiryWarning is how close to its expiry a certificate draws a
// warning when DiagOptions.ExpiryWarning is zero.
const DefaultExpiryWarning = 30 * 24 * time.Hour

// CertificateInfo is what diagnostics show of one X.509 certificate,
// whatever application holds it (a PIV slot, a PKCS#15 certificate
// object). Its JSON fields are part of the diag report and are only ever
// added to.
type CertificateInfo struct {
	Subject   string    `json:"subject"`
	Issuer    string    `json:"issuer"`
	NotBefore time.Time `json:"not_before"`
	NotAfter  time.Time `json:"not_after"`
	// DaysLeft is the number of whole days from now to NotAfter; once the
	// certificate has expired, minus the whole days since, and at least 1
	// (-1 on the first day after, -10 ten days and an hour after), so that
	// 0 always means "expires within a day".
	DaysLeft  int    `json:"days_to_expiry"`
	PublicKey string `json:"public_key"`
	// ParseError says why the bytes are not a certificate; the other
	// fields are then empty.
	ParseError string `json:"parse_error,omitempty"`
}

// SummarizeCertificate parses a DER certificate (RFC 5280) and summarises
// it as of now: subject, issuer, validity, whole days left and the public
// key's algorithm and size. A certificate that does not parse gives a
// CertificateInfo with only ParseError set, never an error, so a
// diagnostic can show it next to the readable ones.
func SummarizeCertificate(der []byte, now time.Time) CertificateInfo {
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return CertificateInfo{ParseError: err.Error()}
	}
	ci := CertificateInfo{
		Subject:   cert.Subject.String(),
		Issuer:    cert.Issuer.String(),
		NotBefore: cert.NotBefore.UTC(),
		NotAfter:  cert.NotAfter.UTC(),
		DaysLeft:  daysLeft(cert.NotAfter.Sub(now)),
	}
	switch k := cert.PublicKey.(type) {
	case *rsa.PublicKey:
		ci.PublicKey = fmt.Sprintf("RSA-%d", k.N.BitLen())
	case *ecdsa.PublicKey:
		ci.PublicKey = "ECDSA " + k.Curve.Params().Name
	case ed25519.PublicKey:
		ci.PublicKey = "Ed25519"
	default:
		ci.PublicKey = fmt.Sprintf("%T", k)
	}
	return ci
}

// Warning is the warning the certificate draws as of now, or "" when it
// draws none: it does not parse, it has expired, it expires within the
// given time (DefaultExpiryWarning when zero).
// where names the certificate for the reader ("certificate in slot 9A",
// "certificate \"Signing\" (ID 01)") and starts the warning.
func (c CertificateInfo) Warning(where string, now time.Time, within time.Duration) string {
	if within == 0 {
		within = DefaultExpiryWarning
	}
	switch {
	case c.ParseError != "":
		return fmt.Sprintf("%s does not parse: %s", where, c.ParseError)
	case now.After(c.NotAfter) && now.Sub(c.NotAfter) < 24*time.Hour:
		return fmt.Sprintf("%s expired less than a day ago", where)
	case now.After(c.NotAfter):
		return fmt.Sprintf("%s expired %s ago", where, days(-c.DaysLeft))
	case c.NotAfter.Sub(now) < within && c.DaysLeft == 0:
		return fmt.Sprintf("%s expires within a day", where)
	case c.NotAfter.Sub(now) < within:
		return fmt.Sprintf("%s expires in %s", where, days(c.DaysLeft))
	}
	return ""
}

// daysLeft is CertificateInfo.DaysLeft for the time left until expiry.
func daysLeft(left time.Duration) int {
	const day = 24 * time.Hour
	if left >= 0 {
		return int(left / day)
	}
	return -max(1, int(-left/day))
}

// days is n days in words ("1 day", "10 days").
func days(n int) string {
	if n == 1 {
		return "1 day"
	}
	return fmt.Sprintf("%d days", n)
}
