package simulator

import (
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/tesseracard/tessera/apdu"
	"github.com/tesseracard/tessera/firmware/isoapp"
	"github.com/tesseracard/tessera/firmware/nvm"
	"github.com/tesseracard/tessera/firmware/pin"
	"github.com/tesseracard/tessera/firmware/piv"
	"github.com/tesseracard/tessera/firmware/profile"
	"github.com/tesseracard/tessera/pivalg"
)

// CardInfo is a card's place in the simulator: what a listing shows.
type CardInfo struct {
	ID      int    `json:"id"`
	Profile string `json:"profile"`
	Serial  uint32 `json:"serial"`
	Dir     string `json:"dir,omitempty"`  // empty: RAM only
	VPCD    string `json:"vpcd,omitempty"` // empty: in process only
	// IFD is the socket of the card's IFD link (the IFD bridge); empty: none.
	IFD string `json:"ifd,omitempty"`
	// Reader is the card's PC/SC reader name when the simulator knows it
	// (the IFD bridge: IFDReaderName); else empty.
	Reader string `json:"reader,omitempty"`
	// Relay describes the real card a relayed card's exchanges go to (the
	// real reader's name); empty for a simulated card.
	Relay     string `json:"relay,omitempty"`
	Inserted  bool   `json:"inserted"`
	Connected bool   `json:"connected"` // to vpcd or the IFD driver, now
	Powered   bool   `json:"powered"`
	// Mute: the card lost power during a write and answers nothing until
	// re-inserted or power-cycled.
	Mute bool `json:"mute"`
	// Tear is the armed power cut, if any.
	Tear *TearInfo `json:"tear,omitempty"`
	// TouchMode is auto, manual or never; TouchWaiting names the key (hex:
	// a PIV slot, or the OpenPGP key reference B6, B8 or A4) whose touch the
	// card is waiting for, if it is.
	TouchMode    TouchMode `json:"touch_mode"`
	TouchWaiting string    `json:"touch_waiting,omitempty"`
}

// TearInfo is an armed power cut.
type TearInfo struct {
	After      int  `json:"after"`       // the k it was armed with
	WritesLeft int  `json:"writes_left"` // successful writes before the cut
	Fired      bool `json:"fired"`
}

// Info returns the card's place and condition. It never waits for the card.
func (r *Reader) Info() CardInfo {
	mode, waiting := r.touch.status()
	r.mu.Lock()
	defer r.mu.Unlock()
	in := CardInfo{
		ID: r.id, Profile: r.profName, Serial: r.serial, Dir: r.dir, VPCD: r.vpcdAddr, IFD: r.ifdPath, Reader: IFDReaderName(r.readerName, r.id), Relay: r.relayName,
		Inserted: r.inserted, Connected: r.conn != nil, Powered: r.powered, Mute: r.mute,
		TouchMode: mode,
	}
	if waiting >= 0 {
		in.TouchWaiting = fmt.Sprintf("%02X", waiting)
	}
	if r.tearAfter >= 0 {
		left := r.tearAfter - (r.medium.Saves() - r.tearBase)
		in.Tear = &TearInfo{After: r.tearAfter, WritesLeft: max(left, 0), Fired: r.medium.Torn()}
	}
	return in
}

// CardState is what a card holds, as committed to its persistent memory,
// and its PIN's security status: never a secret.
type CardState struct {
	CardInfo
	// CardSerial is the serial the card reports (GET SERIAL).
	CardSerial uint32     `json:"card_serial"`
	PIN        Credential `json:"pin"`
	PUK        Credential `json:"puk"`
	// PINVerified is the PIV PIN's security status: true or false, or null
	// when it cannot be known without disturbing the host's session (see
	// PINVerifiedNote).
	PINVerified     *bool         `json:"pin_verified"`
	PINVerifiedNote string        `json:"pin_verified_note,omitempty"`
	MgmtKey         MgmtKeyState  `json:"mgmt_key"`
	Keys            []KeyState    `json:"keys"`
	Objects         []ObjectState `json:"objects"`
	MemoryUsed      int           `json:"memory_used"`
	MemoryCapacity  int           `json:"memory_capacity,omitempty"`
	Generation      uint64        `json:"generation"` // committed writes over the card's life
	// IssuedUnrevealed: the card still holds random issued credentials
	// that RevealCredentials has not yet shown.
	IssuedUnrevealed bool `json:"issued_unrevealed,omitempty"`
	// TOTP is the TOTP authorisation of a cloud-signature card; absent on
	// other cards.
	TOTP *TOTPState `json:"totp,omitempty"`
	// SignaturesLeft is the signature quota left, on a card with one.
	SignaturesLeft *int `json:"signatures_left,omitempty"`
	// ISO is the ISO 7816 file-system application's state, on a card that
	// carries it (the iso-token profile); the PIV fields above then stay
	// empty unless the card carries PIV too.
	ISO *isoapp.State `json:"iso,omitempty"`
}

