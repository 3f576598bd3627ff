package hostdriver

import (
	"bytes"
	"context"
	"encoding/asn1"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tesseracard/tessera/apdu"
)

// OpenPGPAID is the OpenPGP application's AID prefix (RID D276000124, PIX
// application 01), which selects it on any card whatever its version,
// manufacturer and serial (OpenPGP card 3.4 §4.2.1).
func OpenPGPAID() []byte { return []byte{0xD2, 0x76, 0x00, 0x01, 0x24, 0x01} }

// OpenPGPReport is an OpenPGP card application's state (OpenPGP card 3.4),
// read with GET DATA (CA) without a PIN and without spending a try.
type OpenPGPReport struct {
	// AID is the full application identifier (4F), in hexadecimal.
	AID string `json:"aid"`
	// Version is the specification version the card implements, "3.4".
	Version string `json:"version"`
	// Manufacturer is the manufacturer ID (4 hex digits) and
	// ManufacturerName its name from GnuPG's list, absent when unknown.
	Manufacturer     string `json:"manufacturer"`
	ManufacturerName string `json:"manufacturer_name,omitempty"`
	// Serial is the card's serial number, 8 hex digits as GnuPG shows it.
	Serial string `json:"serial"`
	// HistoricalBytes (5F52), in hexadecimal.
	HistoricalBytes string `json:"historical_bytes,omitempty"`
	// Features are the extended capabilities (C0) the card announces:
	// "secure-messaging", "get-challenge", "key-import",
	// "pw-status-changeable", "private-use-dos", "algorithm-attributes-changeable",
	// "aes", "kdf".
	Features []string `json:"features,omitempty"`
	// PW1, RC (the resetting code) and PW3 (the admin PIN) tries left,
	// from the PW status bytes (C4). RC is never Blocked: 0 tries is what
	// a card with no resetting code says too (none is set as delivered),
	// and C4 cannot tell the two apart.
	PW1 *Counter `json:"pw1,omitempty"`
	RC  *Counter `json:"rc,omitempty"`
	PW3 *Counter `json:"pw3,omitempty"`
	// PW1ForEachSignature: PW1 must be verified before every signature
	// (C4's first byte 00); false: once for several.
	PW1ForEachSignature *bool `json:"pw1_for_each_signature,omitempty"`
	// MaxLengths are the longest PW1, RC and PW3 the card accepts.
	MaxLengths []int `json:"max_lengths,omitempty"`
	// Keys are the signature, decryption and authentication keys, and the
	// attestation key of a card that has one (YubiKey 5.2+).
	Keys []OpenPGPKey `json:"keys"`
	// CAFingerprints are the fingerprints of trusted CA keys (C6) that
	// are set.
	CAFingerprints []string `json:"ca_fingerprints,omitempty"`
	// SignatureCounter counts the signatures made with the signature key
	// (7A/93).
	SignatureCounter *int `json:"signature_counter,omitempty"`
	// Cardholder (65): the name as stored (5B, "Surname<<Given"), the
	// language preferences (5F2D) and the sex (5F35, ISO 5218: "male",
	// "female", "not applicable", "not known").
	Cardholder string   `json:"cardholder,omitempty"`
	Languages  []string `json:"languages,omitempty"`
	Sex        string   `json:"sex,omitempty"`
	// URL of the public key (5F50).
	URL string `json:"url,omitempty"`
	// AttestationCertificate is the YubiKey attestation key's certificate
	// (FC, YubiKey 5.2+), which issues the attestations of the keys;
	// absent when the card has no attestation key or the DO is empty.
	AttestationCertificate *CertificateInfo `json:"attestation_certificate,omitempty"`
}

