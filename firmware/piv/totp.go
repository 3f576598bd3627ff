package piv

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base32"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/url"

	"github.com/tesseracard/tessera/apdu"
	"github.com/tesseracard/tessera/firmware"
	"github.com/tesseracard/tessera/firmware/nvm"
)

// The cloud-signature persona (profile piv.totp, piv.signature_quota):
// every private-key operation needs, besides the PIN its slot's policy
// asks for, a fresh TOTP code (RFC 6238: HMAC-SHA-1, 30-second steps, 6
// digits) presented with VERIFY to the vendor key reference 90 right
// before it.
const (
	// refTOTP is the vendor key reference of the TOTP code in VERIFY.
	refTOTP = 0x90
	// totpTries is how many wrong codes in a row block the authorisation.
	totpTries  = 5
	totpStep   = 30 // seconds
	totpDigits = 6
	seedLen    = 20 // RFC 4226 §4: 160 bits
	keyTOTP    = "piv/totp"
	// objQuota is the vendor data object holding the signatures left, a
	// 4-byte big-endian count; GET DATA reads it without the PIN, PUT
	// DATA (management key) sets it. Like objHolderID it sits next to the
	// token state object, clear of YubiKey's MSROOTS1..5 (5FFF11..5FFF15).
	objQuota = 0x5FFF22
)

// errNoTOTP: no TOTP seed has been enrolled.
var errNoTOTP = errors.New("piv: TOTP not enrolled")

// TOTP record: version u8 | tries u8 | last step used u64 | seed [20].
type totpRecord struct {
	tries byte
	last  uint64
	seed  []byte
}

func loadTOTP(s *nvm.Store) (totpRecord, error) {
	raw, ok := s.Get(keyTOTP)
	if !ok {
		return totpRecord{}, errNoTOTP
	}
	if len(raw) != 2+8+seedLen || raw[0] != 1 || raw[1] > totpTries {
		return totpRecord{}, fmt.Errorf("%w: TOTP record is malformed", nvm.ErrCorrupt)
	}
	return totpRecord{tries: raw[1], last: binary.BigEndian.Uint64(raw[2:]), seed: raw[10:]}, nil
}

func (r totpRecord) bytes() []byte {
	b := []byte{1, r.tries}
	b = binary.BigEndian.AppendUint64(b, r.last)
	return append(b, r.seed...)
}

// EnrolTOTP draws a new TOTP seed from rnd, stores it in the card's
// persistent memory (as keys are) with a full counter, and returns the
// otpauth:// URI an authenticator app takes (Key Uri Format: SHA1, 6
// digits, 30 s). Enrolling again replaces the seed and unblocks. It is the
// simulator's way in (the control API), not a card command. s is the
// card's store.
func EnrolTOTP(s *nvm.Store, rnd io.Reader, account string) (string, error) {
	seed := make([]byte, seedLen)
	if _, err := io.ReadFull(rnd, seed); err != nil {
		return "", fmt.Errorf("drawing a TOTP seed: %w", err)
	}
	if err := s.Put(keyTOTP, totpRecord{tries: totpTries, seed: seed}.bytes()); err != nil {
		return "", err
	}
	secret := base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(seed)
	return fmt.Sprintf("otpauth://totp/Tessera:%s?secret=%s&issuer=Tessera&algorithm=SHA1&digits=%d&period=%d",
		url.PathEscape(account), secret, totpDigits, totpStep), nil
}

// CloudState is the cloud-signature state, never a secret.
type CloudState struct {
	Enrolled bool
	Tries    int // wrong TOTP codes left before the authorisation blocks
	// Quota is the signatures left; HasQuota is false on a card without
	// a quota.
	Quota    int
	HasQuota bool
}

// ReadCloudState reads the TOTP and quota records of s.
func ReadCloudState(s *nvm.Store) (CloudState, error) {
	var st CloudState
	r, err := loadTOTP(s)
	switch {
	case err == nil:
		st.Enrolled, st.Tries = true, int(r.tries)
	case !errors.Is(err, errNoTOTP):
		return st, err
	}
	if b, ok := s.Get(objPrefix + objectKey(objQuota)); ok && len(b) == 4 {
		st.Quota, st.HasQuota = int(binary.BigEndian.Uint32(b)), true
	}
	return st, nil
}

