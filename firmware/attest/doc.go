// Package attest builds the X.509 certificates of a YubiKey's key
// attestation, for every application that attests keys (PIV's ATTEST,
// the OpenPGP application's GET ATTESTATION): an attestation key's
// self-signed certificate (the card's own attestation root, where a real
// YubiKey carries one issued by Yubico's CA), and the certificate over an
// attested key, issued by the attestation key with Yubico's extensions
// under 1.3.6.1.4.1.41482 (PIV: arc 3, Yubico's PIV attestation
// documentation; OpenPGP: arc 5, Yubico's OpenPGP attestation OID arc).
//
// The package holds no key and no state: the applications keep their
// attestation keys in the card's store, and hand them in.
package attest
