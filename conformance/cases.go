package conformance

import (
	"bytes"
	"context"
	"fmt"
	"slices"

	"github.com/tesseracard/tessera/apdu"
)

// Cases returns the suite's cases in the order they run: the safe ones
// first.
func Cases() []Case {
	var all []Case
	for _, group := range [][]Case{isoCases(), pivSafeCases(), pinCases(), pukCases(), adminCases(), ykAdminCases(), mgmtAlgCases(), ykKeyCases(), ykPolicyCases(), keyCases(), isoAppCases(), oathAppCases(), mgmtCases(), opgpCases()} {
		all = append(all, group...)
	}
	slices.SortStableFunc(all, func(a, b Case) int { return int(a.Class) - int(b.Class) })
	return all
}

// isoCases are the APDU layer: ISO/IEC 7816-4 framing, class and
// instruction checks, response chaining with 61xx and command chaining.
func isoCases() []Case {
	return []Case{
		{
			ID: "ISO-INS", Title: "an unknown instruction answers 6D00",
			Ref: "ISO/IEC 7816-4 §5.1.3 Table 6", Class: Safe,
			Run: func(ctx context.Context, e *Env) error {
				sw, err := e.SW(ctx, apdu.Command{INS: 0x02, Ne: 256})
				if err != nil {
					return err
				}
				return expectSW("instruction 02", sw, apdu.SWINSNotSupported)
			},
		},
		{
			ID: "ISO-CLA", Title: "a class the application does not support answers 6E00",
			Ref: "ISO/IEC 7816-4 §5.1.1, §5.1.3 Table 6; SP 800-73-4 Part 2 §3 (CLA 00)", Class: Safe,
			Run: func(ctx context.Context, e *Env) error {
				sw, err := e.SW(ctx, apdu.Command{CLA: 0x80, INS: apdu.InsGetDataOdd, P1: 0x3F, P2: 0xFF, Data: apdu.AppendTLV(nil, 0x5C, objCHUID())})
				if err != nil {
					return err
				}
				return expectSW("GET DATA with CLA 80", sw, apdu.SWCLANotSupported)
			},
		},
		{
			ID: "ISO-LC", Title: "an Lc longer than the data answers 6700 and changes nothing",
			Ref: "ISO/IEC 7816-4 §5.1, §5.1.3 Table 6", Class: Safe,
			Run: func(ctx context.Context, e *Env) error {
				r, err := e.Raw(ctx, []byte{0x00, apdu.InsGetDataOdd, 0x3F, 0xFF, 0x05, 0x5C, 0x03, 0x5F})
				if err != nil {
					return err
				}
				if err := expectSW("GET DATA whose Lc says 5 with 3 data bytes", r.SW, apdu.SWWrongLength); err != nil {
					return err
				}
				return pivStillAnswers(ctx, e, "after the malformed command")
			},
		},
		{
			ID: "ISO-CASE1", Title: "a no-data command is accepted in both forms: 4 bytes (case 1) and P3 = 00",
			Ref: "ISO/IEC 7816-3 (APDU case 1), ISO/IEC 7816-4 §5.1; SP 800-73-4 Part 2 §3.2.1", Class: Safe,
			Run: func(ctx context.Context, e *Env) error {
				short, err := e.Raw(ctx, []byte{0x00, apdu.InsVerify, 0x00, refPIN})
				if err != nil {
					return err
				}
				long, err := e.Raw(ctx, []byte{0x00, apdu.InsVerify, 0x00, refPIN, 0x00})
				if err != nil {
					return err
				}
				if !statusAnswer(long.SW) {
					return fmt.Errorf("VERIFY without data, P3 = 00: card answered %s, want 63CX, 9000 or 6983", swText(long.SW))
				}
				if short.SW != long.SW {
					return fmt.Errorf("VERIFY without data answered %s as 4 bytes (case 1) but %s with P3 = 00: both forms must be accepted alike", swText(short.SW), swText(long.SW))
				}
				return nil
			},
		},
		{
			ID: "ISO-61XX", Title: "an answer over 256 bytes comes as 256 bytes and 61xx, the rest by GET RESPONSE",
			Ref: "ISO/IEC 7816-4 §5.1.3 (61xx), §7.6.1 (GET RESPONSE); ISO/IEC 7816-3 §12.2 (T=0)", Class: Safe,
			Run: func(ctx context.Context, e *Env) error {
				tag, whole, err := longObject(ctx, e)
				if err != nil {
					return err
				}
				// Without Le, as piv-go sends it.
				r, err := e.firstPiece(ctx, getDataCmd(tag))
				if err != nil {
					return err
				}
				if r.SW.SW1() == 0x6C {
					return fmt.Errorf("GET DATA %X without Le answered %s: a card must send the first 256 bytes and 61xx, not ask for Le again (piv-go treats 6Cxx as an error)", tag, swText(r.SW))
				}
				if r.SW.SW1() != 0x61 || len(r.Data) != 256 {
					return fmt.Errorf("GET DATA %X (%d bytes) without Le answered %d bytes and %s, want 256 bytes and 61xx", tag, len(whole), len(r.Data), swText(r.SW))
				}
				got := r.Data
				for i := 0; r.SW.SW1() == 0x61; i++ {
					if i > 256 {
						return fmt.Errorf("GET RESPONSE: still 61xx after %d commands", i)
					}
					n, _ := r.SW.BytesRemaining()
					if r, err = e.RawCmd(ctx, apdu.Command{INS: apdu.InsGetResponse, Ne: n}); err != nil {
						return err
					}
					got = append(got, r.Data...)
				}
				if r.SW != apdu.SWSuccess {
					return fmt.Errorf("the last GET RESPONSE answered %s, want 9000", swText(r.SW))
				}
				if !bytes.Equal(got, whole) {
					return fmt.Errorf("GET DATA %X through GET RESPONSE gave %d bytes that differ from the %d of the object", tag, len(got), len(whole))
				}
				return nil
			},
		},
		{
			ID: "ISO-GETRESPONSE", Title: "GET RESPONSE with nothing pending answers 6985",
			Ref: "ISO/IEC 7816-4 §7.6.1", Class: Safe,
			Run: func(ctx context.Context, e *Env) error {
				sw, err := e.SW(ctx, apdu.Command{INS: apdu.InsGetResponse, Ne: 256})
				if err != nil {
					return err
				}
				return expectSW("GET RESPONSE after a complete answer", sw, apdu.SWConditionsNotSatisfied)
			},
		},
		{
			ID: "ISO-CHAIN", Title: "a chained command is reassembled: each part but the last answers 9000",
			Ref: "ISO/IEC 7816-4 §5.1.1.1 (command chaining)", Class: Safe,
			Run: func(ctx context.Context, e *Env) error {
				want, err := e.Transmit(ctx, getDataCmd(objCHUID()))
				if err != nil {
					return err
				}
				first, err := e.Raw(ctx, []byte{apdu.CLAChaining, apdu.InsGetDataOdd, 0x3F, 0xFF, 0x02, 0x5C, 0x03})
				if err != nil {
					return err
				}
				if first.SW != apdu.SWSuccess || len(first.Data) != 0 {
					return fmt.Errorf("first part of a chained GET DATA (CLA 10): card answered %d bytes and %s, want 9000 alone", len(first.Data), swText(first.SW))
				}
				last, err := e.Transmit(ctx, apdu.Command{INS: apdu.InsGetDataOdd, P1: 0x3F, P2: 0xFF, Data: objCHUID()})
				if err != nil {
					return err
				}
				if last.SW != want.SW || !bytes.Equal(last.Data, want.Data) {
					return fmt.Errorf("the chained GET DATA %X answered %s (%d bytes), the same command unchained %s (%d bytes)", objCHUID(), swText(last.SW), len(last.Data), swText(want.SW), len(want.Data))
				}
				return nil
			},
		},
		{
			ID: "ISO-CHAIN-BREAK", Title: "a chain interrupted by another command is discarded",
			Ref: "ISO/IEC 7816-4 §5.1.1.1 (command chaining)", Class: Safe,
			Run: func(ctx context.Context, e *Env) error {
				whole, err := e.Transmit(ctx, getDataCmd(objCHUID()))
				if err != nil {
					return err
				}
				first, err := e.Raw(ctx, []byte{apdu.CLAChaining, apdu.InsGetDataOdd, 0x3F, 0xFF, 0x02, 0x5C, 0x03})
				if err != nil {
					return err
				}
				if first.SW == apdu.SWChainingNotSupported {
					return Skipf("the card does not chain commands (6884); ISO-CHAIN says whether it must")
				}
				if _, err := e.Status(ctx); err != nil {
					return err
				}
				rest, err := e.Transmit(ctx, apdu.Command{INS: apdu.InsGetDataOdd, P1: 0x3F, P2: 0xFF, Data: objCHUID()})
				if err != nil {
					return err
				}
				if rest.SW == whole.SW && bytes.Equal(rest.Data, whole.Data) {
					return fmt.Errorf("after VERIFY interrupted the chain, its last part completed it (%s): the chain must be discarded", swText(rest.SW))
				}
				if rest.SW == apdu.SWSuccess || rest.SW.SW1() == 0x61 {
					return fmt.Errorf("the last part of an interrupted chain, alone a malformed GET DATA, answered %s", swText(rest.SW))
				}
				return nil
			},
		},
		{
			ID: "ISO-EXTENDED", Title: "an extended-length command is answered as its short form, or refused with 6700",
			Ref: "ISO/IEC 7816-4 §5.1 (extended Lc and Le)", Class: Safe,
			Run: func(ctx context.Context, e *Env) error {
				short, err := e.Transmit(ctx, getDataCmd(objCHUID()))
				if err != nil {
					return err
				}
				ext := getDataCmd(objCHUID())
				ext.Extended, ext.Ne = true, 65536
				r, err := e.Transmit(ctx, ext)
				if err != nil {
					// Some readers and drivers refuse extended APDUs
					// themselves; the card never saw it.
					if serr := e.Select(ctx); serr == nil {
						return Skipf("the reader did not pass the extended-length command to the card (%v)", err)
					}
					return err
				}
				if r.SW == apdu.SWWrongLength {
					return nil
				}
				if r.SW != short.SW || !bytes.Equal(r.Data, short.Data) {
					return fmt.Errorf("extended GET DATA %X answered %s (%d bytes), the short form %s (%d bytes): want the same, or 6700", objCHUID(), swText(r.SW), len(r.Data), swText(short.SW), len(short.Data))
				}
				return pivStillAnswers(ctx, e, "after the extended command")
			},
		},
	}
}

