// Package pin implements a card's PIN and PUK objects: reference data with a
// persistent try counter, the way Java Card's OwnerPIN and a YubiKey keep them.
//
// Every check follows the pre-decrement rule (DESIGN.md, "Firmware rules"):
// the decremented try counter is written to persistent memory first, the
// candidate is compared in constant time only once that write has succeeded,
// and the counter is restored on success. A power cut at any instant therefore
// never gives an attacker a free try. Counter writes are single atomic writes
// outside any transaction.
//
// The reference value is not stored: a record holds a random salt and the
// SHA-256 of salt and value, compared with crypto/subtle.
//
// Errors: [ErrBlocked] when no tries are left, [*WrongError] (matching
// [ErrWrong]) with the tries left after a failed compare, [ErrPolicy] when a
// new value breaks the [Policy], and any error of the [nvm.Store], notably
// [nvm.ErrPowerLost].
package pin
