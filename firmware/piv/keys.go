package piv

import (
	"bytes"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"fmt"
	"math/big"

	"github.com/tesseracard/tessera/apdu"
	"github.com/tesseracard/tessera/firmware"
	"github.com/tesseracard/tessera/firmware/pin"
	"github.com/tesseracard/tessera/pivalg"
)

// Slots (SP 800-73-4 Part 1 Table 4b; F9 is the YubiKey attestation slot).
const (
	slotAuthentication     = 0x9A
	slotSignature          = 0x9C
	slotKeyManagement      = 0x9D
	slotCardAuthentication = 0x9E
	slotAttestation        = 0xF9
)

// PIN policies (YubiKey).
const (
	pinPolicyDefault = 0x00
	pinPolicyNever   = 0x01
	pinPolicyOnce    = 0x02
	pinPolicyAlways  = 0x03
)

// Key origins in metadata.
const (
	originGenerated = 0x01
	originImported  = 0x02
)

// keySlot reports whether s is a key slot: 9A, 9C, 9D, 9E, retired 82..95,
// or F9.
func keySlot(s byte) bool {
	switch {
	case s == slotAuthentication, s == slotSignature, s == slotKeyManagement, s == slotCardAuthentication, s == slotAttestation:
		return true
	case s >= 0x82 && s <= 0x95:
		return true
	}
	return false
}

func slotKey(s byte) string { return fmt.Sprintf("%02x", s) }

// defaultPINPolicy is the PIN policy a slot's key gets when none is asked
// for: 9C always (every signature re-verifies the PIN), 9E never, else once.
func defaultPINPolicy(slot byte) byte {
	switch slot {
	case slotSignature:
		return pinPolicyAlways
	case slotCardAuthentication, slotAttestation:
		return pinPolicyNever
	}
	return pinPolicyOnce
}

// key is a stored private key: alg | pin policy | touch policy | origin |
// PKCS #8 DER.
type key struct {
	alg, pinPolicy, touchPolicy, origin byte
	priv                                crypto.PrivateKey
}

func (k key) bytes() ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(k.priv)
	if err != nil {
		return nil, err
	}
	return append([]byte{k.alg, k.pinPolicy, k.touchPolicy, k.origin}, der...), nil
}

// loadKey returns the key in slot, or ok false if the slot is empty. Parsed
// keys are kept in RAM, as a card keeps its key objects, and used again
// while the stored record is unchanged: parsing derives the public key, which
// would otherwise cost as much as the signature itself.
func (a *Applet) loadKey(env *firmware.Context, slot byte) (k key, ok bool, err error) {
	raw, found := env.Store.Get(keyPrefix + slotKey(slot))
	if !found {
		return key{}, false, nil
	}
	if c, hit := a.keys[slot]; hit && bytes.Equal(c.raw, raw) {
		return c.k, true, nil
	}
	if len(raw) < 5 {
		return key{}, false, fmt.Errorf("piv: key record %02X is short", slot)
	}
	priv, err := x509.ParsePKCS8PrivateKey(raw[4:])
	if err != nil {
		return key{}, false, fmt.Errorf("piv: key record %02X: %w", slot, err)
	}
	k = key{alg: raw[0], pinPolicy: raw[1], touchPolicy: raw[2], origin: raw[3], priv: priv}
	if a.keys == nil {
		a.keys = map[byte]cachedKey{}
	}
	a.keys[slot] = cachedKey{raw: raw, k: k}
	return k, true, nil
}

// cachedKey is a parsed key and the record it was parsed from.
type cachedKey struct {
	raw []byte
	k   key
}

// storeKey writes k into slot through w: the store (one atomic write) or a
// transaction.
func storeKey(w pin.Writer, slot byte, k key) error {
	raw, err := k.bytes()
	if err != nil {
		return err
	}
	return w.Put(keyPrefix+slotKey(slot), raw)
}

// public returns the key's public half.
func (k key) public() crypto.PublicKey {
	return k.priv.(interface{ Public() crypto.PublicKey }).Public()
}

