package mgmt

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/tesseracard/tessera/apdu"
	"github.com/tesseracard/tessera/firmware/nvm"
)

// TestSelectAndReadConfig: SELECT answers the version as text; READ
// CONFIG answers what the profile says, with the length byte yubikit
// checks.
func TestSelectAndReadConfig(t *testing.T) {
	tests := []struct {
		doc  string
		want map[apdu.Tag]string
	}{
		{"", map[apdu.Tag]string{1: "0038", 2: "01BD27A9", 3: "0038", 4: "01", 5: "050701", 6: "0000", 7: "00", 8: "00", 0x0A: "00"}},
		{"device: {form_factor: usb-c-nano, usb_enabled: [piv], nfc: true}", map[apdu.Tag]string{1: "0038", 3: "0010", 4: "04", 0x0D: "0038", 0x0E: "0038"}},
	}
	for _, tt := range tests {
		tc := newTestCard(t, tt.doc)
		if got := tc.must(cmdSelect, apdu.SWSuccess); string(got) != "5.7.1" {
			t.Errorf("%q: SELECT = %q, want 5.7.1", tt.doc, got)
		}
		m := tc.readConfig()
		for tag, want := range tt.want {
			if got := fmt.Sprintf("%X", m[tag]); got != want {
				t.Errorf("%q: READ CONFIG tag %02X = %s, want %s", tt.doc, uint32(tag), got, want)
			}
		}
		if _, nfc := m[0x0D]; nfc != strings.Contains(tt.doc, "nfc") {
			t.Errorf("%q: NFC tags present = %v", tt.doc, nfc)
		}
	}
}

// TestWriteConfigDisablesAtPowerOn: disabling PIV over USB keeps it until
// the next power-on, then its SELECT answers 6A82 while OATH still
// answers; enabling it again brings it back after the power-on after.
func TestWriteConfigDisablesAtPowerOn(t *testing.T) {
	tc := newTestCard(t, "")
	selPIV := "00 A4 04 00 05 A000000308"
	selOATH := "00 A4 04 00 07 A0000005272101"
	tc.must(cmdSelect, apdu.SWSuccess)
	tc.must("00 1C 00 00 07 06 03 02 00 20 0C 00", apdu.SWSuccess) // USB enabled: OATH; reboot
	tc.must(selPIV, apdu.SWSuccess)
	tc.power()
	tc.must(selPIV, apdu.SWFileNotFound)
	tc.must(selOATH, apdu.SWSuccess)
	if got := tc.readConfig()[3]; !bytes.Equal(got, []byte{0, 0x20}) {
		t.Errorf("USB enabled after the write = % X, want 00 20", got)
	}
	tc.must("00 1C 00 00 05 04 03 02 00 30", apdu.SWSuccess)
	tc.power()
	tc.must(selPIV, apdu.SWSuccess)
}

// TestWriteConfigDisablesOpenPGP: capability 08 governs the OpenPGP
// application, whose SELECT by its 6-byte application prefix (what GnuPG
// sends) answers 6A82 once it is disabled, and by its full AID too.
func TestWriteConfigDisablesOpenPGP(t *testing.T) {
	tc := newTestCard(t, "")
	selShort := "00 A4 04 00 06 D27600012401"
	selFull := "00 A4 04 00 10 D2760001240103040006291736730000"
	tc.must(selShort, apdu.SWSuccess)
	tc.must(cmdSelect, apdu.SWSuccess)
	tc.must("00 1C 00 00 07 06 03 02 00 30 0C 00", apdu.SWSuccess) // USB enabled: PIV and OATH; reboot
	tc.power()
	tc.must(selShort, apdu.SWFileNotFound)
	tc.must(selFull, apdu.SWFileNotFound)
	tc.must(cmdSelect, apdu.SWSuccess)
	tc.must("00 1C 00 00 05 04 03 02 00 38", apdu.SWSuccess)
	tc.power()
	tc.must(selFull, apdu.SWSuccess)
}

