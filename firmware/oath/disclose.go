package oath

import (
	"github.com/tesseracard/tessera/apdu"
	"github.com/tesseracard/tessera/firmware"
)

// Disclose says what a trace may show of a command and its answer
// (firmware.Discloser). Withheld:
//   - the data of PUT (a credential's secret) and SET CODE (the access
//     code's key and a response computed with it);
//   - VALIDATE both ways (responses computed with the access code);
//   - the answers of CALCULATE and CALCULATE ALL: one-time codes, which a
//     trace would hand to whoever reads it while they are still valid;
//   - everything of an instruction this application does not know, and of
//     any class but 00.
//
// The rest shows: DELETE, RENAME, LIST (credential names), RESET, and the
// commands of CALCULATE and CALCULATE ALL (a name and the time step). Every
// rule looks at the header alone, so a piece of a chain is judged as its
// whole command.
func (a *Applet) Disclose(cmd apdu.Command) firmware.Disclosure {
	if cmd.CLA&^apdu.CLAChaining != 0x00 {
		return firmware.Disclosure{}
	}
	switch cmd.INS {
	case apdu.InsOATHPut, apdu.InsOATHSetCode:
		return firmware.Disclosure{Response: true} // no response data
	case apdu.InsOATHCalculate, apdu.InsOATHCalculateAll:
		return firmware.Disclosure{Command: true}
	case apdu.InsOATHDelete, apdu.InsOATHRename, apdu.InsOATHList, apdu.InsOATHReset:
		return firmware.Disclosure{Command: true, Response: true}
	}
	return firmware.Disclosure{}
}
