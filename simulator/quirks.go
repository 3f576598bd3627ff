package simulator

import (
	"encoding/asn1"
	"math/big"

	"github.com/tesseracard/tessera/apdu"
	"github.com/tesseracard/tessera/firmware"
	"github.com/tesseracard/tessera/firmware/profile"
)

// processFunc passes one command APDU to a card and returns its response
// APDU, or nil when the card lost power: the card's Process, perhaps wrapped
// in wire-level quirks. The trace shows what the card's TakeDisclosure allows
// for the command: a decorator that answers without calling next leaves it
// zero (all data withheld), and one that reshapes an answer keeps the
// card's decision for the data it carries, so it must never move data from
// one answer into another.
type processFunc func(*firmware.Card, []byte) []byte

// withWireQuirks wraps next in a decorator for each wire-level quirk the
// profile turns on: misbehaviours of the APDU exchange that sit outside the
// card OS and its applets. (The behavioural quirks, which change what the
// firmware does, are named switches in firmware, firmware/pin and
// firmware/piv, set by NewCard.) Each decorator keeps its state, if any, in
// its closure: one per reader.
func withWireQuirks(p profile.Profile, next processFunc) processFunc {
	decorators := wireQuirks()
	for _, q := range p.Quirks {
		if wrap, ok := decorators[q]; ok {
			next = wrap(next)
		}
	}
	return next
}

// wireQuirks returns the decorator of each wire-level quirk, by name.
func wireQuirks() map[string]func(processFunc) processFunc {
	return map[string]func(processFunc) processFunc{
		profile.QuirkSW6300:                 quirkSW6300,
		profile.QuirkSW6Cxx:                 quirkSW6Cxx,
		profile.QuirkNoChaining:             quirkNoChaining,
		profile.QuirkTrailingBytes:          quirkTrailingBytes,
		profile.QuirkECDSARawSignature:      quirkECDSARawSignature,
		profile.QuirkSelectFailureDeselects: quirkSelectFailureDeselects,
		profile.QuirkCase1Refused:           quirkCase1Refused,
	}
}

func swOnly(sw apdu.StatusWord) []byte { return []byte{sw.SW1(), sw.SW2()} }

// respSW returns the status word of a response APDU, or 0 if it has none.
func respSW(resp []byte) apdu.StatusWord {
	if len(resp) < 2 {
		return 0
	}
	return apdu.SWFromBytes(resp[len(resp)-2], resp[len(resp)-1])
}

// interindustry reports whether cmd has an interindustry class byte (bit 8
// clear), the class whose INS codes ISO/IEC 7816-4 defines.
func interindustry(cmd []byte) bool { return len(cmd) >= 4 && cmd[0]&0x80 == 0 }

// quirkSW6300 answers 6300, "verification failed" without a count, where
// the card answers 63Cx.
func quirkSW6300(next processFunc) processFunc {
	return func(c *firmware.Card, cmd []byte) []byte {
		resp := next(c, cmd)
		if _, ok := respSW(resp).Retries(); ok {
			resp[len(resp)-1] = 0x00
		}
		return resp
	}
}

// quirkSW6Cxx answers 6Cxx, "wrong Le, send again with Le = xx", where the
// card would send a first piece of data and 61xx, unless the command's Le
// already asked for exactly that piece. A host that resends gets the piece
// and 61xx; one that does not (piv-go) fails.
func quirkSW6Cxx(next processFunc) processFunc {
	return func(c *firmware.Card, cmd []byte) []byte {
		resp := next(c, cmd)
		if respSW(resp).SW1() != 0x61 || interindustry(cmd) && cmd[1] == apdu.InsGetResponse {
			return resp
		}
		piece := len(resp) - 2
		if parsed, err := apdu.ParseCommand(cmd); err == nil && parsed.Ne == piece {
			return resp
		}
		return swOnly(apdu.WrongLeSW(piece))
	}
}

// quirkNoChaining refuses every command with the chaining bit set: 6884.
func quirkNoChaining(next processFunc) processFunc {
	return func(c *firmware.Card, cmd []byte) []byte {
		if interindustry(cmd) && cmd[0]&apdu.CLAChaining != 0 {
			return swOnly(apdu.SWChainingNotSupported)
		}
		return next(c, cmd)
	}
}