// TestWriteConfigRefuses: malformed or impossible configurations are
// refused and change nothing.
func TestWriteConfigRefuses(t *testing.T) {
	tests := []struct {
		name, cmd string
		want      apdu.StatusWord
	}{
		{"length byte wrong", "00 1C 00 00 05 05 03 02 00 10", apdu.SWWrongLength},
		{"no data", "00 1C 00 00", apdu.SWWrongLength},
		{"unsupported capability", "00 1C 00 00 05 04 03 02 00 01", apdu.SWIncorrectData},
		{"nothing enabled", "00 1C 00 00 05 04 03 02 00 00", apdu.SWIncorrectData},
		{"NFC without NFC", "00 1C 00 00 05 04 0E 02 00 10", apdu.SWIncorrectData},
		{"enabled of 1 byte", "00 1C 00 00 04 03 03 01 10", apdu.SWIncorrectData},
		{"unknown tag", "00 1C 00 00 04 03 09 01 10", apdu.SWIncorrectData},
		{"tag twice", "00 1C 00 00 09 08 03 02 00 10 03 02 00 20", apdu.SWIncorrectData},
		{"lock code short", "00 1C 00 00 05 04 0A 02 01 02", apdu.SWIncorrectData},
		{"bad TLV", "00 1C 00 00 04 03 03 05 00", apdu.SWIncorrectData},
		{"P1", "00 1C 01 00 05 04 03 02 00 10", apdu.SWIncorrectP1P2},
		{"READ CONFIG page 1", "00 1D 01 00 00", apdu.SWIncorrectP1P2},
		{"class", "80 1D 00 00 00", apdu.SWCLANotSupported},
		{"SET MODE", "00 16 11 00 04 06 00 00 00", apdu.SWINSNotSupported},
		{"chained", "10 1C 00 00 05 04 03 02 00 10", apdu.SWChainingNotSupported},
	}
	for _, tt := range tests {
		tc := newTestCard(t, "")
		before := tc.readConfig()
		if _, sw := tc.send(tt.cmd); sw != tt.want {
			t.Errorf("%s: %s = %v, want %v", tt.name, tt.cmd, sw, tt.want)
		}
		if after := tc.readConfig(); fmt.Sprint(after) != fmt.Sprint(before) {
			t.Errorf("%s: configuration changed: %v, was %v", tt.name, after, before)
		}
	}
}

// TestLockCode: with a lock code set, a change needs it (6982 without it
// or with a wrong one); the right code lets the change through, and a code
// of zeros removes the lock.
func TestLockCode(t *testing.T) {
	code := strings.Repeat("11", 16)
	wrong := strings.Repeat("22", 16)
	tc := newTestCard(t, "")
	tc.must(cmdSelect, apdu.SWSuccess)
	tc.must("00 1C 00 00 13 12 0A 10 "+code, apdu.SWSuccess)
	if got := tc.readConfig()[0x0A]; !bytes.Equal(got, []byte{1}) {
		t.Fatalf("config lock after setting a code = % X, want 01", got)
	}
	tc.must("00 1C 00 00 05 04 03 02 00 10", apdu.SWSecurityStatusNotSatisfied)
	tc.must("00 1C 00 00 17 16 0B 10 "+wrong+" 03 02 00 10", apdu.SWSecurityStatusNotSatisfied)
	tc.must("00 1C 00 00 17 16 0B 10 "+code+" 03 02 00 10", apdu.SWSuccess)
	tc.must("00 1C 00 00 25 24 0B 10 "+code+" 0A 10 "+strings.Repeat("00", 16), apdu.SWSuccess)
	if got := tc.readConfig()[0x0A]; !bytes.Equal(got, []byte{0}) {
		t.Errorf("config lock after clearing = % X, want 00", got)
	}
	tc.must("00 1C 00 00 05 04 03 02 00 30", apdu.SWSuccess)
}

// TestNewCapabilityEnabled: a capability the card gains after its
// configuration was written (a newer profile adds the application) is
// enabled, while one the holder disabled stays disabled, also in a record
// of the first format (8 bytes, written before the supported set was
// kept).
func TestNewCapabilityEnabled(t *testing.T) {
	selOATH := "00 A4 04 00 07 A0000005272101"
	tm := nvm.NewTearable(&nvm.Memory{})
	older := newTestCardOn(t, "applications: [piv, mgmt]", tm)
	older.must(selOATH, apdu.SWFileNotFound) // not supported, so off
	older.must(cmdSelect, apdu.SWSuccess)
	older.must("00 1C 00 00 0B 0A 06 02 00 10 07 01 0F 08 01 00", apdu.SWSuccess)
	newer := newTestCardOn(t, "", tm)
	newer.must(selOATH, apdu.SWSuccess)
	if got := newer.readConfig()[3]; !bytes.Equal(got, []byte{0x00, 0x38}) {
		t.Errorf("USB enabled after the profile gained OATH and OpenPGP = % X, want 00 38", got)
	}

	legacy := newTestCard(t, "")
	tx, err := legacy.c.Store().Begin()
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Put(keyConfig, h("0010 0000 0000 00 00")); err != nil { // OATH disabled
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	legacy.power()
	legacy.must(selOATH, apdu.SWFileNotFound)
	if got := legacy.readConfig()[3]; !bytes.Equal(got, []byte{0x00, 0x18}) { // OpenPGP was unknown then: enabled
		t.Errorf("USB enabled from a first-format record = % X, want 00 18", got)
	}
}
