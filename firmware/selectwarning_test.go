package firmware

import (
	"testing"

	"github.com/tesseracard/tessera/apdu"
	"github.com/tesseracard/tessera/firmware/nvm"
)

// warnApplet answers SELECT with the status word in its field, as an
// OpenPGP application in termination state answers 6285.
type warnApplet struct {
	testApplet
	sw apdu.StatusWord
}

var warnAID = []byte{0xF0, 0x57, 0x41, 0x52, 0x4E}

func (warnApplet) AID() []byte         { return warnAID }
func (warnApplet) Boot(*Context) error { return nil }
func (w warnApplet) Select(*Context, apdu.Command) ([]byte, error) {
	return []byte{0x01}, w.sw
}
func (warnApplet) Process(*Context, apdu.Command) ([]byte, error) { return []byte{0x57}, nil }

// TestSelectWarningSelects: a Select answering a warning (62xx, 63xx)
// selects the applet and answers the warning without data; an error
// (6Axx) leaves the applet selected before in place.
func TestSelectWarningSelects(t *testing.T) {
	tests := []struct {
		sw       apdu.StatusWord
		selected bool
	}{
		{0x6285, true},
		{0x6300, true},
		{apdu.SWFileNotFound, false},
		{apdu.SWConditionsNotSatisfied, false},
	}
	for _, tt := range tests {
		cfg := testConfig(nvm.NewTearable(&nvm.Memory{}))
		cfg.Applets = []Applet{testApplet{}, warnApplet{sw: tt.sw}}
		c := poweredCard(t, cfg)
		expectSW(t, c, selectTest, apdu.SWSuccess)
		if data := expectSW(t, c, "00 A4 04 00 05 F0 57 41 52 4E", tt.sw); len(data) != 0 {
			t.Errorf("SELECT answering %04X: data % X, want none", uint16(tt.sw), data)
		}
		data, _ := send(t, c, "00 CA 00 00 00")
		if got := len(data) == 1 && data[0] == 0x57; got != tt.selected {
			t.Errorf("after SELECT answering %04X: warning applet selected = %v, want %v", uint16(tt.sw), got, tt.selected)
		}
	}
}
