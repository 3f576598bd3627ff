package isoapp

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math/big"
	"slices"

	"github.com/tesseracard/tessera/apdu"
	"github.com/tesseracard/tessera/firmware"
	"github.com/tesseracard/tessera/firmware/nvm"
)

// Key slots and algorithm references (MANAGE SECURITY ENVIRONMENT tag 80).
const (
	keySlots = 16

	algGenRSA2048 = 0xF3 // key generation and import: RSA-2048
	algGenEC      = 0xEC // key generation and import: EC, explicit parameters
	algRSAPKCS1   = 0x11 // signature and decryption: RSA PKCS#1 v1.5
	algECDSASHA1  = 0x21 // signature: ECDSA, the card hashes with SHA-1

	rsaBits     = 2048
	rsaExponent = 65537
)

// Security environments (MANAGE SECURITY ENVIRONMENT P2).
const (
	seKeyGen   = 0x00 // GENERATE ASYMMETRIC KEY PAIR and PUT DATA
	seSign     = 0xB6 // digital signature template
	seDecipher = 0xB8 // confidentiality template
)

// securityEnv is the environment the last MSE SET established; it lives in
// RAM.
type securityEnv struct {
	set    bool
	kind   byte // seKeyGen, seSign or seDecipher
	alg    byte
	keyRef byte
}

// Key record kinds, the first byte of a slot's record.
const (
	kindRSA = 1 // PKCS#1 private key DER follows
	kindEC  = 2 // curve index, then the private scalar
)

func keySlotKey(ref byte) string { return fmt.Sprintf("iso/k/%02X", ref) }

// requirePIN is the rule for every security operation: the PIN verified.
func requirePIN(env *firmware.Context) error {
	if !env.Security.Has(pinRef) {
		return apdu.SWSecurityStatusNotSatisfied
	}
	return nil
}

// manageSecurityEnvironment is MSE SET (P1 41) of a key generation (P2 00),
// signature (B6) or decipher (B8) environment: 80 algorithm, optional 81
// file reference (ignored), 84 key reference.
func (a *Applet) manageSecurityEnvironment(env *firmware.Context, cmd apdu.Command) error {
	if cmd.P1 != 0x41 {
		return apdu.SWIncorrectP1P2
	}
	algs := map[byte][]byte{seKeyGen: {algGenRSA2048, algGenEC}, seSign: {algRSAPKCS1, algECDSASHA1}, seDecipher: {algRSAPKCS1}}
	ok, known := algs[cmd.P2]
	if !known {
		return apdu.SWIncorrectP1P2
	}
	if err := requirePIN(env); err != nil {
		return err
	}
	a.se = securityEnv{}
	tlvs, err := apdu.ParseTLVs(cmd.Data)
	if err != nil {
		return apdu.SWIncorrectData
	}
	se := securityEnv{set: true, kind: cmd.P2}
	var haveAlg, haveRef bool
	for _, t := range tlvs {
		switch t.Tag {
		case 0x80:
			if len(t.Value) != 1 || !slices.Contains(ok, t.Value[0]) {
				return apdu.SWIncorrectData
			}
			se.alg, haveAlg = t.Value[0], true
		case 0x84:
			if len(t.Value) != 1 || t.Value[0] >= keySlots {
				return apdu.SWIncorrectData
			}
			se.keyRef, haveRef = t.Value[0], true
		case 0x81:
		default:
			return apdu.SWIncorrectData
		}
	}
	if !haveAlg || !haveRef {
		return apdu.SWIncorrectData
	}
	a.se = se
	return nil
}

// environment returns the security environment if it is of the given kind
// (else 6985) and the PIN is verified (else 6982).
func (a *Applet) environment(env *firmware.Context, kind byte) (securityEnv, error) {
	if err := requirePIN(env); err != nil {
		return securityEnv{}, err
	}
	if !a.se.set || a.se.kind != kind {
		return securityEnv{}, apdu.SWConditionsNotSatisfied
	}
	return a.se, nil
}

