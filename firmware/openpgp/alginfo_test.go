package openpgp

import (
	"bytes"
	"crypto/rsa"
	"errors"
	"testing"

	"github.com/tesseracard/tessera/apdu"
	"github.com/tesseracard/tessera/firmware/nvm"
	"github.com/tesseracard/tessera/internal/cardtest"
)

// algInfo reads the Algorithm Information DO FA of tc and returns its
// entries by tag, checking the FA tag and length around them.
func algInfo(t *testing.T, tc *testCard) map[apdu.Tag][][]byte {
	t.Helper()
	fa, rest, err := apdu.ParseTLV(tc.getData(tagAlgInfo))
	if err != nil || fa.Tag != tagAlgInfo || len(rest) != 0 {
		t.Fatalf("GET DATA FA = %v, rest % X, %v; want one DO FA", fa.Tag, rest, err)
	}
	entries, err := apdu.ParseTLVs(fa.Value)
	if err != nil {
		t.Fatalf("parsing FA's entries: %v", err)
	}
	out := map[apdu.Tag][][]byte{}
	for _, e := range entries {
		out[e.Tag] = append(out[e.Tag], e.Value)
	}
	return out
}

// TestAlgorithmInformationPutData walks FA on both profiles: every entry
// is PUT DATA of its tag successfully (and GET DATA answers it back), the
// keys' current attributes are among the entries, the tags are C1-C3 (and
// DA on a YubiKey only), and attributes FA does not list are refused.
func TestAlgorithmInformationPutData(t *testing.T) {
	for _, tt := range []struct {
		base string
		tags []apdu.Tag
	}{
		{"openpgp", []apdu.Tag{tagAlgSig, tagAlgDec, tagAlgAut}},
		{"yubikey-5.7", []apdu.Tag{tagAlgSig, tagAlgDec, tagAlgAut, tagAlgAtt}},
	} {
		t.Run(tt.base, func(t *testing.T) {
			tc := newCardOf(t, testProfile(t, tt.base, ""), nvm.NewTearable(&nvm.Memory{}))
			tc.admin()
			info := algInfo(t, tc)
			if len(info) != len(tt.tags) {
				t.Errorf("FA lists tags %v, want %v", keysOf(info), tt.tags)
			}
			for _, tag := range tt.tags {
				listed := info[tag]
				if len(listed) == 0 {
					t.Errorf("FA lists nothing for %02X", uint16(tag))
					continue
				}
				if cur := tc.getData(uint16(tag)); !contains(listed, cur) {
					t.Errorf("the current attributes %02X % X are not in FA", uint16(tag), cur)
				}
				for _, attr := range listed {
					tc.mustRaw(putData(uint16(tag), attr), apdu.SWSuccess)
					if got := tc.getData(uint16(tag)); !bytes.Equal(got, attr) {
						t.Errorf("GET DATA %02X after PUT DATA % X = % X", uint16(tag), attr, got)
					}
				}
				for _, attr := range []string{
					"01 0400 0020 00", "01 0400 0011 00", "01 2000 0011 00", "01 0800 0018 00",
					"13 2B81040023", "12 2B81040023", // P-521
					"13 2B8104000A", // secp256k1
					"16" + oidX25519, "12" + oidEd25519, "13" + oidEd25519, "16" + oidP256,
					"13" + oidBP256, "12" + oidBP256, "12" + oidP256, "13" + oidP256, "16" + oidEd25519, "12" + oidX25519,
				} {
					a := cardtest.Hex(attr)
					if contains(listed, a) {
						continue
					}
					if _, sw := tc.sendRaw(putData(uint16(tag), a)); sw != apdu.SWIncorrectData {
						t.Errorf("PUT DATA %02X % X (not in FA) = %04X, want 6A80", uint16(tag), a, uint16(sw))
					}
				}
			}
			if got := info[tagAlgSig]; !contains(got, h("01 0800 0011 00")) || !contains(got, h("13"+oidBP512)) {
				t.Errorf("FA C1 lacks RSA 2048 (e 17 bits) or brainpoolP512r1: % X", got)
			}
		})
	}
}

// TestAlgorithmInformationNotIn6E: FA is read alone; 6E does not carry it.
func TestAlgorithmInformationNotIn6E(t *testing.T) {
	tc := newTestCard(t)
	tc.must(cmdSelect, apdu.SWSuccess)
	top, err := apdu.ParseTLVs(tc.getWhole(tagAppData))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range top {
		inner := []apdu.TLV{d}
		if d.Tag == tagDiscretion {
			if inner, err = apdu.ParseTLVs(d.Value); err != nil {
				t.Fatal(err)
			}
		}
		for _, e := range inner {
			if e.Tag == tagAlgInfo {
				t.Errorf("6E carries FA")
			}
		}
	}
}

func contains(list [][]byte, v []byte) bool {
	for _, e := range list {
		if bytes.Equal(e, v) {
			return true
		}
	}
	return false
}

func keysOf(m map[apdu.Tag][][]byte) []apdu.Tag {
	var out []apdu.Tag
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestImportRSAExponentLength: the attributes' exponent length bounds the
// exponent an import takes: 65537 fits 17 bits (what yubikit writes) and
// 32; 2^20+1 only 32.
func TestImportRSAExponentLength(t *testing.T) {
	k := testRSAKey(t, 2048)
	big21 := *k
	big21.E = 1<<20 + 1
	for _, tc := range []struct {
		attr string
		key  *rsa.PrivateKey
		ok   bool
	}{
		{"01 0800 0011 00", k, true},
		{"01 0800 0020 00", k, true},
		{"01 0800 0020 00", &big21, true},
		{"01 0800 0011 00", &big21, false},
	} {
		_, _, _, err := importKey(importTemplate(keySig, nil, rsaItems(tc.key, false, false)...), algorithms(mustAlg(t, keySig, tc.attr)))
		if tc.ok && err != nil || !tc.ok && !errors.Is(err, apdu.SWIncorrectData) {
			t.Errorf("importKey(e %d) with attributes %s = %v, want ok %v", tc.key.E, tc.attr, err, tc.ok)
		}
	}
}
