package apdu

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestStatusWordIs(t *testing.T) {
	tests := []struct {
		sw, target StatusWord
		want       bool
	}{
		{0x63C2, SWVerificationFailed, true},
		{0x63C0, SWVerificationFailed, true},
		{0x63CF, SWVerificationFailed, true},
		{0x6300, SWVerificationFailed, true},
		{0x6381, SWVerificationFailed, false},
		{0x6983, SWVerificationFailed, false},
		{0x610A, SWBytesRemaining, true},
		{0x6100, SWBytesRemaining, true},
		{0x6C10, SWWrongLe, true},
		{0x6C00, SWWrongLe, true},
		{0x6A82, SWFileNotFound, true},
		{0x6A88, SWFileNotFound, false},
		{0x63C2, 0x63C2, true},
		{0x63C2, 0x63C3, false},
		{SWVerificationFailed, SWWarningNoInfo, false},
		{0x9000, SWSuccess, true},
	}
	for _, tt := range tests {
		if got := errors.Is(tt.sw, tt.target); got != tt.want {
			t.Errorf("errors.Is(%04X, %04X) = %v, want %v", uint16(tt.sw), uint16(tt.target), got, tt.want)
		}
	}
	if errors.Is(SWSuccess, errors.New("x")) {
		t.Errorf("errors.Is(StatusWord, non-StatusWord) = true, want false")
	}
}

func TestStatusWordErr(t *testing.T) {
	tests := []struct {
		sw          StatusWord
		wantNil     bool
		wantAuth    bool
		wantRetries int
		wantBlocked bool
	}{
		{sw: 0x9000, wantNil: true},
		{sw: 0x6100},
		{sw: 0x6300},
		{sw: 0x6982},
		{sw: 0x63C2, wantAuth: true, wantRetries: 2},
		{sw: 0x63C0, wantAuth: true, wantRetries: 0},
		{sw: 0x63CF, wantAuth: true, wantRetries: 15},
		{sw: 0x6983, wantAuth: true, wantRetries: 0, wantBlocked: true},
	}
	for _, tt := range tests {
		err := tt.sw.Err()
		if (err == nil) != tt.wantNil {
			t.Errorf("%04X.Err() = %v, want nil: %v", uint16(tt.sw), err, tt.wantNil)
			continue
		}
		if err == nil {
			continue
		}
		if !errors.Is(err, tt.sw) {
			t.Errorf("errors.Is(%04X.Err(), %04X) = false, want true", uint16(tt.sw), uint16(tt.sw))
		}
		var ae *AuthError
		if got := errors.As(err, &ae); got != tt.wantAuth {
			t.Errorf("errors.As(%04X.Err(), *AuthError) = %v, want %v", uint16(tt.sw), got, tt.wantAuth)
			continue
		}
		if !tt.wantAuth {
			if got, ok := err.(StatusWord); !ok || got != tt.sw {
				t.Errorf("%04X.Err() = %#v, want the StatusWord itself", uint16(tt.sw), err)
			}
			continue
		}
		if ae.Retries != tt.wantRetries || ae.Blocked != tt.wantBlocked || ae.SW != tt.sw {
			t.Errorf("%04X.Err() = %+v, want Retries %d, Blocked %v, SW %04X",
				uint16(tt.sw), *ae, tt.wantRetries, tt.wantBlocked, uint16(tt.sw))
		}
	}
}

func TestAuthErrorWrapped(t *testing.T) {
	err := fmt.Errorf("verifying PIN: %w", StatusWord(0x63C2).Err())
	var ae *AuthError
	if !errors.As(err, &ae) || ae.Retries != 2 {
		t.Fatalf("errors.As(%v) = %+v, want Retries 2", err, ae)
	}
	if !errors.Is(err, SWVerificationFailed) {
		t.Errorf("errors.Is(%v, SWVerificationFailed) = false, want true", err)
	}
	if errors.Is(err, SWAuthMethodBlocked) {
		t.Errorf("errors.Is(%v, SWAuthMethodBlocked) = true, want false", err)
	}
	blocked := fmt.Errorf("verifying PIN: %w", SWAuthMethodBlocked.Err())
	if !errors.Is(blocked, SWAuthMethodBlocked) {
		t.Errorf("errors.Is(%v, SWAuthMethodBlocked) = false, want true", blocked)
	}
}

