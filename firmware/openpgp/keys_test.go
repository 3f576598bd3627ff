package openpgp

import (
	"bytes"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/tesseracard/tessera/apdu"
	"github.com/tesseracard/tessera/firmware/ecgeneric"
	"github.com/tesseracard/tessera/internal/cardtest"
)

// The curve OIDs of the algorithm attributes (OpenPGP card 3.4 §4.4.3.10).
const (
	oidP256    = "2A8648CE3D030107"
	oidP384    = "2B81040022"
	oidEd25519 = "2B06010401DA470F01"
	oidX25519  = "2B060104019755010501"
	oidBP256   = "2B2403030208010107" // brainpoolP256r1, 1.3.36.3.3.2.8.1.1.7
	oidBP384   = "2B240303020801010B" // brainpoolP384r1, ...11
	oidBP512   = "2B240303020801010D" // brainpoolP512r1, ...13
)

func mustAlg(t testing.TB, ref byte, attr string) algorithm {
	t.Helper()
	al, err := parseAlgorithm(ref, cardtest.Hex(attr))
	if err != nil {
		t.Fatalf("parseAlgorithm(%02X, %s) = %v", ref, attr, err)
	}
	return al
}

func TestParseAlgorithm(t *testing.T) {
	for _, tc := range []struct {
		ref  byte
		attr string
		ok   bool
		bits int
		oid  string
	}{
		{keySig, "01 0800 0020 00", true, 2048, ""},
		{keyDec, "01 0C00 0020 00", true, 3072, ""},
		{keyAut, "01 1000 0020 00", true, 4096, ""},
		{keySig, "01 0800 0020", true, 2048, ""}, // no import format byte
		{keySig, "01 0400 0020 00", false, 0, ""},
		{keySig, "01 0800 0011 00", true, 2048, ""}, // e of 17 bits: what yubikit (ykman 5) writes
		{keyAut, "01 1000 0011", true, 4096, ""},
		{keySig, "01 0800 0012 00", false, 0, ""},
		{keySig, "01 0800 0000 00", false, 0, ""},
		{keySig, "01 0800 0020 01", true, 2048, ""}, // import formats: standard with n, CRT, CRT with n
		{keyDec, "01 0C00 0020 02", true, 3072, ""},
		{keyAut, "01 1000 0020 03", true, 4096, ""},
		{keySig, "01 0800 0020 04", false, 0, ""},
		{keySig, "01 0800 0020 00 00", false, 0, ""},
		{keySig, "01 08", false, 0, ""},
		{keySig, "13" + oidP256, true, 0, oidP256},
		{keyAut, "13" + oidP384, true, 0, oidP384},
		{keySig, "13" + oidP256 + "FF", true, 0, oidP256},
		{keySig, "13" + oidP256 + "00", true, 0, oidP256},
		{keySig, "13" + oidP256 + "FE", false, 0, ""},
		{keySig, "13" + oidP256 + "FFFF", false, 0, ""},
		{keyDec, "13" + oidP256, false, 0, ""}, // ECDSA is no decryption key
		{keySig, "13" + oidEd25519, false, 0, ""},
		{keySig, "16" + oidEd25519, true, 0, oidEd25519},
		{keyAut, "16" + oidEd25519 + "FF", true, 0, oidEd25519},
		{keyDec, "16" + oidEd25519, false, 0, ""},
		{keySig, "16" + oidP256, false, 0, ""},
		{keyDec, "12" + oidP256, true, 0, oidP256},
		{keyDec, "12" + oidP384 + "FF", true, 0, oidP384},
		{keyDec, "12" + oidX25519, true, 0, oidX25519},
		{keyDec, "12" + oidX25519 + "FF", true, 0, oidX25519},
		{keySig, "12" + oidX25519, false, 0, ""},
		{keyDec, "12" + oidEd25519, false, 0, ""},
		{keyDec, "12" + oidBP256, true, 0, oidBP256},
		{keyDec, "12" + oidBP384 + "FF", true, 0, oidBP384},
		{keyDec, "12" + oidBP512 + "00", true, 0, oidBP512},
		{keySig, "13" + oidBP256, true, 0, oidBP256},
		{keyAut, "13" + oidBP512 + "FF", true, 0, oidBP512},
		{keyAtt, "13" + oidBP256, false, 0, ""}, // the attestation key: NIST curves only
		{keySig, "12" + oidBP256, false, 0, ""},
		{keyDec, "13" + oidBP384, false, 0, ""},
		{keySig, "16" + oidBP256, false, 0, ""},
		{keyDec, "12" + "2B2403030208010101", false, 0, ""}, // brainpoolP160r1: not supported
		{keySig, "13" + "2B2403030208010108", false, 0, ""}, // brainpoolP256t1: not supported
		{keyDec, "12", false, 0, ""},
		{keySig, "", false, 0, ""},
		{keySig, "11 0800 0020 00", false, 0, ""},
		{0xB7, "01 0800 0020 00", false, 0, ""},
		{0xB7, "13" + oidP256, false, 0, ""},
	} {
		al, err := parseAlgorithm(tc.ref, cardtest.Hex(tc.attr))
		if !tc.ok {
			if !errors.Is(err, apdu.SWIncorrectData) {
				t.Errorf("parseAlgorithm(%02X, %s) = %v, want 6A80", tc.ref, tc.attr, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("parseAlgorithm(%02X, %s) = %v", tc.ref, tc.attr, err)
			continue
		}
		if al.Bits != tc.bits || !bytes.Equal(al.OID, cardtest.Hex(tc.oid)) || !bytes.Equal(al.Raw, cardtest.Hex(tc.attr)) {
			t.Errorf("parseAlgorithm(%02X, %s) = %+v, want bits %d OID %s", tc.ref, tc.attr, al, tc.bits, tc.oid)
		}
	}
	for _, ref := range []byte{keySig, keyDec, keyAut} {
		if al := defaultAlgorithm(ref); al.ID != algRSA || al.Bits != 2048 {
			t.Errorf("defaultAlgorithm(%02X) = %+v, want RSA 2048", ref, al)
		}
	}
}

// goPublic returns Go's public key from the contents of 7F49.
func goPublic(t testing.TB, al algorithm, pub []byte) crypto.PublicKey {
	t.Helper()
	tlvs, err := apdu.ParseTLVs(pub)
	if err != nil {
		t.Fatalf("7F49 contents % X: %v", pub, err)
	}
	if al.ID == algRSA {
		if len(tlvs) != 2 || tlvs[0].Tag != 0x81 || tlvs[1].Tag != 0x82 {
			t.Fatalf("RSA 7F49 contents % X", pub)
		}
		return &rsa.PublicKey{N: new(big.Int).SetBytes(tlvs[0].Value), E: int(new(big.Int).SetBytes(tlvs[1].Value).Int64())}
	}
	if len(tlvs) != 1 || tlvs[0].Tag != 0x86 {
		t.Fatalf("ECC 7F49 contents % X", pub)
	}
	point := tlvs[0].Value
	c, _ := curveByOID(al.OID)
	if c.gen != nil {
		x, y, ok := c.gen.Unmarshal(point)
		if !ok {
			t.Fatalf("%s point % X is not on the curve", c.name, point)
		}
		return genericPublic{c.gen, x, y}
	}
	switch {
	case al.ID == algEdDSA:
		if len(point) != 32 {
			t.Fatalf("Ed25519 point % X", point)
		}
		return ed25519.PublicKey(point)
	case al.ID == algECDSA:
		pk, err := ecdsa.ParseUncompressedPublicKey(c.nist, point)
		if err != nil {
			t.Fatalf("point % X: %v", point, err)
		}
		return pk
	}
	pk, err := c.dh.NewPublicKey(point)
	if err != nil {
		t.Fatalf("point % X: %v", point, err)
	}
	return pk
}

// genericPublic is a public key on a brainpool curve, which Go's crypto
// has no type for; the tests verify and agree with ecgeneric's arithmetic
// (itself checked against OpenSSL in its own tests, and the card against
// OpenSSL in TestBrainpoolOpenSSL).
type genericPublic struct {
	c    *ecgeneric.Curve
	x, y *big.Int
}

// digestInfoSHA256 returns the DigestInfo of a SHA-256 digest (RFC 8017 §9.2).
func digestInfoSHA256(digest []byte) []byte {
	return append([]byte{0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20}, digest...)
}

// checkSign signs with the card's function and verifies with Go.
func checkSign(t *testing.T, al algorithm, priv, pub []byte) {
	t.Helper()
	digest := sha256.Sum256([]byte("tessera"))
	switch pk := goPublic(t, al, pub).(type) {
	case *rsa.PublicKey:
		sig, err := sign(al, priv, digestInfoSHA256(digest[:]), rand.Reader)
		if err != nil {
			t.Fatalf("sign: %v", err)
		}
		checkRSASig(t, pub, digest[:], sig)
	case *ecdsa.PublicKey, genericPublic:
		for _, h := range [][]byte{digest[:], make([]byte, 64), digest[:20]} {
			copy(h, digest[:])
			sig, err := sign(al, priv, h, rand.Reader)
			if err != nil {
				t.Fatalf("sign: %v", err)
			}
			checkSig(t, al, pub, h, sig)
		}
	case ed25519.PublicKey:
		msg := []byte("a message, not a hash")
		sig, err := sign(al, priv, msg, rand.Reader)
		if err != nil {
			t.Fatalf("sign: %v", err)
		}
		checkSig(t, al, pub, msg, sig)
	default:
		t.Fatalf("public key %T cannot verify", pk)
	}
}

// checkDecipher has Go encrypt to (or agree with) the public key and the
// card's function decipher.
func checkDecipher(t *testing.T, al algorithm, priv, pub []byte) {
	t.Helper()
	switch p := goPublic(t, al, pub).(type) {
	case *rsa.PublicKey:
		msg := []byte("a 32-byte session key, say......")
		ct, err := rsa.EncryptPKCS1v15(rand.Reader, p, msg)
		if err != nil {
			t.Fatal(err)
		}
		got, err := decipher(al, priv, append([]byte{0}, ct...))
		if err != nil || !bytes.Equal(got, msg) {
			t.Errorf("decipher = %q, %v, want %q", got, err, msg)
		}
	case *ecdh.PublicKey:
		eph, err := p.Curve().GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		want, err := eph.ECDH(p)
		if err != nil {
			t.Fatal(err)
		}
		got, err := decipher(al, priv, cipherDO(eph.PublicKey().Bytes()))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("decipher = % X, %v, want % X", got, err, want)
		}
	case genericPublic:
		e, err := p.c.RandScalar(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := p.c.ECDH(e, p.x, p.y)
		got, err := decipher(al, priv, cipherDO(p.c.Marshal(p.c.ScalarBaseMult(e))))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("decipher = % X, %v, want % X", got, err, want)
		}
	default:
		t.Fatalf("public key %T cannot encrypt", p)
	}
}

// cipherDO is the data field of PSO:DECIPHER for ECDH, as scdaemon builds it.
func cipherDO(point []byte) []byte {
	return apdu.Nest(0xA6, apdu.Nest(0x7F49, apdu.AppendTLV(nil, 0x86, point)))
}

func TestGenerateRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name string
		ref  byte
		attr string
	}{
		{"P-256 sig", keySig, "13" + oidP256},
		{"P-384 aut", keyAut, "13" + oidP384},
		{"Ed25519 sig", keySig, "16" + oidEd25519},
		{"P-256 dec", keyDec, "12" + oidP256},
		{"P-384 dec", keyDec, "12" + oidP384},
		{"X25519 dec", keyDec, "12" + oidX25519},
		{"brainpoolP256r1 sig", keySig, "13" + oidBP256},
		{"brainpoolP384r1 aut", keyAut, "13" + oidBP384},
		{"brainpoolP512r1 sig", keySig, "13" + oidBP512 + "FF"},
		{"brainpoolP256r1 dec", keyDec, "12" + oidBP256},
		{"brainpoolP384r1 dec", keyDec, "12" + oidBP384},
		{"brainpoolP512r1 dec", keyDec, "12" + oidBP512},
		{"RSA-2048 sig", keySig, "01 0800 0020 00"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			al := mustAlg(t, tc.ref, tc.attr)
			priv, pub, err := generateKey(al, rand.Reader)
			if err != nil {
				t.Fatalf("generateKey: %v", err)
			}
			again, err := publicKey(al, priv)
			if err != nil || !bytes.Equal(again, pub) {
				t.Fatalf("publicKey = % X, %v, want % X", again, err, pub)
			}
			if tc.ref == keyDec {
				checkDecipher(t, al, priv, pub)
				if _, err := sign(al, priv, make([]byte, 32), rand.Reader); al.ID != algRSA && !errors.Is(err, apdu.SWConditionsNotSatisfied) {
					t.Errorf("sign with an ECDH key = %v, want 6985", err)
				}
			} else {
				checkSign(t, al, priv, pub)
			}
			if al.ID == algRSA {
				checkDecipher(t, al, priv, pub)
			}
			if pk, ok := goPublic(t, al, pub).(*rsa.PublicKey); ok && pk.E != 65537 {
				t.Errorf("RSA exponent %d, want 65537", pk.E)
			}
		})
	}
}

