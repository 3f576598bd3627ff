package openpgp

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"io"
	"iter"

	"github.com/tesseracard/tessera/apdu"
)

// This file is the contract between the application (applet.go and its
// neighbours: data objects, passwords, life cycle) and the key operations
// (key generation, import, signature, decipher, authentication). The
// application stores and hands back the opaque private key bytes these
// functions produce; it never looks inside them (their format: keys_record.go).
// publicKey, sign and decipher parse the stored key on every call; an
// applet that holds a keyCache (keys_cache.go) and calls its methods of the
// same names keeps the parsed keys in RAM instead, which a signature within
// 1.10x of Go's own crypto needs for RSA.

// Key references: the control reference templates that name the three keys.
const (
	keySig = 0xB6 // signature key (algorithm attributes C1)
	keyDec = 0xB8 // decryption key (C2)
	keyAut = 0xA4 // authentication key (C3)
	// keyAtt is the YubiKey's attestation key (algorithm attributes DA),
	// named by the CRT B6 { 84 01 81 } (KEY_REF.ATT in Yubico's yubikit).
	keyAtt = 0x81
)

// Algorithm IDs, the first byte of the algorithm attributes.
const (
	algRSA   = 0x01
	algECDH  = 0x12
	algECDSA = 0x13
	algEdDSA = 0x16
)

// algorithm is one key's algorithm attributes (C1, C2 or C3), parsed.
type algorithm struct {
	ID    byte   // algRSA, algECDH, algECDSA or algEdDSA
	Bits  int    // RSA: modulus length in bits
	EBits int    // RSA: the public exponent's longest length in bits
	OID   []byte // ECC: the curve's OID (no tag, no length)
	Raw   []byte // the attributes exactly as GET DATA returns them
}

// parseAlgorithm parses algorithm attributes for the key named by ref
// (keySig, keyDec, keyAut, keyAtt), refusing (apdu.SWIncorrectData, 6A80)
// what the card does not support for that key (OpenPGP card 3.4
// §4.4.3.10): attributes whose standard form is not among
// supportedAlgorithms(ref), the one table PUT DATA and the Algorithm
// Information DO FA share. Beyond the standard form it takes:
//   - RSA: the import-format byte ff of 01 nnnn eeee ff as 00 (standard),
//     01 (standard with modulus), 02 (CRT) or 03 (CRT with modulus), all of
//     which importKey reads, or left out, meaning 00;
//   - ECC: the OID followed by the import-format byte 00 (standard) or FF
//     (public key included), as gpg writes and reads it.
//
// Raw keeps the attributes as given.
func parseAlgorithm(ref byte, attr []byte) (algorithm, error) {
	if len(attr) == 0 {
		return algorithm{}, apdu.SWIncorrectData
	}
	al := algorithm{ID: attr[0], Raw: bytes.Clone(attr)}
	switch al.ID {
	case algRSA:
		if len(attr) != 5 && len(attr) != 6 || len(attr) == 6 && attr[5] > 0x03 {
			return algorithm{}, apdu.SWIncorrectData
		}
		if !supports(ref, append(attr[:5:5], 0x00)) {
			return algorithm{}, apdu.SWIncorrectData
		}
		al.Bits = int(attr[1])<<8 | int(attr[2])
		al.EBits = int(attr[3])<<8 | int(attr[4])
		return al, nil
	case algECDSA, algEdDSA, algECDH:
		oid := attr[1:]
		if !supports(ref, attr) {
			if n := len(attr); n < 3 || attr[n-1] != 0x00 && attr[n-1] != 0xFF || !supports(ref, attr[:n-1]) {
				return algorithm{}, apdu.SWIncorrectData
			}
			oid = oid[:len(oid)-1]
		}
		al.OID = bytes.Clone(oid)
		return al, nil
	}
	return algorithm{}, apdu.SWIncorrectData
}

// rsaSizes are the RSA modulus lengths the card generates and imports.
func rsaSizes() []int { return []int{2048, 3072, 4096} }

