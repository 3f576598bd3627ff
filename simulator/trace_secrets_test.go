package simulator

import (
	"bytes"
	"context"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"log/slog"
	"math/big"
	"regexp"
	"strings"
	"testing"

	"github.com/tesseracard/tessera/apdu"
	"github.com/tesseracard/tessera/hostdriver"
)

// secretSet is the secrets a traced session used.
type secretSet struct {
	names  []string
	values [][]byte
}

func (s *secretSet) add(name string, v []byte) {
	s.names = append(s.names, name)
	s.values = append(s.values, bytes.Clone(v))
}

// leakWindow is the stretch of a long secret looked for on its own, so that
// a chain piece holding part of a key is caught.
const leakWindow = 16

// check reports every secret text holds: in hex of either case, whole or
// any leakWindow-byte stretch of it, and, when it is printable, as text
// standing alone (not inside a longer run of hex digits: a timestamp).
func (s *secretSet) check(t *testing.T, where, text string) {
	t.Helper()
	upper := strings.ToUpper(text)
	for i, v := range s.values {
		for off := 0; off == 0 || off+leakWindow <= len(v); off += leakWindow / 2 {
			part := v[off:min(len(v), off+leakWindow)]
			if off > 0 && len(part) < leakWindow {
				break
			}
			if h := strings.ToUpper(hex.EncodeToString(part)); strings.Contains(upper, h) {
				t.Errorf("the %s holds %s (bytes %d..%d, %s)", where, s.names[i], off, off+len(part), h)
				break
			}
		}
		if printable(v) {
			re := regexp.MustCompile(`(^|[^0-9A-Fa-f])` + regexp.QuoteMeta(string(v)) + `([^0-9A-Fa-f]|$)`)
			if re.MatchString(text) {
				t.Errorf("the %s holds %s as text %q", where, s.names[i], v)
			}
		}
	}
}

func printable(v []byte) bool {
	for _, b := range v {
		if b < 0x20 || b > 0x7E {
			return false
		}
	}
	return len(v) >= 4
}

// do sends cmd through conn (chaining and GET RESPONSE as a host does) and
// fails the test unless the card answers 9000.
func do(t *testing.T, conn *hostdriver.Conn, what string, cmd apdu.Command) []byte {
	t.Helper()
	data, err := conn.Do(context.Background(), cmd)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return data
}

// doPieces sends cmd as a chain of pieces of at most n data bytes.
func doPieces(t *testing.T, conn *hostdriver.Conn, what string, cmd apdu.Command, n int) []byte {
	t.Helper()
	parts, err := apdu.SplitChain(cmd, n)
	if err != nil {
		t.Fatal(err)
	}
	if len(parts) < 2 {
		t.Fatalf("%s: %d bytes make no chain in pieces of %d", what, len(cmd.Data), n)
	}
	var out []byte
	for i, p := range parts {
		out = do(t, conn, fmt.Sprintf("%s, piece %d", what, i), p)
	}
	return out
}

// tracedSim returns a simulator of cfg whose trace and log (at debug
// level) go to the returned buffers.
func tracedSim(t *testing.T, cfg Config) (s *Simulator, trace, logs *bytes.Buffer) {
	trace, logs = new(bytes.Buffer), new(bytes.Buffer)
	cfg.Tracer = NewTracer(trace)
	cfg.Log = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	return newTestSim(t, cfg), trace, logs
}

// pivField pads a PIN or PUK to the 8 bytes of its PIV field.
func pivField(v string) []byte { return append([]byte(v), bytes.Repeat([]byte{0xFF}, 8-len(v))...) }

