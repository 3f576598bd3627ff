package piv

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"math/big"
	"path/filepath"
	"testing"

	"github.com/tesseracard/tessera/apdu"
	"github.com/tesseracard/tessera/firmware/nvm"
	"github.com/tesseracard/tessera/firmware/profile"
	"github.com/tesseracard/tessera/pivalg"
)

// The benchmarks compare the card with Go's crypto doing the same work in
// the same run; docs/benchmarks.md (make bench) reports the ratios.

func BenchmarkProcessGetVersion(b *testing.B) {
	tc := newTestCard(b, "default")
	cmd := h("00 FD 00 00")
	b.ReportAllocs()
	for b.Loop() {
		tc.c.Process(cmd)
	}
}

func BenchmarkProcessGetData3KB(b *testing.B) {
	tc := newTestCard(b, "default")
	tc.mustAuthenticate()
	obj := certObject(make([]byte, 3000))
	tc.expectCmd(apdu.Command{INS: 0xDB, P1: 0x3F, P2: 0xFF, Data: append(h("5C 03 5F C1 05"), apdu.AppendTLV(nil, 0x53, obj)...)}, apdu.SWSuccess)
	get, more := h("00 CB 3F FF 05 5C 03 5F C1 05 00"), h("00 C0 00 00 00")
	b.ReportAllocs()
	for b.Loop() {
		out := tc.c.Process(get)
		for out[len(out)-2] == 0x61 {
			out = tc.c.Process(more)
		}
	}
}

// signCase is a key imported into the card and kept on the host, so both
// sign with the same key.
type signCase struct {
	name       string
	alg        byte
	priv       crypto.Signer
	importData func() []byte
}

func rsaImport(k *rsa.PrivateKey) []byte {
	var d []byte
	size := k.Size() / 2
	for i, v := range []*big.Int{k.Primes[0], k.Primes[1], k.Precomputed.Dp, k.Precomputed.Dq, k.Precomputed.Qinv} {
		d = apdu.AppendTLV(d, apdu.Tag(i+1), v.FillBytes(make([]byte, size)))
	}
	return d
}

func signCases(b *testing.B) []signCase {
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	r2048, _ := rsa.GenerateKey(rand.Reader, 2048)
	r4096, _ := rsa.GenerateKey(rand.Reader, 4096)
	ecImport := func(k *ecdsa.PrivateKey) func() []byte {
		return func() []byte { d, _ := k.Bytes(); return apdu.AppendTLV(nil, 0x06, d) }
	}
	return []signCase{
		{"P-256", pivalg.P256, p256, ecImport(p256)},
		{"P-384", pivalg.P384, p384, ecImport(p384)},
		{"Ed25519", pivalg.Ed25519, ed, func() []byte { return apdu.AppendTLV(nil, 0x07, ed.Seed()) }},
		{"RSA-2048", pivalg.RSA2048, r2048, func() []byte { return rsaImport(r2048) }},
		{"RSA-4096", pivalg.RSA4096, r4096, func() []byte { return rsaImport(r4096) }},
	}
}

