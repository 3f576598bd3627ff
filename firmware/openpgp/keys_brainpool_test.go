package openpgp

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"testing"

	"github.com/tesseracard/tessera/apdu"
	"github.com/tesseracard/tessera/firmware/nvm"
	"github.com/tesseracard/tessera/internal/cardtest"
)

// brainpoolOpenSSL are keys Python's cryptography 48 (OpenSSL 3.0) made:
// the card's d and public point, a peer's public point, and the ECDH
// shared secret (the x coordinate) OpenSSL computed.
var brainpoolOpenSSL = []struct{ name, oid, d, pub, peer, secret string }{
	{"brainpoolP256r1", oidBP256, "426531d93fe1d26575d1940a7b6be6fde687fbcdbb8fc9c070ebe14aceb4710d", "0457a921a198878f494f09d28280c689657b4bb3b6a74dfc4793535248f2f11c4217bfa9340e6cc37463432addbc7f0199e2500e675e1b647162a5a4129e1514e3", "0471c0c3e74dccee372026214498d0a24e1470fe8857ac11cf9d76e4998a9f76822e8206c33819b28eda4dd28a0104ecdd33ab21ccb446582e191dcff82996098c", "7ca293b6320f11cd5de34287bcbd843580a0c8ad5a8932dbabd0420b7dc1c164"},
	{"brainpoolP384r1", oidBP384, "86083b4bb07ecd7bc43f8349a2250f0d9ab348f0314694ee18bdd1e83edd0ba8dfac47d33f14879eff1a423603b18ab5", "04779da1bb951afbf86a32bf236dc2311358a53769ff26a30b9fec112020444699e0730023615d1ff9e7a55dfc93e6c6937b4f8ccf806102ae31e7d1ba9bd1edcd23c5bfa60d3fd140ce670569042921384c18973d085e3acc89f7c3ac0eae21eb", "045865232dbb33bb272d5f4e115f5ae8a97a5badb49586de1bd4caf65a4699c4618dc40da8a259ae3b0ddb8d2e0a6502360f91de951e8bc189e3a2f797c2a1ac77f7cecc1b03c3b2ffca5f96de3ad264924c31bcb15ab36503002e6e7f9330a84d", "1e7211db04d50e7290628a29aebe7f8bdf363dbfe78cd6b8eef6d40e34389d41193693e03d89cadf33c2b8df40b94852"},
	{"brainpoolP512r1", oidBP512, "5587ecabe8ed237758036b895fcc350d0eb33fe4d4e4e566d5792bf4e052f856043a5872ccffbfbee5f592d215cba1c397dbb2e0805b897efe7df57a5ef2853f", "04001a15486734b8a0e759b4ead9f79894b84e52883117b11dbb4a1e3da0d414757bb2a34a75d88dc7e5f701cad5c9a6a7f2b3a2122351a7d14c0f4643a97c305b9bf4387226547424f071c5d51e3f537930871e023b0f8dd03392da066ccb15ff46bc795b54229db38d1ffcdaf85687a4eb937f5dd9236af381d30fe17c799b57", "048d94274ddd82171858dd7582d8acadc6b2f9244a462e73decf05720b7fd99f04d66f556f88a8fb26bc398009fb2eb2eb41f2f51c9dbcb6189e3805c54a0dc4c91e2e41b0685ff6c521be2bd0139cf76c781428934eb4b1d6556e60d9c8153b7fd8421aac45937fdc40f377cf371e4fe8f959c91bd9185689b136e5c04f94b7c6", "a395f9ceedca8aff3e2c83ebff50513af28b187ecfcbd0dbff8e961b59a5c178616b8af43f3f3b057d218d6bc553658686897b211c883e1c1488ce1fcf2822fe"},
}

