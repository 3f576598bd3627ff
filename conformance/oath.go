package conformance

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"

	"github.com/tesseracard/tessera/apdu"
)

// The YubiKey OATH application (YKOATH) the suite also tests, written from
// Yubico's YKOATH protocol specification and the test vectors of RFC 4226
// Appendix D and RFC 6238 Appendix B; not taken from the firmware.

// refOATH is the reference the OATH cases cite with a section.
const refOATH = "Yubico YKOATH protocol specification"

// oathAID returns YKOATH's AID.
func oathAID() []byte { return []byte{0xA0, 0x00, 0x00, 0x05, 0x27, 0x21, 0x01} }

// YKOATH tags.
const (
	oathTagName      = 0x71
	oathTagNameList  = 0x72
	oathTagKey       = 0x73
	oathTagChallenge = 0x74
	oathTagTruncated = 0x76
	oathTagHOTP      = 0x77
	oathTagVersion   = 0x79
)

// The credentials the cases write, under names no client would choose, and
// delete again.
const (
	oathNameHOTP = "tessera-conformance:hotp"
	oathNameTOTP = "tessera-conformance:totp-"
)

// RFC 4226 Appendix D and RFC 6238 Appendix B secrets.
var (
	rfcSeed20 = []byte("12345678901234567890")
	rfcSeed32 = []byte("12345678901234567890123456789012")
	rfcSeed64 = []byte("1234567890123456789012345678901234567890123456789012345678901234")
)

func oathCmd(ins, p1, p2 byte, fields ...[]byte) apdu.Command {
	return apdu.Command{INS: ins, P1: p1, P2: p2, Data: bytes.Join(fields, nil), Ne: 256}
}

func oathTLV(tag byte, v []byte) []byte { return apdu.AppendTLV(nil, apdu.Tag(tag), v) }

// oathPutCmd is PUT of a credential: type|algorithm, digits, secret.
func oathPutCmd(name string, kind, digits byte, secret []byte) apdu.Command {
	return oathCmd(apdu.InsOATHPut, 0, 0, oathTLV(oathTagName, []byte(name)), oathTLV(oathTagKey, append([]byte{kind, digits}, secret...)))
}

func oathCalcCmd(name string, challenge []byte) apdu.Command {
	return oathCmd(apdu.InsOATHCalculate, 0, 1, oathTLV(oathTagName, []byte(name)), oathTLV(oathTagChallenge, challenge))
}

func oathDeleteCmd(name string) apdu.Command {
	return oathCmd(apdu.InsOATHDelete, 0, 0, oathTLV(oathTagName, []byte(name)))
}

// oathCode reduces a truncated response (76: digits, then the 31-bit value
// of RFC 4226 §5.3) to its code.
func oathCode(data []byte) (string, error) {
	v, ok, err := apdu.FindTLV(data, oathTagTruncated)
	if err != nil || !ok || len(v) != 5 || v[0] < 6 || v[0] > 10 {
		return "", fmt.Errorf("answer % X is not a truncated response (76 05 digits value)", data)
	}
	n := uint64(binary.BigEndian.Uint32(v[1:]) & 0x7FFFFFFF)
	mod := uint64(1)
	for range v[0] {
		mod *= 10
	}
	return fmt.Sprintf("%0*d", int(v[0]), n%mod), nil
}

// oathReady checks that the card lets the suite write its credentials: no
// access code (SELECT answers no challenge) and none of the suite's names
// already taken. It registers the deletion of names as a cleanup.
func (e *Env) oathReady(ctx context.Context, names ...string) error {
	r, err := e.Transmit(ctx, selectCmd(oathAID()))
	if err != nil {
		return err
	}
	if _, locked, _ := apdu.FindTLV(r.Data, oathTagChallenge); locked {
		return Skipf("an access code protects the OATH credentials")
	}
	l, err := e.Transmit(ctx, oathCmd(apdu.InsOATHList, 0, 0))
	if err != nil {
		return err
	}
	if l.SW != apdu.SWSuccess {
		return fmt.Errorf("LIST answered %s, want 9000", swText(l.SW))
	}
	for _, n := range names {
		if bytes.Contains(l.Data, []byte(n)) {
			return Skipf("the card already holds a credential named %q", n)
		}
		e.Cleanup(func(ctx context.Context) error {
			_, err := e.SW(ctx, oathDeleteCmd(n))
			return err
		})
	}
	return nil
}

