package openpgp

import (
	"encoding/binary"
	"slices"

	"github.com/tesseracard/tessera/apdu"
	"github.com/tesseracard/tessera/firmware"
	"github.com/tesseracard/tessera/firmware/pin"
)

// Data object tags (OpenPGP Card 3.4 §4.4.1).
const (
	tagAID          = 0x004F
	tagName         = 0x005B
	tagLogin        = 0x005E
	tagLanguage     = 0x5F2D
	tagSex          = 0x5F35
	tagURL          = 0x5F50
	tagHistorical   = 0x5F52
	tagCardholder   = 0x0065
	tagAppData      = 0x006E
	tagDiscretion   = 0x0073
	tagSecSupport   = 0x007A
	tagSigCounter   = 0x0093
	tagCert         = 0x7F21
	tagExtLength    = 0x7F66
	tagFeatures     = 0x7F74
	tagExtCaps      = 0x00C0
	tagAlgSig       = 0x00C1
	tagAlgDec       = 0x00C2
	tagAlgAut       = 0x00C3
	tagPWStatus     = 0x00C4
	tagFingerprints = 0x00C5
	tagCAFprs       = 0x00C6
	tagFprSig       = 0x00C7 // C7, C8, C9: one key's fingerprint
	tagCAFprFirst   = 0x00CA // CA, CB, CC: CA fingerprints
	tagDates        = 0x00CD
	tagDateSig      = 0x00CE // CE, CF, D0: one key's generation date
	tagResetCode    = 0x00D3
	tagKeyInfo      = 0x00DE
	tagUIFSig       = 0x00D6 // D6, D7, D8, D9 (attestation): user interaction flags (YubiKey touch policy)
	tagUIFAtt       = 0x00D9 // YubiKey: the attestation key's user interaction flag
	tagAlgAtt       = 0x00DA // YubiKey: the attestation key's algorithm attributes
	tagFprAtt       = 0x00DB // YubiKey: the attestation key's fingerprint
	tagCAFprAtt     = 0x00DC // YubiKey: the fourth CA fingerprint (yubikit's CA_FINGERPRINT_4)
	tagDateAtt      = 0x00DD // YubiKey: the attestation key's generation date
	tagAttCert      = 0x00FC // YubiKey: the attestation key's certificate
	tagKDF          = 0x00F9
	tagAlgInfo      = 0x00FA // algorithm information (OpenPGP Card 3.4 §4.4.3.11)
	tagPrivate1     = 0x0101 // 0101 to 0104: private use
)

// writeAccess is the password PUT DATA of tag needs: PW1 (82) for the
// private-use DOs 0101 and 0103, PW3 for every other DO (OpenPGP Card 3.4
// §4.4.1).
func writeAccess(tag uint16) byte {
	if tag == tagPrivate1 || tag == tagPrivate1+2 {
		return refPW1Other
	}
	return refPW3
}

// readAccess is the password GET DATA of private-use DO tag needs: PW1
// (82) for 0103, PW3 for 0104, none (ok false) for 0101 and 0102.
func readAccess(tag uint16) (ref byte, ok bool) {
	switch tag {
	case tagPrivate1 + 2:
		return refPW1Other, true
	case tagPrivate1 + 3:
		return refPW3, true
	}
	return 0, false
}

// Touch modes of the user interaction flags (byte 1 of D6-D9, as ykman's
// UIF names them): off, on, fixed (on until the application is reset),
// cached (a touch holds for firmware.TouchGrace), cached and fixed.
const (
	uifOff         = 0x00
	uifOn          = 0x01
	uifFixed       = 0x02
	uifCached      = 0x03
	uifCachedFixed = 0x04
	uifButton      = 0x20 // the second byte: the general feature "button"
)

// Bounds of the variable data objects, announced in the extended
// capabilities C0.
const (
	maxName      = 39
	maxSpecialDO = 255 // login data, URL
	maxCert      = 2048
	maxChallenge = 255
)

// keyRefs are the three keys in DO order: signature, decryption,
// authentication.
func keyRefs() [3]byte { return [3]byte{keySig, keyDec, keyAut} }

// fprDateTags are the DOs of key ref's fingerprint and generation date:
// C7-C9 and CE-D0 for the signature, decryption and authentication keys
// (in keyRefs order), DB and DD for the attestation key.
func fprDateTags(ref byte) (fpr, date uint16) {
	if ref == keyAtt {
		return tagFprAtt, tagDateAtt
	}
	refs := keyRefs()
	i := uint16(slices.Index(refs[:], ref))
	return tagFprSig + i, tagDateSig + i
}

