//go:build e2e

package e2e

import (
	"bufio"
	"bytes"
	"crypto/x509"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tesseracard/tessera/internal/hosttest"
)

const (
	ykmanSerial = 20260804
	// ykmanReaderName is the reader name ykman looks for when it is not
	// given --reader (ykman/pcsc/__init__.py YK_READER_NAME, matched
	// case-insensitively), as a YubiKey 5's CCID interface is named.
	ykmanReaderName = "Yubico YubiKey OTP+FIDO+CCID"
	// ykmanInstance is the pcscd instance (scripts/pcscd.sh) whose vpcd
	// readers carry ykmanReaderName.
	ykmanInstance = 7
)

// TestInteropYkman drives a fresh card with Debian's yubikey-manager
// (ykman 4.0.9) through pcscd: info, PIN change with a wrong and a right
// PIN, key generation, a self-signed certificate made by the card,
// attestation, and ykman's reset (which blocks the PUK with empty RESET
// RETRY COUNTER fields).
func TestInteropYkman(t *testing.T) {
	start := time.Now()
	c := newInteropCard(t, "--serial", strconv.Itoa(ykmanSerial))
	const mgmt = "010203040506070801020304050607080102030405060708"
	const newPIN = "246813"
	ykman := func(t *testing.T, args ...string) string {
		t.Helper()
		return c.run(t, "ykman", append([]string{"--reader", c.reader}, args...)...)
	}

	c.step("piv info", func(t *testing.T) {
		out := ykman(t, "piv", "info")
		mustContain(t, "ykman piv info", out, "PIV version: 5.7.1", "PIN tries remaining: 3/3",
			"WARNING: Using default PIN!", "Management key algorithm: TDES")
	})

	c.step("piv access change-pin", func(t *testing.T) {
		r := c.exec(t, nil, "ykman", "--reader", c.reader, "piv", "access", "change-pin", "-P", "000000", "-n", newPIN)
		if r.code == 0 {
			t.Fatalf("change-pin with a wrong PIN succeeded:\n%s", r.out)
		}
		c.checkTries(t, 2, 3)
		mustContain(t, "ykman piv info after a wrong PIN", ykman(t, "piv", "info"), "PIN tries remaining: 2/3")
		out := ykman(t, "piv", "access", "change-pin", "-P", "123456", "-n", newPIN)
		mustContain(t, "ykman piv access change-pin", out, "New PIN set.")
		c.checkTries(t, 3, 3)
		if st := c.cardState(t); st.PIN.Default {
			t.Errorf("card state: PIN still the default after change-pin")
		}
		info := ykman(t, "piv", "info")
		mustContain(t, "ykman piv info after change-pin", info, "PIN tries remaining: 3/3")
		if strings.Contains(info, "Using default PIN") {
			t.Errorf("ykman piv info still warns of the default PIN:\n%s", info)
		}
	})

	c.step("piv keys generate", func(t *testing.T) {
		ykman(t, "piv", "keys", "generate", "-m", mgmt, "-P", newPIN, "-a", "ECCP256",
			"--pin-policy", "ONCE", "--touch-policy", "NEVER", "9a", "9a.pub")
		ykman(t, "piv", "keys", "generate", "-m", mgmt, "-P", newPIN, "-a", "RSA2048", "9c", "9c.pub")
		keys := map[string]string{}
		for _, k := range c.cardState(t).Keys {
			keys[k.Slot] = k.Algorithm + " " + k.Origin + " " + k.PINPolicy
		}
		for slot, want := range map[string]string{"9A": "ECC-P256 generated once", "9C": "RSA-2048 generated always"} {
			if !strings.EqualFold(keys[slot], want) {
				t.Errorf("card state: key %s = %q, want %q", slot, keys[slot], want)
			}
		}
	})

	c.step("piv certificates generate", func(t *testing.T) {
		for _, slot := range []string{"9a", "9c"} {
			ykman(t, "piv", "certificates", "generate", "-m", mgmt, "-P", newPIN, "-s", "CN=tessera ykman "+slot, "-d", "30", slot, slot+".pub")
			ykman(t, "piv", "certificates", "export", slot, slot+".pem")
			cert, err := x509.ParseCertificate(c.readPEM(t, slot+".pem", "CERTIFICATE"))
			if err != nil {
				t.Fatalf("%s: %v", slot, err)
			}
			// The card signed its own certificate: it verifies with the
			// key the card generated.
			if !publicEqual(cert.PublicKey, c.readPublicKey(t, slot+".pub")) {
				t.Errorf("%s: certificate key differs from the generated key", slot)
			}
			if err := cert.CheckSignature(cert.SignatureAlgorithm, cert.RawTBSCertificate, cert.Signature); err != nil {
				t.Errorf("%s: the card's signature on its certificate does not verify: %v", slot, err)
			}
			if cert.Subject.CommonName != "tessera ykman "+slot {
				t.Errorf("%s: subject %q", slot, cert.Subject)
			}
		}
		mustContain(t, "ykman piv info with certificates", ykman(t, "piv", "info"),
			"Slot 9a:", "Algorithm:\tECCP256", "Slot 9c:", "Algorithm:\tRSA2048", "Subject DN:\tCN=tessera ykman 9a")
	})

	c.step("piv keys attest", func(t *testing.T) {
		ykman(t, "piv", "keys", "attest", "9a", "9a.att.pem")
		ykman(t, "piv", "certificates", "export", "f9", "f9.pem")
		c.checkAttestation(t, "9a.att.pem", "f9.pem", "9a.pub")
	})

	c.step("piv reset", func(t *testing.T) {
		out := ykman(t, "piv", "reset", "-f")
		mustContain(t, "ykman piv reset", out, "Resetting PIV data...")
		c.checkTries(t, 3, 3)
		st := c.cardState(t)
		if !st.PIN.Default || !st.PUK.Default || !st.MgmtKey.Default || len(st.Keys) != 1 {
			t.Errorf("card after reset: PIN default %v, PUK default %v, management key %+v, keys %+v; want factory state with F9 only",
				st.PIN.Default, st.PUK.Default, st.MgmtKey, st.Keys)
		}
		info := ykman(t, "piv", "info")
		mustContain(t, "ykman piv info after reset", info, "WARNING: Using default PIN!", "PIN tries remaining: 3/3")
		if strings.Contains(info, "Slot 9a") {
			t.Errorf("ykman piv info after reset still shows slot 9a:\n%s", info)
		}
	})

	c.step("without --reader", func(t *testing.T) {
		// ykman considers only readers named "Yubico YubiKey …" unless
		// --reader names one; "Virtual PCD 00 00" is not.
		if r := c.exec(t, nil, "ykman", "list", "--readers"); strings.Contains(strings.ToLower(r.out), "yubico yubikey") {
			t.Skipf("requires that no reader named Yubico YubiKey is attached (ykman would use it):\n%s", r.out)
		}
		r := c.exec(t, nil, "ykman", "piv", "info")
		if r.code == 0 || !strings.Contains(r.out, "No YubiKey detected") {
			t.Errorf("ykman piv info without --reader: exit %d, want failure with \"No YubiKey detected\":\n%s", r.code, r.out)
		}
	})
	fmt.Printf("report: interop ykman: info, change-pin, generate, certificates, attest, reset in %v\n", time.Since(start).Round(time.Millisecond))
}

