//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tesseracard/tessera/internal/hosttest"
	"github.com/tesseracard/tessera/simulator"
)

// Interop flows: real PIV clients (piv-go, yubico-piv-tool, OpenSC, ykman)
// drive a simulated card through pcscd. Each flow gets a fresh card (its own
// state directory) with a trace of every exchange; each step of a flow is a
// subtest, and a failing step prints the exchanges it made, read back from
// the simulator's trace.

// interopCard is a fresh simulated card for one client flow.
type interopCard struct {
	t      *testing.T
	sim    *sim
	reader string
	trace  string   // the simulator's JSON Lines trace
	dir    string   // scratch directory for the files the tools read and write
	env    []string // the tools' environment: HOME in dir, so no user configuration or caches
}

// newInteropCard starts the simulator with one fresh card (args go to
// `tessera sim`) in reader0 of the machine's pcscd, and waits until pcscd
// sees it.
func newInteropCard(t *testing.T, args ...string) *interopCard {
	t.Helper()
	pc := pcsc(t)
	checkNoCard(t, pc, reader0)
	state := hosttest.ShortDir(t)
	trace := filepath.Join(state, "trace.jsonl")
	s := startSim(t, state, append([]string{"--trace", trace}, args...)...)
	waitCard(t, pc, reader0, true, 15*time.Second)
	return newInteropOn(t, s, reader0, trace, nil)
}

// newInteropOn wraps a running simulator whose card is in reader; env is
// added to the tools' environment.
func newInteropOn(t *testing.T, s *sim, reader, trace string, env []string) *interopCard {
	t.Helper()
	dir := t.TempDir()
	home := filepath.Join(dir, "home")
	if err := os.Mkdir(home, 0o700); err != nil {
		t.Fatal(err)
	}
	base := append(os.Environ(), "HOME="+home, "XDG_CACHE_HOME="+filepath.Join(home, ".cache"),
		"XDG_CONFIG_HOME="+filepath.Join(home, ".config"), "LC_ALL=C")
	return &interopCard{t: t, sim: s, reader: reader, trace: trace, dir: dir, env: append(base, env...)}
}

// step runs one step of a flow as a subtest. Steps depend on the ones
// before, so a failing step ends the flow; it prints the card's side of the
// exchanges it made.
func (c *interopCard) step(name string, f func(t *testing.T)) {
	c.t.Helper()
	mark := c.traceSize()
	if !c.t.Run(name, func(t *testing.T) {
		t.Cleanup(func() {
			if t.Failed() {
				t.Log(c.traceSince(mark, 80))
			}
		})
		f(t)
	}) {
		c.t.FailNow()
	}
}

func (c *interopCard) traceSize() int64 {
	fi, err := os.Stat(c.trace)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// traceSince formats the trace records written from byte offset mark on,
// at most the last max of them.
func (c *interopCard) traceSince(mark int64, max int) string {
	f, err := os.Open(c.trace)
	if err != nil {
		return fmt.Sprintf("no simulator trace: %v", err)
	}
	defer f.Close()
	if _, err := f.Seek(mark, io.SeekStart); err != nil {
		return fmt.Sprintf("reading the simulator trace: %v", err)
	}
	var lines []string
	err = simulator.ReadTrace(f, func(rec simulator.TraceRecord) error {
		lines = append(lines, simulator.FormatRecord(rec))
		return nil
	})
	var b strings.Builder
	fmt.Fprintf(&b, "APDU trace of this step (%s, secrets shown as XX):\n", c.trace)
	if n := len(lines) - max; n > 0 {
		fmt.Fprintf(&b, "  ... %d earlier records left out\n", n)
		lines = lines[n:]
	}
	for _, l := range lines {
		b.WriteString("  " + l + "\n")
	}
	if len(lines) == 0 {
		b.WriteString("  (no exchange)\n")
	}
	if err != nil {
		fmt.Fprintf(&b, "  reading the trace: %v\n", err)
	}
	return b.String()
}

// exchanges returns the command headers (CLA INS P1 P2, hex) the card saw
// from byte offset mark on.
func (c *interopCard) exchanges(t *testing.T, mark int64) []string {
	t.Helper()
	var heads []string
	for _, rec := range c.records(t, mark) {
		if len(rec.Command) >= 8 {
			heads = append(heads, strings.ToUpper(rec.Command[:8]))
		}
	}
	return heads
}

// records returns the card's trace records, exchanges and events, from
// byte offset mark on.
func (c *interopCard) records(t *testing.T, mark int64) []simulator.TraceRecord {
	t.Helper()
	f, err := os.Open(c.trace)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Seek(mark, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	var recs []simulator.TraceRecord
	if err := simulator.ReadTrace(f, func(rec simulator.TraceRecord) error {
		recs = append(recs, rec)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return recs
}

// path is a file in the flow's scratch directory.
func (c *interopCard) path(name string) string { return filepath.Join(c.dir, name) }

// toolResult is what a client program did.
type toolResult struct {
	out  string // stdout and stderr, interleaved
	code int
}

// exec runs a client program with the flow's environment and a deadline,
// and logs the command line and its output.
func (c *interopCard) exec(t *testing.T, env []string, name string, args ...string) toolResult {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		t.Fatalf("%s is not installed (scripts/deps.sh installs it): %v", name, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = c.dir
	cmd.Env = append(append([]string(nil), c.env...), env...)
	cmd.Stdin = strings.NewReader("") // never wait for a prompt
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("running %s: %v", name, err)
	}
	if ctx.Err() != nil {
		t.Fatalf("%s %s: no answer within 2 minutes\n%s", name, quoteArgs(args), out.String())
	}
	t.Logf("$ %s %s  (exit %d)\n%s", name, quoteArgs(args), code, out.String())
	return toolResult{out: out.String(), code: code}
}

// run runs a client program that must succeed, and returns its output.
func (c *interopCard) run(t *testing.T, name string, args ...string) string {
	t.Helper()
	r := c.exec(t, nil, name, args...)
	if r.code != 0 {
		t.Fatalf("%s %s: exit status %d\n%s", name, quoteArgs(args), r.code, r.out)
	}
	return r.out
}

func quoteArgs(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " '\"$*?") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		q[i] = a
	}
	return strings.Join(q, " ")
}

// mustContain fails unless out contains every one of want.
func mustContain(t *testing.T, what, out string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("%s: output lacks %q:\n%s", what, w, out)
		}
	}
}

