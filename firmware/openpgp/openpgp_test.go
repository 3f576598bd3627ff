package openpgp

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/tesseracard/tessera/apdu"
	"github.com/tesseracard/tessera/firmware/nvm"
)

// TestAID: version 3.4, the manufacturer, the serial in BCD (in binary
// from 10^8 on), RFU 0000.
func TestAID(t *testing.T) {
	tests := []struct {
		man    uint16
		serial uint32
		want   string
	}{
		{0x0006, 29173673, "D2760001240103040006291736730000"},
		{0xFFFE, 10000008, "D276000124010304FFFE100000080000"},
		{0xFFFE, 7, "D276000124010304FFFE000000070000"},
		{0x0006, 123456789, "D2760001240103040006075BCD150000"},
	}
	for _, tt := range tests {
		if got := fmt.Sprintf("%X", AID(tt.man, tt.serial)); got != tt.want {
			t.Errorf("AID(%04X, %d) = %s, want %s", tt.man, tt.serial, got, tt.want)
		}
	}
}

// TestSelectAndGetData: SELECT by the 6-byte prefix answers 9000 without
// data, and every data object reads as a factory card has it.
func TestSelectAndGetData(t *testing.T) {
	tc := newTestCard(t)
	if got := tc.must(cmdSelect, apdu.SWSuccess); len(got) != 0 {
		t.Errorf("SELECT = % X, want no data", got)
	}
	tests := []struct {
		tag  uint16
		want string
	}{
		{tagAID, "D276000124010304FFFE100000080000"},
		{tagLogin, ""},
		{tagURL, ""},
		{tagHistorical, "00730000C0059000"},
		{tagCardholder, "65085B005F2D005F3500"},
		{tagExtCaps, "7C0000FF080000FF0000"},
		{tagAlgSig, "010800002000"},
		{tagAlgDec, "010800002000"},
		{tagAlgAut, "010800002000"},
		{tagPWStatus, "017F7F7F030003"},
		{tagFingerprints, string(bytes.Repeat([]byte("0"), 120))},
		{tagCAFprs, string(bytes.Repeat([]byte("0"), 120))},
		{tagDates, string(bytes.Repeat([]byte("0"), 24))},
		{tagKeyInfo, "010002000300"},
		{tagSecSupport, "7A059303000000"},
		{tagExtLength, "7F6608020240000202FFFF"},
		{tagCert, ""},
	}
	for _, tt := range tests {
		if got := fmt.Sprintf("%X", tc.getData(tt.tag)); got != tt.want {
			t.Errorf("GET DATA %04X = %s, want %s", tt.tag, got, tt.want)
		}
	}
	for _, tag := range []uint16{0x7F74, 0x00D6, 0x0105, 0x1234, 0x00D3} {
		if _, sw := tc.sendRaw([]byte{0x00, 0xCA, byte(tag >> 8), byte(tag), 0x00}); sw != apdu.SWReferenceNotFound {
			t.Errorf("GET DATA %04X: SW %04X, want 6A88", tag, uint16(sw))
		}
	}
}

// TestApplicationRelatedData: GET DATA 6E answers the DO whole, tag and
// length included, as a YubiKey 5 does and yubikit requires; it nests the
// AID, the historical bytes, the extended length information (whole, as
// GET DATA 7F66 answers it) and the discretionary DOs, each as GET DATA
// reads it alone.
func TestApplicationRelatedData(t *testing.T) {
	tc := newTestCard(t)
	tc.must(cmdSelect, apdu.SWSuccess)
	ard := tc.getWhole(tagAppData)
	for _, tag := range []uint16{tagAID, tagHistorical} {
		v, ok, err := apdu.FindTLV(ard, apdu.Tag(tag))
		if err != nil || !ok || !bytes.Equal(v, tc.getData(tag)) {
			t.Errorf("6E: %04X = % X (%v, %v), want GET DATA's", tag, v, ok, err)
		}
	}
	if v, ok, err := apdu.FindTLV(ard, tagExtLength); err != nil || !ok || !bytes.Equal(v, tc.getWhole(tagExtLength)) {
		t.Errorf("6E: 7F66 = % X (%v, %v), want GET DATA's value", v, ok, err)
	}
	disc, ok, err := apdu.FindTLV(ard, tagDiscretion)
	if err != nil || !ok {
		t.Fatalf("6E without 73: %v", err)
	}
	for _, tag := range []uint16{tagExtCaps, tagAlgSig, tagAlgDec, tagAlgAut, tagPWStatus, tagFingerprints, tagCAFprs, tagDates, tagKeyInfo} {
		v, ok, err := apdu.FindTLV(disc, apdu.Tag(tag))
		if err != nil || !ok || !bytes.Equal(v, tc.getData(tag)) {
			t.Errorf("73: %04X = % X (%v, %v), want GET DATA's", tag, v, ok, err)
		}
	}
	if _, ok, _ := apdu.FindTLV(disc, 0xD6); ok {
		t.Error("73 carries UIF D6 on a card without YubiKey extras")
	}
}

