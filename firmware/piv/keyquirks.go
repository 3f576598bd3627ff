package piv

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha512"
	"errors"
	"slices"

	"github.com/tesseracard/tessera/apdu"

	"github.com/tesseracard/tessera/firmware/profile"
)

// keyQuirks applies the profile's quirks of private-key operations to the
// result out of GENERAL AUTHENTICATE (SP 800-73-4 Part 2 §3.2.4) with the
// key k: peer is the host's point of a key agreement (tag 85), nil for a
// signature or decryption (tag 81). Each quirk is a misbehaviour of real
// cards that a host must not accept:
//
//   - profile.QuirkECDHFullPoint: an ECDH answer is the whole shared point
//     04‖x‖y, not x alone (SP 800-56A §5.7.1.2), as cards that expose the
//     raw point multiplication do.
//   - profile.QuirkRSALeadingZeroDropped: an RSA result is answered as a
//     minimal integer, without its leading zero bytes, instead of the
//     modulus-sized octet string of RFC 8017 §4.1 (I2OSP): a decrypted
//     PKCS#1 block loses its leading 00 every time, a signature one time in
//     256.
func (a *Applet) keyQuirks(k key, peer, out []byte) []byte {
	switch priv := k.priv.(type) {
	case *ecdsa.PrivateKey:
		if peer != nil && a.p.HasQuirk(profile.QuirkECDHFullPoint) {
			if point, ok := sharedPoint(priv, peer); ok {
				return point
			}
		}
	case *rsa.PrivateKey:
		if a.p.HasQuirk(profile.QuirkRSALeadingZeroDropped) {
			return bytes.TrimLeft(out, "\x00")
		}
	}
	return out
}

// sharedPoint returns d·Q as an uncompressed point, for the
// ecdh-full-point quirk alone (a real answer is x, from crypto/ecdh). The
// point multiplication of crypto/elliptic is the one way the standard
// library gives y; keyAgreement has already checked the peer's point.
func sharedPoint(priv *ecdsa.PrivateKey, peer []byte) ([]byte, bool) {
	q, err := ecdsa.ParseUncompressedPublicKey(priv.Curve, peer)
	if err != nil {
		return nil, false
	}
	d, err := priv.Bytes()
	if err != nil {
		return nil, false
	}
	x, y := priv.Curve.ScalarMult(q.X, q.Y, d)
	size := (priv.Curve.Params().BitSize + 7) / 8
	return append(append([]byte{0x04}, x.FillBytes(make([]byte, size))...), y.FillBytes(make([]byte, size))...), true
}

// consumesAlways reports whether a private-key operation with a key of PIN
// policy "always" consumes the PIN verification, as the Yubico PIV
// documentation ("PIN policy") says it must: one VERIFY per operation.
// profile.QuirkPINPolicyAlwaysIgnored keeps the verification, so the key
// works again and again after one VERIFY, as a "once" key does.
func (a *Applet) consumesAlways() bool {
	return !a.p.HasQuirk(profile.QuirkPINPolicyAlwaysIgnored)
}

// reportedPINPolicy is the PIN policy GET METADATA reports for k (Yubico
// PIV extension GET METADATA, tag 02): its own, or "never" for every key
// under profile.QuirkMetadataPINPolicyWrong.
func (a *Applet) reportedPINPolicy(k key) byte {
	if a.p.HasQuirk(profile.QuirkMetadataPINPolicyWrong) {
		return pinPolicyNever
	}
	return k.pinPolicy
}

// attestedSerial is the serial number ATTEST writes in its certificate's
// extension 1.3.6.1.4.1.41482.3.7: the card's, or the next one under
// profile.QuirkAttestWrongSerial, as a card whose attestation is not bound
// to its own GET SERIAL would.
func (a *Applet) attestedSerial(serial uint32) uint32 {
	if a.p.HasQuirk(profile.QuirkAttestWrongSerial) {
		return serial + 1
	}
	return serial
}