// testRSAKey reads a fixed RSA key from testdata (generating RSA-3072 and
// RSA-4096 keys would make the tests slow).
func testRSAKey(t testing.TB, bits int) *rsa.PrivateKey {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", fmt.Sprintf("keys_rsa%d.pem", bits)))
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		t.Fatalf("testdata RSA-%d: no PEM block", bits)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return k.(*rsa.PrivateKey)
}

// item is one entry of a private key template: tag and value.
type item struct {
	tag byte
	val []byte
}

// importTemplate builds the extended header list as scdaemon does
// (build_privkey_template, build_ecc_privkey_template): 4D { crt 00,
// 7F48 { tag len ... }, 5F48 values }.
func importTemplate(crt byte, crtValue []byte, items ...item) []byte {
	var hdr, vals []byte
	for _, it := range items {
		hdr = apdu.AppendTagLen(hdr, apdu.Tag(it.tag), len(it.val))
		vals = append(vals, it.val...)
	}
	return apdu.Nest(0x4D, apdu.AppendTLV(nil, apdu.Tag(crt), crtValue), apdu.AppendTLV(nil, 0x7F48, hdr), apdu.AppendTLV(nil, 0x5F48, vals))
}

// fixed returns v big-endian in n bytes.
func fixed(v *big.Int, n int) []byte { return v.FillBytes(make([]byte, n)) }