// TestYubiKeyExtras: in yubikey-5.7 the AID names Yubico and the device
// serial, GET VERSION answers the firmware version, 7F74 announces the
// button, and the touch policies read and are set with PW3.
func TestYubiKeyExtras(t *testing.T) {
	tc := newCardOf(t, testProfile(t, "yubikey-5.7", ""), nvm.NewTearable(&nvm.Memory{}))
	tc.must(cmdSelect, apdu.SWSuccess)
	if got := fmt.Sprintf("%X", tc.getData(tagAID)); got != "D2760001240103040006291736730000" {
		t.Errorf("AID = %s, want Yubico's with serial 29173673", got)
	}
	if got := tc.must("00 F1 00 00 00", apdu.SWSuccess); !bytes.Equal(got, []byte{5, 7, 1}) {
		t.Errorf("GET VERSION = % X, want 05 07 01", got)
	}
	if got := tc.getData(tagFeatures); !bytes.Equal(got, h("7F74 03 81 01 20")) {
		t.Errorf("7F74 = % X, want 7F74 03 81 01 20", got)
	}
	if got := tc.getData(0x00D7); !bytes.Equal(got, h("00 20")) {
		t.Errorf("D7 = % X, want 00 20", got)
	}
	tc.mustRaw(putData(0x00D7, h("01 20")), apdu.SWSecurityStatusNotSatisfied)
	tc.must(verifyPW3, apdu.SWSuccess)
	tc.mustRaw(putData(0x00D7, h("01 20")), apdu.SWSuccess)
	tc.mustRaw(putData(0x00D7, h("05 20")), apdu.SWIncorrectData)
	tc.mustRaw(putData(0x00D7, h("01 00")), apdu.SWIncorrectData)
	if got := tc.getData(0x00D7); !bytes.Equal(got, h("01 20")) {
		t.Errorf("D7 after PUT DATA = % X, want 01 20", got)
	}
	tc.mustRaw(putData(0x00D8, h("02 20")), apdu.SWSuccess)
	tc.mustRaw(putData(0x00D8, h("00 20")), apdu.SWSecurityStatusNotSatisfied) // fixed
	if got := tc.getData(0x00D9); !bytes.Equal(got, h("00 20")) {
		t.Errorf("D9 = % X, want 00 20", got)
	}
	for _, tt := range []struct {
		tag uint16
		n   int
	}{{tagFingerprints, 80}, {tagCAFprs, 80}, {tagDates, 16}, {tagKeyInfo, 8}} { // with the attestation key's, as a YubiKey 5
		if got := tc.getData(tt.tag); len(got) != tt.n {
			t.Errorf("GET DATA %04X = % X, want %d bytes", tt.tag, got, tt.n)
		}
	}
	if got := tc.getData(tagKeyInfo); !bytes.Equal(got[6:], []byte{keyAtt, originGenerated}) {
		t.Errorf("DE = % X, want the attestation key (81) generated", got)
	}
	disc, _, _ := apdu.FindTLV(tc.getWhole(tagAppData), tagDiscretion)
	if v, ok, _ := apdu.FindTLV(disc, 0xD7); !ok || !bytes.Equal(v, h("01 20")) {
		t.Errorf("73: D7 = % X (%v), want 01 20", v, ok)
	}
}

// TestOpenPGPGetVersionOnlyYubiKey: INS F1 and F2 are a YubiKey's; the
// plain card does not know them.
func TestOpenPGPGetVersionOnlyYubiKey(t *testing.T) {
	tc := newTestCard(t)
	tc.admin()
	tc.must("00 F1 00 00 00", apdu.SWINSNotSupported)
	tc.must("00 F2 00 00 03 05 00 05", apdu.SWINSNotSupported)
}

