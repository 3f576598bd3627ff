package conformance

import (
	"bytes"
	"context"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/x509"
	"encoding/asn1"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"github.com/tesseracard/tessera/apdu"
	"github.com/tesseracard/tessera/hostdriver"
	"github.com/tesseracard/tessera/pivalg"
)

// The YubiKey's factory PIN and PUK, which SET PIN RETRIES and RESET put
// back (Yubico PIV documentation, "PIN and PUK"; public values).
const (
	ykFactoryPIN = "123456"
	ykFactoryPUK = "12345678"
)

// keySlots are the key references GET METADATA answers for: 9A, 9C, 9D,
// 9E, the retired key management slots 82 to 95 and the attestation key F9.
func keySlots() []byte {
	s := []byte{0x9A, 0x9C, 0x9D, 0x9E}
	for r := byte(0x82); r <= 0x95; r++ {
		s = append(s, r)
	}
	return append(s, slotAttestation)
}

// ykAdminCases are the YubiKey PIV extensions: GET SERIAL, GET METADATA,
// SET PIN RETRIES, RESET, IMPORT, MOVE and DELETE KEY, attestation and the
// management key algorithms (Yubico PIV documentation, "PIV extensions").
func ykAdminCases() []Case {
	return []Case{
		{
			ID: "YK-SERIAL", Title: "GET SERIAL answers the serial number in 4 bytes",
			Ref: "Yubico PIV extension GET SERIAL (INS F8, firmware 5)", Class: Safe,
			Run: func(ctx context.Context, e *Env) error {
				_, err := e.serial(ctx)
				return err
			},
		},
		{
			ID: "YK-METADATA-PIN", Title: "GET METADATA of the PIN and PUK answers algorithm FF, the default flag and the counter (limit, tries left)",
			Ref: "Yubico PIV extension GET METADATA (INS F7, firmware 5.3): PIN 80, PUK 81", Class: Safe,
			Run: func(ctx context.Context, e *Env) error {
				for _, ref := range []byte{refPIN, refPUK} {
					md, err := e.metadataOf(ctx, ref)
					if err != nil {
						return err
					}
					if md == nil {
						continue
					}
					if err := wantTag(md, ref, 0x01, []byte{0xFF}); err != nil {
						return err
					}
					if err := flagTag(md, ref, 0x05); err != nil {
						return err
					}
					v, ok := metadataTag(md, 0x06)
					if !ok || len(v) != 2 || v[0] == 0 || v[1] > v[0] {
						return fmt.Errorf("GET METADATA %02X: retries (06) % X, want 2 bytes: the limit (≥ 1), then the tries left (≤ the limit)", ref, v)
					}
				}
				return nil
			},
		},
		{
			ID: "YK-METADATA-MGMT", Title: "GET METADATA of the management key answers its algorithm, touch policy and default flag",
			Ref: "Yubico PIV extension GET METADATA (INS F7): management key 9B", Class: Safe,
			Run: func(ctx context.Context, e *Env) error {
				md, err := e.metadataOf(ctx, refMgmt)
				if err != nil || md == nil {
					return err
				}
				alg, ok := metadataTag(md, 0x01)
				if !ok || len(alg) != 1 || pivalg.MgmtKeySize(alg[0]) == 0 {
					return fmt.Errorf("GET METADATA 9B: algorithm (01) % X, want one of 03 (3DES), 08, 0A, 0C (AES)", alg)
				}
				if pol, ok := metadataTag(md, 0x02); !ok || len(pol) != 2 || pol[1] < 1 || pol[1] > 3 {
					return fmt.Errorf("GET METADATA 9B: policies (02) % X, want 2 bytes, the touch policy 01 to 03", pol)
				}
				return flagTag(md, refMgmt, 0x05)
			},
		},
		{
			ID: "YK-METADATA-SLOTS", Title: "GET METADATA of every key slot answers algorithm, policies, origin and public key, or 6A88 when empty",
			Ref: "Yubico PIV extension GET METADATA (INS F7): slots 9A, 9C, 9D, 9E, 82–95, F9", Class: Safe,
			Run: func(ctx context.Context, e *Env) error {
				for _, slot := range keySlots() {
					md, sw, err := e.Metadata(ctx, slot)
					if err != nil {
						return err
					}
					switch sw {
					case apdu.SWINSNotSupported:
						return Skipf("the card does not offer GET METADATA, a YubiKey extension (firmware 5.3)")
					case apdu.SWReferenceNotFound:
						continue
					case apdu.SWSuccess:
					default:
						return expectSW(fmt.Sprintf("GET METADATA %02X", slot), sw, apdu.SWSuccess, apdu.SWReferenceNotFound)
					}
					if err := checkKeyMetadata(slot, md); err != nil {
						return err
					}
				}
				return nil
			},
		},
		{
			ID: "YK-RESET-REFUSED", Title: "RESET while the PIN or PUK is not blocked answers 6985 and changes nothing",
			Ref: "Yubico PIV extension RESET (INS FB): only with PIN and PUK blocked", Class: Safe,
			Run: func(ctx context.Context, e *Env) error {
				before, err := e.Status(ctx)
				if err != nil {
					return err
				}
				if before == apdu.SWAuthMethodBlocked {
					// RESET must not be sent when it could succeed.
					tries, _, ok, err := e.PUKTries(ctx)
					switch {
					case err != nil:
						return err
					case !ok:
						return Skipf("the PIN is blocked and the PUK's counter unknown: RESET could wipe the card")
					case tries == 0:
						return Skipf("the PIN and PUK are blocked: RESET would wipe the card")
					}
				}
				sw, err := e.SW(ctx, apdu.Command{INS: apdu.InsResetPIV})
				if err != nil {
					return err
				}
				if sw == apdu.SWINSNotSupported {
					return Skipf("the card does not offer RESET, a YubiKey extension")
				}
				if err := expectSW("RESET with the PIN not blocked", sw, apdu.SWConditionsNotSatisfied); err != nil {
					return err
				}
				after, err := e.Status(ctx)
				if err != nil {
					return err
				}
				if after != before {
					return fmt.Errorf("VERIFY without data answered %s before the refused RESET, %s after", swText(before), swText(after))
				}
				return nil
			},
		},
		{
			ID: "YK-IMPORT", Title: "IMPORT without the management key answers 6982 and leaves the slot as it was",
			Ref: "Yubico PIV extension IMPORT ASYMMETRIC KEY (INS FE): needs the management key", Class: Destructive, Needs: NeedMgmt | NeedSlot,
			Run: runImport,
		},
		{
			ID: "YK-MOVE-DELETE", Title: "MOVE KEY moves a key to a free slot, DELETE KEY empties it; both need the management key",
			Ref: "Yubico PIV extension MOVE KEY / DELETE KEY (INS F6, firmware 5.7)", Class: Destructive, Needs: NeedMgmt | NeedSlot,
			Run: runMoveDelete,
		},
		{
			ID: "YK-ATTEST", Title: "ATTEST of a generated key answers a certificate for that key signed by F9's, whose policies are GET METADATA's",
			Ref: "Yubico PIV attestation (INS F9; certificate 5FFF01; extension 1.3.6.1.4.1.41482.3.8)", Class: Destructive, Needs: NeedMgmt | NeedSlot,
			Run: runAttest,
		},
		{
			ID: "YK-SET-PIN-RETRIES", Title: "SET PIN RETRIES needs the management key and the PIN, sets both limits and puts back the factory PIN and PUK",
			Ref: "Yubico PIV extension SET PIN RETRIES (INS FA)", Class: Destructive, Needs: NeedMgmt | NeedPIN | NeedPUK,
			Run: runSetRetries,
		},
		{
			ID: "YK-RESET", Title: "RESET with the PIN and PUK blocked answers 9000 and puts back the factory PIN, PUK and management key",
			Ref: "Yubico PIV extension RESET (INS FB)", Class: Destructive, Needs: NeedPIN | NeedPUK | NeedBlockPUK,
			Run: runReset,
		},
	}
}

