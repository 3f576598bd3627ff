package isoapp

import (
	"github.com/tesseracard/tessera/apdu"
	"github.com/tesseracard/tessera/firmware"
)

// Disclose says what a trace may show of a command and its answer
// (firmware.Discloser). Withheld:
//   - the data of VERIFY, CHANGE REFERENCE DATA (which also sets the first
//     PUK and PIN) and RESET RETRY COUNTER: a PIN, a PUK;
//   - the data of PUT DATA: a private key to import (ISO/IEC 7816-8 key
//     templates 7F48 and E0);
//   - the answer of PERFORM SECURITY OPERATION: DECIPHER (80 86), the
//     plaintext; and both ways any other PERFORM SECURITY OPERATION but
//     COMPUTE DIGITAL SIGNATURE (9E 9A);
//   - the answer of GET CHALLENGE: random bytes a host may use as a secret
//     (OpenSC's C_GenerateRandom asks the card's GET CHALLENGE);
//   - everything of an instruction this applet does not know, and of any
//     class but 00.
//
// The rest shows: the file commands (SELECT, CREATE FILE, DELETE FILE, READ
// BINARY, UPDATE BINARY), MANAGE SECURITY ENVIRONMENT, GENERATE ASYMMETRIC
// KEY PAIR (the answer is the public key), the data to sign
// and the signature, the ciphertext to decipher. Every rule looks at the
// header alone, so a piece of a chain is judged as its whole command.
func (a *Applet) Disclose(cmd apdu.Command) firmware.Disclosure {
	if d, ok := firmware.DiscloseInterindustry(cmd); ok {
		return d
	}
	both := firmware.Disclosure{Command: true, Response: true}
	switch cmd.INS {
	case apdu.InsPutDataOdd:
		return firmware.Disclosure{Response: true} // no response data
	case apdu.InsPerformSecurityOperation:
		switch {
		case cmd.P1 == 0x9E && cmd.P2 == 0x9A:
			return both
		case cmd.P1 == 0x80 && cmd.P2 == 0x86:
			return firmware.Disclosure{Command: true}
		}
		return firmware.Disclosure{}
	case apdu.InsGetChallenge:
		return firmware.Disclosure{Command: true}
	case apdu.InsSelect, apdu.InsCreateFile, apdu.InsDeleteFile, apdu.InsReadBinary, apdu.InsUpdateBinary, apdu.InsManageSecurityEnvironment, apdu.InsGenerateKeyPair:
		return both
	}
	return firmware.Disclosure{}
}
