// Package isoapp is the ISO 7816 file-system application: a PKCS#15 token
// that OpenSC's isoApplet driver personalises (pkcs15-init) and uses
// through PKCS#11, modelled on IsoApplet v0 (API 00.06). ISO/IEC 7816-4
// framing itself is package apdu's; this package is the application. A
// profile names it "iso" (applications: [iso], section iso:), and its
// records keep the store prefix "iso/": both are public formats and do
// not follow the package's name.
//
// It offers an ISO/IEC 7816-4 file system (MF, DFs and transparent EFs,
// selected by FID or by path from the MF, with the 8-byte tag-86 access
// rules), a PIN (reference 01, 4–16 bytes, kept zero-padded to 16) and a
// PUK (reference 02, exactly 16 bytes) with the life cycle
// creation → PUK set → PIN set (operational), and 16 on-card key slots used
// through ISO/IEC 7816-8 MANAGE SECURITY ENVIRONMENT, GENERATE ASYMMETRIC
// KEY PAIR and PERFORM SECURITY OPERATION (RSA-2048 PKCS#1 v1.5 signature and
// decryption; ECDSA with the card hashing the message with SHA-1, on every
// curve of curveNames (curves.go) given by explicit domain parameters), private-key import
// with PUT DATA, and GET CHALLENGE.
//
// Where IsoApplet's answer would break a client it departs on purpose: a
// VERIFY against a blocked PIN answers 6983 (ISO/IEC 7816-4 "authentication
// method blocked") rather than 63C0, so that PKCS#11 reports CKR_PIN_LOCKED.
//
// Disclose tells the card OS which command and response data a trace may
// show: never a PIN, a PUK, an imported private key or a deciphered
// plaintext.
//
// Persistent state, all under the store prefix "iso/": the life cycle byte,
// the PIN and PUK objects (salted hashes, package pin), one record per file
// (its parent and its FCP exactly as created) and one per EF's contents,
// one per key slot. Every command that changes state does so in one atomic
// store write or transaction. RAM state (current file, security
// environment, PIN verified) is cleared by SELECT of the application and by
// reset.
//
// Arithmetic on curves the Go standard library lacks (P-192, the brainpool
// and secp…k1 curves) is package ecgeneric's: math/big, not constant time: this is an
// emulator for testing host software, not a place to keep real keys.
package isoapp