// getData is GET DATA (CA), P1-P2 the tag.
func (a *Applet) getData(env *firmware.Context, cmd apdu.Command) ([]byte, error) {
	tag := uint16(cmd.P1)<<8 | uint16(cmd.P2)
	if v, ok := a.simpleDO(env, tag); ok {
		return v, nil
	}
	switch tag {
	case tagName, tagLogin, tagLanguage, tagSex, tagURL:
		v, _ := env.Store.Get(doKey(tag))
		return v, nil
	case tagCert:
		v, _ := env.Store.Get(a.certKey())
		return v, nil
	case tagPrivate1, tagPrivate1 + 1, tagPrivate1 + 2, tagPrivate1 + 3:
		if ref, ok := readAccess(tag); ok && !env.Security.Has(ref) {
			return nil, errNotAllowed
		}
		v, _ := env.Store.Get(doKey(tag))
		return v, nil
	case tagCardholder, tagAppData, tagSecSupport, tagExtLength, tagFeatures:
		if v := a.appendConstructed(nil, env, tag); v != nil {
			return v, nil
		}
	case tagFprAtt, tagCAFprAtt, tagDateAtt:
		if a.yubikey {
			if tag == tagDateAtt {
				return fixedDO(env, tag, 4), nil
			}
			return fixedDO(env, tag, 20), nil
		}
	case tagAttCert:
		if a.yubikey {
			v, _ := env.Store.Get(doKey(tag))
			return v, nil
		}
	case tagAlgInfo:
		return a.algorithmInformation(), nil
	case tagKDF:
		// No KDF (C0 does not announce it): the KDF-DO says so, for the
		// clients that read it before every VERIFY.
		return apdu.AppendTLV(nil, 0x81, []byte{0x00}), nil
	}
	return nil, apdu.SWReferenceNotFound
}

// constructedDO returns the value of the constructed DO tag the
// application answers (ok false for another tag, or one its profile
// lacks). GET DATA answers these whole, their own tag and length
// included, as a YubiKey 5 answers 6E (hostdriver/testdata/openpgp) and
// Yubico's yubikit requires of 6E, 65 and 7A (Tlv.unpack of the tag);
// GnuPG's scdaemon finds the DOs inside either way (find_tlv dives into
// constructed DOs). The algorithm information FA is answered whole too
// (algorithmInformation); the KDF-DO F9 and the certificate 7F21 are not:
// yubikit and GnuPG read F9's 81 at the start of the answer, and 7F21 is
// the certificate's DER as stored.
func (a *Applet) constructedDO(env *firmware.Context, tag uint16) ([]byte, bool) {
	switch tag {
	case tagCardholder:
		var out []byte
		for _, t := range []uint16{tagName, tagLanguage, tagSex} {
			v, _ := env.Store.Get(doKey(t))
			out = apdu.AppendTLV(out, apdu.Tag(t), v)
		}
		return out, true
	case tagAppData:
		return a.appData(env), true
	case tagSecSupport:
		return apdu.AppendTLV(nil, tagSigCounter, counterBytes(sigCount(env.Store))), true
	case tagExtLength:
		return a.extLengthInfo(), a.extendedLength
	case tagFeatures:
		return apdu.AppendTLV(nil, 0x81, []byte{uifButton}), a.yubikey
	}
	return nil, false
}

// simpleDO returns the DOs that application related data 6E carries in
// its discretionary data 73, each alone.
func (a *Applet) simpleDO(env *firmware.Context, tag uint16) ([]byte, bool) {
	switch tag {
	case tagAID:
		return a.AID(), true
	case tagHistorical:
		return a.historical(), true
	case tagExtCaps:
		return a.extCaps(), true
	case tagAlgSig, tagAlgDec, tagAlgAut:
		return algRaw(env, keyRefs()[tag-tagAlgSig]), true
	case tagPWStatus:
		return pwStatus(env, a.q), true
	case tagFingerprints:
		return a.concatDOs(env, tagFprSig, tagFprAtt, 20), true
	case tagCAFprs:
		return a.concatDOs(env, tagCAFprFirst, tagCAFprAtt, 20), true
	case tagDates:
		return a.concatDOs(env, tagDateSig, tagDateAtt, 4), true
	case tagKeyInfo:
		var out []byte
		for i, ref := range keyRefs() {
			out = append(out, byte(i+1), keyOrigin(env, ref))
		}
		if a.yubikey {
			out = append(out, keyAtt, keyOrigin(env, keyAtt))
		}
		return out, true
	case tagAlgAtt:
		if !a.yubikey {
			return nil, false
		}
		return algRaw(env, keyAtt), true
	case tagUIFSig, tagUIFSig + 1, tagUIFSig + 2, tagUIFSig + 3:
		if !a.yubikey {
			return nil, false
		}
		v, ok := env.Store.Get(doKey(tag))
		if !ok {
			v = []byte{uifOff, uifButton}
		}
		return v, true
	}
	return nil, false
}

