package openpgp

import (
	"bytes"
	"crypto/rand"
	"errors"
	"testing"

	"github.com/tesseracard/tessera/apdu"
	"github.com/tesseracard/tessera/internal/cardtest"
)

// The fuzz targets check that the parsers of the key operations answer every
// input with a result or a status word, never a panic, and that what they
// accept is consistent.

func FuzzOpenPGPKeysParseAlgorithm(f *testing.F) {
	for _, s := range []string{"01 0800 0020 00", "01 1000 0020", "01 0800 0011 00", "01 0C00 0011", "13" + oidP256 + "FF", "16" + oidEd25519, "12" + oidX25519 + "00", "12" + oidP384, "13" + oidBP256, "12" + oidBP512 + "FF", "13" + oidBP384 + "00", ""} {
		for _, ref := range []byte{keySig, keyDec, keyAut, keyAtt} {
			f.Add(ref, cardtest.Hex(s))
		}
	}
	f.Fuzz(func(t *testing.T, ref byte, attr []byte) {
		al, err := parseAlgorithm(ref, attr)
		if err != nil {
			if !errors.Is(err, apdu.SWIncorrectData) {
				t.Fatalf("parseAlgorithm = %v, want 6A80", err)
			}
			return
		}
		if !bytes.Equal(al.Raw, attr) || al.ID != attr[0] {
			t.Fatalf("parseAlgorithm(% X) = %+v", attr, al)
		}
		if again, err := parseAlgorithm(ref, al.Raw); err != nil || !bytes.Equal(again.OID, al.OID) || again.Bits != al.Bits {
			t.Fatalf("parsing Raw again = %+v, %v, want %+v", again, err, al)
		}
	})
}

// fuzzAlgorithms are the attributes an import is checked against.
func fuzzAlgorithms(tb testing.TB) []algorithm {
	return []algorithm{
		mustAlg(tb, keySig, "01 0800 0020 00"),
		mustAlg(tb, keySig, "13"+oidP256+"FF"),
		mustAlg(tb, keySig, "16"+oidEd25519),
		mustAlg(tb, keyDec, "12"+oidX25519+"FF"),
		mustAlg(tb, keyDec, "12"+oidP384),
		mustAlg(tb, keySig, "13"+oidBP384+"FF"),
		mustAlg(tb, keyDec, "12"+oidBP256+"FF"),
	}
}

func FuzzOpenPGPKeysImport(f *testing.F) {
	als := fuzzAlgorithms(f)
	k := testRSAKey(f, 2048)
	f.Add(byte(0), importTemplate(keySig, nil, rsaItems(k, true, true)...))
	f.Add(byte(1), importTemplate(keySig, nil, item{tagP, bytes.Repeat([]byte{7}, 32)}))
	f.Add(byte(2), importTemplate(keyAut, []byte{0x84, 0x01, 0x03}, item{tagP, bytes.Repeat([]byte{7}, 32)}, item{tagPub, make([]byte, 33)}))
	f.Add(byte(3), importTemplate(keyDec, nil, item{tagP, bytes.Repeat([]byte{7}, 32)}))
	f.Add(byte(4), importTemplate(keyDec, nil, item{tagP, bytes.Repeat([]byte{7}, 48)}))
	f.Add(byte(1), importTemplate(keySig, []byte{0x84, 0x01, keyAtt}, item{tagP, bytes.Repeat([]byte{7}, 32)})) // the YubiKey's attestation key
	bp := brainpoolOpenSSL[0]
	f.Add(byte(5), importTemplate(keySig, nil, item{tagP, bytes.Repeat([]byte{7}, 48)}, item{tagPub, append([]byte{4}, make([]byte, 96)...)}))
	f.Add(byte(6), importTemplate(keyDec, nil, item{tagP, cardtest.Hex(bp.d)}, item{tagPub, cardtest.Hex(bp.pub)}))
	f.Fuzz(func(t *testing.T, which byte, data []byte) {
		al := als[int(which)%len(als)]
		ref, priv, pub, err := importKey(data, algorithms(al))
		if err != nil {
			if !errors.Is(err, apdu.SWIncorrectData) {
				t.Fatalf("importKey = %v, want 6A80", err)
			}
			return
		}
		if ref != keySig && ref != keyDec && ref != keyAut && ref != keyAtt {
			t.Fatalf("importKey answered key reference %02X", ref)
		}
		if again, err := publicKey(al, priv); err != nil || !bytes.Equal(again, pub) {
			t.Fatalf("publicKey of the imported key = % X, %v, want % X", again, err, pub)
		}
	})
}

func FuzzOpenPGPKeysDecipher(f *testing.F) {
	als := fuzzAlgorithms(f)
	var privs [][]byte
	for _, al := range als {
		if al.ID == algRSA {
			_, priv, _, err := importKey(importTemplate(keySig, nil, rsaItems(testRSAKey(f, 2048), false, false)...), algorithms(al))
			if err != nil {
				f.Fatal(err)
			}
			privs = append(privs, priv)
			continue
		}
		priv, _, err := generateKey(al, rand.Reader)
		if err != nil {
			f.Fatal(err)
		}
		privs = append(privs, priv)
	}
	f.Add(byte(0), append([]byte{0}, make([]byte, 256)...))
	f.Add(byte(3), cipherDO(make([]byte, 32)))
	f.Add(byte(3), cipherDO(append([]byte{0x40}, bytes.Repeat([]byte{9}, 32)...)))
	f.Add(byte(4), cipherDO(append([]byte{4}, make([]byte, 96)...)))
	f.Add(byte(6), cipherDO(cardtest.Hex(brainpoolOpenSSL[0].peer)))
	f.Add(byte(6), cipherDO(append([]byte{4}, make([]byte, 64)...)))
	f.Add(byte(5), cipherDO(cardtest.Hex(brainpoolOpenSSL[1].peer)))
	f.Fuzz(func(t *testing.T, which byte, data []byte) {
		i := int(which) % len(als)
		out, err := decipher(als[i], privs[i], data)
		var sw apdu.StatusWord
		if err != nil && !errors.As(err, &sw) {
			t.Fatalf("decipher = %v, want a status word", err)
		}
		if err != nil && out != nil {
			t.Fatalf("decipher answered % X with %v", out, err)
		}
	})
}
