package hostdriver

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/tesseracard/tessera/apdu"
	"github.com/tesseracard/tessera/tokenstate"
)

// Applications the diagnostics probe for by SELECT.
func probedApplications() []struct{ Name, AID string } {
	return []struct{ Name, AID string }{
		{"PIV", "A000000308"},
		{"OpenPGP", "D27600012401"},
		{"FIDO U2F", "A0000006472F0001"},
		{"OATH", "A0000005272101"},
		{"YubiKey management", "A000000527471117"},
		{"GlobalPlatform ISD", "A000000151000000"},
		{"PKCS#15", "A000000063504B43532D3135"},
	}
}

// Report is what Diagnose finds. Its JSON form is stable: fields are only
// ever added.
type Report struct {
	Reader string `json:"reader,omitempty"`
	// State is the reader's, in a report of a reader (tessera diag):
	// StateCard, StateNoCard or StateError. Diagnose leaves it empty.
	State string `json:"state,omitempty"`
	// Error says why a card could not be diagnosed (a card that does not
	// answer, a reader that went away); the other fields are then empty.
	Error string `json:"error,omitempty"`
	ATR   string `json:"atr"`
	// ATRNames are the descriptions of every pattern of the ATR list
	// (DiagOptions.Names) that matches the ATR, each once.
	ATRNames     []string      `json:"atr_names,omitempty"`
	Protocols    []int         `json:"protocols,omitempty"`
	ATRError     string        `json:"atr_error,omitempty"`
	Applications []Application `json:"applications"`
	PIV          *PIVReport    `json:"piv,omitempty"`
	// ISO is the ISO 7816 file-system application (IsoApplet), present
	// only on a card that answers its SELECT.
	ISO *ISOReport `json:"iso,omitempty"`
	// PKCS15 is the PKCS#15 application (ISO/IEC 7816-15) of any card that
	// has one: TokenInfo, PIN objects and their tries, private keys and
	// certificates.
	PKCS15 *PKCS15Report `json:"pkcs15,omitempty"`
	// OpenPGP is the OpenPGP card application, and YubiKey a YubiKey's
	// identity from its management application, each present only on a
	// card that answers its SELECT.
	OpenPGP *OpenPGPReport `json:"openpgp,omitempty"`
	YubiKey *YubiKeyReport `json:"yubikey,omitempty"`
	// OATH is the YubiKey OATH application's version and whether an access
	// code is set, present only on a card that answers its SELECT.
	OATH     *OATHReport `json:"oath,omitempty"`
	Warnings []string    `json:"warnings"`
}

// The states of a reader in a Report.
const (
	// StateCard: the reader holds a card, diagnosed in the report.
	StateCard = "card"
	// StateNoCard: the reader is empty; the other fields are empty.
	StateNoCard = "no card"
	// StateError: the card could not be diagnosed; Error says why.
	StateError = "error"
)

// Application is one SELECT probe's outcome. The ISO file-system
// application (IsoApplet) is probed too, but listed only when present, so
// the list of other cards stays as it was.
type Application struct {
	Name    string `json:"name"`
	AID     string `json:"aid"`
	Present bool   `json:"present"`
	Status  string `json:"status"` // the status word in hex
}

// PIVReport is the PIV application's state, read without changing it.
type PIVReport struct {
	Version string `json:"version,omitempty"`
	Serial  uint32 `json:"serial,omitempty"`
	// Verified is true when the PIN is currently verified in this session.
	Verified      bool         `json:"pin_verified"`
	PIN           *Counter     `json:"pin,omitempty"`
	PUK           *Counter     `json:"puk,omitempty"`
	MgmtAlgorithm string       `json:"management_key_algorithm,omitempty"`
	MgmtDefault   *bool        `json:"management_key_default,omitempty"`
	Slots         []Slot       `json:"slots"`
	Certificates  []CertReport `json:"certificates"`
	// HolderID is the holder's identity number of a virtual token (vendor
	// object 5FFF21), when the card has one.
	HolderID string `json:"holder_id,omitempty"`
	// TOTP is a cloud-signature card's TOTP authorisation (VERIFY without
	// data to key reference 90), and SignaturesLeft its quota (vendor
	// object 5FFF22, as the token state object reports it); absent on other
	// cards.
	TOTP           *TOTPReport `json:"totp,omitempty"`
	SignaturesLeft *int        `json:"signatures_left,omitempty"`
	// PINState and PUKState say whether the PIN and PUK are still those
	// the card was delivered with: tokenstate.Personal, tokenstate.Factory,
	// tokenstate.Issued (an envelope value not yet changed),
	// tokenstate.Transport (a transport PIN: every key locked until it is
	// changed) or, for the PUK, tokenstate.AdminOnly. PINPolicy is the PIN
	// policy the card enforces. All three come from the token state object
	// (5FFF20) of a field token; absent on other cards.
	PINState  string                `json:"pin_state,omitempty"`
	PUKState  string                `json:"puk_state,omitempty"`
	PINPolicy *tokenstate.PINPolicy `json:"pin_policy,omitempty"`
}