// TestSetPINRetries: a YubiKey's SET PIN RETRIES (as ykman openpgp access
// set-retries sends it) needs PW3, sets the limits with full counters and
// keeps the passwords; 0 for the resetting code removes it.
func TestSetPINRetries(t *testing.T) {
	tc := newCardOf(t, testProfile(t, "yubikey-5.7", ""), nvm.NewTearable(&nvm.Memory{}))
	tc.must(cmdSelect, apdu.SWSuccess)
	tc.must("00 F2 00 00 03 05 00 05", apdu.SWSecurityStatusNotSatisfied)
	tc.must(verifyPW3, apdu.SWSuccess)
	tc.mustRaw(putData(tagResetCode, []byte("rcrcrcrc")), apdu.SWSuccess)
	tc.must(wrongPW1, ykWrong(2))
	for _, tt := range []struct {
		cmd string
		sw  apdu.StatusWord
		c4  string
	}{
		{"00 F2 00 00 03 05 04 06", apdu.SWSuccess, "017F7F7F050406"},
		{"00 F2 00 00 03 05 00 05", apdu.SWSuccess, "017F7F7F050005"},
		{"00 F2 00 00 03 00 00 05", apdu.SWIncorrectData, "017F7F7F050005"},
		{"00 F2 00 00 03 05 00 64", apdu.SWIncorrectData, "017F7F7F050005"},
		{"00 F2 00 00 02 05 05", apdu.SWWrongLength, "017F7F7F050005"},
		{"00 F2 00 01 03 05 00 05", apdu.SWIncorrectP1P2, "017F7F7F050005"},
	} {
		tc.must(tt.cmd, tt.sw)
		if got := tc.getData(tagPWStatus); !bytes.Equal(got, h(tt.c4)) {
			t.Errorf("%s: C4 = % X, want %s", tt.cmd, got, tt.c4)
		}
	}
	tc.must(wrongPW1, ykWrong(4))
	if got := tc.getData(tagPWStatus)[4]; got != 4 {
		t.Errorf("C4 PW1 tries after a wrong PW1 = %d, want 4", got)
	}
	tc.must(verifyPW1Other, apdu.SWSuccess)
	tc.must(verifyPW3, apdu.SWSuccess)
}

// TestResettingCodeLimit: the resetting code's limit SET PIN RETRIES gives
// is the card's, not the resetting code's: a resetting code set later by
// PUT DATA D3 gets it (as a YubiKey keeps it), across a power cycle and a
// deletion of the code; 0 removes a code and leaves the limit; the factory
// reset brings back 3. C4 shows the tries, and a wrong resetting code in
// RESET RETRY COUNTER spends from them.
func TestResettingCodeLimit(t *testing.T) {
	setRC := func(tc *testCard) { tc.admin(); tc.mustRaw(putData(tagResetCode, []byte("rcrcrcrc")), apdu.SWSuccess) }
	delRC := func(tc *testCard) { tc.admin(); tc.mustRaw(putData(tagResetCode, nil), apdu.SWSuccess) }
	retries := func(cmd string) func(*testCard) {
		return func(tc *testCard) { tc.admin(); tc.must(cmd, apdu.SWSuccess) }
	}
	power := func(tc *testCard) { tc.power() }
	reset := func(tc *testCard) {
		tc.admin()
		tc.must("00 E6 00 00", apdu.SWSuccess)
		tc.must("00 44 00 00", apdu.SWSuccess)
	}
	tests := []struct {
		name  string
		steps []func(*testCard)
		tries int // the resetting code's, once set at the end
	}{
		{"never told", nil, 3},
		{"told before the code exists", []func(*testCard){retries("00 F2 00 00 03 05 04 06")}, 4},
		{"told, then a power cycle", []func(*testCard){retries("00 F2 00 00 03 05 04 06"), power}, 4},
		{"told while a code exists, the code deleted", []func(*testCard){setRC, retries("00 F2 00 00 03 05 07 06"), delRC}, 7},
		{"0 removes the code, keeps the limit", []func(*testCard){retries("00 F2 00 00 03 05 04 06"), setRC, retries("00 F2 00 00 03 05 00 06")}, 4},
		{"told twice", []func(*testCard){retries("00 F2 00 00 03 05 04 06"), retries("00 F2 00 00 03 05 0F 06")}, 15},
		{"factory reset", []func(*testCard){retries("00 F2 00 00 03 05 04 06"), reset}, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tc := newCardOf(t, testProfile(t, "yubikey-5.7", ""), nvm.NewTearable(&nvm.Memory{}))
			tc.must(cmdSelect, apdu.SWSuccess)
			for _, step := range tt.steps {
				step(tc)
			}
			setRC(tc)
			if got := tc.getData(tagPWStatus)[5]; int(got) != tt.tries {
				t.Errorf("C4 resetting code tries = %d, want %d", got, tt.tries)
			}
			tc.must(cmdSelect, apdu.SWSuccess)
			tc.mustRaw(pwCmd(0x2C, 0, 0x81, "xxxxxxxx"+"7777777"), ykWrong(tt.tries-1))
			if got := tc.getData(tagPWStatus)[5]; int(got) != tt.tries-1 {
				t.Errorf("C4 resetting code tries after a wrong one = %d, want %d", got, tt.tries-1)
			}
		})
	}
}

