package piv

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"testing"
	"testing/cryptotest"

	"github.com/tesseracard/tessera/apdu"
	"github.com/tesseracard/tessera/firmware/nvm"
	"github.com/tesseracard/tessera/firmware/profile"
	"github.com/tesseracard/tessera/internal/cardtest"
)

// getObject is GET DATA of a three-byte tag: the object's content (53
// unwrapped) and the status word.
func (tc *testCard) getObject(tag uint32) ([]byte, apdu.StatusWord) {
	tc.t.Helper()
	data, sw := tc.send(fmt.Sprintf("00 CB 3F FF 05 5C 03 %06X", tag))
	if sw != apdu.SWSuccess {
		return nil, sw
	}
	body, rest, err := apdu.ParseTLV(data)
	if err != nil || body.Tag != 0x53 || len(rest) != 0 {
		tc.t.Fatalf("GET DATA %06X = % X: not one 53 TLV", tag, data)
	}
	return body.Value, sw
}

// putObject is PUT DATA of a three-byte tag (the management key already
// authenticated).
func (tc *testCard) putObject(tag uint32, content []byte) apdu.StatusWord {
	tc.t.Helper()
	data := apdu.AppendTLV(apdu.AppendTLV(nil, 0x5C, []byte{byte(tag >> 16), byte(tag >> 8), byte(tag)}), 0x53, content)
	_, sw := tc.cmd(apdu.Command{INS: apdu.InsPutDataOdd, P1: 0x3F, P2: 0xFF, Data: data})
	return sw
}

func quota(n uint32) []byte { return binary.BigEndian.AppendUint32(nil, n) }

// TestVendorObjectsClearOfYubiKeyTags: yubico-piv-tool's MSCMAP (5FFF10) and
// MSROOTS1..5 (5FFF11..5FFF15) are ordinary data objects on every card,
// persona cards included: PUT DATA and GET DATA round-trip them and leave
// the holder ID (5FFF21) and the quota (5FFF22) as they were. Those two
// are read without the PIN and written with the management key on the
// profiles that have them, and refused with 6A80 on the others.
func TestVendorObjectsClearOfYubiKeyTags(t *testing.T) {
	tests := []struct {
		name    string
		profile profile.Profile
		holder  []byte // the holder ID as delivered, nil: no such object
		quota   []byte // the quota as delivered, nil: no such object
	}{
		{"default", builtin(t, "default"), nil, nil},
		{"yubikey-5.7", builtin(t, "yubikey-5.7"), nil, nil},
		{"virtual-token", builtin(t, "virtual-token"), []byte("8001015009087"), nil},
		{"cloud-signature", builtin(t, "cloud-signature"), nil, quota(200)},
		{"default with a quota", quotaProfile(), nil, quota(2)},
	}
	msObjects := map[uint32][]byte{
		0x5FFF10: bytes.Repeat([]byte{0x81}, 300), // MSCMAP: chained PUT DATA, GET RESPONSE
		0x5FFF11: []byte("MSROOTS1"),
		0x5FFF15: []byte("MSROOTS5"),
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tc := newTestCardWith(t, tt.profile, nvm.NewTearable(&nvm.Memory{}), Options{})
			tc.mustAuthenticate()
			for tag, content := range msObjects {
				if sw := tc.putObject(tag, content); sw != apdu.SWSuccess {
					t.Fatalf("PUT DATA %06X = %04X, want 9000", tag, uint16(sw))
				}
			}
			if _, err := tc.c.PowerOn(); err != nil { // no PIN, no management key from here
				t.Fatal(err)
			}
			tc.expect("00 A4 04 00 05 A0 00 00 03 08", apdu.SWSuccess)
			for tag, want := range msObjects {
				if got, sw := tc.getObject(tag); sw != apdu.SWSuccess || !bytes.Equal(got, want) {
					t.Errorf("GET DATA %06X = % X, %04X, want % X, 9000", tag, got, uint16(sw), want)
				}
			}
			for _, o := range []struct {
				tag  uint32
				want []byte
			}{{objHolderID, tt.holder}, {objQuota, tt.quota}} {
				got, sw := tc.getObject(o.tag)
				switch {
				case o.want == nil && sw != apdu.SWIncorrectData:
					t.Errorf("GET DATA %06X = %04X, want 6A80 (no such object on this profile)", o.tag, uint16(sw))
				case o.want != nil && (sw != apdu.SWSuccess || !bytes.Equal(got, o.want)):
					t.Errorf("GET DATA %06X without the PIN = % X, %04X, want % X, 9000", o.tag, got, uint16(sw), o.want)
				}
			}
			if tt.quota != nil {
				if st, err := ReadCloudState(tc.c.Store()); err != nil || !st.HasQuota || st.Quota != int(binary.BigEndian.Uint32(tt.quota)) {
					t.Errorf("ReadCloudState() = %+v, %v, want the delivered quota %X", st, err, tt.quota)
				}
				// The administrator tops the quota up with the management key.
				if sw := tc.putObject(objQuota, quota(7)); sw != apdu.SWSecurityStatusNotSatisfied {
					t.Errorf("PUT DATA of the quota without the management key = %04X, want 6982", uint16(sw))
				}
				tc.mustAuthenticate()
				if sw := tc.putObject(objQuota, quota(7)); sw != apdu.SWSuccess {
					t.Errorf("PUT DATA of the quota = %04X, want 9000", uint16(sw))
				}
				if st, _ := ReadCloudState(tc.c.Store()); st.Quota != 7 {
					t.Errorf("quota after PUT DATA = %d, want 7", st.Quota)
				}
				if got, _ := tc.getObject(0x5FFF11); !bytes.Equal(got, msObjects[0x5FFF11]) {
					t.Errorf("MSROOTS1 after setting the quota = % X, want % X", got, msObjects[0x5FFF11])
				}
			}
		})
	}
}

