package profile

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Profile is a card model. The YAML keys are the snake_case field tags.
type Profile struct {
	Name        string `yaml:"name"`
	Description string `yaml:"description,omitempty"`
	// ATR is the answer-to-reset, in hex. It must offer T=1.
	ATR HexBytes `yaml:"atr"`
	// Serial is reported by GET SERIAL; a simulator may override it per card.
	Serial uint32 `yaml:"serial"`
	// Version is the firmware version GET VERSION reports, "major.minor.patch".
	Version Version `yaml:"version"`
	// Capacity bounds persistent memory, in bytes of keys and values: at
	// most MaxCapacity, which 0 stands for.
	Capacity int `yaml:"capacity,omitempty"`
	// MaxCommand bounds a command's data after chaining (0: card default).
	MaxCommand int `yaml:"max_command,omitempty"`
	// ExtendedLength accepts extended-length APDUs.
	ExtendedLength bool `yaml:"extended_length,omitempty"`

	// Applications are the on-card applications, in selection order:
	// "piv" (the default when empty), "iso", the ISO 7816 file-system
	// application (docs/pkcs11-token.md), "mgmt", the YubiKey management
	// application, "oath", the YubiKey OATH application, and "openpgp",
	// the OpenPGP card application. OpenSC binds
	// a card that answers the PIV AID to its PIV driver, so "iso" goes on
	// a card of its own.
	Applications []string `yaml:"applications,omitempty"`
	// Device is what the management application reports of the device.
	Device Device `yaml:"device,omitempty"`

	PIV PIV `yaml:"piv"`
	ISO ISO `yaml:"iso,omitempty"`
	// OpenPGP is the OpenPGP application's part of a profile.
	OpenPGP OpenPGP `yaml:"openpgp,omitempty"`
	Timing  Timing  `yaml:"timing,omitempty"`
	// Quirks are deliberate misbehaviours for driver testing, by name.
	Quirks []string `yaml:"quirks,omitempty"`
}

// PIV is the PIV application's part of a profile.
type PIV struct {
	PIN        string `yaml:"pin"`
	PUK        string `yaml:"puk"`
	PINRetries int    `yaml:"pin_retries"`
	PUKRetries int    `yaml:"puk_retries"`
	// MgmtKeyAlgorithm is the default management key's algorithm: 3des,
	// aes128, aes192 or aes256.
	MgmtKeyAlgorithm string `yaml:"mgmt_key_algorithm"`
	// MgmtKey is the default management key, in hex.
	MgmtKey HexBytes `yaml:"mgmt_key"`
	// PINPolicy constrains new PIN values (CHANGE REFERENCE DATA, RESET
	// RETRY COUNTER). A MaxLength over 8 (a password policy) widens the PIN
	// field of VERIFY, CHANGE REFERENCE DATA and RESET RETRY COUNTER from
	// SP 800-73-4's 8 bytes to MaxLength bytes, FF-padded alike; 8-byte
	// fields stay accepted.
	PINPolicy Policy `yaml:"pin_policy"`
	// TransportPIN delivers the factory PIN as a transport PIN: it verifies,
	// but no key may be used until it has been changed.
	TransportPIN bool `yaml:"transport_pin,omitempty"`
	// RandomPIN and RandomPUK replace the factory PIN and PUK with random
	// digits drawn by the card at first boot (PIN: the policy's minimum
	// length, at least 6 and at most 8; PUK: 8). The card keeps the issued
	// values until they are revealed, once, through the simulator's
	// control API (POST /v1/cards/{id}/reveal-credentials), and never again.
	RandomPIN bool `yaml:"random_pin,omitempty"`
	RandomPUK bool `yaml:"random_puk,omitempty"`
	// HolderID is the holder's identity number, the user of a virtual
	// token: written at first boot into the vendor data object 5FFF21,
	// which GET DATA reads without the PIN (clear of 5FFF10, YubiKey's
	// MSCMAP). Empty: no such object.
	HolderID string `yaml:"holder_id,omitempty"`
	// AdminReset: the PUK is not the user's. RESET RETRY COUNTER with a PUK
	// (P1 00) and CHANGE REFERENCE DATA of the PUK answer 6985; the
	// administrator resets a forgotten PIN with RESET RETRY COUNTER P1 02
	// (ISO/IEC 7816-4 §11.5.10: new reference data only), which needs the
	// management key, sets the new PIN with a full counter and keeps every
	// key.
	AdminReset bool `yaml:"admin_reset,omitempty"`
	// TOTP: every private-key operation needs a fresh TOTP code (RFC 6238,
	// SHA-1, 30 s, 6 digits) verified with VERIFY to key reference 90 right
	// before it; the seed is enrolled through the simulator's control API.
	TOTP bool `yaml:"totp,omitempty"`
	// SignatureQuota, if positive, is how many private-key operations the
	// card allows (the vendor data object 5FFF22 counts them down, clear of
	// YubiKey's MSROOTS1..5 at 5FFF11..5FFF15); then 6985.
	SignatureQuota int `yaml:"signature_quota,omitempty"`
	// Behaviour selects between the YubiKey's and the specification's
	// answers where they differ.
	Behaviour Behaviour `yaml:"behaviour"`
}