// TestPutData: each DO PUT DATA writes needs PW3, is bounded, and reads
// back; an empty value deletes it.
func TestPutData(t *testing.T) {
	fpr := bytes.Repeat([]byte{0xAB}, 20)
	tests := []struct {
		name  string
		tag   uint16
		value []byte
		sw    apdu.StatusWord
		read  uint16 // the DO that shows it, 0: tag
		want  []byte // nil: value
	}{
		{"name", tagName, []byte("Doe<<John"), apdu.SWSuccess, 0, nil},
		{"name too long", tagName, bytes.Repeat([]byte("a"), 40), apdu.SWWrongLength, 0, []byte{}},
		{"login", tagLogin, []byte("jdoe"), apdu.SWSuccess, 0, nil},
		{"url", tagURL, []byte("https://example.org/key.asc"), apdu.SWSuccess, 0, nil},
		{"url too long", tagURL, bytes.Repeat([]byte("u"), 256), apdu.SWWrongLength, 0, []byte{}},
		{"language", tagLanguage, []byte("deen"), apdu.SWSuccess, 0, nil},
		{"language odd", tagLanguage, []byte("den"), apdu.SWWrongLength, 0, []byte{}},
		{"sex", tagSex, []byte("2"), apdu.SWSuccess, 0, nil},
		{"sex bad", tagSex, []byte("3"), apdu.SWIncorrectData, 0, []byte{}},
		{"fingerprint sig", 0x00C7, fpr, apdu.SWSuccess, tagFingerprints, append(fpr, make([]byte, 40)...)},
		{"fingerprint aut", 0x00C9, fpr, apdu.SWSuccess, tagFingerprints, append(make([]byte, 40), fpr...)},
		{"fingerprint short", 0x00C8, fpr[:19], apdu.SWWrongLength, tagFingerprints, make([]byte, 60)},
		{"CA fingerprint", 0x00CB, fpr, apdu.SWSuccess, tagCAFprs, append(append(make([]byte, 20), fpr...), make([]byte, 20)...)},
		{"date dec", 0x00CF, h("5F000000"), apdu.SWSuccess, tagDates, h("00000000 5F000000 00000000")},
		{"date long", 0x00CE, h("5F00000000"), apdu.SWWrongLength, tagDates, make([]byte, 12)},
		{"PW status several", tagPWStatus, []byte{0x00}, apdu.SWSuccess, tagPWStatus, h("00 7F7F7F 03 00 03")},
		{"PW status 4 bytes", tagPWStatus, h("00 20 20 20"), apdu.SWSuccess, tagPWStatus, h("00 7F7F7F 03 00 03")},
		{"PW status bad", tagPWStatus, []byte{0x02}, apdu.SWIncorrectData, tagPWStatus, h("01 7F7F7F 03 00 03")},
		{"certificate", tagCert, bytes.Repeat([]byte{0x30}, 2048), apdu.SWSuccess, 0, nil},
		{"certificate too long", tagCert, bytes.Repeat([]byte{0x30}, 2049), apdu.SWWrongLength, 0, []byte{}},
		{"unknown DO", 0x0042, []byte{1}, apdu.SWReferenceNotFound, tagCardholder, h("65 08 5B00 5F2D00 5F3500")},
		{"AID not writable", tagAID, []byte{1}, apdu.SWReferenceNotFound, tagAID, h("D276000124010304FFFE100000080000")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tc := newTestCard(t)
			tc.must(cmdSelect, apdu.SWSuccess)
			if tt.sw == apdu.SWSuccess {
				tc.mustRaw(putData(tt.tag, tt.value), apdu.SWSecurityStatusNotSatisfied)
			}
			tc.must(verifyPW3, apdu.SWSuccess)
			tc.mustRaw(putData(tt.tag, tt.value), tt.sw)
			read, want := tt.read, tt.want
			if read == 0 {
				read = tt.tag
			}
			if want == nil {
				want = tt.value
			}
			if got := tc.getData(read); !bytes.Equal(got, want) {
				t.Errorf("GET DATA %04X = % X, want % X", read, got, want)
			}
		})
	}
}