// TestQuotaSpendLeavesMSROOTS: a signature counts the quota (5FFF22) down
// and leaves MSROOTS1 (5FFF11) alone.
func TestQuotaSpendLeavesMSROOTS(t *testing.T) {
	tc := newTestCardWith(t, quotaProfile(), nvm.NewTearable(&nvm.Memory{}), Options{})
	withKey(tc)
	if sw := tc.putObject(0x5FFF11, []byte{0, 0, 0, 9}); sw != apdu.SWSuccess {
		t.Fatalf("PUT DATA 5FFF11 = %04X", uint16(sw))
	}
	tc.verifyPIN("123456")
	tc.expect(signDigest, apdu.SWSuccess)
	if got, _ := tc.getObject(objQuota); !bytes.Equal(got, quota(1)) {
		t.Errorf("quota after a signature = % X, want % X", got, quota(1))
	}
	if got, _ := tc.getObject(0x5FFF11); !bytes.Equal(got, []byte{0, 0, 0, 9}) {
		t.Errorf("5FFF11 after a signature = % X, want 00 00 00 09", got)
	}
}

func builtin(t *testing.T, name string) profile.Profile {
	t.Helper()
	p, ok := profile.Builtin(name)
	if !ok {
		t.Fatalf("no profile %q", name)
	}
	return p
}

// oldLayoutCard is a card of profile p as the firmware made it before the
// holder ID and the quota left 5FFF10 and 5FFF11: the records at the old
// tags and no marker. mscmap, when not nil, is a Microsoft certificate map
// the card also holds at 5FFF10 (only possible on a profile without a
// holder ID).
func oldLayoutCard(t *testing.T, p profile.Profile, mscmap []byte) *testCard {
	t.Helper()
	cryptotest.SetGlobalRandom(t, 1) // the same attestation key every time
	tc := newTestCardWith(t, p, nvm.NewTearable(&nvm.Memory{}), Options{})
	s := tc.c.Store()
	tx, err := s.Begin()
	if err != nil {
		t.Fatal(err)
	}
	for old, now := range map[uint32]uint32{oldObjHolderID: objHolderID, oldObjQuota: objQuota} {
		if v, ok := s.Get(objPrefix + objectKey(apdu.Tag(now))); ok {
			_ = tx.Put(objPrefix+objectKey(apdu.Tag(old)), v)
			_ = tx.Delete(objPrefix + objectKey(apdu.Tag(now)))
		}
	}
	if mscmap != nil {
		_ = tx.Put(objPrefix+objectKey(oldObjHolderID), mscmap)
	}
	_ = tx.Delete(keyMoved)
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	return tc
}

