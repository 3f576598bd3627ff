package conformance

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"fmt"

	"github.com/tesseracard/tessera/apdu"
	"github.com/tesseracard/tessera/hostdriver"
	"github.com/tesseracard/tessera/pivalg"
)

// The YubiKey's PIN and touch policies of a key, given to GENERATE in the
// control template AC as tags AA and AB and reported by GET METADATA in tag
// 02 (Yubico PIV documentation, "PIN and touch policies").
const (
	pinPolicyNever  = 0x01 // no VERIFY needed
	pinPolicyOnce   = 0x02 // one VERIFY per session
	pinPolicyAlways = 0x03 // one VERIFY before every private-key operation
	touchNever      = 0x01 // no touch needed
)

// ykPolicyRef cites the YubiKey documentation the policy cases check.
const ykPolicyRef = "Yubico PIV documentation, \"PIN and touch policies\" (GENERATE control template AC, tags AA and AB; GET METADATA tag 02); SP 800-73-4 Part 2 §3.2.4 (GENERAL AUTHENTICATE, 6982 without the security status)"

// ykPolicyCases generate a P-256 key with each PIN policy, and touch policy
// never, and check that GENERAL AUTHENTICATE needs the PIN exactly as the
// policy says and that GET METADATA reports the policies given.
func ykPolicyCases() []Case {
	return []Case{
		{
			ID: "YK-PIN-POLICY-ALWAYS", Title: "a key of PIN policy always signs once per VERIFY: a second signature without a new VERIFY answers 6982",
			Ref: ykPolicyRef + ": always", Class: Destructive, Needs: NeedMgmt | NeedPIN | NeedSlot,
			Run: func(ctx context.Context, e *Env) error { return e.pinPolicy(ctx, pinPolicyAlways) },
		},
		{
			ID: "YK-PIN-POLICY-ONCE", Title: "a key of PIN policy once answers 6982 before VERIFY and signs several times after one",
			Ref: ykPolicyRef + ": once", Class: Destructive, Needs: NeedMgmt | NeedPIN | NeedSlot,
			Run: func(ctx context.Context, e *Env) error { return e.pinPolicy(ctx, pinPolicyOnce) },
		},
		{
			ID: "YK-PIN-POLICY-NEVER", Title: "a key of PIN policy never and touch policy never signs without VERIFY and without a touch",
			Ref: ykPolicyRef + ": never", Class: Destructive, Needs: NeedMgmt | NeedPIN | NeedSlot,
			Run: func(ctx context.Context, e *Env) error { return e.pinPolicy(ctx, pinPolicyNever) },
		},
	}
}

// pinPolicy generates a P-256 key of PIN policy pol and touch policy never
// in slot 9A (on a real card a slot named), checks GET METADATA's policies
// (when the card offers it), then signs: with the PIN not verified, after
// one VERIFY, and again without a new VERIFY, and checks each answer
// against the policy and each signature against the public key.
func (e *Env) pinPolicy(ctx context.Context, pol byte) error {
	slot, err := e.namedSlot(0x9A, e.anySlot()...)
	if err != nil {
		return err
	}
	pub, err := e.generateWith(ctx, slot, pivalg.P256, append(apdu.AppendTLV(nil, 0xAA, []byte{pol}), apdu.AppendTLV(nil, 0xAB, []byte{touchNever})...))
	if err != nil {
		return err
	}
	md, err := e.offeredMetadata(ctx, slot)
	switch {
	case err != nil:
		return err
	case md != nil:
		if err := wantTag(md, slot, 0x02, []byte{pol, touchNever}); err != nil {
			return fmt.Errorf("%w (the PIN and touch policies GENERATE gave)", err)
		}
	}
	if err := e.Logout(ctx); err != nil {
		return err
	}
	ecPub := pub.(*ecdsa.PublicKey)
	// want is 9000 where the policy lets the key sign, else 6982.
	want := func(allowed bool) apdu.StatusWord {
		if allowed {
			return apdu.SWSuccess
		}
		return apdu.SWSecurityStatusNotSatisfied
	}
	steps := []struct {
		what   string
		verify bool
		sw     apdu.StatusWord
	}{
		{"a signature with the PIN not verified", false, want(pol == pinPolicyNever)},
		{"a signature after VERIFY", true, apdu.SWSuccess},
		{"a second signature without a new VERIFY", false, want(pol != pinPolicyAlways)},
		{"a signature after a new VERIFY", true, apdu.SWSuccess},
		{"a third signature without a new VERIFY", false, want(pol != pinPolicyAlways)},
	}
	for _, s := range steps {
		if s.verify {
			if err := e.verifyRight(ctx); err != nil {
				return err
			}
		}
		what := fmt.Sprintf("%s with the key of PIN policy %02X in %02X", s.what, pol, slot)
		if done, err := e.policySign(ctx, slot, ecPub, what, s.sw); done {
			return err
		}
	}
	return nil
}

// policySign signs a random digest with the P-256 key in slot and checks the
// status word is want and, on success, the signature against pub. done is
// true when the case can check no more: err says why, or is nil for a
// persona's refusal noted.
func (e *Env) policySign(ctx context.Context, slot byte, pub *ecdsa.PublicKey, what string, want apdu.StatusWord) (done bool, err error) {
	digest := make([]byte, 32)
	rand.Read(digest)
	dyn := apdu.Nest(0x7C, apdu.AppendTLV(nil, 0x82, nil), apdu.AppendTLV(nil, 0x81, digest))
	r, err := e.Transmit(ctx, apdu.Command{INS: apdu.InsGeneralAuthenticate, P1: pivalg.P256, P2: slot, Data: dyn, Ne: 256})
	switch {
	case err != nil:
		return true, err
	case want != apdu.SWSuccess:
		err := expectSW(what, r.SW, want)
		return err != nil, err
	}
	if done, err := e.signOrPersona(ctx, what, r.SW); done {
		return true, err
	}
	sig, err := hostdriver.DynamicAuthData(r.Data, 0x82)
	if err != nil {
		return true, fmt.Errorf("%s answered % X: %w", what, r.Data, err)
	}
	if err := checkECDSA(pub, digest, sig); err != nil {
		return true, fmt.Errorf("%s: %w", what, err)
	}
	return false, nil
}
