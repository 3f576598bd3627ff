package conformance

import (
	"context"
	"fmt"
	"regexp"

	"github.com/tesseracard/tessera/apdu"
)

// The YubiKey management application the suite also tests, written from
// Yubico's yubikit (management.py: the SELECT answer, READ CONFIG and its
// tags), not taken from the firmware.

// refYKMgmt is the reference the management cases cite.
const refYKMgmt = "Yubico yubikit, management.py"

// mgmtAID returns the management application's AID.
func mgmtAID() []byte { return []byte{0xA0, 0x00, 0x00, 0x05, 0x27, 0x47, 0x11, 0x17} }

// READ CONFIG tags.
const (
	mgmtTagUSBSupported = 0x01
	mgmtTagSerial       = 0x02
	mgmtTagUSBEnabled   = 0x03
	mgmtTagFormFactor   = 0x04
	mgmtTagVersion      = 0x05
)

// mgmtVersionText finds a.b.c in SELECT's answer, as yubikit does.
var mgmtVersionText = regexp.MustCompile(`[0-9]+\.[0-9]+\.[0-9]+`)

// readConfig sends READ CONFIG (page 0) and parses it: a length byte, then
// that many bytes of TLVs.
func (e *Env) readConfig(ctx context.Context) (map[apdu.Tag][]byte, error) {
	r, err := e.Transmit(ctx, apdu.Command{INS: apdu.InsReadConfig, Ne: 256})
	if err != nil {
		return nil, err
	}
	if r.SW != apdu.SWSuccess {
		return nil, fmt.Errorf("READ CONFIG answered %s, want 9000", swText(r.SW))
	}
	if len(r.Data) == 0 || int(r.Data[0]) != len(r.Data)-1 {
		return nil, fmt.Errorf("READ CONFIG answered % X: the length byte does not count the bytes after it", r.Data)
	}
	tlvs, err := apdu.ParseTLVs(r.Data[1:])
	if err != nil {
		return nil, fmt.Errorf("READ CONFIG answered % X: %v", r.Data, err)
	}
	m := map[apdu.Tag][]byte{}
	for _, t := range tlvs {
		m[t.Tag] = t.Value
	}
	return m, nil
}

// mgmtCases are the management application's: all safe, they read only.
func mgmtCases() []Case {
	cases := []Case{
		{
			ID: "MGMT-SELECT", Title: "SELECT of the management application answers the firmware version as text (a.b.c)",
			Ref: refYKMgmt + ": _ManagementSmartCardBackend", Class: Safe,
			Run: func(ctx context.Context, e *Env) error {
				r, err := e.Transmit(ctx, selectCmd(mgmtAID()))
				if err != nil {
					return err
				}
				if r.SW != apdu.SWSuccess || !mgmtVersionText.Match(r.Data) {
					return fmt.Errorf("SELECT % X answered %q %s, want a version a.b.c and 9000", mgmtAID(), r.Data, swText(r.SW))
				}
				return nil
			},
		},
		{
			ID: "MGMT-READ-CONFIG", Title: "READ CONFIG answers a length byte and TLVs with the supported and enabled USB capabilities (enabled among supported), the serial, the form factor and the version SELECT gave",
			Ref: refYKMgmt + ": DeviceInfo.parse", Class: Safe,
			Run: func(ctx context.Context, e *Env) error {
				sel, err := e.Transmit(ctx, selectCmd(mgmtAID()))
				if err != nil {
					return err
				}
				m, err := e.readConfig(ctx)
				if err != nil {
					return err
				}
				sup, en, ff, ver := m[mgmtTagUSBSupported], m[mgmtTagUSBEnabled], m[mgmtTagFormFactor], m[mgmtTagVersion]
				switch {
				case len(sup) != 2:
					return fmt.Errorf("USB supported (01) = % X, want 2 bytes", sup)
				case len(m[mgmtTagSerial]) == 0 || len(m[mgmtTagSerial]) > 4:
					return fmt.Errorf("serial (02) = % X, want 1 to 4 bytes", m[mgmtTagSerial])
				case len(ff) != 1:
					return fmt.Errorf("form factor (04) = % X, want 1 byte", ff)
				case len(ver) != 3:
					return fmt.Errorf("version (05) = % X, want 3 bytes", ver)
				case len(en) != 0 && (len(en) != 2 || en[0]&^sup[0] != 0 || en[1]&^sup[1] != 0):
					return fmt.Errorf("USB enabled (03) = % X, want 2 bytes among the supported % X", en, sup)
				}
				if got, want := fmt.Sprintf("%d.%d.%d", ver[0], ver[1], ver[2]), mgmtVersionText.FindString(string(sel.Data)); got != want {
					return fmt.Errorf("READ CONFIG's version %s differs from SELECT's %q", got, want)
				}
				return nil
			},
		},
		{
			ID: "MGMT-SERIAL-PIV", Title: "READ CONFIG's serial is the one the PIV application's GET SERIAL (F8) answers",
			Ref: refYKMgmt + "; Yubico PIV extensions: GET SERIAL", Class: Safe,
			Run: func(ctx context.Context, e *Env) error {
				m, err := e.readConfig(ctx)
				if err != nil {
					return err
				}
				r, err := e.Transmit(ctx, selectCmd(pivAID()))
				if err != nil {
					return err
				}
				if r.SW != apdu.SWSuccess {
					return Skipf("the PIV application is absent or disabled (SELECT answered %s)", swText(r.SW))
				}
				s, err := e.Transmit(ctx, apdu.Command{INS: apdu.InsGetSerial, Ne: 256})
				if err != nil {
					return err
				}
				if s.SW != apdu.SWSuccess {
					return Skipf("the PIV application has no GET SERIAL (%s)", swText(s.SW))
				}
				if got := m[mgmtTagSerial]; fmt.Sprintf("%X", got) != fmt.Sprintf("%X", s.Data) {
					return fmt.Errorf("READ CONFIG's serial % X, PIV GET SERIAL % X: want the same", got, s.Data)
				}
				return nil
			},
		},
	}
	for i := range cases {
		cases[i].App = AppMgmt
	}
	return cases
}
