package conformance

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"errors"
	"fmt"
	"math/big"
	"slices"

	"github.com/tesseracard/tessera/apdu"
)

// The OpenPGP card application the suite also tests, written from the
// Functional Specification of the OpenPGP application on ISO smart card
// operating systems, version 3.4 (Achim Pietig, 2020), and ISO/IEC 7816-4
// and -8 where it refers to them; not taken from the firmware. Section
// numbers in case IDs and references are that specification's.

// refOpenPGP is the specification the OpenPGP cases cite.
const refOpenPGP = "OpenPGP card 3.4"

// opgpAID returns the OpenPGP application's AID as clients select it: RID
// D276000124 and application 01, without version, manufacturer and serial
// (§4.2.1), which selects it on any OpenPGP card.
func opgpAID() []byte { return []byte{0xD2, 0x76, 0x00, 0x01, 0x24, 0x01} }

// The password references of VERIFY, CHANGE REFERENCE DATA and RESET RETRY
// COUNTER (§7.2.2): PW1 for PSO:CDS (81), PW1 for the other operations
// (82), PW3 (83).
const (
	opgpPW1Sig = 0x81
	opgpPW1    = 0x82
	opgpPW3    = 0x83
)

// The factory passwords of OpenPGP cards (§4.3): PW1 123456, PW3 12345678.
// The suite uses them on a Fresh target given no others.
const (
	opgpFactoryPW1 = "123456"
	opgpFactoryPW3 = "12345678"
)

// Instructions of the OpenPGP card the apdu package has no constant for
// (§7.1, ISO/IEC 7816-4 and -9).
const (
	insInternalAuthenticate = 0x88 // INTERNAL AUTHENTICATE (§7.2.13)
	insTerminateDF          = 0xE6 // TERMINATE DF (§7.2.16)
	insActivateFile         = 0x44 // ACTIVATE FILE (§7.2.17)
)

// swTerminated is the answer to SELECT of an application in the
// termination state (§7.2.16, ISO/IEC 7816-4 6285).
const swTerminated apdu.StatusWord = 0x6285

// The control reference templates of the three keys (§7.2.14).
const (
	opgpKeySig = 0xB6
	opgpKeyDec = 0xB8
	opgpKeyAut = 0xA4
)

// Data object tags (§4.4.1).
const (
	opgpTagAppData     = 0x006E
	opgpTagAID         = 0x004F
	opgpTagHistorical  = 0x5F52
	opgpTagCardholder  = 0x0065
	opgpTagName        = 0x005B
	opgpTagPWStatus    = 0x00C4
	opgpTagSecSupport  = 0x007A
	opgpTagResetCode   = 0x00D3
	opgpTagFingerprint = 0x00C7 // C7, C8, C9: the three keys'
	opgpTagDate        = 0x00CE // CE, CF, D0
	opgpTagUIFSig      = 0x00D6 // YubiKey: the signature key's touch policy (D7, D8: decryption, authentication)
)

// The YubiKey's user interaction flags, byte 1 of D6-D9 (Yubico yubikit,
// openpgp.py: UIF); byte 2 is 20, the general feature "button".
const (
	opgpUIFOn          = 0x01
	opgpUIFFixed       = 0x02
	opgpUIFCached      = 0x03
	opgpUIFCachedFixed = 0x04
	opgpUIFButton      = 0x20
)

// Algorithm attributes (§4.4.3.9): RSA 2048 with a 32-bit exponent in the
// standard import format, and the ECC algorithms with their curve OIDs.
var (
	opgpRSA2048   = []byte{0x01, 0x08, 0x00, 0x00, 0x20, 0x00}
	opgpRSA4096   = []byte{0x01, 0x10, 0x00, 0x00, 0x20, 0x00}
	opgpECDSAP256 = append([]byte{0x13}, oidP256...)
	opgpECDHP256  = append([]byte{0x12}, oidP256...)
	opgpECDSAP384 = append([]byte{0x13}, oidP384...)
	opgpECDHP384  = append([]byte{0x12}, oidP384...)
	opgpEd25519   = []byte{0x16, 0x2B, 0x06, 0x01, 0x04, 0x01, 0xDA, 0x47, 0x0F, 0x01}
	// X25519 with the Curve25519 OID 1.3.6.1.4.1.3029.1.5.1 GnuPG writes.
	opgpX25519 = []byte{0x12, 0x2B, 0x06, 0x01, 0x04, 0x01, 0x97, 0x55, 0x01, 0x05, 0x01}
	oidP256    = []byte{0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07}
	oidP384    = []byte{0x2B, 0x81, 0x04, 0x00, 0x22}
)