// OpenPGPKey is one key of an OpenPGP card.
type OpenPGPKey struct {
	Key string `json:"key"` // signature, decryption, authentication, attestation
	// Algorithm from the algorithm attributes: "RSA-2048",
	// "EdDSA Ed25519", "ECDH Curve25519", "ECDSA P-256", ...
	Algorithm string `json:"algorithm,omitempty"`
	// Fingerprint is the key's OpenPGP fingerprint in hexadecimal, absent
	// when none is set (no key).
	Fingerprint string     `json:"fingerprint,omitempty"`
	Created     *time.Time `json:"created,omitempty"`
	// Status is the key information (DE): "none", "generated" (on the
	// card) or "imported".
	Status string `json:"status,omitempty"`
	// Supported are the algorithms the card's Algorithm Information (FA,
	// OpenPGP card 3.4 §4.4.3.11) lists for this key, named as Algorithm
	// and each once; absent when the card has no FA.
	Supported []string `json:"supported,omitempty"`
}

// openPGPKeys are the keys of an OpenPGP card in the order of C5, C6 and
// CD, with their algorithm attributes' tag and key reference in DE.
func openPGPKeys() []struct {
	name string
	attr apdu.Tag
	ref  byte
} {
	return []struct {
		name string
		attr apdu.Tag
		ref  byte
	}{{"signature", 0xC1, 0x01}, {"decryption", 0xC2, 0x02}, {"authentication", 0xC3, 0x03}, {"attestation", 0xDA, 0x81}}
}

// OpenPGPManufacturer names an OpenPGP card manufacturer ID (the AID's
// bytes 9-10), after GnuPG's list (scd/app-openpgp.c, which keeps the
// registry the specification refers to), or "" for an ID not in it.
// 0000 and FFFF are test cards; FF00..FFFE are for randomly made serials.
func OpenPGPManufacturer(id uint16) string {
	switch id {
	case 0x0000, 0xFFFF:
		return "test card"
	case 0x0001:
		return "PPC Card Systems"
	case 0x0002:
		return "Prism"
	case 0x0003:
		return "OpenFortress"
	case 0x0004:
		return "Wewid"
	case 0x0005:
		return "ZeitControl"
	case 0x0006:
		return "Yubico"
	case 0x0007:
		return "OpenKMS"
	case 0x0008:
		return "LogoEmail"
	case 0x0009:
		return "Fidesmo"
	case 0x000A:
		return "VivoKey"
	case 0x000B:
		return "Feitian Technologies"
	case 0x000D:
		return "Dangerous Things"
	case 0x000E:
		return "Excelsecu"
	case 0x002A:
		return "Magrathea"
	case 0x0042:
		return "GnuPG e.V."
	case 0x1337:
		return "Warsaw Hackerspace"
	case 0x2342:
		return "warpzone"
	case 0x4354:
		return "Confidential Technologies"
	case 0x5343:
		return "SSE Carte à puce"
	case 0x5443:
		return "TIF-IT e.V."
	case 0x63AF:
		return "Trustica"
	case 0xBA53:
		return "c-base e.V."
	case 0xBD0E:
		return "Paranoidlabs"
	case 0xF517:
		return "FSIJ"
	case 0xF5EC:
		return "F-Secure"
	}
	if id&0xFF00 == 0xFF00 {
		return "unmanaged serial number range"
	}
	return ""
}

// maxOpenPGPObject bounds the data objects diag reads: 6E of a YubiKey 5
// is about 310 bytes, and no readable object but a certificate (not read)
// comes near this.
const maxOpenPGPObject = 4096