// generateKeyPair is GENERATE ASYMMETRIC KEY PAIR into the environment's key
// slot: RSA-2048 (no data) or EC on the curve the data's explicit domain
// parameters name. It answers the public key, 7F49.
func (a *Applet) generateKeyPair(env *firmware.Context, cmd apdu.Command) ([]byte, error) {
	se, err := a.environment(env, seKeyGen)
	if err != nil {
		return nil, err
	}
	switch se.alg {
	case algGenRSA2048:
		if len(cmd.Data) != 0 {
			return nil, apdu.SWWrongLength
		}
		key, err := rsa.GenerateKey(env.Rand, rsaBits)
		if err != nil {
			return nil, fmt.Errorf("isoapp: generating RSA key: %w", err)
		}
		if err := env.Store.Put(keySlotKey(se.keyRef), append([]byte{kindRSA}, x509.MarshalPKCS1PrivateKey(key)...)); err != nil {
			return nil, err
		}
		return rsaPublic(&key.PublicKey), nil
	default:
		params, idx, c, err := a.curves.ecParams(cmd.Data)
		if err != nil {
			return nil, err
		}
		d, err := c.RandScalar(env.Rand)
		if err != nil {
			return nil, fmt.Errorf("isoapp: generating EC key: %w", err)
		}
		if err := env.Store.Put(keySlotKey(se.keyRef), ecRecord(idx, c, d)); err != nil {
			return nil, err
		}
		return ecPublic(params, c, d), nil
	}
}

// rsaPublic is 7F49 {81 modulus, 82 exponent}.
func rsaPublic(pub *rsa.PublicKey) []byte {
	return apdu.Nest(0x7F49,
		apdu.AppendTLV(nil, 0x81, pub.N.Bytes()),
		apdu.AppendTLV(nil, 0x82, big.NewInt(int64(pub.E)).Bytes()))
}

// ecPublic is 7F49 with the domain parameters as received (81–85), the
// public point (86) and the cofactor (87).
func ecPublic(params map[apdu.Tag][]byte, c *curve, d *big.Int) []byte {
	var parts [][]byte
	for tag := apdu.Tag(0x81); tag <= 0x85; tag++ {
		parts = append(parts, apdu.AppendTLV(nil, tag, params[tag]))
	}
	x, y := c.scalarBaseMult(d)
	parts = append(parts, apdu.AppendTLV(nil, 0x86, c.Marshal(x, y)), apdu.AppendTLV(nil, 0x87, []byte{0x00, 0x01}))
	return apdu.Nest(0x7F49, parts...)
}

func ecRecord(idx int, c *curve, d *big.Int) []byte {
	return append([]byte{kindEC, byte(idx)}, d.FillBytes(make([]byte, (c.N.BitLen()+7)/8))...)
}

// ecParams reads explicit domain parameters (81 p, 82 a, 83 b, 84 G, 85 n,
// optional 87 cofactor, and in an import 88 d) and finds the curve; an
// unknown curve is 6A80.
func (cs curveSet) ecParams(data []byte) (map[apdu.Tag][]byte, int, *curve, error) {
	tlvs, err := apdu.ParseTLVs(data)
	if err != nil {
		return nil, 0, nil, apdu.SWIncorrectData
	}
	params := map[apdu.Tag][]byte{}
	for _, t := range tlvs {
		if t.Tag < 0x81 || t.Tag > 0x88 {
			return nil, 0, nil, apdu.SWIncorrectData
		}
		params[t.Tag] = t.Value
	}
	for tag := apdu.Tag(0x81); tag <= 0x85; tag++ {
		if len(params[tag]) == 0 {
			return nil, 0, nil, apdu.SWIncorrectData
		}
	}
	if h, ok := params[0x87]; ok && new(big.Int).SetBytes(h).Cmp(big.NewInt(1)) != 0 {
		return nil, 0, nil, apdu.SWIncorrectData
	}
	idx, c, ok := cs.find(params[0x81], params[0x82], params[0x83], params[0x84], params[0x85])
	if !ok {
		return nil, 0, nil, apdu.SWIncorrectData
	}
	return params, idx, c, nil
}

// storedKey is a key slot's contents, parsed.
type storedKey struct {
	rsa *rsa.PrivateKey
	ec  *curve
	d   *big.Int
	std *ecdsa.PrivateKey // EC on a curve of the standard library
}

// cachedKey is a parsed key kept in RAM with the record it was parsed from.
type cachedKey struct {
	raw []byte
	key storedKey
}