// rsaItems are the template items of k: e in 4 bytes, p and q at half the
// modulus size (gpg's standard format), optionally the CRT values and n.
func rsaItems(k *rsa.PrivateKey, crt, withN bool) []item {
	half := k.Size() / 2
	items := []item{{tagPubExp, fixed(big.NewInt(int64(k.E)), 4)}, {tagP, fixed(k.Primes[0], half)}, {tagQ, fixed(k.Primes[1], half)}}
	if crt {
		items = append(items, item{tagQInv, fixed(k.Precomputed.Qinv, half)}, item{tagDP, fixed(k.Precomputed.Dp, half)}, item{tagDQ, fixed(k.Precomputed.Dq, half)})
	}
	if withN {
		items = append(items, item{tagN, k.N.Bytes()})
	}
	return items
}

// algorithms returns the attribute function of an import: al for every key.
func algorithms(al algorithm) func(byte) algorithm { return func(byte) algorithm { return al } }

func TestImportRSA(t *testing.T) {
	for _, bits := range []int{2048, 3072, 4096} {
		k := testRSAKey(t, bits)
		for _, v := range []struct {
			name     string
			crt, n   bool
			crtValue []byte
			ref      byte
		}{
			{"standard", false, false, nil, keySig},
			{"crt", true, false, nil, keyDec},
			{"crt+n", true, true, []byte{0x84, 0x01, 0x03}, keyAut},
		} {
			t.Run(fmt.Sprintf("RSA-%d/%s", bits, v.name), func(t *testing.T) {
				al := mustAlg(t, v.ref, fmt.Sprintf("01 %04X 0020 00", bits))
				ref, priv, pub, err := importKey(importTemplate(v.ref, v.crtValue, rsaItems(k, v.crt, v.n)...), algorithms(al))
				if err != nil || ref != v.ref {
					t.Fatalf("importKey = %02X, %v, want %02X", ref, err, v.ref)
				}
				if pk := goPublic(t, al, pub).(*rsa.PublicKey); !pk.Equal(&k.PublicKey) {
					t.Fatalf("imported public key differs from the key's")
				}
				if bits == 2048 || v.ref == keySig {
					checkSign(t, al, priv, pub)
				}
				if bits == 2048 || v.ref == keyDec {
					checkDecipher(t, al, priv, pub)
				}
			})
		}
	}
}

