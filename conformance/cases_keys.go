package conformance

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"fmt"
	"math/big"
	"slices"

	"github.com/tesseracard/tessera/apdu"
	"github.com/tesseracard/tessera/hostdriver"
	"github.com/tesseracard/tessera/pivalg"
)

// Key slots (SP 800-73-4 Part 1 Table 4b): PIV authentication, card
// authentication, digital signature, key management; and the YubiKey's
// attestation key F9.
const (
	slotPIVAuth     = 0x9A
	slotSign        = 0x9C
	slotKeyMgmt     = 0x9D
	slotCardAuth    = 0x9E
	slotAttestation = 0xF9
)

// keyCases use a key generated on the card for each algorithm it offers:
// signatures (GENERAL AUTHENTICATE with a challenge, the padding made
// host-side for RSA), RSA decryption, key agreement (tag 85) and card
// authentication with 9E. Every answer is checked host-side with the public
// key GENERATE returned. On a real card they run only in the slots named
// with Options.Slots (NeedSlot).
func keyCases() []Case {
	const ref = "SP 800-73-4 Part 2 §3.2.4 (GENERAL AUTHENTICATE), §3.3.2 (GENERATE); SP 800-78-4 Table 6-2"
	var cs []Case
	for _, alg := range []byte{pivalg.RSA1024, pivalg.RSA2048, pivalg.RSA3072, pivalg.RSA4096} {
		bits := pivalg.RSABits(alg)
		cs = append(cs, Case{
			ID: fmt.Sprintf("PIV-SIGN-RSA%d", bits), Title: fmt.Sprintf("RSA-%d signs a PKCS#1 v1.5 and a PSS block padded host-side, both verify", bits),
			Ref: ref + "; RFC 8017 §8.1, §8.2 (the card computes RSASP1 on the block)" + yubikeyRef(alg), Class: Destructive, Needs: NeedMgmt | NeedPIN | NeedSlot,
			Run: func(ctx context.Context, e *Env) error {
				slot, pub, err := e.slotKey(ctx, alg, slotSign)
				if err != nil {
					return err
				}
				return e.rsaSign(ctx, alg, slot, pub.(*rsa.PublicKey))
			},
		}, Case{
			ID: fmt.Sprintf("PIV-DECRYPT-RSA%d", bits), Title: fmt.Sprintf("RSA-%d decrypts a PKCS#1 v1.5 block and answers the whole block, modulus-sized", bits),
			Ref: ref + "; RFC 8017 §7.2 (RSADP; the host removes the padding)" + yubikeyRef(alg), Class: Destructive, Needs: NeedMgmt | NeedPIN | NeedSlot,
			Run: func(ctx context.Context, e *Env) error { return e.rsaDecrypt(ctx, alg) },
		})
	}
	cs = append(cs,
		Case{
			ID: "PIV-SIGN-P384", Title: "ECDSA P-384 signs a SHA-384 digest as DER SEQUENCE { r, s } that verifies",
			Ref: ref + "; SP 800-78-4 §3.3 (ECDSA, X9.62 Ecdsa-Sig-Value)", Class: Destructive, Needs: NeedMgmt | NeedPIN | NeedSlot,
			Run: func(ctx context.Context, e *Env) error {
				slot, pub, err := e.slotKey(ctx, pivalg.P384, slotSign)
				if err != nil {
					return err
				}
				return e.ecdsaSign(ctx, pivalg.P384, slot, pub.(*ecdsa.PublicKey))
			},
		},
		Case{
			ID: "PIV-SIGN-ED25519", Title: "Ed25519 signs the message itself (no digest) and the signature verifies",
			Ref: ref + "; RFC 8032 §5.1.6; Yubico PIV: Ed25519 (firmware 5.7)", Class: Destructive, Needs: NeedMgmt | NeedPIN | NeedSlot,
			Run: func(ctx context.Context, e *Env) error {
				slot, pub, err := e.slotKey(ctx, pivalg.Ed25519, slotSign)
				if err != nil {
					return err
				}
				return e.ed25519Sign(ctx, slot, pub.(ed25519.PublicKey))
			},
		},
	)
	for _, alg := range []byte{pivalg.P256, pivalg.P384, pivalg.X25519} {
		cs = append(cs, Case{
			ID: "PIV-ECDH-" + ecdhName(alg), Title: fmt.Sprintf("%s key agreement (tag 85) answers the shared secret the host computes with the card's public key", ecdhName(alg)),
			Ref: ref + "; SP 800-56A §5.7.1.2 (the shared secret is x alone)" + yubikeyRef(alg), Class: Destructive, Needs: NeedMgmt | NeedPIN | NeedSlot,
			Run: func(ctx context.Context, e *Env) error {
				slot, pub, err := e.slotKey(ctx, alg, slotKeyMgmt)
				if err != nil {
					return err
				}
				return e.ecdh(ctx, alg, slot, pub)
			},
		})
	}
	cs = append(cs, Case{
		ID: "PIV-CARDAUTH-9E", Title: "the card authentication key 9E answers a challenge without the PIN, and the signature verifies",
		Ref:   "SP 800-73-4 Part 1 §3.1.4, Table 4b (9E: access rule Always); Part 2 §3.2.4; SP 800-85A-4 (card authentication, VE05.36 family); Yubico PIV: 9E PIN policy never",
		Class: Destructive, Needs: NeedMgmt | NeedSlot,
		Run: func(ctx context.Context, e *Env) error {
			slot, err := e.namedSlot(slotCardAuth)
			if err != nil {
				return err
			}
			pub, err := e.generate(ctx, slot, pivalg.P256)
			if err != nil {
				return err
			}
			if err := e.Logout(ctx); err != nil {
				return err
			}
			chal := make([]byte, 32)
			rand.Read(chal)
			sig, done, err := e.keyOpNoPIN(ctx, pivalg.P256, slot, 0x81, chal, "a challenge to 9E without the PIN")
			if done {
				return err
			}
			return checkECDSA(pub.(*ecdsa.PublicKey), chal, sig)
		},
	})
	return cs
}

