package oath

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"hash"
	"io"
	"strings"

	"github.com/tesseracard/tessera/apdu"
	"github.com/tesseracard/tessera/firmware"
	"github.com/tesseracard/tessera/firmware/nvm"
	"github.com/tesseracard/tessera/firmware/profile"
)

// AID is the YKOATH application identifier.
func AID() []byte { return []byte{0xA0, 0x00, 0x00, 0x05, 0x27, 0x21, 0x01} }

// Tags of the YKOATH data fields.
const (
	tagName      = 0x71
	tagNameList  = 0x72
	tagKey       = 0x73
	tagChallenge = 0x74
	tagResponse  = 0x75
	tagTruncated = 0x76
	tagHOTP      = 0x77 // CALCULATE ALL: a HOTP credential, not calculated
	tagProperty  = 0x78 // followed by one byte, no length field
	tagVersion   = 0x79
	tagIMF       = 0x7A
	tagAlgorithm = 0x7B
	tagTouch     = 0x7C // CALCULATE ALL: a credential that needs a touch
)

// Credential types (high nibble) and hash algorithms (low nibble).
const (
	typeHOTP = 0x10
	typeTOTP = 0x20
	algSHA1  = 0x01
	algSHA2  = 0x02 // SHA-256
	algSHA5  = 0x03 // SHA-512
)

// Properties of a credential (tag 78).
const (
	propIncreasing = 0x01 // TOTP: only increasing challenges (kept, not enforced)
	propTouch      = 0x02 // CALCULATE needs a touch
)

// Limits. A YubiKey 5 holds 32 credentials with names of up to 64 bytes;
// clients hash a secret longer than the hash's block size.
const (
	MaxCredentials = 32
	maxName        = 64
	challengeLen   = 8
)

// Store keys.
const (
	keySalt       = "oath/salt"
	keyCode       = "oath/code"
	keyCredPrefix = "oath/cred/"
	recordFormat  = 1
)

// refCode is the security status bit of a validated access code.
const refCode = 0x01

// TouchSource is the card's touch sensor (firmware.TouchSource); the OATH
// application asks it with reference 00.
type TouchSource = firmware.TouchSource

// Options are the per-card settings beyond the profile.
type Options struct {
	// Touch is the touch sensor; nil gives every touch at once.
	Touch TouchSource
}

// Applet is the OATH application.
type Applet struct {
	version   profile.Version
	touch     TouchSource
	challenge []byte // SELECT's challenge while an access code is set; used once
}

// New returns the OATH application of a card of profile p: SELECT reports
// p.Version.
func New(p profile.Profile, opts Options) *Applet {
	return &Applet{version: p.Version, touch: opts.Touch}
}

// AID implements firmware.Applet.
func (a *Applet) AID() []byte { return AID() }

// ContinueIns implements firmware.Continuer: YKOATH clients fetch a long
// answer with SEND REMAINING.
func (a *Applet) ContinueIns() byte { return apdu.InsOATHSendRemaining }

// Boot implements firmware.Applet: a card without the application's salt
// gets one.
func (a *Applet) Boot(env *firmware.Context) error {
	a.challenge = nil
	if _, ok := env.Store.Get(keySalt); ok {
		return nil
	}
	salt, err := random(env.Rand, challengeLen)
	if err != nil {
		return err
	}
	return env.Store.Put(keySalt, salt)
}

// Deselect implements firmware.Applet.
func (a *Applet) Deselect(*firmware.Context) { a.challenge = nil }