// TOTPState is a cloud-signature card's TOTP authorisation, never its seed.
type TOTPState struct {
	Enrolled bool `json:"enrolled"`
	Tries    int  `json:"tries"`
	Blocked  bool `json:"blocked"`
}

// Credential is a PIN's or PUK's counter.
type Credential struct {
	Tries      int  `json:"tries"`
	Limit      int  `json:"limit"`
	Blocked    bool `json:"blocked"`
	Default    bool `json:"default"`
	MustChange bool `json:"must_change,omitempty"`
}

// MgmtKeyState describes the management key, not its value.
type MgmtKeyState struct {
	Algorithm string `json:"algorithm"`
	Touch     string `json:"touch_policy"`
	Default   bool   `json:"default"`
}

// KeyState describes a key slot's key, not its value.
type KeyState struct {
	Slot      string `json:"slot"`
	Algorithm string `json:"algorithm"`
	PINPolicy string `json:"pin_policy"`
	Touch     string `json:"touch_policy"`
	Origin    string `json:"origin"`
}

// ObjectState is a data object present on the card.
type ObjectState struct {
	Tag  string `json:"tag"`
	Name string `json:"name,omitempty"`
	Size int    `json:"size"`
}

// Store records of the PIV application (firmware/piv).
const (
	recPIN       = "piv/pin"
	recPUK       = "piv/puk"
	recMgmt      = "piv/mgmt"
	recSerial    = "piv/serial"
	recKeyPrefix = "piv/key/"
	recObjPrefix = "piv/obj/"
)

// State reads what the card has committed, waiting for the card (which may
// be busy, for example waiting for a touch) at most until ctx ends.
//
// PINVerified comes from the card itself: State sends it the status form of
// VERIFY (no data, SP 800-73-4 Part 2 §3.2.1), which reads the security
// status without spending a try, and which is neither traced nor seen by
// the host. It does so only when that cannot disturb the host's session:
// not while a GET RESPONSE sequence, a command chain or a management-key
// challenge is in progress. Otherwise PINVerified is null. A card that is
// not powered has no security status: false.
func (r *Reader) State(ctx context.Context) (CardState, error) {
	if err := r.notRelayed("card state"); err != nil {
		return CardState{}, err
	}
	if err := r.acquire(ctx); err != nil {
		return CardState{}, err
	}
	defer r.release()
	st := CardState{CardInfo: r.Info(), Keys: []KeyState{}, Objects: []ObjectState{}}
	store, err := nvm.Open(r.medium, nvm.Options{Capacity: r.prof.Capacity})
	if err != nil {
		return CardState{}, fmt.Errorf("card %d: reading its memory: %w", r.id, err)
	}
	st.MemoryUsed, st.MemoryCapacity, st.Generation = store.Used(), store.Capacity(), store.Generation()
	if r.prof.HasApp(profile.AppISO) {
		is, err := isoapp.ReadState(store)
		if err != nil {
			return CardState{}, fmt.Errorf("card %d: %w", r.id, err)
		}
		st.ISO = &is
	}
	if !r.prof.HasApp(profile.AppPIV) {
		st.PINVerifiedNote = "the card has no PIV application"
		return st, nil
	}
	if b, ok := store.Get(recSerial); ok && len(b) == 4 {
		st.CardSerial = binary.BigEndian.Uint32(b)
	}
	for _, c := range []struct {
		key string
		out *Credential
	}{{recPIN, &st.PIN}, {recPUK, &st.PUK}} {
		s, err := pin.New(store, c.key).Status()
		if err != nil {
			return CardState{}, fmt.Errorf("card %d: reading %s: %w", r.id, c.key, err)
		}
		*c.out = Credential{Tries: s.Tries, Limit: s.Limit, Blocked: s.Blocked(), Default: s.Default, MustChange: s.MustChange}
	}
	st.IssuedUnrevealed = piv.HasIssued(store)
	cs, err := piv.ReadCloudState(store)
	if err != nil {
		return CardState{}, fmt.Errorf("card %d: %w", r.id, err)
	}
	if r.prof.PIV.TOTP {
		st.TOTP = &TOTPState{Enrolled: cs.Enrolled, Tries: cs.Tries, Blocked: cs.Enrolled && cs.Tries == 0}
	}
	if cs.HasQuota {
		st.SignaturesLeft = &cs.Quota
	}
	if b, ok := store.Get(recMgmt); ok && len(b) >= 3 {
		st.MgmtKey = MgmtKeyState{Algorithm: algorithmName(b[0]), Touch: touchPolicyName(b[1]), Default: b[2] == 1}
	}
	for _, k := range store.Keys(recKeyPrefix) {
		b, _ := store.Get(k)
		if len(b) < 4 {
			continue
		}
		st.Keys = append(st.Keys, KeyState{
			Slot:      strings.ToUpper(strings.TrimPrefix(k, recKeyPrefix)),
			Algorithm: algorithmName(b[0]), PINPolicy: pinPolicyName(b[1]), Touch: touchPolicyName(b[2]), Origin: originName(b[3]),
		})
	}
	for _, k := range store.Keys(recObjPrefix) {
		b, _ := store.Get(k)
		tag := strings.ToUpper(strings.TrimPrefix(k, recObjPrefix))
		st.Objects = append(st.Objects, ObjectState{Tag: tag, Name: objectName(tag), Size: len(b)})
	}
	slices.SortFunc(st.Keys, func(a, b KeyState) int { return strings.Compare(a.Slot, b.Slot) })
	slices.SortFunc(st.Objects, func(a, b ObjectState) int { return strings.Compare(a.Tag, b.Tag) })
	st.PINVerified, st.PINVerifiedNote = r.pinVerified()
	return st, nil
}

