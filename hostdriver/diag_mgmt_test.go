package hostdriver_test

import (
	"context"
	"reflect"
	"testing"

	"github.com/tesseracard/tessera/hostdriver"
)

// TestDiagYubiKeyFromTheManagementApplication: diag of a yubikey-5.7
// simulated card reads the YubiKey identity from its management
// application (firmware/mgmt), not a stand-in: the profile's firmware,
// serial (the one PIV's GET SERIAL gives), form factor and applications,
// and leaves the card's memory as it was.
func TestDiagYubiKeyFromTheManagementApplication(t *testing.T) {
	card, mem, atr := newCard(t, "yubikey-5.7")
	before, _ := mem.Load()
	r, err := hostdriver.Diagnose(context.Background(), &hostdriver.Conn{T: cardTransport{card}}, atr, hostdriver.DiagOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := &hostdriver.YubiKeyReport{
		Version: "5.7.1", Serial: 29173673, FormFactor: "Keychain (USB-A)",
		USBSupported: []string{"OpenPGP", "PIV", "OATH"}, USBEnabled: []string{"OpenPGP", "PIV", "OATH"},
	}
	if !reflect.DeepEqual(r.YubiKey, want) {
		t.Errorf("Diagnose().YubiKey = %+v, want %+v", r.YubiKey, want)
	}
	if r.PIV == nil || r.PIV.Serial != r.YubiKey.Serial {
		t.Errorf("PIV serial %+v, want the management application's %d", r.PIV, want.Serial)
	}
	if after, _ := mem.Load(); string(after) != string(before) {
		t.Errorf("diag changed the card's memory")
	}
}