// Select implements firmware.Applet: the version (79), the salt (71), and
// while an access code is set a fresh challenge (74) and the code's
// algorithm (7B). A validated access code counts until the next SELECT.
func (a *Applet) Select(env *firmware.Context, _ apdu.Command) ([]byte, error) {
	a.challenge = nil
	env.Security.Revoke(refCode) // every SELECT asks for the code anew
	salt, _ := env.Store.Get(keySalt)
	out := apdu.AppendTLV(nil, tagVersion, []byte{a.version.Major, a.version.Minor, a.version.Patch})
	out = apdu.AppendTLV(out, tagName, salt)
	if code, ok := env.Store.Get(keyCode); ok && len(code) > 1 {
		ch, err := random(env.Rand, challengeLen)
		if err != nil {
			return nil, err
		}
		a.challenge = ch
		out = apdu.AppendTLV(out, tagChallenge, ch)
		out = apdu.AppendTLV(out, tagAlgorithm, code[:1])
	}
	return out, nil
}

// Process implements firmware.Applet.
func (a *Applet) Process(env *firmware.Context, cmd apdu.Command) ([]byte, error) {
	if cmd.CLA != 0x00 {
		return nil, apdu.SWCLANotSupported
	}
	switch cmd.INS {
	case apdu.InsOATHReset:
		return nil, a.reset(env, cmd)
	case apdu.InsOATHValidate:
		return a.validate(env, cmd)
	case apdu.InsOATHPut, apdu.InsOATHDelete, apdu.InsOATHSetCode, apdu.InsOATHRename,
		apdu.InsOATHList, apdu.InsOATHCalculate, apdu.InsOATHCalculateAll:
	default:
		return nil, apdu.SWINSNotSupported
	}
	if _, locked := env.Store.Get(keyCode); locked && !env.Security.Has(refCode) {
		return nil, apdu.SWSecurityStatusNotSatisfied
	}
	switch cmd.INS {
	case apdu.InsOATHPut:
		return nil, put(env, cmd)
	case apdu.InsOATHDelete:
		return nil, del(env, cmd)
	case apdu.InsOATHSetCode:
		return nil, setCode(env, cmd)
	case apdu.InsOATHRename:
		return nil, rename(env, cmd)
	case apdu.InsOATHList:
		return list(env)
	case apdu.InsOATHCalculate:
		return a.calculate(env, cmd)
	default: // CALCULATE ALL
		if cmd.P1 != 0x00 {
			return nil, apdu.SWWrongP1P2
		}
		return calculateAll(env, cmd)
	}
}

// field is one data object of a YKOATH command.
type field struct {
	tag   byte
	value []byte
}

// parseFields splits a command's data into its data objects by hand:
// YKOATH's property (78) is a tag followed by one byte with no length
// field, which no BER-TLV parser takes.
func parseFields(data []byte) ([]field, error) {
	var out []field
	for len(data) > 0 {
		if data[0] == tagProperty {
			if len(data) < 2 {
				return nil, apdu.SWIncorrectData
			}
			out = append(out, field{tagProperty, data[1:2]})
			data = data[2:]
			continue
		}
		t, rest, err := apdu.ParseTLV(data)
		if err != nil || t.Tag > 0xFF {
			return nil, apdu.SWIncorrectData
		}
		out = append(out, field{byte(t.Tag), t.Value})
		data = rest
	}
	return out, nil
}

// find returns the value of the first field with tag, and whether there is one.
func find(fs []field, tag byte) ([]byte, bool) {
	for _, f := range fs {
		if f.tag == tag {
			return f.value, true
		}
	}
	return nil, false
}

// credential is a stored credential.
type credential struct {
	kind    byte // typeHOTP or typeTOTP, with the algorithm in the low nibble
	digits  byte
	props   byte
	counter uint32
	secret  []byte
}

func (c credential) marshal() []byte {
	out := []byte{recordFormat, c.kind, c.digits, c.props}
	out = binary.BigEndian.AppendUint32(out, c.counter)
	return append(out, c.secret...)
}

// errCorrupt is a credential record that does not parse.
var errCorrupt = errors.New("oath: corrupt credential record")

func parseCredential(b []byte) (credential, error) {
	if len(b) < 8 || b[0] != recordFormat {
		return credential{}, errCorrupt
	}
	return credential{kind: b[1], digits: b[2], props: b[3], counter: binary.BigEndian.Uint32(b[4:8]), secret: b[8:]}, nil
}