// hotp is RFC 4226's HOTP value of counter: dynamic truncation of
// HMAC-SHA-1, 6 decimal digits.
func hotp(seed []byte, counter uint64) []byte {
	m := hmac.New(sha1.New, seed)
	m.Write(binary.BigEndian.AppendUint64(nil, counter))
	sum := m.Sum(nil)
	off := sum[len(sum)-1] & 0x0F
	v := binary.BigEndian.Uint32(sum[off:]) & 0x7FFFFFFF
	return fmt.Appendf(nil, "%06d", v%1000000)
}

// totpVerify is VERIFY to key reference 90 on a cloud-signature card. With
// no data it reports the state without spending a try: 9000 while a code
// is verified and unused, 63Cx the tries left, 6983 blocked, 6984 no seed
// enrolled. With data (6 ASCII digits, else 6A80 and no try spent) it
// spends a try first (pre-decrement), then accepts the code of the
// current 30-second step of the card's clock or of the one before (RFC 6238
// §5.2), unless that step's code was used already: a code is single-use,
// and a reused one counts as wrong. The fifth wrong code in a row answers
// 6983 and blocks until re-enrolment.
func (a *Applet) totpVerify(env *firmware.Context, cmd apdu.Command) error {
	if cmd.P1 != 0x00 {
		return apdu.SWIncorrectP1P2
	}
	r, err := loadTOTP(env.Store)
	if errors.Is(err, errNoTOTP) {
		return apdu.SWReferenceDataUnusable
	} else if err != nil {
		return err
	}
	if len(cmd.Data) == 0 {
		switch {
		case env.Security.Has(refTOTP):
			return nil
		case r.tries == 0:
			return apdu.SWAuthMethodBlocked
		}
		return apdu.RetriesSW(int(r.tries))
	}
	if len(cmd.Data) != totpDigits {
		return apdu.SWIncorrectData
	}
	for _, c := range cmd.Data {
		if c < '0' || c > '9' {
			return apdu.SWIncorrectData
		}
	}
	env.Security.Revoke(refTOTP)
	if r.tries == 0 {
		return apdu.SWAuthMethodBlocked
	}
	r.tries--
	if err := env.Store.Put(keyTOTP, r.bytes()); err != nil {
		return err
	}
	now := env.Now().Unix()
	step := uint64(max(now, 0)) / totpStep
	for _, s := range []uint64{step, step - 1} {
		if s <= r.last || s > step {
			continue
		}
		if subtle.ConstantTimeCompare(hotp(r.seed, s), cmd.Data) == 1 {
			r.tries, r.last = totpTries, s
			if err := env.Store.Put(keyTOTP, r.bytes()); err != nil {
				return err
			}
			env.Security.Grant(refTOTP)
			return nil
		}
	}
	if r.tries == 0 {
		return apdu.SWAuthMethodBlocked
	}
	return apdu.RetriesSW(int(r.tries))
}

// cloudCheck refuses a private-key operation on a cloud-signature card
// when the quota is spent (6985) or no fresh TOTP code was verified
// (6982). It spends nothing.
func (a *Applet) cloudCheck(env *firmware.Context) error {
	v := a.p.PIV
	if v.SignatureQuota > 0 {
		st, err := ReadCloudState(env.Store)
		if err != nil {
			return err
		}
		if st.Quota == 0 {
			return apdu.SWConditionsNotSatisfied
		}
	}
	if v.TOTP && !env.Security.Has(refTOTP) {
		return apdu.SWSecurityStatusNotSatisfied
	}
	return nil
}

// consumeTOTP consumes the verified TOTP code once every other check of a
// private-key operation has passed: a code authorises one attempt.
func (a *Applet) consumeTOTP(env *firmware.Context) {
	if a.p.PIV.TOTP {
		env.Security.Revoke(refTOTP)
	}
}

// spendQuota counts one signature off the quota of a card that has one,
// after the private-key operation has produced its result and before the
// card answers it. It is one atomic write: a power cut before it leaves
// the quota as it was and the result unsent, after it the quota spent; a
// failed write answers the error and no result. So a result never leaves
// the card without its signature spent, and an operation that fails (bad
// input) spends none.
func (a *Applet) spendQuota(env *firmware.Context) error {
	if a.p.PIV.SignatureQuota <= 0 {
		return nil
	}
	st, err := ReadCloudState(env.Store)
	if err != nil {
		return err
	}
	if st.Quota == 0 {
		return apdu.SWConditionsNotSatisfied
	}
	return env.Store.Put(objPrefix+objectKey(objQuota), binary.BigEndian.AppendUint32(nil, uint32(st.Quota-1)))
}