// Policy is a PIN policy.
type Policy struct {
	MinLength    int    `yaml:"min_length"`
	MaxLength    int    `yaml:"max_length"`
	Charset      string `yaml:"charset"` // any, digits or alphanumeric
	RequireUpper bool   `yaml:"require_upper,omitempty"`
	RequireLower bool   `yaml:"require_lower,omitempty"`
	RequireDigit bool   `yaml:"require_digit,omitempty"`
}

// Behaviour names each place where a YubiKey 5.7 departs from SP 800-73-4
// and SP 800-85A-4 (docs/conformance.md).
type Behaviour struct {
	// MalformedPINCountsAsWrong: a PIN of bad length or padding is compared
	// and spends a try (YubiKey) instead of answering 6A80 (SP 800-85A-4
	// VE05.22D).
	MalformedPINCountsAsWrong bool `yaml:"malformed_pin_counts_as_wrong"`
	// BlockingAnswers6983: the wrong PIN that exhausts the counter answers
	// 6983 (YubiKey) instead of 63C0.
	BlockingAnswers6983 bool `yaml:"blocking_answers_6983"`
	// AdvertiseAlgorithms: SELECT's application property template carries
	// a label and the cryptographic algorithms offered (tags 50 and AC, SP
	// 800-73-4 Part 2 Table 3), which lets OpenSC use RSA-4096 and the
	// 25519 curves. A YubiKey sends neither.
	AdvertiseAlgorithms bool `yaml:"advertise_algorithms"`
}

// Timing is the card's speed: how long commands take.
type Timing struct {
	// Default is added to every command.
	Default Duration `yaml:"default,omitempty"`
	// PerINS overrides Default per instruction byte, keyed by two hex
	// digits, e.g. "47" for GENERATE ASYMMETRIC KEY PAIR.
	PerINS map[string]Duration `yaml:"per_ins,omitempty"`
}

// Latency returns how long a command with instruction ins takes.
func (t Timing) Latency(ins byte) time.Duration {
	if d, ok := t.PerINS[fmt.Sprintf("%02X", ins)]; ok {
		return time.Duration(d)
	}
	return time.Duration(t.Default)
}

// HexBytes is a byte string written in hex in YAML; spaces and colons are
// allowed between digits.
type HexBytes []byte

// UnmarshalYAML decodes hex.
func (h *HexBytes) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return err
	}
	clean := strings.NewReplacer(" ", "", ":", "").Replace(s)
	b, err := hex.DecodeString(clean)
	if err != nil {
		return fmt.Errorf("line %d: %q is not hex", n.Line, s)
	}
	*h = b
	return nil
}

// MarshalYAML encodes hex.
func (h HexBytes) MarshalYAML() (any, error) { return strings.ToUpper(hex.EncodeToString(h)), nil }

// Version is a firmware version.
type Version struct{ Major, Minor, Patch byte }

func (v Version) String() string { return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch) }

// UnmarshalYAML parses "major.minor.patch".
func (v *Version) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return err
	}
	var a, b, c int
	if k, err := fmt.Sscanf(s, "%d.%d.%d", &a, &b, &c); err != nil || k != 3 || a > 255 || b > 255 || c > 255 || a < 0 || b < 0 || c < 0 {
		return fmt.Errorf("line %d: version %q: want major.minor.patch, each 0..255", n.Line, s)
	}
	*v = Version{byte(a), byte(b), byte(c)}
	return nil
}

