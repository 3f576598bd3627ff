package firmware

import (
	"bytes"
	"testing"

	"github.com/tesseracard/tessera/apdu"
	"github.com/tesseracard/tessera/firmware/nvm"
)

// gateApplet disables the applets whose AIDs its store record "g/off"
// lists (one AID per byte-length-prefixed entry); INS 01 writes the record.
type gateApplet struct{ testApplet }

var gateAID = []byte{0xF0, 0x47, 0x41, 0x54, 0x45}

func (gateApplet) AID() []byte         { return gateAID }
func (gateApplet) Boot(*Context) error { return nil }
func (g gateApplet) Enabled(env *Context, aid []byte) bool {
	off, _ := env.Store.Get("g/off")
	return !bytes.Equal(off, aid)
}
func (gateApplet) Process(env *Context, cmd apdu.Command) ([]byte, error) {
	tx, err := env.Store.Begin()
	if err != nil {
		return nil, err
	}
	defer tx.Abort()
	tx.Put("g/off", cmd.Data)
	return nil, tx.Commit()
}

// TestGateHidesAppletsAtPowerOn: an applet a Gate disables still answers
// SELECT until the next power-on, then answers 6A82 (by its full AID and by
// a prefix); enabling it again brings it back at the power-on after.
func TestGateHidesAppletsAtPowerOn(t *testing.T) {
	cfg := testConfig(nvm.NewTearable(&nvm.Memory{}))
	cfg.Applets = []Applet{testApplet{}, gateApplet{}}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	selectTest := func(aid []byte) apdu.StatusWord {
		_, sw := sendRaw(t, c, append([]byte{0x00, 0xA4, 0x04, 0x00, byte(len(aid))}, aid...))
		return sw
	}
	power := func() {
		if _, err := c.PowerOn(); err != nil {
			t.Fatal(err)
		}
	}
	power()
	if sw := selectTest(testAID); sw != apdu.SWSuccess {
		t.Fatalf("SELECT before any gate = %v, want 9000", sw)
	}
	if sw := selectTest(gateAID); sw != apdu.SWSuccess {
		t.Fatalf("SELECT gate = %v", sw)
	}
	if _, sw := sendRaw(t, c, append([]byte{0x00, 0x01, 0x00, 0x00, byte(len(testAID))}, testAID...)); sw != apdu.SWSuccess {
		t.Fatalf("disabling = %v", sw)
	}
	if sw := selectTest(testAID); sw != apdu.SWSuccess {
		t.Errorf("SELECT of a disabled applet before power-on = %v, want 9000 (the change waits for a power-up)", sw)
	}
	power()
	for _, aid := range [][]byte{testAID, testAID[:5]} {
		if sw := selectTest(aid); sw != apdu.SWFileNotFound {
			t.Errorf("SELECT %X after power-on = %v, want 6A82", aid, sw)
		}
	}
	if sw := selectTest(gateAID); sw != apdu.SWSuccess {
		t.Fatalf("SELECT gate = %v: a gate never hides itself", sw)
	}
	if _, sw := send(t, c, "00 01 00 00"); sw != apdu.SWSuccess {
		t.Fatalf("enabling = %v", sw)
	}
	power()
	if sw := selectTest(testAID); sw != apdu.SWSuccess {
		t.Errorf("SELECT after enabling and power-on = %v, want 9000", sw)
	}
}