// curve returns the ECDH curve of an EC algorithm, or nil.
func curve(alg byte) ecdh.Curve {
	switch alg {
	case pivalg.P256:
		return ecdh.P256()
	case pivalg.P384:
		return ecdh.P384()
	case pivalg.X25519:
		return ecdh.X25519()
	}
	return nil
}

// encodePublic returns the public key as the inner part of the 7F49 template
// (SP 800-73-4 Part 2 Table 14): RSA 81 modulus, 82 exponent (three bytes,
// as a YubiKey sends); EC 86 uncompressed point; 25519 86 the 32-byte key.
func encodePublic(pub crypto.PublicKey) []byte {
	switch p := pub.(type) {
	case *rsa.PublicKey:
		e := big.NewInt(int64(p.E)).Bytes()
		for len(e) < 3 {
			e = append([]byte{0}, e...)
		}
		return apdu.AppendTLV(apdu.AppendTLV(nil, 0x81, p.N.Bytes()), 0x82, e)
	case *ecdsa.PublicKey:
		point, _ := p.Bytes()
		return apdu.AppendTLV(nil, 0x86, point)
	case ed25519.PublicKey:
		return apdu.AppendTLV(nil, 0x86, p)
	case *ecdh.PublicKey:
		return apdu.AppendTLV(nil, 0x86, p.Bytes())
	}
	return nil
}

// checkPolicies validates PIN (AA) and touch (AB) policy values.
func checkPolicies(pinPolicy, touchPolicy byte) error {
	if pinPolicy > pinPolicyAlways || touchPolicy > touchCached {
		return apdu.SWIncorrectData
	}
	return nil
}

// generate is GENERATE ASYMMETRIC KEY PAIR (SP 800-73-4 Part 2 §3.3.2):
// data AC { 80 alg [AA pin policy] [AB touch policy] }; answers 7F49 with
// the public key.
func (a *Applet) generate(env *firmware.Context, cmd apdu.Command) ([]byte, error) {
	if err := needMgmt(env); err != nil {
		return nil, err
	}
	slot := cmd.P2
	if cmd.P1 != 0 || !keySlot(slot) || slot == slotAttestation {
		return nil, apdu.SWIncorrectP1P2
	}
	tmpl, found, err := apdu.FindTLV(cmd.Data, 0xAC)
	if err != nil || !found {
		return nil, apdu.SWIncorrectData
	}
	tlvs, err := tlvMap(tmpl)
	if err != nil {
		return nil, err
	}
	algTLV := tlvs[0x80]
	if len(algTLV) != 1 {
		return nil, apdu.SWIncorrectData
	}
	k := key{alg: algTLV[0], origin: originGenerated, pinPolicy: defaultPINPolicy(slot), touchPolicy: touchNever}
	if err := a.policies(tlvs, &k); err != nil {
		return nil, err
	}
	if k.priv, err = newPrivateKey(env, k.alg); err != nil {
		return nil, err
	}
	if err := storeKey(env.Store, slot, k); err != nil {
		return nil, err
	}
	return apdu.AppendTLV(nil, 0x7F49, encodePublic(k.public())), nil
}

// policies applies the AA and AB tags of a GENERATE or IMPORT command.
func (a *Applet) policies(tlvs map[apdu.Tag][]byte, k *key) error {
	for tag, dst := range map[apdu.Tag]*byte{0xAA: &k.pinPolicy, 0xAB: &k.touchPolicy} {
		v, ok := tlvs[tag]
		if !ok {
			continue
		}
		if len(v) != 1 {
			return apdu.SWIncorrectData
		}
		if v[0] != 0 { // 00 means the default
			*dst = v[0]
		}
	}
	return checkPolicies(k.pinPolicy, k.touchPolicy)
}

// newPrivateKey makes a key for alg with the card's random source. (Go's
// ECDSA and Ed25519 key generation draw from the system source regardless.)
func newPrivateKey(env *firmware.Context, alg byte) (crypto.PrivateKey, error) {
	if bits := pivalg.RSABits(alg); bits > 0 {
		return rsa.GenerateKey(env.Rand, bits)
	}
	switch alg {
	case pivalg.P256:
		return ecdsa.GenerateKey(elliptic.P256(), env.Rand)
	case pivalg.P384:
		return ecdsa.GenerateKey(elliptic.P384(), env.Rand)
	case pivalg.Ed25519:
		_, priv, err := ed25519.GenerateKey(env.Rand)
		return priv, err
	case pivalg.X25519:
		return ecdh.X25519().GenerateKey(env.Rand)
	}
	return nil, apdu.SWIncorrectData
}

