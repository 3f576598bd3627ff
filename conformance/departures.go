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
	}
}

// DepartureNote is a departure a case saw.
type DepartureNote struct {
	Name   string `json:"name"`
	Detail string `json:"detail"`
}