// alwaysTakesCachedTouch reports whether a key (or management key) of touch
// policy "always" is satisfied by a touch given within the cache time of
// policy "cached": profile.QuirkTouchAlwaysCached. A YubiKey asks for a
// touch at every use ("PIN and touch policies").
func (a *Applet) alwaysTakesCachedTouch() bool {
	return a.p.HasQuirk(profile.QuirkTouchAlwaysCached)
}

// reportedOrigin is the origin GET METADATA reports for k (tag 03): its
// own, or "generated" for every key under
// profile.QuirkImportOriginGenerated, which hides that a key was imported
// (and so not attestable).
func (a *Applet) reportedOrigin(k key) byte {
	if a.p.HasQuirk(profile.QuirkImportOriginGenerated) {
		return originGenerated
	}
	return k.origin
}

// uncheckedAgreement is what a key agreement answers when the host's point
// failed the check (err, from keyAgreement): err itself, or under
// profile.QuirkECDHNoPointCheck, for a NIST curve key and a point of the
// right length, a "shared secret" as a card that never checks the point is
// on the curve computes it. Its true value is d·Q on another curve, which
// crypto/ecdh (rightly) cannot compute; the simulator answers bytes derived
// from the point, as long as x, which is what a host sees either way: 9000
// and an answer instead of 6A80 (SP 800-56A §5.6.2.3, an invalid-curve
// attack's opening).
func (a *Applet) uncheckedAgreement(k key, peer []byte, err error) ([]byte, error) {
	priv, ok := k.priv.(*ecdsa.PrivateKey)
	if !ok || !a.p.HasQuirk(profile.QuirkECDHNoPointCheck) || !errors.Is(err, apdu.SWIncorrectData) {
		return nil, err
	}
	size := (priv.Curve.Params().BitSize + 7) / 8
	if len(peer) != 1+2*size || peer[0] != 0x04 {
		return nil, err
	}
	sum := sha512.Sum512(peer)
	return sum[:size], nil
}

// resetNeedsBlocked is how many of the PIN and PUK must be blocked for
// RESET (FB) to wipe the application: both, as the Yubico PIV
// documentation says, or one under profile.QuirkResetOneBlocked.
func (a *Applet) resetNeedsBlocked() int {
	if a.p.HasQuirk(profile.QuirkResetOneBlocked) {
		return 1
	}
	return 2
}

// moveLeavesSource reports whether MOVE KEY (F6) copies the key, leaving
// it usable in the source slot too: profile.QuirkMoveKeyCopies. A YubiKey
// moves it: the source is empty afterwards.
func (a *Applet) moveLeavesSource() bool {
	return a.p.HasQuirk(profile.QuirkMoveKeyCopies)
}

// externalAuthUnchecked reports whether external authentication with the
// management key (SP 800-73-4 Part 2 Appendix A.1) accepts any response of
// the block size, the encrypted challenge unchecked:
// profile.QuirkExternalAuthUnchecked.
func (a *Applet) externalAuthUnchecked() bool {
	return a.p.HasQuirk(profile.QuirkExternalAuthUnchecked)
}

// setRetriesNeedsPIN reports whether SET PIN RETRIES (FA) needs the PIN
// verified as well as the management key, as the Yubico PIV documentation
// says; profile.QuirkSetRetriesWithoutPIN takes the management key alone,
// so that whoever holds it resets the user's PIN to the factory value.
func (a *Applet) setRetriesNeedsPIN() bool {
	return !a.p.HasQuirk(profile.QuirkSetRetriesWithoutPIN)
}

// answeredSerial is what GET SERIAL (F8) answers for the card's serial
// number, stored big-endian as a YubiKey answers it: the same bytes, or
// under profile.QuirkSerialLittleEndian the bytes reversed, so that the
// number a host reads is not the one the attestation certificate (or the
// management application) names.
func (a *Applet) answeredSerial(stored []byte) []byte {
	if !a.p.HasQuirk(profile.QuirkSerialLittleEndian) {
		return stored
	}
	out := bytes.Clone(stored)
	slices.Reverse(out)
	return out
}
