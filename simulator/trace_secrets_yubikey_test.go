package simulator

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/tesseracard/tessera/apdu"
	"github.com/tesseracard/tessera/hostdriver"
)

// The YubiKey applications' secrets through the real trace path: a
// yubikey-5.7 card in a traced simulator, driven as ykman and scdaemon
// drive it; no password, resetting code, private key (the OpenPGP
// attestation key's included), shared secret, random challenge, private-use
// DO, OATH secret, access code response, one-time code or configuration
// lock code reaches the trace or the log, nor a host-side record of the
// same session (hostdriver.Redactor: relays, conformance failure dumps).

// openPGPAttrEd25519 and openPGPAttrX25519 are OpenPGP algorithm attributes
// (C1-C3, DA).
var (
	openPGPAttrEd25519 = []byte{0x16, 0x2B, 0x06, 0x01, 0x04, 0x01, 0xDA, 0x47, 0x0F, 0x01}
	openPGPAttrX25519  = []byte{0x12, 0x2B, 0x06, 0x01, 0x04, 0x01, 0x97, 0x55, 0x01, 0x05, 0x01}
)

// openPGPImportEd25519 is key import (PUT DATA DB 3FFF, an extended header
// list 4D) of an Ed25519 private scalar d into the key crt names (B6 00:
// the signature key; B6 03 84 01 81: the YubiKey's attestation key).
func openPGPImportEd25519(crt, d []byte) apdu.Command {
	body := append(bytes.Clone(crt), apdu.AppendTLV(nil, 0x7F48, []byte{0x92, byte(len(d))})...)
	body = apdu.AppendTLV(body, 0x5F48, d)
	return apdu.Command{INS: 0xDB, P1: 0x3F, P2: 0xFF, Data: apdu.AppendTLV(nil, 0x4D, body)}
}

// hostRecord is a transport that also writes every exchange as a host-side
// record does (a relay's trace, a conformance failure dump): redacted by
// hostdriver.Redactor, which must withhold what the card's applications do.
type hostRecord struct {
	t        hostdriver.Transport
	redactor hostdriver.Redactor
	text     strings.Builder
}

func (h *hostRecord) Transmit(ctx context.Context, cmd []byte) ([]byte, error) {
	resp, err := h.t.Transmit(ctx, cmd)
	if err != nil {
		return nil, err
	}
	showCmd, showResp := h.redactor.Disclose(cmd, resp)
	c, r, _ := apdu.RedactHex(cmd, resp, showCmd, showResp)
	h.text.WriteString(c + " " + r + "\n")
	return resp, nil
}