// mgmtCipher returns the block cipher of a PIV management-key algorithm.
func mgmtCipher(t *testing.T, alg byte, key []byte) cipher.Block {
	t.Helper()
	var b cipher.Block
	var err error
	if alg == 0x03 {
		b, err = des.NewTripleDESCipher(key)
	} else {
		b, err = aes.NewCipher(key)
	}
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// pivMutualAuth authenticates the management key with a witness and a
// challenge (SP 800-73-4 Part 2 Appendix A.2), recording every value of
// the exchange as a secret.
func pivMutualAuth(t *testing.T, conn *hostdriver.Conn, sec *secretSet, alg byte, key []byte) {
	t.Helper()
	b := mgmtCipher(t, alg, key)
	bs := b.BlockSize()
	resp := do(t, conn, "witness request", apdu.Command{INS: 0x87, P1: alg, P2: 0x9B, Data: []byte{0x7C, 0x02, 0x80, 0x00}})
	enc, _, _ := apdu.FindTLV(resp[2:], 0x80)
	if len(enc) != bs {
		t.Fatalf("witness answer %X", resp)
	}
	wit := make([]byte, bs)
	b.Decrypt(wit, enc)
	chal := make([]byte, bs)
	rand.Read(chal)
	resp = do(t, conn, "mutual authentication", apdu.Command{INS: 0x87, P1: alg, P2: 0x9B,
		Data: apdu.Nest(0x7C, apdu.AppendTLV(nil, 0x80, wit), apdu.AppendTLV(nil, 0x81, chal))})
	answer := make([]byte, bs)
	b.Encrypt(answer, chal)
	if !bytes.Contains(resp, answer) {
		t.Fatalf("the card's answer %X holds no encrypted challenge %X", resp, answer)
	}
	sec.add(fmt.Sprintf("management key %02X", alg), key)
	sec.add("encrypted witness", enc)
	sec.add("decrypted witness", wit)
	sec.add("host challenge", chal)
	sec.add("encrypted host challenge", answer)
}

// pivExternalAuth authenticates the management key by answering the card's
// challenge (Appendix A.1), recording both as secrets.
func pivExternalAuth(t *testing.T, conn *hostdriver.Conn, sec *secretSet, alg byte, key []byte) {
	t.Helper()
	b := mgmtCipher(t, alg, key)
	resp := do(t, conn, "challenge request", apdu.Command{INS: 0x87, P1: alg, P2: 0x9B, Data: []byte{0x7C, 0x02, 0x81, 0x00}})
	chal, _, _ := apdu.FindTLV(resp[2:], 0x81)
	if len(chal) != b.BlockSize() {
		t.Fatalf("challenge answer %X", resp)
	}
	answer := make([]byte, len(chal))
	b.Encrypt(answer, chal)
	do(t, conn, "external authentication", apdu.Command{INS: 0x87, P1: alg, P2: 0x9B, Data: apdu.Nest(0x7C, apdu.AppendTLV(nil, 0x82, answer))})
	sec.add("card challenge", chal)
	sec.add("encrypted card challenge", answer)
}

// checkSession checks that neither trace nor logs hold a secret, and that
// the trace shows every hex string of shown, which are no secrets.
func (s *secretSet) checkSession(t *testing.T, trace, logs string, shown []string) {
	t.Helper()
	s.check(t, "trace", trace)
	s.check(t, "log", logs)
	for _, v := range shown {
		if !strings.Contains(trace, strings.ToUpper(v)) {
			t.Errorf("the trace does not show %s, which is no secret", v)
		}
	}
	if t.Failed() {
		t.Logf("trace:\n%s", trace)
	}
}

// newRSAKey makes an RSA-2048 key and records it as secrets: its PKCS #1
// and PKCS #8 encodings and every private component.
func (s *secretSet) newRSAKey(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	k.Precompute()
	p8, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	s.add("RSA key PKCS#1", x509.MarshalPKCS1PrivateKey(k))
	s.add("RSA key PKCS#8", p8)
	pc := k.Precomputed
	for _, c := range []struct {
		n string
		v *big.Int
	}{{"d", k.D}, {"p", k.Primes[0]}, {"q", k.Primes[1]}, {"dP", pc.Dp}, {"dQ", pc.Dq}, {"qInv", pc.Qinv}} {
		s.add("RSA key "+c.n, c.v.Bytes())
	}
	return k
}

// newP256Key makes a P-256 key and records it as secrets: d, and its
// PKCS #8 encoding.
func (s *secretSet) newP256Key(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	d, err := k.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	p8, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	s.add("P-256 key d", d)
	s.add("P-256 key PKCS#8", p8)
	return k
}

// pkcs1SignatureBlock is the PKCS #1 v1.5 type-1 block of a SHA-256
// digest for a key of size bytes (RFC 8017 §9.2).
func pkcs1SignatureBlock(size int, digest []byte) []byte {
	info := append(digestInfoSHA256(), digest...)
	block := []byte{0x00, 0x01}
	block = append(block, bytes.Repeat([]byte{0xFF}, size-3-len(info))...)
	return append(append(block, 0x00), info...)
}

// digestInfoSHA256 is the DER DigestInfo prefix of SHA-256.
func digestInfoSHA256() []byte {
	return []byte{0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20}
}

// generalAuth is the data of GENERAL AUTHENTICATE asking for a response
// (82, empty) to tag (81 challenge, 85 exponentiation) with value v.
func generalAuth(tag apdu.Tag, v []byte) []byte {
	return apdu.Nest(0x7C, []byte{0x82, 0x00}, apdu.AppendTLV(nil, tag, v))
}

// response82 returns the 82 value of a GENERAL AUTHENTICATE answer.
func response82(t *testing.T, resp []byte) []byte {
	t.Helper()
	dyn, ok, err := apdu.FindTLV(resp, 0x7C)
	if err != nil || !ok {
		t.Fatalf("GENERAL AUTHENTICATE answered %X", resp)
	}
	v, ok, err := apdu.FindTLV(dyn, 0x82)
	if err != nil || !ok {
		t.Fatalf("GENERAL AUTHENTICATE answered %X", resp)
	}
	return v
}

// publicPoint returns the 86 value of a GENERATE answer (7F49 { 86 point }).
func publicPoint(t *testing.T, resp []byte) []byte {
	t.Helper()
	tmpl, ok, err := apdu.FindTLV(resp, 0x7F49)
	if err != nil || !ok {
		t.Fatalf("GENERATE answered %X", resp)
	}
	v, ok, err := apdu.FindTLV(tmpl, 0x86)
	if err != nil || !ok {
		t.Fatalf("GENERATE answered %X", resp)
	}
	return v
}

// TestTraceWithholdsPIVSecrets runs every state-changing and private-key
// command of the PIV application through a traced card and checks that no
// PIN, PUK, management key, challenge answer, private key, shared secret
// or decrypted plaintext reaches the trace or the log, while signatures
// and public keys still show.
func TestTraceWithholdsPIVSecrets(t *testing.T) {
	s, trace, logs := tracedSim(t, Config{})
	conn := &hostdriver.Conn{T: addCard(t, s, CardSpec{Slot: 0}).Transport()}
	var sec secretSet
	var shown []string // data that must stay visible
	pin, puk, newPIN, newPUK, resetPIN := "123456", "12345678", "86420975", "97531864", "55667788"
	for _, v := range []string{pin, puk, newPIN, newPUK, resetPIN} {
		sec.add("PIN or PUK "+v, []byte(v))
		sec.add("PIN or PUK field "+v, pivField(v))
	}

	do(t, conn, "SELECT", apdu.Command{INS: 0xA4, P1: 0x04, Data: []byte{0xA0, 0, 0, 3, 8}})
	do(t, conn, "VERIFY", apdu.Command{INS: 0x20, P2: 0x80, Data: pivField(pin)})
	do(t, conn, "CHANGE PIN", apdu.Command{INS: 0x24, P2: 0x80, Data: append(pivField(pin), pivField(newPIN)...)})
	do(t, conn, "CHANGE PUK", apdu.Command{INS: 0x24, P2: 0x81, Data: append(pivField(puk), pivField(newPUK)...)})
	do(t, conn, "RESET RETRY COUNTER", apdu.Command{INS: 0x2C, P2: 0x80, Data: append(pivField(newPUK), pivField(resetPIN)...)})
	do(t, conn, "VERIFY the new PIN", apdu.Command{INS: 0x20, P2: 0x80, Data: pivField(resetPIN)})

	tdes := bytes.Repeat([]byte{1, 2, 3, 4, 5, 6, 7, 8}, 3)
	pivMutualAuth(t, conn, &sec, 0x03, tdes)
	pivExternalAuth(t, conn, &sec, 0x03, tdes)
	aesKey := make([]byte, 16)
	rand.Read(aesKey)
	do(t, conn, "SET MANAGEMENT KEY", apdu.Command{INS: 0xFF, P1: 0xFF, P2: 0xFF, Data: append([]byte{0x08, 0x9B, 16}, aesKey...)})
	pivMutualAuth(t, conn, &sec, 0x08, aesKey)
	pivExternalAuth(t, conn, &sec, 0x08, aesKey)

	// IMPORT an RSA-2048 key into 9D (chained) and a P-256 key into 9A.
	rsaKey := sec.newRSAKey(t)
	pc := rsaKey.Precomputed
	var rsaImport []byte
	for i, v := range []*big.Int{rsaKey.Primes[0], rsaKey.Primes[1], pc.Dp, pc.Dq, pc.Qinv} {
		rsaImport = apdu.AppendTLV(rsaImport, apdu.Tag(i+1), v.FillBytes(make([]byte, 128)))
	}
	do(t, conn, "IMPORT RSA-2048", apdu.Command{INS: 0xFE, P1: 0x07, P2: 0x9D, Data: rsaImport})
	ecKey := sec.newP256Key(t)
	d, _ := ecKey.Bytes()
	do(t, conn, "IMPORT P-256", apdu.Command{INS: 0xFE, P1: 0x11, P2: 0x9A, Data: apdu.AppendTLV(nil, 0x06, d)})

	// GENERATE P-256 in 9E and X25519 in 82: public keys, shown.
	point := publicPoint(t, do(t, conn, "GENERATE P-256", apdu.Command{INS: 0x47, P2: 0x9E, Data: []byte{0xAC, 0x03, 0x80, 0x01, 0x11}}))
	shown = append(shown, hex.EncodeToString(point))
	x25519Pub := publicPoint(t, do(t, conn, "GENERATE X25519", apdu.Command{INS: 0x47, P2: 0x82, Data: []byte{0xAC, 0x03, 0x80, 0x01, 0xE1}}))

	// Sign: RSA (a PKCS #1 v1.5 block, chained, answered through GET
	// RESPONSE) and ECDSA. Signatures show.
	digest := sha256.Sum256([]byte("tessera trace"))
	sig := response82(t, do(t, conn, "RSA sign", apdu.Command{INS: 0x87, P1: 0x07, P2: 0x9D, Data: generalAuth(0x81, pkcs1SignatureBlock(256, digest[:]))}))
	if err := rsa.VerifyPKCS1v15(&rsaKey.PublicKey, crypto.SHA256, digest[:], sig); err != nil {
		t.Fatalf("RSA signature: %v", err)
	}
	// The end of the signature comes through GET RESPONSE, which shows
	// what the signature's answer may.
	shown = append(shown, hex.EncodeToString(sig[:64]), hex.EncodeToString(sig[len(sig)-8:])+"9000")
	ecSig := response82(t, do(t, conn, "ECDSA sign", apdu.Command{INS: 0x87, P1: 0x11, P2: 0x9A, Data: generalAuth(0x81, digest[:])}))
	if !ecdsa.VerifyASN1(&ecKey.PublicKey, digest[:], ecSig) {
		t.Fatal("ECDSA signature does not verify")
	}
	shown = append(shown, hex.EncodeToString(ecSig))

	// RSA decryption: the plaintext, and the padded block the card
	// answers, are secret.
	msg := make([]byte, 32)
	rand.Read(msg)
	ct, err := rsa.EncryptPKCS1v15(rand.Reader, &rsaKey.PublicKey, msg)
	if err != nil {
		t.Fatal(err)
	}
	block := response82(t, do(t, conn, "RSA decrypt", apdu.Command{INS: 0x87, P1: 0x07, P2: 0x9D, Data: generalAuth(0x81, ct)}))
	if !bytes.HasSuffix(block, msg) {
		t.Fatalf("RSA decryption answered %X, want a block ending in %X", block, msg)
	}
	sec.add("RSA plaintext", msg)
	sec.add("RSA decrypted block", block)
	shown = append(shown, hex.EncodeToString(ct[:64]))

	// ECDH with P-256 (9A) and X25519 (82): the shared secrets.
	peer, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	z := response82(t, do(t, conn, "ECDH P-256", apdu.Command{INS: 0x87, P1: 0x11, P2: 0x9A, Data: generalAuth(0x85, peer.PublicKey().Bytes())}))
	cardPub, _ := ecKey.PublicKey.ECDH()
	if want, _ := peer.ECDH(cardPub); !bytes.Equal(z, want) {
		t.Fatalf("ECDH P-256 = %X, want %X", z, want)
	}
	sec.add("P-256 shared secret", z)
	xPeer, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	z = response82(t, do(t, conn, "ECDH X25519", apdu.Command{INS: 0x87, P1: 0xE1, P2: 0x82, Data: generalAuth(0x85, xPeer.PublicKey().Bytes())}))
	xCard, err := ecdh.X25519().NewPublicKey(x25519Pub)
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := xPeer.ECDH(xCard); !bytes.Equal(z, want) {
		t.Fatalf("ECDH X25519 = %X, want %X", z, want)
	}
	sec.add("X25519 shared secret", z)

	sec.checkSession(t, trace.String(), logs.String(), shown)
}

// TestTraceWithholdsISOSecrets personalises an ISO token (PUK, PIN),
// changes and unblocks its PIN, imports RSA and EC keys (chained), and
// deciphers and signs with them, through a traced card: no PIN, PUK,
// private key or plaintext reaches the trace or the log, while signatures
// and public keys still show.
func TestTraceWithholdsISOSecrets(t *testing.T) {
	s, trace, logs := tracedSim(t, Config{})
	conn := &hostdriver.Conn{T: addCard(t, s, CardSpec{Slot: 0, Profile: "iso-token"}).Transport()}
	var sec secretSet
	var shown []string
	pad := func(v string) []byte { return append([]byte(v), make([]byte, 16-len(v))...) }
	puk, pin, newPIN, resetPIN := "PuK-0f-tessera!!", "274951", "Tr4ce-Pin-2", "a8c3e1f7"
	sec.add("PUK", []byte(puk))
	for _, v := range []string{pin, newPIN, resetPIN} {
		sec.add("PIN "+v, []byte(v))
		sec.add("padded PIN "+v, pad(v))
	}

	do(t, conn, "SELECT", apdu.Command{INS: 0xA4, P1: 0x04, Data: unhex(t, "f276a288bcfba69d34f31001")})
	do(t, conn, "set the PUK", apdu.Command{INS: 0x24, P1: 0x01, P2: 0x02, Data: []byte(puk)})
	do(t, conn, "set the PIN", apdu.Command{INS: 0x24, P1: 0x01, P2: 0x01, Data: []byte(pin)})
	do(t, conn, "VERIFY", apdu.Command{INS: 0x20, P2: 0x01, Data: pad(pin)})
	do(t, conn, "change the PIN", apdu.Command{INS: 0x24, P2: 0x01, Data: append(pad(pin), pad(newPIN)...)})
	do(t, conn, "unblock the PIN", apdu.Command{INS: 0x2C, P2: 0x01, Data: append([]byte(puk), resetPIN...)})
	do(t, conn, "VERIFY the new PIN", apdu.Command{INS: 0x20, P2: 0x01, Data: pad(resetPIN)})

	// Import RSA-2048 into slot 1 (chained by the host) and P-256 into
	// slot 2 (in pieces of 100 bytes).
	rsaKey := sec.newRSAKey(t)
	pc := rsaKey.Precomputed
	var crt [][]byte
	for i, v := range []*big.Int{rsaKey.Primes[0], rsaKey.Primes[1], pc.Qinv, pc.Dp, pc.Dq} {
		crt = append(crt, apdu.AppendTLV(nil, apdu.Tag(0x92+i), v.Bytes()))
	}
	do(t, conn, "MSE key generation RSA", apdu.Command{INS: 0x22, P1: 0x41, Data: unhex(t, "8001F3840101")})
	do(t, conn, "import RSA", apdu.Command{INS: 0xDB, P1: 0x3F, P2: 0xFF, Data: apdu.Nest(0x7F48, crt...)})
	ecKey := sec.newP256Key(t)
	d, _ := ecKey.Bytes()
	cp := elliptic.P256().Params()
	size := func(v *big.Int) []byte { return v.FillBytes(make([]byte, 32)) }
	g := append(append([]byte{0x04}, size(cp.Gx)...), size(cp.Gy)...)
	params := [][]byte{
		apdu.AppendTLV(nil, 0x81, size(cp.P)),
		apdu.AppendTLV(nil, 0x82, size(new(big.Int).Sub(cp.P, big.NewInt(3)))),
		apdu.AppendTLV(nil, 0x83, size(cp.B)),
		apdu.AppendTLV(nil, 0x84, g),
		apdu.AppendTLV(nil, 0x85, size(cp.N)),
		apdu.AppendTLV(nil, 0x87, []byte{0x00, 0x01}),
		apdu.AppendTLV(nil, 0x88, d),
	}
	do(t, conn, "MSE key generation EC", apdu.Command{INS: 0x22, P1: 0x41, Data: unhex(t, "8001EC840102")})
	doPieces(t, conn, "import EC", apdu.Command{INS: 0xDB, P1: 0x3F, P2: 0xFF, Data: apdu.Nest(0xE0, params...)}, 100)

	// GENERATE RSA in slot 0: the public key shows.
	do(t, conn, "MSE key generation RSA", apdu.Command{INS: 0x22, P1: 0x41, Data: unhex(t, "8001F3840100")})
	gen, _, _ := apdu.FindTLV(do(t, conn, "GENERATE", apdu.Command{INS: 0x46, P1: 0x42}), 0x7F49)
	if n, ok, _ := apdu.FindTLV(gen, 0x81); ok && len(n) == 256 {
		shown = append(shown, hex.EncodeToString(n[:64]))
	} else {
		t.Fatalf("GENERATE answered %X", gen)
	}

	// Decipher with the imported RSA key (chained): the plaintext is secret.
	msg := make([]byte, 32)
	rand.Read(msg)
	ct, err := rsa.EncryptPKCS1v15(rand.Reader, &rsaKey.PublicKey, msg)
	if err != nil {
		t.Fatal(err)
	}
	sec.add("RSA plaintext", msg)
	do(t, conn, "MSE decipher", apdu.Command{INS: 0x22, P1: 0x41, P2: 0xB8, Data: unhex(t, "800111810250158401 01")})
	if plain := do(t, conn, "DECIPHER", apdu.Command{INS: 0x2A, P1: 0x80, P2: 0x86, Data: append([]byte{0}, ct...)}); !bytes.Equal(plain, msg) {
		t.Fatalf("DECIPHER = %X, want %X", plain, msg)
	}
	shown = append(shown, hex.EncodeToString(ct[:64]))

	// Sign with both imported keys: signatures show.
	digest := sha256.Sum256([]byte("tessera trace"))
	do(t, conn, "MSE sign RSA", apdu.Command{INS: 0x22, P1: 0x41, P2: 0xB6, Data: unhex(t, "800111810250158401 01")})
	sig := do(t, conn, "sign RSA", apdu.Command{INS: 0x2A, P1: 0x9E, P2: 0x9A, Data: append(digestInfoSHA256(), digest[:]...), Ne: 256})
	if err := rsa.VerifyPKCS1v15(&rsaKey.PublicKey, crypto.SHA256, digest[:], sig); err != nil {
		t.Fatalf("RSA signature: %v", err)
	}
	shown = append(shown, hex.EncodeToString(sig[:64]))
	do(t, conn, "MSE sign EC", apdu.Command{INS: 0x22, P1: 0x41, P2: 0xB6, Data: unhex(t, "800121810250158401 02")})
	ecSig := do(t, conn, "sign EC", apdu.Command{INS: 0x2A, P1: 0x9E, P2: 0x9A, Data: []byte("hello"), Ne: 256})
	if h := sha1.Sum([]byte("hello")); !ecdsa.VerifyASN1(&ecKey.PublicKey, h[:], ecSig) {
		t.Fatal("ECDSA signature does not verify")
	}
	shown = append(shown, hex.EncodeToString(ecSig))

	sec.checkSession(t, trace.String(), logs.String(), shown)
}

// TestTraceWithholdsWhatAQuirkAnswers: a command a wire quirk answers
// without the card (here a VERIFY refused 6D00 while the quirk
// select-failure-deselects holds the card deselected) is withheld, not
// shown under the disclosure of the command before it.
func TestTraceWithholdsWhatAQuirkAnswers(t *testing.T) {
	s, trace, _ := tracedSim(t, Config{Profile: quirkProfile(t, "select-failure-deselects")})
	tr := addCard(t, s, CardSpec{Slot: 0}).Transport()
	transmit(t, tr, selectPIV)
	transmit(t, tr, "00A4040005F054455353") // absent: 6A82, and the quirk deselects
	if got := transmit(t, tr, "002000800831323334353637FF"); got != "6D00" {
		t.Fatalf("VERIFY after the failed SELECT = %s, want 6D00", got)
	}
	if strings.Contains(trace.String(), "31323334353637") {
		t.Errorf("the trace shows the PIN a quirk refused:\n%s", trace.String())
	}
	if !strings.Contains(trace.String(), "0020008008XXXXXXXXXXXXXXXX") {
		t.Errorf("the trace has no withheld VERIFY:\n%s", trace.String())
	}
}
