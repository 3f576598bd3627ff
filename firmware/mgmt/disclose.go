package mgmt

import (
	"github.com/tesseracard/tessera/apdu"
	"github.com/tesseracard/tessera/firmware"
)

// Disclose says what a trace may show (firmware.Discloser): READ CONFIG
// both ways (the device information is what ykman info prints); WRITE
// CONFIG's data unless it carries a lock code, new (0A) or current (0B),
// or cannot be parsed and so might; nothing of any other command or
// class.
func (a *Applet) Disclose(cmd apdu.Command) firmware.Disclosure {
	if cmd.CLA != 0x00 {
		return firmware.Disclosure{}
	}
	switch cmd.INS {
	case apdu.InsReadConfig:
		return firmware.Disclosure{Command: true, Response: true}
	case apdu.InsWriteConfig:
		m, err := parseWrite(cmd.Data)
		_, lock := m[tagConfigLock]
		_, unlock := m[tagUnlock]
		return firmware.Disclosure{Command: err == nil && !lock && !unlock, Response: true}
	}
	return firmware.Disclosure{}
}