// diagnoseOpenPGP reads the OpenPGP application: application related data
// (6E), security support template (7A), cardholder related data (65), URL
// (5F50), on a card that has none in 6E, key information (DE), the
// algorithm information (FA), and on a card with an attestation key, its
// certificate (FC, judged as of now).
// Each by GET DATA (CA), none needing a PIN. A data object the card
// refuses is left out; one that does not parse is a warning.
func diagnoseOpenPGP(ctx context.Context, c *Conn, now time.Time, warn *[]string) (*OpenPGPReport, error) {
	if _, err := c.Do(ctx, apdu.Command{INS: apdu.InsSelect, P1: 0x04, Data: OpenPGPAID(), Ne: 256}); err != nil {
		return nil, fmt.Errorf("hostdriver: selecting OpenPGP: %w", err)
	}
	get := func(tag uint16) ([]byte, error) {
		data, err := c.Do(ctx, apdu.Command{INS: apdu.InsGetData, P1: byte(tag >> 8), P2: byte(tag), Ne: 256})
		var sw apdu.StatusWord
		switch {
		case errors.As(err, &sw):
			return nil, nil // not on this card, or not readable without a PIN
		case err != nil:
			return nil, fmt.Errorf("hostdriver: reading OpenPGP data object %04X: %w", tag, err)
		case len(data) > maxOpenPGPObject:
			return nil, nil
		}
		return data, nil
	}
	data, err := get(0x006E)
	if err != nil {
		return nil, err
	}
	p, err := parseOpenPGPAppData(data)
	if err != nil {
		*warn = append(*warn, fmt.Sprintf("OpenPGP application related data (6E) unreadable: %v", err))
		p = &OpenPGPReport{Keys: []OpenPGPKey{}}
	}
	if len(p.Keys) > 0 && p.Keys[0].Status == "" { // DE outside 6E (OpenPGP 3.3+)
		if de, err := get(0x00DE); err != nil {
			return nil, err
		} else if len(de) > 0 {
			if v, ok := unwrap(de, 0xDE); ok {
				de = v
			}
			if err := p.keyInformation(de); err != nil {
				*warn = append(*warn, fmt.Sprintf("OpenPGP key information (DE) unreadable: %v", err))
			}
		}
	}
	if v, err := get(0x007A); err != nil {
		return nil, err
	} else if len(v) > 0 {
		if err := p.securitySupport(v); err != nil {
			*warn = append(*warn, fmt.Sprintf("OpenPGP security support template (7A) unreadable: %v", err))
		}
	}
	if v, err := get(0x0065); err != nil {
		return nil, err
	} else if len(v) > 0 {
		if err := p.cardholder(v); err != nil {
			*warn = append(*warn, fmt.Sprintf("OpenPGP cardholder related data (65) unreadable: %v", err))
		}
	}
	if v, err := get(0x5F50); err != nil {
		return nil, err
	} else if len(v) > 0 {
		if u, ok := unwrap(v, 0x5F50); ok {
			v = u
		}
		p.URL = string(v)
	}
	if v, err := get(0x00FA); err != nil {
		return nil, err
	} else if len(v) > 0 {
		if err := p.algorithmInformation(v); err != nil {
			*warn = append(*warn, fmt.Sprintf("OpenPGP algorithm information (FA) unreadable: %v", err))
		}
	}
	if len(p.Keys) > 3 { // an attestation key (DA in 6E)
		if v, err := get(0x00FC); err != nil {
			return nil, err
		} else if len(v) > 0 {
			ci := SummarizeCertificate(v, now)
			p.AttestationCertificate = &ci
		}
	}
	for _, pw := range []struct {
		name string
		c    *Counter
		fix  string
	}{
		{"PW1 (user PIN)", p.PW1, "the resetting code or PW3 can unblock it"},
		{"PW3 (admin PIN)", p.PW3, "only a reset of the application (all keys lost) brings it back"},
	} {
		if pw.c != nil && pw.c.Blocked {
			*warn = append(*warn, fmt.Sprintf("OpenPGP %s is blocked: %s", pw.name, pw.fix))
		}
	}
	return p, nil
}

// algorithmInformation reads the Algorithm Information DO FA (OpenPGP
// card 3.4 §4.4.3.11) into the keys' Supported: one DO per supported
// algorithm attribute, tagged C1, C2, C3 or DA (the attestation key) as
// the key's attributes are; other tags are skipped, as GnuPG's scdaemon
// does. b is the GET DATA answer: FA{...} or its value alone; an FA whose
// length claims two bytes more than it holds is read too (yubikit reads
// it so for some YubiKey firmware, and scdaemon tolerates a wrong length
// from a YubiKey). A key the report does not have is left out.
func (p *OpenPGPReport) algorithmInformation(b []byte) error {
	if v, ok := unwrap(b, 0xFA); ok {
		b = v
	} else if v, ok := unwrap(append(bytes.Clone(b), 0, 0), 0xFA); ok && len(v) >= 2 {
		b = v[:len(v)-2]
	} else if len(b) > 0 && b[0] == 0xFA {
		return errors.New("malformed FA")
	}
	entries, err := apdu.ParseTLVs(b)
	if err != nil {
		return err
	}
	supported := map[apdu.Tag][]string{}
	for _, e := range entries {
		if len(e.Value) == 0 {
			return fmt.Errorf("empty algorithm attributes %X", uint32(e.Tag))
		}
		name := openPGPAlgorithm(e.Value)
		if !slices.Contains(supported[e.Tag], name) {
			supported[e.Tag] = append(supported[e.Tag], name)
		}
	}
	for i, k := range openPGPKeys() {
		if i < len(p.Keys) {
			p.Keys[i].Supported = supported[k.attr]
		}
	}
	return nil
}