func TestImportECC(t *testing.T) {
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	x, _ := ecdh.X25519().GenerateKey(rand.Reader)
	d256, _ := p256.Bytes()
	d384, _ := p384.Bytes()
	q256, _ := p256.PublicKey.Bytes()
	q384, _ := p384.PublicKey.Bytes()
	edPub := ed.Public().(ed25519.PublicKey)
	xPub := x.PublicKey().Bytes()
	// A scalar with a leading zero byte, as gpg strips it (and then pads it
	// back: both forms are sent by some version).
	var small *ecdsa.PrivateKey
	for small == nil {
		k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if d, _ := k.Bytes(); d[0] == 0 {
			small = k
		}
	}
	dSmall, _ := small.Bytes()
	qSmall, _ := small.PublicKey.Bytes()
	pfx := func(b []byte) []byte { return append([]byte{0x40}, b...) }
	for _, tc := range []struct {
		name  string
		ref   byte
		attr  string
		items []item
		pub   []byte // the 86 point the card must answer
	}{
		{"P-256 ECDSA", keySig, "13" + oidP256, []item{{tagP, d256}}, q256},
		{"P-256 ECDSA with public key", keyAut, "13" + oidP256 + "FF", []item{{tagP, d256}, {tagPub, q256}}, q256},
		{"P-256 stripped scalar", keySig, "13" + oidP256, []item{{tagP, dSmall[1:]}}, qSmall},
		{"P-256 padded scalar", keySig, "13" + oidP256, []item{{tagP, dSmall}}, qSmall},
		{"P-256 scalar with an extra zero", keySig, "13" + oidP256, []item{{tagP, append([]byte{0}, d256...)}}, q256},
		{"P-384 ECDSA", keySig, "13" + oidP384, []item{{tagP, d384}}, q384},
		{"P-256 ECDH", keyDec, "12" + oidP256, []item{{tagP, d256}}, q256},
		{"P-384 ECDH with public key", keyDec, "12" + oidP384 + "FF", []item{{tagP, d384}, {tagPub, q384}}, q384},
		{"Ed25519", keySig, "16" + oidEd25519, []item{{tagP, ed.Seed()}}, edPub},
		{"Ed25519 with 0x40 public key", keyAut, "16" + oidEd25519 + "FF", []item{{tagP, ed.Seed()}, {tagPub, pfx(edPub)}}, edPub},
		{"Ed25519 with raw public key", keyAut, "16" + oidEd25519 + "FF", []item{{tagP, ed.Seed()}, {tagPub, edPub}}, edPub},
		{"X25519 gpg order", keyDec, "12" + oidX25519, []item{{tagP, reversed(x.Bytes())}}, xPub},
		{"X25519 gpg order with public key", keyDec, "12" + oidX25519 + "FF", []item{{tagP, reversed(x.Bytes())}, {tagPub, pfx(xPub)}}, xPub},
		{"X25519 RFC 7748 order with public key", keyDec, "12" + oidX25519 + "FF", []item{{tagP, x.Bytes()}, {tagPub, xPub}}, xPub},
	} {
		t.Run(tc.name, func(t *testing.T) {
			al := mustAlg(t, tc.ref, tc.attr)
			ref, priv, pub, err := importKey(importTemplate(tc.ref, nil, tc.items...), algorithms(al))
			if err != nil || ref != tc.ref {
				t.Fatalf("importKey = %02X, %v, want %02X", ref, err, tc.ref)
			}
			if want := apdu.AppendTLV(nil, 0x86, tc.pub); !bytes.Equal(pub, want) {
				t.Fatalf("public key % X, want % X", pub, want)
			}
			if tc.ref == keyDec {
				checkDecipher(t, al, priv, pub)
			} else {
				checkSign(t, al, priv, pub)
			}
		})
	}
}