// yubikeyRef cites the YubiKey documentation for the algorithms that are
// its extensions.
func yubikeyRef(alg byte) string {
	switch alg {
	case pivalg.RSA3072, pivalg.RSA4096, pivalg.Ed25519, pivalg.X25519:
		return "; Yubico PIV: " + pivalg.Name(alg) + " (firmware 5.7)"
	}
	return ""
}

func ecdhName(alg byte) string {
	switch alg {
	case pivalg.P256:
		return "P256"
	case pivalg.P384:
		return "P384"
	}
	return "X25519"
}

// namedSlot returns the slot a key case works in: want on a Fresh card; on
// a real card want if it is among the slots named (Options.Slots), else
// the first one named unless the case needs want itself (only one slot
// given, strict), else a skip.
func (e *Env) namedSlot(want byte, alternatives ...byte) (byte, error) {
	if e.fresh {
		return want, nil
	}
	named := e.plan.slots
	for _, s := range append([]byte{want}, alternatives...) {
		if slices.Contains(named, s) {
			return s, nil
		}
	}
	return 0, Skipf("needs slot %02X, which --slots does not name", want)
}

// slotKey generates a key of alg in slot want (or, on a real card, in any
// slot named), and returns the slot and public key.
func (e *Env) slotKey(ctx context.Context, alg, want byte) (byte, crypto.PublicKey, error) {
	slot, err := e.namedSlot(want, e.anySlot()...)
	if err != nil {
		return 0, nil, err
	}
	pub, err := e.generate(ctx, slot, alg)
	return slot, pub, err
}

// anySlot returns the slots named for the run (none on a Fresh card).
func (e *Env) anySlot() []byte {
	if e.fresh || e.plan == nil {
		return nil
	}
	return slices.DeleteFunc(slices.Clone(e.plan.slots), func(s byte) bool { return s == slotCardAuth })
}

// generate authenticates the management key and generates a key of alg in
// slot (SP 800-73-4 Part 2 §3.3.2), with the slot's default policies. On a
// real card the key is deleted afterwards (DELETE KEY, YubiKey 5.7). A
// card that refuses the algorithm is a skip, unless its SELECT answer
// advertised it.
func (e *Env) generate(ctx context.Context, slot, alg byte) (crypto.PublicKey, error) {
	return e.generateWith(ctx, slot, alg, nil)
}