func credKey(name []byte) string { return keyCredPrefix + hex.EncodeToString(name) }

// names are the stored credentials' names, in store order.
func names(s *nvm.Store) [][]byte {
	var out [][]byte
	for _, k := range s.Keys(keyCredPrefix) {
		n, err := hex.DecodeString(strings.TrimPrefix(k, keyCredPrefix))
		if err == nil {
			out = append(out, n)
		}
	}
	return out
}

func lookup(s *nvm.Store, name []byte) (credential, error) {
	b, ok := s.Get(credKey(name))
	if !ok {
		return credential{}, apdu.SWReferenceDataUnusable // 6984: no such object
	}
	return parseCredential(b)
}

// newHash is the hash of an algorithm nibble, nil for none.
func newHash(alg byte) func() hash.Hash {
	switch alg & 0x0F {
	case algSHA1:
		return sha1.New
	case algSHA2:
		return sha256.New
	case algSHA5:
		return sha512.New
	}
	return nil
}

// maxSecret is the longest secret of an algorithm: its hash's block size.
func maxSecret(alg byte) int {
	if alg&0x0F == algSHA5 {
		return 128
	}
	return 64
}

func mac(alg byte, key, msg []byte) []byte {
	m := hmac.New(newHash(alg), key)
	m.Write(msg)
	return m.Sum(nil)
}

func validName(n []byte) bool { return len(n) > 0 && len(n) <= maxName }

// put is PUT: 71 name, 73 type|alg digits secret, optional 78 properties
// and 7A initial moving factor. A credential of the same name is replaced.
func put(env *firmware.Context, cmd apdu.Command) error {
	fs, err := parseFields(cmd.Data)
	if err != nil {
		return err
	}
	name, ok1 := find(fs, tagName)
	key, ok2 := find(fs, tagKey)
	if !ok1 || !ok2 || !validName(name) || len(key) < 3 {
		return apdu.SWIncorrectData
	}
	c := credential{kind: key[0], digits: key[1], secret: bytes.Clone(key[2:])}
	if t := c.kind & 0xF0; (t != typeHOTP && t != typeTOTP) || newHash(c.kind) == nil ||
		c.digits < 6 || c.digits > 8 || len(c.secret) > maxSecret(c.kind) {
		return apdu.SWIncorrectData
	}
	if p, ok := find(fs, tagProperty); ok {
		if p[0]&^(propIncreasing|propTouch) != 0 {
			return apdu.SWIncorrectData
		}
		c.props = p[0]
	}
	if imf, ok := find(fs, tagIMF); ok {
		if len(imf) != 4 {
			return apdu.SWIncorrectData
		}
		c.counter = binary.BigEndian.Uint32(imf)
	}
	if _, exists := env.Store.Get(credKey(name)); !exists && len(names(env.Store)) >= MaxCredentials {
		return apdu.SWNotEnoughMemory
	}
	return env.Store.Put(credKey(name), c.marshal())
}

// del is DELETE: 71 name.
func del(env *firmware.Context, cmd apdu.Command) error {
	fs, err := parseFields(cmd.Data)
	if err != nil {
		return err
	}
	name, ok := find(fs, tagName)
	if !ok || !validName(name) {
		return apdu.SWIncorrectData
	}
	if _, ok := env.Store.Get(credKey(name)); !ok {
		return apdu.SWReferenceDataUnusable
	}
	return env.Store.Delete(credKey(name))
}

