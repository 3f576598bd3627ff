package profile

import (
	"slices"
	"strings"
	"testing"
)

// TestDevice: the device section and the mgmt and oath application names
// parse, and what makes no sense is refused with the field named.
func TestDevice(t *testing.T) {
	tests := []struct {
		doc, wantErr string
		supported    []string
		enabled      []string
		formFactor   byte
	}{
		{doc: "base: yubikey-5.7\nname: x", supported: []string{"piv", "oath", "openpgp"}, enabled: []string{"piv", "oath", "openpgp"}, formFactor: 1},
		{doc: "base: yubikey-5.7\nname: x\ndevice: {form_factor: usb-c-nano, usb_enabled: [piv]}", supported: []string{"piv", "oath", "openpgp"}, enabled: []string{"piv"}, formFactor: 4},
		{doc: "base: yubikey-5.7\nname: x\ndevice: {usb_supported: [piv, otp, fido2]}", supported: []string{"piv", "otp", "fido2"}, enabled: []string{"piv", "otp", "fido2"}, formFactor: 1},
		{doc: "base: yubikey-5.7\nname: x\napplications: [piv, mgmt]", supported: []string{"piv"}, enabled: []string{"piv"}, formFactor: 1},
		{doc: "base: yubikey-5.7\nname: x\ndevice: {form_factor: usb-d}", wantErr: `device.form_factor: "usb-d", want one of usb-a-keychain`},
		{doc: "base: yubikey-5.7\nname: x\ndevice: {usb_supported: [piv, ccid]}", wantErr: `device.usb_supported: unknown capability "ccid"`},
		{doc: "base: yubikey-5.7\nname: x\ndevice: {usb_supported: [piv], usb_enabled: [oath]}", wantErr: `device.usb_enabled: "oath" is not among the supported capabilities`},
		{doc: "base: yubikey-5.7\nname: x\napplications: [piv, mgmt]\ndevice: {usb_supported: [piv, oath]}", wantErr: `device.usb_supported: "oath" needs the oath application on the card`},
		{doc: "name: x\ndevice: {nfc: true}", wantErr: "device: only the mgmt application reports it"},
		{doc: "name: x\napplications: [piv, yubiotp]", wantErr: `applications: unknown application "yubiotp", want one of piv, iso, mgmt, oath, openpgp`},
		{doc: "base: yubikey-5.7\nname: x\napplications: [piv, mgmt]\ndevice: {usb_supported: [piv, openpgp]}", wantErr: `device.usb_supported: "openpgp" needs the openpgp application on the card`},
	}
	for _, tt := range tests {
		p, err := Parse([]byte(tt.doc))
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Parse(%q) error = %v, want one saying %s", tt.doc, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("Parse(%q) error = %v", tt.doc, err)
			continue
		}
		if got := p.Supported(); !slices.Equal(got, tt.supported) {
			t.Errorf("Parse(%q).Supported() = %v, want %v", tt.doc, got, tt.supported)
		}
		if got := p.Enabled(); !slices.Equal(got, tt.enabled) {
			t.Errorf("Parse(%q).Enabled() = %v, want %v", tt.doc, got, tt.enabled)
		}
		if got := p.Device.FormFactorCode(); got != tt.formFactor {
			t.Errorf("Parse(%q).Device.FormFactorCode() = %d, want %d", tt.doc, got, tt.formFactor)
		}
	}
	if got := CapabilityMask([]string{"piv", "oath", "fido2"}); got != 0x230 {
		t.Errorf("CapabilityMask(piv, oath, fido2) = %04X, want 0230", got)
	}
	for _, name := range []string{"default", "piv", "cloud-signature"} {
		if p, _ := Builtin(name); p.HasApp(AppMgmt) || p.HasApp(AppOATH) {
			t.Errorf("%s carries %v: want PIV alone, as before", name, p.Apps())
		}
	}
}
