package profile

// OpenPGP is the OpenPGP card application's part of a profile (package
// firmware/openpgp). It means nothing to a card without that application.
type OpenPGP struct {
	// Manufacturer is the manufacturer ID in the application identifier
	// (OpenPGP Card 3.4 §4.2.1): 0006 for Yubico; FF00 to FFFE is the
	// range of cards with unmanaged serial numbers.
	Manufacturer uint16 `yaml:"manufacturer,omitempty"`
	// YubiKey adds what a YubiKey's OpenPGP application has beyond the
	// specification: GET VERSION (INS F1) answering the profile's version,
	// which ykman sends; the touch policies D6 to D9 (user interaction
	// flags); the general feature management DO 7F74 announcing a button;
	// the attestation key (DA-DD, certificate FC) and GET ATTESTATION (CLA
	// 80, INS FB) of YubiKey 5.2 and later. Its passwords answer as a
	// YubiKey 4 or 5's: a wrong one 6982, VERIFY without data 6A80.
	YubiKey bool `yaml:"yubikey,omitempty"`
}

// Manufacturer IDs of the OpenPGP application identifier.
const (
	OpenPGPYubico    = 0x0006
	OpenPGPUnmanaged = 0xFFFE // the last of the unmanaged range FF00..FFFE
)

// openpgpToken is an OpenPGP card: the OpenPGP application alone, as a
// Gnuk, Nitrokey Start or OpenPGP card v3.4 carries it.
func openpgpToken(base Profile) Profile {
	p := base
	p.Name = "openpgp"
	p.Description = "OpenPGP card v3.4 alone (GnuPG's scdaemon, ykman openpgp): PW1 123456, PW3 12345678, 3 tries each, no resetting code"
	// T=1, historical bytes as DO 5F52 returns them: card capabilities
	// (chaining, extended Lc and Le), life cycle operational, 9000.
	p.ATR = HexBytes{0x3B, 0x88, 0x80, 0x01, 0x00, 0x73, 0x00, 0x00, 0xC0, 0x05, 0x90, 0x00, 0x00}
	p.ATR[len(p.ATR)-1] = tck(p.ATR[1 : len(p.ATR)-1])
	p.Serial = 10000008
	p.ExtendedLength = true
	p.Applications = []string{AppOpenPGP}
	p.Device = Device{}
	p.OpenPGP = OpenPGP{Manufacturer: OpenPGPUnmanaged}
	return p
}