// tlvMap parses a concatenation of TLVs into a map, refusing duplicates.
func tlvMap(b []byte) (map[apdu.Tag][]byte, error) {
	tlvs, err := apdu.ParseTLVs(b)
	if err != nil {
		return nil, apdu.SWIncorrectData
	}
	m := make(map[apdu.Tag][]byte, len(tlvs))
	for _, t := range tlvs {
		if _, dup := m[t.Tag]; dup {
			return nil, apdu.SWIncorrectData
		}
		m[t.Tag] = t.Value
	}
	return m, nil
}

// importKey is the YubiKey's IMPORT ASYMMETRIC KEY (FE): P1 alg, P2 slot,
// data: RSA 01 p, 02 q, 03 dP, 04 dQ, 05 qInv; EC 06 d; Ed25519 07 seed;
// X25519 08 scalar; then AA and AB policies.
func (a *Applet) importKey(env *firmware.Context, cmd apdu.Command) error {
	if err := needMgmt(env); err != nil {
		return err
	}
	if !keySlot(cmd.P2) {
		return apdu.SWIncorrectP1P2
	}
	tlvs, err := tlvMap(cmd.Data)
	if err != nil {
		return err
	}
	k := key{alg: cmd.P1, origin: originImported, pinPolicy: defaultPINPolicy(cmd.P2), touchPolicy: touchNever}
	if err := a.policies(tlvs, &k); err != nil {
		return err
	}
	if k.priv, err = parseImport(k.alg, tlvs); err != nil {
		return err
	}
	return storeKey(env.Store, cmd.P2, k)
}

// parseImport builds a private key from IMPORT's TLVs, checking it.
func parseImport(alg byte, t map[apdu.Tag][]byte) (crypto.PrivateKey, error) {
	if bits := pivalg.RSABits(alg); bits > 0 {
		var parts [5]*big.Int
		for i := range parts {
			v, ok := t[apdu.Tag(i+1)]
			if !ok || len(v) == 0 || len(v) > bits/16+1 {
				return nil, apdu.SWIncorrectData
			}
			parts[i] = new(big.Int).SetBytes(v)
		}
		p, q := parts[0], parts[1]
		n := new(big.Int).Mul(p, q)
		if n.BitLen() != bits {
			return nil, apdu.SWIncorrectData
		}
		one := big.NewInt(1)
		phi := new(big.Int).Mul(new(big.Int).Sub(p, one), new(big.Int).Sub(q, one))
		e := big.NewInt(65537)
		d := new(big.Int).ModInverse(e, phi)
		if d == nil {
			return nil, apdu.SWIncorrectData
		}
		k := &rsa.PrivateKey{PublicKey: rsa.PublicKey{N: n, E: 65537}, D: d, Primes: []*big.Int{p, q}}
		if err := k.Validate(); err != nil {
			return nil, apdu.SWIncorrectData
		}
		k.Precompute()
		// The host's CRT values must agree with the primes.
		if k.Precomputed.Dp.Cmp(parts[2]) != 0 || k.Precomputed.Dq.Cmp(parts[3]) != 0 || k.Precomputed.Qinv.Cmp(parts[4]) != 0 {
			return nil, apdu.SWIncorrectData
		}
		return k, nil
	}
	switch alg {
	case pivalg.P256, pivalg.P384:
		d, ok := t[0x06]
		size := 32
		c := elliptic.P256()
		if alg == pivalg.P384 {
			size, c = 48, elliptic.P384()
		}
		if !ok || len(d) != size {
			return nil, apdu.SWIncorrectData
		}
		k, err := ecdsa.ParseRawPrivateKey(c, d)
		if err != nil {
			return nil, apdu.SWIncorrectData
		}
		return k, nil
	case pivalg.Ed25519:
		seed, ok := t[0x07]
		if !ok || len(seed) != ed25519.SeedSize {
			return nil, apdu.SWIncorrectData
		}
		return ed25519.NewKeyFromSeed(seed), nil
	case pivalg.X25519:
		s, ok := t[0x08]
		if !ok {
			return nil, apdu.SWIncorrectData
		}
		k, err := ecdh.X25519().NewPrivateKey(s)
		if err != nil {
			return nil, apdu.SWIncorrectData
		}
		return k, nil
	}
	return nil, apdu.SWIncorrectP1P2
}

