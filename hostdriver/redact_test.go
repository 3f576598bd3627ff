package hostdriver

import (
	"strings"
	"testing"
)

// TestRedactorRules: one exchange on its own, every rule of the set.
func TestRedactorRules(t *testing.T) {
	tests := []struct {
		name           string
		cmd            string
		wantCmd, wantR bool
	}{
		{"SELECT PIV", "00A4040009A00000030800001000", true, true},
		{"GET DATA CHUID", "00CB3FFF055C035FC102", true, true},
		{"GET DATA discovery", "00CB3FFF035C017E", true, true},
		{"GET DATA printed information", "00CB3FFF055C035FC109", true, false},
		{"GET DATA facial image", "00CB3FFF055C035FC108", true, false},
		{"GET DATA bad tag list", "00CB3FFF025C09", true, false},
		{"OpenPGP GET DATA 6E", "00CA006E00", true, true},
		{"OpenPGP GET DATA private DO 0103", "00CA010300", true, false},
		{"READ BINARY", "00B0000000", true, true},
		{"READ RECORD", "00B2010C00", true, true},
		{"GET VERSION", "00FD000000", true, true},
		{"YubiKey READ CONFIG", "001D000000", true, true},
		{"YubiKey WRITE CONFIG with a lock code", "001C00001312" + "0A10" + strings.Repeat("11", 16), false, true},
		{"YubiKey WRITE CONFIG enabled", "001C0000050403020010", false, true},
		{"GET METADATA", "00F7009B00", true, true},
		{"GENERATE", "0047009A05AC03800111", true, true},
		{"IsoApplet GENERATE", "0046000203010203", true, true},
		{"VERIFY PIN", "0020008008313233343536FFFF", false, true},
		{"VERIFY status", "0020008000", true, true},
		{"VERIFY proprietary class", "80200080083132333435363738", false, true},
		{"CHANGE REFERENCE DATA", "00240080103132333435363738" + strings.Repeat("39", 8), false, true},
		{"RESET RETRY COUNTER", "002C008010" + strings.Repeat("31", 16), false, true},
		{"OpenPGP VERIFY PW3", "002000830831323334353637", false, true},
		{"GA management key witness", "00879B9B047C028000", false, false},
		{"GA management key response", "00870E9B0C7C0A8008" + strings.Repeat("11", 8), false, false},
		{"GA sign", "0087119A0A7C08820081040102030400", true, false},
		{"GA ECDH", "0087119D0A7C088200850401020304", true, false},
		{"PSO sign", "002A9E9A0401020304", true, true},
		{"PSO decipher", "002A808603001122", true, false},
		{"PSO encipher", "002A86800401020304", false, false},
		{"INTERNAL AUTHENTICATE", "0088000004DEADBEEF", true, true},
		{"IMPORT KEY", "00FE07880401020304", false, false},
		{"SET MANAGEMENT KEY", "00FFFFFF1B039B18" + strings.Repeat("01", 24), false, false},
		{"PUT DATA CHUID", "00DB3FFF0A5C035FC102530301020300", true, true},
		{"PUT DATA printed information", "00DB3FFF0A5C035FC109530388010100", false, true},
		{"OpenPGP key import", "00DB3FFF044D02B600", false, true},
		{"IsoApplet key import", "00DB00B6049F010203", false, true},
		{"OpenPGP PUT DATA name", "00DA005B03414243", true, true},
		{"OpenPGP PUT DATA resetting code", "00DA00D30831323334353637", false, true},
		{"OpenPGP PUT DATA AES key", "00DA00D510" + strings.Repeat("AA", 16), false, true},
		{"UPDATE BINARY", "00D6000004DEADBEEF", false, false},
		{"unknown with data", "00EE000002AABB", false, false},
		{"unknown without data", "00EE000000", true, false},
		{"YKOATH PUT", "0001000010710174730B2106313233343536373839", false, false},
		{"YKOATH SET CODE", "0003000019730B2131323334353637383930740400000000750400000000", false, false},
		{"YKOATH VALIDATE", "00A300000C750400000000740400000000", false, false},
		{"YKOATH CALCULATE", "00A200010D7101747408000000000000000100", true, false},
		{"YKOATH CALCULATE ALL", "00A400010A74080000000000000001", true, false},
		{"SELECT by FID", "00A40000023F00", true, true},
		{"YKOATH LIST", "00A10000", true, true},
		{"YKOATH DELETE", "0002000003710174", true, true},
		{"YKOATH RENAME", "0005000006710174710175", true, true},
		{"YKOATH RESET", "0004DEAD", true, true},
		{"malformed", "00A4040009A000", true, true},
		{"too short", "00", true, true},
	}
	for _, tt := range tests {
		var r Redactor
		gotCmd, gotR := r.Disclose(mustHex(tt.cmd), mustHex("9000"))
		if gotCmd != tt.wantCmd || gotR != tt.wantR {
			t.Errorf("%s: Disclose(%s) = (%v, %v), want (%v, %v)", tt.name, tt.cmd, gotCmd, gotR, tt.wantCmd, tt.wantR)
		}
	}
}

// TestRedactorSession: GET RESPONSE continues the answer that announced it,
// the pieces of a chain are judged as the first.
func TestRedactorSession(t *testing.T) {
	steps := []struct {
		name           string
		cmd, resp      string
		wantCmd, wantR bool
	}{
		{"signature, announced", "0087119A0A7C08820081040102030400", "7C046110", true, false},
		{"its rest", "00C0000010", "AABB9000", true, false},
		{"nothing pending", "00C0000010", "CCDD9000", true, true},
		{"certificate, announced", "00CB3FFF055C035FC105", "53826100", true, true},
		{"its rest", "00C0000000", "EEFF9000", true, true},
		{"chain first piece: a certificate", "10DB3FFF0A5C035FC105530301020300", "9000", true, true},
		{"chain middle piece", "10DB3FFF0401020304", "9000", true, true},
		{"chain last piece", "00DB3FFF0401020304", "9000", true, true},
		{"a lone piece after the chain", "00DB3FFF0401020304", "9000", false, true},
		{"chained key import", "10DB3FFF044D02B600", "9000", false, true},
		{"its next piece, 5C by chance", "00DB3FFF055C035FC102", "9000", false, true},
		{"chained VERIFY", "1020008004" + "31323334", "9000", false, true},
		{"then a PUT DATA", "00DB3FFF055C035FC102", "9000", true, true},
		{"YKOATH LIST, announced", "00A10000", "72027174" + "6110", true, true},
		{"its rest by SEND REMAINING", "00A50000", "AABB9000", true, true},
		{"YKOATH CALCULATE ALL, announced", "00A400010A74080000000000000001", "71017476050600000001" + "6110", true, false},
		{"its rest by SEND REMAINING", "00A50000", "AABB9000", true, false},
		{"SEND REMAINING continuing nothing", "00A50000", "AABB9000", true, false},
	}
	var r Redactor
	for _, s := range steps {
		gotCmd, gotR := r.Disclose(mustHex(s.cmd), mustHex(s.resp))
		if gotCmd != s.wantCmd || gotR != s.wantR {
			t.Errorf("%s: Disclose(%s → %s) = (%v, %v), want (%v, %v)", s.name, s.cmd, s.resp, gotCmd, gotR, s.wantCmd, s.wantR)
		}
	}
}