// generateWith is generate with more of the control template AC: policies
// holds the PIN policy (AA) and touch policy (AB) TLVs, if any (Yubico PIV
// documentation, "PIN and touch policies").
func (e *Env) generateWith(ctx context.Context, slot, alg byte, policies []byte) (crypto.PublicKey, error) {
	if err := e.Authenticate(ctx); err != nil {
		return nil, err
	}
	// The deletion is registered before GENERATE is sent: an exchange
	// that fails after the card made the key (a GET RESPONSE of a long
	// answer refused once the run is interrupted, a real card's RSA-4096
	// taking past the case's time) leaves the key in the slot all the
	// same. Only a refusal by the card means it made none.
	made := true
	e.Cleanup(func(ctx context.Context) error {
		if !made {
			return nil
		}
		return e.deleteKey(ctx, slot)
	})
	r, err := e.Transmit(ctx, apdu.Command{INS: apdu.InsGenerateKeyPairOdd, P2: slot, Data: apdu.Nest(0xAC, apdu.AppendTLV(nil, 0x80, []byte{alg}), policies), Ne: 256})
	if err != nil {
		return nil, err
	}
	made = r.SW == apdu.SWSuccess || len(r.Data) > 0 // part of the public key came: the key is there
	if r.SW == apdu.SWIncorrectData || r.SW == apdu.SWIncorrectP1P2 || r.SW == apdu.SWFunctionNotSupported {
		adv, err := e.advertised(ctx)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(adv, alg) {
			return nil, Skipf("the card does not generate %s keys (GENERATE answered %s)", pivalg.Name(alg), swText(r.SW))
		}
		return nil, fmt.Errorf("GENERATE %s in %02X answered %s, yet SELECT lists the algorithm (AC 80 %02X)", pivalg.Name(alg), slot, swText(r.SW), alg)
	}
	if r.SW != apdu.SWSuccess {
		return nil, fmt.Errorf("GENERATE ASYMMETRIC KEY PAIR (%s) in %02X answered %s", pivalg.Name(alg), slot, swText(r.SW))
	}
	pub, err := parsePublicKey(alg, r.Data)
	if err != nil {
		return nil, fmt.Errorf("GENERATE %s answered % X: %w", pivalg.Name(alg), r.Data, err)
	}
	return pub, nil
}

// advertised returns the algorithms SELECT's application property template
// lists (AC { 80 alg ... }, SP 800-73-4 Part 2 Table 3), if any.
func (e *Env) advertised(ctx context.Context) ([]byte, error) {
	r, err := e.Transmit(ctx, selectCmd(pivAID()))
	if err != nil || r.SW != apdu.SWSuccess {
		return nil, err
	}
	apt, ok, err := apdu.FindTLV(r.Data, 0x61)
	if err != nil || !ok {
		return nil, nil
	}
	ac, ok, err := apdu.FindTLV(apt, 0xAC)
	if err != nil || !ok {
		return nil, nil
	}
	tlvs, err := apdu.ParseTLVs(ac)
	if err != nil {
		return nil, nil
	}
	var algs []byte
	for _, t := range tlvs {
		if t.Tag == 0x80 && len(t.Value) == 1 {
			algs = append(algs, t.Value[0])
		}
	}
	return algs, nil
}

