package openpgp

import (
	"encoding/binary"
	"encoding/hex"
	"slices"
	"strings"

	"github.com/tesseracard/tessera/firmware"
	"github.com/tesseracard/tessera/firmware/nvm"
	"github.com/tesseracard/tessera/firmware/pin"
)

// Store keys: the on-card state format (see the package documentation).
const (
	prefix        = "openpgp/"
	keyPW1        = prefix + "pw1"      // package pin record
	keyRC         = prefix + "rc"       // package pin record; absent: no resetting code
	keyRCLimit    = prefix + "rclimit"  // the resetting code's retry limit: 1 byte; absent: pwTries
	keyPW3        = prefix + "pw3"      // package pin record
	keyPWLen      = prefix + "pwlen"    // lengths of PW1, RC, PW3: 3 bytes
	keyPWStatus   = prefix + "c4"       // PW status byte 1: 1 byte
	keySigCount   = prefix + "sigcount" // digital signature counter: 3 bytes
	keyTerminated = prefix + "terminated"
	keyDOPrefix   = prefix + "do/"   // + 4 hex digits of the tag: a data object's value
	keyAlgPrefix  = prefix + "alg/"  // + "b6", "b8", "a4": algorithm attributes
	keyKeyPrefix  = prefix + "key/"  // + "b6", "b8", "a4": origin byte ‖ private key
	keyCertPrefix = prefix + "cert/" // + "1", "2": certificates 7F21 of occurrences 1 and 2
)

// DefaultPW1 and DefaultPW3 are the factory user and admin passwords, as
// real cards ship (OpenPGP Card 3.4 §4.3); there is no factory resetting
// code.
const (
	DefaultPW1 = "123456"
	DefaultPW3 = "12345678"
)

// Factory values.
const (
	defaultPW1 = DefaultPW1
	defaultPW3 = DefaultPW3
	pwTries    = 3
	minPW1     = 6
	minPW3     = 8
	minRC      = 8
	maxPW      = 127 // C4 bytes 2-4
	// maxTries is the largest retry limit SET PIN RETRIES takes: what
	// ykman openpgp access set-retries sends (1 to 99). C4 shows the tries
	// in full (a YubiKey profile answers a wrong password 6982, without a
	// count).
	maxTries = 99
)

// Key origins, the key information DO DE.
const (
	originNone      = 0x00
	originGenerated = 0x01
	originImported  = 0x02
)

// doKey is the store key of data object tag.
func doKey(tag uint16) string {
	return keyDOPrefix + hex.EncodeToString([]byte{byte(tag >> 8), byte(tag)})
}

// refName is the store key suffix of key reference ref: two hex digits.
// (Without fmt: PSO:CDS looks its key up with it on every signature.)
func refName(ref byte) string {
	switch ref {
	case keySig:
		return "b6"
	case keyDec:
		return "b8"
	case keyAut:
		return "a4"
	}
	return hex.EncodeToString([]byte{ref})
}

func pw1(env *firmware.Context, q Quirks) *pin.Object {
	return pin.New(env.Store, keyPW1).WithQuirks(counterQuirks(q))
}
func rc(env *firmware.Context, q Quirks) *pin.Object {
	return pin.New(env.Store, keyRC).WithQuirks(counterQuirks(q))
}
func pw3(env *firmware.Context, q Quirks) *pin.Object {
	return pin.New(env.Store, keyPW3).WithQuirks(counterQuirks(q))
}

// counterQuirks are the try-counter quirks of the passwords.
func counterQuirks(q Quirks) pin.Quirks {
	return pin.Quirks{NoDecrement: q.NoDecrement, RestoreBeforeCompare: q.RestoreBeforeCompare}
}

func terminated(env *firmware.Context) bool {
	_, ok := env.Store.Get(keyTerminated)
	return ok
}

// pwLengths returns the lengths of PW1, RC and PW3.
func pwLengths(s *nvm.Store) [3]int {
	b, ok := s.Get(keyPWLen)
	if !ok || len(b) != 3 {
		return [3]int{len(defaultPW1), 0, len(defaultPW3)}
	}
	return [3]int{int(b[0]), int(b[1]), int(b[2])}
}

// rcLimit returns the retry limit a resetting code set by PUT DATA D3
// gets: the last one SET PIN RETRIES gave, whether or not a resetting code
// existed then; pwTries if none (or a malformed record) was given.
func rcLimit(s *nvm.Store) int {
	b, ok := s.Get(keyRCLimit)
	if !ok || len(b) != 1 || b[0] < 1 || b[0] > maxTries {
		return pwTries
	}
	return int(b[0])
}

// putLength writes the length of password i (0 PW1, 1 RC, 2 PW3) through w.
func putLength(s *nvm.Store, w pin.Writer, i, n int) error {
	l := pwLengths(s)
	l[i] = n
	return w.Put(keyPWLen, []byte{byte(l[0]), byte(l[1]), byte(l[2])})
}

// factory writes the factory state through tx: PW1 and PW3 at their
// defaults with full counters, no resetting code, PW1 valid for several
// signatures. Everything else is absent, which reads as the factory value.
// The factory records draw nothing from the random source (their salts are
// zeros: the default values are public anyway), so that the power-on that
// installs them writes the same records however often it is cut and
// repeated, beside other applications that draw; every value set later is
// salted at random.
func (a *Applet) factory(env *firmware.Context, tx *nvm.Tx) error {
	if err := pw1(env, a.q).Init(tx, []byte(defaultPW1), pwTries, true, false, zeros{}); err != nil {
		return err
	}
	if err := pw3(env, a.q).Init(tx, []byte(defaultPW3), pwTries, true, false, zeros{}); err != nil {
		return err
	}
	if err := tx.Put(keyPWLen, []byte{byte(len(defaultPW1)), 0, byte(len(defaultPW3))}); err != nil {
		return err
	}
	return tx.Put(keyPWStatus, []byte{0x01})
}

// wipe deletes every record of the application through tx but the
// attestation key's (attestationRecords), which a reset keeps, as a
// YubiKey keeps its factory attestation key.
func wipe(s *nvm.Store, tx *nvm.Tx) error {
	for _, k := range s.Keys(prefix) {
		if !strings.HasPrefix(k, prefix) || slices.Contains(attestationRecords(), k) {
			continue
		}
		if err := tx.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// sigCount returns the digital signature counter.
func sigCount(s *nvm.Store) uint32 {
	b, ok := s.Get(keySigCount)
	if !ok || len(b) != 3 {
		return 0
	}
	return uint32(b[0])<<16 | uint32(b[1])<<8 | uint32(b[2])
}

func counterBytes(n uint32) []byte {
	b := binary.BigEndian.AppendUint32(nil, n)
	return b[1:]
}

// zeros reads as an endless run of zero bytes.
type zeros struct{}

func (zeros) Read(b []byte) (int, error) { clear(b); return len(b), nil }