// concatDOs concatenates the three DOs from tag first, each n bytes
// (zeros while absent), and on a YubiKey profile the attestation key's DO
// att after them, as a YubiKey 5 answers C5, C6 and CD (80, 80 and 16
// bytes in hostdriver/testdata/openpgp/yubikey5-6e.hex).
func (a *Applet) concatDOs(env *firmware.Context, first, att uint16, n int) []byte {
	out := make([]byte, 0, 4*n)
	for i := range uint16(3) {
		out = append(out, fixedDO(env, first+i, n)...)
	}
	if a.yubikey {
		out = append(out, fixedDO(env, att, n)...)
	}
	return out
}

// appData is the value of the application related data 6E (OpenPGP Card
// 3.4 §4.4.3.1): the AID, the historical bytes, the extended length
// information 7F66, the general feature management 7F74 and the
// discretionary DOs 73. A YubiKey profile answers in a YubiKey 5's order
// (hostdriver/testdata/openpgp/yubikey5-6e.hex): 7F74 after 5F52, 7F66
// inside 73 after the key information DE.
func (a *Applet) appData(env *firmware.Context) []byte {
	var disc []byte
	for _, t := range []uint16{tagExtCaps, tagAlgSig, tagAlgDec, tagAlgAut, tagAlgAtt, tagPWStatus, tagFingerprints, tagCAFprs, tagDates, tagKeyInfo, tagExtLength, tagUIFSig, tagUIFSig + 1, tagUIFSig + 2, tagUIFSig + 3} {
		if t == tagExtLength {
			if a.yubikey {
				disc = a.appendConstructed(disc, env, t)
			}
		} else if v, ok := a.simpleDO(env, t); ok {
			disc = apdu.AppendTLV(disc, apdu.Tag(t), v)
		}
	}
	out := apdu.AppendTLV(nil, tagAID, a.AID())
	out = apdu.AppendTLV(out, tagHistorical, a.historical())
	if !a.yubikey {
		out = a.appendConstructed(out, env, tagExtLength)
	}
	out = a.appendConstructed(out, env, tagFeatures)
	return apdu.AppendTLV(out, tagDiscretion, disc)
}

// appendConstructed appends the constructed DO tag, whole, to dst when
// the application answers it.
func (a *Applet) appendConstructed(dst []byte, env *firmware.Context, tag uint16) []byte {
	if v, ok := a.constructedDO(env, tag); ok {
		return apdu.AppendTLV(dst, apdu.Tag(tag), v)
	}
	return dst
}

// historical is the historical bytes DO 5F52 (ISO/IEC 7816-4 §8.1.1):
// category 00, card capabilities (73: command chaining, and extended Lc and
// Le when the card takes them), then life cycle 05 (operational) and 9000.
func (a *Applet) historical() []byte {
	caps := byte(0x80) // command chaining
	if a.extendedLength {
		caps |= 0x40
	}
	return []byte{0x00, 0x73, 0x00, 0x00, caps, 0x05, 0x90, 0x00}
}

// extLengthInfo is the extended length information 7F66 (ISO/IEC 7816-4
// §12.7.1): the longest command and response the card takes.
func (a *Applet) extLengthInfo() []byte {
	maxCmd := min(a.maxCommand, 0xFFFF)
	out := apdu.AppendTLV(nil, 0x02, binary.BigEndian.AppendUint16(nil, uint16(maxCmd)))
	return apdu.AppendTLV(out, 0x02, []byte{0xFF, 0xFF})
}

