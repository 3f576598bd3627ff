package piv

import (
	"encoding/hex"
	"errors"
	"testing"

	"github.com/tesseracard/tessera/apdu"
)

// TestIssuedCredentials: a pin-puk-envelope card draws a random PIN and
// PUK at its first boot; RevealIssued gives them once, and they work.
func TestIssuedCredentials(t *testing.T) {
	tc := newTestCard(t, "pin-puk-envelope")
	s := tc.c.Store()
	if !HasIssued(s) {
		t.Fatal("HasIssued() = false on a fresh card")
	}
	in, err := RevealIssued(s)
	if err != nil || len(in.PIN) != 6 || len(in.PUK) != 8 {
		t.Fatalf("RevealIssued() = %+v, %v; want a 6-digit PIN and an 8-digit PUK", in, err)
	}
	for _, c := range in.PIN + in.PUK {
		if c < '0' || c > '9' {
			t.Fatalf("RevealIssued() = %+v: not digits", in)
		}
	}
	if _, err := RevealIssued(s); !errors.Is(err, ErrNotIssued) {
		t.Errorf("second RevealIssued() error %v, want ErrNotIssued", err)
	}
	if sw := tc.verifyPIN(in.PIN); sw != apdu.SWSuccess {
		t.Errorf("VERIFY with the issued PIN = %04X, want 9000", uint16(sw))
	}
	tc.expect("00 24 00 81 10 "+pinField(in.PUK)+pinField("11223344"), apdu.SWSuccess)
}

// TestAdminReset: on the virtual-token persona the user has no PUK (6985)
// and the management key resets the password, keeping the keys.
func TestAdminReset(t *testing.T) {
	tc := newTestCard(t, "virtual-token")
	field := func(v string) string {
		b := []byte(v)
		for len(b) < 12 {
			b = append(b, 0xFF)
		}
		return hex.EncodeToString(b)
	}
	tc.expect("00 CB 3F FF 05 5C 03 5F FF 10", apdu.SWSuccess) // the holder's identity number, no PIN
	tc.expect("00 2C 00 80 14 3132333435363738"+field("Other1234"), apdu.SWConditionsNotSatisfied)
	tc.expect("00 24 00 81 10 "+pinField("12345678")+pinField("87654321"), apdu.SWConditionsNotSatisfied)
	tc.expect("00 2C 02 80 0C "+field("Admin1Reset"), apdu.SWSecurityStatusNotSatisfied)
	tc.mustAuthenticate()
	tc.expect("00 2C 01 80 0C "+field("Admin1Reset"), apdu.SWIncorrectP1P2)
	tc.expect("00 2C 02 80 0C "+field("nodigits"), apdu.SWIncorrectData)
	tc.expect("00 2C 02 80 0C "+field("Admin1Reset"), apdu.SWSuccess)
	tc.expect("00 20 00 80 0C "+field("Admin1Reset"), apdu.SWSuccess)
}
