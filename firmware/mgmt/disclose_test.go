package mgmt

import (
	"strings"
	"testing"

	"github.com/tesseracard/tessera/apdu"
	"github.com/tesseracard/tessera/firmware"
	"github.com/tesseracard/tessera/firmware/profile"
)

// TestDisclose: READ CONFIG shows both ways; WRITE CONFIG shows its data
// unless it carries a lock code or does not parse; anything else shows
// nothing.
func TestDisclose(t *testing.T) {
	p, _ := profile.Builtin("yubikey-5.7")
	a := New(p, Options{})
	code := strings.Repeat("11", 16)
	both := firmware.Disclosure{Command: true, Response: true}
	tests := []struct {
		name, cmd string
		want      firmware.Disclosure
	}{
		{"read config", "00 1D 00 00 00", both},
		{"enable", "00 1C 00 00 05 04 03 02 00 10", both},
		{"set lock code", "00 1C 00 00 13 12 0A 10 " + code, firmware.Disclosure{Response: true}},
		{"unlock", "00 1C 00 00 17 16 0B 10 " + code + " 03 02 00 10", firmware.Disclosure{Response: true}},
		{"malformed", "00 1C 00 00 05 09 0B 10 11 11", firmware.Disclosure{Response: true}},
		{"chained piece", "10 1C 00 00 05 04 03 02 00 10", firmware.Disclosure{}},
		{"set mode", "00 16 11 00 01 06", firmware.Disclosure{}},
		{"class 80", "80 1D 00 00 00", firmware.Disclosure{}},
	}
	for _, tt := range tests {
		cmd, err := apdu.ParseCommand(h(tt.cmd))
		if err != nil {
			t.Fatal(err)
		}
		if got := a.Disclose(cmd); got != tt.want {
			t.Errorf("%s: Disclose(%s) = %+v, want %+v", tt.name, tt.cmd, got, tt.want)
		}
	}
}

// TestCardWithholdsLockCode: through the card OS, the exchange setting a
// lock code is withheld from traces and READ CONFIG is shown.
func TestCardWithholdsLockCode(t *testing.T) {
	tc := newTestCard(t, "")
	tc.must(cmdSelect, apdu.SWSuccess)
	tc.must("00 1C 00 00 13 12 0A 10 "+strings.Repeat("11", 16), apdu.SWSuccess)
	if got := tc.c.TakeDisclosure(); got.Command {
		t.Errorf("WRITE CONFIG with a lock code: disclosure %+v, want the command withheld", got)
	}
	tc.must("00 1D 00 00 00", apdu.SWSuccess)
	if got := tc.c.TakeDisclosure(); got != (firmware.Disclosure{Command: true, Response: true}) {
		t.Errorf("READ CONFIG: disclosure %+v, want both shown", got)
	}
}