// extCaps is the extended capabilities C0 (OpenPGP Card 3.4 §4.4.3.7):
// GET CHALLENGE, key import, PW status changeable, private-use DOs,
// algorithm attributes changeable; no secure messaging, no AES, no KDF.
func (a *Applet) extCaps() []byte {
	out := []byte{0x40 | 0x20 | 0x10 | 0x08 | 0x04, 0x00}
	out = binary.BigEndian.AppendUint16(out, maxChallenge)
	out = binary.BigEndian.AppendUint16(out, maxCert)
	out = binary.BigEndian.AppendUint16(out, maxSpecialDO)
	return append(out, 0x00, 0x00) // PIN block 2 format, MSE: not supported
}

// algorithmInformation is the Algorithm Information DO FA (OpenPGP Card
// 3.4 §4.4.3.11), tag and length included, as a YubiKey answers it and
// Yubico's yubikit reads it (Tlv.unpack of FA; GnuPG's scdaemon 2.3+
// takes it with or without them): for each key, C1, C2, C3 and, on a
// YubiKey profile, DA (the attestation key), one DO per algorithm
// attribute PUT DATA of that tag takes, in its standard form
// (supportedAlgorithms). Computed, never stored. The extended
// capabilities C0 announce it with "algorithm attributes changeable";
// it is not in 6E.
func (a *Applet) algorithmInformation() []byte {
	refs := []byte{keySig, keyDec, keyAut}
	tags := []apdu.Tag{tagAlgSig, tagAlgDec, tagAlgAut}
	if a.yubikey {
		refs, tags = append(refs, keyAtt), append(tags, tagAlgAtt)
	}
	var out []byte
	for i, ref := range refs {
		for attr := range supportedAlgorithms(ref) {
			out = apdu.AppendTLV(out, tags[i], attr)
		}
	}
	return apdu.AppendTLV(nil, tagAlgInfo, out)
}

// pwStatus is the PW status bytes C4: PW1 for one or several signatures,
// the maximum lengths, the tries left of PW1, the resetting code and PW3.
func pwStatus(env *firmware.Context, q Quirks) []byte {
	b1, ok := env.Store.Get(keyPWStatus)
	if !ok || len(b1) != 1 {
		b1 = []byte{0x01}
	}
	out := []byte{b1[0], maxPW, maxPW, maxPW}
	for _, o := range []*pin.Object{pw1(env, q), rc(env, q), pw3(env, q)} {
		st, _ := o.Status() // absent (no resetting code): 0 tries
		out = append(out, byte(st.Tries))
	}
	return out
}

// algRaw is the algorithm attributes of key ref as GET DATA returns them.
func algRaw(env *firmware.Context, ref byte) []byte {
	if v, ok := env.Store.Get(keyAlgPrefix + refName(ref)); ok {
		return v
	}
	if al := defaultAlgorithm(ref); len(al.Raw) > 0 {
		return al.Raw
	}
	return []byte{algRSA, 0x08, 0x00, 0x00, 0x20, 0x00} // RSA 2048, as real cards ship
}

// keyOrigin is the key information of key ref: none, generated, imported.
func keyOrigin(env *firmware.Context, ref byte) byte {
	v, ok := env.Store.Get(keyKeyPrefix + refName(ref))
	if !ok || len(v) == 0 {
		return originNone
	}
	return v[0]
}