// TestMigrateVendorObjects: a persona card made before the move finds its
// holder ID or quota at the new tag after its next power-on, once: the old
// tag is then an ordinary object, and a Microsoft certificate map written
// there later stays where it is across power cycles. A power cut during the
// move leaves the card as it was or moved, never in between, and the next
// power-on completes it. Other profiles are left alone.
func TestMigrateVendorObjects(t *testing.T) {
	mscmap := []byte("MSCMAP of the cloud-signature card")
	tests := []struct {
		profile profile.Profile
		mscmap  []byte            // an MSCMAP the old card held at 5FFF10
		want    map[uint32][]byte // objects after the move
	}{
		{builtin(t, "virtual-token"), nil, map[uint32][]byte{objHolderID: []byte("8001015009087"), 0x5FFF10: nil}},
		{builtin(t, "cloud-signature"), mscmap, map[uint32][]byte{objQuota: quota(200), 0x5FFF10: mscmap, 0x5FFF11: nil}},
		{builtin(t, "default"), mscmap, map[uint32][]byte{0x5FFF10: mscmap}},
	}
	for _, tt := range tests {
		t.Run(tt.profile.Name, func(t *testing.T) {
			tc := oldLayoutCard(t, tt.profile, tt.mscmap)
			before := cardtest.Records(tc.c.Store())
			saves := tc.tm.Saves()
			if _, err := tc.c.PowerOn(); err != nil {
				t.Fatal(err)
			}
			after := cardtest.Records(tc.c.Store())
			writes := tc.tm.Saves() - saves
			tc.expect("00 A4 04 00 05 A0 00 00 03 08", apdu.SWSuccess)
			checkObjects(tc, tt.want)
			if tt.profile.Name == "default" {
				if writes != 0 || after != before {
					t.Errorf("power-on of a default card wrote %d times, records %q, want none", writes, after)
				}
				return
			}
			// Once moved, the old tag is MSCMAP's: a later write there stays.
			tc.mustAuthenticate()
			if sw := tc.putObject(0x5FFF10, []byte("later MSCMAP")); sw != apdu.SWSuccess {
				t.Fatalf("PUT DATA 5FFF10 = %04X", uint16(sw))
			}
			for range 2 {
				if _, err := tc.c.PowerOn(); err != nil {
					t.Fatal(err)
				}
			}
			tc.expect("00 A4 04 00 05 A0 00 00 03 08", apdu.SWSuccess)
			want := map[uint32][]byte{0x5FFF10: []byte("later MSCMAP")}
			for tag, v := range tt.want {
				if tag != 0x5FFF10 {
					want[tag] = v
				}
			}
			checkObjects(tc, want)

			// A power cut at each write of the move.
			for cut := 0; cut <= writes; cut++ {
				tc := oldLayoutCard(t, tt.profile, tt.mscmap)
				tc.tm.CutAfter(cut)
				_, err := tc.c.PowerOn()
				if cut < writes && err == nil {
					t.Errorf("cut after %d of %d writes: power-on succeeded", cut, writes)
				}
				tc.tm.Restore()
				if _, err := tc.c.PowerOn(); err != nil {
					t.Fatalf("cut after %d: power on: %v", cut, err)
				}
				if got := cardtest.Records(tc.c.Store()); got != after {
					t.Errorf("cut after %d of %d writes, then power-on: records\n%s\nwant\n%s", cut, writes, got, after)
				}
			}
			fmt.Printf("tear test: piv: vendor object move (%s): exercised %d tear points\n", tt.profile.Name, writes+1)
		})
	}
}

// checkObjects checks GET DATA of each tag: the content, or 6A82 for nil.
func checkObjects(tc *testCard, want map[uint32][]byte) {
	tc.t.Helper()
	for tag, w := range want {
		got, sw := tc.getObject(tag)
		switch {
		case w == nil && sw != apdu.SWFileNotFound:
			tc.t.Errorf("GET DATA %06X = % X, %04X, want 6A82", tag, got, uint16(sw))
		case w != nil && (sw != apdu.SWSuccess || !bytes.Equal(got, w)):
			tc.t.Errorf("GET DATA %06X = % X, %04X, want % X", tag, got, uint16(sw), w)
		}
	}
}
