package apdu

import (
	"strconv"
)

// StatusWord is the trailer SW1-SW2 of a response APDU, ISO/IEC 7816-4
// §5.1.3, as the number SW1<<8 | SW2. It implements error, so a card's
// refusal can travel up the host stack unchanged and be tested with
// errors.Is:
//
//	if errors.Is(err, apdu.SWFileNotFound) { ... }
//
// [StatusWord.Is] folds the families whose SW2 carries a number: any 63Cx
// (and 6300) is [SWVerificationFailed], any 61xx is [SWBytesRemaining] and
// any 6Cxx is [SWWrongLe].
type StatusWord uint16

// Interindustry status words, ISO/IEC 7816-4 §5.1.3, Tables 5 and 6.
const (
	// Normal processing.
	SWSuccess        StatusWord = 0x9000 // normal processing, no further qualification
	SWBytesRemaining StatusWord = 0x6100 // 61xx: SW2 bytes still available (00: 256 or more); family, see Is

	// Warnings, non-volatile memory unchanged (62xx).
	SWDataCorrupted   StatusWord = 0x6281 // part of returned data may be corrupted
	SWEndOfFile       StatusWord = 0x6282 // end of file or record reached before reading Ne bytes
	SWFileInvalidated StatusWord = 0x6283 // selected file invalidated (deactivated)

	// Warnings, non-volatile memory changed (63xx).
	SWWarningNoInfo      StatusWord = 0x6300 // no information given; cards send it for a failed verification without a counter
	SWVerificationFailed StatusWord = 0x63C0 // 63Cx: verification failed, x retries left; family, see Is

	// Execution errors (64xx, 65xx).
	SWExecutionError StatusWord = 0x6400 // execution error, non-volatile memory unchanged
	SWMemoryFailure  StatusWord = 0x6581 // memory failure

	// Checking errors (67xx to 6Fxx).
	SWWrongLength                 StatusWord = 0x6700 // wrong length
	SWLogicalChannelNotSupported  StatusWord = 0x6881 // logical channel not supported
	SWSecureMessagingNotSupported StatusWord = 0x6882 // secure messaging not supported
	SWLastCommandExpected         StatusWord = 0x6883 // last command of the chain expected
	SWChainingNotSupported        StatusWord = 0x6884 // command chaining not supported
	SWCommandIncompatible         StatusWord = 0x6981 // command incompatible with file structure
	SWSecurityStatusNotSatisfied  StatusWord = 0x6982 // security status not satisfied
	SWAuthMethodBlocked           StatusWord = 0x6983 // authentication method blocked
	SWReferenceDataUnusable       StatusWord = 0x6984 // reference data not usable
	SWConditionsNotSatisfied      StatusWord = 0x6985 // conditions of use not satisfied
	SWCommandNotAllowed           StatusWord = 0x6986 // command not allowed (no current EF)
	SWSMDataMissing               StatusWord = 0x6987 // expected secure messaging data objects missing
	SWSMDataIncorrect             StatusWord = 0x6988 // incorrect secure messaging data objects
	SWIncorrectData               StatusWord = 0x6A80 // incorrect parameters in the command data field
	SWFunctionNotSupported        StatusWord = 0x6A81 // function not supported
	SWFileNotFound                StatusWord = 0x6A82 // file or application not found
	SWRecordNotFound              StatusWord = 0x6A83 // record not found
	SWNotEnoughMemory             StatusWord = 0x6A84 // not enough memory space in the file
	SWLcInconsistentWithTLV       StatusWord = 0x6A85 // Nc inconsistent with TLV structure
	SWIncorrectP1P2               StatusWord = 0x6A86 // incorrect parameters P1-P2
	SWLcInconsistentWithP1P2      StatusWord = 0x6A87 // Nc inconsistent with parameters P1-P2
	SWReferenceNotFound           StatusWord = 0x6A88 // referenced data or reference data not found
	SWFileExists                  StatusWord = 0x6A89 // file already exists
	SWDFNameExists                StatusWord = 0x6A8A // DF name already exists
	SWWrongP1P2                   StatusWord = 0x6B00 // wrong parameters P1-P2
	SWWrongLe                     StatusWord = 0x6C00 // 6Cxx: wrong Le field, SW2 bytes available (00: 256); family, see Is
	SWINSNotSupported             StatusWord = 0x6D00 // instruction code not supported or invalid
	SWCLANotSupported             StatusWord = 0x6E00 // class not supported
	SWUnknown                     StatusWord = 0x6F00 // no precise diagnosis
)