func opgpVerifyCmd(ref byte, pw string) apdu.Command {
	return apdu.Command{INS: apdu.InsVerify, P2: ref, Data: []byte(pw)}
}

// opgpStatusCmd is VERIFY without data (§7.2.2): 9000 when the password is
// verified, 63CX with its tries when not.
func opgpStatusCmd(ref byte) apdu.Command { return apdu.Command{INS: apdu.InsVerify, P2: ref} }

// opgpLogoutCmd is VERIFY with P1 FF: the password's status back to not
// verified (§7.2.2).
func opgpLogoutCmd(ref byte) apdu.Command {
	return apdu.Command{INS: apdu.InsVerify, P1: 0xFF, P2: ref}
}

func opgpChangeCmd(ref byte, old, nw string) apdu.Command {
	return apdu.Command{INS: apdu.InsChangeReferenceData, P2: ref, Data: []byte(old + nw)}
}

// opgpResetByRCCmd is RESET RETRY COUNTER with the resetting code (P1 00),
// opgpResetByPW3Cmd the one after PW3 (P1 02) (§7.2.4).
func opgpResetByRCCmd(rc, newPW1 string) apdu.Command {
	return apdu.Command{INS: apdu.InsResetRetryCounter, P2: 0x81, Data: []byte(rc + newPW1)}
}

func opgpResetByPW3Cmd(newPW1 string) apdu.Command {
	return apdu.Command{INS: apdu.InsResetRetryCounter, P1: 0x02, P2: 0x81, Data: []byte(newPW1)}
}

func opgpGetDataCmd(tag uint16) apdu.Command {
	return apdu.Command{INS: apdu.InsGetData, P1: byte(tag >> 8), P2: byte(tag), Ne: 256}
}

func opgpPutDataCmd(tag uint16, v []byte) apdu.Command {
	return apdu.Command{INS: apdu.InsPutData, P1: byte(tag >> 8), P2: byte(tag), Data: v}
}

// opgpGenerateCmd is GENERATE ASYMMETRIC KEY PAIR (§7.2.14): P1 80 makes
// the key named by its control reference template, P1 81 reads its public
// key.
func opgpGenerateCmd(p1, key byte) apdu.Command {
	return apdu.Command{INS: apdu.InsGenerateKeyPairOdd, P1: p1, Data: []byte{key, 0x00}, Ne: 256}
}

func opgpCDSCmd(in []byte) apdu.Command {
	return apdu.Command{INS: apdu.InsPerformSecurityOperation, P1: 0x9E, P2: 0x9A, Data: in, Ne: 256}
}

func opgpDecipherCmd(in []byte) apdu.Command {
	return apdu.Command{INS: apdu.InsPerformSecurityOperation, P1: 0x80, P2: 0x86, Data: in, Ne: 256}
}

func opgpIntAuthCmd(in []byte) apdu.Command {
	return apdu.Command{INS: insInternalAuthenticate, Data: in, Ne: 256}
}

// opgpAppData is the application related data (6E, §4.4.3.1), its
// discretionary data objects (73) flattened into it.
type opgpAppData struct {
	do map[apdu.Tag][]byte
}

func (d opgpAppData) get(tag apdu.Tag) ([]byte, bool) {
	v, ok := d.do[tag]
	return v, ok
}

// parseOpenPGPAppData parses GET DATA 6E's answer: the constructed 6E
// itself, or its value, as cards differ.
func parseOpenPGPAppData(b []byte) (opgpAppData, error) {
	if t, rest, err := apdu.ParseTLV(b); err == nil && t.Tag == 0x6E && len(rest) == 0 {
		b = t.Value
	}
	top, err := apdu.ParseTLVs(b)
	if err != nil {
		return opgpAppData{}, fmt.Errorf("the application related data (6E) % X: %w", b, err)
	}
	d := opgpAppData{do: map[apdu.Tag][]byte{}}
	for _, t := range top {
		d.do[t.Tag] = t.Value
		if t.Tag != 0x73 {
			continue
		}
		inner, err := apdu.ParseTLVs(t.Value)
		if err != nil {
			return opgpAppData{}, fmt.Errorf("the discretionary data objects (73) % X: %w", t.Value, err)
		}
		for _, i := range inner {
			d.do[i.Tag] = i.Value
		}
	}
	return d, nil
}

