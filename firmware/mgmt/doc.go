// Package mgmt is the YubiKey management application (AID
// A000000527471117): what ykman asks to learn what a device is, and how it
// turns applications on and off. Its commands follow Yubico's yubikit
// (management.py), class 00:
//
//   - SELECT answers the firmware version as text, "5.7.1", from which
//     yubikit reads the version.
//   - READ CONFIG (1D, P1 the page, 00 only) answers a length byte and
//     TLVs: 01 USB supported capabilities (2 bytes), 02 serial (4), 03 USB
//     enabled capabilities (2), 04 form factor (1), 05 firmware version
//     (3), 06 auto-eject timeout (2), 07 challenge-response timeout (1), 08
//     device flags (1), 0A configuration locked (1), and with NFC 0D and
//     0E, NFC supported and enabled (2 each). Nothing follows (no tag 10);
//     the tags firmware 5.6 and 5.7 add for FIPS, PIN complexity, part
//     number and fingerprint-sensor versions are not sent, as ykman reads
//     them as absent.
//   - WRITE CONFIG (1C) takes a length byte and TLVs: 03 and 0E the enabled
//     capabilities, 06, 07 and 08 the timeouts and flags, 0A a new lock code
//     (16 bytes; all zeros removes it), 0B the current lock code, which a
//     locked configuration needs for any change (else 6982), 0C reboot
//     (accepted; the change takes effect at the next power-on anyway).
//     Enabled capabilities must be supported ones, and at least one must
//     stay enabled over USB (6A80).
//   - SET MODE (16) is not offered (6D00): ykman 4.0.9 turns a mode change
//     for firmware 5 and later into WRITE CONFIG.
//
// The applet is a firmware.Gate: at power-on the card OS hides the
// applications whose capability (PIV, OATH, OpenPGP) is not enabled over
// USB, so a disabled application answers no SELECT (6A82) after the next
// power-up, as on a YubiKey after its reboot.
//
// Persistent state, under the store prefix "mgmt/" (a public format):
// "mgmt/serial" (4 bytes), "mgmt/config" (USB enabled 2 bytes, NFC enabled
// 2, auto-eject timeout 2, challenge-response timeout 1, device flags 1,
// the capabilities supported when it was written 2; a record of the first
// format ends before these, as if PIV and OATH were) and "mgmt/lock" (the
// 16-byte lock code, absent when unlocked). A capability the card supports
// but the record does not know (an application a newer profile adds) is
// enabled. The lock code is never shown in a trace (Disclose).
package mgmt