// rsaExponentBits are the public exponent lengths (in bits) the RSA
// attributes may name: 17, what a YubiKey announces and Yubico's yubikit
// (ykman 5) writes (RsaAttributes.create; OpenSC issue 1949: a YubiKey 4
// takes no other), and 32, what gpg and OpenSC write and this card ships.
func rsaExponentBits() []int { return []int{17, 32} }

// supportedAlgorithms yields every algorithm attribute the card takes for
// key ref, each in its standard form: RSA 01 nnnn eeee 00 for each size and
// exponent length; ECC the algorithm ID and the curve's OID, no import
// format byte, for each curve and algorithm curve.fits allows. It is the
// one table that decides what PUT DATA C1-C3 (and DA) takes
// (parseAlgorithm) and what the Algorithm Information DO FA lists
// (Applet.algorithmInformation); the RSA import formats 01-03 and the ECC
// import-format byte FF are taken for every entry, not listed. The slice
// yielded is valid until the next one.
func supportedAlgorithms(ref byte) iter.Seq[[]byte] {
	return func(yield func([]byte) bool) {
		if ref != keySig && ref != keyDec && ref != keyAut && ref != keyAtt {
			return
		}
		var buf [16]byte
		for _, bits := range rsaSizes() {
			for _, e := range rsaExponentBits() {
				if !yield(append(buf[:0], algRSA, byte(bits>>8), byte(bits), byte(e>>8), byte(e), 0x00)) {
					return
				}
			}
		}
		for _, c := range curves() {
			for _, id := range []byte{algECDSA, algEdDSA, algECDH} {
				if c.fits(id, ref) && !yield(append(append(buf[:0], id), c.oid...)) {
					return
				}
			}
		}
	}
}

// supports reports whether attr, in standard form, is among
// supportedAlgorithms(ref).
func supports(ref byte, attr []byte) bool {
	for s := range supportedAlgorithms(ref) {
		if bytes.Equal(s, attr) {
			return true
		}
	}
	return false
}

// defaultAlgorithm is the factory algorithm of key ref: RSA 2048, as real
// cards ship; for the attestation key ECDSA P-256 (attestAlgorithm).
func defaultAlgorithm(ref byte) algorithm {
	raw := []byte{algRSA, 0x08, 0x00, 0x00, 0x20, 0x00}
	if ref == keyAtt {
		raw = attestAlgorithm()
	}
	a, _ := parseAlgorithm(ref, raw)
	return a
}

// generateKey makes a new key pair of algorithm al. priv is the opaque
// stored form; pub is the contents of the public key template 7F49 (without
// the 7F49 tag and length): 81 modulus, 82 exponent for RSA; 86 point for
// ECC (04||X||Y for NIST and brainpool curves, the 32 raw bytes for Ed25519 and X25519).
// RSA keys have the public exponent 65537.
func generateKey(al algorithm, rand io.Reader) (priv, pub []byte, err error) {
	k, err := newKeyPair(al, rand)
	if err != nil {
		return nil, nil, err
	}
	return k.record(), k.public(), nil
}

// publicKey returns the contents of 7F49 for the stored key priv. A record
// that is malformed or not of algorithm al is an error wrapping
// apdu.SWReferenceDataUnusable (6984).
func publicKey(al algorithm, priv []byte) ([]byte, error) {
	return (*keyCache)(nil).publicKey(al, priv)
}

// importKey parses the data field of PUT DATA (odd INS DB, P1P2 3FFF): the
// extended header list 4D { CRT (B6|B8|A4 00, optionally with 84 key
// reference), 7F48 private key template, 5F48 concatenated key data },
// and checks the key against al(ref), the current attributes of the key it
// names. ref is the key reference; errors are status words (6A80 for
// malformed or mismatched data). The template's details, and what gpg sends,
// are at parseImport (keys_import.go).
func importKey(data []byte, al func(ref byte) algorithm) (ref byte, priv, pub []byte, err error) {
	ref, k, err := parseImport(data, al)
	if err != nil {
		return 0, nil, nil, err
	}
	return ref, k.record(), k.public(), nil
}