// TOTPReport is a cloud-signature card's TOTP authorisation.
type TOTPReport struct {
	Enrolled bool `json:"enrolled"`
	Tries    int  `json:"tries_left"`
	Blocked  bool `json:"blocked"`
	Limit    int  `json:"limit,omitempty"`
}

// Counter is a PIN or PUK retry counter.
type Counter struct {
	Tries   int   `json:"tries_left"`
	Limit   int   `json:"limit,omitempty"` // 0 when only VERIFY could be asked
	Default *bool `json:"default,omitempty"`
	Blocked bool  `json:"blocked"`
}

// Slot is a key slot's metadata.
type Slot struct {
	Slot        string `json:"slot"`
	Algorithm   string `json:"algorithm"`
	Origin      string `json:"origin"`
	PINPolicy   string `json:"pin_policy"`
	TouchPolicy string `json:"touch_policy"`
}

// CertReport is a certificate found in a PIV data object: the key slot,
// the object, and what SummarizeCertificate says of it (its JSON fields
// inline, beside slot and object).
type CertReport struct {
	Slot   string `json:"slot"`
	Object string `json:"object"`
	CertificateInfo
}

// DiagOptions tune Diagnose.
type DiagOptions struct {
	// Now is the time certificates are judged against; zero means time.Now.
	Now time.Time
	// ExpiryWarning is how close to expiry a certificate draws a warning;
	// zero means DefaultExpiryWarning (30 days).
	ExpiryWarning time.Duration
	// Names names the ATR; nil leaves it unnamed.
	Names *ATRList
}

// slotObject pairs a key slot with its certificate object.
type slotObject struct {
	slot   byte
	object uint32
}

// pivSlots lists the key slots and their certificate objects (SP 800-73-4
// Part 1 Table 4b; F9 and 5FFF01 for the YubiKey attestation key).
func pivSlots() []slotObject {
	s := []slotObject{{0x9A, 0x5FC105}, {0x9C, 0x5FC10A}, {0x9D, 0x5FC10B}, {0x9E, 0x5FC101}}
	for i := byte(0); i < 20; i++ {
		s = append(s, slotObject{0x82 + i, 0x5FC10D + uint32(i)})
	}
	return append(s, slotObject{0xF9, 0x5FFF01})
}