// TestInteropYkmanYubicoReaderName puts the card in a reader named as a
// YubiKey's ("Yubico YubiKey OTP+FIDO+CCID 00 00", a pcscd instance of its
// own) and checks what docs/clients.md documents: ykman 4.0.9 without --reader
// still refuses it, because vpcd always makes two readers per pcscd and both
// match ("Multiple YubiKeys detected"), and --device SERIAL cannot pick it,
// because ykman reads the serial from the YubiKey Management or OTP
// application, which a default card does not have. With --reader it works.
func TestInteropYkmanYubicoReaderName(t *testing.T) {
	sock := startPCSCDInstance(t, ykmanInstance, ykmanReaderName)
	reader := ykmanReaderName + " 00 00"
	state := hosttest.ShortDir(t)
	trace := filepath.Join(state, "trace.jsonl")
	// Two cards, one in each of the instance's readers: ykman would
	// otherwise spend 12 s waiting for a card in the empty one.
	s := startSim(t, state, "--trace", trace, "--serial", strconv.Itoa(ykmanSerial), "--cards", "2",
		"--vpcd", fmt.Sprintf("127.0.0.1:%d", 35963+2*ykmanInstance))
	c := newInteropOn(t, s, reader, trace, []string{"PCSCLITE_CSOCK_NAME=" + sock})
	c.waitReader(t, 15*time.Second)

	c.step("ykman piv info", func(t *testing.T) {
		r := c.exec(t, nil, "ykman", "piv", "info")
		if r.code == 0 || !strings.Contains(r.out, "Multiple YubiKeys detected") {
			t.Errorf("ykman piv info: exit %d, want the documented failure \"Multiple YubiKeys detected\":\n%s", r.code, r.out)
		}
	})
	c.step("ykman --device SERIAL piv info", func(t *testing.T) {
		r := c.exec(t, nil, "ykman", "--device", strconv.Itoa(ykmanSerial), "piv", "info")
		if r.code == 0 || !strings.Contains(r.out, "Failed connecting to a YubiKey with serial") {
			t.Errorf("ykman --device: exit %d, want the documented failure \"Failed connecting to a YubiKey with serial\":\n%s", r.code, r.out)
		}
	})
	c.step("ykman --reader piv info", func(t *testing.T) {
		out := c.run(t, "ykman", "--reader", reader, "piv", "info")
		mustContain(t, "ykman --reader piv info", out, "PIV version: 5.7.1", "PIN tries remaining: 3/3")
	})
}