// opgpAppData reads and parses the application related data.
func (e *Env) opgpAppData(ctx context.Context) (opgpAppData, error) {
	v, err := e.opgpGet(ctx, opgpTagAppData)
	if err != nil {
		return opgpAppData{}, err
	}
	return parseOpenPGPAppData(v)
}

// opgpGet reads a data object with GET DATA, which must answer 9000; the
// value is unwrapped when the card answers the whole object.
func (e *Env) opgpGet(ctx context.Context, tag uint16) ([]byte, error) {
	r, err := e.Transmit(ctx, opgpGetDataCmd(tag))
	if err != nil {
		return nil, err
	}
	if r.SW != apdu.SWSuccess {
		return nil, fmt.Errorf("GET DATA %04X answered %s, want 9000", tag, swText(r.SW))
	}
	if t, rest, err := apdu.ParseTLV(r.Data); err == nil && uint16(t.Tag) == tag && len(rest) == 0 && tag != opgpTagAID {
		return t.Value, nil
	}
	return r.Data, nil
}

// opgpCounters are the three passwords' tries from the PW status bytes
// (C4, §4.4.3.4): PW1, the resetting code, PW3.
type opgpCounters struct{ pw1, rc, pw3 int }

func (c opgpCounters) String() string {
	return fmt.Sprintf("PW1 %d, RC %d, PW3 %d", c.pw1, c.rc, c.pw3)
}

// opgpPWStatus reads the PW status bytes, which must be 7 bytes.
func (e *Env) opgpPWStatus(ctx context.Context) ([]byte, error) {
	c4, err := e.opgpGet(ctx, opgpTagPWStatus)
	if err != nil {
		return nil, err
	}
	if len(c4) != 7 {
		return nil, fmt.Errorf("the PW status bytes (C4) % X are %d bytes, want 7", c4, len(c4))
	}
	return c4, nil
}

// opgpTries reads the three counters from C4.
func (e *Env) opgpTries(ctx context.Context) (opgpCounters, error) {
	c4, err := e.opgpPWStatus(ctx)
	if err != nil {
		return opgpCounters{}, err
	}
	return opgpCounters{int(c4[4]), int(c4[5]), int(c4[6])}, nil
}

// opgpExpectTries checks C4's counters are want, naming the moment.
func (e *Env) opgpExpectTries(ctx context.Context, when string, want opgpCounters) error {
	got, err := e.opgpTries(ctx)
	if err != nil {
		return err
	}
	if got != want {
		return fmt.Errorf("%s, C4 says %s, want %s", when, got, want)
	}
	return nil
}

// opgpPW1 and opgpPW3 are the passwords the cases use: the credentials',
// or on a Fresh target given none the factory ones.
func (e *Env) opgpPW1() string {
	if e.creds.PW1 == "" && e.fresh {
		return opgpFactoryPW1
	}
	return e.creds.PW1
}

func (e *Env) opgpPW3() string {
	if e.creds.PW3 == "" && e.fresh {
		return opgpFactoryPW3
	}
	return e.creds.PW3
}

// opgpVerify verifies a password, which must succeed.
func (e *Env) opgpVerify(ctx context.Context, ref byte) error {
	pw, what := e.opgpPW1(), fmt.Sprintf("VERIFY %02X with the right PW1", ref)
	if ref == opgpPW3 {
		pw, what = e.opgpPW3(), "VERIFY 83 with the right PW3"
	}
	return e.run(ctx, step(what, opgpVerifyCmd(ref, pw), apdu.SWSuccess))
}

// opgpWrong returns a password of n characters that is not pw.
func opgpWrong(pw string, n int) string {
	for _, d := range "0192" {
		w := string(bytes.Repeat([]byte{byte(d)}, n))
		if w != pw {
			return w
		}
	}
	panic("unreachable")
}

