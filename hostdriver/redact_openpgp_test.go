package hostdriver_test

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/tesseracard/tessera/apdu"
	"github.com/tesseracard/tessera/hostdriver"
)

// TestRedactorOpenPGP: the host-side rule set against the commands the
// OpenPGP application implements (OpenPGP card 3.4 §7.2), one exchange
// each: passwords (VERIFY, CHANGE REFERENCE DATA, RESET RETRY COUNTER with
// the resetting code or after PW3), the resetting code D3, the AES key D5,
// the KDF-DO F9 and private-use DOs written, and key import (DB) withheld
// in the command; DECIPHER's answer and the PIN-protected private-use DOs
// 0103 and 0104 withheld in the answer; the rest shown.
func TestRedactorOpenPGP(t *testing.T) {
	tests := []struct {
		name           string
		cmd            string
		wantCmd, wantR bool
	}{
		{"SELECT by the AID's first 6 bytes", "00A4040006D2760001240100", true, true},
		{"GET DATA 6E", "00CA006E00", true, true},
		{"GET DATA C4", "00CA00C400", true, true},
		{"GET DATA 7A (signature counter)", "00CA007A00", true, true},
		{"GET DATA 65", "00CA006500", true, true},
		{"GET DATA FA (algorithm information)", "00CA00FA00", true, true},
		{"GET DATA 0101 (private use, always readable)", "00CA010100", true, true},
		{"GET DATA 0103 (private use, after PW1)", "00CA010300", true, false},
		{"GET DATA 0104 (private use, after PW3)", "00CA010400", true, false},
		{"VERIFY 81", "0020008106313233343536", false, true},
		{"VERIFY 82", "0020008206313233343536", false, true},
		{"VERIFY 83", "00200083083132333435363738", false, true},
		{"VERIFY 82 without data (status)", "00200082", true, true},
		{"VERIFY 82 P1 FF (reset status)", "0020FF82", true, true},
		{"CHANGE REFERENCE DATA 81", "002400810C313233343536363534333231", false, true},
		{"CHANGE REFERENCE DATA 83", "0024008310" + strings.Repeat("31", 16), false, true},
		{"RESET RETRY COUNTER with the resetting code", "002C00810E" + strings.Repeat("32", 14), false, true},
		{"RESET RETRY COUNTER after PW3", "002C028106363534333231", false, true},
		{"PUT DATA 5B (name)", "00DA005B09546573736572613C3C", true, true},
		{"PUT DATA 5E (login)", "00DA005E03616263", true, true},
		{"PUT DATA C1 (algorithm attributes)", "00DA00C10A162B06010401DA470F01", true, true},
		{"PUT DATA C4 (PW1 validity)", "00DA00C40101", true, true},
		{"PUT DATA C7 (fingerprint)", "00DA00C714" + strings.Repeat("A1", 20), true, true},
		{"PUT DATA CE (date)", "00DA00CE0465000000", true, true},
		{"PUT DATA D9 (attestation touch policy)", "00DA00D9020120", true, true},
		{"PUT DATA DA (attestation key attributes)", "00DA00DA0A162B06010401DA470F01", true, true},
		{"PUT DATA DB (attestation key fingerprint)", "00DA00DB14" + strings.Repeat("A1", 20), true, true},
		{"PUT DATA FC (attestation certificate)", "00DA00FC0430023000", true, true},
		{"GET ATTESTATION of the signature key", "80FB0100", true, true},
		{"GET DATA FC", "00CA00FC00", true, true},
		{"PUT DATA D3 (resetting code)", "00DA00D30A" + strings.Repeat("33", 10), false, true},
		{"PUT DATA D3 empty (no resetting code)", "00DA00D3", true, true},
		{"PUT DATA D5 (AES key)", "00DA00D510" + strings.Repeat("AA", 16), false, true},
		{"PUT DATA F9 (KDF-DO)", "00DA00F903810100", false, true},
		{"PUT DATA 0103 (private use)", "00DA01030401020304", false, true},
		{"PUT DATA DB key import", "00DB3FFF0A4D08B6007F4802922000", false, true},
		{"PUT DATA C2 (brainpoolP512r1 ECDH attributes)", "00DA00C20A122B240303020801010D", true, true},
		{"PUT DATA DB key import (brainpoolP256r1, 32-byte scalar)", "00DB3FFF2C4D2AB8007F480292205F4820" + strings.Repeat("42", 32), false, true},
		{"GENERATE", "0047800002B60000", true, true},
		{"GENERATE, read the public key", "0047810002B60000", true, true},
		{"PSO:CDS", "002A9E9A0409616263", true, true},
		{"PSO:DECIPHER", "002A80860401020304", true, false},
		{"INTERNAL AUTHENTICATE", "00880000040102030400", true, true},
		{"GET CHALLENGE", "0084000008", true, false},
		{"TERMINATE DF", "00E60000", true, true},
		{"ACTIVATE FILE", "00440000", true, true},
	}
	for _, tt := range tests {
		var r hostdriver.Redactor
		gotCmd, gotR := r.Disclose(unhex(tt.cmd), unhex("9000"))
		if gotCmd != tt.wantCmd || gotR != tt.wantR {
			t.Errorf("%s: Disclose(%s) = (%v, %v), want (%v, %v)", tt.name, tt.cmd, gotCmd, gotR, tt.wantCmd, tt.wantR)
		}
	}
}