// SWFromBytes returns the status word SW1-SW2.
func SWFromBytes(sw1, sw2 byte) StatusWord {
	return StatusWord(sw1)<<8 | StatusWord(sw2)
}

// RetriesSW returns 63Cx, "verification failed, x retries left", with n
// clamped to 0..15.
func RetriesSW(n int) StatusWord {
	return SWVerificationFailed | StatusWord(min(max(n, 0), 15))
}

// MoreDataSW returns the status word telling the host that n response
// bytes remain to be fetched with GET RESPONSE: 61xx with SW2 = n for n in
// 1..255, and 6100 for n ≥ 256. For n ≤ 0 nothing remains and it returns
// [SWSuccess].
func MoreDataSW(n int) StatusWord {
	switch {
	case n <= 0:
		return SWSuccess
	case n >= 256:
		return SWBytesRemaining
	}
	return SWBytesRemaining | StatusWord(n)
}

// WrongLeSW returns 6Cxx, "wrong Le field; exactly n bytes available", with
// n clamped to 1..256 (6C00 for 256).
func WrongLeSW(n int) StatusWord {
	return SWWrongLe | StatusWord(byte(min(max(n, 1), 256)))
}

// SW1 returns the first status byte.
func (sw StatusWord) SW1() byte { return byte(sw >> 8) }

// SW2 returns the second status byte.
func (sw StatusWord) SW2() byte { return byte(sw) }

// OK reports whether sw is 9000, normal processing. 61xx is not OK: the
// response is incomplete until the remaining bytes are fetched.
func (sw StatusWord) OK() bool { return sw == SWSuccess }

// Retries returns x for 63Cx, "verification failed, x retries left".
// ok is false for any other status word, including 6300.
func (sw StatusWord) Retries() (n int, ok bool) {
	if sw&0xFFF0 != SWVerificationFailed {
		return 0, false
	}
	return int(sw & 0x0F), true
}

// BytesRemaining returns the number of response bytes 61xx says are still
// available: SW2, or 256 for 6100. ok is false for any other status word.
func (sw StatusWord) BytesRemaining() (n int, ok bool) {
	if sw.SW1() != 0x61 {
		return 0, false
	}
	return shortNe(sw.SW2()), true
}

// ExactLe returns the Le 6Cxx asks the host to resend the command with:
// SW2, or 256 for 6C00. ok is false for any other status word.
func (sw StatusWord) ExactLe() (n int, ok bool) {
	if sw.SW1() != 0x6C {
		return 0, false
	}
	return shortNe(sw.SW2()), true
}

// Is reports whether sw matches target, which must be a StatusWord. Three
// families fold into their base value:
//
//   - 6300 and every 63Cx match [SWVerificationFailed] (63C0);
//   - every 61xx matches [SWBytesRemaining] (6100);
//   - every 6Cxx matches [SWWrongLe] (6C00).
//
// Otherwise status words match only when equal.
func (sw StatusWord) Is(target error) bool {
	t, ok := target.(StatusWord)
	if !ok {
		return false
	}
	switch t {
	case SWVerificationFailed:
		_, ok := sw.Retries()
		return ok || sw == SWWarningNoInfo
	case SWBytesRemaining:
		return sw.SW1() == 0x61
	case SWWrongLe:
		return sw.SW1() == 0x6C
	}
	return sw == t
}

