package conformance

// Names of the documented departures: behaviours of real cards that differ
// from SP 800-73-4 and SP 800-85A-4. A case that sees one passes and names
// it in its result, so that a YubiKey-like card passes the suite while the
// report still says where it is not the specification.
const (
	// DepartureBlocking6983: the wrong PIN or PUK that exhausts the counter
	// answers 6983 at once, not 63C0 (recorded YubiKey 5.7.1 traces:
	// TestReset, TestPINRetries).
	DepartureBlocking6983 = "yubikey-blocking-6983"
	// DepartureMalformedPINCounts: a malformed PIN of the right length (bad
	// padding, too short for the policy) is compared and counts as a wrong
	// try (63CX), instead of 6A80 with no try spent (SP 800-85A-4
	// VE05.22D). A YubiKey answers a one-digit PIN so.
	DepartureMalformedPINCounts = "yubikey-malformed-pin-counts"
	// DepartureAnyPINCharacters: a PIN of other characters than digits is
	// accepted; SP 800-73-4 allows only ASCII digits. A
	// YubiKey accepts any characters.
	DepartureAnyPINCharacters = "yubikey-any-pin-characters"
	// DeparturePersonaNoUserPUK is a persona difference, not a YubiKey's:
	// RESET RETRY COUNTER with a PUK answers 6985, because no PUK is the
	// user's and only an administrator resets a forgotten PIN (Tessera's
	// virtual-token persona, after the virtual smart cards certification
	// authorities issue). SP 800-73-4 Part 2 §3.2.3 expects the PUK to work.
	DeparturePersonaNoUserPUK = "persona-no-user-puk"
	// DeparturePersonaTransportPIN is a persona difference: a private-key
	// operation answers 6982 although the PIN is verified, because the PIN
	// is still a transport PIN that must be changed first (Tessera's
	// transport-pin-token persona, as the tokens shipped with an unlock
	// code). The suite names it only when the card's token state object
	// (5FFF20) says the PIN is a transport PIN. SP 800-73-4 Part 2 §3.2.4
	// expects the verified PIN to be enough.
	DeparturePersonaTransportPIN = "persona-transport-pin"
	// DeparturePersonaTOTP is a persona difference: a private-key operation
	// answers 6982 although the PIN is verified, because each one needs a
	// fresh TOTP code verified to key reference 90 (Tessera's
	// cloud-signature persona, remote signing). Named only when the token
	// state object says the card needs TOTP codes.
	DeparturePersonaTOTP = "persona-totp-per-signature"
	// DeparturePersonaQuota is a persona difference: a private-key
	// operation answers 6985 because the card's signature quota is spent
	// (Tessera's cloud-signature persona). Named only when the token state
	// object says no signature is left.
	DeparturePersonaQuota = "persona-signature-quota"
	// DeparturePersonaPasswordField is a persona difference: VERIFY takes a
	// PIN field wider than SP 800-73-4's 8 bytes (a password of up to 12
	// or 16 characters, FF-padded alike), where §3.2.1 expects 6A80
	// (Tessera's virtual-token persona). Named when a 12-byte field holding
	// the right PIN verifies and the token state object gives that width.
	DeparturePersonaPasswordField = "persona-password-pin-field"
	// DepartureOpenPGPValidityFF: the OpenPGP PW status bytes (C4) start
	// with FF where OpenPGP card 3.4 §4.4.3.4 allows only 00 (PW1 valid
	// for one signature) and 01 (several); a YubiKey 5 answers FF
	// (recorded GET DATA 6E), which clients read as 01.
	DepartureOpenPGPValidityFF = "yubikey-pw1-validity-ff"
	// DepartureOpenPGPNoStatusQuery: VERIFY without data answers 6A80
	// whatever the password's status, where OpenPGP card 3.4 §7.2.2 wants
	// 9000 for a verified password and 63CX (6983 blocked) for one that is
	// not; the tries are read from C4 instead. A YubiKey 5 answers so
	// (firmware 5.4.3: OpenSC issue 2565 and pull request 3397).
	DepartureOpenPGPNoStatusQuery = "yubikey-openpgp-no-status-query"
)

// DepartureInfo describes a documented departure.
type DepartureInfo struct {
	Name        string `json:"name"`
	Description string `json:"description"`
}

// Departures lists the documented departures the suite recognises.
func Departures() []DepartureInfo {
	return []DepartureInfo{
		{DepartureBlocking6983, "the wrong PIN or PUK that exhausts the counter answers 6983, not 63C0 (YubiKey 5.7)"},
		{DepartureMalformedPINCounts, "a malformed PIN of 8 bytes counts as a wrong try (63CX) instead of 6A80 without a try spent (YubiKey 5.7)"},
		{DepartureAnyPINCharacters, "PINs of characters other than digits are accepted (YubiKey 5.7)"},
		{DeparturePersonaNoUserPUK, "persona difference: RESET RETRY COUNTER with a PUK answers 6985, only an administrator resets the PIN (virtual token)"},
		{DeparturePersonaTransportPIN, "persona difference: a private-key operation answers 6982 with the PIN verified while the PIN is a transport PIN not yet changed (transport PIN token)"},
		{DeparturePersonaTOTP, "persona difference: a private-key operation answers 6982 with the PIN verified: each needs a fresh TOTP code, VERIFY to key reference 90 (cloud signature)"},
		{DeparturePersonaQuota, "persona difference: a private-key operation answers 6985: the signature quota is spent (cloud signature)"},
		{DeparturePersonaPasswordField, "persona difference: VERIFY takes a PIN field wider than 8 bytes, for a password PIN (virtual token)"},
		{DepartureOpenPGPValidityFF, "OpenPGP: the PW status bytes (C4) start with FF, not 00 or 01 (YubiKey 5; read as 01)"},
		{DepartureOpenPGPNoStatusQuery, "OpenPGP: VERIFY without data answers 6A80, not 9000 or 63CX: the tries are read from C4 (YubiKey 5)"},
	}
}

// DepartureNote is a departure a case saw.
type DepartureNote struct {
	Name   string `json:"name"`
	Detail string `json:"detail"`
}
