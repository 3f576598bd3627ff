package cardtest

import (
	"testing"

	"github.com/tesseracard/tessera/apdu"
)

// TestFailedTry: the answers that may have spent a try: 63Cx and 6983 to
// any command, 6982 only to the password commands (a YubiKey's OpenPGP
// application answers a wrong password so), nothing else.
func TestFailedTry(t *testing.T) {
	tests := []struct {
		cmd  string
		sw   apdu.StatusWord
		want bool
	}{
		{"00 20 00 82 06 30 30 30 30 30 30", 0x63C2, true},
		{"00 20 00 82 06 30 30 30 30 30 30", 0x63C0, true},
		{"00 20 00 82 06 30 30 30 30 30 30", apdu.SWAuthMethodBlocked, true},
		{"00 20 00 82 06 30 30 30 30 30 30", apdu.SWSecurityStatusNotSatisfied, true},
		{"00 24 00 81 0C 30 30 30 30 30 30 31 31 31 31 31 31", apdu.SWSecurityStatusNotSatisfied, true},
		{"00 2C 00 81 0E 30 30 30 30 30 30 30 30 31 31 31 31 31 31", apdu.SWSecurityStatusNotSatisfied, true},
		{"00 2A 9E 9A 01 00", apdu.SWSecurityStatusNotSatisfied, false}, // PSO without PW1: no try
		{"00 DA 00 5B 01 78", apdu.SWSecurityStatusNotSatisfied, false},
		{"00 20 00 82 06 30 30 30 30 30 30", apdu.SWIncorrectData, false},
		{"00 20 00 82 06 30 30 30 30 30 30", apdu.SWWrongLength, false},
		{"00", apdu.SWSecurityStatusNotSatisfied, false},
		{"00 CA 00 C4 00", 0x63C1, true},
	}
	for _, tt := range tests {
		cmd := Hex(tt.cmd)
		if got := FailedTry(cmd, tt.sw); got != tt.want {
			t.Errorf("FailedTry(%s, %04X) = %v, want %v", tt.cmd, uint16(tt.sw), got, tt.want)
		}
	}
}