// serial reads GET SERIAL: 4 bytes, 9000; a skip when the card lacks it.
func (e *Env) serial(ctx context.Context) (uint32, error) {
	r, err := e.Transmit(ctx, apdu.Command{INS: apdu.InsGetSerial, Ne: 256})
	if err != nil {
		return 0, err
	}
	if r.SW == apdu.SWINSNotSupported {
		return 0, Skipf("the card does not offer GET SERIAL, a YubiKey extension")
	}
	if r.SW != apdu.SWSuccess || len(r.Data) != 4 {
		return 0, fmt.Errorf("GET SERIAL answered % X and %s, want 4 bytes and 9000", r.Data, swText(r.SW))
	}
	return binary.BigEndian.Uint32(r.Data), nil
}

// offeredMetadata reads GET METADATA of ref, which must answer: nil (and
// no error) when the card does not offer it.
func (e *Env) offeredMetadata(ctx context.Context, ref byte) ([]byte, error) {
	md, err := e.metadataOf(ctx, ref)
	var skip *skipError
	if errors.As(err, &skip) {
		return nil, nil
	}
	return md, err
}

// metadataOf reads GET METADATA of ref, which must answer: nil and a skip
// when the card does not offer it.
func (e *Env) metadataOf(ctx context.Context, ref byte) ([]byte, error) {
	md, sw, err := e.Metadata(ctx, ref)
	switch {
	case err != nil:
		return nil, err
	case sw == apdu.SWINSNotSupported:
		return nil, Skipf("the card does not offer GET METADATA, a YubiKey extension (firmware 5.3)")
	case sw != apdu.SWSuccess:
		return nil, expectSW(fmt.Sprintf("GET METADATA %02X", ref), sw, apdu.SWSuccess)
	}
	return md, nil
}

