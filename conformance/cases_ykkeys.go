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
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"time"

	"github.com/tesseracard/tessera/apdu"
	"github.com/tesseracard/tessera/pivalg"
)

// The YubiKey's touch policies of a key (GENERATE tag AB, GET METADATA tag
// 02, second byte; Yubico PIV documentation, "PIN and touch policies").
const (
	touchAlways = 0x02 // a touch before every use
	touchCached = 0x03 // a touch, then 15 seconds without one
)

// touchCacheTime is how long a touch of policy "cached" lasts on a
// YubiKey.
const touchCacheTime = 15 * time.Second

// ykKeyCases are the cases of keys written by IMPORT, attested, used under
// a touch policy, and the checks of what a card must refuse: a point off
// the curve, an RSA input of the wrong size, an algorithm that is not the
// key's, a policy or algorithm GENERATE does not know.
func ykKeyCases() []Case {
	var cs []Case
	for _, k := range importKeys() {
		cs = append(cs, Case{
			ID:    "YK-IMPORT-" + strings.NewReplacer("-", "", "ECC", "").Replace(strings.ToUpper(pivalg.Name(k.alg))),
			Title: fmt.Sprintf("an imported %s key is reported imported with its public key by GET METADATA, and works with that key", pivalg.Name(k.alg)),
			Ref:   "Yubico PIV extension IMPORT ASYMMETRIC KEY (INS FE; RSA 01–05, EC 06, Ed25519 07, X25519 08), GET METADATA origin 02; SP 800-73-4 Part 2 §3.2.4" + yubikeyRef(k.alg),
			Class: Destructive, Needs: NeedMgmt | NeedPIN | NeedSlot,
			Run: func(ctx context.Context, e *Env) error { return e.importAndUse(ctx, k) },
		})
	}
	const attestRef = "Yubico PIV attestation (INS F9)"
	cs = append(cs,
		Case{
			ID: "YK-ATTEST-EXT", Title: "an attestation's Yubico extensions match GET VERSION, GET SERIAL and the PIN and touch policies the key was generated with",
			Ref: attestRef + "; extensions 1.3.6.1.4.1.41482.3.3 (version), .3.7 (serial), .3.8 (policies), .3.9 (form factor)", Class: Destructive, Needs: NeedMgmt | NeedSlot,
			Run: runAttestExtensions,
		},
		Case{
			ID: "YK-ATTEST-IMPORTED", Title: "ATTEST of an imported key answers 6A80: only a key generated on the card is attested",
			Ref: attestRef + ": only keys generated on the device (our reading of the status word: 6A80, as yubico-piv-tool reports it)", Class: Destructive, Needs: NeedMgmt | NeedSlot,
			Run: runAttestImported,
		},
		Case{
			ID: "YK-ATTEST-EMPTY", Title: "ATTEST of an empty slot answers 6A80 or 6A88, and of the attestation slot F9 itself 6A86 or 6A80",
			Ref: attestRef + ": a slot holding a generated key", Class: Destructive, Needs: NeedMgmt | NeedSlot,
			Run: runAttestEmpty,
		},
		Case{
			ID: "YK-TOUCH-ALWAYS", Title: "a key of touch policy always answers 6982 without a touch, signs with one, and needs a new touch for every signature",
			Ref: ykPolicyRef + ": touch always", Class: Destructive, Needs: NeedMgmt | NeedSlot,
			Run: func(ctx context.Context, e *Env) error { return e.touchPolicy(ctx, touchAlways) },
		},
		Case{
			ID: "YK-TOUCH-CACHED", Title: "a key of touch policy cached signs without a new touch for 15 seconds after one, then needs another",
			Ref: ykPolicyRef + ": touch cached (15 seconds)", Class: Destructive, Needs: NeedMgmt | NeedSlot,
			Run: func(ctx context.Context, e *Env) error { return e.touchPolicy(ctx, touchCached) },
		},
		Case{
			ID: "YK-TOUCH-MGMT", Title: "a management key set with touch required (SET MANAGEMENT KEY P2 FE) authenticates only with a touch, and GET METADATA says so",
			Ref: "Yubico PIV extension SET MANAGEMENT KEY (INS FF, P2 FE: touch required), GET METADATA 9B tag 02", Class: Destructive, Needs: NeedMgmt,
			Run: runTouchMgmt,
		},
		Case{
			ID: "YK-METADATA-GENERATED", Title: "GET METADATA of a generated key answers its algorithm, the policies GENERATE gave, origin generated and the public key GENERATE returned",
			Ref: "Yubico PIV extension GET METADATA (INS F7): tags 01, 02, 03, 04; GENERATE control template AC, tags AA and AB", Class: Destructive, Needs: NeedMgmt | NeedSlot,
			Run: runMetadataGenerated,
		},
		Case{
			ID: "YK-GENERATE-BAD-POLICY", Title: "GENERATE with a PIN or touch policy no card knows answers 6A80 and generates nothing",
			Ref: "Yubico PIV documentation, \"PIN and touch policies\" (AA 01–03, AB 01–03); SP 800-73-4 Part 2 §3.3.2 (6A80: data invalid)", Class: Destructive, Needs: NeedMgmt | NeedSlot,
			Run: runGenerateBadPolicy,
		},
		Case{
			ID: "PIV-GENERATE-BAD-ALG", Title: "GENERATE with an algorithm the card does not know answers 6A80 and generates nothing",
			Ref: "SP 800-73-4 Part 2 §3.3.2 (GENERATE ASYMMETRIC KEY PAIR: 6A80 for an unsupported algorithm); SP 800-78-4 Table 6-2", Class: Destructive, Needs: NeedMgmt | NeedSlot,
			Run: runGenerateBadAlg,
		},
		Case{
			ID: "PIV-GA-WRONG-ALG", Title: "GENERAL AUTHENTICATE naming another algorithm than the key's answers 6A80 or 6A86 and signs nothing",
			Ref: "SP 800-73-4 Part 2 §3.2.4 (P1 is the key's algorithm reference); SP 800-78-4 Table 6-2", Class: Destructive, Needs: NeedMgmt | NeedPIN | NeedSlot,
			Run: runWrongAlg,
		},
		Case{
			ID: "PIV-ECDH-BAD-POINT", Title: "key agreement with a point that is not on the curve answers 6A80, with no secret",
			Ref: "SP 800-73-4 Part 2 §3.2.4 (tag 85); SP 800-56A Rev. 3 §5.6.2.3.4 (ECC partial public-key validation: the point is on the curve)", Class: Destructive, Needs: NeedMgmt | NeedPIN | NeedSlot,
			Run: runECDHBadPoint,
		},
		Case{
			ID: "PIV-DECRYPT-BAD-LENGTH", Title: "RSA decryption of an input shorter than the modulus, or not below it, answers 6A80",
			Ref: "SP 800-73-4 Part 2 §3.2.4; RFC 8017 §5.1.2 (RSADP: \"ciphertext representative out of range\"), §7.2.2 (the ciphertext is k bytes)", Class: Destructive, Needs: NeedMgmt | NeedPIN | NeedSlot,
			Run: runDecryptBadLength,
		},
		Case{
			ID: "PIV-9C-PIN-ALWAYS", Title: "a key generated in 9C with the slot's default policy needs a VERIFY before every signature",
			Ref: "SP 800-73-4 Part 1 Table 4b (9C digital signature: PIN Always), §3.1.2; Part 2 §3.2.4; Yubico PIV: 9C PIN policy always by default", Class: Destructive, Needs: NeedMgmt | NeedPIN | NeedSlot,
			Run: run9CPINAlways,
		},
		Case{
			ID: "YK-RESET-PUK-ONLY", Title: "RESET with the PUK blocked but not the PIN answers 6985 and changes nothing",
			Ref: "Yubico PIV extension RESET (INS FB): only with the PIN and the PUK blocked", Class: Destructive, Needs: NeedPIN | NeedPUK | NeedBlockPUK,
			Run: runResetPUKOnly,
		},
	)
	return cs
}