// yubikeySession returns a traced simulator's yubikey-5.7 card, a
// connection to it that host-side records too, and the trace, the log and
// that record.
func yubikeySession(t *testing.T) (conn *hostdriver.Conn, trace, logs *bytes.Buffer, host *hostRecord) {
	s, trace, logs := tracedSim(t, Config{})
	host = &hostRecord{t: addCard(t, s, CardSpec{Slot: 0, Profile: "yubikey-5.7"}).Transport()}
	return &hostdriver.Conn{T: host}, trace, logs, host
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// TestTraceWithholdsOpenPGPSecrets: PW1, PW3 and the resetting code
// (VERIFY, CHANGE REFERENCE DATA, RESET RETRY COUNTER, PUT DATA D3), key
// import (chained) of a signature key and of the attestation key (B6 84 01
// 81), a private-use DO written and read, PSO:DECIPHER's shared secret and
// GET CHALLENGE's random bytes stay out of the trace and the log; SET PIN
// RETRIES, GET ATTESTATION and public keys show.
func TestTraceWithholdsOpenPGPSecrets(t *testing.T) {
	conn, trace, logs, host := yubikeySession(t)
	var sec secretSet
	var shown []string
	pw1, pw3, rc := "123456", "12345678", "87654321"
	newPW1, resetPW1, newPW3 := "24681357", "11223344", "13572468"
	for _, v := range []string{pw1, pw3, rc, newPW1, resetPW1, newPW3} {
		sec.add("password "+v, []byte(v))
	}
	pw := func(what string, ins, p2 byte, v string) {
		do(t, conn, what, apdu.Command{INS: ins, P2: p2, Data: []byte(v)})
	}

	do(t, conn, "SELECT OpenPGP", apdu.Command{INS: 0xA4, P1: 0x04, Data: []byte{0xD2, 0x76, 0x00, 0x01, 0x24, 0x01}})
	pw("VERIFY PW3", 0x20, 0x83, pw3)
	do(t, conn, "SET PIN RETRIES", apdu.Command{INS: 0xF2, Data: []byte{0x05, 0x04, 0x06}})
	shown = append(shown, "00F2000003050406")
	pw("VERIFY PW3 again", 0x20, 0x83, pw3)
	do(t, conn, "PUT DATA D3 (resetting code)", apdu.Command{INS: 0xDA, P2: 0xD3, Data: []byte(rc)})
	private := randomBytes(24)
	sec.add("private-use DO 0104", private)
	do(t, conn, "PUT DATA 0104", apdu.Command{INS: 0xDA, P1: 0x01, P2: 0x04, Data: private})
	if got := do(t, conn, "GET DATA 0104", apdu.Command{INS: 0xCA, P1: 0x01, P2: 0x04, Ne: 256}); !bytes.Equal(got, private) {
		t.Fatalf("GET DATA 0104 = %X, want %X", got, private)
	}

	// Key import: the signature key chained, the attestation key whole.
	do(t, conn, "PUT DATA C1 (Ed25519)", apdu.Command{INS: 0xDA, P2: 0xC1, Data: openPGPAttrEd25519})
	sigSeed := randomBytes(32)
	sec.add("signature key", sigSeed)
	doPieces(t, conn, "import the signature key", openPGPImportEd25519([]byte{0xB6, 0x00}, sigSeed), 32)
	do(t, conn, "PUT DATA DA (Ed25519)", apdu.Command{INS: 0xDA, P2: 0xDA, Data: openPGPAttrEd25519})
	attSeed := randomBytes(32)
	sec.add("attestation key", attSeed)
	sec.add("attestation key (PKCS #8 form)", ed25519.NewKeyFromSeed(attSeed))
	do(t, conn, "import the attestation key", openPGPImportEd25519([]byte{0xB6, 0x03, 0x84, 0x01, 0x81}, attSeed))

	// A decryption key generated: its public key shows.
	do(t, conn, "PUT DATA C2 (X25519)", apdu.Command{INS: 0xDA, P2: 0xC2, Data: openPGPAttrX25519})
	cardPub := publicPoint(t, do(t, conn, "GENERATE the decryption key", apdu.Command{INS: 0x47, P1: 0x80, Data: []byte{0xB8, 0x00}, Ne: 256}))
	shown = append(shown, hex.EncodeToString(cardPub))

	pw("VERIFY PW1 81", 0x20, 0x81, pw1)
	do(t, conn, "GET ATTESTATION of the decryption key", apdu.Command{CLA: 0x80, INS: 0xFB, P1: 0x02})
	shown = append(shown, "80FB0200")
	pw("CHANGE PW1", 0x24, 0x81, pw1+newPW1)
	pw("RESET RETRY COUNTER with the resetting code", 0x2C, 0x81, rc+resetPW1)
	pw("CHANGE PW3", 0x24, 0x83, pw3+newPW3)
	pw("VERIFY PW3 (new)", 0x20, 0x83, newPW3)
	pw("VERIFY PW1 82", 0x20, 0x82, resetPW1)

	peer, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ct := apdu.AppendTLV(nil, 0xA6, apdu.AppendTLV(nil, 0x7F49, apdu.AppendTLV(nil, 0x86, peer.PublicKey().Bytes())))
	z := do(t, conn, "PSO:DECIPHER", apdu.Command{INS: 0x2A, P1: 0x80, P2: 0x86, Data: ct, Ne: 256})
	cardKey, err := ecdh.X25519().NewPublicKey(cardPub)
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := peer.ECDH(cardKey); !bytes.Equal(z, want) {
		t.Fatalf("PSO:DECIPHER = %X, want the shared secret %X", z, want)
	}
	sec.add("X25519 shared secret", z)
	shown = append(shown, hex.EncodeToString(peer.PublicKey().Bytes()))

	challenge := do(t, conn, "GET CHALLENGE", apdu.Command{INS: 0x84, Ne: 32})
	if len(challenge) != 32 {
		t.Fatalf("GET CHALLENGE answered %d bytes, want 32", len(challenge))
	}
	sec.add("GET CHALLENGE's random bytes", challenge)

	sec.checkSession(t, trace.String(), logs.String(), shown)
	sec.check(t, "host-side record", host.text.String())
}

// TestTraceWithholdsOATHSecrets: a credential's secret (PUT), the one-time
// codes (CALCULATE, CALCULATE ALL), the access code's key and the responses
// computed with it (SET CODE, VALIDATE both ways) stay out of the trace and
// the log; the credential's name shows.
func TestTraceWithholdsOATHSecrets(t *testing.T) {
	conn, trace, logs, host := yubikeySession(t)
	var sec secretSet
	name := []byte("tessera:trace")
	tlvs := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	sel := apdu.Command{INS: 0xA4, P1: 0x04, Data: []byte{0xA0, 0x00, 0x00, 0x05, 0x27, 0x21, 0x01}}

	do(t, conn, "SELECT OATH", sel)
	secret := randomBytes(20)
	sec.add("credential secret", secret)
	do(t, conn, "PUT", apdu.Command{INS: 0x01, Data: tlvs(apdu.AppendTLV(nil, 0x71, name), apdu.AppendTLV(nil, 0x73, append([]byte{0x21, 6}, secret...)))})
	step := []byte{0, 0, 0, 0, 0x03, 0x5B, 0x5C, 0x21}
	code := do(t, conn, "CALCULATE", apdu.Command{INS: 0xA2, P2: 0x01, Data: tlvs(apdu.AppendTLV(nil, 0x71, name), apdu.AppendTLV(nil, 0x74, step)), Ne: 256})
	sec.add("one-time code", code)
	all := do(t, conn, "CALCULATE ALL", apdu.Command{INS: 0xA4, P2: 0x01, Data: apdu.AppendTLV(nil, 0x74, step), Ne: 256})
	sec.add("CALCULATE ALL's codes", all[len(all)-7:])

	accessKey := randomBytes(16)
	sec.add("access code key", accessKey)
	mac := func(key, msg []byte) []byte {
		m := hmac.New(sha1.New, key)
		m.Write(msg)
		return m.Sum(nil)
	}
	hostCh := randomBytes(8)
	sec.add("SET CODE's response", mac(accessKey, hostCh))
	do(t, conn, "SET CODE", apdu.Command{INS: 0x03, Data: tlvs(apdu.AppendTLV(nil, 0x73, append([]byte{0x21}, accessKey...)), apdu.AppendTLV(nil, 0x74, hostCh), apdu.AppendTLV(nil, 0x75, mac(accessKey, hostCh)))})
	info := do(t, conn, "SELECT OATH again", sel)
	cardCh, ok, err := apdu.FindTLV(info, 0x74)
	if err != nil || !ok {
		t.Fatalf("SELECT with an access code answered %X: no challenge", info)
	}
	hostCh2 := randomBytes(8)
	sec.add("VALIDATE's response", mac(accessKey, cardCh))
	sec.add("the card's VALIDATE proof", mac(accessKey, hostCh2))
	do(t, conn, "VALIDATE", apdu.Command{INS: 0xA3, Data: tlvs(apdu.AppendTLV(nil, 0x75, mac(accessKey, cardCh)), apdu.AppendTLV(nil, 0x74, hostCh2)), Ne: 256})
	do(t, conn, "LIST", apdu.Command{INS: 0xA1, Ne: 256})

	sec.checkSession(t, trace.String(), logs.String(), []string{hex.EncodeToString(name)})
	sec.check(t, "host-side record", host.text.String())
}

// TestTraceWithholdsMgmtLockCode: WRITE CONFIG setting the configuration
// lock code, and the one unlocking with it, keep the code out of the
// trace and the log; a WRITE CONFIG without one shows.
func TestTraceWithholdsMgmtLockCode(t *testing.T) {
	conn, trace, logs, host := yubikeySession(t)
	var sec secretSet
	lock := randomBytes(16)
	sec.add("lock code", lock)
	write := func(what string, tlvs ...[]byte) {
		body := bytes.Join(tlvs, nil)
		do(t, conn, what, apdu.Command{INS: 0x1C, P1: 0x00, Data: append([]byte{byte(len(body))}, body...)})
	}
	do(t, conn, "SELECT management", apdu.Command{INS: 0xA4, P1: 0x04, Data: []byte{0xA0, 0x00, 0x00, 0x05, 0x27, 0x47, 0x11, 0x17}})
	write("WRITE CONFIG (lock code)", apdu.AppendTLV(nil, 0x0A, lock))
	write("WRITE CONFIG (unlock, clear the code)", apdu.AppendTLV(nil, 0x0B, lock), apdu.AppendTLV(nil, 0x0A, make([]byte, 16)))
	write("WRITE CONFIG (no code)", apdu.AppendTLV(nil, 0x06, []byte{0x00, 0x00}))
	sec.checkSession(t, trace.String(), logs.String(), []string{"001C0000050406020000"})
	sec.check(t, "host-side record", host.text.String())
}
