// Package conformance is Tessera's conformance suite for PIV cards: cases
// written from the specifications — NIST SP 800-73-4 (the PIV card
// interface), the SP 800-85A-4 test assertions (whose labels, such as
// VE05.19, are the case IDs where one applies) and ISO/IEC 7816-4 (the APDU
// layer) — and a runner for QA scenarios written in YAML. It has cases too
// for the other applications a card may answer SELECT for: the ISO 7816
// file-system application (IsoApplet), YubiKey OATH and management, and
// the OpenPGP card application (OpenPGP card 3.4, openpgp.go).
//
// The suite runs unchanged against any [Target]: the simulator in process
// (a factory-fresh card per case), or a card in a PC/SC reader, simulated or
// real. It speaks to cards only through hostdriver.Transport and apdu, and
// it never imports the firmware it tests: every constant here is written
// from the specifications, so that a mistake in the firmware is not mirrored
// in the test that should catch it.
//
// Each [Case] is Safe (it only reads: no credential, no try spent, nothing
// written) or Destructive (it needs the PIN, PUK or management key, spends
// tries, blocks, or writes). On a target that is not Fresh, destructive
// cases run only when asked, with the credentials, and each puts back what
// it changed; what cannot be put back (a blocked PUK) is refused up front,
// with the reason. Where a real card departs from SP 800-73-4 in a
// documented way (a YubiKey answers 6983 to the try that blocks the PIN,
// not 63C0), the case passes and names the departure (see [Departures]).
//
// A [Report] prints as an aligned table, JSON or JUnit XML.
package conformance
