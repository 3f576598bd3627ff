package openpgp

import (
	"io"

	"github.com/tesseracard/tessera/apdu"
	"github.com/tesseracard/tessera/firmware"
)

// algorithmOf returns the parsed algorithm attributes of key ref.
func algorithmOf(env *firmware.Context, ref byte) algorithm {
	if raw, ok := env.Store.Get(keyAlgPrefix + refName(ref)); ok {
		if al, err := parseAlgorithm(ref, raw); err == nil {
			return al
		}
	}
	return defaultAlgorithm(ref)
}

// privateKey returns the stored private key of ref, or 6A88 when there is
// none.
func privateKey(env *firmware.Context, ref byte) ([]byte, error) {
	v, ok := env.Store.Get(keyKeyPrefix + refName(ref))
	if !ok || len(v) < 2 {
		return nil, apdu.SWReferenceNotFound
	}
	return v[1:], nil
}

// crtRef parses a control reference template naming a key: B6, B8 or A4,
// empty or with a key reference 84 (OpenPGP Card 3.4 §7.2.14); on a
// YubiKey profile B6 { 84 01 81 } names the attestation key.
func (a *Applet) crtRef(data []byte) (byte, error) {
	t, rest, err := apdu.ParseTLV(data)
	if err != nil || len(rest) != 0 {
		return 0, apdu.SWIncorrectData
	}
	if t.Tag == keySig && string(t.Value) == string([]byte{0x84, 0x01, keyAtt}) {
		if !a.yubikey {
			return 0, apdu.SWIncorrectData
		}
		return keyAtt, nil
	}
	switch t.Tag {
	case keySig, keyDec, keyAut:
		return byte(t.Tag), nil
	}
	return 0, apdu.SWIncorrectData
}

// generate is GENERATE ASYMMETRIC KEY PAIR (§7.2.14, INS 47): P1 80 generates a key
// pair (PW3), P1 81 reads the public key; the data are the CRT of the key.
// The answer is the public key template 7F49. A new signature key resets
// the signature counter, in the transaction that stores the key.
func (a *Applet) generate(env *firmware.Context, cmd apdu.Command) ([]byte, error) {
	if cmd.P2 != 0x00 || (cmd.P1 != 0x80 && cmd.P1 != 0x81) {
		return nil, apdu.SWIncorrectP1P2
	}
	ref, err := a.crtRef(cmd.Data)
	if err != nil {
		return nil, err
	}
	if ref == keyAtt && cmd.P1 == 0x80 {
		return nil, apdu.SWIncorrectData // the attestation key is imported, never generated (our reading)
	}
	al := algorithmOf(env, ref)
	if cmd.P1 == 0x81 {
		priv, err := privateKey(env, ref)
		if err != nil {
			return nil, err
		}
		pub, err := a.keys.publicKey(al, priv)
		if err != nil {
			return nil, err
		}
		return apdu.AppendTLV(nil, 0x7F49, pub), nil
	}
	if err := need(env, refPW3); err != nil {
		return nil, err
	}
	priv, pub, err := generateKey(al, env.Rand)
	if err != nil {
		return nil, err
	}
	if err := storeKey(env, ref, originGenerated, priv); err != nil {
		return nil, err
	}
	return apdu.AppendTLV(nil, 0x7F49, pub), nil
}

