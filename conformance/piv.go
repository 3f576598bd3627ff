package conformance

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"crypto/rand"
	"fmt"
	"strings"

	"github.com/tesseracard/tessera/apdu"
)

// The PIV card application and its commands, from SP 800-73-4 (Part 1 §2.2
// for the AID, Part 2 for the commands) and the YubiKey extensions that PIV
// clients rely on (Yubico's PIV APDU reference). Written here from the
// documents, not taken from the firmware; the instruction bytes are the
// wire vocabulary package apdu shares between card and host (apdu.InsVerify
// ...). Byte strings are functions, so that no caller can change them for
// another.

// pivAID returns the PIV application's AID: the NIST RID, PIX 0000 1000,
// version 0100.
func pivAID() []byte { return []byte{0xA0, 0x00, 0x00, 0x03, 0x08, 0x00, 0x00, 0x10, 0x00, 0x01, 0x00} }

// pivRID returns the AID's registered application provider identifier, NIST's.
func pivRID() []byte { return pivAID()[:5] }

// pivPIX returns the application identifier the property template
// carries in tag 4F (SP 800-73-4 Part 2 §3.1.1, Table 3).
func pivPIX() []byte { return pivAID()[5:] }

// absentAID returns an AID that names no application on any card: the F
// category is proprietary and unregistered (ISO/IEC 7816-5), "\xF0TESSERA".
func absentAID() []byte { return []byte{0xF0, 0x54, 0x45, 0x53, 0x53, 0x45, 0x52, 0x41} }

const (
	refPIN  = 0x80
	refPUK  = 0x81
	refMgmt = 0x9B

	algTDES   = 0x03
	algAES128 = 0x08
	algAES192 = 0x0A
	algAES256 = 0x0C
	algP256   = 0x11

	// pinFieldLen is the PIN and PUK field of VERIFY, CHANGE REFERENCE DATA
	// and RESET RETRY COUNTER: the value padded with FF to 8 bytes (SP
	// 800-73-4 Part 2 §3.2.1).
	pinFieldLen = 8
)

// Data objects (SP 800-73-4 Part 1 Table 3; 5FFF01 is the YubiKey's
// attestation certificate).
func objCHUID() []byte        { return []byte{0x5F, 0xC1, 0x02} }
func objRetiredCert1() []byte { return []byte{0x5F, 0xC1, 0x0D} }
func objRetired20() []byte    { return []byte{0x5F, 0xC1, 0x20} }

// readableObjects returns objects any card may hold and anyone may read
// (access rule "always"), longest first where a card has them.
func readableObjects() [][]byte {
	return [][]byte{
		{0x5F, 0xFF, 0x01}, // YubiKey attestation certificate
		{0x5F, 0xC1, 0x05}, // X.509 certificate for PIV authentication
		{0x5F, 0xC1, 0x0A}, // X.509 certificate for digital signature
		{0x5F, 0xC1, 0x0B}, // X.509 certificate for key management
		{0x5F, 0xC1, 0x01}, // X.509 certificate for card authentication
		{0x5F, 0xC1, 0x02}, // CHUID
		{0x5F, 0xC1, 0x07}, // card capability container
		{0x7E},             // discovery object
	}
}

// pad returns v padded with FF to n bytes (or v itself when longer).
func pad(v string, n int) []byte {
	b := []byte(v)
	for len(b) < n {
		b = append(b, 0xFF)
	}
	return b
}

// selectCmd is SELECT of an application by its AID, first occurrence.
func selectCmd(aid []byte) apdu.Command {
	return apdu.Command{INS: apdu.InsSelect, P1: 0x04, Data: aid, Ne: 256}
}

// statusCmd is VERIFY without data in the P3=00 form PIV clients send:
// it reports the PIN's status and spends no try.
func statusCmd() apdu.Command { return apdu.Command{INS: apdu.InsVerify, P2: refPIN, Ne: 256} }

func verifyCmd(pin string) apdu.Command {
	return apdu.Command{INS: apdu.InsVerify, P2: refPIN, Data: pad(pin, pinFieldLen)}
}

func changeCmd(ref byte, old, nw string) apdu.Command {
	return apdu.Command{INS: apdu.InsChangeReferenceData, P2: ref, Data: append(pad(old, pinFieldLen), pad(nw, pinFieldLen)...)}
}

func resetRetryCmd(puk, newPIN string) apdu.Command {
	return apdu.Command{INS: apdu.InsResetRetryCounter, P2: refPIN, Data: append(pad(puk, pinFieldLen), pad(newPIN, pinFieldLen)...)}
}

func getDataCmd(tag []byte) apdu.Command {
	return apdu.Command{INS: apdu.InsGetDataOdd, P1: 0x3F, P2: 0xFF, Data: apdu.AppendTLV(nil, 0x5C, tag)}
}

// putDataCmd writes content (the value of tag 53) into the object tag;
// empty content deletes it.
func putDataCmd(tag, content []byte) apdu.Command {
	data := apdu.AppendTLV(nil, 0x5C, tag)
	return apdu.Command{INS: apdu.InsPutDataOdd, P1: 0x3F, P2: 0xFF, Data: apdu.AppendTLV(data, 0x53, content)}
}

func metadataCmd(ref byte) apdu.Command {
	return apdu.Command{INS: apdu.InsGetMetadata, P2: ref, Ne: 256}
}