func TestImportRejects(t *testing.T) {
	k := testRSAKey(t, 2048)
	other := testRSAKey(t, 3072)
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	d256, _ := p256.Bytes()
	q256, _ := p256.PublicKey.Bytes()
	otherQ := slices.Clone(q256)
	otherQ[len(otherQ)-1] ^= 1
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	x, _ := ecdh.X25519().GenerateKey(rand.Reader)
	n256 := elliptic.P256().Params().N
	rsaAl := mustAlg(t, keySig, "01 0800 0020 00")
	ecAl := mustAlg(t, keySig, "13"+oidP256+"FF")
	edAl := mustAlg(t, keySig, "16"+oidEd25519+"FF")
	xAl := mustAlg(t, keyDec, "12"+oidX25519+"FF")
	std := rsaItems(k, false, false)
	with := func(items []item, i int, v []byte) []item {
		c := slices.Clone(items)
		c[i].val = v
		return c
	}
	good := importTemplate(keySig, nil, std...)
	for _, tc := range []struct {
		name string
		al   algorithm
		data []byte
	}{
		{"empty", rsaAl, nil},
		{"not 4D", rsaAl, append([]byte{0x4E}, good[1:]...)},
		{"trailing byte", rsaAl, append(slices.Clone(good), 0x00)},
		{"truncated", rsaAl, good[:len(good)-1]},
		{"unknown CRT", rsaAl, importTemplate(0xB7, nil, std...)},
		{"CRT key reference of another key", rsaAl, importTemplate(keySig, []byte{0x84, 0x01, 0x02}, std...)},
		{"CRT with junk", rsaAl, importTemplate(keySig, []byte{0x83, 0x01, 0x01}, std...)},
		{"no 5F48", rsaAl, apdu.Nest(0x4D, apdu.AppendTLV(nil, keySig, nil), apdu.AppendTLV(nil, 0x7F48, []byte{0x91, 0x01}))},
		{"lengths exceed the data", rsaAl, apdu.Nest(0x4D, apdu.AppendTLV(nil, keySig, nil), apdu.AppendTLV(nil, 0x7F48, []byte{0x91, 0x03}), apdu.AppendTLV(nil, 0x5F48, []byte{1, 0}))},
		{"data left over", rsaAl, apdu.Nest(0x4D, apdu.AppendTLV(nil, keySig, nil), apdu.AppendTLV(nil, 0x7F48, []byte{0x91, 0x01}), apdu.AppendTLV(nil, 0x5F48, []byte{1, 0}))},
		{"bad header length", rsaAl, apdu.Nest(0x4D, apdu.AppendTLV(nil, keySig, nil), apdu.AppendTLV(nil, 0x7F48, []byte{0x91, 0x83, 0, 0, 1}), apdu.AppendTLV(nil, 0x5F48, []byte{1}))},
		{"unknown tag", rsaAl, importTemplate(keySig, nil, append(slices.Clone(std), item{0x98, []byte{1}})...)},
		{"duplicate tag", rsaAl, importTemplate(keySig, nil, append(slices.Clone(std), std[0])...)},
		{"RSA missing q", rsaAl, importTemplate(keySig, nil, std[:2]...)},
		{"RSA even e", rsaAl, importTemplate(keySig, nil, with(std, 0, []byte{0, 1, 0, 0})...)},
		{"RSA e = 1", rsaAl, importTemplate(keySig, nil, with(std, 0, []byte{1})...)},
		{"RSA e over 32 bits", rsaAl, importTemplate(keySig, nil, with(std, 0, []byte{1, 0, 0, 0, 1})...)},
		{"RSA p = q", rsaAl, importTemplate(keySig, nil, with(std, 2, std[1].val)...)},
		{"RSA p not prime", rsaAl, importTemplate(keySig, nil, with(std, 1, new(big.Int).Add(k.Primes[0], big.NewInt(2)).Bytes())...)},
		{"RSA of another size", rsaAl, importTemplate(keySig, nil, rsaItems(other, false, false)...)},
		{"RSA wrong n", rsaAl, importTemplate(keySig, nil, append(slices.Clone(std), item{tagN, other.N.Bytes()[:256]})...)},
		{"RSA wrong qinv", rsaAl, importTemplate(keySig, nil, with(rsaItems(k, true, false), 3, big.NewInt(5).Bytes())...)},
		{"RSA with a public point", rsaAl, importTemplate(keySig, nil, append(slices.Clone(std), item{tagPub, q256})...)},
		{"RSA key on an ECC key", ecAl, good},
		{"ECC key on an RSA key", rsaAl, importTemplate(keySig, nil, item{tagP, d256})},
		{"ECC scalar 0", ecAl, importTemplate(keySig, nil, item{tagP, make([]byte, 32)})},
		{"ECC scalar n", ecAl, importTemplate(keySig, nil, item{tagP, n256.Bytes()})},
		{"ECC scalar too long", ecAl, importTemplate(keySig, nil, item{tagP, append([]byte{1}, d256...)})},
		{"ECC public key mismatch", ecAl, importTemplate(keySig, nil, item{tagP, d256}, item{tagPub, otherQ})},
		{"ECC public key not on the curve", ecAl, importTemplate(keySig, nil, item{tagP, d256}, item{tagPub, []byte{4, 1, 2}})},
		{"ECC with RSA tags", ecAl, importTemplate(keySig, nil, item{tagP, d256}, item{tagQ, d256})},
		{"ECC without d", ecAl, importTemplate(keySig, nil, item{tagPub, q256})},
		{"Ed25519 public key mismatch", edAl, importTemplate(keySig, nil, item{tagP, ed.Seed()}, item{tagPub, q256[1:33]})},
		{"Ed25519 seed too long", edAl, importTemplate(keySig, nil, item{tagP, append([]byte{1}, ed.Seed()...)})},
		{"X25519 public key of neither order", xAl, importTemplate(keyDec, nil, item{tagP, x.Bytes()}, item{tagPub, q256[1:33]})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ref, priv, pub, err := importKey(tc.data, algorithms(tc.al))
			if !errors.Is(err, apdu.SWIncorrectData) || ref != 0 || priv != nil || pub != nil {
				t.Errorf("importKey = %02X, %d-byte key, %v; want 6A80", ref, len(priv), err)
			}
		})
	}
}

