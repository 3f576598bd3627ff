// Package openpgp is the OpenPGP card application (OpenPGP Smart Card
// Application 3.4, AID D2 76 00 01 24 01 03 04, then the manufacturer, the
// serial and 00 00) on Tessera's card OS, as GnuPG's scdaemon and ykman
// speak it: the data objects of §4.4 read with GET DATA and written with PUT
// DATA (PW3), the passwords PW1 (references 81 for signing, 82 for the
// rest), the resetting code and PW3, key generation and import, PSO:COMPUTE
// DIGITAL SIGNATURE with the signature counter 93, PSO:DECIPHER, INTERNAL
// AUTHENTICATE, GET CHALLENGE, and the life cycle TERMINATE DF / ACTIVATE
// FILE. The key operations themselves are keys.go's.
//
// Choices where the specification leaves room, or real cards differ:
//   - Factory state: PW1 123456 and PW3 12345678 with 3 tries each, no
//     resetting code, PW1 valid for several signatures (C4 byte 1 01, as a
//     YubiKey ships), RSA 2048 attributes for all three keys.
//   - A password of a length no password can have (PW1 under 6 bytes, PW3
//     and the resetting code under 8, anything over 127) answers 6700 and
//     spends no try; a wrong one answers 63Cx, and 6983 once blocked (a
//     YubiKey profile answers otherwise: below).
//   - Every SELECT forgets the verified passwords.
//   - ACTIVATE FILE on an application that is not terminated answers 9000
//     and changes nothing, as a YubiKey does; on a terminated one it is the
//     factory reset. A terminated application answers SELECT with 6285
//     (the card OS selects it all the same) and every other command with
//     6285 too.
//   - Extended Lc/Le and command chaining are announced (historical bytes
//     5F52, extended length information 7F66) exactly as the card OS takes
//     them: extended length only on a profile with extended_length.
//   - Changing a key's algorithm attributes (PUT DATA C1-C3) deletes the
//     key of the old ones, with its fingerprint and generation date.
//   - The Algorithm Information DO FA (§4.4.3.11; GET DATA only, not in
//     6E, tag and length included as a YubiKey answers it) lists, from the
//     one table PUT DATA checks (supportedAlgorithms), every attribute
//     C1, C2, C3 and, on a YubiKey profile, DA take, in standard form:
//     RSA 2048/3072/4096 with an exponent length of 17 bits (a YubiKey's
//     and yubikit's) or 32 (gpg's, and the factory attributes), import
//     format 00; ECC as the algorithm ID and the OID. Both profiles have
//     it: C0 announces "algorithm attributes changeable", the bit yubikit
//     reads FA by (on 5.2.0 and later).
//   - On a YubiKey profile (profile openpgp.yubikey): GET VERSION (INS F1),
//     SET PIN RETRIES (INS F2, PW3: the limits of PW1, the resetting code
//     and PW3, the values kept; the resetting code's limit is kept without
//     a resetting code too, for one PUT DATA D3 sets later; ykman sends
//     all three whether or not a resetting code exists), the general
//     feature management DO 7F74 (a button), and the touch policies D6-D9
//     (read; set with PW3; a fixed one stays until the factory reset).
//     The factory reset brings the limits back to 3: our reading of
//     ykman's "restore factory settings", not verified against a YubiKey.
//     The limits take 1 to 99 (ykman's range; Yubico's device test sets
//     5 0 25) and the resetting code's 0 too, which removes a resetting
//     code; above 99, and 0 for PW1 or PW3, 6A80. Not verified against a
//     YubiKey: its answer above 99 and to 0 for PW1 or PW3, and what its
//     0 does to an existing resetting code (the NEO's open applet leaves
//     a password whose limit is 0 as it was).
//   - A wrong password with more than 15 tries left answers 63CF (63Cx
//     can say no more; C4 has the count).
//   - On a YubiKey profile a wrong password answers 6982, as a YubiKey 4
//     or 5 does (Yubico's yubikit reads the tries from C4 on 6982 and
//     takes 63Cx only from firmware before 4; the open YubiKey NEO applet
//     answers a wrong PW1 or PW3 6982): VERIFY, CHANGE REFERENCE DATA's
//     old value and RESET RETRY COUNTER's resetting code. The wrong value
//     that exhausts the counter answers 6983, as the profile's PIV PIN
//     does (recorded from a YubiKey 5.7.1; not verified for OpenPGP, where
//     the NEO answered 6982); a blocked password answers 6983. VERIFY
//     without data (P1 00, the status query of §7.2.2) answers 6A80
//     whatever the password's status, as a YubiKey 5.4.3 does (OpenSC
//     issue 2565); C4 is the only source of the tries there.
//   - Touch (YubiKey profiles only; the plain card has no D6-D9): the user
//     interaction flags of ykman's UIF, byte 1 00 off, 01 on, 02 fixed,
//     03 cached, 04 cached-fixed, byte 2 20 (button) — values verified
//     against ykman's source. D6 governs PSO:CDS, D7 PSO:DECIPHER, D8
//     INTERNAL AUTHENTICATE, D9 GET ATTESTATION. On and fixed ask the card's
//     touch sensor (Options.Touch, the firmware.TouchSource PIV and OATH
//     ask too, with the key reference B6, B8, A4, or 81 for the
//     attestation key) at every use; cached
//     and cached-fixed once per firmware.TouchGrace (15 s) of the card's
//     clock for that key, in RAM (a power cycle forgets it). The check
//     comes after the password and the key's presence, before the key is
//     used: no touch answers 6985 and advances no signature counter. Our
//     reading, not verified against a YubiKey: 6985 on a missing touch
//     (PIV answers 6982; ykman's source does not say what OpenPGP answers)
//     and 6982 for PUT DATA over a fixed flag (ykman refuses that change
//     itself before sending it). ykman's help says a fixed flag "can't be
//     disabled without deleting the private key"; here only the factory
//     reset clears it (a new key, or new algorithm attributes that delete
//     the old key, leave it fixed): not verified against a YubiKey either.
//   - Attestation (YubiKey profiles only; attest.go, facts from ykman's
//     yubikit and Yubico's OpenPGP attestation pages): the attestation
//     key (CRT B6 { 84 01 81 }) with DA, DB, DC, DD, D9 and its
//     certificate FC, made on a new card: ECDSA P-256 (our choice), FC
//     issued by the card's attestation CA (Options.AttestationCA: in the
//     simulator, PIV's F9 key) or self-signed; PUT DATA (PW3) changes DA
//     (deleting the key), DB, DC, DD, FC, and imports a key (odd
//     PUT DATA, CRT B6 84 01 81); it is never generated. GET ATTESTATION
//     (CLA 80, INS FB, P1 01/02/03, PW1) certifies a key the card
//     generated and writes the certificate into its 7F21 occurrence; the
//     factory reset keeps the attestation key and FC and deletes the
//     keys' certificates. A state written before the attestation key
//     existed gets it at its first GET ATTESTATION.
//
// Persistent records, in the card's store (the on-card state format; a
// store without them, written before this application existed, gets the
// factory records at power-on):
//
//	openpgp/pw1, openpgp/pw3  PW1 and PW3: package pin records (limit 1-99,
//	                          from SET PIN RETRIES; code that took 1-15
//	                          refuses a record above 15 as corrupt); the
//	                          factory records are salted with zeros (their
//	                          values are public), every later value at random
//	openpgp/rc                the resetting code (pin record); absent: none
//	openpgp/rclimit           1 byte: the retry limit (1-99) SET PIN RETRIES
//	                          gave the resetting code, for one set later;
//	                          absent: 3
//	openpgp/pwlen             3 bytes: the lengths of PW1, the resetting
//	                          code and PW3 (CHANGE REFERENCE DATA and RESET
//	                          RETRY COUNTER split their data with them)
//	openpgp/c4                1 byte: PW status byte 1 (00 one signature, 01 several)
//	openpgp/sigcount          3 bytes: the digital signature counter; absent: 0
//	openpgp/terminated        present while the application is terminated
//	openpgp/do/<tag>          a data object's value, by its tag in 4 hex
//	                          digits: 005b name, 005e login, 5f2d language,
//	                          5f35 sex, 5f50 URL, 7f21 certificate, 00c7-00c9
//	                          fingerprints, 00ca-00cc CA fingerprints,
//	                          00ce-00d0 generation dates, 00d6-00d9 touch
//	                          policies, 00db-00dd the attestation key's
//	                          fingerprint, CA fingerprint and date, 00fc
//	                          its certificate, 0101-0104 private use;
//	                          absent: empty (or zeros)
//	openpgp/cert/1, /2        the certificates 7F21 of occurrences 1 and 2
//	                          (SELECT DATA); occurrence 0 is do/7f21
//	openpgp/alg/<ref>         algorithm attributes of key b6, b8, a4 or 81
//	                          (attestation) as PUT DATA gave them; absent:
//	                          RSA 2048 (81: ECDSA P-256)
//	openpgp/key/<ref>         key b6, b8, a4 or 81: its origin (01 generated,
//	                          02 imported), then the private key record of
//	                          keys_record.go
//
// Every command is all-or-nothing (one record, or one transaction); try
// counters are written before the compare, outside the transaction.
// Passwords, the resetting code, private keys and deciphered data never
// reach a trace (see Applet.Disclose).
//
// Keys on the brainpool curves (RFC 5639: brainpoolP256r1, P384r1,
// P512r1), which Go's standard library lacks, use package ecgeneric:
// math/big, not constant time, as the ISO application's curves.
package openpgp