// opgpWrongAnswer checks the answer to a wrong password: 6982 (§7.2.2,
// "security status not satisfied"), or 63CX where X is the tries left;
// once the counter reaches zero, 6983 too.
func opgpWrongAnswer(what string, sw apdu.StatusWord, left int) error {
	if n, ok := sw.Retries(); ok && n == left {
		return nil
	}
	if sw == apdu.SWSecurityStatusNotSatisfied || left == 0 && sw == apdu.SWAuthMethodBlocked {
		return nil
	}
	want := fmt.Sprintf("6982 or 63C%X", left)
	if left == 0 {
		want += " or 6983"
	}
	return fmt.Errorf("%s: card answered %s, want %s", what, swText(sw), want)
}

// opgpStatusIs checks VERIFY without data for ref answers want; 6A80
// passes as the departure DepartureOpenPGPNoStatusQuery (the caller reads
// the tries from C4).
func (e *Env) opgpStatusIs(ctx context.Context, ref byte, when string, want apdu.StatusWord) error {
	sw, err := e.SW(ctx, opgpStatusCmd(ref))
	if err != nil {
		return err
	}
	what := fmt.Sprintf("%s, VERIFY %02X without data", when, ref)
	if e.opgpNoStatusQuery(what, sw) {
		return nil
	}
	return expectSW(what, sw, want)
}

// opgpNoStatusQuery reports whether sw, the answer to VERIFY without data,
// is a YubiKey's 6A80, and notes the departure DepartureOpenPGPNoStatusQuery
// (once per case) when it is.
func (e *Env) opgpNoStatusQuery(what string, sw apdu.StatusWord) bool {
	if sw != apdu.SWIncorrectData {
		return false
	}
	if !slices.ContainsFunc(e.departures, func(d DepartureNote) bool { return d.Name == DepartureOpenPGPNoStatusQuery }) {
		e.Departure(DepartureOpenPGPNoStatusQuery, "%s answered 6A80: the card tells no password's status, C4 its tries", what)
	}
	return true
}

// opgpPublicKey parses a public key template 7F49 (§7.2.14): 81 modulus
// and 82 exponent for RSA; 86 the point for ECC, uncompressed for P-256,
// the 32 bytes of RFC 8032 and RFC 7748 for Ed25519 and X25519 (NIST
// curves: P-256 and P-384). attr names
// the algorithm (the key's attributes).
func opgpPublicKey(b, attr []byte) (crypto.PublicKey, error) {
	t, rest, err := apdu.ParseTLV(b)
	if err != nil || t.Tag != 0x7F49 || len(rest) != 0 {
		return nil, fmt.Errorf("% X is not one public key template 7F49", b)
	}
	if attr[0] == 0x01 {
		n, okN, _ := apdu.FindTLV(t.Value, 0x81)
		x, okE, _ := apdu.FindTLV(t.Value, 0x82)
		if !okN || !okE || len(x) == 0 || len(x) > 4 {
			return nil, fmt.Errorf("the RSA public key % X has no modulus (81) or exponent (82)", t.Value)
		}
		exp := new(big.Int).SetBytes(x)
		return &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(exp.Int64())}, nil
	}
	point, ok, _ := apdu.FindTLV(t.Value, 0x86)
	if !ok {
		return nil, fmt.Errorf("the ECC public key % X has no point (86)", t.Value)
	}
	switch {
	case bytes.Equal(attr, opgpECDSAP256):
		return ecdsa.ParseUncompressedPublicKey(elliptic.P256(), point)
	case bytes.Equal(attr, opgpECDSAP384):
		return ecdsa.ParseUncompressedPublicKey(elliptic.P384(), point)
	case bytes.Equal(attr, opgpECDHP256):
		return ecdh.P256().NewPublicKey(point)
	case bytes.Equal(attr, opgpECDHP384):
		return ecdh.P384().NewPublicKey(point)
	case bytes.Equal(attr, opgpEd25519):
		if len(point) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("the Ed25519 public key is %d bytes, want 32", len(point))
		}
		return ed25519.PublicKey(point), nil
	case bytes.Equal(attr, opgpX25519):
		return ecdh.X25519().NewPublicKey(point)
	case bytes.Equal(attr, brainpoolP256r1().attrECDSA), bytes.Equal(attr, brainpoolP256r1().attrECDH):
		return brainpoolP256r1().parse(point)
	}
	return nil, errors.New("no algorithm the suite knows")
}

// opgpAttrTag is the algorithm attributes' tag of a key (C1, C2, C3).
func opgpAttrTag(key byte) uint16 {
	switch key {
	case opgpKeyDec:
		return 0xC2
	case opgpKeyAut:
		return 0xC3
	}
	return 0xC1
}