// Err returns nil for 9000 and otherwise an error describing sw: an
// [*AuthError] for 63Cx (Retries x) and for 6983 (Retries 0, Blocked),
// and sw itself for every other value, 61xx included. 6300 is returned as
// itself, since it gives no retry count; it still matches
// SWVerificationFailed under errors.Is.
func (sw StatusWord) Err() error {
	switch {
	case sw == SWSuccess:
		return nil
	case sw == SWAuthMethodBlocked:
		return &AuthError{Retries: 0, Blocked: true, SW: sw}
	}
	if n, ok := sw.Retries(); ok {
		return &AuthError{Retries: n, SW: sw}
	}
	return sw
}

// Error describes sw as "apdu: " followed by its four hexadecimal digits
// and its meaning, e.g. "apdu: 6982 security status not satisfied" or
// "apdu: 63C2 verification failed (2 retries left)". A value without a
// name is described by its ISO/IEC 7816-4 family, e.g.
// "apdu: 6A99 unrecognized (6Axx: wrong parameters P1-P2)".
func (sw StatusWord) Error() string {
	b := make([]byte, 0, 64)
	b = append(b, "apdu: "...)
	b = appendHex4(b, uint16(sw))
	b = append(b, ' ')
	switch sw.SW1() {
	case 0x61:
		n, _ := sw.BytesRemaining()
		b = append(b, "more data available ("...)
		b = strconv.AppendInt(b, int64(n), 10)
		if n == 256 {
			b = append(b, " or more"...)
		}
		b = append(b, " bytes)"...)
		return string(b)
	case 0x6C:
		n, _ := sw.ExactLe()
		b = append(b, "wrong Le field ("...)
		b = strconv.AppendInt(b, int64(n), 10)
		b = append(b, " bytes available)"...)
		return string(b)
	}
	if n, ok := sw.Retries(); ok {
		b = append(b, "verification failed ("...)
		b = strconv.AppendInt(b, int64(n), 10)
		if n == 1 {
			b = append(b, " retry left)"...)
		} else {
			b = append(b, " retries left)"...)
		}
		return string(b)
	}
	if name := sw.name(); name != "" {
		return string(append(b, name...))
	}
	b = append(b, "unrecognized ("...)
	b = append(b, family(sw.SW1())...)
	b = append(b, ')')
	return string(b)
}

// name returns the meaning of the named status words.
func (sw StatusWord) name() string {
	switch sw {
	case SWSuccess:
		return "success"
	case SWDataCorrupted:
		return "part of returned data may be corrupted"
	case SWEndOfFile:
		return "end of file or record reached before reading Ne bytes"
	case SWFileInvalidated:
		return "selected file invalidated"
	case SWWarningNoInfo:
		return "warning, no information given"
	case SWExecutionError:
		return "execution error"
	case SWMemoryFailure:
		return "memory failure"
	case SWWrongLength:
		return "wrong length"
	case SWLogicalChannelNotSupported:
		return "logical channel not supported"
	case SWSecureMessagingNotSupported:
		return "secure messaging not supported"
	case SWLastCommandExpected:
		return "last command of the chain expected"
	case SWChainingNotSupported:
		return "command chaining not supported"
	case SWCommandIncompatible:
		return "command incompatible with file structure"
	case SWSecurityStatusNotSatisfied:
		return "security status not satisfied"
	case SWAuthMethodBlocked:
		return "authentication method blocked"
	case SWReferenceDataUnusable:
		return "reference data not usable"
	case SWConditionsNotSatisfied:
		return "conditions of use not satisfied"
	case SWCommandNotAllowed:
		return "command not allowed (no current EF)"
	case SWSMDataMissing:
		return "expected secure messaging data objects missing"
	case SWSMDataIncorrect:
		return "incorrect secure messaging data objects"
	case SWIncorrectData:
		return "incorrect parameters in the command data field"
	case SWFunctionNotSupported:
		return "function not supported"
	case SWFileNotFound:
		return "file or application not found"
	case SWRecordNotFound:
		return "record not found"
	case SWNotEnoughMemory:
		return "not enough memory space"
	case SWLcInconsistentWithTLV:
		return "Nc inconsistent with TLV structure"
	case SWIncorrectP1P2:
		return "incorrect parameters P1-P2"
	case SWLcInconsistentWithP1P2:
		return "Nc inconsistent with parameters P1-P2"
	case SWReferenceNotFound:
		return "referenced data not found"
	case SWFileExists:
		return "file already exists"
	case SWDFNameExists:
		return "DF name already exists"
	case SWWrongP1P2:
		return "wrong parameters P1-P2"
	case SWINSNotSupported:
		return "instruction not supported"
	case SWCLANotSupported:
		return "class not supported"
	case SWUnknown:
		return "no precise diagnosis"
	}
	return ""
}

