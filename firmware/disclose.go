package firmware

import "github.com/tesseracard/tessera/apdu"

// DiscloseInterindustry is the part of Disclose that the interindustry
// applets (PIV, the ISO file-system application) share: a command of any
// class but 00 (the chaining bit aside) shows nothing, and VERIFY, CHANGE
// REFERENCE DATA and RESET RETRY COUNTER (ISO/IEC 7816-4 §7.5), whose data
// is a PIN or a PUK, show only their (empty) answer. decided is false for
// every other command: the applet judges it.
func DiscloseInterindustry(cmd apdu.Command) (d Disclosure, decided bool) {
	if cmd.CLA&^apdu.CLAChaining != 0x00 {
		return Disclosure{}, true
	}
	switch cmd.INS {
	case apdu.InsVerify, apdu.InsChangeReferenceData, apdu.InsResetRetryCounter:
		return Disclosure{Response: true}, true // no response data
	}
	return Disclosure{}, false
}
