package profile

import "testing"

// TestOpenPGPProfiles: the openpgp profile carries the application alone
// with an unmanaged-range manufacturer; yubikey-5.7 carries it beside PIV
// with Yubico's, and its YubiKey extras.
func TestOpenPGPProfiles(t *testing.T) {
	p, ok := Builtin("openpgp")
	if !ok {
		t.Fatal(`no built-in profile "openpgp"`)
	}
	if got := p.Apps(); len(got) != 1 || got[0] != AppOpenPGP {
		t.Errorf("openpgp: applications = %v, want [openpgp]", got)
	}
	if p.OpenPGP.Manufacturer != OpenPGPUnmanaged || p.OpenPGP.YubiKey {
		t.Errorf("openpgp: %+v, want manufacturer FFFE without YubiKey extras", p.OpenPGP)
	}
	if err := p.Validate(); err != nil {
		t.Errorf("openpgp: Validate() = %v", err)
	}
	y, _ := Builtin("yubikey-5.7")
	if !y.HasApp(AppOpenPGP) || !y.HasApp(AppPIV) || y.OpenPGP.Manufacturer != OpenPGPYubico || !y.OpenPGP.YubiKey {
		t.Errorf("yubikey-5.7: applications %v, OpenPGP %+v; want PIV and OpenPGP, Yubico, extras", y.Apps(), y.OpenPGP)
	}
	if d, _ := Builtin("default"); d.HasApp(AppOpenPGP) {
		t.Error("default: carries OpenPGP; its state and diagnostics must stay as they were")
	}
}

// TestOpenPGPSection: the openpgp section parses, the manufacturer in hex
// as the documentation writes it.
func TestOpenPGPSection(t *testing.T) {
	p, err := Parse([]byte("base: openpgp\nname: x\nopenpgp: {manufacturer: 0x0006, yubikey: true}"))
	if err != nil {
		t.Fatal(err)
	}
	if want := (OpenPGP{Manufacturer: 6, YubiKey: true}); p.OpenPGP != want {
		t.Errorf("openpgp = %+v, want %+v", p.OpenPGP, want)
	}
	if _, err := Parse([]byte("base: openpgp\nname: x\nopenpgp: {manufacturer: 0x10000}")); err == nil {
		t.Error("manufacturer 0x10000 accepted, want an error")
	}
}
