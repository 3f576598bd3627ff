package apdu

import "fmt"

// Instruction bytes (INS) of the commands Tessera's card answers and its
// host side sends, for both sides to share: the interindustry commands of
// ISO/IEC 7816-4 §11 (Table 4), -8 and -9, those of the PIV card
// application (SP 800-73-4 Part 2 Table 6), the YubiKey PIV extensions
// (Yubico's PIV APDU reference) and the YubiKey management application's
// READ CONFIG. They are untyped constants, as [Command.INS] is a byte.
//
// ISO/IEC 7816-4 §5.1.2: an odd INS (bit b1 set) marks a command whose data
// field is BER-TLV encoded; PIV uses the odd forms of GET DATA, PUT DATA and
// GENERATE ASYMMETRIC KEY PAIR, IsoApplet the even GENERATE and the odd PUT
// DATA. The Odd suffix names those.
const (
	InsVerify                    = 0x20 // VERIFY (7816-4 §11.5.6)
	InsManageSecurityEnvironment = 0x22 // MANAGE SECURITY ENVIRONMENT (7816-4 §11.5.11)
	InsChangeReferenceData       = 0x24 // CHANGE REFERENCE DATA (7816-4 §11.5.7)
	InsPerformSecurityOperation  = 0x2A // PERFORM SECURITY OPERATION (7816-8 §11)
	InsResetRetryCounter         = 0x2C // RESET RETRY COUNTER (7816-4 §11.5.10)
	InsGenerateKeyPair           = 0x46 // GENERATE ASYMMETRIC KEY PAIR (7816-8 §5.1)
	InsGenerateKeyPairOdd        = 0x47 // GENERATE ASYMMETRIC KEY PAIR, PIV (SP 800-73-4 Part 2 §3.3.2)
	InsGetChallenge              = 0x84 // GET CHALLENGE (7816-4 §11.5.3)
	InsGeneralAuthenticate       = 0x87 // GENERAL AUTHENTICATE (7816-4 §11.5.5; SP 800-73-4 Part 2 §3.2.4)
	InsSelect                    = 0xA4 // SELECT (7816-4 §11.2.2)
	InsReadBinary                = 0xB0 // READ BINARY (7816-4 §11.3.3)
	InsReadRecord                = 0xB2 // READ RECORD(S) (7816-4 §11.4.3)
	InsGetResponse               = 0xC0 // GET RESPONSE (7816-4 §11.7.1)
	InsGetData                   = 0xCA // GET DATA (7816-4 §11.4.3)
	InsGetDataOdd                = 0xCB // GET DATA, BER-TLV (PIV, SP 800-73-4 Part 2 §3.1.2)
	InsUpdateBinary              = 0xD6 // UPDATE BINARY (7816-4 §11.3.5)
	InsPutData                   = 0xDA // PUT DATA (7816-4 §11.4.6)
	InsPutDataOdd                = 0xDB // PUT DATA, BER-TLV (PIV, SP 800-73-4 Part 2 §3.3.1; IsoApplet key import)
	InsCreateFile                = 0xE0 // CREATE FILE (7816-9 §6.1)
	InsDeleteFile                = 0xE4 // DELETE FILE (7816-9 §6.2)

	// YubiKey PIV extensions, class 00.
	InsMoveKey          = 0xF6 // MOVE KEY (firmware 5.7)
	InsGetMetadata      = 0xF7 // GET METADATA
	InsGetSerial        = 0xF8 // GET SERIAL
	InsAttest           = 0xF9 // ATTEST
	InsSetPINRetries    = 0xFA // SET PIN RETRIES
	InsResetPIV         = 0xFB // RESET (the PIV application)
	InsGetVersion       = 0xFD // GET VERSION
	InsImportKey        = 0xFE // IMPORT KEY (IMPORT ASYMMETRIC KEY)
	InsSetManagementKey = 0xFF // SET MANAGEMENT KEY

	// YubiKey management application (AID A000000527471117), class 00:
	// READ CONFIG answers the device information (firmware version,
	// serial, form factor, applications), P1 the page (yubikit's
	// management.py). 1D is defined by no ISO/IEC 7816-4 command, so on
	// another application it means whatever that application says.
	InsReadConfig = 0x1D // READ CONFIG
	// WRITE CONFIG sets the enabled applications, timeouts, device flags
	// and the configuration lock code: a length byte, then TLVs.
	InsWriteConfig = 0x1C // WRITE CONFIG
)

