package pivalg

import "testing"

func TestNameAndRSABits(t *testing.T) {
	tests := []struct {
		id      byte
		name    string
		rsaBits int
	}{
		{TDES, "3DES", 0},
		{AES128, "AES-128", 0},
		{AES192, "AES-192", 0},
		{AES256, "AES-256", 0},
		{RSA1024, "RSA-1024", 1024},
		{RSA2048, "RSA-2048", 2048},
		{RSA3072, "RSA-3072", 3072},
		{RSA4096, "RSA-4096", 4096},
		{P256, "ECC-P256", 0},
		{P384, "ECC-P384", 0},
		{Ed25519, "Ed25519", 0},
		{X25519, "X25519", 0},
		{0xFF, "", 0},
	}
	for _, tt := range tests {
		if got := Name(tt.id); got != tt.name {
			t.Errorf("Name(%02X) = %q, want %q", tt.id, got, tt.name)
		}
		if got := RSABits(tt.id); got != tt.rsaBits {
			t.Errorf("RSABits(%02X) = %d, want %d", tt.id, got, tt.rsaBits)
		}
	}
}

func TestMgmtKey(t *testing.T) {
	tests := []struct {
		name string
		id   byte
		ok   bool
		size int
	}{
		{"3des", TDES, true, 24},
		{"aes128", AES128, true, 16},
		{"aes192", AES192, true, 24},
		{"aes256", AES256, true, 32},
		{"AES128", 0, false, 0},
		{"rsa2048", 0, false, 0},
	}
	for _, tt := range tests {
		id, ok := MgmtKeyID(tt.name)
		if id != tt.id || ok != tt.ok {
			t.Errorf("MgmtKeyID(%q) = %02X, %v, want %02X, %v", tt.name, id, ok, tt.id, tt.ok)
		}
		if got := MgmtKeySize(id); got != tt.size {
			t.Errorf("MgmtKeySize(%02X) = %d, want %d", id, got, tt.size)
		}
	}
	if got := MgmtKeySize(RSA2048); got != 0 {
		t.Errorf("MgmtKeySize(RSA2048) = %d, want 0", got)
	}
}