// wrongValue returns a value of n digits (6 to 8) that differs from v and
// breaks no PIN policy of SP 800-73-4: digits only.
func wrongValue(v string, n int) string {
	n = min(max(n, 6), 8)
	for _, d := range "0192" {
		w := string(bytes.Repeat([]byte{byte(d)}, n))
		if w != v {
			return w
		}
	}
	panic("unreachable")
}

// otherPIN returns a valid PIN that differs from v: 6 to 8 digits, or,
// when v is a password (it holds other characters than digits), 8
// characters with an upper-case and a lower-case letter and a digit, as a
// password policy asks.
func otherPIN(v string) string {
	cands := []string{"246813", "135792", "97531864"}
	if strings.ContainsFunc(v, func(r rune) bool { return r < '0' || r > '9' }) {
		cands = []string{"Other246", "Other135"}
	}
	for _, c := range cands {
		if c != v {
			return c
		}
	}
	panic("unreachable")
}

// mgmtCipher returns the block cipher of a management key.
func mgmtCipher(alg byte, key []byte) (cipher.Block, error) {
	switch alg {
	case algTDES:
		if len(key) != 24 {
			return nil, fmt.Errorf("a 3DES management key is 24 bytes, not %d", len(key))
		}
		return des.NewTripleDESCipher(key)
	case algAES128, algAES192, algAES256:
		want := map[byte]int{algAES128: 16, algAES192: 24, algAES256: 32}[alg]
		if len(key) != want {
			return nil, fmt.Errorf("an AES-%d management key is %d bytes, not %d", want*8, want, len(key))
		}
		return aes.NewCipher(key)
	}
	return nil, fmt.Errorf("management key algorithm %02X: want 03 (3DES), 08, 0A or 0C (AES)", alg)
}

// mutualAuth authenticates the management key with the card by mutual
// authentication (SP 800-73-4 Part 2 §3.2.4 and Appendix A): the card sends
// an encrypted witness, the host returns it decrypted with a challenge of
// its own, and the card's encryption of that challenge proves the card
// holds the key too.
func mutualAuth(send func(apdu.Command) (apdu.Response, error), alg byte, key []byte) error {
	block, err := mgmtCipher(alg, key)
	if err != nil {
		return err
	}
	bs := block.BlockSize()
	r, err := send(apdu.Command{INS: apdu.InsGeneralAuthenticate, P1: alg, P2: refMgmt, Data: []byte{0x7C, 0x02, 0x80, 0x00}, Ne: 256})
	if err != nil {
		return err
	}
	if r.SW != apdu.SWSuccess {
		return fmt.Errorf("requesting a witness: card answered %s", swText(r.SW))
	}
	wit, err := dynamicTag(r.Data, 0x80)
	if err != nil || len(wit) != bs {
		return fmt.Errorf("the witness answer % X is not 7C { 80 <%d bytes> }", r.Data, bs)
	}
	plain := make([]byte, bs)
	block.Decrypt(plain, wit)
	chal := make([]byte, bs)
	rand.Read(chal)
	inner := apdu.AppendTLV(apdu.AppendTLV(nil, 0x80, plain), 0x81, chal)
	r, err = send(apdu.Command{INS: apdu.InsGeneralAuthenticate, P1: alg, P2: refMgmt, Data: apdu.Nest(0x7C, inner), Ne: 256})
	if err != nil {
		return err
	}
	if r.SW != apdu.SWSuccess {
		return fmt.Errorf("the management key was refused: card answered %s", swText(r.SW))
	}
	got, err := dynamicTag(r.Data, 0x82)
	want := make([]byte, bs)
	block.Encrypt(want, chal)
	if err != nil || !bytes.Equal(got, want) {
		return fmt.Errorf("the card's answer to the host challenge is wrong: it does not hold the same key")
	}
	return nil
}

// dynamicTag returns the value of tag inside a dynamic authentication
// template 7C (SP 800-73-4 Part 2 Table 7).
func dynamicTag(b []byte, tag apdu.Tag) ([]byte, error) {
	t, rest, err := apdu.ParseTLV(b)
	if err != nil || t.Tag != 0x7C || len(rest) != 0 {
		return nil, fmt.Errorf("not one 7C template")
	}
	v, ok, err := apdu.FindTLV(t.Value, tag)
	if err != nil || !ok {
		return nil, fmt.Errorf("no tag %X in the template", tag)
	}
	return v, nil
}

// metadataTag returns the value of tag in a GET METADATA answer (a
// concatenation of TLVs), or ok false.
func metadataTag(b []byte, tag apdu.Tag) ([]byte, bool) {
	v, ok, err := apdu.FindTLV(b, tag)
	return v, ok && err == nil
}

// swText describes a status word, e.g. "63C2 (verification failed, 2
// retries left)".
func swText(sw apdu.StatusWord) string {
	if n, ok := sw.Retries(); ok {
		if n == 1 {
			return fmt.Sprintf("%04X (1 try left)", uint16(sw))
		}
		return fmt.Sprintf("%04X (%d tries left)", uint16(sw), n)
	}
	s := sw.Error()[len("apdu: "):]
	if len(s) > 5 && !strings.Contains(s, "(") {
		return s[:4] + " (" + s[5:] + ")"
	}
	return s
}