// YKOATH instructions: the OATH application of a YubiKey (AID
// A0000005272101), class 00, from Yubico's YKOATH protocol specification.
// CALCULATE ALL shares A4 with SELECT (it is sent with P1 00, SELECT by AID
// with 04), so [InsName] names A4 SELECT; 01 to 05 and A1 to A5 mean nothing
// to ISO/IEC 7816-4, so elsewhere they mean what another application says.
const (
	InsOATHPut           = 0x01 // PUT (a credential)
	InsOATHDelete        = 0x02 // DELETE
	InsOATHSetCode       = 0x03 // SET CODE (the access code)
	InsOATHReset         = 0x04 // RESET (the OATH application), P1 P2 DE AD
	InsOATHRename        = 0x05 // RENAME (firmware 5.3.1)
	InsOATHList          = 0xA1 // LIST
	InsOATHCalculate     = 0xA2 // CALCULATE
	InsOATHValidate      = 0xA3 // VALIDATE (the access code)
	InsOATHCalculateAll  = 0xA4 // CALCULATE ALL, P1 00
	InsOATHSendRemaining = 0xA5 // SEND REMAINING: YKOATH's GET RESPONSE
)

// InsName names a command by its instruction byte, as traces and error
// messages show it, e.g. "VERIFY" for 20: the commands above, by their
// names in the standards (GET DATA for CB and "GET DATA (CA)" for the even
// form, which PIV does not use). An instruction not listed is named by its
// hex, "INS EE".
//
// The class byte is not consulted: every command above is sent in an
// interindustry class (the YubiKey extensions too), and a proprietary
// class gives an instruction the vendor's meaning, which no table here can
// know.
func InsName(ins byte) string {
	switch ins {
	case InsVerify:
		return "VERIFY"
	case InsManageSecurityEnvironment:
		return "MANAGE SECURITY ENVIRONMENT"
	case InsChangeReferenceData:
		return "CHANGE REFERENCE DATA"
	case InsPerformSecurityOperation:
		return "PERFORM SECURITY OPERATION"
	case InsResetRetryCounter:
		return "RESET RETRY COUNTER"
	case InsGenerateKeyPair, InsGenerateKeyPairOdd:
		return "GENERATE ASYMMETRIC KEY PAIR"
	case InsGetChallenge:
		return "GET CHALLENGE"
	case InsGeneralAuthenticate:
		return "GENERAL AUTHENTICATE"
	case InsSelect:
		return "SELECT"
	case InsReadBinary:
		return "READ BINARY"
	case InsReadRecord:
		return "READ RECORD"
	case InsGetResponse:
		return "GET RESPONSE"
	case InsGetData:
		return "GET DATA (CA)"
	case InsGetDataOdd:
		return "GET DATA"
	case InsUpdateBinary:
		return "UPDATE BINARY"
	case InsPutData:
		return "PUT DATA (DA)"
	case InsPutDataOdd:
		return "PUT DATA"
	case InsCreateFile:
		return "CREATE FILE"
	case InsDeleteFile:
		return "DELETE FILE"
	case InsMoveKey:
		return "MOVE KEY"
	case InsGetMetadata:
		return "GET METADATA"
	case InsGetSerial:
		return "GET SERIAL"
	case InsAttest:
		return "ATTEST"
	case InsSetPINRetries:
		return "SET PIN RETRIES"
	case InsResetPIV:
		return "RESET"
	case InsGetVersion:
		return "GET VERSION"
	case InsImportKey:
		return "IMPORT KEY"
	case InsSetManagementKey:
		return "SET MANAGEMENT KEY"
	case InsReadConfig:
		return "READ CONFIG"
	case InsWriteConfig:
		return "WRITE CONFIG"
	case InsOATHPut:
		return "PUT (YKOATH)"
	case InsOATHDelete:
		return "DELETE (YKOATH)"
	case InsOATHSetCode:
		return "SET CODE (YKOATH)"
	case InsOATHReset:
		return "RESET (YKOATH)"
	case InsOATHRename:
		return "RENAME (YKOATH)"
	case InsOATHList:
		return "LIST (YKOATH)"
	case InsOATHCalculate:
		return "CALCULATE (YKOATH)"
	case InsOATHValidate:
		return "VALIDATE (YKOATH)"
	case InsOATHSendRemaining:
		return "SEND REMAINING (YKOATH)"
	}
	return fmt.Sprintf("INS %02X", ins)
}
