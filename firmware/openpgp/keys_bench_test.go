package openpgp

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"testing"

	"github.com/tesseracard/tessera/apdu"
	"github.com/tesseracard/tessera/internal/cardtest"
)

// cardSignCase is a signature key imported into a card and kept on the
// host, so both sign with the same key.
type cardSignCase struct {
	name  string
	attr  string // algorithm attributes C1
	items []item // the private key template
	input []byte // the data of PSO:CDS
	pub   []byte // the contents of 7F49
	goKey crypto.Signer
	opts  crypto.SignerOpts
}

// cardSignCases sign a SHA-256 digest: RSA its DigestInfo, Ed25519 the 32
// bytes as the message, as gpg sends them.
func cardSignCases(tb testing.TB, digest []byte) []cardSignCase {
	p256, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	d256, _ := p256.Bytes()
	q256, _ := p256.PublicKey.Bytes()
	_, ed, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	rk := testRSAKey(tb, 2048)
	return []cardSignCase{
		{"P-256", "13" + oidP256, []item{{tagP, d256}}, digest, apdu.AppendTLV(nil, 0x86, q256), p256, crypto.SHA256},
		{"Ed25519", "16" + oidEd25519, []item{{tagP, ed.Seed()}}, digest, apdu.AppendTLV(nil, 0x86, ed[32:]), ed, crypto.Hash(0)},
		{"RSA-2048", "01 0800 0020 00", rsaItems(rk, false, false), digestInfoSHA256(digest),
			apdu.AppendTLV(apdu.AppendTLV(nil, 0x81, rk.N.Bytes()), 0x82, []byte{1, 0, 1}), rk, crypto.SHA256},
	}
}

// signingCard is a card with sc's key imported as the signature key, PW1
// valid for several signatures (C4 byte 1 = 01) and verified; it returns
// the PSO:CDS command.
func signingCard(tb testing.TB, sc cardSignCase) (*testCard, []byte) {
	tc := newTestCard(tb)
	tc.admin()
	tc.mustRaw(putData(0xC1, cardtest.Hex(sc.attr)), apdu.SWSuccess)
	tc.mustRaw(putData(0xC4, []byte{0x01}), apdu.SWSuccess)
	tc.mustRaw(command(0x00, 0xDB, 0x3F, 0xFF, importTemplate(keySig, nil, sc.items...)), apdu.SWSuccess)
	tc.must(verifyPW1Sign, apdu.SWSuccess)
	return tc, command(0x00, 0x2A, 0x9E, 0x9A, sc.input)
}

// BenchmarkOpenPGPSign signs through Card.Process, one PSO:COMPUTE DIGITAL
// SIGNATURE per iteration after one VERIFY PW1 81, the signature counter
// advancing durably each time ("card"), and with Go's crypto on the same
// key ("go"). docs/benchmarks.md (make bench) reports the ratios of the
// same run.
func BenchmarkOpenPGPSign(b *testing.B) {
	digest := sha256.Sum256([]byte("benchmark"))
	for _, sc := range cardSignCases(b, digest[:]) {
		b.Run(sc.name+"/card", func(b *testing.B) {
			tc, raw := signingCard(b, sc)
			more := cardtest.Hex("00 C0 00 00 00")
			b.ReportAllocs()
			for b.Loop() {
				out := tc.c.Process(raw)
				for out[len(out)-2] == 0x61 {
					out = tc.c.Process(more)
				}
				if out[len(out)-2] != 0x90 {
					b.Fatalf("PSO:CDS answered % X", out[len(out)-2:])
				}
			}
		})
		b.Run(sc.name+"/go", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := sc.goKey.Sign(rand.Reader, digest[:], sc.opts); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestOpenPGPSignThroughCard checks what BenchmarkOpenPGPSign times: the
// card's answers to PSO:CDS verify with the imported key's public half.
func TestOpenPGPSignThroughCard(t *testing.T) {
	digest := sha256.Sum256([]byte("through the card"))
	for _, sc := range cardSignCases(t, digest[:]) {
		t.Run(sc.name, func(t *testing.T) {
			tc, raw := signingCard(t, sc)
			for range 2 { // PW1 stays valid (C4 byte 1 = 01)
				sig := tc.mustRaw(raw, apdu.SWSuccess)
				if al := mustAlg(t, keySig, sc.attr); al.ID == algRSA {
					checkRSASig(t, sc.pub, digest[:], sig)
				} else {
					checkSig(t, al, sc.pub, sc.input, sig)
				}
			}
		})
	}
}