// importKey is one key the host makes and IMPORT loads.
type importKey struct {
	alg  byte
	make func() (data []byte, pub crypto.PublicKey) // IMPORT's TLVs; the public key
}

// importKeys returns a key maker for every algorithm IMPORT takes.
func importKeys() []importKey {
	ec := func(alg byte, c elliptic.Curve) importKey {
		return importKey{alg, func() ([]byte, crypto.PublicKey) {
			k, _ := ecdsa.GenerateKey(c, rand.Reader)
			d := k.D.FillBytes(make([]byte, (c.Params().BitSize+7)/8))
			return apdu.AppendTLV(nil, 0x06, d), &k.PublicKey
		}}
	}
	var ks []importKey
	for _, alg := range []byte{pivalg.RSA1024, pivalg.RSA2048, pivalg.RSA3072, pivalg.RSA4096} {
		ks = append(ks, importKey{alg, func() ([]byte, crypto.PublicKey) {
			k, _ := rsa.GenerateKey(rand.Reader, pivalg.RSABits(alg))
			k.Precompute()
			var b []byte
			for i, v := range []*big.Int{k.Primes[0], k.Primes[1], k.Precomputed.Dp, k.Precomputed.Dq, k.Precomputed.Qinv} {
				b = apdu.AppendTLV(b, apdu.Tag(i+1), v.Bytes())
			}
			return b, &k.PublicKey
		}})
	}
	return append(ks,
		ec(pivalg.P256, elliptic.P256()),
		ec(pivalg.P384, elliptic.P384()),
		importKey{pivalg.Ed25519, func() ([]byte, crypto.PublicKey) {
			pub, priv, _ := ed25519.GenerateKey(rand.Reader)
			return apdu.AppendTLV(nil, 0x07, priv.Seed()), pub
		}},
		importKey{pivalg.X25519, func() ([]byte, crypto.PublicKey) {
			k, _ := ecdh.X25519().GenerateKey(rand.Reader)
			return apdu.AppendTLV(nil, 0x08, k.Bytes()), k.PublicKey()
		}},
	)
}

