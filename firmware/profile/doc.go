// Package profile describes a card model: what a Tessera card is made from.
//
// A [Profile] fixes the ATR, serial number and firmware version a card
// reports, its persistent-memory capacity, its PIN/PUK defaults, retry limits
// and policy, the management-key algorithm, the timing model, and the named
// behaviours where real cards depart from the specification. Profiles are
// YAML documents, parsed from bytes by [Parse] (reading a file is the
// caller's: simulator.LoadProfile); the built-in personas are returned by
// [Builtin]:
//
//   - "default": the interop profile. It reports firmware 5.7.1 and a
//     YubiKey ATR, but keeps a 3DES default management key so that Debian
//     12's yubico-piv-tool 2.2.0 (3DES only) works.
//   - "yubikey-5.7": byte-faithful to a YubiKey 5.7.1, AES-192 management
//     key, with the YubiKey management and OATH applications (Device says
//     what the management application reports).
//   - "piv": strict NIST SP 800-73-4 behaviour where the YubiKey departs.
//
// The package imports nothing of Tessera's: it is plain data.
package profile