// TestPutDataEmptyDeletes: an empty PUT DATA deletes the DO.
func TestPutDataEmptyDeletes(t *testing.T) {
	tc := newTestCard(t)
	tc.admin()
	tc.mustRaw(putData(tagURL, []byte("https://x")), apdu.SWSuccess)
	tc.mustRaw(putData(tagURL, nil), apdu.SWSuccess)
	if got := tc.getData(tagURL); len(got) != 0 {
		t.Errorf("URL after empty PUT DATA = %q, want empty", got)
	}
	if _, ok := tc.c.Store().Get(doKey(tagURL)); ok {
		t.Error("URL record still stored")
	}
}

// TestVerify: each password reference, the status query without data,
// P1 FF forgetting, wrong tries spent, malformed passwords refused without
// a try, blocked PW1 answering 6983.
func TestVerify(t *testing.T) {
	tc := newTestCard(t)
	tc.must(cmdSelect, apdu.SWSuccess)
	steps := []struct {
		cmd string
		sw  apdu.StatusWord
	}{
		{"00 20 00 81", 0x63C3},
		{verifyPW1Sign, apdu.SWSuccess},
		{"00 20 00 81", apdu.SWSuccess},
		{"00 20 00 82", 0x63C3}, // 81 and 82 are separate states of PW1
		{verifyPW1Other, apdu.SWSuccess},
		{"00 20 FF 81", apdu.SWSuccess},
		{"00 20 00 81", 0x63C3},
		{"00 20 00 82", apdu.SWSuccess},
		{"00 20 00 84", apdu.SWIncorrectP1P2},
		{"00 20 01 81", apdu.SWIncorrectP1P2},
		{"00 20 00 81 05 3132333435", apdu.SWWrongLength}, // too short for PW1: no try
		{"00 20 00 83 07 31323334353637", apdu.SWWrongLength},
		{"00 20 00 81", 0x63C3},
		{wrongPW1, 0x63C2},
		{"00 20 00 82", 0x63C2}, // a failed VERIFY forgets 82
		{wrongPW1, 0x63C1},
		{verifyPW1Other, apdu.SWSuccess}, // restores the counter
		{"00 20 00 81", 0x63C3},
		{wrongPW1, 0x63C2},
		{wrongPW1, 0x63C1},
		{wrongPW1, 0x63C0},
		{verifyPW1Sign, apdu.SWAuthMethodBlocked},
		{"00 20 00 81", apdu.SWAuthMethodBlocked},
		{wrongPW3, 0x63C2},
		{verifyPW3, apdu.SWSuccess},
		{"00 20 00 83", apdu.SWSuccess},
	}
	for i, s := range steps {
		if _, sw := tc.send(s.cmd); sw != s.sw {
			t.Fatalf("step %d: %s: SW %04X, want %04X", i, s.cmd, uint16(sw), uint16(s.sw))
		}
	}
	if got := tc.getData(tagPWStatus); !bytes.Equal(got, h("01 7F7F7F 00 00 03")) {
		t.Errorf("C4 = % X, want PW1 blocked, PW3 3", got)
	}
}

// TestSecurityClearedBySelectAndReset: a verified password lasts until the
// next SELECT or reset.
func TestSecurityClearedBySelectAndReset(t *testing.T) {
	tc := newTestCard(t)
	tc.admin()
	tc.must("00 20 00 83", apdu.SWSuccess)
	tc.must(cmdSelect, apdu.SWSuccess)
	tc.must("00 20 00 83", 0x63C3)
	tc.must(verifyPW3, apdu.SWSuccess)
	tc.power()
	tc.must(cmdSelect, apdu.SWSuccess)
	tc.must("00 20 00 83", 0x63C3)
}