// parsePublicKey parses a generated key's template 7F49 (SP 800-73-4 Part 2
// Table 11): RSA 81 modulus, 82 exponent; ECC 86 uncompressed point;
// Ed25519 and X25519 86 the 32-byte key (Yubico PIV).
func parsePublicKey(alg byte, b []byte) (crypto.PublicKey, error) {
	t, rest, err := apdu.ParseTLV(b)
	if err != nil || t.Tag != 0x7F49 || len(rest) != 0 {
		return nil, errors.New("not one 7F49 template")
	}
	get := func(tag apdu.Tag) ([]byte, error) {
		v, ok, err := apdu.FindTLV(t.Value, tag)
		if err != nil || !ok {
			return nil, fmt.Errorf("no %X in the template", uint32(tag))
		}
		return v, nil
	}
	if bits := pivalg.RSABits(alg); bits > 0 {
		n, err := get(0x81)
		if err != nil {
			return nil, err
		}
		ev, err := get(0x82)
		if err != nil {
			return nil, err
		}
		pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(ev).Int64())}
		if pub.N.BitLen() != bits || len(ev) > 4 || pub.E < 3 || pub.E%2 == 0 {
			return nil, fmt.Errorf("a %d-bit modulus and exponent % X, want %d bits and an odd exponent", pub.N.BitLen(), ev, bits)
		}
		return pub, nil
	}
	point, err := get(0x86)
	if err != nil {
		return nil, err
	}
	switch alg {
	case pivalg.P256:
		return ecdsa.ParseUncompressedPublicKey(elliptic.P256(), point)
	case pivalg.P384:
		return ecdsa.ParseUncompressedPublicKey(elliptic.P384(), point)
	case pivalg.Ed25519:
		if len(point) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("an Ed25519 key of %d bytes", len(point))
		}
		return ed25519.PublicKey(point), nil
	case pivalg.X25519:
		return ecdh.X25519().NewPublicKey(point)
	}
	return nil, fmt.Errorf("algorithm %02X", alg)
}

// parseP256 parses a P-256 public key template 7F49 { 86 point }.
func parseP256(b []byte) (*ecdsa.PublicKey, error) {
	pub, err := parsePublicKey(pivalg.P256, b)
	if err != nil {
		return nil, err
	}
	return pub.(*ecdsa.PublicKey), nil
}

// keyOp verifies the PIN (a key whose policy is "always" needs it before
// each use) and sends GENERAL AUTHENTICATE 7C { 82 empty, tag input } to
// the key in slot; it returns the response (82). done is true when the case
// can check no more: err says why, or is nil for a persona difference
// noted.
func (e *Env) keyOp(ctx context.Context, alg, slot byte, tag apdu.Tag, in []byte, what string) (out []byte, done bool, err error) {
	if err := e.verifyRight(ctx); err != nil {
		return nil, true, err
	}
	return e.keyOpNoPIN(ctx, alg, slot, tag, in, what)
}

// keyOpNoPIN is keyOp without the VERIFY.
func (e *Env) keyOpNoPIN(ctx context.Context, alg, slot byte, tag apdu.Tag, in []byte, what string) (out []byte, done bool, err error) {
	dyn := apdu.Nest(0x7C, apdu.AppendTLV(nil, 0x82, nil), apdu.AppendTLV(nil, tag, in))
	r, err := e.Transmit(ctx, apdu.Command{INS: apdu.InsGeneralAuthenticate, P1: alg, P2: slot, Data: dyn, Ne: 256})
	if err != nil {
		return nil, true, err
	}
	what = fmt.Sprintf("%s with the %s key in %02X", what, pivalg.Name(alg), slot)
	if done, err := e.signOrPersona(ctx, what, r.SW); done {
		return nil, true, err
	}
	out, err = hostdriver.DynamicAuthData(r.Data, 0x82)
	if err != nil {
		return nil, true, fmt.Errorf("%s answered % X: %w", what, r.Data, err)
	}
	return out, false, nil
}

// digestInfoSHA256 returns the DER DigestInfo prefix of a SHA-256 hash
// (RFC 8017 §9.2, note 1).
func digestInfoSHA256() []byte {
	return []byte{0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20}
}

// pkcs1SignBlock builds EMSA-PKCS1-v1_5 (RFC 8017 §9.2) of a SHA-256 hash
// for a k-byte modulus: 00 01 FF…FF 00 DigestInfo.
func pkcs1SignBlock(hash []byte, k int) []byte {
	t := append(digestInfoSHA256(), hash...)
	em := make([]byte, k)
	em[1] = 0x01
	for i := 2; i < k-len(t)-1; i++ {
		em[i] = 0xFF
	}
	copy(em[k-len(t):], t)
	return em
}