// Diagnose reads a card's state through c without changing it: the ATR
// decoded and named, the applications present, the PIV application's
// version, serial, retry counters (from GET METADATA, or VERIFY without
// data), management key algorithm, keys and certificates, and an ISO
// file-system application's API, PIN state and PKCS#15 TokenInfo, an
// OpenPGP application's keys, PW status and signature counter, and a
// YubiKey's identity from its management application. It sends
// only the instructions in ReadOnlyINS, and VERIFY only without data; and
// it cannot send anything else: every command leaves through ReadOnly
// (wrapped around c.T here, whatever the caller passed), so a command
// outside that list is refused with ErrNotReadOnly before it reaches the
// card. c itself is not changed.
func Diagnose(ctx context.Context, c *Conn, atr []byte, opts DiagOptions) (*Report, error) {
	guarded := *c
	guarded.T = ReadOnly(c.T)
	c = &guarded
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	if opts.ExpiryWarning == 0 {
		opts.ExpiryWarning = DefaultExpiryWarning
	}
	r := &Report{ATR: hexSpaced(atr), Applications: []Application{}, Warnings: []string{}}
	if a, err := ParseATR(atr); err != nil {
		r.ATRError = err.Error()
	} else {
		r.Protocols = a.Protocols
		if a.HasTCK && !a.TCKValid {
			r.Warnings = append(r.Warnings, "ATR check byte (TCK) is wrong")
		}
	}
	if opts.Names != nil {
		r.ATRNames = opts.Names.Names(atr)
	}
	pivPresent, pgpPresent, ykPresent := false, false, false
	for _, app := range probedApplications() {
		aid, _ := hex.DecodeString(app.AID)
		resp, err := c.Transmit(ctx, apdu.Command{INS: apdu.InsSelect, P1: 0x04, Data: aid, Ne: 256})
		if err != nil {
			return nil, fmt.Errorf("hostdriver: selecting %s: %w", app.Name, err)
		}
		present := resp.SW == apdu.SWSuccess
		r.Applications = append(r.Applications, Application{Name: app.Name, AID: app.AID, Present: present, Status: fmt.Sprintf("%04X", uint16(resp.SW))})
		pivPresent = pivPresent || app.Name == "PIV" && present
		pgpPresent = pgpPresent || app.Name == "OpenPGP" && present
		ykPresent = ykPresent || app.Name == "YubiKey management" && present
		if app.Name == "OATH" && present {
			r.OATH = parseOATHSelect(resp.Data, &r.Warnings)
		}
	}
	resp, err := c.Transmit(ctx, apdu.Command{INS: apdu.InsSelect, P1: 0x04, Data: IsoAppletAID(), Ne: 256})
	if err != nil {
		return nil, fmt.Errorf("hostdriver: selecting %s: %w", isoAppName, err)
	}
	isoPresent := resp.SW == apdu.SWSuccess
	if isoPresent {
		r.Applications = append(r.Applications, Application{Name: isoAppName, AID: fmt.Sprintf("%X", IsoAppletAID()), Present: true, Status: "9000"})
	}
	if pivPresent {
		p, err := diagnosePIV(ctx, c, opts, &r.Warnings)
		if err != nil {
			return nil, err
		}
		r.PIV = p
	}
	if isoPresent {
		iso, err := diagnoseISO(ctx, c, &r.Warnings)
		if err != nil {
			return nil, err
		}
		r.ISO = iso
	}
	if err := r.diagnosePKCS15(ctx, c, opts, isoPresent); err != nil {
		return nil, err
	}
	if pgpPresent {
		if r.OpenPGP, err = diagnoseOpenPGP(ctx, c, opts.Now, &r.Warnings); err != nil {
			return nil, err
		}
	}
	if ykPresent {
		if r.YubiKey, err = diagnoseYubiKey(ctx, c); err != nil {
			return nil, err
		}
	}
	slices.Sort(r.Warnings)
	return r, nil
}