// TestRedactorOpenPGPSession drives the simulated OpenPGP application
// through a session with every secret it takes or gives: PW1, PW3, a
// changed PW1, a resetting code, an imported Ed25519 key, an X25519 shared
// secret from DECIPHER; the session as the Redactor shows it (apdu.RedactHex)
// holds none of them, and still shows the public parts (the generated
// public key, the signature).
func TestRedactorOpenPGPSession(t *testing.T) {
	card, _, _ := newCard(t, "openpgp")
	var log strings.Builder
	var r hostdriver.Redactor
	c := &hostdriver.Conn{T: cardTransport{card}, Trace: func(cmd, resp []byte) {
		sc, sr := r.Disclose(cmd, resp)
		ch, rh, _ := apdu.RedactHex(cmd, resp, sc, sr)
		log.WriteString("> " + ch + "\n< " + rh + "\n")
	}}
	send := func(cmd apdu.Command) []byte {
		t.Helper()
		resp, err := c.Transmit(context.Background(), cmd)
		if err != nil || resp.SW != apdu.SWSuccess {
			t.Fatalf("%02X %02X %02X: %04X, %v", cmd.INS, cmd.P1, cmd.P2, uint16(resp.SW), err)
		}
		return resp.Data
	}
	seed := make([]byte, ed25519.SeedSize)
	rand.Read(seed)
	signPub := ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey)
	importList := apdu.Nest(0x4D, []byte{0xB6, 0x00}, apdu.AppendTLV(nil, 0x7F48, []byte{0x92, 0x20}), apdu.AppendTLV(nil, 0x5F48, seed))
	host, _ := ecdh.X25519().GenerateKey(rand.Reader)
	const rc = "resetting-code"
	// A brainpoolP256r1 authentication key (C3 13 + OID 1.3.36.3.3.2.8.1.1.7):
	// a scalar below n (n starts A9FB).
	bpD := make([]byte, 32)
	rand.Read(bpD)
	bpD[0] = 0x42
	bpImport := apdu.Nest(0x4D, []byte{0xA4, 0x00}, apdu.AppendTLV(nil, 0x7F48, []byte{0x92, 0x20}), apdu.AppendTLV(nil, 0x5F48, bpD))

	send(apdu.Command{INS: apdu.InsSelect, P1: 0x04, Data: hostdriver.OpenPGPAID()})
	send(opgpVerify(0x83, "12345678"))
	send(opgpPut(0xD3, []byte(rc)))
	send(opgpPut(0xC1, []byte{0x16, 0x2B, 0x06, 0x01, 0x04, 0x01, 0xDA, 0x47, 0x0F, 0x01}))
	send(apdu.Command{INS: apdu.InsPutDataOdd, P1: 0x3F, P2: 0xFF, Data: importList})
	send(opgpPut(0xC3, []byte{0x13, 0x2B, 0x24, 0x03, 0x03, 0x02, 0x08, 0x01, 0x01, 0x07}))
	send(apdu.Command{INS: apdu.InsPutDataOdd, P1: 0x3F, P2: 0xFF, Data: bpImport})
	send(opgpPut(0xC2, []byte{0x12, 0x2B, 0x06, 0x01, 0x04, 0x01, 0x97, 0x55, 0x01, 0x05, 0x01}))
	pubTmpl := send(apdu.Command{INS: apdu.InsGenerateKeyPairOdd, P1: 0x80, Data: []byte{0xB8, 0x00}, Ne: 256})
	t7f49, _, err := apdu.ParseTLV(pubTmpl)
	if err != nil {
		t.Fatal(err)
	}
	point, _, _ := apdu.FindTLV(t7f49.Value, 0x86)
	cardPub, err := ecdh.X25519().NewPublicKey(point)
	if err != nil {
		t.Fatal(err)
	}
	shared, _ := host.ECDH(cardPub)
	send(apdu.Command{INS: apdu.InsResetRetryCounter, P2: 0x81, Data: []byte(rc + "654321")})
	send(apdu.Command{INS: apdu.InsChangeReferenceData, P2: 0x81, Data: []byte("654321" + "123456")})
	send(opgpVerify(0x81, "123456"))
	sig := send(apdu.Command{INS: apdu.InsPerformSecurityOperation, P1: 0x9E, P2: 0x9A, Data: []byte("message"), Ne: 256})
	if !ed25519.Verify(signPub, []byte("message"), sig) {
		t.Fatal("the imported key's signature does not verify")
	}
	send(opgpVerify(0x82, "123456"))
	got := send(apdu.Command{INS: apdu.InsPerformSecurityOperation, P1: 0x80, P2: 0x86, Data: apdu.Nest(0xA6, apdu.Nest(0x7F49, apdu.AppendTLV(nil, 0x86, host.PublicKey().Bytes()))), Ne: 256})
	if !bytes.Equal(got, shared) {
		t.Fatal("DECIPHER did not answer the shared secret")
	}
	bpSig := send(apdu.Command{INS: 0x88, // INTERNAL AUTHENTICATE
		Data: []byte("a server's challenge"), Ne: 256})
	if len(bpSig) != 64 {
		t.Fatalf("INTERNAL AUTHENTICATE with the brainpoolP256r1 key answered %d bytes, want r||s of 64", len(bpSig))
	}

	shown := log.String()
	for name, secret := range map[string][]byte{
		"PW1": []byte("123456"), "PW3": []byte("12345678"), "the changed PW1": []byte("654321"),
		"the resetting code": []byte(rc), "the imported seed": seed, "the shared secret": shared,
		"the imported brainpool scalar": bpD,
	} {
		if strings.Contains(shown, strings.ToUpper(hex.EncodeToString(secret))) {
			t.Errorf("the redacted session shows %s:\n%s", name, shown)
		}
	}
	for name, public := range map[string][]byte{"the generated public key": point, "the signature": sig, "the brainpool signature": bpSig} {
		if !strings.Contains(shown, strings.ToUpper(hex.EncodeToString(public))) {
			t.Errorf("the redacted session hides %s:\n%s", name, shown)
		}
	}
}
