package profile

import (
	"strings"
	"testing"
)

// TestPINField: a PIN policy longer than 8 characters widens the PIN field
// (up to MaxPINField) and lets the factory PIN be as long; past that the
// profile is refused.
func TestPINField(t *testing.T) {
	tests := []struct {
		name      string
		pin       string
		max       int
		wantField int
		wantErr   string
	}{
		{"standard", "123456", 8, 8, ""},
		{"password", "Initial1Pass", 12, 12, ""},
		{"widest", "Initial1Pass1234", 16, 16, ""},
		{"too wide", "Initial1", 17, 16, "want 0 <= min <= max <= 16"},
		{"PIN longer than the field", "Initial1Pass1", 12, 12, "piv.pin: want 1 to 12 characters"},
	}
	for _, tt := range tests {
		p, _ := Builtin("piv")
		p.PIV.PIN = tt.pin
		p.PIV.PINPolicy = Policy{MinLength: 8, MaxLength: tt.max, Charset: "alphanumeric"}
		if got := p.PIV.PINField(); got != tt.wantField {
			t.Errorf("%s: PINField() = %d, want %d", tt.name, got, tt.wantField)
		}
		err := p.Validate()
		if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("%s: Validate() = %v, want %q", tt.name, err, tt.wantErr)
		}
	}
}

// TestTransportPINKey: piv.transport_pin reads from YAML.
func TestTransportPINKey(t *testing.T) {
	p, err := Parse([]byte("base: default\nname: t\npiv:\n  transport_pin: true\n"))
	if err != nil || !p.PIV.TransportPIN || p.PIV.PIN != "123456" {
		t.Errorf("Parse = %+v, %v; want transport_pin on and the base's PIN kept", p.PIV, err)
	}
}
