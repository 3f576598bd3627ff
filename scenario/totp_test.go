package scenario

import "testing"

// TestTOTPCode checks totpCode against RFC 6238 Appendix B (SHA-1 seed,
// the low 6 of the 8 digits given there).
func TestTOTPCode(t *testing.T) {
	seed := []byte("12345678901234567890")
	tests := []struct {
		unix int64
		want string
	}{
		{59, "287082"},
		{1111111109, "081804"},
		{1234567890, "005924"},
		{20000000000, "353130"},
	}
	for _, tt := range tests {
		if got := totpCode(seed, uint64(tt.unix)/30); got != tt.want {
			t.Errorf("totpCode(T=%d) = %s, want %s", tt.unix, got, tt.want)
		}
	}
	uri := "otpauth://totp/Tessera:1?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Tessera&algorithm=SHA1&digits=6&period=30"
	if s, err := totpSeed(uri); err != nil || string(s) != string(seed) {
		t.Errorf("totpSeed() = %q, %v; want %q", s, err, seed)
	}
	if _, err := totpSeed("otpauth://totp/x?secret=GEZD&algorithm=SHA256&digits=6&period=30"); err == nil {
		t.Errorf("totpSeed(SHA256) succeeded, want an error")
	}
}
