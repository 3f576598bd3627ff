package isoapp

import (
	"strings"
	"testing"

	"github.com/tesseracard/tessera/apdu"
	"github.com/tesseracard/tessera/firmware"
	"github.com/tesseracard/tessera/firmware/profile"
)

func TestDisclose(t *testing.T) {
	var (
		none    = firmware.Disclosure{}
		both    = firmware.Disclosure{Command: true, Response: true}
		cmdOnly = firmware.Disclosure{Command: true}
		outOnly = firmware.Disclosure{Response: true}
	)
	tests := []struct {
		name, cmd string
		want      firmware.Disclosure
	}{
		{"set the PUK", cmdSetPUK, outOnly},
		{"set the PIN", cmdSetPIN, outOnly},
		{"VERIFY", cmdVerifyPIN, outOnly},
		{"change the PIN", "00 24 00 01 20" + strings.Repeat("31", 32), outOnly},
		{"unblock", "00 2C 00 01 16" + strings.Repeat("31", 22), outOnly},
		{"import a key", "00 DB 3F FF 04 E0 02 88 00", outOnly},
		{"import a key, a chain piece", "10 DB 3F FF 03 7F 48 82", outOnly},
		{"decipher", "00 2A 80 86 03 00 01 02", cmdOnly},
		{"decipher, a chain piece", "10 2A 80 86 03 00 01 02", cmdOnly},
		{"sign", "00 2A 9E 9A 04 01020304 00", both},
		{"another security operation", "00 2A 86 80 04 01020304 00", none},
		{"SELECT file", "00 A4 00 00 02 3F 00", both},
		{"CREATE FILE", "00 E0 00 00 0D 6F 0B 81 02 00 40 82 01 01 83 02 44 01", both},
		{"DELETE FILE", "00 E4 00 00 02 44 01", both},
		{"READ BINARY", "00 B0 00 00 10", both},
		{"UPDATE BINARY", "00 D6 00 00 02 AABB", both},
		{"MSE", "00 22 41 B6 06 80 01 11 84 01 00", both},
		{"GENERATE", "00 46 42 00 00", both},
		{"GET CHALLENGE", "00 84 00 00 08", firmware.Disclosure{Command: true}},
		{"unknown instruction", "00 EE 00 00 02 1234", none},
		{"proprietary class", "80 20 00 01 02 1234", none},
	}
	a := New(profile.ISO{KeyImport: true})
	for _, tt := range tests {
		cmd, err := apdu.ParseCommand(h(tt.cmd))
		if err != nil {
			t.Fatalf("%s: %v", tt.cmd, err)
		}
		if got := a.Disclose(cmd); got != tt.want {
			t.Errorf("%s: Disclose(%s) = %+v, want %+v", tt.name, tt.cmd, got, tt.want)
		}
	}
}