// TestBrainpoolOpenSSL imports OpenSSL's keys, as gpg sends them (d, and
// with attributes ending in FF the public point 99), for ECDH and ECDSA:
// the card answers OpenSSL's public point and, for PSO:DECIPHER with the
// peer's point, OpenSSL's shared secret; its signatures verify.
func TestBrainpoolOpenSSL(t *testing.T) {
	for _, v := range brainpoolOpenSSL {
		t.Run(v.name, func(t *testing.T) {
			d, pub := cardtest.Hex(v.d), cardtest.Hex(v.pub)
			for _, tc := range []struct {
				ref   byte
				attr  string
				items []item
			}{
				{keyDec, "12" + v.oid, []item{{tagP, d}}},
				{keyDec, "12" + v.oid + "FF", []item{{tagP, d}, {tagPub, pub}}},
				{keySig, "13" + v.oid, []item{{tagP, append([]byte{0}, d...)}}},
				{keyAut, "13" + v.oid + "FF", []item{{tagP, d}, {tagPub, pub}}},
			} {
				al := mustAlg(t, tc.ref, tc.attr)
				ref, priv, got, err := importKey(importTemplate(tc.ref, nil, tc.items...), algorithms(al))
				if err != nil || ref != tc.ref {
					t.Fatalf("%s: importKey = %02X, %v", tc.attr, ref, err)
				}
				if want := apdu.AppendTLV(nil, 0x86, pub); !bytes.Equal(got, want) {
					t.Errorf("%s: public key % X, want OpenSSL's % X", tc.attr, got, want)
				}
				if again, err := publicKey(al, priv); err != nil || !bytes.Equal(again, got) {
					t.Errorf("%s: publicKey(record) = % X, %v", tc.attr, again, err)
				}
				if tc.ref != keyDec {
					checkSign(t, al, priv, got)
					continue
				}
				secret, err := decipher(al, priv, cipherDO(cardtest.Hex(v.peer)))
				if err != nil || !bytes.Equal(secret, cardtest.Hex(v.secret)) {
					t.Errorf("%s: decipher = % X, %v, want OpenSSL's %s", tc.attr, secret, err, v.secret)
				}
			}
		})
	}
}

// TestBrainpoolRejects: bad scalars, points and records on brainpool
// curves get a status word, never a panic.
func TestBrainpoolRejects(t *testing.T) {
	v := brainpoolOpenSSL[0]
	d, pub, peer := cardtest.Hex(v.d), cardtest.Hex(v.pub), cardtest.Hex(v.peer)
	decAl := mustAlg(t, keyDec, "12"+oidBP256+"FF")
	sigAl := mustAlg(t, keySig, "13"+oidBP256+"FF")
	c, _ := curveByOID(cardtest.Hex(oidBP256))
	n := c.gen.N
	otherPub := slices.Clone(pub)
	otherPub[len(otherPub)-1] ^= 1
	for _, tc := range []struct {
		name  string
		al    algorithm
		items []item
	}{
		{"scalar 0", decAl, []item{{tagP, make([]byte, 32)}}},
		{"scalar n", decAl, []item{{tagP, n.Bytes()}}},
		{"scalar n+1", sigAl, []item{{tagP, new(big.Int).Add(n, big.NewInt(1)).Bytes()}}},
		{"scalar too long", sigAl, []item{{tagP, append([]byte{1}, d...)}}},
		{"public key mismatch", decAl, []item{{tagP, d}, {tagPub, otherPub}}},
		{"public key of another key", sigAl, []item{{tagP, d}, {tagPub, peer}}},
		{"public key 0x40-prefixed", sigAl, []item{{tagP, d}, {tagPub, append([]byte{0x40}, pub[1:33]...)}}},
	} {
		t.Run("import "+tc.name, func(t *testing.T) {
			ref := byte(keySig)
			if tc.al.ID == algECDH {
				ref = keyDec
			}
			_, priv, _, err := importKey(importTemplate(ref, nil, tc.items...), algorithms(tc.al))
			if !errors.Is(err, apdu.SWIncorrectData) || priv != nil {
				t.Errorf("importKey = %d-byte key, %v; want 6A80", len(priv), err)
			}
		})
	}

	_, decPriv, _, err := importKey(importTemplate(keyDec, nil, item{tagP, d}), algorithms(decAl))
	if err != nil {
		t.Fatal(err)
	}
	_, sigPriv, _, err := importKey(importTemplate(keySig, nil, item{tagP, d}), algorithms(sigAl))
	if err != nil {
		t.Fatal(err)
	}
	offCurve := slices.Clone(peer)
	offCurve[len(offCurve)-1] ^= 1
	bp384, _ := curveByOID(cardtest.Hex(oidBP384))
	xIsP := c.gen.Marshal(c.gen.P, c.gen.Gy)
	edit := func(b []byte, f func([]byte) []byte) []byte { return f(slices.Clone(b)) }
	runOpCases(t, []opCase{
		{"point off the curve", decAl, decPriv, decipherer(cipherDO(offCurve)), apdu.SWIncorrectData},
		{"point all zero", decAl, decPriv, decipherer(cipherDO(make([]byte, 65))), apdu.SWIncorrectData},
		{"point x = p", decAl, decPriv, decipherer(cipherDO(xIsP)), apdu.SWIncorrectData},
		{"point with prefix 02", decAl, decPriv, decipherer(cipherDO(append([]byte{2}, peer[1:]...))), apdu.SWIncorrectData},
		{"compressed point", decAl, decPriv, decipherer(cipherDO(append([]byte{2}, peer[1:33]...))), apdu.SWWrongLength},
		{"point of brainpoolP384r1", decAl, decPriv, decipherer(cipherDO(bp384.gen.Marshal(bp384.gen.Gx, bp384.gen.Gy))), apdu.SWWrongLength},
		{"no template", decAl, decPriv, decipherer(peer), apdu.SWIncorrectData},
		{"sign with the ECDH key", decAl, decPriv, signer(make([]byte, 32)), apdu.SWConditionsNotSatisfied},
		{"decipher with the ECDSA key", sigAl, sigPriv, decipherer(cipherDO(peer)), apdu.SWConditionsNotSatisfied},
		{"sign empty", sigAl, sigPriv, signer(nil), apdu.SWWrongLength},
		{"sign 65 bytes", sigAl, sigPriv, signer(make([]byte, 65)), apdu.SWWrongLength},
		{"record: scalar 0", sigAl, edit(sigPriv, func(b []byte) []byte { clear(b[2+2+9+2 : 2+2+9+2+32]); return b }), signer(make([]byte, 32)), apdu.SWReferenceDataUnusable},
		{"record: scalar n", sigAl, edit(sigPriv, func(b []byte) []byte { n.FillBytes(b[2+2+9+2 : 2+2+9+2+32]); return b }), signer(make([]byte, 32)), apdu.SWReferenceDataUnusable},
		{"record: point off the curve", sigAl, edit(sigPriv, func(b []byte) []byte { b[len(b)-1] ^= 1; return b }), signer(make([]byte, 32)), apdu.SWReferenceDataUnusable},
		{"record: short scalar", sigAl, edit(sigPriv, func(b []byte) []byte { b[2+2+9+1] = 31; return slices.Delete(b, 2+2+9+2, 2+2+9+3) }), signer(make([]byte, 32)), apdu.SWReferenceDataUnusable},
		{"record of another curve", mustAlg(t, keySig, "13"+oidBP384), sigPriv, signer(make([]byte, 32)), apdu.SWReferenceDataUnusable},
		{"record of P-256", mustAlg(t, keySig, "13"+oidP256), sigPriv, signer(make([]byte, 32)), apdu.SWReferenceDataUnusable},
	})
	// The same record under its own attributes still signs.
	if _, err := sign(sigAl, sigPriv, make([]byte, 32), rand.Reader); err != nil {
		t.Errorf("sign = %v", err)
	}
}