// pinVerified asks the card for the PIN's security status, with lock held,
// when that is safe (see State).
func (r *Reader) pinVerified() (*bool, string) {
	no, yes := false, true
	if !r.card.Powered() {
		return &no, ""
	}
	cla, ins := r.last[0], r.last[1]
	switch {
	case r.lastSW.SW1() == 0x61:
		return nil, "unknown: the host is fetching a long response"
	case cla&0x80 == 0 && cla&apdu.CLAChaining != 0:
		return nil, "unknown: the host is sending a command chain"
	case ins == apdu.InsGeneralAuthenticate:
		return nil, "unknown: the host is authenticating"
	}
	// Straight to the card, past the wire quirks: this is the simulator
	// looking, not a host.
	resp := r.guard(func() []byte { return r.card.Process([]byte{0x00, apdu.InsVerify, 0x00, 0x80}) })
	if len(resp) < 2 {
		return nil, "unknown: no answer"
	}
	sw := apdu.SWFromBytes(resp[len(resp)-2], resp[len(resp)-1])
	_, wrong := sw.Retries()
	switch {
	case sw == apdu.SWSuccess:
		return &yes, ""
	case wrong, sw == apdu.SWAuthMethodBlocked:
		return &no, ""
	case sw == apdu.SWINSNotSupported:
		// No application selected since power-on: nothing verified yet.
		return &no, ""
	}
	return nil, fmt.Sprintf("unknown: the card answered %04X", uint16(sw))
}

// algorithmName names a PIV algorithm identifier (package pivalg), or
// "alg XX" for one it does not know.
func algorithmName(id byte) string {
	if n := pivalg.Name(id); n != "" {
		return n
	}
	return fmt.Sprintf("alg %02X", id)
}

// pinPolicyName names a YubiKey PIN policy byte.
func pinPolicyName(b byte) string {
	return policyName(b, "default", "never", "once", "always")
}

// touchPolicyName names a YubiKey touch policy byte.
func touchPolicyName(b byte) string {
	return policyName(b, "default", "never", "always", "cached")
}

func policyName(b byte, names ...string) string {
	if int(b) < len(names) {
		return names[b]
	}
	return fmt.Sprintf("%02X", b)
}

func originName(b byte) string {
	switch b {
	case 0x01:
		return "generated"
	case 0x02:
		return "imported"
	}
	return fmt.Sprintf("%02X", b)
}