func wantTag(md []byte, ref byte, tag apdu.Tag, want []byte) error {
	if v, ok := metadataTag(md, tag); !ok || !bytes.Equal(v, want) {
		return fmt.Errorf("GET METADATA %02X: tag %02X is % X, want % X", ref, uint32(tag), v, want)
	}
	return nil
}

// flagTag checks tag is one byte, 00 or 01.
func flagTag(md []byte, ref byte, tag apdu.Tag) error {
	if v, ok := metadataTag(md, tag); !ok || len(v) != 1 || v[0] > 1 {
		return fmt.Errorf("GET METADATA %02X: flag %02X is % X, want one byte 00 or 01", ref, uint32(tag), v)
	}
	return nil
}

// checkKeyMetadata checks a key slot's GET METADATA: 01 a key algorithm, 02
// the PIN policy (01 never, 02 once, 03 always) and touch policy (01 never,
// 02 always, 03 cached), 03 origin (01 generated, 02 imported), 04 the
// public key (RSA 81 modulus and 82 exponent, others 86).
func checkKeyMetadata(slot byte, md []byte) error {
	alg, ok := metadataTag(md, 0x01)
	if !ok || len(alg) != 1 || (pivalg.RSABits(alg[0]) == 0 && !isECAlg(alg[0])) {
		return fmt.Errorf("GET METADATA %02X: algorithm (01) % X is no key algorithm", slot, alg)
	}
	if pol, ok := metadataTag(md, 0x02); !ok || len(pol) != 2 || pol[0] < 1 || pol[0] > 3 || pol[1] < 1 || pol[1] > 3 {
		return fmt.Errorf("GET METADATA %02X: policies (02) % X, want the PIN policy 01–03 and the touch policy 01–03", slot, pol)
	}
	if o, ok := metadataTag(md, 0x03); !ok || len(o) != 1 || o[0] < 1 || o[0] > 2 {
		return fmt.Errorf("GET METADATA %02X: origin (03) % X, want 01 (generated) or 02 (imported)", slot, o)
	}
	pub, ok := metadataTag(md, 0x04)
	if !ok {
		return fmt.Errorf("GET METADATA %02X: no public key (04)", slot)
	}
	want := apdu.Tag(0x86)
	if pivalg.RSABits(alg[0]) > 0 {
		want = 0x81
	}
	if v, ok := metadataTag(pub, want); !ok || len(v) == 0 {
		return fmt.Errorf("GET METADATA %02X: the public key (04) has no %02X", slot, uint32(want))
	}
	return nil
}

func isECAlg(a byte) bool {
	return a == pivalg.P256 || a == pivalg.P384 || a == pivalg.Ed25519 || a == pivalg.X25519
}