// BenchmarkSign signs a SHA-256 digest (Ed25519: a 32-byte message) through
// Card.Process (sub-benchmark "card", the GENERAL AUTHENTICATE chain as a
// client sends it) and with Go's crypto directly ("go").
func BenchmarkSign(b *testing.B) {
	digest := sha256.Sum256([]byte("benchmark"))
	for _, sc := range signCases(b) {
		var input []byte
		var opts crypto.SignerOpts = crypto.SHA256
		switch k := sc.priv.(type) {
		case *rsa.PrivateKey:
			input = pkcs1Block(k.Size(), digest[:])
		case ed25519.PrivateKey:
			input, opts = digest[:], crypto.Hash(0)
		default:
			input = digest[:]
		}
		b.Run(sc.name+"/card", func(b *testing.B) { benchPrivateOp(b, sc, input) })
		b.Run(sc.name+"/go", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := sc.priv.Sign(rand.Reader, input[len(input)-min(len(input), 32):], opts); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// benchPrivateOp imports sc's key into the card and times GENERAL
// AUTHENTICATE on input (a challenge: sign or decrypt) through
// Card.Process, chained and with GET RESPONSE as a client sends it.
func benchPrivateOp(b *testing.B, sc signCase, input []byte) {
	tc := newTestCard(b, "default")
	tc.mustAuthenticate()
	tc.expectCmd(apdu.Command{INS: 0xFE, P1: sc.alg, P2: slotCardAuthentication, Data: append(sc.importData(), 0xAA, 0x01, pinPolicyNever)}, apdu.SWSuccess)
	dyn := apdu.Nest(0x7C, apdu.AppendTLV(nil, 0x82, nil), apdu.AppendTLV(nil, 0x81, input))
	parts, _ := apdu.SplitChain(apdu.Command{INS: 0x87, P1: sc.alg, P2: slotCardAuthentication, Data: dyn, Ne: 256}, 255)
	var raws [][]byte
	for _, p := range parts {
		raw, _ := p.Marshal()
		raws = append(raws, raw)
	}
	more := h("00 C0 00 00 00")
	b.ReportAllocs()
	for b.Loop() {
		var out []byte
		for _, raw := range raws {
			out = tc.c.Process(raw)
		}
		for out[len(out)-2] == 0x61 {
			out = tc.c.Process(more)
		}
		if out[len(out)-2] != 0x90 {
			b.Fatalf("GENERAL AUTHENTICATE answered % X", out[len(out)-2:])
		}
	}
}

// BenchmarkRSADecrypt decrypts an RSA-2048 PKCS #1 v1.5 ciphertext: on the
// card the raw private operation (constant time, package bigmod), which
// the host unpads, and with Go's crypto/rsa directly.
func BenchmarkRSADecrypt(b *testing.B) {
	k, _ := rsa.GenerateKey(rand.Reader, 2048)
	ct, err := rsa.EncryptPKCS1v15(rand.Reader, &k.PublicKey, []byte("a 32-byte session key, say......"))
	if err != nil {
		b.Fatal(err)
	}
	sc := signCase{"RSA-2048", pivalg.RSA2048, k, func() []byte { return rsaImport(k) }}
	b.Run("RSA-2048/card", func(b *testing.B) { benchPrivateOp(b, sc, ct) })
	b.Run("RSA-2048/go", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := rsa.DecryptPKCS1v15(nil, k, ct); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkKeygen generates a key through the card and with Go directly.
func BenchmarkKeygen(b *testing.B) {
	for _, k := range []struct {
		name string
		alg  byte
		gen  func() error
	}{
		{"P-256", pivalg.P256, func() error { _, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader); return err }},
		{"RSA-2048", pivalg.RSA2048, func() error { _, err := rsa.GenerateKey(rand.Reader, 2048); return err }},
		{"RSA-4096", pivalg.RSA4096, func() error { _, err := rsa.GenerateKey(rand.Reader, 4096); return err }},
	} {
		b.Run(k.name+"/card", func(b *testing.B) {
			tc := newTestCard(b, "default")
			tc.mustAuthenticate()
			cmd := h("00 47 00 9A 05 AC 03 80 01")
			cmd = append(cmd, k.alg)
			for b.Loop() {
				out := tc.c.Process(cmd)
				if sw := out[len(out)-2]; sw != 0x90 && sw != 0x61 {
					b.Fatalf("generate answered % X", out[len(out)-2:])
				}
			}
		})
		b.Run(k.name+"/go", func(b *testing.B) {
			for b.Loop() {
				if err := k.gen(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkWrongPIN is a wrong-PIN VERIFY, one durable counter write, on the
// memory medium and on the crash-safe file medium. Every other iteration a
// right VERIFY (not timed) restores the counter.
func BenchmarkWrongPIN(b *testing.B) {
	p, _ := profile.Builtin("default")
	for _, m := range []struct {
		name   string
		medium func(b *testing.B) nvm.Medium
	}{
		{"memory", func(*testing.B) nvm.Medium { return &nvm.Memory{} }},
		{"file", func(b *testing.B) nvm.Medium {
			f, err := nvm.OpenFile(filepath.Join(b.TempDir(), "card.state"))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { f.Close() })
			return f
		}},
	} {
		b.Run(m.name, func(b *testing.B) {
			tc := newTestCardWith(b, p, nvm.NewTearable(m.medium(b)), Options{})
			wrong, right := h("00 20 00 80 08 "+pinField("000000")), h("00 20 00 80 08 "+pinField("123456"))
			i := 0
			for b.Loop() {
				tc.c.Process(wrong)
				if i++; i%2 == 0 {
					b.StopTimer()
					tc.c.Process(right)
					b.StartTimer()
				}
			}
		})
	}
}
