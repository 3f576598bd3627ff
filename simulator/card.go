package simulator

import (
	"io"
	"slices"
	"time"

	"github.com/tesseracard/tessera/firmware"
	"github.com/tesseracard/tessera/firmware/isoapp"
	"github.com/tesseracard/tessera/firmware/mgmt"
	"github.com/tesseracard/tessera/firmware/nvm"
	"github.com/tesseracard/tessera/firmware/oath"
	"github.com/tesseracard/tessera/firmware/openpgp"
	"github.com/tesseracard/tessera/firmware/piv"
	"github.com/tesseracard/tessera/firmware/profile"
)

// CardOptions are the per-card settings beyond the profile.
type CardOptions struct {
	// Serial overrides the profile's serial number at the card's first boot.
	Serial uint32
	// Rand is the card's random source; nil means crypto/rand.
	Rand io.Reader
	// Clock is the card's clock; nil means time.Now.
	Clock func() time.Time
	// Touch is the touch sensor; nil means every touch is given at once.
	Touch firmware.TouchSource
}

// NewCard assembles a card of profile p on medium m: the card OS with the
// profile's applications (PIV, ISO, YubiKey management, OATH,
// OpenPGP), with its
// behavioural quirks (the wire-level ones are applied by the Reader that
// hosts the card). The card
// is powered off; a medium holding a damaged image is an error (wrapping
// nvm.ErrCorrupt).
func NewCard(p profile.Profile, m nvm.Medium, opts CardOptions) (*firmware.Card, error) {
	if opts.Rand == nil {
		opts.Rand = cryptoRand{}
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	return firmware.New(firmware.Config{
		ATR:            p.ATR,
		Medium:         m,
		Rand:           opts.Rand,
		Clock:          opts.Clock,
		Capacity:       p.Capacity,
		MaxCommand:     p.MaxCommand,
		ExtendedLength: p.ExtendedLength,
		Applets:        applets(p, opts),
		Quirks:         firmware.Quirks{StatusSurvivesReset: p.HasQuirk(profile.QuirkStatusSurvivesReset)},
	})
}

// applets are the profile's on-card applications, in its order. The
// OpenPGP application's attestation certificate is issued by the PIV
// application's F9 key, the card's attestation CA, when the card has PIV.
func applets(p profile.Profile, opts CardOptions) []firmware.Applet {
	var out []firmware.Applet
	var pivApp *piv.Applet
	if slices.Contains(p.Apps(), profile.AppPIV) {
		pivApp = piv.New(p, piv.Options{Serial: opts.Serial, Touch: opts.Touch})
	}
	for _, name := range p.Apps() {
		switch name {
		case profile.AppPIV:
			out = append(out, pivApp)
		case profile.AppISO:
			out = append(out, isoapp.New(p.ISO).WithQuirks(isoapp.QuirksOf(p)))
		case profile.AppMgmt:
			out = append(out, mgmt.New(p, mgmt.Options{Serial: opts.Serial}))
		case profile.AppOATH:
			out = append(out, oath.New(p, oath.Options{Touch: opts.Touch}))
		case profile.AppOpenPGP:
			o := openpgp.Options{Serial: opts.Serial, Touch: opts.Touch}
			if pivApp != nil {
				o.AttestationCA = pivApp.AttestationCA
			}
			out = append(out, openpgp.New(p, o))
		}
	}
	return out
}