// mgmtAlgCases set the management key to a random key of each algorithm
// and authenticate with it both ways (SP 800-73-4 Part 2 Appendix A).
func mgmtAlgCases() []Case {
	var cs []Case
	for _, alg := range []byte{pivalg.TDES, pivalg.AES128, pivalg.AES192, pivalg.AES256} {
		name := pivalg.Name(alg)
		cs = append(cs, Case{
			ID:    "YK-MGMT-" + strings.NewReplacer("-", "", " ", "").Replace(strings.ToUpper(name)),
			Title: fmt.Sprintf("a %s management key set by SET MANAGEMENT KEY works by mutual and by external authentication, and a wrong one fails both", name),
			Ref:   "SP 800-73-4 Part 2 §3.2.4, Appendix A.1, A.2; SP 800-78-4 Table 5; Yubico PIV extension SET MANAGEMENT KEY (INS FF), GET METADATA 9B",
			Class: Destructive, Needs: NeedMgmt,
			Run: func(ctx context.Context, e *Env) error { return e.mgmtAlg(ctx, alg) },
		})
	}
	return cs
}

// setMgmtKeyCmd is SET MANAGEMENT KEY (FF FF P2): algorithm, 9B, length,
// key; P2 FF sets a key used without a touch, FE one that needs a touch
// for every use (Yubico PIV extension SET MANAGEMENT KEY).
func setMgmtKeyCmd(alg byte, key []byte, touch bool) apdu.Command {
	p2 := byte(0xFF)
	if touch {
		p2 = 0xFE
	}
	return apdu.Command{INS: apdu.InsSetManagementKey, P1: 0xFF, P2: p2, Data: append([]byte{alg, refMgmt, byte(len(key))}, key...)}
}

// mgmtTouch reports whether the management key needs a touch: GET
// METADATA 9B, tag 02, touch policy 02 (always); false when the card does
// not say.
func (e *Env) mgmtTouch(ctx context.Context) (bool, error) {
	md, sw, err := e.Metadata(ctx, refMgmt)
	if err != nil || sw != apdu.SWSuccess {
		return false, err
	}
	pol, ok := metadataTag(md, 0x02)
	return ok && len(pol) == 2 && pol[1] == 0x02, nil
}

// externalAuth authenticates the management key by external
// authentication (SP 800-73-4 Part 2 Appendix A.1): the card sends a
// challenge, the host answers it encrypted.
func (e *Env) externalAuth(ctx context.Context, alg byte, block cipher.Block) error {
	r, err := e.Transmit(ctx, apdu.Command{INS: apdu.InsGeneralAuthenticate, P1: alg, P2: refMgmt, Data: []byte{0x7C, 0x02, 0x81, 0x00}, Ne: 256})
	if err != nil {
		return err
	}
	ch, derr := hostdriver.DynamicAuthData(r.Data, 0x81)
	if r.SW != apdu.SWSuccess || derr != nil || len(ch) != block.BlockSize() {
		return fmt.Errorf("external authentication, challenge request (7C { 81 }) with algorithm %02X answered %d bytes and %s, want a %d-byte challenge in 7C { 81 }", alg, len(r.Data), swText(r.SW), block.BlockSize())
	}
	resp := make([]byte, len(ch))
	block.Encrypt(resp, ch)
	sw, err := e.SW(ctx, apdu.Command{INS: apdu.InsGeneralAuthenticate, P1: alg, P2: refMgmt, Data: apdu.Nest(0x7C, apdu.AppendTLV(nil, 0x82, resp))})
	if err != nil {
		return err
	}
	return expectSW(fmt.Sprintf("external authentication, the encrypted challenge with algorithm %02X", alg), sw, apdu.SWSuccess)
}