// unwrap returns the value of b when b is exactly one data object with the
// given tag: cards answer GET DATA with the object's value, or with the
// whole object.
func unwrap(b []byte, tag apdu.Tag) ([]byte, bool) {
	t, rest, err := apdu.ParseTLV(b)
	if err != nil || t.Tag != tag || len(rest) != 0 {
		return nil, false
	}
	return t.Value, true
}

// parseOpenPGPAppData parses the application related data (6E, OpenPGP
// card 3.4 §4.4.3.1): the AID (4F), historical bytes (5F52) and the
// discretionary data objects (73: C0 extended capabilities, C1 C2 C3 and
// DA algorithm attributes, C4 PW status, C5 fingerprints, C6 CA
// fingerprints, CD generation dates, DE key information). Cards before
// 3.x that put the discretionary objects directly in 6E are read too. b
// is the GET DATA answer: 6E{...} or its value alone.
func parseOpenPGPAppData(b []byte) (*OpenPGPReport, error) {
	if v, ok := unwrap(b, 0x6E); ok {
		b = v
	}
	top, err := apdu.ParseTLVs(b)
	if err != nil {
		return nil, err
	}
	do := map[apdu.Tag][]byte{}
	for _, t := range top {
		do[t.Tag] = t.Value
		if t.Tag == 0x73 {
			inner, err := apdu.ParseTLVs(t.Value)
			if err != nil {
				return nil, fmt.Errorf("discretionary data objects (73): %w", err)
			}
			for _, d := range inner {
				do[d.Tag] = d.Value
			}
		}
	}
	p := &OpenPGPReport{}
	aid, ok := do[0x4F]
	if !ok {
		return nil, errors.New("no AID (4F)")
	}
	if err := p.aid(aid); err != nil {
		return nil, err
	}
	if h := do[0x5F52]; len(h) > 0 {
		p.HistoricalBytes = fmt.Sprintf("%X", h)
	}
	if c0 := do[0xC0]; len(c0) > 0 {
		for i, name := range []string{"secure-messaging", "get-challenge", "key-import", "pw-status-changeable", "private-use-dos", "algorithm-attributes-changeable", "aes", "kdf"} {
			if c0[0]&(0x80>>i) != 0 {
				p.Features = append(p.Features, name)
			}
		}
	}
	if c4, ok := do[0xC4]; ok {
		if err := p.pwStatus(c4); err != nil {
			return nil, err
		}
	}
	fps, cas, dates := do[0xC5], do[0xC6], do[0xCD]
	for _, f := range [][]byte{fps, cas} {
		if len(f)%20 != 0 {
			return nil, fmt.Errorf("fingerprints of %d bytes, not 20 per key", len(f))
		}
	}
	if len(dates)%4 != 0 {
		return nil, fmt.Errorf("generation dates of %d bytes, not 4 per key", len(dates))
	}
	for i, k := range openPGPKeys() {
		_, hasAttr := do[k.attr]
		if i == 3 && !hasAttr && len(fps) <= 60 {
			break // no attestation key
		}
		key := OpenPGPKey{Key: k.name}
		if a := do[k.attr]; len(a) > 0 {
			key.Algorithm = openPGPAlgorithm(a)
		}
		if len(fps) >= 20*(i+1) {
			if f := fps[20*i : 20*(i+1)]; !allZero(f) {
				key.Fingerprint = fmt.Sprintf("%X", f)
			}
		}
		if len(dates) >= 4*(i+1) {
			if s := binary.BigEndian.Uint32(dates[4*i:]); s != 0 {
				t := time.Unix(int64(s), 0).UTC()
				key.Created = &t
			}
		}
		p.Keys = append(p.Keys, key)
	}
	for i := 0; i+20 <= len(cas); i += 20 {
		if !allZero(cas[i : i+20]) {
			p.CAFingerprints = append(p.CAFingerprints, fmt.Sprintf("%X", cas[i:i+20]))
		}
	}
	if de, ok := do[0xDE]; ok {
		if err := p.keyInformation(de); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// aid reads the AID (OpenPGP card 3.4 §4.2.1): D2 76 00 01 24, application
// 01, version (2 bytes, BCD), manufacturer (2), serial (4), RFU (2).
func (p *OpenPGPReport) aid(aid []byte) error {
	if len(aid) != 16 || !bytes.HasPrefix(aid, OpenPGPAID()) {
		return fmt.Errorf("AID (4F) % X is not an OpenPGP AID of 16 bytes", aid)
	}
	p.AID = fmt.Sprintf("%X", aid)
	p.Version = fmt.Sprintf("%x.%x", aid[6], aid[7])
	id := binary.BigEndian.Uint16(aid[8:])
	p.Manufacturer = fmt.Sprintf("%04X", id)
	p.ManufacturerName = OpenPGPManufacturer(id)
	p.Serial = fmt.Sprintf("%X", aid[10:14])
	return nil
}

// pwStatus reads the PW status bytes (C4, OpenPGP card 3.4 §4.4.3.4):
// PW1 validity, the maximum lengths of PW1, RC and PW3, and their retry
// counters. A first byte other than 00 or 01 is read as 01, as yubikit
// does (some cards answer FF).
func (p *OpenPGPReport) pwStatus(c4 []byte) error {
	if len(c4) < 7 {
		return fmt.Errorf("PW status bytes (C4) of %d bytes, want 7", len(c4))
	}
	each := c4[0] == 0x00
	p.PW1ForEachSignature = &each
	p.MaxLengths = []int{int(c4[1] & 0x7F), int(c4[2]), int(c4[3])}
	counter := func(n byte) *Counter { return &Counter{Tries: int(n), Blocked: n == 0} }
	p.PW1, p.PW3 = counter(c4[4]), counter(c4[6])
	// A card has no resetting code until PUT DATA D3 sets one, and C4
	// then says 0 for it, as for a blocked one (§4.3.4): RC is never
	// reported blocked, only its tries.
	p.RC = &Counter{Tries: int(c4[5])}
	return nil
}

// keyInformation reads the key information (DE, OpenPGP card 3.4
// §4.4.3.8): pairs of key reference and status (00 no key, 01 generated
// on the card, 02 imported).
func (p *OpenPGPReport) keyInformation(de []byte) error {
	if len(de)%2 != 0 {
		return fmt.Errorf("key information (DE) of %d bytes, not pairs", len(de))
	}
	for i := 0; i < len(de); i += 2 {
		status := map[byte]string{0: "none", 1: "generated", 2: "imported"}[de[i+1]]
		if status == "" {
			status = fmt.Sprintf("unknown (%02X)", de[i+1])
		}
		for j, k := range openPGPKeys() {
			if k.ref == de[i] && j < len(p.Keys) {
				p.Keys[j].Status = status
			}
		}
	}
	return nil
}

// securitySupport reads the digital signature counter (93, 3 bytes) from
// the security support template (7A).
func (p *OpenPGPReport) securitySupport(b []byte) error {
	if v, ok := unwrap(b, 0x7A); ok {
		b = v
	}
	v, ok, err := apdu.FindTLV(b, 0x93)
	switch {
	case err != nil:
		return err
	case !ok:
		return nil
	case len(v) == 0 || len(v) > 4:
		return fmt.Errorf("signature counter (93) of %d bytes", len(v))
	}
	n := 0
	for _, x := range v {
		n = n<<8 | int(x)
	}
	p.SignatureCounter = &n
	return nil
}

// cardholder reads the cardholder related data (65): name (5B, ISO
// 8859-1), language preferences (5F2D, pairs of ISO 639 letters) and sex
// (5F35, ISO 5218, as a digit character or a byte).
func (p *OpenPGPReport) cardholder(b []byte) error {
	if v, ok := unwrap(b, 0x65); ok {
		b = v
	}
	tlvs, err := apdu.ParseTLVs(b)
	if err != nil {
		return err
	}
	for _, t := range tlvs {
		switch t.Tag {
		case 0x5B:
			p.Cardholder = latin1(t.Value)
		case 0x5F2D:
			for i := 0; i+2 <= len(t.Value); i += 2 {
				p.Languages = append(p.Languages, latin1(t.Value[i:i+2]))
			}
		case 0x5F35:
			if len(t.Value) == 1 {
				p.Sex = map[byte]string{'0': "not known", '1': "male", '2': "female", '9': "not applicable", 0: "not known", 1: "male", 2: "female", 9: "not applicable"}[t.Value[0]]
			}
		}
	}
	return nil
}

// latin1 decodes ISO 8859-1, the OpenPGP card's character set.
func latin1(b []byte) string {
	var s strings.Builder
	for _, x := range b {
		s.WriteRune(rune(x))
	}
	return s.String()
}

func allZero(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}

// openPGPAlgorithm names a key's algorithm attributes (OpenPGP card 3.4
// §4.4.3.9): RSA (01, modulus bits, exponent bits, import format) or an
// ECC algorithm (RFC 6637 / RFC 9580 IDs: 12 ECDH, 13 ECDSA, 16 EdDSA)
// followed by the curve's OID and an optional import format byte FF.
func openPGPAlgorithm(a []byte) string {
	switch a[0] {
	case 0x01:
		if len(a) < 3 {
			return "RSA"
		}
		return fmt.Sprintf("RSA-%d", binary.BigEndian.Uint16(a[1:]))
	case 0x12, 0x13, 0x16:
		name := map[byte]string{0x12: "ECDH", 0x13: "ECDSA", 0x16: "EdDSA"}[a[0]]
		oid := a[1:]
		if len(oid) > 0 && oid[len(oid)-1] == 0xFF {
			oid = oid[:len(oid)-1]
		}
		return name + " " + curveName(oid)
	}
	return fmt.Sprintf("unknown (%X)", a)
}

// curveName names the curve of an OID given as its DER content bytes, or
// returns the OID dotted (or in hex when it does not decode).
func curveName(oid []byte) string {
	for _, c := range []struct{ dotted, name string }{
		{"1.2.840.10045.3.1.7", "P-256"},
		{"1.3.132.0.34", "P-384"},
		{"1.3.132.0.35", "P-521"},
		{"1.3.132.0.10", "secp256k1"},
		{"1.3.36.3.3.2.8.1.1.7", "brainpoolP256r1"},
		{"1.3.36.3.3.2.8.1.1.11", "brainpoolP384r1"},
		{"1.3.36.3.3.2.8.1.1.13", "brainpoolP512r1"},
		{"1.3.6.1.4.1.11591.15.1", "Ed25519"},
		{"1.3.6.1.4.1.3029.1.5.1", "Curve25519"},
		{"1.3.101.110", "X25519"},
		{"1.3.101.111", "X448"},
		{"1.3.101.112", "Ed25519"},
		{"1.3.101.113", "Ed448"},
	} {
		if bytes.Equal(oid, oidBytes(c.dotted)) {
			return c.name
		}
	}
	var id asn1.ObjectIdentifier
	if len(oid) < 128 {
		if rest, err := asn1.Unmarshal(append([]byte{0x06, byte(len(oid))}, oid...), &id); err == nil && len(rest) == 0 {
			return "OID " + id.String()
		}
	}
	return "OID " + hex.EncodeToString(oid)
}

// oidBytes returns the DER content bytes of a dotted OID.
func oidBytes(dotted string) []byte {
	var id asn1.ObjectIdentifier
	for _, f := range strings.Split(dotted, ".") {
		n, err := strconv.Atoi(f)
		if err != nil {
			return nil
		}
		id = append(id, n)
	}
	der, err := asn1.Marshal(id)
	if err != nil || len(der) < 2 {
		return nil
	}
	return der[2:]
}
