package piv

import (
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"errors"
	"math/big"

	"filippo.io/bigmod"

	"github.com/tesseracard/tessera/apdu"
	"github.com/tesseracard/tessera/firmware"
)

// generalAuthenticate is GENERAL AUTHENTICATE (SP 800-73-4 Part 2 §3.2.4):
// data 7C { 80 witness | 81 challenge | 82 response | 85 exponentiation }.
// Key reference 9B is the management key; a key slot signs, decrypts or
// derives.
func (a *Applet) generalAuthenticate(env *firmware.Context, cmd apdu.Command) ([]byte, error) {
	dyn, found, err := apdu.FindTLV(cmd.Data, 0x7C)
	if err != nil || !found {
		a.auth = authState{}
		return nil, apdu.SWIncorrectData
	}
	tlvs, err := tlvMap(dyn)
	if err != nil {
		a.auth = authState{}
		return nil, err
	}
	if cmd.P2 == refMgmtKey {
		return a.mgmtAuthenticate(env, cmd, tlvs)
	}
	a.auth = authState{}
	if !keySlot(cmd.P2) {
		return nil, apdu.SWReferenceNotFound
	}
	k, ok, err := a.loadKey(env, cmd.P2)
	if err != nil {
		return nil, err
	}
	if !ok || k.alg != cmd.P1 {
		return nil, apdu.SWIncorrectData
	}
	resp, hasResp := tlvs[0x82]
	chal, hasChal := tlvs[0x81]
	peer, hasPeer := tlvs[0x85]
	if !hasResp || len(resp) != 0 || hasChal == hasPeer {
		return nil, apdu.SWIncorrectData
	}
	if err := a.authorize(env, cmd.P2, k); err != nil {
		return nil, err
	}
	var out []byte
	if hasChal {
		out, err = privateOp(k, chal)
	} else {
		out, err = keyAgreement(k, peer)
		if err != nil {
			out, err = a.uncheckedAgreement(k, peer, err)
		}
	}
	if err != nil {
		return nil, err
	}
	out = a.keyQuirks(k, peer, out)
	// The result exists only in RAM until the quota is spent on record: a
	// power cut or a failed write before then answers no result at all.
	if err := a.spendQuota(env); err != nil {
		return nil, err
	}
	return apdu.Nest(0x7C, apdu.AppendTLV(nil, 0x82, out)), nil
}

// authorize enforces the key's PIN and touch policies. A PIN-always key
// consumes the PIN verification it uses, and on a cloud-signature card the
// operation consumes the TOTP code, whether or not it then succeeds. While
// the PIN is a transport value that must be changed first, no key may be
// used at all. The signature quota is checked here but spent only by a
// successful operation (spendQuota).
func (a *Applet) authorize(env *firmware.Context, slot byte, k key) error {
	st, err := pinStatus(env, keyPIN)
	if err != nil {
		return err
	}
	if st.MustChange {
		return apdu.SWSecurityStatusNotSatisfied
	}
	if err := a.cloudCheck(env); err != nil {
		return err
	}
	switch k.pinPolicy {
	case pinPolicyOnce:
		if !env.Security.Has(refPIN) {
			return apdu.SWSecurityStatusNotSatisfied
		}
	case pinPolicyAlways:
		if !env.Security.Has(refPINAlways) {
			return apdu.SWSecurityStatusNotSatisfied
		}
		if a.consumesAlways() {
			env.Security.Revoke(refPINAlways)
		}
	}
	if err := a.touch(env, slot, k.touchPolicy); err != nil {
		return err
	}
	a.consumeTOTP(env)
	return nil
}

// privateOp signs or decrypts: RSA is the raw private-key operation on a
// block the host padded; ECDSA signs a digest (truncated to the curve size
// as FIPS 186-4 says) and answers DER; Ed25519 signs the whole message.
func privateOp(k key, in []byte) ([]byte, error) {
	switch priv := k.priv.(type) {
	case *rsa.PrivateKey:
		// The input is the host's and the modulus public: comparing them
		// with math/big leaks nothing.
		if len(in) != priv.Size() || new(big.Int).SetBytes(in).Cmp(priv.N) >= 0 {
			return nil, apdu.SWIncorrectData
		}
		if payload, ok := pkcs1Type1(in); ok {
			// A PKCS #1 v1.5 signature block: Go's constant-time signer
			// pads it identically and computes the same value.
			return rsa.SignPKCS1v15(nil, priv, crypto.Hash(0), payload)
		}
		return rsaRaw(priv, in)
	case *ecdsa.PrivateKey:
		if len(in) == 0 || len(in) > (priv.Curve.Params().BitSize+7)/8 {
			return nil, apdu.SWIncorrectData
		}
		sig, err := ecdsa.SignASN1(nil, priv, in)
		if err != nil {
			return nil, err
		}
		return sig, nil
	case ed25519.PrivateKey:
		return priv.Sign(nil, in, crypto.Hash(0))
	}
	return nil, apdu.SWIncorrectData // an X25519 key cannot sign
}