// putData is PUT DATA (DA), P1-P2 the tag, with PW3 verified (PW1 for
// two private-use DOs, see writeAccess).
func (a *Applet) putData(env *firmware.Context, cmd apdu.Command) error {
	tag := uint16(cmd.P1)<<8 | uint16(cmd.P2)
	if err := need(env, writeAccess(tag)); err != nil {
		return err
	}
	v := cmd.Data
	key := doKey(tag)
	if tag == tagCert {
		key = a.certKey()
	}
	store := func() error {
		if len(v) == 0 {
			return env.Store.Delete(key)
		}
		return env.Store.Put(key, v)
	}
	switch {
	case tag == tagName:
		if len(v) > maxName {
			return apdu.SWWrongLength
		}
	case tag == tagLogin || tag == tagURL || (tag >= tagPrivate1 && tag <= tagPrivate1+3):
		if len(v) > maxSpecialDO {
			return apdu.SWWrongLength
		}
	case tag == tagLanguage:
		if len(v) > 8 || len(v)%2 != 0 {
			return apdu.SWWrongLength
		}
	case tag == tagSex:
		if len(v) != 1 || (v[0] != '0' && v[0] != '1' && v[0] != '2' && v[0] != '9') {
			return apdu.SWIncorrectData
		}
	case tag == tagCert:
		if len(v) > maxCert {
			return apdu.SWWrongLength
		}
	case tag >= tagFprSig && tag <= tagCAFprFirst+2:
		if len(v) != 20 {
			return apdu.SWWrongLength
		}
	case tag >= tagDateSig && tag <= tagDateSig+2:
		if len(v) != 4 {
			return apdu.SWWrongLength
		}
	case tag == tagPWStatus:
		if (len(v) != 1 && len(v) != 4) || v[0] > 0x01 {
			return apdu.SWIncorrectData
		}
		return env.Store.Put(keyPWStatus, v[:1])
	case tag >= tagAlgSig && tag <= tagAlgAut:
		return a.putAlgorithm(env, keyRefs()[tag-tagAlgSig], v)
	case tag == tagResetCode:
		return a.setResettingCode(env, v)
	case a.yubikey && (tag == tagFprAtt || tag == tagCAFprAtt):
		if len(v) != 20 {
			return apdu.SWWrongLength
		}
	case a.yubikey && tag == tagDateAtt:
		if len(v) != 4 {
			return apdu.SWWrongLength
		}
	case a.yubikey && tag == tagAttCert:
		if len(v) > maxCert {
			return apdu.SWWrongLength
		}
	case a.yubikey && tag == tagAlgAtt:
		return a.putAlgorithm(env, keyAtt, v)
	case a.yubikey && tag >= tagUIFSig && tag <= tagUIFSig+3:
		if len(v) != 2 || v[0] > uifCachedFixed || v[1] != uifButton {
			return apdu.SWIncorrectData
		}
		if old, ok := env.Store.Get(doKey(tag)); ok && (old[0] == uifFixed || old[0] == uifCachedFixed) {
			return apdu.SWSecurityStatusNotSatisfied // fixed: only a reset clears it
		}
	default:
		return apdu.SWReferenceNotFound
	}
	return store()
}

// putAlgorithm sets the algorithm attributes of key ref. A key of other
// attributes is deleted with them, with its fingerprint and generation
// date, in one transaction: it no longer matches what the card announces,
// and GnuPG takes a non-zero fingerprint for a key present.
func (a *Applet) putAlgorithm(env *firmware.Context, ref byte, attr []byte) error {
	al, err := parseAlgorithm(ref, attr)
	if err != nil {
		return err
	}
	tx, err := env.Store.Begin()
	if err != nil {
		return err
	}
	defer tx.Abort()
	if err := tx.Put(keyAlgPrefix+refName(ref), al.Raw); err != nil {
		return err
	}
	if keyOrigin(env, ref) != originNone && string(algRaw(env, ref)) != string(al.Raw) {
		fpr, date := fprDateTags(ref)
		for _, k := range []string{keyKeyPrefix + refName(ref), doKey(fpr), doKey(date)} {
			if err := tx.Delete(k); err != nil {
				return err
			}
		}
	}
	return tx.Commit()
}

// certKey is the store key of the certificate 7F21 SELECT DATA chose:
// occurrence 0 (the authentication key's, and the only one before SELECT
// DATA) is openpgp/do/7f21, occurrences 1 (decryption) and 2 (signature)
// openpgp/cert/1 and openpgp/cert/2.
func (a *Applet) certKey() string { return certKey(a.certOcc) }

// certKey is the store key of occurrence occ of the certificate 7F21.
func certKey(occ byte) string {
	if occ == 0 {
		return doKey(tagCert)
	}
	return keyCertPrefix + string(rune('0'+occ))
}

// selectData is SELECT DATA (OpenPGP Card 3.4 §7.2.5, INS A5): P1 the
// occurrence (0 to 2) of DO 7F21 that the next GET DATA and PUT DATA of
// 7F21 reach, P2 04, data 60 04 5C 02 7F 21 (ykman 4 puts a length byte
// 06 before it for YubiKeys up to 5.4.3; taken too). The choice lasts
// until the next SELECT or reset.
func (a *Applet) selectData(cmd apdu.Command) error {
	if cmd.P2 != 0x04 {
		return apdu.SWIncorrectP1P2
	}
	data := cmd.Data
	if len(data) == 7 && data[0] == 0x06 {
		data = data[1:]
	}
	if string(data) != string([]byte{0x60, 0x04, 0x5C, 0x02, 0x7F, 0x21}) {
		return apdu.SWReferenceNotFound
	}
	if cmd.P1 > 2 {
		return apdu.SWReferenceNotFound
	}
	a.certOcc = cmd.P1
	return nil
}