// publicTLVs encodes a public key as GET METADATA's tag 04 holds it: RSA 81
// modulus, 82 exponent; the others 86 (the uncompressed point, or the 32
// bytes of Ed25519 and X25519).
func publicTLVs(pub crypto.PublicKey) []byte {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return apdu.AppendTLV(apdu.AppendTLV(nil, 0x81, k.N.Bytes()), 0x82, big.NewInt(int64(k.E)).Bytes())
	case *ecdsa.PublicKey:
		point, _ := k.Bytes()
		return apdu.AppendTLV(nil, 0x86, point)
	case ed25519.PublicKey:
		return apdu.AppendTLV(nil, 0x86, k)
	case *ecdh.PublicKey:
		return apdu.AppendTLV(nil, 0x86, k.Bytes())
	}
	return nil
}

// importInto imports a new key of k's algorithm into slot, the management
// key authenticated, and returns its public key. An algorithm the card
// refuses is a skip, unless SELECT lists it.
func (e *Env) importInto(ctx context.Context, slot byte, k importKey) (crypto.PublicKey, error) {
	data, pub := k.make()
	if err := e.Authenticate(ctx); err != nil {
		return nil, err
	}
	sw, err := e.SW(ctx, apdu.Command{INS: apdu.InsImportKey, P1: k.alg, P2: slot, Data: data})
	switch {
	case err != nil:
		return nil, err
	case sw == apdu.SWINSNotSupported:
		return nil, Skipf("the card does not offer IMPORT, a YubiKey extension")
	case sw == apdu.SWIncorrectP1P2 || sw == apdu.SWIncorrectData || sw == apdu.SWFunctionNotSupported:
		adv, err := e.advertised(ctx)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(adv, k.alg) {
			return nil, Skipf("the card does not import %s keys (IMPORT answered %s)", pivalg.Name(k.alg), swText(sw))
		}
	}
	if err := expectSW(fmt.Sprintf("IMPORT of a %s key into %02X", pivalg.Name(k.alg), slot), sw, apdu.SWSuccess); err != nil {
		return nil, err
	}
	return pub, nil
}

