package piv

import (
	"github.com/tesseracard/tessera/apdu"
	"github.com/tesseracard/tessera/firmware"
	"github.com/tesseracard/tessera/pivalg"
)

// Disclose says what a trace may show of a PIV command and its answer
// (firmware.Discloser). Withheld:
//   - the data of VERIFY, CHANGE REFERENCE DATA and RESET RETRY COUNTER: a
//     PIN, a PUK, or the TOTP code of a cloud-signature card (key reference
//     90);
//   - both ways, GENERAL AUTHENTICATE with the management key (9B): the
//     witness, the challenges and their answers;
//   - the answer of GENERAL AUTHENTICATE with a key slot unless it is a
//     signature: an ECDH shared secret (tag 85), and an RSA private-key
//     operation whose input is not a PKCS #1 v1.5 type-1 signature block
//     (the card cannot tell a decryption from a PSS or raw signature, so
//     all of them are withheld);
//   - the data of IMPORT KEY (FE, private key material) and SET MANAGEMENT
//     KEY (FF);
//   - the data of the objects only the PIN reads (SP 800-73-4 Part 1 Table
//     3: biometrics and printed information, where YubiKey tools keep a
//     PIN-protected management key), in PUT DATA and in GET DATA's answer,
//     and of PUT DATA naming no object this card holds;
//   - everything of an instruction this applet does not know, and of any
//     class but 00.
//
// The rest shows: GET DATA, PUT DATA, GENERATE, ATTEST, GET METADATA, GET
// SERIAL, GET VERSION, SET PIN RETRIES, RESET and MOVE KEY carry no secret,
// nor do the challenge, ciphertext or peer key sent with GENERAL
// AUTHENTICATE to a key slot. The random PIN and PUK a persona card is
// issued with, and its TOTP seed, never travel in an APDU (see RevealIssued
// and EnrolTOTP).
//
// A piece of a chain is judged on its header and the data so far, which
// is enough: every rule above but GET DATA's and PUT DATA's looks at the
// header alone, and those two look at the object tag the first bytes
// carry, withholding until it is complete.
func (a *Applet) Disclose(cmd apdu.Command) firmware.Disclosure {
	if d, ok := firmware.DiscloseInterindustry(cmd); ok {
		return d
	}
	both := firmware.Disclosure{Command: true, Response: true}
	switch cmd.INS {
	case apdu.InsImportKey, apdu.InsSetManagementKey:
		return firmware.Disclosure{Response: true} // no response data
	case apdu.InsGeneralAuthenticate:
		return discloseGeneralAuth(cmd)
	case apdu.InsGetDataOdd:
		return firmware.Disclosure{Command: true, Response: a.publicObject(cmd.Data, true)}
	case apdu.InsPutDataOdd:
		return firmware.Disclosure{Command: a.publicObject(cmd.Data, false), Response: true}
	case apdu.InsGenerateKeyPairOdd, apdu.InsAttest, apdu.InsGetMetadata, apdu.InsGetSerial, apdu.InsGetVersion, apdu.InsSetPINRetries, apdu.InsResetPIV, apdu.InsMoveKey:
		return both
	}
	return firmware.Disclosure{}
}

// discloseGeneralAuth is Disclose for GENERAL AUTHENTICATE.
func discloseGeneralAuth(cmd apdu.Command) firmware.Disclosure {
	if cmd.P2 == refMgmtKey {
		return firmware.Disclosure{}
	}
	d := firmware.Disclosure{Command: true}
	if cmd.IsChained() {
		return d // no answer yet
	}
	dyn, found, err := apdu.FindTLV(cmd.Data, 0x7C)
	if err != nil || !found {
		return d
	}
	// FindTLV rather than tlvMap: this runs for every GENERAL AUTHENTICATE,
	// traced or not, and a map costs allocations on the signing path. A
	// template the applet refuses (duplicate tags) answers no data anyway.
	chal, hasChal, err := apdu.FindTLV(dyn, 0x81)
	if err != nil || !hasChal {
		return d
	}
	if _, hasPeer, err := apdu.FindTLV(dyn, 0x85); err != nil || hasPeer {
		return d // key agreement: the answer is the shared secret
	}
	switch cmd.P1 {
	case pivalg.P256, pivalg.P384, pivalg.Ed25519:
		d.Response = true // a signature; the applet checks P1 against the key
	case pivalg.RSA1024, pivalg.RSA2048, pivalg.RSA3072, pivalg.RSA4096:
		_, d.Response = pkcs1Type1(chal)
	}
	return d
}

// publicObject reports whether the data of GET DATA or PUT DATA (perhaps
// the first bytes of a chained PUT DATA) begin with a tag list naming an
// object this card holds and shows without the PIN; with read, the token
// state object of a persona card counts too.
func (a *Applet) publicObject(data []byte, read bool) bool {
	t, _, err := apdu.ParseTLV(data)
	if err != nil || t.Tag != 0x5C {
		return false
	}
	tag, err := a.objectTag(t.Value)
	if err != nil {
		return read && a.p.PIV.Persona() && len(t.Value) == 3 &&
			apdu.Tag(t.Value[0])<<16|apdu.Tag(t.Value[1])<<8|apdu.Tag(t.Value[2]) == objTokenState
	}
	return !pinProtected(tag)
}
