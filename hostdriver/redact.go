package hostdriver

import (
	"bytes"

	"github.com/tesseracard/tessera/apdu"
)

// Redactor decides, from the commands alone, what a host-side record of a
// session (a relay's trace, the conformance suite's exchange log) may show
// of each exchange. The simulator's own traces ask the card's applications
// (firmware.Discloser); a host that records a real card cannot ask it, so
// this rule set, written from the specifications, is the one owner of that
// decision on the host side. Anything it does not know to be safe is
// withheld.
//
// Shown: SELECT, GET DATA (but not the objects a card shows only after a
// PIN: PIV's biometric and printed information objects, SP 800-73-4 Part 1
// Table 3, where ykman keeps a PIN-protected management key; OpenPGP's
// private-use DOs 0103 and 0104), PUT DATA of a PIV data object that is not
// PIN-protected, READ BINARY and READ RECORD, MANAGE SECURITY ENVIRONMENT,
// GENERATE ASYMMETRIC KEY PAIR both ways (a template and a public key), the
// command of GET CHALLENGE, PSO: COMPUTE DIGITAL SIGNATURE and INTERNAL AUTHENTICATE both
// ways, the YubiKey's GET VERSION, GET SERIAL, GET METADATA, ATTEST, MOVE
// KEY and READ CONFIG, OpenPGP's PUT DATA of its public DOs (and of any DO
// with no data: a deletion), TERMINATE DF and ACTIVATE FILE, the YubiKey
// OpenPGP application's GET ATTESTATION (80 FB, which shares its INS with
// PIV's RESET: no data either way), MANAGE
// CHANNEL, YKOATH's LIST, DELETE, RENAME and RESET (credential names) and
// the commands of its CALCULATE and CALCULATE ALL (a name and a time step),
// and the data-less commands.
//
// Withheld: the data of VERIFY, CHANGE REFERENCE DATA and RESET RETRY
// COUNTER (PINs, PUKs, OpenPGP's PW1, PW3 and resetting code); GENERAL
// AUTHENTICATE with the PIV management key (9B), both ways; the answer of
// every other GENERAL AUTHENTICATE (a signature cannot be told from an RSA
// decryption or an ECDH shared secret) and of PSO: DECIPHER (8086, the
// plaintext), whose commands carry only a challenge, a ciphertext or a
// public point; the answer of GET CHALLENGE (random bytes a host may use as
// a secret: OpenSC's C_GenerateRandom, scdaemon's SCD RANDOM); IMPORT KEY, SET MANAGEMENT KEY, PUT DATA of anything else
// (IsoApplet's and OpenPGP's key import, OpenPGP's resetting code D3, AES
// key D5 and KDF-DO F9), YKOATH's PUT and SET CODE (a credential's secret,
// the access code's key), the YubiKey management application's WRITE
// CONFIG (it may carry the configuration lock code), VALIDATE both ways, the answers of CALCULATE and
// CALCULATE ALL (one-time codes: CALCULATE ALL is A4 with P1 00 and a
// challenge 74, told from a SELECT by its data), and every command not named
// here, both ways.
//
// A GET RESPONSE, or YKOATH's SEND REMAINING (A5) after a 61xx,
// continues the answer that announced it (61xx): shown when that answer
// was, withheld when not; one that continues nothing carries no
// earlier answer and is shown. The pieces of a command chain (ISO/IEC
// 7816-4 §5.3.3) are judged as their first piece was.
//
// The zero Redactor is ready; use one per card session, in order.
type Redactor struct {
	// pending: the last answer was 61xx; pendingShown: and it was shown.
	pending, pendingShown bool
	// chained: the last command had the chaining bit; chainINS, chainShown:
	// its INS and whether the chain's first piece was shown.
	chained    bool
	chainINS   byte
	chainShown bool
}