// rename is RENAME: 71 the old name, 71 the new one.
func rename(env *firmware.Context, cmd apdu.Command) error {
	fs, err := parseFields(cmd.Data)
	if err != nil {
		return err
	}
	if len(fs) != 2 || fs[0].tag != tagName || fs[1].tag != tagName || !validName(fs[0].value) || !validName(fs[1].value) {
		return apdu.SWIncorrectData
	}
	from, to := credKey(fs[0].value), credKey(fs[1].value)
	rec, ok := env.Store.Get(from)
	if !ok {
		return apdu.SWReferenceDataUnusable
	}
	if _, taken := env.Store.Get(to); taken {
		return apdu.SWFileExists
	}
	tx, err := env.Store.Begin()
	if err != nil {
		return err
	}
	defer tx.Abort()
	if err := tx.Put(to, rec); err != nil {
		return err
	}
	if err := tx.Delete(from); err != nil {
		return err
	}
	return tx.Commit()
}

// setCode is SET CODE: 73 alg key, 74 challenge, 75 the response to it
// (proving the host holds the key it sets); an empty 73 removes the code.
func setCode(env *firmware.Context, cmd apdu.Command) error {
	fs, err := parseFields(cmd.Data)
	if err != nil {
		return err
	}
	key, ok := find(fs, tagKey)
	if !ok {
		return apdu.SWIncorrectData
	}
	if len(key) == 0 {
		if _, set := env.Store.Get(keyCode); !set {
			return nil
		}
		return env.Store.Delete(keyCode)
	}
	ch, ok1 := find(fs, tagChallenge)
	resp, ok2 := find(fs, tagResponse)
	if !ok1 || !ok2 || len(key) < 2 || key[0]&0xF0 != typeTOTP || newHash(key[0]) == nil ||
		len(key)-1 > maxSecret(key[0]) || len(ch) == 0 {
		return apdu.SWIncorrectData
	}
	if !hmac.Equal(mac(key[0], key[1:], ch), resp) {
		return apdu.SWIncorrectData
	}
	if err := env.Store.Put(keyCode, bytes.Clone(key)); err != nil {
		return err
	}
	env.Security.Grant(refCode)
	return nil
}

// validate is VALIDATE: 75 the response to SELECT's challenge, 74 the
// host's challenge, answered 75 with the card's response to it. Every try
// spends SELECT's challenge.
func (a *Applet) validate(env *firmware.Context, cmd apdu.Command) ([]byte, error) {
	ch := a.challenge
	a.challenge = nil
	fs, err := parseFields(cmd.Data)
	if err != nil {
		return nil, err
	}
	resp, ok1 := find(fs, tagResponse)
	host, ok2 := find(fs, tagChallenge)
	if !ok1 || !ok2 || len(host) == 0 {
		return nil, apdu.SWIncorrectData
	}
	code, set := env.Store.Get(keyCode)
	if !set || ch == nil || !hmac.Equal(mac(code[0], code[1:], ch), resp) {
		return nil, apdu.SWReferenceDataUnusable // 6984: wrong response
	}
	env.Security.Grant(refCode)
	return apdu.AppendTLV(nil, tagResponse, mac(code[0], code[1:], host)), nil
}

// reset is RESET (P1 P2 DE AD): every credential and the access code go,
// and the salt is drawn anew.
func (a *Applet) reset(env *firmware.Context, cmd apdu.Command) error {
	if cmd.P1 != 0xDE || cmd.P2 != 0xAD {
		return apdu.SWWrongP1P2
	}
	salt, err := random(env.Rand, challengeLen)
	if err != nil {
		return err
	}
	tx, err := env.Store.Begin()
	if err != nil {
		return err
	}
	defer tx.Abort()
	for _, k := range env.Store.Keys("oath/") {
		if err := tx.Delete(k); err != nil {
			return err
		}
	}
	if err := tx.Put(keySalt, salt); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	env.Security.Revoke(refCode)
	a.challenge = nil
	return nil
}

// list is LIST: 72 type|alg name for every credential.
func list(env *firmware.Context) ([]byte, error) {
	var out []byte
	for _, n := range names(env.Store) {
		c, err := lookup(env.Store, n)
		if err != nil {
			return nil, err
		}
		out = apdu.AppendTLV(out, tagNameList, append([]byte{c.kind}, n...))
	}
	return out, nil
}

