package isoapp

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"fmt"
	"testing"

	"github.com/tesseracard/tessera/apdu"
)

// BenchmarkISOSign signs through the card (MSE SET is done once; each
// iteration is one PSO COMPUTE DIGITAL SIGNATURE, as OpenSC sends it) and,
// where Go has the curve, with Go's crypto on an equal key: ECDSA-SHA1 over
// a 32-byte message, RSA-2048 PKCS#1 v1.5 over a SHA-256 DigestInfo.
func BenchmarkISOSign(b *testing.B) {
	msg := make([]byte, 32)
	digestInfo := append(h("3031300d060960864801650304020105000420"), make([]byte, 32)...)
	for _, name := range []string{"P-256", "P-384", "brainpoolP256r1", "secp256k1", "RSA-2048"} {
		b.Run(name+"/card", func(b *testing.B) {
			tc := newTestCard(b)
			loggedIn(tc)
			alg, signAlg, input := "EC", "21", msg
			if name == "RSA-2048" {
				alg, signAlg, input = "F3", "11", digestInfo
			}
			tc.must("00 22 41 00 06 80 01 "+alg+" 84 01 00", apdu.SWSuccess)
			if name == "RSA-2048" {
				tc.fetch(h("00 46 42 00 00"))
			} else {
				for _, c := range curves() {
					if c.Name == name {
						tc.chained(0x00, 0x46, 0x00, 0x00, ecParamsTLV(c))
					}
				}
			}
			tc.must("00 22 41 B6 06 80 01 "+signAlg+" 84 01 00", apdu.SWSuccess)
			raw, err := apdu.Command{INS: 0x2A, P1: 0x9E, P2: 0x9A, Data: input, Ne: 256}.Marshal()
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				out := tc.c.Process(raw)
				if out[len(out)-2] != 0x90 {
					b.Fatalf("sign answered % X", out[len(out)-2:])
				}
			}
		})
		var goSign func() error
		switch name {
		case "P-256", "P-384":
			curve := map[string]elliptic.Curve{"P-256": elliptic.P256(), "P-384": elliptic.P384()}[name]
			key, err := ecdsa.GenerateKey(curve, rand.Reader)
			if err != nil {
				b.Fatal(err)
			}
			goSign = func() error {
				d := sha1.Sum(msg)
				_, err := ecdsa.SignASN1(rand.Reader, key, d[:])
				return err
			}
		case "RSA-2048":
			key, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				b.Fatal(err)
			}
			goSign = func() error {
				_, err := rsa.SignPKCS1v15(nil, key, crypto.SHA256, digestInfo[len(digestInfo)-sha256.Size:])
				return err
			}
		default:
			continue // no Go implementation to compare with
		}
		b.Run(name+"/go", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := goSign(); err != nil {
					b.Fatal(fmt.Errorf("%s: %w", name, err))
				}
			}
		})
	}
}