// quirkTrailingBytes appends a stray 00 byte to the data GET DATA returns:
// after the object in a short answer, or at the end of the last GET
// RESPONSE piece of a long one.
func quirkTrailingBytes(next processFunc) processFunc {
	inGetData := false
	return func(c *firmware.Card, cmd []byte) []byte {
		resp := next(c, cmd)
		switch {
		case !interindustry(cmd):
			inGetData = false
		case cmd[1] == apdu.InsGetDataOdd:
			inGetData = true
		case cmd[1] != 0xC0: // GET RESPONSE continues the answer
			inGetData = false
		}
		if inGetData && len(resp) > 2 && respSW(resp) == apdu.SWSuccess {
			inGetData = false
			n := len(resp)
			return append(resp[:n-2:n-2], 0x00, 0x90, 0x00)
		}
		return resp
	}
}

// quirkECDSARawSignature answers an ECDSA signature (GENERAL AUTHENTICATE
// with a P-256 or P-384 key and a challenge, SP 800-73-4 Part 2 §3.2.4) as
// the raw r‖s, each the size of the curve, instead of the DER
// Ecdsa-Sig-Value SEQUENCE { r, s } that SP 800-78-4 specifies.
func quirkECDSARawSignature(next processFunc) processFunc {
	return func(c *firmware.Card, cmd []byte) []byte {
		resp := next(c, cmd)
		size := ecdsaSignatureSize(cmd)
		if size == 0 || respSW(resp) != apdu.SWSuccess {
			return resp
		}
		dyn, ok, err := apdu.FindTLV(resp[:len(resp)-2], 0x7C)
		if err != nil || !ok {
			return resp
		}
		der, ok, err := apdu.FindTLV(dyn, 0x82)
		if err != nil || !ok {
			return resp
		}
		var sig struct{ R, S *big.Int }
		if rest, err := asn1.Unmarshal(der, &sig); err != nil || len(rest) != 0 || sig.R.BitLen() > 8*size || sig.S.BitLen() > 8*size {
			return resp
		}
		raw := append(sig.R.FillBytes(make([]byte, size)), sig.S.FillBytes(make([]byte, size))...)
		out := apdu.Nest(0x7C, apdu.AppendTLV(nil, 0x82, raw))
		return append(out, 0x90, 0x00)
	}
}

// ecdsaSignatureSize returns the curve size in bytes when cmd is a whole
// (unchained) GENERAL AUTHENTICATE asking a P-256 (11) or P-384 (14) key to
// sign a challenge, else 0.
func ecdsaSignatureSize(cmd []byte) int {
	if !interindustry(cmd) || cmd[0]&apdu.CLAChaining != 0 || cmd[1] != 0x87 || cmd[3] == 0x9B {
		return 0
	}
	size := map[byte]int{0x11: 32, 0x14: 48}[cmd[2]]
	if size == 0 {
		return 0
	}
	parsed, err := apdu.ParseCommand(cmd)
	if err != nil {
		return 0
	}
	dyn, ok, err := apdu.FindTLV(parsed.Data, 0x7C)
	if err != nil || !ok {
		return 0
	}
	if _, chal, _ := apdu.FindTLV(dyn, 0x81); !chal {
		return 0
	}
	return size
}

// quirkSelectFailureDeselects makes a SELECT of an absent application leave
// no application selected: until the next successful SELECT every other
// command answers 6D00, as if nothing were selected (SP 800-85A-4 VE05.10
// wants the PIV application to stay selected).
func quirkSelectFailureDeselects(next processFunc) processFunc {
	deselected := false
	return func(c *firmware.Card, cmd []byte) []byte {
		isSelect := interindustry(cmd) && cmd[1] == apdu.InsSelect && cmd[2] == 0x04
		if !isSelect && deselected {
			return swOnly(apdu.SWINSNotSupported)
		}
		resp := next(c, cmd)
		if isSelect && resp != nil {
			deselected = respSW(resp) != apdu.SWSuccess
		}
		return resp
	}
}

// quirkCase1Refused refuses every 4-byte command (ISO/IEC 7816-3 case 1,
// no Lc and no Le) with 6700, as cards that insist on P3 do.
func quirkCase1Refused(next processFunc) processFunc {
	return func(c *firmware.Card, cmd []byte) []byte {
		if len(cmd) == 4 {
			return swOnly(apdu.SWWrongLength)
		}
		return next(c, cmd)
	}
}