// importAndUse imports a key of k's algorithm, checks GET METADATA (where
// the card offers it) and uses the key.
func (e *Env) importAndUse(ctx context.Context, k importKey) error {
	slot, err := e.keySlot()
	if err != nil {
		return err
	}
	pub, err := e.importInto(ctx, slot, k)
	if err != nil {
		return err
	}
	md, err := e.offeredMetadata(ctx, slot)
	switch {
	case err != nil:
		return fmt.Errorf("after IMPORT: %w", err)
	case md != nil:
		if err := checkKeyMetadata(slot, md); err != nil {
			return err
		}
		for _, w := range []struct {
			tag  apdu.Tag
			want []byte
			what string
		}{{0x01, []byte{k.alg}, "the algorithm"}, {0x03, []byte{0x02}, "origin imported"}, {0x04, publicTLVs(pub), "the public key the host made"}} {
			if err := wantTag(md, slot, w.tag, w.want); err != nil {
				return fmt.Errorf("after IMPORT of a %s key: %w (%s)", pivalg.Name(k.alg), err, w.what)
			}
		}
	}
	return e.useKey(ctx, k.alg, slot, pub)
}

// attestation sends ATTEST of slot and parses the certificate.
func (e *Env) attestation(ctx context.Context, slot byte) (*x509.Certificate, error) {
	r, err := e.Transmit(ctx, apdu.Command{INS: apdu.InsAttest, P1: slot, Ne: 256})
	if err != nil {
		return nil, err
	}
	if r.SW == apdu.SWINSNotSupported {
		return nil, Skipf("the card does not offer ATTEST, a YubiKey extension")
	}
	if err := expectSW(fmt.Sprintf("ATTEST %02X", slot), r.SW, apdu.SWSuccess); err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(r.Data)
	if err != nil {
		return nil, fmt.Errorf("ATTEST %02X answered %d bytes that are no X.509 certificate: %v", slot, len(r.Data), err)
	}
	return cert, nil
}

func runAttestExtensions(ctx context.Context, e *Env) error {
	slot, err := e.keySlot()
	if err != nil {
		return err
	}
	// Policies other than the slot's defaults: PIN always, touch cached.
	pol := []byte{pinPolicyAlways, touchCached}
	if _, err := e.generateWith(ctx, slot, pivalg.P256, append(apdu.AppendTLV(nil, 0xAA, pol[:1]), apdu.AppendTLV(nil, 0xAB, pol[1:])...)); err != nil {
		return err
	}
	cert, err := e.attestation(ctx, slot)
	if err != nil {
		return err
	}
	ext := map[string][]byte{}
	for _, x := range cert.Extensions {
		ext[x.Id.String()] = x.Value
	}
	ver, err := e.Transmit(ctx, apdu.Command{INS: apdu.InsGetVersion, Ne: 256})
	if err != nil {
		return err
	}
	if v := ext[ykOID(3).String()]; ver.SW == apdu.SWSuccess && !bytes.Equal(v, ver.Data) {
		return fmt.Errorf("firmware version extension (.3.3) % X, GET VERSION % X", v, ver.Data)
	}
	serial, err := e.serial(ctx)
	if err != nil {
		return err
	}
	var got int64
	if rest, err := asn1.Unmarshal(ext[ykOID(7).String()], &got); err != nil || len(rest) != 0 || got != int64(serial) {
		return fmt.Errorf("serial number extension (.3.7) % X (%d), GET SERIAL %d: the attestation must name the card that made the key", ext[ykOID(7).String()], got, serial)
	}
	if v := ext[ykOID(8).String()]; !bytes.Equal(v, pol) {
		return fmt.Errorf("policy extension (.3.8) % X, GENERATE gave PIN policy %02X and touch policy %02X", v, pol[0], pol[1])
	}
	if v := ext[ykOID(9).String()]; len(v) != 1 {
		return fmt.Errorf("form factor extension (.3.9) % X, want one byte", v)
	}
	return nil
}