// Disclose says what a record may show of one exchange, cmd answered by
// resp (nil when the card gave no answer): the command's data field, the
// response's data. It must see every exchange of the session, in order.
func (r *Redactor) Disclose(cmd, resp []byte) (command, response bool) {
	command, response = discloseCommand(cmd)
	if len(cmd) >= 2 {
		cla, ins := cmd[0], cmd[1]
		proprietary := cla&0x80 != 0 && cla != 0xFF
		switch {
		case ins == apdu.InsGetResponse, ins == apdu.InsOATHSendRemaining && r.pending:
			response = !r.pending || r.pendingShown
		case r.chained && ins == r.chainINS:
			command = r.chainShown
		}
		chaining := !proprietary && cla&apdu.CLAChaining != 0
		if chaining && !(r.chained && ins == r.chainINS) {
			r.chainINS, r.chainShown = ins, command
		}
		r.chained = chaining
	}
	r.pending = len(resp) >= 2 && resp[len(resp)-2] == 0x61
	r.pendingShown = response
	return command, response
}

// Instructions without a constant in apdu (ISO/IEC 7816-4 Table 4; OpenPGP
// card 3.4 §7.2).
const (
	insManageChannel        = 0x70
	insInternalAuthenticate = 0x88
	insReadBinaryOdd        = 0xB1
	insReadRecordOdd        = 0xB3
	insTerminateDF          = 0xE6 // OpenPGP card 3.4 §7.2.16: answers no data
	insActivateFile         = 0x44 // §7.2.17: answers no data
)

// discloseCommand is the rule for one command on its own (see Redactor).
func discloseCommand(cmd []byte) (command, response bool) {
	if len(cmd) < 4 {
		return true, true // no data either way to show or withhold
	}
	ins, p1, p2 := cmd[1], cmd[2], cmd[3]
	data := commandData(cmd)
	if ok, command, response := discloseOATH(cmd[0], ins, p1, p2, data); ok {
		return command, response
	}
	switch ins {
	case apdu.InsSelect, apdu.InsReadBinary, insReadBinaryOdd, apdu.InsReadRecord, insReadRecordOdd,
		apdu.InsManageSecurityEnvironment, apdu.InsGenerateKeyPair, apdu.InsGenerateKeyPairOdd,
		insInternalAuthenticate, insManageChannel,
		apdu.InsGetVersion, apdu.InsGetSerial, apdu.InsGetMetadata, apdu.InsAttest, apdu.InsMoveKey,
		apdu.InsReadConfig, apdu.InsSetPINRetries, apdu.InsResetPIV, apdu.InsDeleteFile, apdu.InsCreateFile,
		insTerminateDF, insActivateFile:
		return true, true
	case apdu.InsGetChallenge:
		return true, false
	case apdu.InsVerify, apdu.InsChangeReferenceData, apdu.InsResetRetryCounter:
		return len(data) == 0, true
	case apdu.InsWriteConfig: // YubiKey management: may carry a lock code (0A, 0B)
		return len(data) == 0, true
	case apdu.InsGeneralAuthenticate:
		if p2 == pivMgmtKeyRef {
			return false, false
		}
		return true, false
	case apdu.InsPerformSecurityOperation:
		switch {
		case p1 == 0x9E && p2 == 0x9A: // COMPUTE DIGITAL SIGNATURE
			return true, true
		case p1 == 0x80 && p2 == 0x86: // DECIPHER
			return true, false
		}
	case apdu.InsGetDataOdd: // PIV: the data is a tag list 5C
		return true, !pivPINProtected(data)
	case apdu.InsGetData: // OpenPGP: P1P2 is the DO's tag
		return true, !(p1 == 0x01 && (p2 == 0x03 || p2 == 0x04))
	case apdu.InsPutDataOdd:
		// PIV writes a data object: 5C tag list, then 53. OpenPGP imports a
		// key here with an extended header list (4D), IsoApplet with other
		// P1P2: both withheld.
		return p1 == 0x3F && p2 == 0xFF && len(data) > 0 && data[0] == 0x5C && !pivPINProtected(data), true
	case apdu.InsPutData: // OpenPGP: P1P2 is the DO's tag; no data deletes it
		return len(data) == 0 || openPGPPublicDO(uint16(p1)<<8|uint16(p2)), true
	}
	return len(data) == 0, false
}