func TestSignDecipherRejects(t *testing.T) {
	rsaAl := mustAlg(t, keySig, "01 0800 0020 00")
	rk := testRSAKey(t, 2048)
	_, rsaPriv, _, err := importKey(importTemplate(keySig, nil, rsaItems(rk, false, false)...), algorithms(rsaAl))
	if err != nil {
		t.Fatal(err)
	}
	ecAl := mustAlg(t, keySig, "13"+oidP256)
	ecPriv, _, _ := generateKey(ecAl, rand.Reader)
	edAl := mustAlg(t, keySig, "16"+oidEd25519)
	edPriv, _, _ := generateKey(edAl, rand.Reader)
	p256Al := mustAlg(t, keyDec, "12"+oidP256)
	p256Priv, _, _ := generateKey(p256Al, rand.Reader)
	xAl := mustAlg(t, keyDec, "12"+oidX25519)
	xPriv, _, _ := generateKey(xAl, rand.Reader)

	ct, _ := rsa.EncryptPKCS1v15(rand.Reader, &rk.PublicKey, []byte("secret"))
	raw := new(big.Int).Exp(big.NewInt(12345), big.NewInt(int64(rk.E)), rk.N) // a cryptogram without valid padding
	other, _ := ecdh.P384().GenerateKey(rand.Reader)
	lowOrder := make([]byte, 32) // the X25519 point 0
	runOpCases(t, []opCase{
		{"RSA sign empty", rsaAl, rsaPriv, signer(nil), apdu.SWWrongLength},
		{"RSA sign over 40%", rsaAl, rsaPriv, signer(make([]byte, 103)), apdu.SWWrongLength},
		{"ECDSA sign empty", ecAl, ecPriv, signer(nil), apdu.SWWrongLength},
		{"ECDSA sign 65 bytes", ecAl, ecPriv, signer(make([]byte, 65)), apdu.SWWrongLength},
		{"RSA decipher short", rsaAl, rsaPriv, decipherer(append([]byte{0}, ct[1:]...)), apdu.SWWrongLength},
		{"RSA decipher without indicator", rsaAl, rsaPriv, decipherer(ct), apdu.SWWrongLength},
		{"RSA decipher indicator 02", rsaAl, rsaPriv, decipherer(append([]byte{2}, ct...)), apdu.SWIncorrectData},
		{"RSA decipher bad padding", rsaAl, rsaPriv, decipherer(append([]byte{0}, fixed(raw, 256)...)), apdu.SWIncorrectData},
		{"RSA decipher cryptogram over n", rsaAl, rsaPriv, decipherer(append([]byte{0}, bytes.Repeat([]byte{0xFF}, 256)...)), apdu.SWIncorrectData},
		{"ECDH no template", p256Al, p256Priv, decipherer([]byte{0x86, 0x01, 0x04}), apdu.SWIncorrectData},
		{"ECDH trailing data", p256Al, p256Priv, decipherer(append(cipherDO(other.PublicKey().Bytes()[:65]), 0)), apdu.SWIncorrectData},
		{"ECDH point of another curve", p256Al, p256Priv, decipherer(cipherDO(other.PublicKey().Bytes())), apdu.SWWrongLength},
		{"ECDH point off the curve", p256Al, p256Priv, decipherer(cipherDO(append([]byte{4}, make([]byte, 64)...))), apdu.SWIncorrectData},
		{"ECDH compressed point", p256Al, p256Priv, decipherer(cipherDO(append([]byte{2}, make([]byte, 32)...))), apdu.SWWrongLength},
		{"X25519 short point", xAl, xPriv, decipherer(cipherDO(make([]byte, 31))), apdu.SWWrongLength},
		{"X25519 low-order point", xAl, xPriv, decipherer(cipherDO(lowOrder)), apdu.SWIncorrectData},
		{"X25519 33 bytes without 0x40", xAl, xPriv, decipherer(cipherDO(make([]byte, 33))), apdu.SWWrongLength},
		{"decipher with a signature key", ecAl, ecPriv, decipherer(cipherDO(lowOrder)), apdu.SWConditionsNotSatisfied},
		{"decipher with an EdDSA key", edAl, edPriv, decipherer(cipherDO(lowOrder)), apdu.SWConditionsNotSatisfied},
		{"sign with an X25519 key", xAl, xPriv, signer(make([]byte, 32)), apdu.SWConditionsNotSatisfied},
	})
	// The 0x40-prefixed X25519 point is OpenPGP's native form.
	eph, _ := ecdh.X25519().GenerateKey(rand.Reader)
	pub, _ := publicKey(xAl, xPriv)
	want, _ := eph.ECDH(goPublic(t, xAl, pub).(*ecdh.PublicKey))
	got, err := decipher(xAl, xPriv, cipherDO(append([]byte{0x40}, eph.PublicKey().Bytes()...)))
	if err != nil || !bytes.Equal(got, want) {
		t.Errorf("decipher(0x40 || point) = % X, %v, want % X", got, err, want)
	}
}

// checkRSASig verifies an RSA PKCS#1 v1.5 signature of a SHA-256 digest
// with the public key of the 7F49 contents pub.
func checkRSASig(t *testing.T, pub, digest, sig []byte) {
	t.Helper()
	p := goPublic(t, algorithm{ID: algRSA}, pub).(*rsa.PublicKey)
	if err := rsa.VerifyPKCS1v15(p, crypto.SHA256, digest, sig); err != nil {
		t.Errorf("VerifyPKCS1v15 = %v, want nil", err)
	}
}

// checkSig verifies an ECDSA (r||s) or Ed25519 signature of msg (the
// hash, for ECDSA) with the public key of the 7F49 contents pub.
func checkSig(t *testing.T, al algorithm, pub, msg, sig []byte) {
	t.Helper()
	switch p := goPublic(t, al, pub).(type) {
	case *ecdsa.PublicKey:
		size := (p.Curve.Params().BitSize + 7) / 8
		if len(sig) != 2*size || !ecdsa.Verify(p, msg, new(big.Int).SetBytes(sig[:size]), new(big.Int).SetBytes(sig[size:])) {
			t.Errorf("ECDSA signature % X does not verify", sig)
		}
	case genericPublic:
		size := p.c.Size
		if len(sig) != 2*size || !p.c.Verify(p.x, p.y, msg, new(big.Int).SetBytes(sig[:size]), new(big.Int).SetBytes(sig[size:])) {
			t.Errorf("%s ECDSA signature % X does not verify", p.c.Name, sig)
		}
	case ed25519.PublicKey:
		if !ed25519.Verify(p, msg, sig) {
			t.Errorf("Ed25519 signature % X does not verify", sig)
		}
	default:
		t.Fatalf("checkSig: %T", p)
	}
}