// TestGetAttestationBrainpool: a brainpool key's attestation statement
// carries its key as id-ecPublicKey with the curve's OID (RFC 5480,
// RFC 5639), and is signed by the attestation key FC names. Go's x509
// cannot parse a certificate over a brainpool key, so the statement is
// read as ASN.1 here.
func TestGetAttestationBrainpool(t *testing.T) {
	ca := newTestCA(t)
	tc := attestCard(t, ca, nil)
	fc, err := x509.ParseCertificate(tc.getDataAfterSelect(tagAttCert))
	if err != nil {
		t.Fatalf("FC: %v", err)
	}
	tc.admin()
	tc.mustRaw(putData(tagAlgAut, h("13"+oidBP384)), apdu.SWSuccess)
	pubT := tc.mustRaw(command(0x00, 0x47, 0x80, 0x00, []byte{keyAut, 0x00}), apdu.SWSuccess)
	point, ok, _ := apdu.FindTLV(pubT[3:], 0x86) // 7F49 81 xx
	if !ok || len(point) != 97 {
		t.Fatalf("GENERATE answered % X", pubT)
	}
	tc.must(verifyPW1Sign, apdu.SWSuccess)
	tc.mustRaw([]byte{0x80, 0xFB, 0x03, 0x00}, apdu.SWSuccess)
	var cert struct {
		TBS asn1.RawValue
		Alg pkix.AlgorithmIdentifier
		Sig asn1.BitString
	}
	der := tc.readCert(0)
	if rest, err := asn1.Unmarshal(der, &cert); err != nil || len(rest) != 0 {
		t.Fatalf("statement % X: %v", der, err)
	}
	if !cert.Alg.Algorithm.Equal(asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}) {
		t.Fatalf("statement signed with %v, want ecdsa-with-SHA256 (the P-256 attestation key)", cert.Alg.Algorithm)
	}
	if err := fc.CheckSignature(x509.ECDSAWithSHA256, cert.TBS.FullBytes, cert.Sig.Bytes); err != nil {
		t.Errorf("statement not signed by FC's key: %v", err)
	}
	// SEQUENCE { SEQUENCE { id-ecPublicKey, brainpoolP384r1 }, BIT STRING 00 point }
	spki := append(h("307a 3014 06072a8648ce3d0201 06092b240303020801010b 036200"), point...)
	if !bytes.Contains(cert.TBS.Bytes, spki) {
		t.Errorf("statement does not carry the key's subjectPublicKeyInfo % X", spki)
	}
}

