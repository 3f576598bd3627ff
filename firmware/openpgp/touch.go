package openpgp

import (
	"github.com/tesseracard/tessera/apdu"
	"github.com/tesseracard/tessera/firmware"
)

// TouchSource is the card's touch sensor (firmware.TouchSource, the one
// PIV and OATH ask too); the application asks it with the key reference
// B6, B8 or A4 of the key about to be used.
type TouchSource = firmware.TouchSource

// errNoTouch is what a command answers when its key's user interaction
// flag asks for a touch and none came in time: 6985, conditions of use not
// satisfied (see the package doc for what is verified of it).
var errNoTouch = apdu.SWConditionsNotSatisfied

// uifTag returns the user interaction flag DO of key ref: D6 for the
// signature key, D7 for the decryption key, D8 for the authentication key,
// D9 for the attestation key.
func uifTag(ref byte) uint16 {
	switch ref {
	case keyDec:
		return tagUIFSig + 1
	case keyAut:
		return tagUIFSig + 2
	case keyAtt:
		return tagUIFAtt
	}
	return tagUIFSig
}

// touch enforces the user interaction flag of key ref on a YubiKey profile
// before the key is used: on and fixed ask the sensor every time; cached
// and cached-fixed ask it unless a touch for this key was given less than
// firmware.TouchGrace ago on the card's clock. No touch in time answers
// errNoTouch. A card without the YubiKey extras has no flags and never
// asks.
func (a *Applet) touch(env *firmware.Context, ref byte) error {
	if !a.yubikey {
		return nil
	}
	tag := uifTag(ref)
	v, ok := env.Store.Get(doKey(tag))
	if !ok || len(v) == 0 {
		return nil
	}
	last := &a.lastTouch[tag-tagUIFSig]
	now := env.Now()
	switch v[0] {
	case uifOn, uifFixed:
	case uifCached, uifCachedFixed:
		if firmware.TouchCached(*last, now) {
			return nil
		}
	default:
		return nil
	}
	if a.sensor != nil && !a.sensor.Touch(ref) {
		return errNoTouch
	}
	*last = now
	return nil
}