// parseKey parses a key slot's record.
func (cs curveSet) parseKey(raw []byte, ref byte) (storedKey, error) {
	bad := fmt.Errorf("%w: iso: key slot %d record is malformed", nvm.ErrCorrupt, ref)
	switch {
	case len(raw) > 1 && raw[0] == kindRSA:
		k, err := x509.ParsePKCS1PrivateKey(raw[1:])
		if err != nil {
			return storedKey{}, bad
		}
		return storedKey{rsa: k}, nil
	case len(raw) > 2 && raw[0] == kindEC && int(raw[1]) < len(cs):
		c := cs[raw[1]]
		k := storedKey{ec: c, d: new(big.Int).SetBytes(raw[2:])}
		if k.d.Sign() == 0 || k.d.Cmp(c.N) >= 0 {
			return storedKey{}, bad
		}
		if c.std != nil {
			std, err := ecdsa.ParseRawPrivateKey(c.std, k.d.FillBytes(make([]byte, (c.N.BitLen()+7)/8)))
			if err != nil {
				return storedKey{}, bad
			}
			k.std = std
		}
		return k, nil
	}
	return storedKey{}, bad
}

// key returns the key in slot ref (6A88 when empty). Parsed keys are kept
// in RAM and used again while the slot's record is unchanged.
func (a *Applet) key(s *nvm.Store, ref byte) (storedKey, error) {
	raw, ok := s.Get(keySlotKey(ref))
	if !ok {
		return storedKey{}, apdu.SWReferenceNotFound
	}
	if c := &a.keys[ref]; c.raw != nil && bytes.Equal(c.raw, raw) {
		return c.key, nil
	}
	k, err := a.curves.parseKey(raw, ref)
	if err != nil {
		return storedKey{}, err
	}
	a.keys[ref] = cachedKey{raw: bytes.Clone(raw), key: k}
	return k, nil
}

// performSecurityOperation is PSO COMPUTE DIGITAL SIGNATURE (9E 9A) and
// DECIPHER (80 86) with the key of the environment MSE set.
func (a *Applet) performSecurityOperation(env *firmware.Context, cmd apdu.Command) ([]byte, error) {
	switch {
	case cmd.P1 == 0x9E && cmd.P2 == 0x9A:
		return a.sign(env, cmd.Data)
	case cmd.P1 == 0x80 && cmd.P2 == 0x86:
		return a.decipher(env, cmd.Data)
	}
	return nil, apdu.SWIncorrectP1P2
}

func (a *Applet) sign(env *firmware.Context, data []byte) ([]byte, error) {
	se, err := a.environment(env, seSign)
	if err != nil {
		return nil, err
	}
	if len(data) == 0 {
		return nil, apdu.SWWrongLength
	}
	k, err := a.key(env.Store, se.keyRef)
	if err != nil {
		return nil, err
	}
	switch {
	case se.alg == algRSAPKCS1 && k.rsa != nil:
		// The data is a DigestInfo; hash 0 pads it as it is.
		sig, err := rsa.SignPKCS1v15(nil, k.rsa, crypto.Hash(0), data)
		if err != nil {
			return nil, apdu.SWIncorrectData // longer than the key allows
		}
		return sig, nil
	case se.alg == algECDSASHA1 && k.std != nil:
		digest := sha1.Sum(data)
		return ecdsa.SignASN1(env.Rand, k.std, digest[:])
	case se.alg == algECDSASHA1 && k.ec != nil:
		digest := sha1.Sum(data)
		return k.ec.sign(env.Rand, k.d, digest[:])
	}
	return nil, apdu.SWConditionsNotSatisfied // the slot holds the other kind of key
}

func (a *Applet) decipher(env *firmware.Context, data []byte) ([]byte, error) {
	se, err := a.environment(env, seDecipher)
	if err != nil {
		return nil, err
	}
	// The padding indicator byte 00, then the cryptogram.
	if len(data) < 2 || data[0] != 0x00 {
		return nil, apdu.SWIncorrectData
	}
	k, err := a.key(env.Store, se.keyRef)
	if err != nil {
		return nil, err
	}
	if k.rsa == nil {
		return nil, apdu.SWConditionsNotSatisfied
	}
	if len(data)-1 != k.rsa.Size() {
		return nil, apdu.SWWrongLength
	}
	plain, err := rsa.DecryptPKCS1v15(nil, k.rsa, data[1:])
	if err != nil {
		return nil, apdu.SWIncorrectData
	}
	return plain, nil
}

