package piv

import (
	"bytes"
	"fmt"

	"github.com/tesseracard/tessera/apdu"
	"github.com/tesseracard/tessera/firmware"
	"github.com/tesseracard/tessera/tokenstate"
)

// maxObject is the largest data object content, as on a YubiKey 5
// (yubico-piv-tool's CB_OBJ_MAX).
const maxObject = 3063

// Data object tags (SP 800-73-4 Part 1 Table 3; YubiKey 5FFFxx).
const (
	objDiscovery       = 0x7E
	objBITGroup        = 0x7F61
	objFingerprints    = 0x5FC103
	objFacialImage     = 0x5FC108
	objPrintedInfo     = 0x5FC109
	objIrisImages      = 0x5FC121
	objAttestationCert = 0x5FFF01
	// objHolderID is the holder's identity number of a virtual token
	// (profile piv.holder_id): a vendor object, readable without the PIN,
	// written with the management key like any other. It sits next to the
	// token state object (5FFF20), outside the 5FFF00..5FFF15 objects that
	// YubiKey tools use (yubico-piv-tool: 5FFF00 ADMIN DATA, 5FFF01
	// attestation, 5FFF10 MSCMAP, 5FFF11..5FFF15 MSROOTS1..5).
	objHolderID = 0x5FFF21
	// Before these objects moved, the holder ID was 5FFF10 and the quota
	// 5FFF11 (see migrateVendorObjects).
	oldObjHolderID = 0x5FFF10
	oldObjQuota    = 0x5FFF11
)

// validObject reports whether tag names a data object this card holds: the
// SP 800-73-4 objects, the YubiKey's 5FFF00..5FFF15, and the persona
// objects of the profile (holder ID, quota), which other cards refuse with
// 6A80 as any tag they do not hold.
func (a *Applet) validObject(tag apdu.Tag) bool {
	switch {
	case tag == objDiscovery, tag == objBITGroup:
		return true
	case tag >= 0x5FC101 && tag <= 0x5FC123:
		return true
	case tag >= 0x5FFF00 && tag <= 0x5FFF15:
		return true
	case tag == objHolderID:
		return a.p.PIV.HolderID != ""
	case tag == objQuota:
		return a.p.PIV.SignatureQuota > 0
	}
	return false
}

// pinProtected reports whether reading tag needs the PIN (SP 800-73-4 Part 1
// Table 3, access rule "PIN"): biometrics and printed information.
func pinProtected(tag apdu.Tag) bool {
	switch tag {
	case objFingerprints, objFacialImage, objPrintedInfo, objIrisImages:
		return true
	}
	return false
}

// wrapper is the tag that carries an object's content: 53 for most, the
// object's own tag for the discovery object and the BIT group template.
func wrapper(tag apdu.Tag) apdu.Tag {
	if tag == objDiscovery || tag == objBITGroup {
		return tag
	}
	return 0x53
}

func objectKey(tag apdu.Tag) string { return fmt.Sprintf("%x", uint32(tag)) }

// objectTag parses the 5C tag list of GET DATA and PUT DATA: exactly one tag
// of one to three bytes, naming an object this card holds.
func (a *Applet) objectTag(v []byte) (apdu.Tag, error) {
	if len(v) < 1 || len(v) > 3 {
		return 0, apdu.SWIncorrectData
	}
	var t apdu.Tag
	for _, b := range v {
		t = t<<8 | apdu.Tag(b)
	}
	if !a.validObject(t) {
		return 0, apdu.SWIncorrectData
	}
	return t, nil
}

// getData is GET DATA (SP 800-73-4 Part 2 §3.1.2): 3F FF, data 5C tag;
// answers the object wrapped in 53 (or its own tag), or 6A82 when absent.
func (a *Applet) getData(env *firmware.Context, cmd apdu.Command) ([]byte, error) {
	if cmd.P1 != 0x3F || cmd.P2 != 0xFF {
		return nil, apdu.SWIncorrectP1P2
	}
	t, rest, err := apdu.ParseTLV(cmd.Data)
	if err != nil || t.Tag != 0x5C || len(rest) != 0 {
		return nil, apdu.SWIncorrectData
	}
	if bytes.Equal(t.Value, tokenstate.TagBytes()) && a.p.PIV.Persona() {
		content, err := a.tokenState(env)
		if err != nil {
			return nil, err
		}
		return apdu.AppendTLV(nil, 0x53, content), nil
	}
	tag, err := a.objectTag(t.Value)
	if err != nil {
		return nil, err
	}
	if pinProtected(tag) && !env.Security.Has(refPIN) {
		return nil, apdu.SWSecurityStatusNotSatisfied
	}
	content, ok := env.Store.Get(objPrefix + objectKey(tag))
	if !ok {
		return nil, apdu.SWFileNotFound
	}
	return apdu.AppendTLV(nil, wrapper(tag), content), nil
}

// putData is PUT DATA (SP 800-73-4 Part 2 §3.3.1): 3F FF, data 5C tag then
// the content wrapped in 53 (or the object's own tag); empty content
// deletes the object. It needs the management key.
func (a *Applet) putData(env *firmware.Context, cmd apdu.Command) error {
	if err := needMgmt(env); err != nil {
		return err
	}
	if cmd.P1 != 0x3F || cmd.P2 != 0xFF {
		return apdu.SWIncorrectP1P2
	}
	t, rest, err := apdu.ParseTLV(cmd.Data)
	if err != nil || t.Tag != 0x5C {
		return apdu.SWIncorrectData
	}
	tag, err := a.objectTag(t.Value)
	if err != nil {
		return err
	}
	body, rest, err := apdu.ParseTLV(rest)
	if err != nil || body.Tag != wrapper(tag) || len(rest) != 0 {
		return apdu.SWIncorrectData
	}
	if len(body.Value) > maxObject {
		return apdu.SWNotEnoughMemory
	}
	if len(body.Value) == 0 {
		return env.Store.Delete(objPrefix + objectKey(tag))
	}
	return env.Store.Put(objPrefix+objectKey(tag), body.Value)
}