// startPCSCDInstance makes sure pcscd instance k (scripts/pcscd.sh
// start-instance) runs with readers called name, and returns its socket. It
// stops the instance at the end of the test only if it started it.
func startPCSCDInstance(t *testing.T, k int, name string) string {
	t.Helper()
	script := filepath.Join(e2e.root, "scripts", "pcscd.sh")
	cmd := exec.Command("bash", script, "start-instance", strconv.Itoa(k))
	cmd.Env = append(cmd.Environ(), "PCSCD_READER_NAME="+name)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("scripts/pcscd.sh start-instance %d: %v\n%s", k, err, stderr.String())
	}
	var last string
	for sc := bufio.NewScanner(bytes.NewReader(out)); sc.Scan(); {
		last = sc.Text()
	}
	switch {
	case strings.HasPrefix(last, "started "):
		t.Cleanup(func() {
			if out, err := exec.Command("bash", script, "stop-instance", strconv.Itoa(k)).CombinedOutput(); err != nil {
				t.Errorf("stopping pcscd instance %d: %v\n%s", k, err, out)
			}
		})
	case strings.HasPrefix(last, "running "):
	default:
		t.Fatalf("scripts/pcscd.sh start-instance %d printed %q", k, out)
	}
	runDir := os.Getenv("TESSERA_RUN_DIR")
	if runDir == "" {
		runDir = "/run/tessera"
	}
	return filepath.Join(runDir, fmt.Sprintf("pcscd-%d", k), "pcscd.comm")
}

// waitReader waits until opensc-tool, with the flow's environment (and so
// its pcscd), lists a card in the flow's reader.
func (c *interopCard) waitReader(t *testing.T, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		r := c.exec(t, nil, "opensc-tool", "--list-readers")
		for _, line := range strings.Split(r.out, "\n") {
			if strings.HasSuffix(line, c.reader) && strings.Contains(line, " Yes ") {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no card in %q within %v:\n%s", c.reader, timeout, r.out)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
