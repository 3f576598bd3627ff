package apdu

import (
	"encoding/hex"
	"testing"
)

func TestRedactHex(t *testing.T) {
	tests := []struct {
		cmd, resp         string
		showCmd, showResp bool
		wantCmd, wantResp string
		wantRedacted      bool
	}{
		{"0020008008313233343536FFFF", "9000", false, true, "0020008008XXXXXXXXXXXXXXXX", "9000", true},
		{"00CB3FFF055C035FC10200", "53020102FEED9000", false, false, "00CB3FFF05XXXXXXXXXX00", "XXXXXXXXXXXX9000", true},
		{"00CB3FFF055C035FC10200", "53020102FEED9000", true, true, "00CB3FFF055C035FC10200", "53020102FEED9000", false},
		{"00DB3FFF000003AABBCC", "9000", false, true, "00DB3FFF000003XXXXXX", "9000", true},
		{"00A4040009A000", "6700", false, false, "00A4040009XXXX", "6700", true},
		{"00200080", "63C3", false, false, "00200080", "63C3", false},
	}
	for _, tt := range tests {
		cmd, _ := hex.DecodeString(tt.cmd)
		resp, _ := hex.DecodeString(tt.resp)
		c, r, red := RedactHex(cmd, resp, tt.showCmd, tt.showResp)
		if c != tt.wantCmd || r != tt.wantResp || red != tt.wantRedacted {
			t.Errorf("RedactHex(%s, %s, %v, %v) = %s, %s, %v; want %s, %s, %v", tt.cmd, tt.resp, tt.showCmd, tt.showResp, c, r, red, tt.wantCmd, tt.wantResp, tt.wantRedacted)
		}
	}
}