func runAttestImported(ctx context.Context, e *Env) error {
	slot, err := e.keySlot()
	if err != nil {
		return err
	}
	if _, err := e.importInto(ctx, slot, importKeys()[4]); err != nil { // P-256
		return err
	}
	sw, err := e.SW(ctx, apdu.Command{INS: apdu.InsAttest, P1: slot, Ne: 256})
	if err != nil {
		return err
	}
	if sw == apdu.SWINSNotSupported {
		return Skipf("the card does not offer ATTEST, a YubiKey extension")
	}
	return expectSW(fmt.Sprintf("ATTEST of the key imported into %02X", slot), sw, apdu.SWIncorrectData)
}

func runAttestEmpty(ctx context.Context, e *Env) error {
	slot, err := e.keySlot()
	if err != nil {
		return err
	}
	if err := e.deleteKey(ctx, slot); err != nil {
		return err
	}
	sw, err := e.SW(ctx, apdu.Command{INS: apdu.InsAttest, P1: slot, Ne: 256})
	if err != nil {
		return err
	}
	if sw == apdu.SWINSNotSupported {
		return Skipf("the card does not offer ATTEST, a YubiKey extension")
	}
	if err := expectSW(fmt.Sprintf("ATTEST of the empty slot %02X", slot), sw, apdu.SWIncorrectData, apdu.SWReferenceNotFound); err != nil {
		return err
	}
	return e.run(ctx, step("ATTEST of the attestation slot F9", apdu.Command{INS: apdu.InsAttest, P1: slotAttestation, Ne: 256}, apdu.SWIncorrectP1P2, apdu.SWIncorrectData))
}

// toucher returns the card's touch sensor, set to give every touch, and
// sets it so again after the case; a skip on a card whose sensor the suite
// cannot drive (a real card: the suite does not ask a person to touch).
func (e *Env) toucher() (Toucher, error) {
	t, ok := e.card.(Toucher)
	if !ok {
		return nil, Skipf("needs a simulated card: the suite cannot touch a real card's sensor")
	}
	e.Cleanup(func(context.Context) error { return t.SetTouchMode("auto") })
	return t, t.SetTouchMode("auto")
}

// touchPolicy generates a P-256 key of PIN policy never and touch policy
// pol, checks GET METADATA reports it, and signs with the sensor giving no
// touch, giving one, and giving none again: a key of policy always must
// refuse, one of policy cached sign on the cached touch, until 15 seconds
// have passed (where the suite can move the card's clock).
func (e *Env) touchPolicy(ctx context.Context, pol byte) error {
	t, err := e.toucher()
	if err != nil {
		return err
	}
	slot, err := e.namedSlot(slotPIVAuth, e.anySlot()...)
	if err != nil {
		return err
	}
	key, err := e.generateWith(ctx, slot, pivalg.P256, append(apdu.AppendTLV(nil, 0xAA, []byte{pinPolicyNever}), apdu.AppendTLV(nil, 0xAB, []byte{pol})...))
	if err != nil {
		return err
	}
	pub := key.(*ecdsa.PublicKey)
	if md, err := e.offeredMetadata(ctx, slot); err != nil {
		return err
	} else if md != nil {
		if err := wantTag(md, slot, 0x02, []byte{pinPolicyNever, pol}); err != nil {
			return fmt.Errorf("%w (the PIN and touch policies GENERATE gave)", err)
		}
	}
	want := func(ok bool) apdu.StatusWord {
		if ok {
			return apdu.SWSuccess
		}
		return apdu.SWSecurityStatusNotSatisfied
	}
	type signStep struct {
		what  string
		mode  string
		clock time.Duration
		sw    apdu.StatusWord
	}
	steps := []signStep{
		{"a signature with no touch given", "never", 0, apdu.SWSecurityStatusNotSatisfied},
		{"a signature with a touch", "auto", 0, apdu.SWSuccess},
		{"a second signature, no touch given, at once", "never", 0, want(pol == touchCached)},
	}
	if _, ok := e.card.(ClockAdvancer); ok {
		steps = append(steps, signStep{"a signature with no touch given, 16 seconds after the last touch", "never", touchCacheTime + time.Second, apdu.SWSecurityStatusNotSatisfied})
	}
	for _, s := range steps {
		if err := t.SetTouchMode(s.mode); err != nil {
			return err
		}
		if s.clock > 0 {
			e.card.(ClockAdvancer).AdvanceClock(s.clock)
		}
		what := fmt.Sprintf("%s, with the key of touch policy %02X in %02X", s.what, pol, slot)
		if done, err := e.policySign(ctx, slot, pub, what, s.sw); done {
			return err
		}
	}
	return nil
}