// MarshalYAML writes "major.minor.patch".
func (v Version) MarshalYAML() (any, error) { return v.String(), nil }

// Duration is a time.Duration written like "250ms" in YAML.
type Duration time.Duration

// UnmarshalYAML parses a Go duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return err
	}
	v, err := time.ParseDuration(s)
	if err != nil || v < 0 {
		return fmt.Errorf("line %d: duration %q: want e.g. 250ms or 2s", n.Line, s)
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes a Go duration string.
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// Persona reports whether the profile is a field-token persona: a card
// delivered with a transport or issued PIN, without a user PUK, with a
// holder identity, a TOTP authorisation or a signature quota. A persona
// card has the token state object (vendor data object 5FFF20, see package
// piv), which tells a host its PIN policy and delivery state.
func (p PIV) Persona() bool {
	return p.TransportPIN || p.RandomPIN || p.RandomPUK || p.AdminReset || p.TOTP || p.SignatureQuota > 0 || p.HolderID != ""
}

// MaxCapacity is the largest persistent memory a profile may ask for, and
// what capacity 0 gives: the card OS's limit, nvm.MaxCapacity (a test keeps
// the two equal; this package imports no other).
const MaxCapacity = 2 << 20

// MaxPINField is the widest PIN field a profile may ask for: a password
// policy's longest PIN.
const MaxPINField = 16

// PINField returns the width of the PIN field in VERIFY, CHANGE REFERENCE
// DATA and RESET RETRY COUNTER: 8 bytes (SP 800-73-4 Part 2 §3.2.1), or the
// PIN policy's maximum length when that is longer.
func (p PIV) PINField() int {
	return min(max(8, p.PINPolicy.MaxLength), MaxPINField)
}

// RandomPINLength is the length of a random factory PIN: the policy's
// minimum, at least 6 and at most 8 digits.
func (p PIV) RandomPINLength() int {
	return min(max(6, p.PINPolicy.MinLength), 8)
}

// mgmtKeyAlgorithm maps the profile's names to PIV algorithm identifiers
// (SP 800-78-4 Table 5; 08/0A/0C for AES) and key sizes.
func mgmtKeyAlgorithm(name string) (id byte, keySize int, ok bool) {
	switch name {
	case "3des":
		return 0x03, 24, true
	case "aes128":
		return 0x08, 16, true
	case "aes192":
		return 0x0A, 24, true
	case "aes256":
		return 0x0C, 32, true
	}
	return 0, 0, false
}

// MgmtKeyAlgorithmID returns the PIV algorithm identifier of the default
// management key, or 0 if the name is unknown.
func (p PIV) MgmtKeyAlgorithmID() byte {
	id, _, _ := mgmtKeyAlgorithm(p.MgmtKeyAlgorithm)
	return id
}

// Quirk names: deliberate misbehaviours, each seen in real cards or
// emulators, that a profile can turn on so that drivers and the conformance
// suite can be tested against a card that does it.
const (
	QuirkNoDecrement            = "no-decrement"              // a wrong PIN spends no try
	QuirkSW6300                 = "sw-6300"                   // 6300 instead of 63Cx: no retry count
	QuirkRestoreBeforeCompare   = "restore-before-compare"    // the try counter is restored before the compare
	QuirkStatusSurvivesReset    = "status-survives-reset"     // security status not cleared on reset or power-off
	QuirkSW6Cxx                 = "sw-6cxx"                   // 6Cxx (send again with Le) instead of data and 61xx
	QuirkNoChaining             = "no-chaining"               // command chaining refused (6884)
	QuirkTrailingBytes          = "trailing-bytes"            // a stray byte after the object GET DATA returns
	QuirkECDSARawSignature      = "ecdsa-raw-signature"       // ECDSA signatures as raw r‖s instead of DER
	QuirkPINPolicyNotEnforced   = "pin-policy-not-enforced"   // any new PIN accepted, whatever the policy
	QuirkMalformedPINSpendsTry  = "malformed-pin-spends-try"  // a malformed PIN answers 6A80 yet spends a try
	QuirkSelectFailureDeselects = "select-failure-deselects"  // a failed SELECT leaves no application selected
	QuirkCase1Refused           = "case1-refused"             // 4-byte (case 1) commands refused with 6700
	QuirkECDHFullPoint          = "ecdh-full-point"           // ECDH answers the shared point 04‖x‖y instead of x
	QuirkRSALeadingZeroDropped  = "rsa-leading-zero-dropped"  // an RSA result without its leading zero bytes
	QuirkPINPolicyAlwaysIgnored = "pin-policy-always-ignored" // a key of PIN policy "always" works again after one VERIFY
	QuirkMetadataPINPolicyWrong = "metadata-pin-policy-wrong" // GET METADATA reports PIN policy "never" for every key
	QuirkAttestWrongSerial      = "attest-wrong-serial"       // ATTEST certifies another serial number than GET SERIAL's
	QuirkTouchAlwaysCached      = "touch-always-cached"       // a key of touch policy "always" takes a touch cached for 15 s
	QuirkImportOriginGenerated  = "import-origin-generated"   // GET METADATA reports an imported key as generated
	QuirkECDHNoPointCheck       = "ecdh-no-point-check"       // ECDH takes a point off the curve instead of answering 6A80
	QuirkResetOneBlocked        = "reset-one-blocked"         // RESET wipes with only the PIN or the PUK blocked
	QuirkMoveKeyCopies          = "move-key-copies"           // MOVE KEY leaves the key in the source slot too
	QuirkExternalAuthUnchecked  = "external-auth-unchecked"   // external authentication takes any response
	QuirkSetRetriesWithoutPIN   = "set-retries-without-pin"   // SET PIN RETRIES needs the management key alone, not the PIN
	QuirkSerialLittleEndian     = "serial-little-endian"      // GET SERIAL answers the serial number's bytes reversed
)

// KnownQuirks returns the quirk names a profile may turn on. The simulator
// implements each; an unknown name is an error.
func KnownQuirks() []string {
	return []string{
		QuirkNoDecrement, QuirkSW6300, QuirkRestoreBeforeCompare, QuirkStatusSurvivesReset,
		QuirkSW6Cxx, QuirkNoChaining, QuirkTrailingBytes, QuirkECDSARawSignature,
		QuirkPINPolicyNotEnforced, QuirkMalformedPINSpendsTry, QuirkSelectFailureDeselects,
		QuirkCase1Refused, QuirkECDHFullPoint, QuirkRSALeadingZeroDropped,
		QuirkPINPolicyAlwaysIgnored, QuirkMetadataPINPolicyWrong,
		QuirkAttestWrongSerial, QuirkTouchAlwaysCached, QuirkImportOriginGenerated,
		QuirkECDHNoPointCheck, QuirkResetOneBlocked, QuirkMoveKeyCopies, QuirkExternalAuthUnchecked,
		QuirkSetRetriesWithoutPIN, QuirkSerialLittleEndian,
	}
}

// PINQuirks are the quirks an application reads for its own PIN objects
// and PIN commands (the ISO and OpenPGP applications; PIV reads its own):
// the try-counter quirks, which package pin applies, and the two its
// VERIFY and CHANGE REFERENCE DATA read. The zero value is a correct
// application.
type PINQuirks struct {
	// NoDecrement and RestoreBeforeCompare: the quirks no-decrement and
	// restore-before-compare, for package pin's objects.
	NoDecrement, RestoreBeforeCompare bool
	// MalformedPINSpendsTry: a PIN of a length none can have answers 6700
	// yet spends a try (malformed-pin-spends-try).
	MalformedPINSpendsTry bool
	// PINPolicyNotEnforced: a new PIN under the minimum length is accepted
	// (pin-policy-not-enforced).
	PINPolicyNotEnforced bool
}

// PINQuirks returns the profile's PIN quirks.
func (p Profile) PINQuirks() PINQuirks {
	return PINQuirks{
		NoDecrement:           p.HasQuirk(QuirkNoDecrement),
		RestoreBeforeCompare:  p.HasQuirk(QuirkRestoreBeforeCompare),
		MalformedPINSpendsTry: p.HasQuirk(QuirkMalformedPINSpendsTry),
		PINPolicyNotEnforced:  p.HasQuirk(QuirkPINPolicyNotEnforced),
	}
}

// HasQuirk reports whether the profile turns on the named quirk.
func (p Profile) HasQuirk(name string) bool {
	return slices.Contains(p.Quirks, name)
}

// Validate checks the profile and returns every problem found, joined.
func (p Profile) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if p.Name == "" {
		bad("name: missing")
	}
	if len(p.ATR) < 2 || len(p.ATR) > 33 {
		bad("atr: %d bytes, want 2 to 33", len(p.ATR))
	}
	if p.Capacity < 0 || p.MaxCommand < 0 {
		bad("capacity and max_command must not be negative")
	}
	if p.Capacity > MaxCapacity {
		bad("capacity: %d bytes, over the card's limit of %d (0 means that limit)", p.Capacity, MaxCapacity)
	}
	errs = append(errs, p.validateApplications()...)
	v := p.PIV
	if n := v.PINField(); !v.RandomPIN && (v.PIN == "" || len(v.PIN) > n) {
		bad("piv.pin: want 1 to %d characters", n)
	}
	if !v.RandomPUK && (v.PUK == "" || len(v.PUK) > 8) {
		bad("piv.puk: want 1 to 8 characters")
	}
	for name, n := range map[string]int{"piv.pin_retries": v.PINRetries, "piv.puk_retries": v.PUKRetries} {
		if n < 1 || n > 15 {
			bad("%s: %d, want 1 to 15", name, n)
		}
	}
	_, keySize, ok := mgmtKeyAlgorithm(v.MgmtKeyAlgorithm)
	switch {
	case !ok:
		bad("piv.mgmt_key_algorithm: %q, want 3des, aes128, aes192 or aes256", v.MgmtKeyAlgorithm)
	case len(v.MgmtKey) != keySize:
		bad("piv.mgmt_key: %d bytes, %s needs %d", len(v.MgmtKey), v.MgmtKeyAlgorithm, keySize)
	}
	if len(v.HolderID) > 64 {
		bad("piv.holder_id: %d characters, want at most 64", len(v.HolderID))
	}
	if v.SignatureQuota < 0 {
		bad("piv.signature_quota: %d, want 0 (none) or more", v.SignatureQuota)
	}
	pp := v.PINPolicy
	if pp.MinLength < 0 || pp.MaxLength < pp.MinLength || pp.MaxLength > MaxPINField {
		bad("piv.pin_policy: lengths %d..%d, want 0 <= min <= max <= %d", pp.MinLength, pp.MaxLength, MaxPINField)
	}
	switch pp.Charset {
	case "", "any", "digits", "alphanumeric":
	default:
		bad("piv.pin_policy.charset: %q, want any, digits or alphanumeric", pp.Charset)
	}
	for ins := range p.Timing.PerINS {
		if b, err := hex.DecodeString(ins); err != nil || len(b) != 1 {
			bad("timing.per_ins: key %q, want one instruction byte in hex such as 47", ins)
		}
	}
	known := KnownQuirks()
	for _, q := range p.Quirks {
		if !slices.Contains(known, q) {
			bad("quirks: unknown quirk %q (known: %s)", q, strings.Join(known, ", "))
		}
	}
	return errors.Join(errs...)
}

// Parse reads a profile from YAML. Fields the document leaves out keep the
// values of the built-in profile named by its "base" key, or of "default".
// Unknown keys are errors.
func Parse(data []byte) (Profile, error) {
	var head struct {
		Base string `yaml:"base"`
	}
	if err := yaml.Unmarshal(data, &head); err != nil {
		return Profile{}, fmt.Errorf("profile: %w", err)
	}
	base := "default"
	if head.Base != "" {
		base = head.Base
	}
	p, ok := Builtin(base)
	if !ok {
		return Profile{}, fmt.Errorf("profile: base %q is not a built-in profile (%s)", base, strings.Join(Names(), ", "))
	}
	var doc struct {
		Base    string `yaml:"base"`
		Profile `yaml:",inline"`
	}
	doc.Profile = p
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil {
		return Profile{}, fmt.Errorf("profile: %w", err)
	}
	if err := doc.Profile.Validate(); err != nil {
		return Profile{}, fmt.Errorf("profile %q: %w", doc.Profile.Name, err)
	}
	return doc.Profile, nil
}