// code is the HMAC of msg under c's secret: the digits byte, then with
// truncate the dynamically truncated 31-bit value (RFC 4226 §5.3, before
// the modulo: the host reduces it), else the whole HMAC.
func code(c credential, msg []byte, truncate bool) []byte {
	sum := mac(c.kind, c.secret, msg)
	if !truncate {
		return append([]byte{c.digits}, sum...)
	}
	off := sum[len(sum)-1] & 0x0F
	v := binary.BigEndian.Uint32(sum[off:off+4]) & 0x7FFFFFFF
	return binary.BigEndian.AppendUint32([]byte{c.digits}, v)
}

func responseTag(truncate bool) apdu.Tag {
	if truncate {
		return tagTruncated
	}
	return tagResponse
}

// calculate is CALCULATE: 71 name, 74 challenge; P2 01 answers 76 the
// truncated code, 00 75 the full HMAC. A HOTP credential is calculated
// over its counter, which the same write advances.
func (a *Applet) calculate(env *firmware.Context, cmd apdu.Command) ([]byte, error) {
	if cmd.P1 != 0x00 || cmd.P2 > 0x01 {
		return nil, apdu.SWWrongP1P2
	}
	fs, err := parseFields(cmd.Data)
	if err != nil {
		return nil, err
	}
	name, ok1 := find(fs, tagName)
	ch, ok2 := find(fs, tagChallenge)
	if !ok1 || !ok2 || !validName(name) {
		return nil, apdu.SWIncorrectData
	}
	c, err := lookup(env.Store, name)
	if err != nil {
		return nil, err
	}
	if c.props&propTouch != 0 && a.touch != nil && !a.touch.Touch(0) {
		return nil, apdu.SWSecurityStatusNotSatisfied
	}
	msg := ch
	if c.kind&0xF0 == typeHOTP {
		if c.counter == ^uint32(0) {
			return nil, apdu.SWConditionsNotSatisfied
		}
		msg = binary.BigEndian.AppendUint64(nil, uint64(c.counter))
		c.counter++
		if err := env.Store.Put(credKey(name), c.marshal()); err != nil {
			return nil, err
		}
	} else if len(ch) == 0 {
		return nil, apdu.SWIncorrectData
	}
	return apdu.AppendTLV(nil, responseTag(cmd.P2 == 0x01), code(c, msg, cmd.P2 == 0x01)), nil
}

// calculateAll is CALCULATE ALL: 74 challenge; for each credential its name
// (71) and the code of a TOTP credential (76 or 75), or 77 digits for a
// HOTP credential and 7C digits for one that needs a touch, neither
// calculated.
func calculateAll(env *firmware.Context, cmd apdu.Command) ([]byte, error) {
	if cmd.P2 > 0x01 {
		return nil, apdu.SWWrongP1P2
	}
	fs, err := parseFields(cmd.Data)
	if err != nil {
		return nil, err
	}
	ch, ok := find(fs, tagChallenge)
	if !ok || len(ch) == 0 {
		return nil, apdu.SWIncorrectData
	}
	var out []byte
	for _, n := range names(env.Store) {
		c, err := lookup(env.Store, n)
		if err != nil {
			return nil, err
		}
		out = apdu.AppendTLV(out, tagName, n)
		switch {
		case c.kind&0xF0 == typeHOTP:
			out = apdu.AppendTLV(out, tagHOTP, []byte{c.digits})
		case c.props&propTouch != 0:
			out = apdu.AppendTLV(out, tagTouch, []byte{c.digits})
		default:
			out = apdu.AppendTLV(out, responseTag(cmd.P2 == 0x01), code(c, ch, cmd.P2 == 0x01))
		}
	}
	return out, nil
}

func random(r io.Reader, n int) ([]byte, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, err
	}
	return b, nil
}
