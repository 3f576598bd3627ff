package conformance

import (
	"bytes"
	"context"
	"fmt"
	"strings"

	"github.com/tesseracard/tessera/apdu"
	"github.com/tesseracard/tessera/hostdriver"
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

// sendFunc sends one command through a caller's closure, which holds the
// context: a hostdriver.Exchanger for callers that watch each answer.
type sendFunc func(apdu.Command) (apdu.Response, error)

func (f sendFunc) Transmit(_ context.Context, c apdu.Command) (apdu.Response, error) { return f(c) }

// mutualAuth authenticates the management key with the card by mutual
// authentication (SP 800-73-4 Part 2 §3.2.4 and Appendix A), sending
// through send: hostdriver.AuthenticateManagementKey, the one host-side
// implementation, with a fresh challenge from crypto/rand.
func mutualAuth(send sendFunc, alg byte, key []byte) error {
	return hostdriver.AuthenticateManagementKey(context.Background(), send, alg, key, nil)
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
