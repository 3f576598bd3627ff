package openpgp

import (
	"io"

	"github.com/tesseracard/tessera/apdu"
)

// This file is the contract between the application (applet.go and its
// neighbours: data objects, passwords, life cycle) and the key operations
// (key generation, import, signature, decipher, authentication). The
// application stores and hands back the opaque private key bytes these
// functions produce; it never looks inside them. The bodies below are
// placeholders until the key operations land.

// Key references: the control reference templates that name the three keys.
const (
	keySig = 0xB6 // signature key (algorithm attributes C1)
	keyDec = 0xB8 // decryption key (C2)
	keyAut = 0xA4 // authentication key (C3)
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
	ID   byte   // algRSA, algECDH, algECDSA or algEdDSA
	Bits int    // RSA: modulus length in bits
	OID  []byte // ECC: the curve's OID (no tag, no length)
	Raw  []byte // the attributes exactly as GET DATA returns them
}

// parseAlgorithm parses algorithm attributes for the key named by ref
// (keySig, keyDec, keyAut), refusing (apdu.SWIncorrectData, 6A80) what the card
// does not support for that key: RSA 2048/3072/4096 (RSA attributes 01 nnnn
// 0020 00, import format 00 only), ECDSA P-256/P-384 (signature and
// authentication keys), ECDH P-256/P-384 and X25519 (decryption key),
// EdDSA Ed25519 (signature and authentication keys).
func parseAlgorithm(ref byte, attr []byte) (algorithm, error) {
	return algorithm{}, apdu.SWIncorrectData
}

// defaultAlgorithm is the factory algorithm of key ref: RSA 2048, as real
// cards ship.
func defaultAlgorithm(ref byte) algorithm {
	a, _ := parseAlgorithm(ref, []byte{algRSA, 0x08, 0x00, 0x00, 0x20, 0x00})
	return a
}

// generateKey makes a new key pair of algorithm al. priv is the opaque
// stored form; pub is the contents of the public key template 7F49 (without
// the 7F49 tag and length): 81 modulus, 82 exponent for RSA; 86 point for
// ECC (04||X||Y for NIST curves, the 32 raw bytes for Ed25519 and X25519).
func generateKey(al algorithm, rand io.Reader) (priv, pub []byte, err error) {
	return nil, nil, apdu.SWFunctionNotSupported
}

// publicKey returns the contents of 7F49 for the stored key priv.
func publicKey(al algorithm, priv []byte) ([]byte, error) {
	return nil, apdu.SWFunctionNotSupported
}

// importKey parses the data field of PUT DATA (odd INS DB, P1P2 3FFF): the
// extended header list 4D { CRT (B6|B8|A4 00, optionally with 84 key
// reference), 7F48 private key template, 5F48 concatenated key data },
// and checks the key against al(ref), the current attributes of the key it
// names. ref is the key reference; errors are status words (6A80 for
// malformed or mismatched data).
func importKey(data []byte, al func(ref byte) algorithm) (ref byte, priv, pub []byte, err error) {
	return 0, nil, nil, apdu.SWFunctionNotSupported
}

// sign answers PSO:COMPUTE DIGITAL SIGNATURE and INTERNAL AUTHENTICATE with
// key priv: RSA input is a DigestInfo (or, for INTERNAL AUTHENTICATE, any
// data up to 40% of the modulus) padded PKCS#1 v1.5 by the card; ECDSA input
// is the hash (truncated to the curve's size) and the answer r||s, each the
// curve's size; EdDSA input is the message and the answer R||S.
func sign(al algorithm, priv, input []byte, rand io.Reader) ([]byte, error) {
	return nil, apdu.SWFunctionNotSupported
}

// decipher answers PSO:DECIPHER (P1P2 8086) with key priv: RSA data is the
// padding indicator 00 followed by the cryptogram, the answer the message
// with the PKCS#1 v1.5 padding removed; ECDH data is A6 { 7F49 { 86 the
// other party's public point } } and the answer the shared secret (the x
// coordinate for NIST curves, the 32-byte X25519 result).
func decipher(al algorithm, priv, data []byte) ([]byte, error) {
	return nil, apdu.SWFunctionNotSupported
}