// TestClassAndInstruction: another class answers 6E00; an unknown
// instruction 6D00.
func TestClassAndInstruction(t *testing.T) {
	tc := newTestCard(t)
	tc.must(cmdSelect, apdu.SWSuccess)
	tc.must("80 CA 00 6E 00", apdu.SWCLANotSupported)
	tc.must("00 12 00 00", apdu.SWINSNotSupported)
}

// TestStoreFormat: the records are those the package documentation lists
// (the on-card state format is public): the factory records at first
// power-on, then one per DO, attribute, key and counter written.
func TestStoreFormat(t *testing.T) {
	tc := newTestCard(t)
	keys := func() string { return fmt.Sprint(tc.c.Store().Keys("openpgp/")) }
	if got, want := keys(), "[openpgp/c4 openpgp/pw1 openpgp/pw3 openpgp/pwlen]"; got != want {
		t.Errorf("factory records = %s, want %s", got, want)
	}
	tc.generateEd25519(keySig)
	tc.mustRaw(putData(tagName, []byte("x")), apdu.SWSuccess)
	tc.mustRaw(putData(0x00CE, h("01020304")), apdu.SWSuccess)
	tc.mustRaw(putData(tagResetCode, []byte("rcrcrcrc")), apdu.SWSuccess)
	tc.must(verifyPW1Sign, apdu.SWSuccess)
	tc.mustRaw(command(0x00, 0x2A, 0x9E, 0x9A, []byte("m")), apdu.SWSuccess)
	want := "[openpgp/alg/b6 openpgp/c4 openpgp/do/005b openpgp/do/00ce openpgp/key/b6 openpgp/pw1 openpgp/pw3 openpgp/pwlen openpgp/rc openpgp/sigcount]"
	if got := keys(); got != want {
		t.Errorf("records = %s, want %s", got, want)
	}
	if v, _ := tc.c.Store().Get(keyPWLen); !bytes.Equal(v, []byte{6, 8, 8}) {
		t.Errorf("pwlen = % X, want 06 08 08", v)
	}
	if v, _ := tc.c.Store().Get(keySigCount); !bytes.Equal(v, []byte{0, 0, 1}) {
		t.Errorf("sigcount = % X, want 00 00 01", v)
	}
	if v, _ := tc.c.Store().Get(keyKeyPrefix + "b6"); len(v) < 2 || v[0] != originGenerated {
		t.Errorf("key/b6 = % X, want origin 01 then the key record", v)
	}
}

// TestHistoricalBytesMatchATR: on the openpgp profile the historical bytes
// DO 5F52 are the ATR's (3B 88 80 01, eight historical bytes, TCK), and
// both announce what the card OS takes: chaining, and extended Lc/Le only
// with extended_length.
func TestHistoricalBytesMatchATR(t *testing.T) {
	for _, tt := range []struct {
		doc  string
		caps byte
	}{{"", 0xC0}, {"extended_length: false", 0x80}} {
		p := testProfile(t, "openpgp", tt.doc)
		tc := newCardOf(t, p, nvm.NewTearable(&nvm.Memory{}))
		tc.must(cmdSelect, apdu.SWSuccess)
		hist := tc.getData(tagHistorical)
		if want := []byte{0x00, 0x73, 0x00, 0x00, tt.caps, 0x05, 0x90, 0x00}; !bytes.Equal(hist, want) {
			t.Errorf("%q: 5F52 = % X, want % X", tt.doc, hist, want)
		}
		if tt.doc == "" && !bytes.Equal(p.ATR[4:len(p.ATR)-1], hist) {
			t.Errorf("ATR % X: historical bytes differ from 5F52 % X", p.ATR, hist)
		}
		if _, sw := tc.send("00 CA 7F 66 00"); (sw == apdu.SWSuccess) != (tt.caps == 0xC0) {
			t.Errorf("%q: GET DATA 7F66 answered %04X", tt.doc, uint16(sw))
		}
	}
}