func runTouchMgmt(ctx context.Context, e *Env) error {
	t, err := e.toucher()
	if err != nil {
		return err
	}
	alg, err := e.MgmtAlg(ctx)
	if err != nil {
		return err
	}
	origTouch, err := e.mgmtTouch(ctx)
	if err != nil {
		return err
	}
	if err := e.Authenticate(ctx); err != nil {
		return err
	}
	sw, err := e.SW(ctx, setMgmtKeyCmd(alg, e.creds.MgmtKey, true))
	if err != nil {
		return err
	}
	if sw == apdu.SWINSNotSupported {
		return Skipf("the card does not offer SET MANAGEMENT KEY, a YubiKey extension")
	}
	if err := expectSW("SET MANAGEMENT KEY with touch required (P2 FE), the same key", sw, apdu.SWSuccess); err != nil {
		return err
	}
	e.Cleanup(func(ctx context.Context) error {
		if err := t.SetTouchMode("auto"); err != nil {
			return err
		}
		if err := e.Authenticate(ctx); err != nil {
			return err
		}
		return e.run(ctx, step("SET MANAGEMENT KEY back with its touch policy", setMgmtKeyCmd(alg, e.creds.MgmtKey, origTouch), apdu.SWSuccess))
	})
	if md, sw, err := e.Metadata(ctx, refMgmt); err != nil {
		return err
	} else if pol, ok := metadataTag(md, 0x02); sw == apdu.SWSuccess && (!ok || len(pol) != 2 || pol[1] != touchAlways) {
		return fmt.Errorf("GET METADATA 9B answered % X after SET MANAGEMENT KEY with P2 FE: want touch policy 02 (always) in tag 02", md)
	}
	if err := e.Reset(ctx); err != nil {
		return err
	}
	if err := t.SetTouchMode("never"); err != nil {
		return err
	}
	if err := e.Authenticate(ctx); err == nil {
		return fmt.Errorf("the management key of touch policy always authenticated with no touch given")
	}
	if err := t.SetTouchMode("auto"); err != nil {
		return err
	}
	if err := e.Reset(ctx); err != nil {
		return err
	}
	if err := e.Authenticate(ctx); err != nil {
		return fmt.Errorf("with a touch given: %w", err)
	}
	return nil
}

func runMetadataGenerated(ctx context.Context, e *Env) error {
	slot, err := e.keySlot()
	if err != nil {
		return err
	}
	pol := []byte{pinPolicyOnce, touchNever}
	pub, err := e.generateWith(ctx, slot, pivalg.P384, append(apdu.AppendTLV(nil, 0xAA, pol[:1]), apdu.AppendTLV(nil, 0xAB, pol[1:])...))
	if err != nil {
		return err
	}
	md, err := e.metadataOf(ctx, slot)
	if err != nil {
		return err
	}
	if err := checkKeyMetadata(slot, md); err != nil {
		return err
	}
	for _, w := range []struct {
		tag  apdu.Tag
		want []byte
		what string
	}{{0x01, []byte{pivalg.P384}, "the algorithm"}, {0x02, pol, "the policies GENERATE gave"}, {0x03, []byte{0x01}, "origin generated"}, {0x04, publicTLVs(pub), "the public key GENERATE returned"}} {
		if err := wantTag(md, slot, w.tag, w.want); err != nil {
			return fmt.Errorf("%w (%s)", err, w.what)
		}
	}
	return nil
}