// storeKey writes a new private key of ref in one transaction, with the
// signature counter reset for a signature key.
func storeKey(env *firmware.Context, ref, origin byte, priv []byte) error {
	tx, err := env.Store.Begin()
	if err != nil {
		return err
	}
	defer tx.Abort()
	if err := tx.Put(keyKeyPrefix+refName(ref), append([]byte{origin}, priv...)); err != nil {
		return err
	}
	if ref == keySig {
		if err := tx.Delete(keySigCount); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// importKey is PUT DATA with odd INS DB, P1-P2 3FFF: a private key in an
// extended header list (§4.4.3.12), with PW3 verified.
func (a *Applet) importKey(env *firmware.Context, cmd apdu.Command) error {
	if err := p1p2(cmd, 0x3FFF); err != nil {
		return err
	}
	if err := need(env, refPW3); err != nil {
		return err
	}
	ref, priv, _, err := importKey(cmd.Data, func(ref byte) algorithm { return algorithmOf(env, ref) })
	if err != nil {
		return err
	}
	if ref == keyAtt && !a.yubikey {
		return apdu.SWIncorrectData
	}
	return storeKey(env, ref, originImported, priv)
}

// pso is PERFORM SECURITY OPERATION: COMPUTE DIGITAL SIGNATURE (P1-P2 9E9A,
// PW1 81, the signature key) and DECIPHER (8086, PW1 82, the decryption
// key). On a YubiKey profile each key's touch policy (D6, D7) is checked
// after the password and the key, before the key is used (Applet.touch).
func (a *Applet) pso(env *firmware.Context, cmd apdu.Command) ([]byte, error) {
	switch uint16(cmd.P1)<<8 | uint16(cmd.P2) {
	case 0x9E9A:
		return a.computeSignature(env, cmd)
	case 0x8086:
		if err := need(env, refPW1Other); err != nil {
			return nil, err
		}
		priv, err := privateKey(env, keyDec)
		if err != nil {
			return nil, err
		}
		if err := a.touch(env, keyDec); err != nil {
			return nil, err
		}
		return a.keys.decipher(algorithmOf(env, keyDec), priv, cmd.Data)
	}
	return nil, apdu.SWIncorrectP1P2
}

// computeSignature signs with the signature key. The signature counter is
// advanced in one write before the signature is answered; unless PW status
// byte 1 is 01, PW1 81 is then spent.
func (a *Applet) computeSignature(env *firmware.Context, cmd apdu.Command) ([]byte, error) {
	if err := need(env, refPW1Sign); err != nil {
		return nil, err
	}
	priv, err := privateKey(env, keySig)
	if err != nil {
		return nil, err
	}
	if err := a.touch(env, keySig); err != nil {
		return nil, err
	}
	sig, err := a.keys.sign(algorithmOf(env, keySig), priv, cmd.Data, env.Rand)
	if err != nil {
		return nil, err
	}
	if n := sigCount(env.Store); n < 0xFFFFFF {
		if err := env.Store.Put(keySigCount, counterBytes(n+1)); err != nil {
			return nil, err
		}
	}
	if b, ok := env.Store.Get(keyPWStatus); !ok || len(b) != 1 || b[0] != 0x01 {
		env.Security.Revoke(refPW1Sign)
	}
	return sig, nil
}

// internalAuthenticate is INTERNAL AUTHENTICATE (§7.2.13), P1-P2 0000: a
// signature with the authentication key, PW1 82, and on a YubiKey profile
// a touch when D8 asks for one.
func (a *Applet) internalAuthenticate(env *firmware.Context, cmd apdu.Command) ([]byte, error) {
	if err := p1p2(cmd, 0x0000); err != nil {
		return nil, err
	}
	if err := need(env, refPW1Other); err != nil {
		return nil, err
	}
	priv, err := privateKey(env, keyAut)
	if err != nil {
		return nil, err
	}
	if err := a.touch(env, keyAut); err != nil {
		return nil, err
	}
	return a.keys.sign(algorithmOf(env, keyAut), priv, cmd.Data, env.Rand)
}

// getChallenge is GET CHALLENGE (§7.2.15): Ne random bytes, at most the
// extended capabilities' maximum.
func (a *Applet) getChallenge(env *firmware.Context, cmd apdu.Command) ([]byte, error) {
	if err := p1p2(cmd, 0x0000); err != nil {
		return nil, err
	}
	n := cmd.Ne
	if n <= 0 || n > maxChallenge || len(cmd.Data) != 0 {
		return nil, apdu.SWWrongLength
	}
	out := make([]byte, n)
	if _, err := io.ReadFull(env.Rand, out); err != nil {
		return nil, err
	}
	return out, nil
}

// terminate is TERMINATE DF (§7.2.17): allowed with PW3 verified or PW3
// blocked; the application then answers only SELECT (6285) and ACTIVATE
// FILE.
func (a *Applet) terminate(env *firmware.Context, cmd apdu.Command) error {
	if err := p1p2(cmd, 0x0000); err != nil {
		return err
	}
	if !env.Security.Has(refPW3) {
		st, err := pw3(env, a.q).Status()
		if err == nil && !st.Blocked() {
			return errNotAllowed
		}
	}
	if err := env.Store.Put(keyTerminated, []byte{0x03}); err != nil {
		return err
	}
	env.Security.Clear()
	return nil
}

// activate is ACTIVATE FILE (§7.2.16): on a terminated application, the
// factory reset: every record deleted and the factory state written, in
// one transaction. On an operational application it changes nothing and
// answers 9000, as a YubiKey does.
func (a *Applet) activate(env *firmware.Context, cmd apdu.Command) error {
	if err := p1p2(cmd, 0x0000); err != nil {
		return err
	}
	if !terminated(env) {
		return nil
	}
	tx, err := env.Store.Begin()
	if err != nil {
		return err
	}
	defer tx.Abort()
	if err := wipe(env.Store, tx); err != nil {
		return err
	}
	if err := a.factory(env, tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	env.Security.Clear()
	return nil
}