// objectName names a PIV data object tag (SP 800-73-4 Part 1 Table 3; 5FFF00
// and 5FFF01 are the YubiKey's admin data and attestation certificate).
func objectName(tag string) string {
	switch tag {
	case "7E":
		return "discovery object"
	case "7F61":
		return "BIT group template"
	case "5FC101":
		return "X.509 certificate for card authentication (9E)"
	case "5FC102":
		return "CHUID"
	case "5FC103":
		return "cardholder fingerprints"
	case "5FC105":
		return "X.509 certificate for PIV authentication (9A)"
	case "5FC106":
		return "security object"
	case "5FC107":
		return "card capability container"
	case "5FC108":
		return "cardholder facial image"
	case "5FC109":
		return "printed information"
	case "5FC10A":
		return "X.509 certificate for digital signature (9C)"
	case "5FC10B":
		return "X.509 certificate for key management (9D)"
	case "5FC10C":
		return "key history object"
	case "5FC121":
		return "cardholder iris images"
	case "5FC122":
		return "SM certificate signer"
	case "5FC123":
		return "pairing code reference data"
	case "5FFF00":
		return "YubiKey admin data"
	case "5FFF01":
		return "attestation certificate (F9)"
	case "5FFF10":
		return "Microsoft certificate map (MSCMAP)"
	case "5FFF11", "5FFF12", "5FFF13", "5FFF14", "5FFF15":
		return "Microsoft root certificates (MSROOTS" + tag[5:] + ")"
	case "5FFF21":
		return "holder identity number (virtual-token)"
	case "5FFF22":
		return "signatures left (cloud-signature)"
	}
	if n, err := strconv.ParseUint(tag, 16, 32); err == nil && n >= 0x5FC10D && n <= 0x5FC120 {
		return fmt.Sprintf("X.509 certificate for retired key %d (%02X)", n-0x5FC10D+1, n-0x5FC10D+0x82)
	}
	return ""
}

// ErrRevealed is returned by RevealCredentials when the card holds no
// unrevealed issued credentials: they were revealed already, or its profile
// issues none. The control API answers 409.
var ErrRevealed = piv.ErrNotIssued

// RevealCredentials returns the random PIN and PUK the card was issued with
// (profiles with random_pin or random_puk: transport-pin-token,
// pin-puk-envelope) and erases them from the card: a second call returns
// ErrRevealed. The card must be powered. The values are never traced or
// logged.
func (r *Reader) RevealCredentials(ctx context.Context) (piv.Issued, error) {
	if err := r.notRelayed("revealing credentials"); err != nil {
		return piv.Issued{}, err
	}
	if err := r.acquire(ctx); err != nil {
		return piv.Issued{}, err
	}
	defer r.release()
	r.mu.Lock()
	mute := r.mute
	r.mu.Unlock()
	if mute {
		return piv.Issued{}, fmt.Errorf("card %d: %w", r.id, ErrMute)
	}
	// A powered card's store is the card's own; an unpowered card's is
	// read afresh from its medium at the next power-on.
	s := r.card.Store()
	if s == nil {
		var err error
		if s, err = nvm.Open(r.medium, nvm.Options{Capacity: r.prof.Capacity}); err != nil {
			return piv.Issued{}, fmt.Errorf("card %d: reading its memory: %w", r.id, err)
		}
	}
	in, err := piv.RevealIssued(s)
	if err != nil {
		return piv.Issued{}, fmt.Errorf("card %d: %w", r.id, err)
	}
	r.tracer.event(r.id, "credentials-revealed", "")
	return in, nil
}

// TOTPEnrolment is the answer to an enrolment: the otpauth:// URI that
// carries the new seed, shown once.
type TOTPEnrolment struct {
	URI string `json:"uri"`
}

// EnrolTOTP (re-)enrols the TOTP authorisation of a cloud-signature card:
// a new seed in the card's persistent memory, a full counter (unblocking
// it), and the otpauth:// URI for an authenticator. Other profiles answer
// an error (409).
func (r *Reader) EnrolTOTP(ctx context.Context) (TOTPEnrolment, error) {
	if err := r.notRelayed("TOTP enrolment"); err != nil {
		return TOTPEnrolment{}, err
	}
	if !r.prof.PIV.TOTP {
		return TOTPEnrolment{}, &httpError{status: 409, msg: fmt.Sprintf("card %d: profile %s has no TOTP authorisation", r.id, r.prof.Name)}
	}
	if err := r.acquire(ctx); err != nil {
		return TOTPEnrolment{}, err
	}
	defer r.release()
	r.mu.Lock()
	mute := r.mute
	r.mu.Unlock()
	if mute {
		return TOTPEnrolment{}, fmt.Errorf("card %d: %w", r.id, ErrMute)
	}
	s := r.card.Store()
	if s == nil {
		var err error
		if s, err = nvm.Open(r.medium, nvm.Options{Capacity: r.prof.Capacity}); err != nil {
			return TOTPEnrolment{}, fmt.Errorf("card %d: reading its memory: %w", r.id, err)
		}
	}
	uri, err := piv.EnrolTOTP(s, cryptoRand{}, strconv.FormatUint(uint64(r.serial), 10))
	if err != nil {
		return TOTPEnrolment{}, fmt.Errorf("card %d: enrolling TOTP: %w", r.id, err)
	}
	r.tracer.event(r.id, "totp-enrolled", "")
	return TOTPEnrolment{URI: uri}, nil
}