// TestBrainpoolSurvivesRestart generates brainpool keys through the
// commands on the plain OpenPGP 3.4 and the YubiKey profiles, then starts
// a new card (a new application, no key cache) on the same memory: the
// attributes, the public keys, PSO:CDS, INTERNAL AUTHENTICATE and
// PSO:DECIPHER work as before.
func TestBrainpoolSurvivesRestart(t *testing.T) {
	for _, tt := range []struct {
		base         string
		sig, dec, au string // curve OIDs
	}{
		{"openpgp", oidBP256, oidBP384, oidBP512},
		{"yubikey-5.7", oidBP512, oidBP256, oidBP384},
	} {
		t.Run(tt.base, func(t *testing.T) {
			p := testProfile(t, tt.base, "")
			tm := nvm.NewTearable(&nvm.Memory{})
			tc := newCardOf(t, p, tm)
			tc.admin()
			keys := []struct {
				tag  uint16
				crt  byte
				attr []byte
			}{
				{tagAlgSig, keySig, h("13" + tt.sig)},
				{tagAlgDec, keyDec, h("12" + tt.dec)},
				{tagAlgAut, keyAut, h("13" + tt.au)},
			}
			pubs := map[byte][]byte{}
			for _, k := range keys {
				tc.mustRaw(putData(k.tag, k.attr), apdu.SWSuccess)
				pubs[k.crt] = tc.mustRaw(command(0x00, 0x47, 0x80, 0x00, []byte{k.crt, 0x00}), apdu.SWSuccess)
			}

			tc = newCardOf(t, p, tm) // a restart: a new application on the same memory
			tc.must(cmdSelect, apdu.SWSuccess)
			for _, k := range keys {
				if got := tc.getData(k.tag); !bytes.Equal(got, k.attr) {
					t.Errorf("attributes %04X = % X after the restart, want % X", k.tag, got, k.attr)
				}
				if got := tc.mustRaw(command(0x00, 0x47, 0x81, 0x00, []byte{k.crt, 0x00}), apdu.SWSuccess); !bytes.Equal(got, pubs[k.crt]) {
					t.Errorf("public key %02X changed over the restart", k.crt)
				}
			}
			pub := func(ref byte, attr []byte) genericPublic {
				t.Helper()
				tmpl, _, _ := apdu.FindTLV(pubs[ref], 0x7F49)
				return goPublic(t, mustAlg(t, ref, fmt.Sprintf("%X", attr)), tmpl).(genericPublic)
			}
			digest := sha256.Sum256([]byte("after the restart"))
			tc.must(verifyPW1Sign, apdu.SWSuccess)
			sig := tc.mustRaw(command(0x00, 0x2A, 0x9E, 0x9A, digest[:]), apdu.SWSuccess)
			tc.must(verifyPW1Other, apdu.SWSuccess)
			auth := tc.mustRaw(command(0x00, 0x88, 0x00, 0x00, digest[:]), apdu.SWSuccess)
			for _, s := range []struct {
				ref  byte
				attr []byte
				sig  []byte
			}{{keySig, keys[0].attr, sig}, {keyAut, keys[2].attr, auth}} {
				k := pub(s.ref, s.attr)
				size := k.c.Size
				if len(s.sig) != 2*size || !k.c.Verify(k.x, k.y, digest[:], new(big.Int).SetBytes(s.sig[:size]), new(big.Int).SetBytes(s.sig[size:])) {
					t.Errorf("%s signature of key %02X does not verify", k.c.Name, s.ref)
				}
			}
			dk := pub(keyDec, keys[1].attr)
			e, _ := dk.c.RandScalar(rand.Reader)
			want, _ := dk.c.ECDH(e, dk.x, dk.y)
			if got := tc.mustRaw(command(0x00, 0x2A, 0x80, 0x86, cipherDO(dk.c.Marshal(dk.c.ScalarBaseMult(e)))), apdu.SWSuccess); !bytes.Equal(got, want) {
				t.Errorf("PSO:DECIPHER = % X, want % X", got, want)
			}
			// A point off the curve: 6A80, and the card carries on.
			bad := dk.c.Marshal(dk.x, new(big.Int).Sub(dk.c.P, big.NewInt(1)))
			tc.mustRaw(command(0x00, 0x2A, 0x80, 0x86, cipherDO(bad)), apdu.SWIncorrectData)
		})
	}
}