// pssBlock builds EMSA-PSS-ENCODE (RFC 8017 §9.1.1) of a SHA-256 hash with
// a 32-byte salt and MGF1-SHA-256, for a modulus of modBits bits, as a
// block as long as the modulus.
func pssBlock(hash []byte, modBits int) []byte {
	const hLen = sha256.Size
	emBits := modBits - 1
	emLen := (emBits + 7) / 8
	salt := make([]byte, hLen)
	rand.Read(salt)
	h := sha256.New()
	h.Write(make([]byte, 8))
	h.Write(hash)
	h.Write(salt)
	H := h.Sum(nil)
	db := make([]byte, emLen-hLen-1)
	db[len(db)-hLen-1] = 0x01
	copy(db[len(db)-hLen:], salt)
	mask := mgf1SHA256(H, len(db))
	for i := range db {
		db[i] ^= mask[i]
	}
	db[0] &= 0xFF >> (8*emLen - emBits)
	em := append(append(db, H...), 0xBC)
	k := (modBits + 7) / 8
	return append(make([]byte, k-len(em)), em...)
}

// mgf1SHA256 is MGF1 with SHA-256 (RFC 8017 §B.2.1).
func mgf1SHA256(seed []byte, n int) []byte {
	var out []byte
	for c := uint32(0); len(out) < n; c++ {
		h := sha256.New()
		h.Write(seed)
		h.Write([]byte{byte(c >> 24), byte(c >> 16), byte(c >> 8), byte(c)})
		out = h.Sum(out)
	}
	return out[:n]
}

// useKey checks the key of alg in slot works and matches pub: RSA signs
// (both paddings), ECDSA and Ed25519 sign, X25519 agrees on a secret.
func (e *Env) useKey(ctx context.Context, alg, slot byte, pub crypto.PublicKey) error {
	switch alg {
	case pivalg.P256, pivalg.P384:
		return e.ecdsaSign(ctx, alg, slot, pub.(*ecdsa.PublicKey))
	case pivalg.Ed25519:
		return e.ed25519Sign(ctx, slot, pub.(ed25519.PublicKey))
	case pivalg.X25519:
		return e.ecdh(ctx, alg, slot, pub)
	}
	return e.rsaSign(ctx, alg, slot, pub.(*rsa.PublicKey))
}

// ecdsaSign checks the ECDSA key in slot signs a digest of the curve's
// size (SHA-256, SHA-384) as DER that verifies with pub.
func (e *Env) ecdsaSign(ctx context.Context, alg, slot byte, pub *ecdsa.PublicKey) error {
	msg := []byte("tessera conformance ECDSA")
	digest := sha256.Sum256(msg)
	in := digest[:]
	if alg == pivalg.P384 {
		d := sha512.Sum384(msg)
		in = d[:]
	}
	sig, done, err := e.keyOp(ctx, alg, slot, 0x81, in, "signing")
	if done {
		return err
	}
	return checkECDSA(pub, in, sig)
}

// ed25519Sign checks the Ed25519 key in slot signs the message itself and
// the signature verifies with pub.
func (e *Env) ed25519Sign(ctx context.Context, slot byte, pub ed25519.PublicKey) error {
	msg := []byte("tessera conformance: Ed25519 signs the message, not a digest of it")
	sig, done, err := e.keyOp(ctx, pivalg.Ed25519, slot, 0x81, msg, "signing")
	if done {
		return err
	}
	if len(sig) != ed25519.SignatureSize {
		return fmt.Errorf("the Ed25519 signature is %d bytes, want %d", len(sig), ed25519.SignatureSize)
	}
	if !ed25519.Verify(pub, msg, sig) {
		return errors.New("the Ed25519 signature does not verify with the key's public key")
	}
	return nil
}