// opCase is a use of a stored key (signer, decipherer) that must fail with
// the status word want and answer nothing.
type opCase struct {
	name string
	al   algorithm
	priv []byte
	op   func(al algorithm, priv []byte) ([]byte, error)
	want apdu.StatusWord
}

func runOpCases(t *testing.T, cases []opCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, err := tc.op(tc.al, tc.priv)
			if !errors.Is(err, tc.want) || out != nil {
				t.Errorf("got % X, %v; want %v", out, err, tc.want)
			}
		})
	}
}

func signer(in []byte) func(algorithm, []byte) ([]byte, error) {
	return func(al algorithm, priv []byte) ([]byte, error) { return sign(al, priv, in, rand.Reader) }
}

func decipherer(in []byte) func(algorithm, []byte) ([]byte, error) {
	return func(al algorithm, priv []byte) ([]byte, error) { return decipher(al, priv, in) }
}

// TestRecordRejects: a stored key that is damaged, or not of the key's
// current attributes, is refused with 6984 by every function that reads it.
func TestRecordRejects(t *testing.T) {
	ecAl := mustAlg(t, keySig, "13"+oidP256)
	ecPriv, _, _ := generateKey(ecAl, rand.Reader)
	edAl := mustAlg(t, keySig, "16"+oidEd25519)
	edPriv, _, _ := generateKey(edAl, rand.Reader)
	rsaAl := mustAlg(t, keySig, "01 0800 0020 00")
	_, rsaPriv, _, err := importKey(importTemplate(keySig, nil, rsaItems(testRSAKey(t, 2048), true, true)...), algorithms(rsaAl))
	if err != nil {
		t.Fatal(err)
	}
	edit := func(b []byte, f func([]byte) []byte) []byte { return f(slices.Clone(b)) }
	for _, tc := range []struct {
		name string
		al   algorithm
		rec  []byte
	}{
		{"empty", ecAl, nil},
		{"version 2", ecAl, edit(ecPriv, func(b []byte) []byte { b[0] = 2; return b })},
		{"other algorithm", edAl, ecPriv},
		{"other curve", mustAlg(t, keySig, "13"+oidP384), ecPriv},
		{"RSA of another size", mustAlg(t, keySig, "01 0C00 0020 00"), rsaPriv},
		{"truncated", ecAl, ecPriv[:len(ecPriv)-1]},
		{"trailing byte", ecAl, append(slices.Clone(ecPriv), 0)},
		{"missing field", ecAl, ecPriv[:2+2+8+2+32]},
		{"point off the curve", ecAl, edit(ecPriv, func(b []byte) []byte { b[len(b)-1] ^= 1; return b })},
		{"Ed25519 short seed", edAl, edit(edPriv, func(b []byte) []byte { return append(b[:2+2+9], 0, 31) })},
		{"RSA missing field", rsaAl, rsaPriv[:len(rsaPriv)-130]},
		{"RSA damaged prime", rsaAl, edit(rsaPriv, func(b []byte) []byte { b[len(b)-400] ^= 1; return b })},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := publicKey(tc.al, tc.rec); !errors.Is(err, apdu.SWReferenceDataUnusable) && !(tc.name == "RSA damaged prime") {
				t.Errorf("publicKey = %v, want 6984", err)
			}
			if out, err := sign(tc.al, tc.rec, digestInfoSHA256(make([]byte, 32)), rand.Reader); err == nil {
				t.Errorf("sign = % X, nil; want an error", out)
			}
		})
	}
}

// TestImportGnuPGKeys imports keys that GnuPG 2.2.40 generated (gpg
// --quick-gen-key ed25519, --quick-add-key cv25519; their secret-key
// packets exported unprotected), in the templates scdaemon builds from
// them: d as the secret-key MPI at the curve's size, 99 as the public key
// MPI with its 0x40 prefix when the attributes end in FF. The cv25519
// secret MPI is the X25519 scalar in reversed byte order; the card must
// answer the key's public point in both cases.
func TestImportGnuPGKeys(t *testing.T) {
	for _, tc := range []struct {
		name, attr string
		ref        byte
		d, q       string // the MPIs of the secret-key packet
	}{
		{"Ed25519", "16" + oidEd25519, keySig,
			"44d965b9679569e1c9fb819d7af7a59e9fbd5365d8d9618613d840e7d9c1457e",
			"40e9d4f32507df0e15b2c6c0091ea29a43afe6d5ecbead8b1233e6b4c985675a77"},
		{"cv25519", "12" + oidX25519, keyDec,
			"7111b40a7821b3e0289a6557dcaa4cee6dd0e99ab502a05d54ec98cc717288c0",
			"401434690a32af4b37516470a2c6bba7cbaca8936ee1b6e41722a6921e88019f7c"},
	} {
		d, q := cardtest.Hex(tc.d), cardtest.Hex(tc.q)
		want := apdu.AppendTLV(nil, 0x86, q[1:])
		for _, withPub := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/public key %v", tc.name, withPub), func(t *testing.T) {
				attr, items := tc.attr, []item{{tagP, d}}
				if withPub {
					attr, items = attr+"FF", append(items, item{tagPub, q})
				}
				al := mustAlg(t, tc.ref, attr)
				_, priv, pub, err := importKey(importTemplate(tc.ref, nil, items...), algorithms(al))
				if err != nil || !bytes.Equal(pub, want) {
					t.Fatalf("importKey = % X, %v; want % X", pub, err, want)
				}
				if tc.ref == keyDec {
					checkDecipher(t, al, priv, pub)
				} else {
					checkSign(t, al, priv, pub)
				}
			})
		}
	}
}