// mgmtAlg sets the management key to a random key of alg, checks GET
// METADATA reports it, authenticates with it by mutual and by external
// authentication, checks a wrong key fails both, and puts the original
// key back with its touch policy.
func (e *Env) mgmtAlg(ctx context.Context, alg byte) error {
	orig, err := e.MgmtAlg(ctx)
	if err != nil {
		return err
	}
	origKey := e.creds.MgmtKey
	origTouch, err := e.mgmtTouch(ctx)
	if err != nil {
		return err
	}
	putBack := func(ctx context.Context) error {
		if err := e.Authenticate(ctx); err != nil {
			return err
		}
		e.creds.MgmtAlg, e.creds.MgmtKey = orig, origKey
		return e.run(ctx, step("SET MANAGEMENT KEY back to the original key and touch policy", setMgmtKeyCmd(orig, origKey, origTouch), apdu.SWSuccess))
	}
	if err := e.Authenticate(ctx); err != nil {
		return err
	}
	key := make([]byte, pivalg.MgmtKeySize(alg))
	rand.Read(key)
	sw, err := e.SW(ctx, setMgmtKeyCmd(alg, key, false))
	switch {
	case err != nil:
		return err
	case sw == apdu.SWINSNotSupported:
		return Skipf("the card does not offer SET MANAGEMENT KEY, a YubiKey extension")
	case alg != pivalg.TDES && (sw == apdu.SWIncorrectData || sw == apdu.SWIncorrectP1P2):
		return Skipf("the card does not take %s management keys (SET MANAGEMENT KEY answered %s; AES came with firmware 5.4)", pivalg.Name(alg), swText(sw))
	}
	if err := expectSW(fmt.Sprintf("SET MANAGEMENT KEY (%s)", pivalg.Name(alg)), sw, apdu.SWSuccess); err != nil {
		return err
	}
	e.creds.MgmtAlg, e.creds.MgmtKey = alg, key
	e.Cleanup(putBack)
	if md, sw, err := e.Metadata(ctx, refMgmt); err != nil {
		return err
	} else if sw == apdu.SWSuccess {
		if err := wantTag(md, refMgmt, 0x01, []byte{alg}); err != nil {
			return err
		}
		if err := wantTag(md, refMgmt, 0x05, []byte{0}); err != nil {
			return fmt.Errorf("%w (a random key is not the default)", err)
		}
	}
	if err := e.Reset(ctx); err != nil {
		return err
	}
	if err := e.Authenticate(ctx); err != nil {
		return fmt.Errorf("mutual authentication with the new %s key: %w", pivalg.Name(alg), err)
	}
	block, err := hostdriver.ManagementKeyCipher(alg, key)
	if err != nil {
		return err
	}
	wrong := bytes.Clone(key)
	wrong[0] ^= 0x80 // not the low bit: DES ignores it (parity)
	bad, _ := hostdriver.ManagementKeyCipher(alg, wrong)
	if err := e.Reset(ctx); err != nil {
		return err
	}
	if err := e.externalAuth(ctx, alg, block); err != nil {
		return err
	}
	if err := e.Reset(ctx); err != nil {
		return err
	}
	if err := e.externalAuth(ctx, alg, bad); err == nil {
		return fmt.Errorf("external authentication with a wrong %s key was accepted", pivalg.Name(alg))
	}
	if err := e.Reset(ctx); err != nil {
		return err
	}
	if err := hostdriver.AuthenticateManagementKey(ctx, e, alg, wrong, nil); err == nil {
		return fmt.Errorf("mutual authentication with a wrong %s key was accepted", pivalg.Name(alg))
	}
	if !e.fresh {
		return nil // the cleanup puts the original key back
	}
	return putBack(ctx)
}

// keySlot returns the slot a key-writing case uses: 9A on a Fresh card; on
// a real card 9A if Options.Slots names it, else the first slot named other
// than 9E (whose key needs no PIN), else a skip. A cleanup deletes its key.
func (e *Env) keySlot() (byte, error) {
	slot, err := e.namedSlot(slotPIVAuth, e.anySlot()...)
	if err != nil {
		return 0, err
	}
	e.Cleanup(func(ctx context.Context) error { return e.deleteKey(ctx, slot) })
	return slot, nil
}

// deleteKey deletes the key in slot, if any (DELETE KEY, 6A88 if empty).
func (e *Env) deleteKey(ctx context.Context, slot byte) error {
	if err := e.Authenticate(ctx); err != nil {
		return err
	}
	sw, err := e.SW(ctx, apdu.Command{INS: apdu.InsMoveKey, P1: 0xFF, P2: slot})
	if err == nil && sw != apdu.SWSuccess && sw != apdu.SWReferenceNotFound {
		err = fmt.Errorf("DELETE KEY %02X answered %s", slot, swText(sw))
	}
	return err
}