// opgpKeyIndex is a key's place in C5, CD and DE: 0, 1, 2.
func opgpKeyIndex(key byte) int { return int(opgpAttrTag(key) - 0xC1) }

// opgpSetAlgorithm sets a key's algorithm attributes with PW3 verified, if
// they are not attr already: a skip when the card does not announce them
// changeable (C0) or refuses the algorithm (6A80).
func (e *Env) opgpSetAlgorithm(ctx context.Context, key byte, attr []byte) error {
	d, err := e.opgpAppData(ctx)
	if err != nil {
		return err
	}
	tag := opgpAttrTag(key)
	if cur, _ := d.get(apdu.Tag(tag)); bytes.Equal(cur, attr) {
		return nil
	}
	if c0, _ := d.get(0xC0); len(c0) == 0 || c0[0]&0x04 == 0 {
		return Skipf("the card does not announce its algorithm attributes changeable (C0 % X)", c0)
	}
	sw, err := e.SW(ctx, opgpPutDataCmd(tag, attr))
	if err != nil {
		return err
	}
	if sw == apdu.SWIncorrectData {
		return Skipf("the card refuses the algorithm attributes % X for %04X (6A80)", attr, tag)
	}
	if err := expectSW(fmt.Sprintf("PUT DATA %04X of the algorithm attributes % X", tag, attr), sw, apdu.SWSuccess); err != nil {
		return err
	}
	got, err := e.opgpGet(ctx, tag)
	if err != nil {
		return err
	}
	if !bytes.Equal(got, attr) {
		return fmt.Errorf("after PUT DATA of the algorithm attributes % X, GET DATA %04X answered % X", attr, tag, got)
	}
	return nil
}

// opgpGenerate verifies PW3, sets key's algorithm to attr, generates the
// key and returns its public key, which reading it back (P1 81) must
// answer the same.
func (e *Env) opgpGenerate(ctx context.Context, key byte, attr []byte) (crypto.PublicKey, error) {
	if err := e.opgpVerify(ctx, opgpPW3); err != nil {
		return nil, err
	}
	if err := e.opgpSetAlgorithm(ctx, key, attr); err != nil {
		return nil, err
	}
	r, err := e.Transmit(ctx, opgpGenerateCmd(0x80, key))
	if err != nil {
		return nil, err
	}
	if r.SW != apdu.SWSuccess {
		return nil, fmt.Errorf("GENERATE ASYMMETRIC KEY PAIR of key %02X (% X) answered %s, want 9000", key, attr, swText(r.SW))
	}
	pub, err := opgpPublicKey(r.Data, attr)
	if err != nil {
		return nil, fmt.Errorf("GENERATE of key %02X: %w", key, err)
	}
	back, err := e.Transmit(ctx, opgpGenerateCmd(0x81, key))
	if err != nil {
		return nil, err
	}
	if back.SW != apdu.SWSuccess || !bytes.Equal(back.Data, r.Data) {
		return nil, fmt.Errorf("reading the public key of key %02X back (47 81) answered %s and %d bytes, not the %d GENERATE gave", key, swText(back.SW), len(back.Data), len(r.Data))
	}
	return pub, nil
}

// opgpVerifySignature checks sig is pub's signature of in, the input
// PSO:CDS or INTERNAL AUTHENTICATE was given: a SHA-256 DigestInfo for
// RSA, the SHA-256 hash for ECDSA (r||s, §7.2.10), the message for
// Ed25519.
func opgpVerifySignature(pub crypto.PublicKey, in, sig []byte) error {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if len(sig) != k.Size() {
			return fmt.Errorf("the RSA signature is %d bytes, want %d (the modulus)", len(sig), k.Size())
		}
		return rsa.VerifyPKCS1v15(k, crypto.SHA256, in[len(digestInfoSHA256()):], sig)
	case *ecdsa.PublicKey:
		size := (k.Curve.Params().BitSize + 7) / 8
		if len(sig) != 2*size {
			return fmt.Errorf("the ECDSA signature is %d bytes, want r||s of %d", len(sig), 2*size)
		}
		r, s := new(big.Int).SetBytes(sig[:size]), new(big.Int).SetBytes(sig[size:])
		if !ecdsa.Verify(k, in, r, s) {
			return errors.New("the ECDSA signature does not verify with the public key GENERATE answered")
		}
		return nil
	case ed25519.PublicKey:
		if !ed25519.Verify(k, in, sig) {
			return errors.New("the Ed25519 signature does not verify with the public key GENERATE answered")
		}
		return nil
	case *bpPublicKey:
		return k.verify(in, sig)
	}
	return fmt.Errorf("no signature check for a %T", pub)
}

