package openpgp

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/tesseracard/tessera/apdu"
	"github.com/tesseracard/tessera/firmware/nvm"
)

// yubiKey5AppData is a YubiKey 5's recorded answer to GET DATA 6E
// (hostdriver/testdata/openpgp/README.md).
func yubiKey5AppData(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile("../../hostdriver/testdata/openpgp/yubikey5-6e.hex")
	if err != nil {
		t.Fatal(err)
	}
	return h(string(b))
}

// recordedDiffers are the fields of the recorded 6E whose values may
// differ from a yubikey-5.7 card's, with why; every other field is
// compared byte for byte. Besides the card-specific fields compareRecorded
// masks (the serial in the AID, C4's PW1 validity, DE's key origins),
// these are the recorded firmware's values this profile does not copy.
func recordedDiffers() map[apdu.Tag]string {
	return map[apdu.Tag]string{
		0x5F52: "card capabilities E0 on the recording (b6: extended length information in EF.ATR/INFO, which this card has not), C0 here",
		0xC0:   "extended capabilities: the recording announces KDF (7D) and GET CHALLENGE up to 0BFE; this card has no KDF and answers 255 bytes",
		0x02:   "extended length information 7F66: the recording's 0BFE both ways, this profile's own maximum command and 65535",
	}
}

// TestAppDataAsRecorded: a yubikey-5.7 card brought to the recorded
// card's state (its algorithm attributes, fingerprints, dates and
// resetting code, set by PUT DATA) answers GET DATA 6E in the recorded
// YubiKey 5's form: the same tags in the same order with the same
// lengths at every level, 6E itself included, and the same values but
// for the serial in the AID and the fields of recordedDiffers.
func TestAppDataAsRecorded(t *testing.T) {
	rec := yubiKey5AppData(t)
	want, err := apdu.ParseTLVs(rec)
	if err != nil || len(want) != 1 || want[0].Tag != tagAppData {
		t.Fatalf("recording: %v", err)
	}
	tc := newCardOf(t, testProfile(t, "yubikey-5.7", ""), nvm.NewTearable(&nvm.Memory{}))
	tc.must(cmdSelect, apdu.SWSuccess)
	tc.must(verifyPW3, apdu.SWSuccess)
	disc, _, _ := apdu.FindTLV(want[0].Value, tagDiscretion)
	get := func(tag uint16) []byte {
		v, ok, err := apdu.FindTLV(disc, apdu.Tag(tag))
		if !ok || err != nil {
			t.Fatalf("recording: no %04X in 73 (%v)", tag, err)
		}
		return v
	}
	for _, tag := range []uint16{tagAlgSig, tagAlgDec, tagAlgAut, tagAlgAtt} {
		tc.mustRaw(putData(tag, get(tag)), apdu.SWSuccess)
	}
	fprs, dates := get(tagFingerprints), get(tagDates)
	for i, tag := range []uint16{tagFprSig, tagFprSig + 1, tagFprSig + 2, tagFprAtt} {
		tc.mustRaw(putData(tag, fprs[20*i:20*i+20]), apdu.SWSuccess)
	}
	for i, tag := range []uint16{tagDateSig, tagDateSig + 1, tagDateSig + 2, tagDateAtt} {
		tc.mustRaw(putData(tag, dates[4*i:4*i+4]), apdu.SWSuccess)
	}
	tc.mustRaw(putData(tagResetCode, []byte("12345678")), apdu.SWSuccess)

	got, err := apdu.ParseTLVs(tc.getData(tagAppData))
	if err != nil {
		t.Fatal(err)
	}
	compareRecorded(t, "", got, want, recordedDiffers())
}

// compareRecorded compares the data objects got with the recorded ones
// want, tag, length and order, recursing into constructed ones.
func compareRecorded(t *testing.T, path string, got, want []apdu.TLV, differs map[apdu.Tag]string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d DOs %s, recorded %d %s", path, len(got), tagList(got), len(want), tagList(want))
		return
	}
	for i, w := range want {
		g := got[i]
		p := path + "/" + w.Tag.String()
		if g.Tag != w.Tag || len(g.Value) != len(w.Value) {
			t.Errorf("%s: DO %d is %X of %d bytes, recorded %X of %d", path, i, uint32(g.Tag), len(g.Value), uint32(w.Tag), len(w.Value))
			continue
		}
		if w.Tag.Constructed() {
			gi, err1 := apdu.ParseTLVs(g.Value)
			wi, err2 := apdu.ParseTLVs(w.Value)
			if err1 != nil || err2 != nil {
				t.Errorf("%s: %v, recorded %v", p, err1, err2)
				continue
			}
			compareRecorded(t, p, gi, wi, differs)
			continue
		}
		gv, wv := g.Value, w.Value
		switch w.Tag {
		case tagAID: // the serial, bytes 10-13
			gv, wv = append(bytes.Clone(gv[:10]), gv[14:]...), append(bytes.Clone(wv[:10]), wv[14:]...)
		case tagKeyInfo: // the key references, not their origins (the recording's keys were imported)
			gv, wv = everyOther(gv), everyOther(wv)
		case tagPWStatus: // not PW1's validity: FF recorded (departure yubikey-pw1-validity-ff)
			gv, wv = gv[1:], wv[1:]
		default:
			if why, ok := differs[w.Tag]; ok {
				t.Logf("%s: % X, recorded % X (%s)", p, gv, wv, why)
				continue
			}
		}
		if !bytes.Equal(gv, wv) {
			t.Errorf("%s = % X, recorded % X", p, g.Value, w.Value)
		}
	}
}

// everyOther is b[0], b[2], ...
func everyOther(b []byte) []byte {
	var out []byte
	for i := 0; i < len(b); i += 2 {
		out = append(out, b[i])
	}
	return out
}

// tagList names the tags of ds.
func tagList(ds []apdu.TLV) string {
	var s []string
	for _, d := range ds {
		s = append(s, d.Tag.String())
	}
	return strings.Join(s, " ")
}