func runImport(ctx context.Context, e *Env) error {
	slot, err := e.keySlot()
	if err != nil {
		return err
	}
	before, beforeSW, err := e.Metadata(ctx, slot)
	if err != nil {
		return err
	}
	data, _ := importKeys()[4].make() // P-256
	sw, err := e.SW(ctx, apdu.Command{INS: apdu.InsImportKey, P1: pivalg.P256, P2: slot, Data: data})
	if err != nil {
		return err
	}
	if sw == apdu.SWINSNotSupported {
		return Skipf("the card does not offer IMPORT, a YubiKey extension")
	}
	if err := expectSW("IMPORT without the management key", sw, apdu.SWSecurityStatusNotSatisfied); err != nil {
		return err
	}
	after, afterSW, err := e.Metadata(ctx, slot)
	if err != nil {
		return err
	}
	if afterSW != beforeSW || !bytes.Equal(after, before) {
		return fmt.Errorf("the refused IMPORT changed the slot: GET METADATA %02X answered %s % X before, %s % X after", slot, swText(beforeSW), before, swText(afterSW), after)
	}
	return nil
}

// secondSlot returns the slot a key is moved to, other than src: on a
// Fresh card a retired key slot GET METADATA reports empty; on a real card
// another slot Options.Slots names, whose key is deleted first (the user
// named it to be replaced), else a skip.
func (e *Env) secondSlot(ctx context.Context, src byte) (byte, error) {
	if !e.fresh {
		for _, s := range e.plan.slots {
			if s != src {
				return s, e.deleteKey(ctx, s)
			}
		}
		return 0, Skipf("moves a key between two slots: --slots names only %02X", src)
	}
	for slot := byte(0x82); slot <= 0x95; slot++ {
		if slot == src {
			continue
		}
		_, sw, err := e.Metadata(ctx, slot)
		if err != nil {
			return 0, err
		}
		if sw == apdu.SWReferenceNotFound {
			return slot, nil
		}
	}
	return 0, Skipf("no second free retired key slot")
}

func runMoveDelete(ctx context.Context, e *Env) error {
	src, err := e.keySlot()
	if err != nil {
		return err
	}
	key, err := e.generate(ctx, src, pivalg.P256)
	if err != nil {
		return err
	}
	pub := key.(*ecdsa.PublicKey)
	dst, err := e.secondSlot(ctx, src)
	if err != nil {
		return err
	}
	e.Cleanup(func(ctx context.Context) error { return e.deleteKey(ctx, dst) })
	if err := e.Reset(ctx); err != nil {
		return err
	}
	if err := e.run(ctx, step(fmt.Sprintf("MOVE KEY %02X to %02X without the management key", src, dst), apdu.Command{INS: apdu.InsMoveKey, P1: dst, P2: src}, apdu.SWSecurityStatusNotSatisfied)); err != nil {
		return err
	}
	if err := e.Authenticate(ctx); err != nil {
		return err
	}
	steps := []isoStep{
		step(fmt.Sprintf("MOVE KEY %02X to %02X", src, dst), apdu.Command{INS: apdu.InsMoveKey, P1: dst, P2: src}, apdu.SWSuccess),
		step(fmt.Sprintf("GET METADATA of %02X, moved from", src), metadataCmd(src), apdu.SWReferenceNotFound),
	}
	if e.fresh {
		// Only on a simulated card: a real card that wrongly took the
		// move would lose its factory attestation key for good.
		steps = append(steps, step("MOVE KEY to the attestation slot F9", apdu.Command{INS: apdu.InsMoveKey, P1: slotAttestation, P2: dst}, apdu.SWIncorrectP1P2))
	}
	if err := e.run(ctx, steps...); err != nil {
		return err
	}
	md, err := e.metadataOf(ctx, dst)
	if err != nil {
		return err
	}
	point, _ := pub.Bytes()
	if err := wantTag(md, dst, 0x04, apdu.AppendTLV(nil, 0x86, point)); err != nil {
		return fmt.Errorf("after MOVE KEY: %w", err)
	}
	return e.run(ctx,
		step(fmt.Sprintf("DELETE KEY %02X", dst), apdu.Command{INS: apdu.InsMoveKey, P1: 0xFF, P2: dst}, apdu.SWSuccess),
		step(fmt.Sprintf("GET METADATA of %02X, deleted", dst), metadataCmd(dst), apdu.SWReferenceNotFound),
		step(fmt.Sprintf("DELETE KEY %02X again", dst), apdu.Command{INS: apdu.InsMoveKey, P1: 0xFF, P2: dst}, apdu.SWReferenceNotFound),
	)
}

// The Yubico attestation extensions (Yubico PIV attestation documentation).
func ykOID(n int) asn1.ObjectIdentifier { return asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 41482, 3, n} }