// rsaSign checks RSA signatures of both paddings, made host-side, by the
// key in slot: the card computes the raw private-key operation on the
// block (SP 800-73-4 Part 2 §3.2.4 leaves the padding to the host).
func (e *Env) rsaSign(ctx context.Context, alg, slot byte, pub *rsa.PublicKey) error {
	hash := sha256.Sum256([]byte("tessera conformance RSA"))
	for _, p := range []struct {
		name   string
		block  []byte
		verify func(sig []byte) error
	}{
		{"PKCS#1 v1.5", pkcs1SignBlock(hash[:], pub.Size()), func(sig []byte) error {
			return rsa.VerifyPKCS1v15(pub, crypto.SHA256, hash[:], sig)
		}},
		{"PSS", pssBlock(hash[:], pub.N.BitLen()), func(sig []byte) error {
			return rsa.VerifyPSS(pub, crypto.SHA256, hash[:], sig, &rsa.PSSOptions{SaltLength: sha256.Size})
		}},
	} {
		sig, done, err := e.keyOp(ctx, alg, slot, 0x81, p.block, "signing a "+p.name+" block")
		if done {
			return err
		}
		if len(sig) != pub.Size() {
			return fmt.Errorf("the %s signature is %d bytes, the modulus %d: RFC 8017 §8 wants a signature as long as the modulus (leading zero bytes kept)", p.name, len(sig), pub.Size())
		}
		if err := p.verify(sig); err != nil {
			return fmt.Errorf("the %s signature does not verify with the key's public key: %v", p.name, err)
		}
	}
	return nil
}

// rsaDecrypt encrypts a PKCS#1 v1.5 block (RFC 8017 §7.2.1, type 2)
// host-side with the card's public key and checks the card answers the
// whole block back: RSADP alone, the padding left for the host to check.
func (e *Env) rsaDecrypt(ctx context.Context, alg byte) error {
	slot, key, err := e.slotKey(ctx, alg, slotKeyMgmt)
	if err != nil {
		return err
	}
	pub := key.(*rsa.PublicKey)
	k := pub.Size()
	msg := make([]byte, 32)
	rand.Read(msg)
	block := make([]byte, k)
	block[1] = 0x02
	ps := block[2 : k-len(msg)-1]
	rand.Read(ps)
	for i := range ps {
		for ps[i] == 0 {
			ps[i] = byte(i%255 + 1)
		}
	}
	copy(block[k-len(msg):], msg)
	c := new(big.Int).Exp(new(big.Int).SetBytes(block), big.NewInt(int64(pub.E)), pub.N)
	out, done, err := e.keyOp(ctx, alg, slot, 0x81, c.FillBytes(make([]byte, k)), "decrypting")
	if done {
		return err
	}
	switch {
	case bytes.Equal(out, block):
		return nil
	case bytes.Equal(out, msg):
		return errors.New("the card answered the message alone: it removed the PKCS#1 padding, where GENERAL AUTHENTICATE answers the whole decrypted block")
	case len(out) < k && bytes.Equal(out, bytes.TrimLeft(block, "\x00")):
		return fmt.Errorf("the card answered %d bytes, the modulus %d: the decrypted block lost its leading 00 (RFC 8017 §7.2.2 I2OSP keeps it)", len(out), k)
	}
	return fmt.Errorf("the card answered %d bytes that are not the %d-byte block encrypted", len(out), k)
}

// ecdh sends a host key to the card's key of alg in slot (tag 85) and
// checks the answer is the shared secret the host computes with the card's
// public key.
func (e *Env) ecdh(ctx context.Context, alg, slot byte, key crypto.PublicKey) error {
	var cardPub *ecdh.PublicKey
	var err error
	var curve ecdh.Curve
	switch k := key.(type) {
	case *ecdsa.PublicKey:
		if cardPub, err = k.ECDH(); err != nil {
			return err
		}
		curve = cardPub.Curve()
	case *ecdh.PublicKey:
		cardPub, curve = k, k.Curve()
	}
	host, err := curve.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	want, err := host.ECDH(cardPub)
	if err != nil {
		return err
	}
	got, done, err := e.keyOp(ctx, alg, slot, 0x85, host.PublicKey().Bytes(), "key agreement")
	if done {
		return err
	}
	switch {
	case bytes.Equal(got, want):
		return nil
	case len(got) == 2*len(want)+1 && got[0] == 0x04 && bytes.Equal(got[1:1+len(want)], want):
		return fmt.Errorf("the card answered the whole shared point 04‖x‖y (%d bytes): the shared secret is x alone (SP 800-56A §5.7.1.2), %d bytes", len(got), len(want))
	}
	return fmt.Errorf("the card answered %d bytes that differ from the %d-byte shared secret the host computed", len(got), len(want))
}