func diagnosePIV(ctx context.Context, c *Conn, opts DiagOptions, warn *[]string) (*PIVReport, error) {
	if _, err := c.Do(ctx, apdu.Command{INS: apdu.InsSelect, P1: 0x04, Data: []byte{0xA0, 0, 0, 3, 8}, Ne: 256}); err != nil {
		return nil, fmt.Errorf("hostdriver: selecting PIV: %w", err)
	}
	p := &PIVReport{Slots: []Slot{}, Certificates: []CertReport{}}
	if v, err := c.Do(ctx, apdu.Command{INS: apdu.InsGetVersion, Ne: 256}); err == nil && len(v) == 3 {
		p.Version = fmt.Sprintf("%d.%d.%d", v[0], v[1], v[2])
	}
	if s, err := c.Do(ctx, apdu.Command{INS: apdu.InsGetSerial, Ne: 256}); err == nil && len(s) == 4 {
		p.Serial = uint32(s[0])<<24 | uint32(s[1])<<16 | uint32(s[2])<<8 | uint32(s[3])
	}
	// PIN: VERIFY without data reports without spending a try.
	resp, err := c.Transmit(ctx, apdu.Command{INS: apdu.InsVerify, P2: 0x80})
	if err != nil {
		return nil, err
	}
	switch n, ok := resp.SW.Retries(); {
	case resp.SW == apdu.SWSuccess:
		p.Verified = true
	case resp.SW == apdu.SWAuthMethodBlocked:
		p.PIN = &Counter{Blocked: true}
	case ok:
		p.PIN = &Counter{Tries: n, Blocked: n == 0}
	}
	for _, ref := range []byte{0x80, 0x81} {
		md, err := metadata(ctx, c, ref)
		if err != nil {
			continue // no GET METADATA on this card
		}
		if v := md[0x06]; len(v) == 2 {
			cnt := &Counter{Limit: int(v[0]), Tries: int(v[1]), Blocked: v[1] == 0}
			if d := md[0x05]; len(d) == 1 {
				def := d[0] == 1
				cnt.Default = &def
			}
			if ref == 0x80 {
				p.PIN = cnt
			} else {
				p.PUK = cnt
			}
		}
	}
	if md, err := metadata(ctx, c, 0x9B); err == nil {
		if a := md[0x01]; len(a) == 1 {
			p.MgmtAlgorithm = algorithmName(a[0])
		}
		if d := md[0x05]; len(d) == 1 {
			def := d[0] == 1
			p.MgmtDefault = &def
		}
	}
	for _, s := range pivSlots() {
		if md, err := metadata(ctx, c, s.slot); err == nil {
			sl := Slot{Slot: fmt.Sprintf("%02X", s.slot)}
			if a := md[0x01]; len(a) == 1 {
				sl.Algorithm = algorithmName(a[0])
			}
			if o := md[0x03]; len(o) == 1 {
				sl.Origin = map[byte]string{1: "generated", 2: "imported"}[o[0]]
			}
			if pol := md[0x02]; len(pol) == 2 {
				sl.PINPolicy = policyName(pol[0], []string{"default", "never", "once", "always", "match-once", "match-always"})
				sl.TouchPolicy = policyName(pol[1], []string{"default", "never", "always", "cached"})
			}
			p.Slots = append(p.Slots, sl)
		}
		obj := []byte{0x5C, 0x03, byte(s.object >> 16), byte(s.object >> 8), byte(s.object)}
		data, err := c.Do(ctx, apdu.Command{INS: apdu.InsGetDataOdd, P1: 0x3F, P2: 0xFF, Data: obj, Ne: 256})
		if err != nil {
			if errors.Is(err, apdu.SWFileNotFound) || errors.Is(err, apdu.SWSecurityStatusNotSatisfied) || errors.Is(err, apdu.SWIncorrectData) || errors.Is(err, apdu.SWReferenceNotFound) {
				continue
			}
			return nil, fmt.Errorf("hostdriver: reading object %06X: %w", s.object, err)
		}
		p.Certificates = append(p.Certificates, certReport(s.slot, s.object, data, opts.Now))
	}
	if v, err := getObject(ctx, c, HolderIDObject()); err == nil && len(v) > 0 {
		p.HolderID = string(v)
	}
	if v, err := getObject(ctx, c, tokenstate.TagBytes()); err == nil {
		st, err := tokenstate.Parse(v)
		if err != nil {
			*warn = append(*warn, fmt.Sprintf("token state object %X unreadable: %v", tokenstate.TagBytes(), err))
		} else {
			p.tokenState(st, warn)
		}
	}
	// Warnings, from what was read: nothing here ever tries a value.
	for name, cnt := range map[string]*Counter{"PIN": p.PIN, "PUK": p.PUK} {
		if cnt == nil {
			continue
		}
		if cnt.Blocked {
			*warn = append(*warn, name+" is blocked")
		}
		state := map[string]string{"PIN": p.PINState, "PUK": p.PUKState}[name]
		if state == "" && cnt.Default != nil && *cnt.Default {
			state = tokenstate.Factory // no token state object: GET METADATA's default flag
		}
		if w := deliveryWarning(name, state); w != "" {
			*warn = append(*warn, w)
		}
	}
	if p.MgmtDefault != nil && *p.MgmtDefault {
		*warn = append(*warn, "management key is still the factory default")
	}
	for _, cr := range p.Certificates {
		if w := cr.Warning("certificate in slot "+cr.Slot, opts.Now, opts.ExpiryWarning); w != "" {
			*warn = append(*warn, w)
		}
	}
	slices.Sort(*warn)
	return p, nil
}

// tokenState fills in what a field token's token state object says, and
// warns of a TOTP authorisation not enrolled or blocked and of a spent
// quota.
func (p *PIVReport) tokenState(st tokenstate.State, warn *[]string) {
	p.PINState, p.PUKState = st.PIN, st.PUK
	pol := st.Policy
	p.PINPolicy = &pol
	if t := st.TOTP; t != nil {
		p.TOTP = &TOTPReport{Enrolled: t.Enrolled, Tries: t.Tries, Blocked: t.Blocked, Limit: t.Limit}
		switch {
		case !t.Enrolled:
			*warn = append(*warn, "TOTP not enrolled: no signature possible")
		case t.Blocked:
			*warn = append(*warn, "TOTP authorisation blocked: re-enrol the card")
		}
	}
	if n := st.SignaturesLeft; n != nil {
		left := *n
		p.SignaturesLeft = &left
		if left == 0 {
			*warn = append(*warn, "signature quota spent")
		}
	}
}