func runAttest(ctx context.Context, e *Env) error {
	slot, pub, err := e.ScratchKey(ctx)
	if err != nil {
		return err
	}
	cert, err := e.attestation(ctx, slot)
	if err != nil {
		return err
	}
	f9, err := e.Transmit(ctx, getDataCmd([]byte{0x5F, 0xFF, 0x01}))
	if err != nil {
		return err
	}
	if err := expectSW("GET DATA 5FFF01 (the attestation certificate)", f9.SW, apdu.SWSuccess); err != nil {
		return err
	}
	outer, _, err := apdu.ParseTLV(f9.Data)
	var der []byte
	if err == nil {
		der, _, err = apdu.FindTLV(outer.Value, 0x70)
	}
	if err != nil || der == nil {
		return fmt.Errorf("object 5FFF01 holds no certificate 70")
	}
	issuer, err := x509.ParseCertificate(der)
	if err != nil {
		return fmt.Errorf("object 5FFF01: %v", err)
	}
	if err := cert.CheckSignatureFrom(issuer); err != nil {
		return fmt.Errorf("the attestation of %02X does not chain to F9's certificate: %v", slot, err)
	}
	if !pub.Equal(cert.PublicKey) {
		return fmt.Errorf("the attestation of %02X certifies another key than the one generated", slot)
	}
	md, err := e.metadataOf(ctx, slot)
	if err != nil {
		return err
	}
	pol, _ := metadataTag(md, 0x02)
	for _, x := range cert.Extensions {
		if x.Id.Equal(ykOID(8)) && !bytes.Equal(x.Value, pol) {
			return fmt.Errorf("policy extension (.3.8) % X, GET METADATA's policies % X", x.Value, pol)
		}
	}
	return nil
}

func runSetRetries(ctx context.Context, e *Env) error {
	setCmd := func(pin, puk byte) apdu.Command { return apdu.Command{INS: apdu.InsSetPINRetries, P1: pin, P2: puk} }
	if sw, err := e.SW(ctx, setCmd(5, 4)); err != nil {
		return err
	} else if sw == apdu.SWINSNotSupported {
		return Skipf("the card does not offer SET PIN RETRIES, a YubiKey extension")
	} else if err := expectSW("SET PIN RETRIES without the management key and the PIN", sw, apdu.SWSecurityStatusNotSatisfied); err != nil {
		return err
	}
	if err := e.Authenticate(ctx); err != nil {
		return err
	}
	if err := e.run(ctx, step("SET PIN RETRIES with the management key and no PIN", setCmd(5, 4), apdu.SWSecurityStatusNotSatisfied)); err != nil {
		return err
	}
	if err := e.verifyRight(ctx); err != nil {
		return err
	}
	if !e.fresh {
		if e.plan.pukFull < 0 {
			return Skipf("the card does not report the PUK's counter, so it could not be put back")
		}
		pinFull, pukFull := e.plan.pinFull, e.plan.pukFull
		e.Cleanup(func(ctx context.Context) error {
			if err := e.Authenticate(ctx); err != nil {
				return err
			}
			if sw, err := e.VerifyPIN(ctx, ykFactoryPIN); err != nil || sw != apdu.SWSuccess {
				return fmt.Errorf("the factory PIN after SET PIN RETRIES: %s, %v", swText(sw), err)
			}
			return e.run(ctx,
				step("SET PIN RETRIES back", setCmd(byte(pinFull), byte(pukFull)), apdu.SWSuccess),
				step("CHANGE REFERENCE DATA of the PIN back", changeCmd(refPIN, ykFactoryPIN, e.creds.PIN), apdu.SWSuccess),
				step("CHANGE REFERENCE DATA of the PUK back", changeCmd(refPUK, ykFactoryPUK, e.creds.PUK), apdu.SWSuccess))
		})
	}
	if err := e.run(ctx,
		step("SET PIN RETRIES with P1 00", setCmd(0, 4), apdu.SWIncorrectP1P2),
		step("SET PIN RETRIES 5 and 4", setCmd(5, 4), apdu.SWSuccess),
	); err != nil {
		return err
	}
	for _, w := range []struct {
		ref   byte
		limit byte
	}{{refPIN, 5}, {refPUK, 4}} {
		md, sw, err := e.Metadata(ctx, w.ref)
		if err != nil {
			return err
		}
		if sw != apdu.SWSuccess {
			continue
		}
		if err := wantTag(md, w.ref, 0x06, []byte{w.limit, w.limit}); err != nil {
			return fmt.Errorf("after SET PIN RETRIES: %w", err)
		}
		if err := wantTag(md, w.ref, 0x05, []byte{1}); err != nil {
			return fmt.Errorf("after SET PIN RETRIES (the factory value is back): %w", err)
		}
	}
	if sw, err := e.Status(ctx); err != nil {
		return err
	} else if n, _ := sw.Retries(); n != 5 {
		return fmt.Errorf("after SET PIN RETRIES 5, VERIFY without data answered %s, want 63C5 and the PIN no longer verified", swText(sw))
	}
	return nil // a Fresh card is thrown away; a real one is put back by the cleanup
}