func TestStatusWordError(t *testing.T) {
	tests := []struct {
		sw   StatusWord
		want string
	}{
		{0x9000, "apdu: 9000 success"},
		{0x6982, "apdu: 6982 security status not satisfied"},
		{0x6983, "apdu: 6983 authentication method blocked"},
		{0x6A82, "apdu: 6A82 file or application not found"},
		{0x63C2, "apdu: 63C2 verification failed (2 retries left)"},
		{0x63C1, "apdu: 63C1 verification failed (1 retry left)"},
		{0x610A, "apdu: 610A more data available (10 bytes)"},
		{0x6100, "apdu: 6100 more data available (256 or more bytes)"},
		{0x6C10, "apdu: 6C10 wrong Le field (16 bytes available)"},
		{0x6C00, "apdu: 6C00 wrong Le field (256 bytes available)"},
		{0x6499, "apdu: 6499 unrecognized (64xx: execution error, non-volatile memory unchanged)"},
		{0x6A99, "apdu: 6A99 unrecognized (6Axx: wrong parameters P1-P2)"},
		{0x9123, "apdu: 9123 unrecognized (9xxx: proprietary)"},
		{0x1234, "apdu: 1234 unrecognized (not an ISO/IEC 7816-4 status word)"},
	}
	for _, tt := range tests {
		if got := tt.sw.Error(); got != tt.want {
			t.Errorf("StatusWord(%04X).Error() = %q, want %q", uint16(tt.sw), got, tt.want)
		}
	}
	authTests := []struct {
		err  *AuthError
		want string
	}{
		{&AuthError{Retries: 3}, "apdu: 63C3 verification failed (3 retries left)"},
		{&AuthError{Blocked: true}, "apdu: 6983 authentication method blocked"},
		{&AuthError{Retries: 1, SW: 0x63C1}, "apdu: 63C1 verification failed (1 retry left)"},
	}
	for _, tt := range authTests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("%+v.Error() = %q, want %q", *tt.err, got, tt.want)
		}
	}
	// Every value is described, starting with its four hex digits.
	for v := 0; v <= 0xFFFF; v++ {
		sw := StatusWord(v)
		prefix := fmt.Sprintf("apdu: %04X ", v)
		if got := sw.Error(); !strings.HasPrefix(got, prefix) || len(got) <= len(prefix) {
			t.Fatalf("StatusWord(%04X).Error() = %q, want %q followed by a description", v, got, prefix)
		}
	}
}

// TestStatusWordNames checks that every exported constant has a name, so a
// new constant cannot be added without one.
func TestStatusWordNames(t *testing.T) {
	all := []StatusWord{
		SWSuccess, SWDataCorrupted, SWEndOfFile, SWFileInvalidated, SWWarningNoInfo,
		SWExecutionError, SWMemoryFailure, SWWrongLength, SWLogicalChannelNotSupported,
		SWSecureMessagingNotSupported, SWLastCommandExpected, SWChainingNotSupported,
		SWCommandIncompatible, SWSecurityStatusNotSatisfied, SWAuthMethodBlocked,
		SWReferenceDataUnusable, SWConditionsNotSatisfied, SWCommandNotAllowed,
		SWSMDataMissing, SWSMDataIncorrect, SWIncorrectData, SWFunctionNotSupported,
		SWFileNotFound, SWRecordNotFound, SWNotEnoughMemory, SWLcInconsistentWithTLV,
		SWIncorrectP1P2, SWLcInconsistentWithP1P2, SWReferenceNotFound, SWFileExists,
		SWDFNameExists, SWWrongP1P2, SWINSNotSupported, SWCLANotSupported, SWUnknown,
	}
	for _, sw := range all {
		if sw.name() == "" {
			t.Errorf("StatusWord(%04X) has no name", uint16(sw))
		}
	}
}