// wantNoKey checks slot holds no key after a refused command: GET METADATA
// 6A88 where the card offers it.
func (e *Env) wantNoKey(ctx context.Context, slot byte, after string) error {
	_, sw, err := e.Metadata(ctx, slot)
	if err != nil || sw == apdu.SWINSNotSupported {
		return err
	}
	return expectSW(fmt.Sprintf("GET METADATA %02X after %s", slot, after), sw, apdu.SWReferenceNotFound)
}

func runGenerateBadPolicy(ctx context.Context, e *Env) error {
	slot, err := e.keySlot()
	if err != nil {
		return err
	}
	if err := e.deleteKey(ctx, slot); err != nil {
		return err
	}
	for _, bad := range []struct {
		what string
		tlv  []byte
	}{
		{"PIN policy 07", apdu.AppendTLV(nil, 0xAA, []byte{0x07})},
		{"touch policy 07", apdu.AppendTLV(nil, 0xAB, []byte{0x07})},
	} {
		what := fmt.Sprintf("GENERATE in %02X with %s", slot, bad.what)
		if err := e.run(ctx, step(what, apdu.Command{INS: apdu.InsGenerateKeyPairOdd, P2: slot, Data: apdu.Nest(0xAC, apdu.AppendTLV(nil, 0x80, []byte{pivalg.P256}), bad.tlv), Ne: 256}, apdu.SWIncorrectData)); err != nil {
			return err
		}
		if err := e.wantNoKey(ctx, slot, what); err != nil {
			return err
		}
	}
	return nil
}

func runGenerateBadAlg(ctx context.Context, e *Env) error {
	slot, err := e.keySlot()
	if err != nil {
		return err
	}
	if err := e.deleteKey(ctx, slot); err != nil {
		return err
	}
	// 0x42 is no algorithm identifier of SP 800-78-4 Table 6-2, nor the
	// YubiKey's.
	what := fmt.Sprintf("GENERATE in %02X with algorithm 42", slot)
	if err := e.run(ctx, step(what, apdu.Command{INS: apdu.InsGenerateKeyPairOdd, P2: slot, Data: apdu.Nest(0xAC, apdu.AppendTLV(nil, 0x80, []byte{0x42})), Ne: 256}, apdu.SWIncorrectData)); err != nil {
		return err
	}
	return e.wantNoKey(ctx, slot, what)
}

func runWrongAlg(ctx context.Context, e *Env) error {
	slot, err := e.keySlot()
	if err != nil {
		return err
	}
	if _, err := e.generate(ctx, slot, pivalg.P256); err != nil {
		return err
	}
	if err := e.verifyRight(ctx); err != nil {
		return err
	}
	digest := make([]byte, 32)
	rand.Read(digest)
	for _, alg := range []byte{pivalg.P384, pivalg.RSA2048} {
		sw, _, err := e.Sign(ctx, alg, slot, digest)
		if err != nil {
			return err
		}
		if err := expectSW(fmt.Sprintf("GENERAL AUTHENTICATE of the P-256 key in %02X naming %s", slot, pivalg.Name(alg)), sw, apdu.SWIncorrectData, apdu.SWIncorrectP1P2); err != nil {
			return err
		}
	}
	return nil
}

func runECDHBadPoint(ctx context.Context, e *Env) error {
	slot, err := e.namedSlot(slotKeyMgmt, e.anySlot()...)
	if err != nil {
		return err
	}
	if _, err := e.generate(ctx, slot, pivalg.P256); err != nil {
		return err
	}
	// (1, 1) is on no NIST curve: y² = x³ - 3x + b needs b = 3.
	bad := make([]byte, 65)
	bad[0], bad[32], bad[64] = 0x04, 1, 1
	if err := e.verifyRight(ctx); err != nil {
		return err
	}
	dyn := apdu.Nest(0x7C, apdu.AppendTLV(nil, 0x82, nil), apdu.AppendTLV(nil, 0x85, bad))
	r, err := e.Transmit(ctx, apdu.Command{INS: apdu.InsGeneralAuthenticate, P1: pivalg.P256, P2: slot, Data: dyn, Ne: 256})
	if err != nil {
		return err
	}
	if r.SW == apdu.SWSuccess {
		return fmt.Errorf("key agreement with the point (1, 1), which is not on P-256, answered %d bytes and 9000: a card must check the host's point (an invalid-curve attack recovers the private key from such answers)", len(r.Data))
	}
	return e.refusedWith(ctx, "key agreement with a point not on P-256", r.SW, apdu.SWIncorrectData)
}