// blockPUK blocks the PUK with wrong PUKs (RESET RETRY COUNTER) and checks
// GET METADATA, where the card offers it, reports no try left. noUserPUK is
// true, the persona difference noted (why: what it means for the case),
// when the card answers 6985: no PUK is the user's.
func (e *Env) blockPUK(ctx context.Context, why string) (noUserPUK bool, err error) {
	wrongPUK := wrongValue(e.creds.PUK, 8)
	for i := 0; i < 16; i++ {
		sw, err := e.SW(ctx, resetRetryCmd(wrongPUK, e.creds.PIN))
		if err != nil {
			return false, err
		}
		if sw == apdu.SWAuthMethodBlocked {
			break
		}
		if sw == apdu.SWConditionsNotSatisfied {
			e.Departure(DeparturePersonaNoUserPUK, "RESET RETRY COUNTER with a PUK answered 6985: no PUK is the user's, so it cannot be blocked and %s", why)
			return true, nil
		}
	}
	if tries, _, ok, err := e.PUKTries(ctx); err != nil {
		return false, err
	} else if ok && tries > 0 {
		return false, fmt.Errorf("after 16 wrong PUKs GET METADATA 81 reports %d tries left: wrong PUKs do not count", tries)
	}
	return false, nil
}

func runReset(ctx context.Context, e *Env) error {
	if !e.fresh {
		return Skipf("blocks the PIN and PUK and wipes the card: simulator only")
	}
	wrong := wrongValue(e.creds.PIN, 8)
	for i := 0; i < 16; i++ {
		sw, err := e.VerifyPIN(ctx, wrong)
		if err != nil {
			return err
		}
		if sw == apdu.SWAuthMethodBlocked {
			break
		}
		if err := e.run(ctx, step("RESET with only some PIN tries spent", apdu.Command{INS: apdu.InsResetPIV}, apdu.SWConditionsNotSatisfied)); err != nil {
			return err
		}
	}
	if sw, err := e.Status(ctx); err != nil {
		return err
	} else if sw != apdu.SWAuthMethodBlocked {
		return fmt.Errorf("after 16 wrong PINs VERIFY without data answered %s, want 6983: wrong PINs do not count", swText(sw))
	}
	if err := e.run(ctx, step("RESET with the PIN blocked but not the PUK", apdu.Command{INS: apdu.InsResetPIV}, apdu.SWConditionsNotSatisfied)); err != nil {
		return err
	}
	if noUserPUK, err := e.blockPUK(ctx, "RESET's precondition cannot be met"); err != nil || noUserPUK {
		return err
	}
	if err := e.run(ctx, step("RESET with the PIN and PUK blocked", apdu.Command{INS: apdu.InsResetPIV}, apdu.SWSuccess)); err != nil {
		return err
	}
	// The factory PIN, PUK and management key are back: counters full,
	// default flags set. (A card with random factory PINs makes new ones,
	// so the suite cannot VERIFY them.)
	for _, ref := range []byte{refPIN, refPUK, refMgmt} {
		md, sw, err := e.Metadata(ctx, ref)
		if err != nil {
			return err
		}
		if sw != apdu.SWSuccess {
			continue
		}
		if err := wantTag(md, ref, 0x05, []byte{1}); err != nil {
			return fmt.Errorf("after RESET: %w", err)
		}
		if v, ok := metadataTag(md, 0x06); ok && (len(v) != 2 || v[1] != v[0]) {
			return fmt.Errorf("after RESET: GET METADATA %02X: retries (06) % X, want the counter full", ref, v)
		}
	}
	return nil
}
