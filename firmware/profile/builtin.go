package profile

import "sort"

func builtins() map[string]Profile {
	// The YubiKey 5.7.1 ATR as recorded (testdata/yubikey-5.7.1): T=1,
	// historical bytes naming the YubiKey.
	yubikeyATR := HexBytes{0x3B, 0xFD, 0x13, 0x00, 0x00, 0x81, 0x31, 0xFE, 0x15, 0x80, 0x73, 0xC0, 0x21, 0xC0, 0x57, 0x59, 0x75, 0x62, 0x69, 0x4B, 0x65, 0x79, 0x40}
	// The default management key of PIV cards.
	defaultMgmtKey := HexBytes{1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8}
	yubikey := Profile{
		Name:        "yubikey-5.7",
		Description: "Byte-faithful to a YubiKey 5.7.1: AES-192 default management key, the YubiKey's PIN answers",
		ATR:         yubikeyATR,
		Serial:      29173673,
		Version:     Version{5, 7, 1},
		Capacity:    512 << 10,
		MaxCommand:  16 << 10,
		// The ATR's card capabilities (73 C0 21 C0) offer extended Lc and
		// Le, and a YubiKey takes them: cunicu/go-piv sends PUT DATA,
		// IMPORT and RSA-4096 GENERAL AUTHENTICATE extended.
		ExtendedLength: true,
		// Its management application tells ykman what it is; its OATH
		// application holds TOTP/HOTP credentials.
		Applications: []string{AppPIV, AppMgmt, AppOATH, AppOpenPGP},
		Device:       Device{FormFactor: "usb-a-keychain"},
		// Yubico's manufacturer ID; the serial in the OpenPGP AID is the
		// device's.
		OpenPGP: OpenPGP{Manufacturer: OpenPGPYubico, YubiKey: true},
		PIV: PIV{
			PIN: "123456", PUK: "12345678", PINRetries: 3, PUKRetries: 3,
			MgmtKeyAlgorithm: "aes192", MgmtKey: defaultMgmtKey,
			PINPolicy: Policy{MinLength: 6, MaxLength: 8, Charset: "any"},
			Behaviour: Behaviour{MalformedPINCountsAsWrong: true, BlockingAnswers6983: true},
		},
	}
	def := yubikey
	// The interop profile and the personas made from it carry PIV alone,
	// as before the management application existed (their diagnostics
	// and state stay as they were).
	def.Applications, def.Device, def.OpenPGP = nil, Device{}, OpenPGP{}
	def.Name = "default"
	def.Description = "Interop profile: a YubiKey 5.7-like PIV card with a 3DES default management key, so Debian 12's yubico-piv-tool works"
	def.Serial = 10000001
	def.PIV.MgmtKeyAlgorithm = "3des"
	def.PIV.Behaviour.AdvertiseAlgorithms = true
	strict := yubikey
	strict.Applications, strict.Device, strict.OpenPGP = nil, Device{}, OpenPGP{}
	strict.Name = "piv"
	strict.Description = "Strict NIST SP 800-73-4: malformed PINs answer 6A80 without spending a try, the blocking attempt answers 63C0"
	strict.ATR = HexBytes{0x3B, 0x80, 0x80, 0x01, 0x01}
	strict.ExtendedLength = false // its ATR has no card capabilities: short APDUs and chaining only
	strict.Serial = 10000002
	strict.PIV.MgmtKeyAlgorithm = "3des"
	strict.PIV.Behaviour = Behaviour{AdvertiseAlgorithms: true}
	strict.PIV.PINPolicy.Charset = "digits" // SP 800-73-4 Part 1 §2.4.3
	// Field-token personas (docs/personas.md).
	transport := def
	transport.Name = "transport-pin-token"
	transport.Description = "USB token shipped with a random transport PIN, revealed once: it must be changed before any key operation (6982); the PUK unblocks"
	transport.Serial = 10000003
	transport.PIV.TransportPIN = true
	transport.PIV.RandomPIN = true
	transport.PIV.PIN = ""
	envelope := def
	envelope.Name = "pin-puk-envelope"
	envelope.Description = "Token delivered with a PIN/PUK envelope: PIN and PUK random per card, revealed exactly once"
	envelope.Serial = 10000004
	envelope.PIV.RandomPIN = true
	envelope.PIV.RandomPUK = true
	envelope.PIV.PIN, envelope.PIV.PUK = "", ""
	virtual := def
	virtual.Name = "virtual-token"
	virtual.Description = "Cloud-backed virtual smart card: the holder's identity number in object 5FFF21, an 8-12 character password, no user PUK: only a management-key administrator reset sets a new password, keeping the keys"
	virtual.Serial = 10000005
	virtual.PIV.PIN = "Initial1"
	virtual.PIV.PINPolicy = Policy{MinLength: 8, MaxLength: 12, Charset: "alphanumeric", RequireUpper: true, RequireLower: true, RequireDigit: true}
	virtual.PIV.HolderID = "8001015009087"
	virtual.PIV.AdminReset = true
	cloud := def
	cloud.Name = "cloud-signature"
	cloud.Description = "Remote signing authorised per signature by a TOTP code (VERIFY to key reference 90, RFC 6238 SHA-1/30 s/6 digits), with a quota of 200 signatures"
	cloud.Serial = 10000006
	cloud.PIV.TOTP = true
	cloud.PIV.SignatureQuota = 200
	all := []Profile{def, yubikey, strict, transport, envelope, virtual, cloud, isoToken(def), openpgpToken(def)}
	m := make(map[string]Profile, len(all))
	for _, p := range all {
		m[p.Name] = p
	}
	return m
}

// Builtin returns the built-in profile called name. Each call returns a fresh
// copy.
func Builtin(name string) (Profile, bool) {
	p, ok := builtins()[name]
	if ok {
		p.ATR = append(HexBytes(nil), p.ATR...) // the built-ins share these slices
		p.PIV.MgmtKey = append(HexBytes(nil), p.PIV.MgmtKey...)
		p.Applications = append([]string(nil), p.Applications...)
	}
	return p, ok
}

// Names returns the built-in profile names, sorted.
func Names() []string {
	var names []string
	for n := range builtins() {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