// refusedWith checks sw, the answer to a private-key operation the card
// must refuse, is one of want; a refusal for another reason that a persona
// difference explains (a transport PIN, a TOTP per operation) is noted and
// accepted: the card refused before it looked at the input.
func (e *Env) refusedWith(ctx context.Context, what string, sw apdu.StatusWord, want ...apdu.StatusWord) error {
	if slices.Contains(want, sw) {
		return nil
	}
	if err := e.personaKeyRefusal(ctx, what, sw); !errors.Is(err, errNotPersona) {
		return err
	}
	return expectSW(what, sw, want...)
}

func runDecryptBadLength(ctx context.Context, e *Env) error {
	slot, err := e.namedSlot(slotKeyMgmt, e.anySlot()...)
	if err != nil {
		return err
	}
	key, err := e.generate(ctx, slot, pivalg.RSA1024)
	if err != nil {
		return err
	}
	k := key.(*rsa.PublicKey).Size()
	if err := e.verifyRight(ctx); err != nil {
		return err
	}
	short := make([]byte, k-1)
	short[0] = 0x01
	for _, in := range []struct {
		what string
		data []byte
	}{
		{fmt.Sprintf("%d bytes, one short of the modulus", k-1), short},
		{fmt.Sprintf("%d bytes FF, above the modulus", k), bytes.Repeat([]byte{0xFF}, k)},
	} {
		dyn := apdu.Nest(0x7C, apdu.AppendTLV(nil, 0x82, nil), apdu.AppendTLV(nil, 0x81, in.data))
		sw, err := e.SW(ctx, apdu.Command{INS: apdu.InsGeneralAuthenticate, P1: pivalg.RSA1024, P2: slot, Data: dyn, Ne: 256})
		if err != nil {
			return err
		}
		if err := e.refusedWith(ctx, "RSA-1024 decryption of "+in.what, sw, apdu.SWIncorrectData); err != nil {
			return err
		}
	}
	return nil
}

func run9CPINAlways(ctx context.Context, e *Env) error {
	slot, err := e.namedSlot(slotSign)
	if err != nil {
		return err
	}
	key, err := e.generate(ctx, slot, pivalg.P256)
	if err != nil {
		return err
	}
	pub := key.(*ecdsa.PublicKey)
	if err := e.Logout(ctx); err != nil {
		return err
	}
	for _, s := range []struct {
		what   string
		verify bool
		sw     apdu.StatusWord
	}{
		{"a signature with the PIN not verified", false, apdu.SWSecurityStatusNotSatisfied},
		{"a signature after VERIFY", true, apdu.SWSuccess},
		{"a second signature without a new VERIFY", false, apdu.SWSecurityStatusNotSatisfied},
		{"a signature after a new VERIFY", true, apdu.SWSuccess},
	} {
		if s.verify {
			if err := e.verifyRight(ctx); err != nil {
				return err
			}
		}
		if done, err := e.policySign(ctx, slot, pub, s.what+" with the key in 9C", s.sw); done {
			return err
		}
	}
	return nil
}

func runResetPUKOnly(ctx context.Context, e *Env) error {
	if !e.fresh {
		return Skipf("blocks the PUK: simulator only")
	}
	if noUserPUK, err := e.blockPUK(ctx, "RESET's refusal cannot be checked"); err != nil || noUserPUK {
		return err
	}
	if err := e.run(ctx, step("RESET with the PUK blocked but not the PIN", apdu.Command{INS: apdu.InsResetPIV}, apdu.SWConditionsNotSatisfied, apdu.SWINSNotSupported)); err != nil {
		return err
	}
	// Nothing changed: the PIN still verifies.
	return e.verifyRight(ctx)
}
