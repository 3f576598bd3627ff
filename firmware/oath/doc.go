// Package oath is the YubiKey OATH application (YKOATH, AID A0000005272101)
// on Tessera's card OS: TOTP and HOTP credentials (RFC 6238, RFC 4226) with
// HMAC-SHA-1, -SHA-256 or -SHA-512, 6 to 8 digits, a touch flag and an
// initial moving factor, an optional access code proven by HMAC
// challenge-response, as Yubico's YKOATH protocol specification describes
// and ykman (yubikit's oath module) speaks it.
//
// The card computes HMAC over what the host sends: for a TOTP credential the
// host sends the time step (RFC 6238 §4.2, 8 bytes big-endian) as the
// challenge of CALCULATE and CALCULATE ALL; the card's own clock plays no
// part. A HOTP credential's counter lives on the card and CALCULATE
// advances it in the same write that answers the code; CALCULATE ALL leaves
// HOTP credentials alone (tag 77).
//
// Persistent records, in the card's store (the on-card state format):
//
//	oath/salt         8 random bytes: the name SELECT answers (tag 71),
//	                  which clients use as the device ID and the access
//	                  code's PBKDF2 salt; drawn anew by RESET
//	oath/code         the access code key: the algorithm byte, then the key
//	oath/cred/<hex>   a credential, by its name in hex: format byte 01,
//	                  type|algorithm, digits, properties, the HOTP counter
//	                  (4 bytes big-endian), then the secret
//
// Every command is all-or-nothing (one record, or one transaction). Secrets
// and the access code never reach a trace (see Applet.Disclose).
package oath