// pkcs1Type1 returns the payload of a PKCS #1 v1.5 type-1 block
// (00 01 FF…FF 00 payload, at least 8 FF), as RFC 8017 §9.2 builds it.
func pkcs1Type1(b []byte) ([]byte, bool) {
	if len(b) < 11 || b[0] != 0 || b[1] != 1 {
		return nil, false
	}
	i := 2
	for i < len(b) && b[i] == 0xFF {
		i++
	}
	if i < 10 || i == len(b) || b[i] != 0 {
		return nil, false
	}
	return b[i+1:], true
}

// errRSAFault is returned by rsaRaw when its result does not check out
// against the public key: a fault (or a damaged key) during the private
// operation, whose answer could reveal a factor of the modulus.
var errRSAFault = errors.New("piv: RSA private operation failed its check")

// rsaRaw computes in^d mod n, RSA without padding (RFC 8017 §5.1.2 RSADP,
// with the Chinese remainder theorem), in constant time: the values are
// held as bigmod.Nat, whose arithmetic does not branch or index on secret
// data, as in crypto/rsa. (math/big's Exp is variable-time and would make
// the card a timing oracle for an imported key.) An input not below the
// modulus answers 6A80. The result is checked with the public exponent
// before it leaves the card.
func rsaRaw(k *rsa.PrivateKey, in []byte) ([]byte, error) {
	if len(k.Primes) != 2 {
		return nil, apdu.SWIncorrectData // the card makes and imports two-prime keys only
	}
	pc := k.Precomputed
	if pc.Dp == nil {
		k.Precompute()
		pc = k.Precomputed
	}
	N, err := bigmod.NewModulus(k.N.Bytes())
	if err != nil {
		return nil, err
	}
	P, err := bigmod.NewModulus(k.Primes[0].Bytes())
	if err != nil {
		return nil, err
	}
	Q, err := bigmod.NewModulus(k.Primes[1].Bytes())
	if err != nil {
		return nil, err
	}
	if P.Nat().IsOdd()&Q.Nat().IsOdd() != 1 {
		return nil, apdu.SWIncorrectData // not a valid key: bigmod's Exp needs odd moduli
	}
	c, err := bigmod.NewNat().SetBytes(in, N)
	if err != nil {
		return nil, apdu.SWIncorrectData // in ≥ n
	}
	qinv, err := bigmod.NewNat().SetBytes(pc.Qinv.Bytes(), P)
	if err != nil {
		return nil, err
	}
	t := bigmod.NewNat()
	m := bigmod.NewNat().Exp(t.Mod(c, P), pc.Dp.Bytes(), P)  // m1 = c^dP mod p
	m2 := bigmod.NewNat().Exp(t.Mod(c, Q), pc.Dq.Bytes(), Q) // m2 = c^dQ mod q
	m.Sub(t.Mod(m2, P), P)                                   // (m1 - m2) mod p
	m.Mul(qinv, P)                                           // h = qInv·(m1 - m2) mod p
	m.ExpandFor(N).Mul(t.Mod(Q.Nat(), N), N)                 // h·q
	m.Add(m2.ExpandFor(N), N)                                // m = m2 + h·q
	if bigmod.NewNat().ExpShortVarTime(m, uint(k.E), N).Equal(c) != 1 {
		return nil, errRSAFault
	}
	return m.Bytes(N), nil
}

// keyAgreement is ECDH (SP 800-73-4 Part 2 §3.2.4, tag 85): the peer's
// uncompressed point, or a 32-byte X25519 key; answers the shared secret.
func keyAgreement(k key, peer []byte) ([]byte, error) {
	var priv *ecdh.PrivateKey
	switch p := k.priv.(type) {
	case *ecdsa.PrivateKey:
		var err error
		if priv, err = p.ECDH(); err != nil {
			return nil, err
		}
	case *ecdh.PrivateKey:
		priv = p
	default:
		return nil, apdu.SWIncorrectData
	}
	pub, err := priv.Curve().NewPublicKey(peer)
	if err != nil {
		return nil, apdu.SWIncorrectData
	}
	secret, err := priv.ECDH(pub)
	if err != nil {
		return nil, apdu.SWIncorrectData
	}
	return secret, nil
}
