package scenario

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base32"
	"encoding/binary"
	"fmt"
	"net/url"
	"strings"
)

// totpSeed reads the seed from an otpauth:// URI (Key Uri Format: secret
// in base32, no padding) and checks that it asks for RFC 6238's defaults:
// SHA-1, 6 digits, 30 seconds.
func totpSeed(uri string) ([]byte, error) {
	u, err := url.Parse(uri)
	if err != nil || u.Scheme != "otpauth" || u.Host != "totp" {
		return nil, fmt.Errorf("enrolment URI %q: want otpauth://totp/...", uri)
	}
	q := u.Query()
	for k, want := range map[string]string{"algorithm": "SHA1", "digits": "6", "period": "30"} {
		if got := q.Get(k); got != want {
			return nil, fmt.Errorf("enrolment URI: %s=%q, want %q", k, got, want)
		}
	}
	seed, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.ToUpper(q.Get("secret")))
	if err != nil || len(seed) == 0 {
		return nil, fmt.Errorf("enrolment URI: the secret is not base32")
	}
	return seed, nil
}

// totpCode is the RFC 6238 code of a 30-second step: RFC 4226 HOTP,
// HMAC-SHA-1 with dynamic truncation, 6 digits.
func totpCode(seed []byte, step uint64) string {
	m := hmac.New(sha1.New, seed)
	m.Write(binary.BigEndian.AppendUint64(nil, step))
	sum := m.Sum(nil)
	off := sum[len(sum)-1] & 0x0F
	v := binary.BigEndian.Uint32(sum[off:]) & 0x7FFFFFFF
	return fmt.Sprintf("%06d", v%1000000)
}
