package openpgp

import (
	"github.com/tesseracard/tessera/apdu"
	"github.com/tesseracard/tessera/firmware"
)

// Disclose says what a trace may show of a command and its answer
// (firmware.Discloser). Withheld:
//   - the data of VERIFY, CHANGE REFERENCE DATA and RESET RETRY COUNTER
//     (passwords and the resetting code), and of PUT DATA of any DO but
//     the public ones this application writes (publicDO): D3 the
//     resetting code, and those it refuses but others hold secrets in
//     (D5 an AES key, F9 the KDF-DO, the private-use DOs 0101-0104);
//   - the data of key import (PUT DATA, odd INS DB: a private key);
//   - the answer of PSO:DECIPHER (a session key or a shared secret);
//   - the answer of GET CHALLENGE (random bytes a host may use as a
//     secret), and of GET DATA of the private-use DOs 0101-0104 (whatever
//     the holder keeps there);
//   - everything of an instruction this application does not know, and of
//     any class but 00 (but for the YubiKey's GET ATTESTATION, class 80,
//     which shows: its key number, and no data back).
//
// The rest shows: GET DATA of the other DOs (all public), PUT DATA of the public DOs, GENERATE ASYMMETRIC KEY PAIR (public
// keys), PSO:COMPUTE DIGITAL SIGNATURE and INTERNAL AUTHENTICATE (a hash or
// a challenge, and a signature), the cryptogram of PSO:DECIPHER, TERMINATE
// DF, ACTIVATE FILE, GET VERSION and SET PIN RETRIES (three counts). Every rule looks at the header alone,
// so a piece of a chain is judged as its whole command.
func (a *Applet) Disclose(cmd apdu.Command) firmware.Disclosure {
	if cmd.CLA == 0x80 && cmd.INS == insGetAttestation {
		return firmware.Disclosure{Command: true, Response: true} // a key number; no data back
	}
	if d, decided := firmware.DiscloseInterindustry(cmd); decided {
		return d
	}
	both := firmware.Disclosure{Command: true, Response: true}
	p1p2 := uint16(cmd.P1)<<8 | uint16(cmd.P2)
	switch cmd.INS {
	case apdu.InsGetData:
		if p1p2 >= tagPrivate1 && p1p2 <= tagPrivate1+3 {
			return firmware.Disclosure{Command: true} // no command data
		}
		return both
	case apdu.InsGenerateKeyPairOdd, insInternalAuthenticate,
		insTerminateDF, insActivateFile, insGetVersion, insSetPINRetries, insSelectData, apdu.InsSelect:
		return both
	case apdu.InsPutData:
		if publicDO(p1p2) {
			return both
		}
		return firmware.Disclosure{Response: true} // no response data
	case apdu.InsPutDataOdd:
		return firmware.Disclosure{Response: true} // no response data
	case apdu.InsPerformSecurityOperation:
		switch p1p2 {
		case 0x9E9A:
			return both
		case 0x8086:
			return firmware.Disclosure{Command: true}
		}
	case apdu.InsGetChallenge:
		return firmware.Disclosure{Command: true} // no command data
	}
	return firmware.Disclosure{}
}

// publicDO reports whether PUT DATA of tag carries public data: the
// cardholder's data, URL, login data, certificate, algorithm attributes, PW
// status byte, fingerprints, dates and touch policies, and the YubiKey
// attestation key's attributes, fingerprints, date and certificate (DA-DD,
// FC).
func publicDO(tag uint16) bool {
	switch {
	case tag == tagName, tag == tagLogin, tag == tagLanguage, tag == tagSex, tag == tagURL, tag == tagCert:
		return true
	case tag >= tagAlgSig && tag <= tagPWStatus:
		return true
	case tag >= tagFprSig && tag <= tagDateSig+2:
		return true
	case tag >= tagUIFSig && tag <= tagDateAtt, tag == tagAttCert:
		return true // touch policies, the attestation key's attributes, fingerprints, date, certificate
	}
	return false
}
