// Package pivalg owns the PIV algorithm identifiers (SP 800-78-4 Table 6-2,
// with the YubiKey extensions RSA-3072, RSA-4096, Ed25519 and X25519): the
// byte values that GENERATE ASYMMETRIC KEY PAIR, GENERAL AUTHENTICATE,
// IMPORT KEY, SET MANAGEMENT KEY and GET METADATA carry, their names, key
// sizes and the management key algorithms' names on the command line and in
// profiles, for the card and the host alike.
//
// It is a leaf: it imports only the standard library, so the firmware
// (firmware/piv) and the host side (hostdriver, conformance, replay,
// scenario, the simulator's state view, cmd/tessera), which must not import
// the firmware, share one owner of this vocabulary.
package pivalg

// Algorithm identifiers. Untyped, so that they compare with the bytes of an
// APDU (P1 of GENERAL AUTHENTICATE, a metadata field) as they are.
const (
	TDES    = 0x03 // three-key Triple DES (management key)
	AES128  = 0x08 // AES-128 (management key)
	AES192  = 0x0A // AES-192 (management key)
	AES256  = 0x0C // AES-256 (management key)
	RSA3072 = 0x05 // RSA 3072 bits (YubiKey 5.7)
	RSA1024 = 0x06 // RSA 1024 bits
	RSA2048 = 0x07 // RSA 2048 bits
	RSA4096 = 0x16 // RSA 4096 bits (YubiKey 5.7)
	P256    = 0x11 // ECC on curve P-256
	P384    = 0x14 // ECC on curve P-384
	Ed25519 = 0xE0 // EdDSA on Curve25519 (YubiKey 5.7)
	X25519  = 0xE1 // key agreement on Curve25519 (YubiKey 5.7)
)

// Name names an algorithm identifier ("3DES", "AES-128", "RSA-2048",
// "ECC-P256", "Ed25519", ...), or returns "" for one it does not know.
// These names are part of Tessera's public state view (tessera card state).
func Name(id byte) string {
	switch id {
	case TDES:
		return "3DES"
	case AES128:
		return "AES-128"
	case AES192:
		return "AES-192"
	case AES256:
		return "AES-256"
	case RSA1024:
		return "RSA-1024"
	case RSA2048:
		return "RSA-2048"
	case RSA3072:
		return "RSA-3072"
	case RSA4096:
		return "RSA-4096"
	case P256:
		return "ECC-P256"
	case P384:
		return "ECC-P384"
	case Ed25519:
		return "Ed25519"
	case X25519:
		return "X25519"
	}
	return ""
}

// RSABits returns the modulus size in bits of an RSA algorithm, or 0 for
// any other identifier.
func RSABits(id byte) int {
	switch id {
	case RSA1024:
		return 1024
	case RSA2048:
		return 2048
	case RSA3072:
		return 3072
	case RSA4096:
		return 4096
	}
	return 0
}

// MgmtKeySize returns the key length in bytes of a management key
// algorithm (SP 800-78-4 Table 5: three-key 3DES 24, AES-128 16, AES-192 24,
// AES-256 32), or 0 for any other identifier.
func MgmtKeySize(id byte) int {
	switch id {
	case TDES, AES192:
		return 24
	case AES128:
		return 16
	case AES256:
		return 32
	}
	return 0
}

// MgmtKeyID returns the identifier of a management key algorithm by the
// name profiles and command-line flags give it: 3des, aes128, aes192 or
// aes256; ok is false for any other name.
func MgmtKeyID(name string) (id byte, ok bool) {
	switch name {
	case "3des":
		return TDES, true
	case "aes128":
		return AES128, true
	case "aes192":
		return AES192, true
	case "aes256":
		return AES256, true
	}
	return 0, false
}