// statusAnswer reports whether sw is an answer VERIFY without data may
// give: 9000, 63CX or 6983 (SP 800-73-4 Part 2 §3.2.1).
func statusAnswer(sw apdu.StatusWord) bool {
	_, retries := sw.Retries()
	return retries || sw == apdu.SWSuccess || sw == apdu.SWAuthMethodBlocked
}

// pivStillAnswers checks the PIV application still answers VERIFY without
// data as it should.
func pivStillAnswers(ctx context.Context, e *Env, when string) error {
	sw, err := e.Status(ctx)
	if err != nil {
		return err
	}
	if !statusAnswer(sw) {
		return fmt.Errorf("%s, VERIFY without data answered %s: the PIV application is no longer selected", when, swText(sw))
	}
	return nil
}

// longObject returns a readable data object longer than 256 bytes, with its
// whole answer (fetched with the exchange rules), or a skip.
func longObject(ctx context.Context, e *Env) ([]byte, []byte, error) {
	for _, tag := range readableObjects() {
		r, err := e.Transmit(ctx, getDataCmd(tag))
		if err != nil {
			return nil, nil, err
		}
		if r.SW == apdu.SWSuccess && len(r.Data) > 256 {
			return tag, r.Data, nil
		}
	}
	return nil, nil, Skipf("no readable data object on the card is longer than 256 bytes")
}
