package profile

import (
	"fmt"
	"slices"
	"strings"
)

// Application names for Profile.Applications.
const (
	AppPIV  = "piv"
	AppISO  = "iso"
	AppMgmt = "mgmt" // the YubiKey management application (READ CONFIG)
	AppOATH = "oath" // the YubiKey OATH application (YKOATH)
	// AppOpenPGP is the OpenPGP card application (v3.4, package
	// firmware/openpgp).
	AppOpenPGP = "openpgp"
)

// knownApps are the application names a profile may list.
func knownApps() []string { return []string{AppPIV, AppISO, AppMgmt, AppOATH, AppOpenPGP} }

// ISO is the ISO 7816 file-system application's part of a profile.
type ISO struct {
	// PINRetries and PUKRetries are the try limits of the PIN (reference 1)
	// and the PUK (reference 2).
	PINRetries int `yaml:"pin_retries,omitempty"`
	PUKRetries int `yaml:"puk_retries,omitempty"`
	// KeyImport accepts private keys with PUT DATA; without it PUT DATA
	// answers 6900, as the stock applet does.
	KeyImport bool `yaml:"key_import,omitempty"`
}

// Apps returns the card's applications: Applications, or "piv" alone.
func (p Profile) Apps() []string {
	if len(p.Applications) == 0 {
		return []string{AppPIV}
	}
	return p.Applications
}

// HasApp reports whether the card carries the named application.
func (p Profile) HasApp(name string) bool { return slices.Contains(p.Apps(), name) }

// withoutPIVMeaningless reports whether a card whose only PIN-holding
// application is app (the ISO application, or OpenPGP) refuses quirk q,
// and why: it would change nothing that application does. The quirks of
// PIV's own commands are refused on both; so is status-survives-reset,
// as both clear their PIN state on every SELECT; sw-6cxx on the ISO
// application only, which answers 6Cxx already. (On a card that carries
// PIV too they act on PIV.)
func withoutPIVMeaningless(app, q string) (why string, refused bool) {
	switch q {
	case QuirkTrailingBytes:
		return "it appends a byte to PIV GET DATA (CB) answers, which the application does not have", true
	case QuirkECDSARawSignature, QuirkECDHFullPoint, QuirkRSALeadingZeroDropped, QuirkECDHNoPointCheck:
		return "it changes the answers of PIV GENERAL AUTHENTICATE (87); the application uses PERFORM SECURITY OPERATION", true
	case QuirkPINPolicyAlwaysIgnored, QuirkMetadataPINPolicyWrong:
		return "it concerns the PIN policy of PIV keys (GENERATE tag AA, GET METADATA), which the application does not have", true
	case QuirkAttestWrongSerial, QuirkTouchAlwaysCached, QuirkImportOriginGenerated, QuirkResetOneBlocked, QuirkMoveKeyCopies, QuirkSetRetriesWithoutPIN, QuirkSerialLittleEndian:
		return "it concerns YubiKey PIV extensions (ATTEST, touch policies, IMPORT, RESET, MOVE KEY, SET PIN RETRIES, GET SERIAL), which the application does not have", true
	case QuirkExternalAuthUnchecked:
		return "it concerns the PIV management key's external authentication (GENERAL AUTHENTICATE 9B), which the application does not have", true
	case QuirkStatusSurvivesReset:
		return "the application clears its PIN state on every SELECT, so no status can outlive a reset", true
	case QuirkSW6Cxx:
		if app == AppISO {
			return "the application already answers 6Cxx to a GET RESPONSE with the wrong Le, as IsoApplet does", true
		}
	}
	return "", false
}

func (p Profile) validateApplications() []error {
	var errs []error
	seen := map[string]bool{}
	for _, a := range p.Applications {
		switch {
		case !slices.Contains(knownApps(), a):
			errs = append(errs, fmt.Errorf("applications: unknown application %q, want one of %s", a, strings.Join(knownApps(), ", ")))
		case seen[a]:
			errs = append(errs, fmt.Errorf("applications: %q listed twice", a))
		}
		seen[a] = true
	}
	if p.HasApp(AppISO) && !p.HasApp(AppPIV) {
		for _, q := range p.Quirks {
			if why, ok := withoutPIVMeaningless(AppISO, q); ok {
				errs = append(errs, fmt.Errorf("quirks: %q has no meaning for the %s application: %s", q, AppISO, why))
			}
		}
	}
	if p.HasApp(AppOpenPGP) && !p.HasApp(AppPIV) && !p.HasApp(AppISO) {
		for _, q := range p.Quirks {
			if why, ok := withoutPIVMeaningless(AppOpenPGP, q); ok {
				errs = append(errs, fmt.Errorf("quirks: %q has no meaning for the %s application: %s", q, AppOpenPGP, why))
			}
		}
	}
	if p.HasApp(AppISO) {
		for name, n := range map[string]int{"iso.pin_retries": p.ISO.PINRetries, "iso.puk_retries": p.ISO.PUKRetries} {
			if n < 1 || n > 15 {
				errs = append(errs, fmt.Errorf("%s: %d, want 1 to 15", name, n))
			}
		}
	}
	errs = append(errs, p.validateDevice()...)
	return errs
}

// isoToken is the PKCS#11 token: a card carrying only the ISO 7816
// file-system application, which OpenSC's isoApplet driver personalises
// with pkcs15-init. Its ATR names no known card, so OpenSC finds the
// application by SELECT.
func isoToken(base Profile) Profile {
	p := base
	p.Name = "iso-token"
	p.Description = "PKCS#11 token: an ISO 7816-4 file-system application (IsoApplet v0, API 00.06) that OpenSC personalises with PKCS#15; PIN 3 tries, PUK 5"
	// T=1, historical bytes "Tessera ISO".
	p.ATR = HexBytes{0x3B, 0x8B, 0x80, 0x01, 'T', 'e', 's', 's', 'e', 'r', 'a', ' ', 'I', 'S', 'O', 0x00}
	p.ATR[len(p.ATR)-1] = tck(p.ATR[1 : len(p.ATR)-1])
	p.Serial = 10000007
	p.ExtendedLength = false // the applet offers no extended APDUs (API feature bit 01 clear)
	p.MaxCommand = 660       // the applet's chaining buffer
	p.Applications = []string{AppISO}
	p.ISO = ISO{PINRetries: 3, PUKRetries: 5, KeyImport: true}
	return p
}

// tck is the ATR check byte: the XOR of T0 up to the last interface or
// historical byte.
func tck(b []byte) byte {
	var x byte
	for _, c := range b {
		x ^= c
	}
	return x
}