// family describes the ISO/IEC 7816-4 Table 5 group of SW1.
func family(sw1 byte) string {
	switch sw1 {
	case 0x62:
		return "62xx: warning, non-volatile memory unchanged"
	case 0x63:
		return "63xx: warning, non-volatile memory changed"
	case 0x64:
		return "64xx: execution error, non-volatile memory unchanged"
	case 0x65:
		return "65xx: execution error, non-volatile memory changed"
	case 0x66:
		return "66xx: security-related issue"
	case 0x67:
		return "67xx: wrong length"
	case 0x68:
		return "68xx: functions in CLA not supported"
	case 0x69:
		return "69xx: command not allowed"
	case 0x6A:
		return "6Axx: wrong parameters P1-P2"
	case 0x6B:
		return "6Bxx: wrong parameters P1-P2"
	case 0x6D:
		return "6Dxx: instruction not supported"
	case 0x6E:
		return "6Exx: class not supported"
	case 0x6F:
		return "6Fxx: no precise diagnosis"
	}
	if sw1&0xF0 == 0x90 {
		return "9xxx: proprietary"
	}
	return "not an ISO/IEC 7816-4 status word"
}

func hexDigit(x byte) byte { return "0123456789ABCDEF"[x&0x0F] }

func appendHex4(dst []byte, v uint16) []byte {
	return append(dst, hexDigit(byte(v>>12)), hexDigit(byte(v>>8)), hexDigit(byte(v>>4)), hexDigit(byte(v)))
}

// AuthError reports a failed verification (VERIFY, CHANGE REFERENCE DATA,
// RESET RETRY COUNTER, or any command answered with 63Cx or 6983). It is
// returned by [StatusWord.Err] and is meant for errors.As:
//
//	var ae *apdu.AuthError
//	if errors.As(err, &ae) {
//		fmt.Println(ae.Retries, "tries left")
//	}
//
// Unwrap returns SW, so errors.Is(err, SWVerificationFailed) and
// errors.Is(err, SWAuthMethodBlocked) work on it too.
type AuthError struct {
	// Retries is the number of verification attempts left: x of 63Cx, or 0.
	Retries int
	// Blocked reports that the card refused to verify because the
	// reference data is blocked (6983). After 63C0, the last failed try,
	// Retries is 0 but Blocked is false: the card only reports the block
	// on the next attempt.
	Blocked bool
	// SW is the status word the card returned.
	SW StatusWord
}

// Error returns the description of e.SW, e.g.
// "apdu: 63C2 verification failed (2 retries left)".
func (e *AuthError) Error() string {
	switch {
	case e.SW != 0:
		return e.SW.Error()
	case e.Blocked:
		return SWAuthMethodBlocked.Error()
	}
	return RetriesSW(e.Retries).Error()
}

// Unwrap returns e.SW.
func (e *AuthError) Unwrap() error { return e.SW }
