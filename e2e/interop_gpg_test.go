//go:build e2e

package e2e

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The OpenPGP card application with GnuPG 2.2 (Debian 12's gpg, scdaemon
// and gpg-agent) and ykman 4.0.9 through pcscd: card status, key generation
// on the card and key import, signatures, decryption and ssh signatures
// with the card's keys checked against the public keys alone, PIN changes,
// blocking and unblocking (admin PIN, Reset Code), forcesig, cardholder
// data, factory reset. Each step also checks, in the card's trace, the
// commands the client sent; docs/openpgp.md tells them.

// gpgUser is the user ID of the keys the flows generate.
const gpgUser = "Tessera Card <card@example.org>"

// gpgKeys is a kind of card keys for the flow, and how card-edit's
// key-attr gets the card there from the factory RSA 2048.
type gpgKeys struct {
	name string
	// keyAttr answers key-attr's prompts (nil: keep the factory keys).
	keyAttr map[string][]string
	// attrs are the keys' attributes gpg --card-status then shows
	// (gpgKeyAttr: OpenPGP algorithm ID, then bits or curve).
	attrs [3]string
	// profile is the card's profile ("": openpgp) and short that it takes
	// no extended APDUs, so scdaemon chains what does not fit a short one.
	profile string
	short   bool
	// expert runs key-attr with --expert, which gpg 2.2 needs to offer
	// the brainpool curves.
	expert bool
	// noSSH, when set, is why the flow leaves out its ssh step.
	noSSH string
}

// TestGPGCardRSA is the issue 17 flow with the factory RSA 2048 keys.
func TestGPGCardRSA(t *testing.T) {
	gpgCardFlow(t, gpgKeys{name: "rsa2048", attrs: [3]string{"1:2048", "1:2048", "1:2048"}})
}

// TestGPGCardShortAPDUs is the RSA 2048 flow on a card whose historical
// bytes announce command chaining but no extended length (a YAML profile
// over openpgp): scdaemon then chains PSO:DECIPHER's 257 bytes (254 + 3)
// and reads the public keys with GET RESPONSE.
func TestGPGCardShortAPDUs(t *testing.T) {
	profile := filepath.Join(t.TempDir(), "openpgp-short.yaml")
	if err := os.WriteFile(profile, []byte("base: openpgp\nname: openpgp-short\nextended_length: false\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	gpgCardFlow(t, gpgKeys{name: "rsa2048 short APDUs", attrs: [3]string{"1:2048", "1:2048", "1:2048"}, profile: profile, short: true})
}

// TestGPGCardRSA3072 is the flow with RSA 3072 keys: scdaemon sends
// GENERATE, PSO:CDS and PSO:DECIPHER (385 bytes) as extended APDUs.
func TestGPGCardRSA3072(t *testing.T) {
	gpgCardFlow(t, gpgKeys{name: "rsa3072", keyAttr: map[string][]string{
		"cardedit.genkeys.algo": {"1", "1", "1"}, // RSA
		"cardedit.genkeys.size": {"3072", "3072", "3072"},
	}, attrs: [3]string{"1:3072", "1:3072", "1:3072"}})
}

// TestGPGCardECC is the flow after key-attr switched the card to Ed25519
// (signature, authentication) and X25519 (decryption).
func TestGPGCardECC(t *testing.T) {
	gpgCardFlow(t, gpgKeys25519())
}

// TestGPGCardYubiKey is the Curve 25519 flow on a yubikey-5.7 card, which
// scdaemon takes for a YubiKey (READ CONFIG answers) and so reads its ECC
// algorithm attributes the YubiKey way.
func TestGPGCardYubiKey(t *testing.T) {
	k := gpgKeys25519()
	k.name, k.profile = "25519 yubikey-5.7", "yubikey-5.7"
	gpgCardFlow(t, k)
}

// gpgKeys25519 are Curve 25519 keys: Ed25519 (EdDSA, algorithm ID 22) for
// signature and authentication, X25519 (ECDH, 18) for decryption.
func gpgKeys25519() gpgKeys {
	return gpgKeys{name: "25519", keyAttr: map[string][]string{
		"cardedit.genkeys.algo": {"2", "2", "2"}, // ECC
		"keygen.curve":          {"1", "1", "1"}, // Curve 25519
	}, attrs: [3]string{"22:Ed25519", "18:Curve25519", "22:Ed25519"}}
}

// TestGPGCardP384 is the flow with NIST P-384 keys: ECDSA signatures (r||s)
// and ECDH with an uncompressed point.
func TestGPGCardP384(t *testing.T) {
	gpgCardFlow(t, gpgKeysP384())
}

// gpgKeysP384 are NIST P-384 keys: ECDSA (algorithm ID 19) for signature
// and authentication, ECDH (18) for decryption.
func gpgKeysP384() gpgKeys {
	return gpgKeys{name: "p384", keyAttr: map[string][]string{
		"cardedit.genkeys.algo": {"2", "2", "2"}, // ECC
		"keygen.curve":          {"4", "4", "4"}, // NIST P-384
	}, attrs: [3]string{"19:NIST P-384", "18:NIST P-384", "19:NIST P-384"}}
}

// TestGPGCardBrainpool is the flow with brainpoolP256r1 keys on the
// plain OpenPGP 3.4 card: ECDSA (19) for signature and authentication,
// ECDH (18) for decryption, chosen in key-attr's expert curve menu (gpg
// 2.2: (6) Brainpool P-256). OpenSSH has no brainpool keys, so the
// authentication key is not tried through ssh (the unit tests sign with it).
func TestGPGCardBrainpool(t *testing.T) {
	gpgCardFlow(t, gpgKeysBrainpool("6", "brainpoolP256r1")) // (6) Brainpool P-256
}

// TestGPGCardBrainpoolYubiKey is the brainpool flow with brainpoolP512r1
// keys on a yubikey-5.7 card (YubiKey 5.2.3 and later take brainpool
// keys): 128-byte signatures, a 129-byte point in PSO:DECIPHER.
func TestGPGCardBrainpoolYubiKey(t *testing.T) {
	k := gpgKeysBrainpool("8", "brainpoolP512r1") // (8) Brainpool P-512
	k.name, k.profile = "brainpoolP512r1 yubikey-5.7", "yubikey-5.7"
	gpgCardFlow(t, k)
}

// gpgKeysBrainpool are keys on a brainpool curve, entry menu of key-attr's
// expert curve menu.
func gpgKeysBrainpool(menu, curve string) gpgKeys {
	return gpgKeys{name: curve, keyAttr: map[string][]string{
		"cardedit.genkeys.algo": {"2", "2", "2"}, // ECC
		"keygen.curve":          {menu, menu, menu},
	}, attrs: [3]string{"19:" + curve, "18:" + curve, "19:" + curve},
		expert: true, noSSH: "OpenSSH has no brainpool keys"}
}

// gpgCardFlow runs the flow on a fresh card of the openpgp profile with
// keys of kind k.
func gpgCardFlow(t *testing.T, k gpgKeys) {
	start := time.Now()
	profile := k.profile
	if profile == "" {
		profile = "openpgp"
	}
	c := newInteropCard(t, "--profile", profile)
	g := newGnuPG(t, c)
	// verifier is a GnuPG home without a card: the public keys alone.
	verifier := newGnuPGWithoutCard(t, c)
	var st cardStatus

	c.step("card-status", func(t *testing.T) {
		mark := c.traceSize()
		st = g.cardStatus(t)
		// SELECT of the partial AID, GET DATA 4F, 5F52, C4, 6E; LEARN adds
		// 65, 7A and READ PUBLIC KEY.
		c.sawInOrder(t, mark, "gpg --card-status", "00A40400", "00CA004F", "00CA5F52", "00CA00C4", "00CA006E",
			"00CA0065", "00CA007A", "00478100")
		aid := strings.ToUpper(st.field("AID", 0))
		if !strings.HasPrefix(aid, "D276000124010304") || len(aid) != 32 {
			t.Errorf("AID %q, want D2 76 00 01 24 01 03 04 (OpenPGP 3.4) + manufacturer + serial + 0000, 16 bytes", aid)
		}
		if v := st.field("version", 0); v != "0304" {
			t.Errorf("version %q, want 0304", v)
		}
		if len(aid) == 32 {
			if v := strings.ToUpper(st.field("vendor", 0)); v != aid[16:20] || st.field("vendor", 1) == "" {
				t.Errorf("vendor %v, want manufacturer %s from the AID, with a name", st["vendor"], aid[16:20])
			}
			if s := strings.ToUpper(st.field("serial", 0)); s != aid[20:28] {
				t.Errorf("serial %q, want %s from the AID", s, aid[20:28])
			}
		}
		if r := st.pinRetries(t); r != [3]int{3, 0, 3} {
			t.Errorf("PIN retry counters (PW1, RC, PW3) %v, want [3 0 3] on a factory card", r)
		}
		if f := st.fingerprints(); f != [3]string{} {
			t.Errorf("fingerprints on a factory card %v, want none", f)
		}
		for i := 1; i <= 3; i++ {
			if a := gpgKeyAttr(st, i); a != "1:2048" {
				t.Errorf("key %d attributes %q, want RSA 2048 (1:2048) on a factory card", i, a)
			}
		}
	})

	if k.keyAttr != nil {
		c.step("key-attr "+k.name, func(t *testing.T) { st = gpgSetKeyAttr(t, g, k) })
	}

	var fprs [3]string // the card's fingerprints after generation
	c.step("generate", func(t *testing.T) {
		mark := c.traceSize()
		created := gpgGenerate(t, g, st)
		// VERIFY PW3, GENERATE, PUT DATA of each key's fingerprint and date,
		// a self-signature.
		c.sawInOrder(t, mark, "card-edit generate", "00200083", "00478000", "00DA00C7", "00DA00CE", "002A9E9A")
		c.sawInOrder(t, mark, "card-edit generate", "00DA00C8", "00DA00CF")
		c.sawInOrder(t, mark, "card-edit generate", "00DA00C9", "00DA00D0")
		if k.short {
			// The public key (about 270 bytes) in pieces: 61xx, GET RESPONSE.
			c.sawInOrder(t, mark, "card-edit generate (short APDUs)", "00478000", "00C00000")
		}
		st = g.cardStatus(t)
		fprs = st.fingerprints()
		for i, f := range fprs {
			if len(f) != 40 {
				t.Errorf("card fingerprint %d %q after generate, want 40 hex digits", i+1, f)
			}
		}
		if !strings.EqualFold(created, fprs[0]) {
			t.Errorf("KEY_CREATED %s, want the card's signature key %s", created, fprs[0])
		}
		// gpg's key: a signing primary key, an encryption subkey and an
		// authentication subkey whose fingerprints are the card's, stubs on
		// the card (field 15: the card's serial number).
		keys := g.mustGPG(t, nil, "--list-secret-keys", gpgUser)
		byUse := map[string]string{}
		use := ""
		for _, rec := range gpgRecords(keys.out, "sec", "ssb", "fpr") {
			switch rec[0] {
			case "sec", "ssb":
				if len(rec) < 15 || !strings.EqualFold(rec[14], st.field("AID", 0)) {
					t.Errorf("secret key record %v is not on the card %s", rec, st.field("AID", 0))
				}
				// Field 12: the key's own capabilities in lower case, the
				// whole key's in upper case.
				use = rec[0] + ":"
				if len(rec) > 11 {
					use += strings.Map(func(r rune) rune {
						if r >= 'a' && r <= 'z' {
							return r
						}
						return -1
					}, rec[11])
				}
			case "fpr":
				if use != "" && len(rec) > 9 {
					byUse[use] = strings.ToUpper(rec[9])
				}
				use = ""
			}
		}
		for i, use := range []string{"sec:sc", "ssb:e", "ssb:a"} {
			if byUse[use] != fprs[i] {
				t.Errorf("gpg's key with usage %s has fingerprint %q, want the card's key %d %s (all: %v)", use, byUse[use], i+1, fprs[i], byUse)
			}
		}
		g.mustGPG(t, nil, "--armor", "--output", c.path("pub.asc"), "--export", fprs[0])
		verifier.mustGPG(t, nil, "--import", c.path("pub.asc"))
	})

	message := []byte("Tessera signs this through pcscd and scdaemon.\n")
	if err := os.WriteFile(c.path("msg.txt"), message, 0o600); err != nil {
		t.Fatal(err)
	}
	pin := secret{"PIN", gpgPIN}
	sign := func(t *testing.T, p secret) gpgResult {
		t.Helper()
		os.Remove(c.path("msg.sig"))
		return g.gpg(t, &gpgAnswers{pins: []secret{p}}, "--local-user", fprs[0], "--output", c.path("msg.sig"), "--detach-sign", c.path("msg.txt"))
	}
	verify := func(t *testing.T) {
		t.Helper()
		r := verifier.mustGPG(t, nil, "--verify", c.path("msg.sig"), c.path("msg.txt"))
		valid := r.statusArgs("VALIDSIG")
		if len(valid) != 1 || !strings.EqualFold(strings.Fields(valid[0])[0], fprs[0]) {
			t.Errorf("VALIDSIG %q, want one by the card's signature key %s", valid, fprs[0])
		}
	}

	c.step("sign and verify", func(t *testing.T) {
		before := st.field("sigcount", 0)
		mark := c.traceSize()
		if r := sign(t, pin); r.code != 0 {
			t.Fatalf("gpg --detach-sign: exit %d\nscdaemon log:\n%s", r.code, g.scdLog())
		}
		verify(t)
		c.sawInOrder(t, mark, "gpg --detach-sign", "002A9E9A")
		st = g.cardStatus(t)
		if after := st.field("sigcount", 0); after == before {
			t.Errorf("signature counter %s before and after a signature, want it counted", after)
		}
	})

	c.step("encrypt and decrypt", func(t *testing.T) {
		verifier.mustGPG(t, nil, "--recipient", fprs[0], "--output", c.path("msg.gpg"), "--encrypt", c.path("msg.txt"))
		mark := c.traceSize()
		g.mustGPG(t, &gpgAnswers{pins: []secret{pin}}, "--output", c.path("msg.out"), "--decrypt", c.path("msg.gpg"))
		// PW1 for decryption (82), then PSO:DECIPHER.
		c.sawInOrder(t, mark, "gpg --decrypt", "00200082", "002A8086")
		if k.short {
			c.sawInOrder(t, mark, "gpg --decrypt (chained)", "102A8086", "002A8086")
		}
		c.wantDecrypted(t, "msg.out", message)
	})

	sshStep := c.step
	if k.noSSH != "" {
		sshStep = func(name string, _ func(t *testing.T)) {
			fmt.Printf("report: interop gpg %s: step %q left out: %s\n", k.name, name, k.noSSH)
		}
	}
	sshStep("ssh through gpg-agent", func(t *testing.T) {
		// The authentication key answers ssh through gpg-agent's ssh socket
		// (INTERNAL AUTHENTICATE); PW1 is still verified from the decryption
		// (an ssh request cannot reach the loopback pinentry).
		env := []string{"SSH_AUTH_SOCK=" + g.sshSocket(t), "GNUPGHOME=" + g.home}
		listed := c.exec(t, env, "ssh-add", "-L")
		exported := g.mustGPG(t, nil, "--export-ssh-key", fprs[0])
		want := strings.Fields(exported.out)
		if listed.code != 0 || len(want) < 2 || !strings.Contains(listed.out, want[0]+" "+want[1]) {
			t.Fatalf("ssh-add -L (exit %d) does not list the card's authentication key %q:\n%s", listed.code, want, listed.out)
		}
		pub := c.path("auth.pub")
		allowed := c.path("allowed_signers")
		if err := os.WriteFile(pub, []byte(want[0]+" "+want[1]+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(allowed, []byte("card@example.org "+want[0]+" "+want[1]+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		os.Remove(c.path("msg.txt.sig"))
		mark := c.traceSize()
		if r := c.exec(t, env, "ssh-keygen", "-Y", "sign", "-f", pub, "-n", "tessera", c.path("msg.txt")); r.code != 0 {
			t.Fatalf("ssh-keygen -Y sign through gpg-agent: exit %d\nscdaemon log:\n%s", r.code, g.scdLog())
		}
		r := c.exec(t, env, "sh", "-c", `ssh-keygen -Y verify -f "$1" -I card@example.org -n tessera -s "$2.sig" < "$2"`,
			"verify", allowed, c.path("msg.txt"))
		if r.code != 0 || !strings.Contains(r.out, "Good") {
			t.Errorf("ssh-keygen -Y verify of the card's signature: exit %d, want a good signature", r.code)
		}
		c.sawInOrder(t, mark, "ssh-keygen -Y sign", "00880000") // INTERNAL AUTHENTICATE
	})

	// blockPW1 spends PW1's three tries with a wrong PIN and checks the
	// counters: rc is the Reset Code's tries, which blocking PW1 leaves alone.
	blockPW1 := func(t *testing.T, right secret, rc int) {
		t.Helper()
		wrong := secret{"wrong PIN", "654321"} // 6 digits: scdaemon sends shorter ones nowhere
		// PW1 stays verified for several signatures (C4 byte 1 = 01): a new
		// scdaemon asks again.
		g.forgetPINs(t)
		for i := 1; i <= 3; i++ {
			r := sign(t, wrong)
			if r.code == 0 {
				t.Fatalf("signing with a wrong PIN (try %d) succeeded", i)
			}
			if i < 3 && !strings.Contains(r.out, "Bad PIN") {
				t.Errorf("signing with a wrong PIN (try %d): gpg does not say Bad PIN", i)
			}
			if got := g.cardStatus(t).pinRetries(t)[0]; got != 3-i {
				t.Errorf("PW1 tries after %d wrong PINs: %d, want %d", i, got, 3-i)
			}
		}
		if r := sign(t, right); r.code == 0 {
			t.Errorf("signing with the right PIN while PW1 is blocked succeeded")
		}
		if got := g.cardStatus(t).pinRetries(t); got != [3]int{0, rc, 3} {
			t.Errorf("PIN retry counters %v after blocking PW1, want [0 %d 3]", got, rc)
		}
	}

	c.step("wrong PIN three times blocks", func(t *testing.T) { blockPW1(t, pin, 0) })

	// passwd runs card-edit's admin, passwd, choice ("2" unblock the PIN with
	// PW3, "4" set the Reset Code); each new value is asked twice (new,
	// repeat), through loopback too.
	passwd := func(t *testing.T, choice string, pins ...secret) {
		t.Helper()
		g.mustGPG(t, &gpgAnswers{
			lines: map[string][]string{
				"cardedit.prompt":          {"admin", "passwd", "quit"},
				"cardutil.change_pin.menu": {choice, "q"},
			},
			pins: pins,
		}, "--card-edit")
	}

	c.step("unblock with the admin PIN", func(t *testing.T) {
		// gpg's card-edit "unblock" uses the Reset Code (RESET RETRY
		// COUNTER P1=00); with the admin PIN it is admin, passwd, 2
		// (VERIFY PW3, then RESET RETRY COUNTER P1=02).
		newPIN := secret{"new PIN", "246810"}
		mark := c.traceSize()
		passwd(t, "2", secret{"admin PIN", gpgAdminPIN}, newPIN, newPIN)
		c.sawInOrder(t, mark, "card-edit passwd 2", "00200083", "002C0281")
		if got := g.cardStatus(t).pinRetries(t); got != [3]int{3, 0, 3} {
			t.Errorf("PIN retry counters %v after unblocking, want [3 0 3]", got)
		}
		if r := sign(t, newPIN); r.code != 0 {
			t.Fatalf("signing with the new PIN after unblocking: exit %d\nscdaemon log:\n%s", r.code, g.scdLog())
		}
		verify(t)
	})

	c.step("unblock with the Reset Code", func(t *testing.T) {
		// admin, passwd, 4 sets the Reset Code (VERIFY PW3, PUT DATA D3);
		// card-edit's "unblock" then uses it (RESET RETRY COUNTER P1=00 with
		// Reset Code || new PIN).
		resetCode := secret{"Reset Code", "13572468"}
		mark := c.traceSize()
		passwd(t, "4", secret{"admin PIN", gpgAdminPIN}, resetCode, resetCode)
		c.sawInOrder(t, mark, "card-edit passwd 4", "00200083", "00DA00D3")
		if got := g.cardStatus(t).pinRetries(t); got != [3]int{3, 3, 3} {
			t.Fatalf("PIN retry counters %v after setting a Reset Code, want [3 3 3]", got)
		}
		blockPW1(t, secret{"new PIN", "246810"}, 3)
		thirdPIN := secret{"third PIN", "975310"}
		mark = c.traceSize()
		g.mustGPG(t, &gpgAnswers{
			lines: map[string][]string{"cardedit.prompt": {"unblock", "quit"}},
			pins:  []secret{resetCode, thirdPIN, thirdPIN},
		}, "--card-edit")
		c.sawInOrder(t, mark, "card-edit unblock", "002C0081")
		if got := g.cardStatus(t).pinRetries(t); got != [3]int{3, 3, 3} {
			t.Errorf("PIN retry counters %v after unblocking with the Reset Code, want [3 3 3]", got)
		}
		if r := sign(t, thirdPIN); r.code != 0 {
			t.Fatalf("signing with the PIN the Reset Code set: exit %d\nscdaemon log:\n%s", r.code, g.scdLog())
		}
		verify(t)
	})

	c.step("trace withholds PINs", func(t *testing.T) {
		c.traceWithholds(t, gpgPIN, gpgAdminPIN, "654321", "246810", "13572468", "975310")
	})
	ssh := ", ssh signature"
	if k.noSSH != "" {
		ssh = ""
	}
	fmt.Printf("report: interop gpg %s: card-status, generate, sign/verify, encrypt/decrypt%s, block PW1 and unblock it with PW3 and with the Reset Code in %v\n", k.name, ssh, time.Since(start).Round(time.Millisecond))
}

// gpgSetKeyAttr has card-edit's key-attr give the card's three slots the
// algorithms of k, checks them in card-status and returns it.
func gpgSetKeyAttr(t *testing.T, g *gnupg, k gpgKeys) cardStatus {
	t.Helper()
	// Each change of attributes verifies PW3 anew (scdaemon forgets PW3
	// after PUT DATA C1-C3).
	admin := secret{"admin PIN", gpgAdminPIN}
	lines := map[string][]string{"cardedit.prompt": {"admin", "key-attr", "quit"}}
	for kw, a := range k.keyAttr {
		lines[kw] = a
	}
	args := []string{"--card-edit"}
	if k.expert {
		args = append([]string{"--expert"}, args...)
	}
	g.mustGPG(t, &gpgAnswers{lines: lines, pins: []secret{admin, admin, admin}}, args...)
	st := g.cardStatus(t)
	for i, want := range k.attrs {
		if a := gpgKeyAttr(st, i+1); a != want {
			t.Errorf("key %d attributes %q after key-attr, want %s", i+1, a, want)
		}
	}
	return st
}

// gpgGenerate generates the card's three keys with card-edit (no off-card
// backup, replacing any keys; user gpgUser, no expiry) on a card whose
// status is st, and returns the fingerprint gpg's KEY_CREATED status line
// gives.
func gpgGenerate(t *testing.T, g *gnupg, st cardStatus) string {
	t.Helper()
	pin, admin := secret{"PIN", gpgPIN}, secret{"admin PIN", gpgAdminPIN}
	// scdaemon 2.2, PW3 not verified yet, asks in this order: with the
	// signature PIN forced (C4 byte 1 = 00) the admin PIN to unforce it
	// during generation, then the PIN (CHECKPIN); else the PIN, then the
	// admin PIN for GENERATE; last the PIN again for the first
	// self-signature (CHECKPIN of a card without keys does not count as
	// PW1 verified).
	pins := []secret{pin, admin, pin}
	if st.field("forcepin", 0) == "1" {
		pins = []secret{admin, pin, pin}
	}
	r := g.mustGPG(t, &gpgAnswers{
		lines: map[string][]string{
			"cardedit.prompt":               {"admin", "generate", "quit"},
			"cardedit.genkeys.backup_enc":   {"n"},
			"cardedit.genkeys.replace_keys": {"y"},
			"keygen.valid":                  {"0"},
			"keygen.name":                   {"Tessera Card"},
			"keygen.email":                  {"card@example.org"},
			"keygen.comment":                {""},
		},
		pins: pins,
	}, "--card-edit")
	created := r.statusArgs("KEY_CREATED")
	if len(created) != 1 || len(strings.Fields(created[0])) < 2 {
		t.Fatalf("KEY_CREATED status lines %q, want one", created)
	}
	return strings.ToUpper(strings.Fields(created[0])[1])
}

// gpgCardData is the URL (5F50), login data (5E), language (5F2D) and
// salutation (5F35: m, f or u) gpg --card-status shows.
func gpgCardData(st cardStatus) [4]string {
	// --with-colons writes a colon in a value as \x3a.
	unescape := func(v string) string { return strings.ReplaceAll(v, `\x3a`, ":") }
	return [4]string{unescape(st.field("url", 0)), unescape(st.field("login", 0)), st.field("lang", 0), st.field("sex", 0)}
}

// gpgPrivateDOs are the private-use DOs 0101 and 0102 gpg --card-status
// shows (it reads 0103 and 0104 only with the PINs verified).
func gpgPrivateDOs(st cardStatus) [2]string {
	var dos [2]string
	for _, rec := range st["private_do"] {
		if len(rec) >= 2 && (rec[0] == "1" || rec[0] == "2") {
			dos[rec[0][0]-'1'] = rec[1]
		}
	}
	return dos
}

// gpgKeyAttr is key i's (1-3) attributes from card-status: "algo:bits" or
// "algo:curve".
func gpgKeyAttr(st cardStatus, i int) string {
	for _, rec := range st["keyattr"] {
		if len(rec) >= 3 && rec[0] == fmt.Sprint(i) {
			return rec[1] + ":" + rec[2]
		}
	}
	return ""
}

// gpgRecords are the --with-colons records of the given types, split into
// fields (field 0 the type).
func gpgRecords(out string, types ...string) [][]string {
	var recs [][]string
	for _, line := range strings.Split(out, "\n") {
		f := strings.Split(strings.TrimSpace(line), ":")
		for _, typ := range types {
			if f[0] == typ {
				recs = append(recs, f)
			}
		}
	}
	return recs
}

// TestGPGYkmanOpenPGPInfo reads the OpenPGP application of a yubikey-5.7
// card, which hosts it beside PIV as the real device does, with ykman 4.0.9
// (`ykman openpgp info`: GET VERSION F1, GET DATA 4F, C4 and the touch
// policies D6-D9) and with scdaemon, which takes the card for a YubiKey (it
// answers the management application's READ CONFIG) and reads the serial
// number from the OpenPGP AID as a YubiKey's: manufacturer 0006, the
// serial in BCD. Then gpg generates keys, ykman sets a touch policy (PUT
// DATA D6), gpg signs once under it (the trace shows the card asking its
// sensor for key B6, which the default touch mode auto gives at once), ykman
// sets the tries (SET PIN RETRIES, F2), and resets the application
// (wrong VERIFYs until blocked, TERMINATE, ACTIVATE): no keys, default
// tries, touch off. ykman is given the vpcd reader by name (--reader).
func TestGPGYkmanOpenPGPInfo(t *testing.T) {
	c := newInteropCard(t, "--profile", "yubikey-5.7", "--serial", strconv.Itoa(ykmanSerial))
	gpgYkmanFlow(t, c, []string{"--reader", c.reader})
}

// TestGPGYkmanOpenPGPInfoIFD is TestGPGYkmanOpenPGPInfo over the IFD
// bridge, in a reader named as a YubiKey's, which ykman finds by its name
// without --reader.
func TestGPGYkmanOpenPGPInfoIFD(t *testing.T) {
	c, _ := newIFDYubiKeyCard(t, "--profile", "yubikey-5.7", "--serial", strconv.Itoa(ykmanSerial))
	gpgYkmanFlow(t, c, nil)
}

// gpgYkmanFlow is TestGPGYkmanOpenPGPInfo's flow on c, ykman run with
// ykArgs before its command.
func gpgYkmanFlow(t *testing.T, c *interopCard, ykArgs []string) {
	// ykman runs `ykman [ykArgs] openpgp args...`.
	ykman := func(t *testing.T, args ...string) string {
		t.Helper()
		return c.run(t, "ykman", append(append(slices.Clone(ykArgs), "openpgp"), args...)...)
	}
	c.step("ykman openpgp info", func(t *testing.T) {
		mark := c.traceSize()
		out := ykman(t, "info")
		// GET VERSION, GET DATA 4F, C4, the touch policies.
		c.sawInOrder(t, mark, "ykman openpgp info", "00A40400", "00F10000", "00CA004F", "00CA00C4",
			"00CA00D6", "00CA00D7", "00CA00D8", "00CA00D9")
		mustContain(t, "ykman openpgp info", out, "OpenPGP version: 3.4", "Application version: 5.7.1",
			"PIN tries remaining: 3", "Reset code tries remaining: 0", "Admin PIN tries remaining: 3",
			"Signature key           Off", "Encryption key          Off", "Authentication key      Off")
	})
	g := newGnuPG(t, c)
	c.step("gpg --card-status", func(t *testing.T) {
		st := g.cardStatus(t)
		want := fmt.Sprintf("D2760001240103040006%08d0000", ykmanSerial)
		if aid := strings.ToUpper(st.field("AID", 0)); aid != want {
			t.Errorf("AID %s, want %s (OpenPGP 3.4, Yubico, the serial in BCD)", aid, want)
		}
		if v := st.field("vendor", 1); v != "Yubico" {
			t.Errorf("vendor %v, want 0006 Yubico", st["vendor"])
		}
		if r := st.pinRetries(t); r != [3]int{3, 0, 3} {
			t.Errorf("PIN retry counters %v, want [3 0 3]", r)
		}
	})
	var sigKey string
	c.step("gpg generate", func(t *testing.T) {
		sigKey = gpgGenerate(t, g, g.cardStatus(t))
		if f := g.cardStatus(t).fingerprints(); f[0] == "" || f[1] == "" || f[2] == "" {
			t.Fatalf("fingerprints %v after generate, want three", f)
		}
		// scdaemon holds the reader while it runs: let ykman have it.
		g.forgetPINs(t)
	})
	c.step("ykman openpgp keys set-touch", func(t *testing.T) {
		mark := c.traceSize()
		ykman(t, "keys", "set-touch", "sig", "on", "--admin-pin", gpgAdminPIN, "--force")
		c.sawInOrder(t, mark, "ykman openpgp keys set-touch", "00200083", "00DA00D6")
		mustContain(t, "ykman openpgp info", ykman(t, "info"), "Signature key           On", "Encryption key          Off")
	})
	c.step("gpg sign with touch on", func(t *testing.T) {
		if err := os.WriteFile(c.path("touch.txt"), []byte("signed after a touch\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		mark := c.traceSize()
		g.mustGPG(t, &gpgAnswers{pins: []secret{{"PIN", gpgPIN}}}, "--local-user", sigKey, "--output", c.path("touch.sig"), "--detach-sign", c.path("touch.txt"))
		// The card asks its sensor for key B6 (auto: touched at once) before signing.
		var seen []string
		for _, rec := range c.records(t, mark) {
			if rec.Event == "touch-request" {
				seen = append(seen, rec.Event+" "+rec.Detail)
			} else if strings.HasPrefix(strings.ToUpper(rec.Command), "002A9E9A") {
				seen = append(seen, "PSO:CDS "+rec.SW)
			}
		}
		if want := []string{"touch-request key B6", "PSO:CDS 9000"}; !slices.Equal(seen, want) {
			t.Errorf("the trace of gpg --detach-sign with touch on shows %q, want %q", seen, want)
		}
		g.forgetPINs(t)
	})
	c.step("ykman openpgp access set-retries", func(t *testing.T) {
		mark := c.traceSize()
		ykman(t, "access", "set-retries", "5", "4", "6", "--admin-pin", gpgAdminPIN, "--force")
		c.sawInOrder(t, mark, "ykman openpgp access set-retries", "00200083", "00F20000")
		mustContain(t, "ykman openpgp info", ykman(t, "info"), "PIN tries remaining: 5", "Admin PIN tries remaining: 6")
	})
	c.step("ykman openpgp reset", func(t *testing.T) {
		mark := c.traceSize()
		mustContain(t, "ykman openpgp reset", ykman(t, "reset", "--force"), "Success! All data has been cleared and default PINs are set.")
		// Wrong VERIFYs until PW1 and PW3 are blocked, TERMINATE DF, ACTIVATE FILE.
		c.sawInOrder(t, mark, "ykman openpgp reset", "00200081", "00200083", "00E60000", "00440000")
		mustContain(t, "ykman openpgp info", ykman(t, "info"), "PIN tries remaining: 3", "Admin PIN tries remaining: 3",
			"Signature key           Off")
		st := g.cardStatus(t)
		if f := st.fingerprints(); f != [3]string{} {
			t.Errorf("fingerprints %v after ykman openpgp reset, want none", f)
		}
		if r := st.pinRetries(t); r != [3]int{3, 0, 3} {
			t.Errorf("PIN retry counters %v after ykman openpgp reset, want [3 0 3]", r)
		}
	})
}

// TestGPGKeyToCard moves software keys onto a fresh openpgp card with
// `gpg --edit-key` keytocard (PUT DATA odd INS DB, the extended header
// list; for Ed25519/X25519 after PUT DATA of the algorithm attributes), and
// uses them there: the card's fingerprints are the keys', a signature by the
// card verifies with the public key, and what is encrypted to the public key
// the card decrypts. Once with RSA 2048, once with Ed25519 and X25519.
func TestGPGKeyToCard(t *testing.T) {
	for _, k := range []struct{ name, sign, encr string }{
		{"rsa2048", "rsa2048", "rsa2048"},
		{"25519", "ed25519", "cv25519"},
		{"brainpoolP384r1", "brainpoolP384r1", "brainpoolP384r1"},
	} {
		t.Run(k.name, func(t *testing.T) {
			c := newInteropCard(t, "--profile", "openpgp")
			g := newGnuPG(t, c)
			verifier := newGnuPGWithoutCard(t, c)
			const user = "Imported Key <import@example.org>"
			admin := secret{"admin PIN", gpgAdminPIN}
			var fpr, subFpr string

			c.step("software keys", func(t *testing.T) {
				// No passphrase on the software key: the only PIN asked later
				// is the card's.
				g.mustGPG(t, nil, "--passphrase", "", "--quick-gen-key", user, k.sign, "sign", "never")
				keys := g.mustGPG(t, nil, "--list-keys", user)
				fprs := gpgRecords(keys.out, "fpr")
				if len(fprs) != 1 || len(fprs[0]) < 10 {
					t.Fatalf("fingerprint records %v, want one", fprs)
				}
				fpr = strings.ToUpper(fprs[0][9])
				g.mustGPG(t, nil, "--passphrase", "", "--quick-add-key", fpr, k.encr, "encr", "never")
				keys = g.mustGPG(t, nil, "--list-keys", user)
				if fprs = gpgRecords(keys.out, "fpr"); len(fprs) != 2 || len(fprs[1]) < 10 {
					t.Fatalf("fingerprint records %v, want the primary key's and the subkey's", fprs)
				}
				subFpr = strings.ToUpper(fprs[1][9])
				g.mustGPG(t, nil, "--armor", "--output", c.path("pub.asc"), "--export", fpr)
				verifier.mustGPG(t, nil, "--import", c.path("pub.asc"))
			})
			c.step("keytocard", func(t *testing.T) {
				// The admin PIN, asked once per PW3 verification: scdaemon
				// verifies again after it changed the algorithm attributes.
				mark := c.traceSize()
				g.mustGPG(t, &gpgAnswers{
					lines: map[string][]string{
						"keyedit.prompt":                {"keytocard", "key 1", "keytocard", "save"},
						"keyedit.keytocard.use_primary": {"y"},
						"cardedit.genkeys.storekeytype": {"1", "2"},
					},
					rest: &admin,
				}, "--edit-key", fpr)
				// Each key: its import (PUT DATA odd DB 3FFF), fingerprint and
				// date; after new algorithm attributes where the factory RSA
				// 2048 does not fit.
				c.sawInOrder(t, mark, "keytocard", "00200083", "00DB3FFF", "00DA00C7", "00DA00CE", "00DB3FFF", "00DA00C8", "00DA00CF")
				if k.sign != "rsa2048" {
					c.sawInOrder(t, mark, "keytocard", "00DA00C1", "00DB3FFF", "00DA00C2", "00DB3FFF")
				}
				st := g.cardStatus(t)
				if f := st.fingerprints(); f[0] != fpr || f[1] != subFpr || f[2] != "" {
					t.Errorf("card fingerprints %v, want [%s %s none]", f, fpr, subFpr)
				}
				keys := g.mustGPG(t, nil, "--list-secret-keys", user)
				for _, rec := range gpgRecords(keys.out, "sec", "ssb") {
					if len(rec) < 15 || !strings.EqualFold(rec[14], st.field("AID", 0)) {
						t.Errorf("secret key record %v is not on the card %s", rec, st.field("AID", 0))
					}
				}
			})
			message := []byte("Signed and decrypted by imported keys.\n")
			if err := os.WriteFile(c.path("msg.txt"), message, 0o600); err != nil {
				t.Fatal(err)
			}
			pin := secret{"PIN", gpgPIN}
			c.step("sign and verify", func(t *testing.T) {
				g.mustGPG(t, &gpgAnswers{pins: []secret{pin}}, "--local-user", fpr, "--output", c.path("msg.sig"), "--detach-sign", c.path("msg.txt"))
				r := verifier.mustGPG(t, nil, "--verify", c.path("msg.sig"), c.path("msg.txt"))
				if valid := r.statusArgs("VALIDSIG"); len(valid) != 1 || !strings.EqualFold(strings.Fields(valid[0])[0], fpr) {
					t.Errorf("VALIDSIG %q, want one by the imported key %s", valid, fpr)
				}
			})
			c.step("encrypt and decrypt", func(t *testing.T) {
				verifier.mustGPG(t, nil, "--recipient", fpr, "--output", c.path("msg.gpg"), "--encrypt", c.path("msg.txt"))
				g.mustGPG(t, &gpgAnswers{rest: &pin}, "--output", c.path("msg.out"), "--decrypt", c.path("msg.gpg"))
				c.wantDecrypted(t, "msg.out", message)
			})
		})
	}
}

// TestGPGFactoryReset uses a card with gpg --card-edit (key-attr,
// generate, name, url, login, lang, sex, passwd 1 and 3: new PINs,
// privatedo 1 and 2), then
// resets it with factory-reset: scdaemon blocks PW1 and PW3 with wrong
// VERIFYs, then TERMINATE DF and ACTIVATE FILE. The card is back to its
// factory state: no keys, RSA 2048 attributes, no cardholder data, the
// default PINs with three tries each.
func TestGPGFactoryReset(t *testing.T) {
	c := newInteropCard(t, "--profile", "openpgp")
	g := newGnuPG(t, c)
	admin := secret{"admin PIN", gpgAdminPIN}
	// setName sets the cardholder's name (DO 5B) to Tessera surname with
	// card-edit's name, the PINs from a.
	setName := func(t *testing.T, surname string, a *gpgAnswers) {
		t.Helper()
		a.lines = map[string][]string{
			"cardedit.prompt":            {"admin", "name", "quit"},
			"keygen.smartcard.surname":   {surname},
			"keygen.smartcard.givenname": {"Tessera"},
		}
		g.mustGPG(t, a, "--card-edit")
	}
	c.step("use the card", func(t *testing.T) {
		g.mustGPG(t, &gpgAnswers{lines: map[string][]string{
			"cardedit.prompt":       {"admin", "key-attr", "quit"},
			"cardedit.genkeys.algo": {"2", "2", "2"},
			"keygen.curve":          {"1", "1", "1"},
		}, rest: &admin}, "--card-edit")
		g.forgetPINs(t)
		gpgGenerate(t, g, g.cardStatus(t))
		setName(t, "Card", &gpgAnswers{rest: &admin})
		mark := c.traceSize()
		g.mustGPG(t, &gpgAnswers{lines: map[string][]string{
			"cardedit.prompt":       {"admin", "url", "login", "lang", "sex", "quit"},
			"cardedit.change_url":   {"https://example.org/tessera.asc"},
			"cardedit.change_login": {"tessera"},
			"cardedit.change_lang":  {"en"},
			"cardedit.change_sex":   {"F"},
		}, rest: &admin}, "--card-edit")
		c.sawInOrder(t, mark, "card-edit url, login, lang, sex", "00DA5F50", "00DA005E", "00DA5F2D", "00DA5F35")
		// passwd 1 and 3: CHANGE REFERENCE DATA of PW1 and PW3, each new
		// value asked twice; the new admin PIN then sets the name.
		newPIN, newAdmin := secret{"new PIN", "864200"}, secret{"new admin PIN", "86420086"}
		mark = c.traceSize()
		g.mustGPG(t, &gpgAnswers{lines: map[string][]string{
			"cardedit.prompt":          {"admin", "passwd", "quit"},
			"cardutil.change_pin.menu": {"1", "3", "q"},
		}, pins: []secret{{"PIN", gpgPIN}, newPIN, newPIN, admin, newAdmin, newAdmin}}, "--card-edit")
		c.sawInOrder(t, mark, "card-edit passwd 1, 3", "00240081", "00240083")
		g.forgetPINs(t)
		setName(t, "Card", &gpgAnswers{pins: []secret{newAdmin}})
		st := g.cardStatus(t)
		if got := gpgCardData(st); got != [4]string{"https://example.org/tessera.asc", "tessera", "en", "f"} {
			t.Errorf("url, login, lang, sex %q, want those card-edit set", got)
		}
		// The private-use DOs 0101 (written with PW1 82) and 0102 (PW3),
		// with the new PINs.
		g.forgetPINs(t)
		mark = c.traceSize()
		g.mustGPG(t, &gpgAnswers{lines: map[string][]string{
			"cardedit.prompt":            {"admin", "privatedo 1", "privatedo 2", "quit"},
			"cardedit.change_private_do": {"tessera-one", "tessera-two"},
		}, pins: []secret{newPIN, newAdmin}}, "--card-edit")
		c.sawInOrder(t, mark, "card-edit privatedo 1, 2", "00200082", "00DA0101", "00200083", "00DA0102")
		if got := gpgPrivateDOs(g.cardStatus(t)); got != [2]string{"tessera-one", "tessera-two"} {
			t.Errorf("private DOs 1 and 2 %q, want those card-edit set", got)
		}
		if f := st.fingerprints(); f[0] == "" || f[1] == "" || f[2] == "" {
			t.Fatalf("fingerprints %v after generate, want three", f)
		}
		if n := st.field("name", 0) + " " + st.field("name", 1); n != "Tessera Card" {
			t.Fatalf("cardholder name %q, want Tessera Card", n)
		}
	})
	c.step("factory-reset", func(t *testing.T) {
		mark := c.traceSize()
		g.mustGPG(t, &gpgAnswers{lines: map[string][]string{
			"cardedit.prompt":                {"admin", "factory-reset", "quit"},
			"cardedit.factory-reset.proceed": {"y"},
			"cardedit.factory-reset.really":  {"yes"},
		}}, "--card-edit")
		c.sawInOrder(t, mark, "card-edit factory-reset", "00200081", "00200083", "00E60000", "00440000")
		st := g.cardStatus(t)
		if f := st.fingerprints(); f != [3]string{} {
			t.Errorf("fingerprints %v after factory-reset, want none", f)
		}
		for i := 1; i <= 3; i++ {
			if a := gpgKeyAttr(st, i); a != "1:2048" {
				t.Errorf("key %d attributes %q after factory-reset, want RSA 2048 (1:2048)", i, a)
			}
		}
		if n := st.field("name", 0) + st.field("name", 1); n != "" {
			t.Errorf("cardholder name %q after factory-reset, want none", n)
		}
		if got := gpgCardData(st); got != [4]string{"", "", "", "u"} {
			t.Errorf("url, login, lang, sex %q after factory-reset, want none", got)
		}
		if got := gpgPrivateDOs(st); got != [2]string{} {
			t.Errorf("private DOs 1 and 2 %q after factory-reset, want none", got)
		}
		if r := st.pinRetries(t); r != [3]int{3, 0, 3} {
			t.Errorf("PIN retry counters %v after factory-reset, want [3 0 3]", r)
		}
	})
	c.step("trace withholds PINs", func(t *testing.T) {
		c.traceWithholds(t, gpgPIN, gpgAdminPIN, "864200", "86420086")
	})
	c.step("default PINs again", func(t *testing.T) {
		// The default admin PIN sets a name; the default PIN is verified
		// when generating keys.
		setName(t, "Again", &gpgAnswers{pins: []secret{admin}})
		g.forgetPINs(t)
		gpgGenerate(t, g, g.cardStatus(t))
		if r := g.cardStatus(t).pinRetries(t); r != [3]int{3, 0, 3} {
			t.Errorf("PIN retry counters %v, want [3 0 3]", r)
		}
	})
}

// TestGPGForceSig switches the card to "PW1 valid for one signature" with
// gpg --card-edit forcesig (PUT DATA C4 with one byte, 00): scdaemon then
// asks and verifies the PIN before every signature (that the card refuses
// a second PSO:CDS without it is the conformance suite's
// OPGP-4.4.3.4-PW1-ONCE); forcesig again switches back (01), and signatures
// follow each other on one PIN.
func TestGPGForceSig(t *testing.T) {
	c := newInteropCard(t, "--profile", "openpgp")
	g := newGnuPG(t, c)
	verifier := newGnuPGWithoutCard(t, c)
	admin, pin := secret{"admin PIN", gpgAdminPIN}, secret{"PIN", gpgPIN}
	var fpr string
	c.step("generate", func(t *testing.T) {
		fpr = gpgGenerate(t, g, g.cardStatus(t))
		g.mustGPG(t, nil, "--armor", "--output", c.path("pub.asc"), "--export", fpr)
		verifier.mustGPG(t, nil, "--import", c.path("pub.asc"))
	})
	if err := os.WriteFile(c.path("msg.txt"), []byte("one PIN, one signature\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// signTwice signs twice, each verified with the public key, and returns
	// how many PINs gpg was asked for each.
	signTwice := func(t *testing.T) [2]int {
		t.Helper()
		var asked [2]int
		for i := range asked {
			os.Remove(c.path("msg.sig"))
			r := g.mustGPG(t, &gpgAnswers{rest: &pin}, "--local-user", fpr, "--output", c.path("msg.sig"), "--detach-sign", c.path("msg.txt"))
			for _, p := range r.prompts {
				if strings.HasPrefix(p, "passphrase.enter ") {
					asked[i]++
				}
			}
			if r := verifier.mustGPG(t, nil, "--verify", c.path("msg.sig"), c.path("msg.txt")); len(r.statusArgs("VALIDSIG")) != 1 {
				t.Errorf("signature %d does not verify", i+1)
			}
		}
		return asked
	}
	toggle := func(t *testing.T, want string) {
		t.Helper()
		mark := c.traceSize()
		g.mustGPG(t, &gpgAnswers{lines: map[string][]string{"cardedit.prompt": {"admin", "forcesig", "quit"}}, rest: &admin}, "--card-edit")
		c.sawInOrder(t, mark, "card-edit forcesig", "00DA00C4")
		if f := g.cardStatus(t).field("forcepin", 0); f != want {
			t.Errorf("forcepin %q after forcesig, want %s", f, want)
		}
	}
	c.step("forcesig on", func(t *testing.T) { toggle(t, "1") })
	c.step("a PIN for each signature", func(t *testing.T) {
		mark := c.traceSize()
		if asked := signTwice(t); asked != [2]int{1, 1} {
			t.Errorf("PINs asked for two signatures %v, want [1 1]", asked)
		}
		c.sawInOrder(t, mark, "two signatures", "00200081", "002A9E9A", "00200081", "002A9E9A")
	})
	c.step("generate with the signature PIN forced", func(t *testing.T) {
		// scdaemon unforces it for the generation (PUT DATA C4 01, after
		// the admin PIN, which so comes first) and forces it again after.
		g.forgetPINs(t)
		st := g.cardStatus(t)
		mark := c.traceSize()
		old := fpr
		if fpr = gpgGenerate(t, g, st); fpr == old {
			t.Errorf("the new keys have the old fingerprint %s", fpr)
		}
		g.mustGPG(t, nil, "--armor", "--output", c.path("pub.asc"), "--export", fpr)
		verifier.mustGPG(t, nil, "--import", c.path("pub.asc"))
		c.sawInOrder(t, mark, "card-edit generate, signature PIN forced", "00200083", "00DA00C4", "00200081", "00478000", "00DA00C4")
		if f := g.cardStatus(t).field("forcepin", 0); f != "1" {
			t.Errorf("forcepin %q after generating, want 1 (forced again)", f)
		}
	})
	c.step("forcesig off", func(t *testing.T) { toggle(t, "0") })
	c.step("one PIN for several signatures", func(t *testing.T) {
		g.forgetPINs(t)
		if asked := signTwice(t); asked != [2]int{1, 0} {
			t.Errorf("PINs asked for two signatures %v, want [1 0]", asked)
		}
	})
}

// TestGPGCardholderCertificate writes a cardholder certificate (DO 7F21, an
// X.509 certificate from a CA on the host, longer than a short APDU) with
// gpg --card-edit writecert, reads it back with readcert, and with OpenSC,
// which selects it with SELECT DATA and lists it as the authentication
// key's: the same bytes each time.
func TestGPGCardholderCertificate(t *testing.T) {
	c := newInteropCard(t, "--profile", "openpgp")
	g := newGnuPG(t, c)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	cert := newHostCA(t).issue(t, "Tessera cardholder", key.Public()).Raw
	if len(cert) <= 255 {
		t.Fatalf("the certificate has %d bytes; the test wants more than a short APDU carries", len(cert))
	}
	if err := os.WriteFile(c.path("cert.der"), cert, 0o600); err != nil {
		t.Fatal(err)
	}
	c.step("writecert and readcert", func(t *testing.T) {
		mark := c.traceSize()
		g.mustGPG(t, &gpgAnswers{lines: map[string][]string{
			"cardedit.prompt": {"admin", "writecert 3 < " + c.path("cert.der"), "readcert 3 > " + c.path("back.der"), "quit"},
		}, pins: []secret{{"admin PIN", gpgAdminPIN}}}, "--card-edit")
		c.sawInOrder(t, mark, "card-edit writecert, readcert", "00200083", "00DA7F21", "00CA7F21")
		back, err := os.ReadFile(c.path("back.der"))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(back, cert) {
			t.Errorf("readcert gave %d bytes, want the %d written", len(back), len(cert))
		}
		g.forgetPINs(t)
	})
	c.step("OpenSC reads it", func(t *testing.T) {
		mark := c.traceSize()
		out := c.run(t, "pkcs15-tool", "-r", c.reader, "--list-certificates")
		mustContain(t, "pkcs15-tool --list-certificates", out, "X.509 Certificate [AUT certificate]", "ID             : 03")
		c.sawInOrder(t, mark, "pkcs15-tool --list-certificates", "00A50004", "00CA7F21")
		block, _ := pem.Decode([]byte(c.run(t, "pkcs15-tool", "-r", c.reader, "--read-certificate", "03")))
		if block == nil || !bytes.Equal(block.Bytes, cert) {
			t.Errorf("pkcs15-tool --read-certificate 03 does not give the certificate gpg wrote")
		}
	})
}