// opgpPlan is what the plan knows of the OpenPGP application of a card that
// is not Fresh.
type opgpPlan struct {
	// refused says why no destructive OpenPGP case may run ("" when they
	// may).
	refused string
	// full are the counters when full, found before any case.
	full opgpCounters
}

// check verifies PW1 and PW3 where a mistake cannot block either: only
// with PW1 at 2 tries or more and PW3 at 3 or more (a wrong --pw3 then
// leaves 2: the suite never brings PW3 near blocking, which only a reset
// of the application, all keys lost, undoes).
func (op *opgpPlan) check(ctx context.Context, card Card, creds Credentials) {
	e := newEnv(card, creds, false, nil)
	e.app = AppOpenPGP
	if creds.PW1 == "" || creds.PW3 == "" {
		op.refused = "needs the OpenPGP user and admin PINs (--pw1, --pw3)"
		return
	}
	if err := e.begin(ctx); err != nil {
		op.refused = err.Error()
		return
	}
	c, err := e.opgpTries(ctx)
	switch {
	case err != nil:
		op.refused = fmt.Sprintf("reading the PW status bytes: %v", err)
		return
	case c.pw1 < 2:
		op.refused = fmt.Sprintf("PW1 has %d tries left: a wrong --pw1 could block it", c.pw1)
		return
	case c.pw3 < 3:
		op.refused = fmt.Sprintf("PW3 has %d tries left: the suite spends PW3 tries only with 3 or more", c.pw3)
		return
	}
	for _, ref := range []byte{opgpPW3, opgpPW1} {
		sw, err := e.SW(ctx, opgpVerifyCmd(ref, map[byte]string{opgpPW1: creds.PW1, opgpPW3: creds.PW3}[ref]))
		switch {
		case err != nil:
			op.refused = fmt.Sprintf("verifying the credentials: %v", err)
		case sw != apdu.SWSuccess:
			op.refused = fmt.Sprintf("VERIFY %02X with the given password answered %s", ref, swText(sw))
		}
		if op.refused != "" {
			return
		}
	}
	if op.full, err = e.opgpTries(ctx); err != nil {
		op.refused = err.Error()
	}
}

func (op *opgpPlan) describe() string {
	if op.refused != "" {
		return "OpenPGP destructive cases refused: " + op.refused
	}
	return fmt.Sprintf("OpenPGP: --pw1 and --pw3 verified; %s when full, restored after every case; cases that generate keys or reset the application are refused (nothing puts a card's keys back)", op.full)
}

// refusal says why destructive OpenPGP case c must not run on this card.
func (op *opgpPlan) refusal(c *Case) string {
	switch {
	case c.Needs&NeedOpenPGPKeys != 0:
		return "generates OpenPGP keys, replacing the card's, which nothing can put back: run it on the simulator (--target sim)"
	case c.Needs&NeedTerminate != 0:
		return "resets the OpenPGP application to its factory state (TERMINATE DF, ACTIVATE FILE): run it on the simulator (--target sim)"
	}
	return op.refused
}

// opgpRestore puts the OpenPGP application back after a destructive case
// on a card that is not Fresh: PW3 verified (which refills its counter),
// PW1 set again with PW3 if it is blocked, then verified; the counters must
// be as the plan found them.
func (e *Env) opgpRestore(ctx context.Context) error {
	if err := e.begin(ctx); err != nil {
		return err
	}
	if err := e.opgpVerify(ctx, opgpPW3); err != nil {
		return err
	}
	c, err := e.opgpTries(ctx)
	if err != nil {
		return err
	}
	if c.pw1 == 0 {
		if err := e.run(ctx, step("RESET RETRY COUNTER of the blocked PW1 after PW3", opgpResetByPW3Cmd(e.creds.PW1), apdu.SWSuccess)); err != nil {
			return err
		}
	}
	if err := e.opgpVerify(ctx, opgpPW1); err != nil {
		return err
	}
	return e.opgpExpectTries(ctx, "after the case", e.plan.opgp.full)
}