// putData imports a private key (P1-P2 3FFF) into the key generation
// environment's slot: RSA as 7F48 {92 p, 93 q, 94 q⁻¹ mod p, 95 dp, 96 dq}
// with the exponent 65537, EC as E0 {81–85 parameters, 87 cofactor, 88 d}.
func (a *Applet) putData(env *firmware.Context, cmd apdu.Command) error {
	if cmd.P1 != 0x3F || cmd.P2 != 0xFF {
		return apdu.SWIncorrectP1P2
	}
	if !a.opt.KeyImport {
		return swNotAllowed
	}
	se, err := a.environment(env, seKeyGen)
	if err != nil {
		return err
	}
	outer, rest, err := apdu.ParseTLV(cmd.Data)
	if err != nil || len(rest) != 0 {
		return apdu.SWIncorrectData
	}
	var record []byte
	switch {
	case se.alg == algGenRSA2048 && outer.Tag == 0x7F48:
		key, err := rsaFromCRT(outer.Value)
		if err != nil {
			return err
		}
		record = append([]byte{kindRSA}, x509.MarshalPKCS1PrivateKey(key)...)
	case se.alg == algGenEC && outer.Tag == 0xE0:
		params, idx, c, err := a.curves.ecParams(outer.Value)
		if err != nil {
			return err
		}
		d := new(big.Int).SetBytes(params[0x88])
		if d.Sign() == 0 || d.Cmp(c.N) >= 0 {
			return apdu.SWIncorrectData
		}
		record = ecRecord(idx, c, d)
	default:
		return apdu.SWIncorrectData
	}
	return env.Store.Put(keySlotKey(se.keyRef), record)
}

// rsaFromCRT rebuilds an RSA-2048 key with exponent 65537 from its CRT
// parameters and checks them against each other.
func rsaFromCRT(v []byte) (*rsa.PrivateKey, error) {
	tlvs, err := apdu.ParseTLVs(v)
	if err != nil {
		return nil, apdu.SWIncorrectData
	}
	part := map[apdu.Tag]*big.Int{}
	for _, t := range tlvs {
		part[t.Tag] = new(big.Int).SetBytes(t.Value)
	}
	for tag := apdu.Tag(0x92); tag <= 0x96; tag++ {
		if part[tag] == nil || part[tag].Sign() == 0 {
			return nil, apdu.SWIncorrectData
		}
	}
	p, q := part[0x92], part[0x93]
	n := new(big.Int).Mul(p, q)
	if n.BitLen() != rsaBits {
		return nil, apdu.SWIncorrectData
	}
	one := big.NewInt(1)
	pm1, qm1 := new(big.Int).Sub(p, one), new(big.Int).Sub(q, one)
	phi := new(big.Int).Mul(pm1, qm1)
	d := new(big.Int).ModInverse(big.NewInt(rsaExponent), phi)
	if d == nil {
		return nil, apdu.SWIncorrectData
	}
	key := &rsa.PrivateKey{PublicKey: rsa.PublicKey{N: n, E: rsaExponent}, D: d, Primes: []*big.Int{p, q}}
	if err := key.Validate(); err != nil {
		return nil, apdu.SWIncorrectData
	}
	key.Precompute()
	if key.Precomputed.Dp.Cmp(part[0x95]) != 0 || key.Precomputed.Dq.Cmp(part[0x96]) != 0 || key.Precomputed.Qinv.Cmp(part[0x94]) != 0 {
		return nil, apdu.SWIncorrectData // the parameters do not belong together, or the exponent is not 65537
	}
	return key, nil
}

// getChallenge answers Ne random bytes (1–256).
func (a *Applet) getChallenge(env *firmware.Context, cmd apdu.Command) ([]byte, error) {
	if cmd.P1 != 0 || cmd.P2 != 0 {
		return nil, apdu.SWIncorrectP1P2
	}
	if cmd.Ne == 0 || cmd.Ne > 256 || len(cmd.Data) != 0 {
		return nil, apdu.SWWrongLength
	}
	out := make([]byte, cmd.Ne)
	if _, err := io.ReadFull(env.Rand, out); err != nil {
		return nil, errors.Join(apdu.SWExecutionError, err)
	}
	return out, nil
}