// TestRecordFormat pins version 1 of the stored key (keys_record.go): the
// on-card state format is public, so records written now must keep
// opening, and a change of what is written must be deliberate.
func TestRecordFormat(t *testing.T) {
	for _, tc := range []struct {
		name, attr string
		ref        byte
		d          string // the imported d (the X25519 one in gpg's order)
		record     string
		point      string // the public key the record must answer
	}{
		{"P-256", "13" + oidP256, keySig, "0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20",
			"01 13 0008 2a8648ce3d030107 0020 0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20 " +
				"0041 04515c3d6eb9e396b904d3feca7f54fdcd0cc1e997bf375dca515ad0a6c3b4035f4536be3a50f318fbf9a5475902a221502bef0d57e08c53b2cc0a56f17d9f9354",
			"04515c3d6eb9e396b904d3feca7f54fdcd0cc1e997bf375dca515ad0a6c3b4035f4536be3a50f318fbf9a5475902a221502bef0d57e08c53b2cc0a56f17d9f9354"},
		{"Ed25519", "16" + oidEd25519, keySig, "44d965b9679569e1c9fb819d7af7a59e9fbd5365d8d9618613d840e7d9c1457e",
			"01 16 0009 2b06010401da470f01 0020 44d965b9679569e1c9fb819d7af7a59e9fbd5365d8d9618613d840e7d9c1457e " +
				"0020 e9d4f32507df0e15b2c6c0091ea29a43afe6d5ecbead8b1233e6b4c985675a77",
			"e9d4f32507df0e15b2c6c0091ea29a43afe6d5ecbead8b1233e6b4c985675a77"},
		{"X25519", "12" + oidX25519, keyDec, "7111b40a7821b3e0289a6557dcaa4cee6dd0e99ab502a05d54ec98cc717288c0",
			"01 12 000a 2b060104019755010501 0020 c0887271cc98ec545da002b59ae9d06dee4caadc57659a28e0b321780ab41171 " +
				"0020 1434690a32af4b37516470a2c6bba7cbaca8936ee1b6e41722a6921e88019f7c",
			"1434690a32af4b37516470a2c6bba7cbaca8936ee1b6e41722a6921e88019f7c"},
		{"brainpoolP256r1", "13" + oidBP256, keySig, "0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20",
			"01 13 0009 2b2403030208010107 0020 0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20 " +
				"0041 044e366cf3c8a982e423831d6715e722acf03cab8452e3c64d1e3b038caf87fc48387a044328d34ce4eb16c6c885b8b82be2584c18b28fc38143cbbf2b9b3520f9",
			"044e366cf3c8a982e423831d6715e722acf03cab8452e3c64d1e3b038caf87fc48387a044328d34ce4eb16c6c885b8b82be2584c18b28fc38143cbbf2b9b3520f9"}, // the point: OpenSSL's
	} {
		t.Run(tc.name, func(t *testing.T) {
			al := mustAlg(t, tc.ref, tc.attr)
			rec, want := cardtest.Hex(tc.record), apdu.AppendTLV(nil, 0x86, cardtest.Hex(tc.point))
			_, priv, _, err := importKey(importTemplate(tc.ref, nil, item{tagP, cardtest.Hex(tc.d)}), algorithms(al))
			if err != nil || !bytes.Equal(priv, rec) {
				t.Errorf("importKey wrote % X, %v; want % X", priv, err, rec)
			}
			if pub, err := publicKey(al, rec); err != nil || !bytes.Equal(pub, want) {
				t.Errorf("publicKey(record) = % X, %v; want % X", pub, err, want)
			}
		})
	}
	// RSA: n, e, d, p, q, dP, dQ, qInv, each with a two-byte length.
	k := testRSAKey(t, 2048)
	al := mustAlg(t, keySig, "01 0800 0020 00")
	_, priv, _, err := importKey(importTemplate(keySig, nil, rsaItems(k, false, false)...), algorithms(al))
	if err != nil {
		t.Fatal(err)
	}
	want := []byte{0x01, algRSA}
	for _, v := range []*big.Int{k.N, big.NewInt(int64(k.E)), nil, k.Primes[0], k.Primes[1], k.Precomputed.Dp, k.Precomputed.Dq, k.Precomputed.Qinv} {
		if v == nil { // d: the import computes d = e^-1 mod (p-1)(q-1), which may differ from the key's own d mod lcm
			v = new(big.Int).ModInverse(big.NewInt(int64(k.E)), new(big.Int).Mul(new(big.Int).Sub(k.Primes[0], big.NewInt(1)), new(big.Int).Sub(k.Primes[1], big.NewInt(1))))
		}
		want = append(want, byte(len(v.Bytes())>>8), byte(len(v.Bytes())))
		want = append(want, v.Bytes()...)
	}
	if !bytes.Equal(priv, want) {
		t.Errorf("RSA record differs from n, e, d, p, q, dP, dQ, qInv with two-byte lengths")
	}
}
