package piv

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"fmt"
	"io"

	"github.com/tesseracard/tessera/apdu"
	"github.com/tesseracard/tessera/firmware"
	"github.com/tesseracard/tessera/pivalg"
)

// Touch policies (YubiKey).
const (
	touchDefault = 0x00
	touchNever   = 0x01
	touchAlways  = 0x02
	touchCached  = 0x03
)

// mgmtKey is the stored management key: alg | touch | default | key.
type mgmtKey struct {
	alg, touch byte
	isDefault  bool
	key        []byte
}

func (m mgmtKey) bytes() []byte {
	d := byte(0)
	if m.isDefault {
		d = 1
	}
	return append([]byte{m.alg, m.touch, d}, m.key...)
}

func loadMgmtKey(env *firmware.Context) (mgmtKey, error) {
	raw, ok := env.Store.Get(keyMgmt)
	if !ok || len(raw) < 3 {
		return mgmtKey{}, fmt.Errorf("piv: management key record missing or short")
	}
	return mgmtKey{alg: raw[0], touch: raw[1], isDefault: raw[2] == 1, key: raw[3:]}, nil
}

func (m mgmtKey) cipher() (cipher.Block, error) {
	if m.alg == pivalg.TDES {
		return des.NewTripleDESCipher(m.key)
	}
	return aes.NewCipher(m.key)
}

// authState is a management-key authentication in progress: the witness the
// card sent (mutual) or the challenge it sent (external). It is good for the
// next command only.
type authState struct {
	step      byte // 0 none, 0x80 witness sent, 0x81 challenge sent
	alg       byte
	plaintext []byte
}

// mgmtAuthenticate is GENERAL AUTHENTICATE with the management key (SP
// 800-73-4 Part 2 §3.2.4, Appendix A.1, A.2): mutual authentication (witness
// 80 then witness + challenge 80/81) or external authentication (challenge
// request 81 then response 82). P1 is the algorithm; 00 means 3DES.
func (a *Applet) mgmtAuthenticate(env *firmware.Context, cmd apdu.Command, tlvs map[apdu.Tag][]byte) ([]byte, error) {
	mk, err := loadMgmtKey(env)
	if err != nil {
		return nil, err
	}
	alg := cmd.P1
	if alg == 0x00 {
		alg = pivalg.TDES
	}
	if alg != mk.alg {
		return nil, apdu.SWIncorrectP1P2
	}
	block, err := mk.cipher()
	if err != nil {
		return nil, err
	}
	bs := block.BlockSize()
	prev := a.auth
	a.auth = authState{}
	w, hasW := tlvs[0x80]
	c, hasC := tlvs[0x81]
	r, hasR := tlvs[0x82]
	switch {
	case hasW && len(w) == 0 && !hasC && !hasR: // mutual, step 1: send an encrypted witness
		wit := make([]byte, bs)
		if _, err := io.ReadFull(env.Rand, wit); err != nil {
			return nil, err
		}
		enc := make([]byte, bs)
		block.Encrypt(enc, wit)
		a.auth = authState{step: 0x80, alg: alg, plaintext: wit}
		return apdu.Nest(0x7C, apdu.AppendTLV(nil, 0x80, enc)), nil
	case hasW && hasC && !hasR: // mutual, step 2: check the witness, answer the challenge
		if prev.step != 0x80 || prev.alg != alg {
			return nil, apdu.SWConditionsNotSatisfied
		}
		if len(w) != bs || len(c) != bs {
			return nil, apdu.SWIncorrectData
		}
		if !equal(w, prev.plaintext) {
			env.Security.Revoke(refMgmtKey)
			return nil, apdu.SWSecurityStatusNotSatisfied
		}
		if err := a.touch(env, refMgmtKey, mk.touch); err != nil {
			return nil, err
		}
		enc := make([]byte, bs)
		block.Encrypt(enc, c)
		env.Security.Grant(refMgmtKey)
		return apdu.Nest(0x7C, apdu.AppendTLV(nil, 0x82, enc)), nil
	case hasC && len(c) == 0 && !hasW && !hasR: // external, step 1: send a challenge
		ch := make([]byte, bs)
		if _, err := io.ReadFull(env.Rand, ch); err != nil {
			return nil, err
		}
		a.auth = authState{step: 0x81, alg: alg, plaintext: ch}
		return apdu.Nest(0x7C, apdu.AppendTLV(nil, 0x81, ch)), nil
	case hasR && !hasW && !hasC: // external, step 2: check the response
		if prev.step != 0x81 || prev.alg != alg {
			return nil, apdu.SWConditionsNotSatisfied
		}
		if len(r) != bs {
			return nil, apdu.SWIncorrectData
		}
		want := make([]byte, bs)
		block.Encrypt(want, prev.plaintext)
		if !equal(r, want) && !a.externalAuthUnchecked() {
			env.Security.Revoke(refMgmtKey)
			return nil, apdu.SWSecurityStatusNotSatisfied
		}
		if err := a.touch(env, refMgmtKey, mk.touch); err != nil {
			return nil, err
		}
		env.Security.Grant(refMgmtKey)
		return nil, nil
	}
	return nil, apdu.SWIncorrectData
}

// setMgmtKey is the YubiKey's SET MANAGEMENT KEY (FF FF FF|FE): data
// alg ‖ 9B ‖ length ‖ key. P2 FE requires touch for every use of the key.
func (a *Applet) setMgmtKey(env *firmware.Context, cmd apdu.Command) error {
	if err := needMgmt(env); err != nil {
		return err
	}
	if cmd.P1 != 0xFF || cmd.P2 != 0xFF && cmd.P2 != 0xFE {
		return apdu.SWIncorrectP1P2
	}
	d := cmd.Data
	if len(d) < 3 || d[1] != refMgmtKey || int(d[2]) != len(d)-3 {
		return apdu.SWIncorrectData
	}
	size := pivalg.MgmtKeySize(d[0])
	if size == 0 || size != len(d)-3 {
		return apdu.SWIncorrectData
	}
	touch := byte(touchNever)
	if cmd.P2 == 0xFE {
		touch = touchAlways
	}
	return env.Store.Put(keyMgmt, mgmtKey{alg: d[0], touch: touch, key: d[3:]}.bytes())
}

// touch asks the touch source when policy requires it, and answers 6982
// when no touch came, as a YubiKey does when its touch wait times out.
func (a *Applet) touch(env *firmware.Context, slot, policy byte) error {
	now := env.Now()
	cached := firmware.TouchCached(a.lastTouch, now)
	switch policy {
	case touchAlways:
		if cached && a.alwaysTakesCachedTouch() {
			return nil
		}
	case touchCached:
		if cached {
			return nil
		}
	default:
		return nil
	}
	if !a.opts.Touch.Touch(slot) {
		return apdu.SWSecurityStatusNotSatisfied
	}
	a.lastTouch = now
	return nil
}