// deliveryWarning is the warning for a PIN or PUK still in a delivery
// state, or "" for a value the holder set.
func deliveryWarning(name, state string) string {
	switch state {
	case tokenstate.Factory:
		return name + " is still the factory default"
	case tokenstate.Issued:
		return name + " is still the issued envelope value: the holder has not changed it yet"
	case tokenstate.Transport:
		return name + " is still the transport " + name + ": no key can be used until it is changed"
	}
	return ""
}

// metadata runs GET METADATA for ref and returns its TLVs by tag.
func metadata(ctx context.Context, c *Conn, ref byte) (map[apdu.Tag][]byte, error) {
	data, err := c.Do(ctx, apdu.Command{INS: apdu.InsGetMetadata, P2: ref, Ne: 256})
	if err != nil {
		return nil, err
	}
	tlvs, err := apdu.ParseTLVs(data)
	if err != nil {
		return nil, err
	}
	m := map[apdu.Tag][]byte{}
	for _, t := range tlvs {
		m[t.Tag] = t.Value
	}
	return m, nil
}

// certReport reads the certificate out of a PIV certificate object (tag
// 53 holding tag 70, SP 800-73-4 Part 1 Appendix A) and summarises it.
func certReport(slot byte, object uint32, data []byte, now time.Time) CertReport {
	cr := CertReport{Slot: fmt.Sprintf("%02X", slot), Object: fmt.Sprintf("%06X", object)}
	body, ok, err := apdu.FindTLV(data, 0x53)
	if err == nil && ok {
		data = body
	}
	der, ok, err := apdu.FindTLV(data, 0x70)
	if err != nil || !ok {
		cr.ParseError = "no certificate (tag 70) in the object"
		return cr
	}
	cr.CertificateInfo = SummarizeCertificate(der, now)
	return cr
}

func algorithmName(a byte) string {
	names := map[byte]string{
		0x03: "3DES", 0x08: "AES-128", 0x0A: "AES-192", 0x0C: "AES-256",
		0x06: "RSA-1024", 0x07: "RSA-2048", 0x05: "RSA-3072", 0x16: "RSA-4096",
		0x11: "ECC P-256", 0x14: "ECC P-384", 0xE0: "Ed25519", 0xE1: "X25519", 0xFF: "PIN",
	}
	if n, ok := names[a]; ok {
		return n
	}
	return fmt.Sprintf("unknown (%02X)", a)
}

func policyName(v byte, names []string) string {
	if int(v) < len(names) {
		return names[v]
	}
	return fmt.Sprintf("unknown (%02X)", v)
}

// getObject reads a PIV data object (GET DATA, SP 800-73-4 Part 2 §3.1.2)
// and returns its content, unwrapped from tag 53.
func getObject(ctx context.Context, c *Conn, tag []byte) ([]byte, error) {
	data, err := c.Do(ctx, apdu.Command{INS: apdu.InsGetDataOdd, P1: 0x3F, P2: 0xFF, Data: append([]byte{0x5C, byte(len(tag))}, tag...), Ne: 256})
	if err != nil {
		return nil, err
	}
	t, rest, err := apdu.ParseTLV(data)
	if err != nil || t.Tag != 0x53 || len(rest) != 0 {
		return nil, fmt.Errorf("hostdriver: object %X: not one 53 TLV", tag)
	}
	return t.Value, nil
}

// HolderIDObject is the tag of the vendor PIV data object in which a
// virtual token (a Tessera persona) holds its holder's identity number,
// readable without the PIN. It sits next to the token state object
// (package tokenstate), clear of the 5FFF00..5FFF15 objects YubiKey tools
// use (5FFF10 is yubico-piv-tool's MSCMAP). The signature quota of a
// cloud-signature token is 5FFF22, also reported by the token state
// object.
func HolderIDObject() []byte { return []byte{0x5F, 0xFF, 0x21} }
