package firmware

import "time"

// TouchSource is a card's touch sensor: Touch reports whether the user
// touched it within the time a YubiKey waits (its LED blinking), for the
// key named by ref (a PIV slot, an OpenPGP key reference B6, B8 or A4).
// One sensor serves every application of a card; an application asks it
// only when a key's touch policy requires a touch.
type TouchSource interface {
	Touch(ref byte) bool
}

// TouchGrace is how long a YubiKey's "cached" touch lasts: a touch given
// within it satisfies the next use that needs one (ykman's "cached" touch
// policies, PIV and OpenPGP alike).
const TouchGrace = 15 * time.Second

// TouchCached reports whether a touch given at last still holds at now on
// the card's clock: given (non-zero), not in the future (a clock set back
// voids it), and less than TouchGrace ago.
func TouchCached(last, now time.Time) bool {
	return !last.IsZero() && !now.Before(last) && now.Sub(last) < TouchGrace
}
