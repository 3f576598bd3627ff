package profile

import (
	"fmt"
	"slices"
	"strings"
)

// Device is what the YubiKey management application (application "mgmt")
// reports of the device as a whole: READ CONFIG's form factor and
// capabilities (Yubico's yubikit, management.py). It means nothing to a
// card without that application.
type Device struct {
	// FormFactor is one of FormFactors(): "usb-a-keychain" (the default
	// when empty), "usb-a-nano", "usb-c-keychain", "usb-c-nano",
	// "usb-c-lightning", "usb-a-bio", "usb-c-bio".
	FormFactor string `yaml:"form_factor,omitempty"`
	// USBSupported are the capabilities the device has over USB, by name
	// (Capabilities()); empty: those of the card's applications (piv,
	// oath, openpgp). USBEnabled are those enabled at the factory; empty: all
	// supported ones. WRITE CONFIG changes the enabled set afterwards.
	USBSupported []string `yaml:"usb_supported,omitempty"`
	USBEnabled   []string `yaml:"usb_enabled,omitempty"`
	// NFC: the device has NFC too, with the same capabilities, all enabled
	// (READ CONFIG then carries tags 0D and 0E).
	NFC bool `yaml:"nfc,omitempty"`
}

// Capability names and their bits in READ CONFIG (yubikit's CAPABILITY).
var capabilityBits = []struct {
	name string
	bit  uint16
}{
	{"otp", 0x01}, {"u2f", 0x02}, {"openpgp", 0x08}, {"piv", 0x10}, {"oath", 0x20}, {"hsmauth", 0x100}, {"fido2", 0x200},
}

// Capabilities returns the capability names a profile may list.
func Capabilities() []string {
	var out []string
	for _, c := range capabilityBits {
		out = append(out, c.name)
	}
	return out
}

// CapabilityMask returns the READ CONFIG bit mask of the named
// capabilities; unknown names add nothing (Validate refuses them).
func CapabilityMask(names []string) uint16 {
	var m uint16
	for _, c := range capabilityBits {
		if slices.Contains(names, c.name) {
			m |= c.bit
		}
	}
	return m
}

// FormFactors returns the form factor names, in the order of their codes
// 01 to 07 (yubikit's FORM_FACTOR).
func FormFactors() []string {
	return []string{"usb-a-keychain", "usb-a-nano", "usb-c-keychain", "usb-c-nano", "usb-c-lightning", "usb-a-bio", "usb-c-bio"}
}

// FormFactorCode returns the form factor's READ CONFIG code (tag 04).
func (d Device) FormFactorCode() byte {
	if i := slices.Index(FormFactors(), d.FormFactor); i >= 0 {
		return byte(i + 1)
	}
	return 0x01
}

// appCapability maps a card application to the capability that stands for
// it, "" for none (the management application is always on).
func appCapability(app string) string {
	switch app {
	case AppPIV:
		return "piv"
	case AppOATH:
		return "oath"
	case AppOpenPGP:
		return "openpgp"
	}
	return ""
}

// Supported returns the USB capabilities of a card of the profile: the
// device section's, else those of its applications.
func (p Profile) Supported() []string {
	if len(p.Device.USBSupported) > 0 {
		return p.Device.USBSupported
	}
	var out []string
	for _, a := range p.Apps() {
		if c := appCapability(a); c != "" {
			out = append(out, c)
		}
	}
	return out
}

// Enabled returns the USB capabilities enabled at the factory.
func (p Profile) Enabled() []string {
	if len(p.Device.USBEnabled) > 0 {
		return p.Device.USBEnabled
	}
	return p.Supported()
}

func (p Profile) validateDevice() []error {
	var errs []error
	d := p.Device
	if d.FormFactor != "" && !slices.Contains(FormFactors(), d.FormFactor) {
		errs = append(errs, fmt.Errorf("device.form_factor: %q, want one of %s", d.FormFactor, strings.Join(FormFactors(), ", ")))
	}
	for _, f := range []struct {
		key   string
		names []string
	}{{"device.usb_supported", d.USBSupported}, {"device.usb_enabled", d.USBEnabled}} {
		for _, n := range f.names {
			if !slices.Contains(Capabilities(), n) {
				errs = append(errs, fmt.Errorf("%s: unknown capability %q, want %s", f.key, n, strings.Join(Capabilities(), ", ")))
			}
		}
	}
	for _, n := range d.USBEnabled {
		if slices.Contains(Capabilities(), n) && !slices.Contains(p.Supported(), n) {
			errs = append(errs, fmt.Errorf("device.usb_enabled: %q is not among the supported capabilities", n))
		}
	}
	// A capability an application stands for is supported only with that
	// application on the card: the management application must not
	// claim what no application answers.
	for _, a := range []string{AppPIV, AppOATH, AppOpenPGP} {
		if slices.Contains(d.USBSupported, appCapability(a)) && !p.HasApp(a) {
			errs = append(errs, fmt.Errorf("device.usb_supported: %q needs the %s application on the card", appCapability(a), a))
		}
	}
	if (d.FormFactor != "" || d.NFC || len(d.USBSupported)+len(d.USBEnabled) > 0) && !p.HasApp(AppMgmt) {
		errs = append(errs, fmt.Errorf("device: only the %s application reports it; add %s to applications", AppMgmt, AppMgmt))
	}
	return errs
}