// moveKey is the YubiKey 5.7 MOVE KEY / DELETE KEY (F6): P1 the destination
// slot, or FF to delete; P2 the source slot. The attestation slot is
// neither source nor destination.
func (a *Applet) moveKey(env *firmware.Context, cmd apdu.Command) error {
	if err := needMgmt(env); err != nil {
		return err
	}
	src, dst := cmd.P2, cmd.P1
	if !keySlot(src) || src == slotAttestation || dst != 0xFF && (!keySlot(dst) || dst == slotAttestation || dst == src) {
		return apdu.SWIncorrectP1P2
	}
	if len(cmd.Data) != 0 {
		return apdu.SWWrongLength
	}
	raw, ok := env.Store.Get(keyPrefix + slotKey(src))
	if !ok {
		return apdu.SWReferenceNotFound
	}
	if dst == 0xFF {
		return env.Store.Delete(keyPrefix + slotKey(src))
	}
	if _, occupied := env.Store.Get(keyPrefix + slotKey(dst)); occupied {
		return apdu.SWConditionsNotSatisfied
	}
	tx, err := env.Store.Begin()
	if err != nil {
		return err
	}
	defer tx.Abort()
	tx.Put(keyPrefix+slotKey(dst), raw)
	if !a.moveLeavesSource() {
		tx.Delete(keyPrefix + slotKey(src))
	}
	return tx.Commit()
}

// metadata is the YubiKey's GET METADATA (F7 00 ref): 01 algorithm, 02
// policies, 03 origin, 04 public key, 05 default, 06 retries.
func (a *Applet) metadata(env *firmware.Context, cmd apdu.Command) ([]byte, error) {
	if cmd.P1 != 0 {
		return nil, apdu.SWIncorrectP1P2
	}
	if len(cmd.Data) != 0 {
		return nil, apdu.SWWrongLength
	}
	bit := func(b bool) []byte {
		if b {
			return []byte{1}
		}
		return []byte{0}
	}
	switch ref := cmd.P2; {
	case ref == refPIN || ref == refPUK:
		k := keyPIN
		if ref == refPUK {
			k = keyPUK
		}
		st, err := pinStatus(env, k)
		if err != nil {
			return nil, err
		}
		out := apdu.AppendTLV(nil, 0x01, []byte{0xFF})
		out = apdu.AppendTLV(out, 0x05, bit(st.Default))
		return apdu.AppendTLV(out, 0x06, []byte{byte(st.Limit), byte(st.Tries)}), nil
	case ref == refMgmtKey:
		mk, err := loadMgmtKey(env)
		if err != nil {
			return nil, err
		}
		out := apdu.AppendTLV(nil, 0x01, []byte{mk.alg})
		out = apdu.AppendTLV(out, 0x02, []byte{0x00, mk.touch})
		return apdu.AppendTLV(out, 0x05, bit(mk.isDefault)), nil
	case keySlot(ref):
		k, ok, err := a.loadKey(env, ref)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, apdu.SWReferenceNotFound
		}
		out := apdu.AppendTLV(nil, 0x01, []byte{k.alg})
		out = apdu.AppendTLV(out, 0x02, []byte{a.reportedPINPolicy(k), k.touchPolicy})
		out = apdu.AppendTLV(out, 0x03, []byte{a.reportedOrigin(k)})
		return apdu.AppendTLV(out, 0x04, encodePublic(k.public())), nil
	}
	return nil, apdu.SWReferenceNotFound
}
