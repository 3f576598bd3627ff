// Package piv is the PIV card application of NIST SP 800-73-4 Part 2, with
// the extensions of YubiKey firmware 5.7 that host software relies on
// (GET VERSION, GET SERIAL, GET METADATA, SET MANAGEMENT KEY, IMPORT
// ASYMMETRIC KEY, SET PIN RETRIES, RESET, MOVE/DELETE KEY, ATTEST).
//
// It runs on the card OS of package firmware: persistent state lives in the
// card's nvm.Store (PIN and PUK through package pin, keys, data objects and
// the management key as records under "piv/"), every state change is a single
// atomic write or a transaction, and the security status (PIN verified,
// management key authenticated) lives in RAM. Where a YubiKey departs from
// the specification, the card's profile decides (profile.Behaviour).
//
// A persona profile (profile.PIV.Persona: a field token) adds Tessera's
// token state object, vendor data object 5FFF20, which GET DATA reads
// without the PIN: the PIN and PUK delivery state (factory default, issued
// envelope value, transport PIN), the PIN policy, the TOTP authorisation
// and the signatures left; package tokenstate documents its tags. On a card
// with a signature quota, a private-key operation spends one signature
// only when it has produced its result, in one write made before the
// result is answered (spendQuota). The holder ID (objHolderID, 5FFF21) and
// the quota (objQuota, 5FFF22) sit next to it, clear of the 5FFF00..5FFF15
// objects YubiKey tools use; cards made when they were 5FFF10 and 5FFF11
// move them at power-on (migrateVendorObjects).
//
// Private keys never leave the card: no response, error or trace carries
// one. Disclose tells the card OS which command and response data a trace
// may show; everything else (PINs, PUKs, management-key authentication,
// imported keys, shared secrets, decryptions) is withheld.
package piv