// TestPrivateDOs: the private-use DOs 0101-0104 take up to 255 bytes each;
// 0101 and 0103 are written with PW1 (82), 0102 and 0104 with PW3; 0103 is
// read with PW1 (82), 0104 with PW3, 0101 and 0102 by anyone.
func TestPrivateDOs(t *testing.T) {
	tc := newTestCard(t)
	tc.must(cmdSelect, apdu.SWSuccess)
	for tag := uint16(0x0101); tag <= 0x0104; tag++ {
		tc.mustRaw(putData(tag, []byte{byte(tag)}), apdu.SWSecurityStatusNotSatisfied)
	}
	tc.must(verifyPW1Other, apdu.SWSuccess)
	tc.mustRaw(putData(0x0101, []byte{1}), apdu.SWSuccess)
	tc.mustRaw(putData(0x0103, []byte{3}), apdu.SWSuccess)
	tc.mustRaw(putData(0x0102, []byte{2}), apdu.SWSecurityStatusNotSatisfied)
	tc.must(verifyPW3, apdu.SWSuccess)
	tc.mustRaw(putData(0x0102, []byte{2}), apdu.SWSuccess)
	tc.mustRaw(putData(0x0104, []byte{4}), apdu.SWSuccess)
	tc.mustRaw(putData(0x0104, make([]byte, 256)), apdu.SWWrongLength)
	tc.must(cmdSelect, apdu.SWSuccess) // forgets both passwords
	for _, tt := range []struct {
		tag uint16
		sw  apdu.StatusWord
	}{{0x0101, apdu.SWSuccess}, {0x0102, apdu.SWSuccess}, {0x0103, apdu.SWSecurityStatusNotSatisfied}, {0x0104, apdu.SWSecurityStatusNotSatisfied}} {
		if _, sw := tc.sendRaw([]byte{0x00, 0xCA, byte(tt.tag >> 8), byte(tt.tag), 0x00}); sw != tt.sw {
			t.Errorf("GET DATA %04X without passwords: SW %04X, want %04X", tt.tag, uint16(sw), uint16(tt.sw))
		}
	}
	tc.must(verifyPW1Other, apdu.SWSuccess)
	tc.must(verifyPW3, apdu.SWSuccess)
	for tag := uint16(0x0101); tag <= 0x0104; tag++ {
		if got := tc.getData(tag); !bytes.Equal(got, []byte{byte(tag)}) {
			t.Errorf("GET DATA %04X = % X, want %02X", tag, got, byte(tag))
		}
	}
}

// TestSelectData: SELECT DATA (as OpenSC and ykman send it) chooses the
// occurrence of 7F21 that GET DATA and PUT DATA reach: 0, the
// authentication key's, is the one without SELECT DATA; the choice ends
// with the next SELECT; other data or occurrences are refused.
func TestSelectData(t *testing.T) {
	tc := newTestCard(t)
	tc.admin()
	tc.mustRaw(putData(tagCert, []byte("aut")), apdu.SWSuccess)
	tc.must("00 A5 02 04 06 60 04 5C 02 7F 21", apdu.SWSuccess)
	tc.mustRaw(putData(tagCert, []byte("sig")), apdu.SWSuccess)
	tc.must("00 A5 01 04 07 06 60 04 5C 02 7F 21", apdu.SWSuccess) // ykman 4's form
	tc.mustRaw(putData(tagCert, []byte("dec")), apdu.SWSuccess)
	for _, tt := range []struct{ occ, want string }{{"00", "aut"}, {"01", "dec"}, {"02", "sig"}} {
		tc.must("00 A5 "+tt.occ+" 04 06 60 04 5C 02 7F 21", apdu.SWSuccess)
		if got := tc.getData(tagCert); string(got) != tt.want {
			t.Errorf("7F21 occurrence %s = %q, want %q", tt.occ, got, tt.want)
		}
	}
	tc.must(cmdSelect, apdu.SWSuccess)
	if got := tc.getData(tagCert); string(got) != "aut" {
		t.Errorf("7F21 after SELECT = %q, want occurrence 0's", got)
	}
	tc.must("00 A5 03 04 06 60 04 5C 02 7F 21", apdu.SWReferenceNotFound)
	tc.must("00 A5 00 04 06 60 04 5C 02 00 65", apdu.SWReferenceNotFound)
	tc.must("00 A5 00 05 06 60 04 5C 02 7F 21", apdu.SWIncorrectP1P2)
}