func TestStatusWordHelpers(t *testing.T) {
	if got := SWFromBytes(0x6A, 0x82); got != SWFileNotFound {
		t.Errorf("SWFromBytes(6A, 82) = %04X, want 6A82", uint16(got))
	}
	if sw := StatusWord(0x63C2); sw.SW1() != 0x63 || sw.SW2() != 0xC2 {
		t.Errorf("63C2.SW1(), SW2() = %02X, %02X, want 63, C2", sw.SW1(), sw.SW2())
	}
	if !SWSuccess.OK() || StatusWord(0x6100).OK() {
		t.Errorf("OK() wrong: 9000 → %v, 6100 → %v", SWSuccess.OK(), StatusWord(0x6100).OK())
	}
	swTests := []struct {
		name string
		got  StatusWord
		want StatusWord
	}{
		{"RetriesSW(3)", RetriesSW(3), 0x63C3},
		{"RetriesSW(0)", RetriesSW(0), 0x63C0},
		{"RetriesSW(-1)", RetriesSW(-1), 0x63C0},
		{"RetriesSW(16)", RetriesSW(16), 0x63CF},
		{"MoreDataSW(0)", MoreDataSW(0), 0x9000},
		{"MoreDataSW(1)", MoreDataSW(1), 0x6101},
		{"MoreDataSW(255)", MoreDataSW(255), 0x61FF},
		{"MoreDataSW(256)", MoreDataSW(256), 0x6100},
		{"MoreDataSW(1000)", MoreDataSW(1000), 0x6100},
		{"WrongLeSW(3)", WrongLeSW(3), 0x6C03},
		{"WrongLeSW(256)", WrongLeSW(256), 0x6C00},
		{"WrongLeSW(0)", WrongLeSW(0), 0x6C01},
	}
	for _, tt := range swTests {
		if tt.got != tt.want {
			t.Errorf("%s = %04X, want %04X", tt.name, uint16(tt.got), uint16(tt.want))
		}
	}
	numTests := []struct {
		name   string
		f      func() (int, bool)
		want   int
		wantOK bool
	}{
		{"63C2.Retries", StatusWord(0x63C2).Retries, 2, true},
		{"6300.Retries", StatusWord(0x6300).Retries, 0, false},
		{"6110.BytesRemaining", StatusWord(0x6110).BytesRemaining, 16, true},
		{"6100.BytesRemaining", StatusWord(0x6100).BytesRemaining, 256, true},
		{"9000.BytesRemaining", StatusWord(0x9000).BytesRemaining, 0, false},
		{"6C03.ExactLe", StatusWord(0x6C03).ExactLe, 3, true},
		{"6C00.ExactLe", StatusWord(0x6C00).ExactLe, 256, true},
		{"6D00.ExactLe", StatusWord(0x6D00).ExactLe, 0, false},
	}
	for _, tt := range numTests {
		if got, ok := tt.f(); got != tt.want || ok != tt.wantOK {
			t.Errorf("%s() = %d, %v, want %d, %v", tt.name, got, ok, tt.want, tt.wantOK)
		}
	}
}

func TestParseResponse(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		wantData string
		wantSW   StatusWord
	}{
		{"bare 9000", "90 00", "", 0x9000},
		{"version", "05 07 02 90 00", "05 07 02", 0x9000},
		{"more data", "01 02 03 61 11", "01 02 03", 0x6111},
		{"verify failed", "63 C2", "", 0x63C2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := h(t, tt.in)
			got, err := ParseResponse(in)
			if err != nil {
				t.Fatalf("ParseResponse(%X) error: %v", in, err)
			}
			if want := h(t, tt.wantData); !bytes.Equal(got.Data, want) || got.SW != tt.wantSW {
				t.Errorf("ParseResponse(%X) = %X %04X, want %X %04X", in, got.Data, uint16(got.SW), want, uint16(tt.wantSW))
			}
			if len(got.Data) == 0 && got.Data != nil {
				t.Errorf("Data = %#v, want nil", got.Data)
			}
			if out := got.Marshal(); !bytes.Equal(out, in) {
				t.Errorf("Marshal() = %X, want %X", out, in)
			}
			if s, want := got.String(), spacedUpper(in); s != want {
				t.Errorf("String() = %q, want %q", s, want)
			}
		})
	}
}

func spacedUpper(b []byte) string { return string(appendHex(nil, b)) }

func TestParseResponseMalformed(t *testing.T) {
	tests := []struct {
		name      string
		in        []byte
		truncated bool
	}{
		{"empty", nil, true},
		{"one byte", []byte{0x90}, true},
		{"too long", make([]byte, MaxResponseData+3), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseResponse(tt.in)
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("ParseResponse(%d bytes) error = %v, want ErrMalformed", len(tt.in), err)
			}
			if got := errors.Is(err, ErrTruncated); got != tt.truncated {
				t.Errorf("errors.Is(%v, ErrTruncated) = %v, want %v", err, got, tt.truncated)
			}
		})
	}
	if _, err := ParseResponse(make([]byte, MaxResponseData+2)); err != nil {
		t.Errorf("ParseResponse(65536 data bytes + SW) error: %v", err)
	}
}

func TestResponseErr(t *testing.T) {
	if err := (Response{SW: SWSuccess}).Err(); err != nil {
		t.Errorf("Response{9000}.Err() = %v, want nil", err)
	}
	if err := (Response{SW: SWFileNotFound}).Err(); !errors.Is(err, SWFileNotFound) {
		t.Errorf("Response{6A82}.Err() = %v, want 6A82", err)
	}
}