// cardState is the card's own view through the control API.
func (c *interopCard) cardState(t *testing.T) simulator.CardState {
	t.Helper()
	st, err := c.sim.client().State(context.Background(), 0)
	if err != nil {
		t.Fatalf("control API state: %v", err)
	}
	return st
}

// checkTries compares the PIN and PUK tries left on the card (control API)
// with what the client reported.
func (c *interopCard) checkTries(t *testing.T, pinTries, pukTries int) {
	t.Helper()
	st := c.cardState(t)
	if st.PIN.Tries != pinTries || st.PUK.Tries != pukTries {
		t.Errorf("card state: PIN tries %d, PUK tries %d; want %d and %d", st.PIN.Tries, st.PUK.Tries, pinTries, pukTries)
	}
}

// hostCA is a certificate authority on the host, for certificates over the
// public keys the card generates.
type hostCA struct {
	key  *ecdsa.PrivateKey
	cert *x509.Certificate
}

func newHostCA(t *testing.T) *hostCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Tessera interop test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &hostCA{key: key, cert: cert}
}

// issue returns a certificate for pub named cn, signed by the CA.
func (ca *hostCA) issue(t *testing.T, cn string, pub crypto.PublicKey) *x509.Certificate {
	t.Helper()
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageKeyAgreement,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, pub, ca.key)
	if err != nil {
		t.Fatalf("certificate for %s: %v", cn, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// writePEM writes blocks of type typ to a file in the flow's directory and
// returns its path.
func (c *interopCard) writePEM(t *testing.T, name, typ string, ders ...[]byte) string {
	t.Helper()
	var b bytes.Buffer
	for _, der := range ders {
		pem.Encode(&b, &pem.Block{Type: typ, Bytes: der})
	}
	p := c.path(name)
	if err := os.WriteFile(p, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// readPEM reads the first PEM block of type typ from a file in the flow's
// directory.
func (c *interopCard) readPEM(t *testing.T, name, typ string) []byte {
	t.Helper()
	b, err := os.ReadFile(c.path(name))
	if err != nil {
		t.Fatal(err)
	}
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			t.Fatalf("%s: no PEM block %q", name, typ)
		}
		if blk.Type == typ {
			return blk.Bytes
		}
	}
}

// readPublicKey parses a PEM public key file in the flow's directory.
func (c *interopCard) readPublicKey(t *testing.T, name string) crypto.PublicKey {
	t.Helper()
	pub, err := x509.ParsePKIXPublicKey(c.readPEM(t, name, "PUBLIC KEY"))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return pub
}

// checkAttestation parses the attestation certificate and the F9
// certificate a client wrote to files, and checks that the first is signed by
// the second and certifies the public key in pubFile. It returns the
// attestation certificate.
func (c *interopCard) checkAttestation(t *testing.T, attFile, f9File, pubFile string) *x509.Certificate {
	t.Helper()
	att, err := x509.ParseCertificate(c.readPEM(t, attFile, "CERTIFICATE"))
	if err != nil {
		t.Fatal(err)
	}
	f9, err := x509.ParseCertificate(c.readPEM(t, f9File, "CERTIFICATE"))
	if err != nil {
		t.Fatal(err)
	}
	if err := att.CheckSignatureFrom(f9); err != nil {
		t.Errorf("attestation does not verify against the F9 certificate: %v", err)
	}
	if !publicEqual(att.PublicKey, c.readPublicKey(t, pubFile)) {
		t.Errorf("attested key differs from the generated key")
	}
	return att
}