// TestSetPINRetriesLimits: SET PIN RETRIES takes what ykman openpgp access
// set-retries sends, 1 to 99 for each password (ykman's range; Yubico's
// device test test_change_pin_retries sets 5 0 25), 0 for the resetting
// code; C4 shows the limits, VERIFY and RESET RETRY COUNTER count down from
// them (a YubiKey answers 6982, C4 says how many are left), a power cycle keeps
// them, and a resetting code set later gets its limit. Values outside
// answer 6A80 and change nothing.
func TestSetPINRetriesLimits(t *testing.T) {
	tests := []struct {
		name   string
		limits [3]byte // PW1, RC, PW3
		sw     apdu.StatusWord
	}{
		{"Yubico's device test: 5 0 25", [3]byte{5, 0, 25}, apdu.SWSuccess},
		{"25 each", [3]byte{25, 25, 25}, apdu.SWSuccess},
		{"99 each", [3]byte{99, 99, 99}, apdu.SWSuccess},
		{"16, just above 63Cx", [3]byte{16, 16, 16}, apdu.SWSuccess},
		{"1 each", [3]byte{1, 1, 1}, apdu.SWSuccess},
		{"PW1 100", [3]byte{100, 3, 3}, apdu.SWIncorrectData},
		{"RC 100", [3]byte{3, 100, 3}, apdu.SWIncorrectData},
		{"PW3 100", [3]byte{3, 3, 100}, apdu.SWIncorrectData},
		{"PW3 255", [3]byte{3, 3, 255}, apdu.SWIncorrectData},
		{"PW1 0", [3]byte{0, 3, 3}, apdu.SWIncorrectData},
		{"PW3 0", [3]byte{3, 3, 0}, apdu.SWIncorrectData},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tc := newCardOf(t, testProfile(t, "yubikey-5.7", ""), nvm.NewTearable(&nvm.Memory{}))
			tc.must(cmdSelect, apdu.SWSuccess)
			tc.must(verifyPW3, apdu.SWSuccess)
			tc.mustRaw(command(0x00, 0xF2, 0x00, 0x00, tt.limits[:]), tt.sw)
			want := [3]int{3, 0, 3} // the factory limits, no resetting code
			if tt.sw == apdu.SWSuccess {
				want = [3]int{int(tt.limits[0]), 0, int(tt.limits[2])}
			}
			tc.power()
			tc.must(cmdSelect, apdu.SWSuccess)
			if got := tc.getData(tagPWStatus)[4:]; !bytes.Equal(got, []byte{byte(want[0]), 0, byte(want[2])}) {
				t.Fatalf("C4 tries after a power cycle = % X, want % X", got, want)
			}
			tc.must(wrongPW1, ykWrong(want[0]-1))
			tc.must(wrongPW3, ykWrong(want[2]-1))
			tc.must("00 20 00 83", apdu.SWIncorrectData) // a YubiKey has no status query
			if got := tc.getData(tagPWStatus)[4:]; !bytes.Equal(got, []byte{byte(want[0] - 1), 0, byte(want[2] - 1)}) {
				t.Errorf("C4 tries after a wrong PW1 and PW3 = % X, want %d 0 %d", got, want[0]-1, want[2]-1)
			}
			rcWant := 3
			if tt.sw == apdu.SWSuccess && tt.limits[1] != 0 {
				rcWant = int(tt.limits[1])
			}
			if want[2] > 1 {
				tc.must(verifyPW3, apdu.SWSuccess)
				tc.mustRaw(putData(tagResetCode, []byte("rcrcrcrc")), apdu.SWSuccess)
				if got := tc.getData(tagPWStatus)[5]; int(got) != rcWant {
					t.Errorf("C4 resetting code tries = %d, want %d", got, rcWant)
				}
				tc.mustRaw(pwCmd(0x2C, 0, 0x81, "xxxxxxxx"+"7777777"), ykWrong(rcWant-1))
				if got := tc.getData(tagPWStatus)[5]; int(got) != rcWant-1 {
					t.Errorf("C4 resetting code tries after a wrong one = %d, want %d", got, rcWant-1)
				}
			}
			if want[0] > 1 {
				tc.must(verifyPW1Other, apdu.SWSuccess)
				if got := tc.getData(tagPWStatus)[4]; int(got) != want[0] {
					t.Errorf("C4 PW1 tries after the right PW1 = %d, want %d", got, want[0])
				}
			}
		})
	}
}