// sign answers PSO:COMPUTE DIGITAL SIGNATURE and INTERNAL AUTHENTICATE with
// key priv: RSA input is a DigestInfo (or, for INTERNAL AUTHENTICATE, any
// data up to 40% of the modulus) padded PKCS#1 v1.5 by the card; ECDSA input
// is the hash (truncated to the curve's size, FIPS 186-5 §6.4.1) and the
// answer r||s, each the curve's size; EdDSA input is the message and the
// answer R||S. An empty input, or RSA input over 40% of the modulus (OpenPGP
// card 3.4 §7.2.13) or ECDSA input over 64 bytes, answers
// apdu.SWWrongLength (6700); a decryption key (ECDH) apdu.SWConditionsNotSatisfied.
func sign(al algorithm, priv, input []byte, rand io.Reader) ([]byte, error) {
	return (*keyCache)(nil).sign(al, priv, input, rand)
}

func (k keyPair) sign(input []byte, rand io.Reader) ([]byte, error) {
	switch {
	case k.rsa != nil:
		if len(input) == 0 || len(input) > k.rsa.Size()*2/5 {
			return nil, apdu.SWWrongLength
		}
		// Hash 0: the input is signed as given, DigestInfo included.
		sig, err := rsa.SignPKCS1v15(nil, k.rsa, crypto.Hash(0), input)
		if err != nil {
			return nil, errRecord(err.Error()) // crypto/rsa found the key inconsistent
		}
		return sig, nil
	case k.ecdsa != nil:
		if len(input) == 0 || len(input) > 64 {
			return nil, apdu.SWWrongLength
		}
		return ecdsaSign(k.ecdsa, input, rand)
	case k.ed25519 != nil:
		return ed25519.Sign(k.ed25519, input), nil
	case k.gen != nil && k.alg == algECDSA:
		if len(input) == 0 || len(input) > 64 {
			return nil, apdu.SWWrongLength
		}
		return genericSign(k, input, rand)
	}
	return nil, apdu.SWConditionsNotSatisfied
}

// decipher answers PSO:DECIPHER (P1P2 8086) with key priv: RSA data is the
// padding indicator 00 followed by the cryptogram (exactly the modulus
// size: gpg restores the leading zeros), the answer the message with the
// PKCS#1 v1.5 padding removed; ECDH data is A6 { 7F49 { 86 the other
// party's public point } } and the answer the shared secret (the x
// coordinate for NIST and brainpool curves, the 32-byte X25519 result).
// An X25519 point may carry the 0x40 prefix of OpenPGP's native encoding
// (RFC 4880bis §13.2), which is dropped; scdaemon drops it itself before
// sending.
//
// Errors: apdu.SWWrongLength (6700) for a cryptogram or point of the wrong
// length; apdu.SWIncorrectData (6A80) for a malformed template, a point not
// on the curve (or of low order, for X25519), an RSA padding indicator
// other than 00 or a cryptogram whose padding is wrong;
// apdu.SWConditionsNotSatisfied (6985) for a signature key.
//
// Timing: the RSA private operation and the padding check are Go's
// constant-time ones (rsa.DecryptPKCS1v15); the status word then says
// whether the padding was right, as it must on every OpenPGP card (the
// card answers the message or an error). That is the Bleichenbacher oracle
// inherent in PKCS#1 v1.5 decryption; OpenPGP's own session-key check
// (RFC 4880 §5.1) is done by the host, after the card.
func decipher(al algorithm, priv, data []byte) ([]byte, error) {
	return (*keyCache)(nil).decipher(al, priv, data)
}

func (k keyPair) decipher(data []byte) ([]byte, error) {
	switch {
	case k.rsa != nil:
		if len(data) != 1+k.rsa.Size() {
			return nil, apdu.SWWrongLength
		}
		if data[0] != 0x00 {
			return nil, apdu.SWIncorrectData
		}
		msg, err := rsa.DecryptPKCS1v15(nil, k.rsa, data[1:])
		if err != nil {
			return nil, apdu.SWIncorrectData
		}
		return msg, nil
	case k.ecdh != nil, k.gen != nil && k.alg == algECDH:
		return ecdhDecipher(k, data)
	}
	return nil, apdu.SWConditionsNotSatisfied
}