// discloseOATH is the rule for a YKOATH command (Yubico's YKOATH protocol
// specification), told by its class 00, instruction and first data object;
// ok is false for anything else.
func discloseOATH(cla, ins, p1, p2 byte, data []byte) (ok, command, response bool) {
	first := byte(0)
	if len(data) > 0 {
		first = data[0]
	}
	if cla != 0x00 {
		return false, false, false
	}
	switch {
	case ins == apdu.InsOATHCalculateAll && p1 == 0x00 && first == 0x74,
		ins == apdu.InsOATHCalculate && first == 0x71:
		return true, true, false
	case ins == apdu.InsOATHList && len(data) == 0,
		ins == apdu.InsOATHReset && p1 == 0xDE && p2 == 0xAD && len(data) == 0,
		(ins == apdu.InsOATHDelete || ins == apdu.InsOATHRename) && first == 0x71:
		return true, true, true
	}
	return false, false, false
}

// pivMgmtKeyRef is the PIV card application administration key's reference
// (SP 800-78-4 Table 6-1).
const pivMgmtKeyRef = 0x9B

// pivPINProtected reports whether a PIV tag list (5C) names, or may name,
// an object the card shows only after the PIN (SP 800-73-4 Part 1 Table
// 3): the fingerprints 5FC103, the facial image 5FC108, the printed
// information 5FC109 (where ykman keeps a PIN-protected management key)
// and the iris images 5FC121. A tag list it cannot read counts as one.
func pivPINProtected(data []byte) bool {
	if len(data) < 2 || data[0] != 0x5C {
		return len(data) > 0
	}
	n := int(data[1])
	if n > len(data)-2 {
		return true
	}
	tag := data[2 : 2+n]
	for _, t := range [][]byte{{0x5F, 0xC1, 0x03}, {0x5F, 0xC1, 0x08}, {0x5F, 0xC1, 0x09}, {0x5F, 0xC1, 0x21}} {
		if bytes.Equal(tag, t) {
			return true
		}
	}
	return false
}

// openPGPPublicDO reports whether an OpenPGP card DO written with PUT DATA
// holds nothing secret (OpenPGP card 3.4 §4.4.1): name, login, language,
// sex, URL, algorithm attributes, PW status bytes, fingerprints, CA
// fingerprints, generation dates, UIF, certificate; and a YubiKey's
// attestation key's UIF, attributes, fingerprint, CA fingerprint, date and
// certificate (D9, DA-DD, FC: ykman's yubikit openpgp.py). Its resetting
// code (D3), AES key (D5), KDF-DO (F9) and private-use DOs are not among
// them.
func openPGPPublicDO(tag uint16) bool {
	switch tag {
	case 0x005B, 0x005E, 0x5F2D, 0x5F35, 0x5F50, 0x7F21,
		0x00C1, 0x00C2, 0x00C3, 0x00C4, 0x00C7, 0x00C8, 0x00C9, 0x00CA, 0x00CB, 0x00CC,
		0x00CE, 0x00CF, 0x00D0, 0x00D6, 0x00D7, 0x00D8,
		0x00D9, 0x00DA, 0x00DB, 0x00DC, 0x00DD, 0x00FC:
		return true
	}
	return false
}

// commandData returns a command's data field, or the bytes after its
// header when it does not parse (so that they count as data).
func commandData(cmd []byte) []byte {
	c, err := apdu.ParseCommand(cmd)
	if err != nil {
		if len(cmd) > 5 {
			return cmd[5:]
		}
		return nil
	}
	return c.Data
}
