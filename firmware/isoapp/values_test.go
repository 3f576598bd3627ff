package isoapp

import (
	"bytes"
	"testing"

	"github.com/tesseracard/tessera/firmware/profile"
)

// TestValuesAreFresh: the AID and the MF's FCI are handed out fresh, so no
// caller (another card in the same process) can change them for another.
func TestValuesAreFresh(t *testing.T) {
	want := []byte{0xF2, 0x76, 0xA2, 0x88, 0xBC, 0xFB, 0xA6, 0x9D, 0x34, 0xF3, 0x10, 0x01}
	a := AID()
	a[0] ^= 0xFF
	if got := AID(); !bytes.Equal(got, want) {
		t.Errorf("AID() after a caller changed its copy = % X, want % X", got, want)
	}
	if got := New(profile.ISO{}).AID(); !bytes.Equal(got, want) {
		t.Errorf("Applet.AID() = % X, want % X", got, want)
	}
	f := mfFCI()
	f[len(f)-1] = 0xFF
	if got := mfFCI(); got[len(got)-1] != 0x00 {
		t.Errorf("mfFCI() after a caller changed its copy = % X, want it to end 3F00", got)
	}
}
