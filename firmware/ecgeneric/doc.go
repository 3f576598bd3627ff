// Package ecgeneric is elliptic-curve arithmetic for the named short
// Weierstrass curves the Go standard library lacks (the brainpool curves of
// RFC 5639, P-192, secp192k1 and secp256k1 of SEC 2), shared by every
// application that uses them: the ISO application's explicit-parameter
// curves and the OpenPGP application's brainpool keys.
//
// The arithmetic is math/big in Jacobian coordinates: correct, slow, and
// not constant time (docs/security.md). Curves of the standard library
// (P-224, P-256, P-384) are in the table too, so that a caller that matches
// explicit domain parameters finds them, but their keys should use
// crypto/ecdsa and crypto/ecdh.
//
// Every curve here has cofactor 1: a point on the curve other than the
// point at infinity has order n, so validating a peer's point is checking
// that it is on the curve (Curve.Unmarshal).
package ecgeneric