// oathAppCases are the OATH application's. The destructive ones write
// credentials of their own and delete them; they never RESET the
// application and skip a card with an access code.
func oathAppCases() []Case {
	cases := []Case{
		{
			ID: "OATH-SELECT", Title: "SELECT of the OATH application answers its version (79, 3 bytes) and its name (71, 8 bytes)",
			Ref: refOATH + ": SELECT", Class: Safe,
			Run: func(ctx context.Context, e *Env) error {
				r, err := e.Transmit(ctx, selectCmd(oathAID()))
				if err != nil {
					return err
				}
				v, okV, _ := apdu.FindTLV(r.Data, oathTagVersion)
				n, okN, _ := apdu.FindTLV(r.Data, oathTagName)
				if r.SW != apdu.SWSuccess || !okV || len(v) != 3 || !okN || len(n) != 8 {
					return fmt.Errorf("SELECT % X answered % X %s, want 79 03 version, 71 08 name, 9000", oathAID(), r.Data, swText(r.SW))
				}
				return nil
			},
		},
		{
			ID: "OATH-HOTP-RFC4226", Title: "a HOTP credential (SHA-1, 6 digits) gives the RFC 4226 codes for counters 0 to 9, CALCULATE advancing the counter and CALCULATE ALL not",
			Ref: refOATH + ": PUT, CALCULATE, CALCULATE ALL, DELETE; RFC 4226 §5.3, Appendix D", Class: Destructive,
			Run: func(ctx context.Context, e *Env) error {
				if err := e.oathReady(ctx, oathNameHOTP); err != nil {
					return err
				}
				if err := e.run(ctx, step("PUT of the RFC 4226 credential", oathPutCmd(oathNameHOTP, 0x11, 6, rfcSeed20), apdu.SWSuccess)); err != nil {
					return err
				}
				want := []string{"755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871", "520489"}
				for i, w := range want {
					if i == 1 {
						all, err := e.Transmit(ctx, oathCmd(apdu.InsOATHCalculateAll, 0, 1, oathTLV(oathTagChallenge, make([]byte, 8))))
						if err != nil {
							return err
						}
						if i := bytes.Index(all.Data, oathTLV(oathTagName, []byte(oathNameHOTP))); all.SW != apdu.SWSuccess || i < 0 ||
							!bytes.HasPrefix(all.Data[i+2+len(oathNameHOTP):], []byte{oathTagHOTP, 1, 6}) {
							return fmt.Errorf("CALCULATE ALL answered %s; want 9000 and the HOTP credential as 77 01 06 (not calculated)", swText(all.SW))
						}
					}
					r, err := e.Transmit(ctx, oathCalcCmd(oathNameHOTP, nil))
					if err != nil {
						return err
					}
					if r.SW != apdu.SWSuccess {
						return fmt.Errorf("CALCULATE at counter %d answered %s, want 9000", i, swText(r.SW))
					}
					got, err := oathCode(r.Data)
					if err != nil {
						return err
					}
					if got != w {
						return fmt.Errorf("HOTP at counter %d = %s, want %s", i, got, w)
					}
				}
				return e.run(ctx, step("DELETE of the credential", oathDeleteCmd(oathNameHOTP), apdu.SWSuccess))
			},
		},
		{
			ID: "OATH-TOTP-RFC6238", Title: "TOTP credentials (SHA-1, SHA-256, SHA-512, 8 digits) give the RFC 6238 codes at the RFC's times",
			Ref: refOATH + ": PUT, CALCULATE; RFC 6238 §4, Appendix B", Class: Destructive,
			Run: func(ctx context.Context, e *Env) error {
				algs := []struct {
					name string
					kind byte
					seed []byte
				}{{"sha1", 0x21, rfcSeed20}, {"sha256", 0x22, rfcSeed32}, {"sha512", 0x23, rfcSeed64}}
				if err := e.oathReady(ctx, oathNameTOTP+"sha1", oathNameTOTP+"sha256", oathNameTOTP+"sha512"); err != nil {
					return err
				}
				for _, a := range algs {
					if err := e.run(ctx, step("PUT of the RFC 6238 "+a.name+" credential", oathPutCmd(oathNameTOTP+a.name, a.kind, 8, a.seed), apdu.SWSuccess)); err != nil {
						return err
					}
				}
				vectors := []struct {
					time  int64
					codes [3]string
				}{
					{59, [3]string{"94287082", "46119246", "90693936"}},
					{1111111109, [3]string{"07081804", "68084774", "25091201"}},
					{1111111111, [3]string{"14050471", "67062674", "99943326"}},
					{1234567890, [3]string{"89005924", "91819424", "93441116"}},
					{2000000000, [3]string{"69279037", "90698825", "38618901"}},
					{20000000000, [3]string{"65353130", "77737706", "47863826"}},
				}
				for _, v := range vectors {
					step := binary.BigEndian.AppendUint64(nil, uint64(v.time/30))
					for i, a := range algs {
						r, err := e.Transmit(ctx, oathCalcCmd(oathNameTOTP+a.name, step))
						if err != nil {
							return err
						}
						if r.SW != apdu.SWSuccess {
							return fmt.Errorf("CALCULATE %s at %d answered %s, want 9000", a.name, v.time, swText(r.SW))
						}
						got, err := oathCode(r.Data)
						if err != nil {
							return err
						}
						if got != v.codes[i] {
							return fmt.Errorf("TOTP %s at time %d = %s, want %s", a.name, v.time, got, v.codes[i])
						}
					}
				}
				for _, a := range algs {
					if err := e.run(ctx, step("DELETE of the "+a.name+" credential", oathDeleteCmd(oathNameTOTP+a.name), apdu.SWSuccess)); err != nil {
						return err
					}
				}
				return nil
			},
		},
		{
			ID: "OATH-NO-SUCH", Title: "CALCULATE and DELETE of a credential the card does not hold answer 6984",
			Ref: refOATH + ": CALCULATE, DELETE (6984 no such object)", Class: Safe,
			Run: func(ctx context.Context, e *Env) error {
				r, err := e.Transmit(ctx, selectCmd(oathAID()))
				if err != nil {
					return err
				}
				if _, locked, _ := apdu.FindTLV(r.Data, oathTagChallenge); locked {
					return Skipf("an access code protects the OATH credentials")
				}
				const absent = "tessera-conformance:absent"
				l, err := e.Transmit(ctx, oathCmd(apdu.InsOATHList, 0, 0))
				if err != nil {
					return err
				}
				if bytes.Contains(l.Data, []byte(absent)) {
					return Skipf("the card holds a credential named %q", absent)
				}
				return e.run(ctx,
					step("CALCULATE of an absent credential", oathCalcCmd(absent, make([]byte, 8)), apdu.SWReferenceDataUnusable),
					step("DELETE of an absent credential", oathDeleteCmd(absent), apdu.SWReferenceDataUnusable),
				)
			},
		},
	}
	for i := range cases {
		cases[i].App = AppOATH
		if cases[i].Class == Destructive {
			cases[i].Needs |= NeedOATH
		}
	}
	return cases
}

// OATHPutCommand is YKOATH's PUT of a credential: name, type and algorithm
// (10 HOTP or 20 TOTP, plus 1 SHA-1, 2 SHA-256, 3 SHA-512), digits, secret.
func OATHPutCommand(name string, kind, digits byte, secret []byte) apdu.Command {
	return oathPutCmd(name, kind, digits, secret)
}

// OATHCalculateCommand is YKOATH's CALCULATE of a credential over a
// challenge (a TOTP credential's time step), answering the truncated code.
func OATHCalculateCommand(name string, challenge []byte) apdu.Command {
	return oathCalcCmd(name, challenge)
}

// OATHCode reads the code from CALCULATE's truncated answer (76: digits,
// then the 31-bit value of RFC 4226 §5.3).
func OATHCode(data []byte) (string, error) { return oathCode(data) }
