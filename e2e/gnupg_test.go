//go:build e2e

package e2e

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tesseracard/tessera/internal/hosttest"
)

// A GnuPG home of its own for each flow, with scdaemon pointed at the
// flow's reader, and gpg driven without a terminal: --command-fd answers
// gpg's prompts (card-edit commands, and the PINs through gpg-agent's
// loopback pinentry), --status-fd tells which prompt gpg is at.

// Factory PINs of an OpenPGP card (PW1 and PW3), as real cards ship.
const (
	gpgPIN      = "123456"
	gpgAdminPIN = "12345678"
)

// gnupg is a GnuPG home directory whose scdaemon uses one PC/SC reader.
type gnupg struct {
	c    *interopCard
	home string
	env  []string // added to the flow's environment: GNUPGHOME
}

// newGnuPG makes a GnuPG home for the card c: scdaemon.conf with
// reader-port (the exact PC/SC reader name) and disable-ccid (PC/SC only,
// never its own USB driver); gpg-agent.conf allowing the
// loopback pinentry. gpg-agent and scdaemon started in it are killed at the
// end of the test (gpgconf --kill all, this home only).
func newGnuPG(t *testing.T, c *interopCard) *gnupg {
	t.Helper()
	return makeGnuPG(t, c, true)
}

// newGnuPGWithoutCard makes a GnuPG home whose agent never starts scdaemon:
// the other party of a flow, which has the public keys alone.
func newGnuPGWithoutCard(t *testing.T, c *interopCard) *gnupg {
	t.Helper()
	return makeGnuPG(t, c, false)
}

func makeGnuPG(t *testing.T, c *interopCard, card bool) *gnupg {
	t.Helper()
	for _, tool := range []string{"gpg", "gpgconf", "gpg-agent"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is not installed (scripts/deps.sh installs gnupg and scdaemon): %v", tool, err)
		}
	}
	scd := gpgLibexec(t, "scdaemon")
	// The agent's sockets live in the home when /run/user/UID is absent:
	// keep the path short.
	home := hosttest.ShortDir(t)
	if err := os.Chmod(home, 0o700); err != nil {
		t.Fatal(err)
	}
	// scdaemon's default pcsc-driver, libpcsclite.so.1 found by the
	// dynamic loader, is the machine's own (a fixed path could name
	// another architecture's copy, as the arm64 cross libraries are).
	conf := fmt.Sprintf("reader-port %s\ndisable-ccid\n", c.reader)
	// scdaemon's own log, printed when a step fails.
	conf += "log-file " + filepath.Join(home, "scdaemon.log") + "\n"
	files := map[string]string{
		"scdaemon.conf": conf,
		// enable-ssh-support: ssh clients reach the card's authentication
		// key through the agent's ssh socket.
		"gpg-agent.conf": "allow-loopback-pinentry\nenable-ssh-support\nscdaemon-program " + scd + "\n",
		"gpg.conf":       "no-auto-key-locate\n",
	}
	if !card {
		// Encrypting to a key imported a moment ago needs no web of trust.
		files["gpg.conf"] += "trust-model always\n"
		files["gpg-agent.conf"] = "disable-scdaemon\n"
		delete(files, "scdaemon.conf")
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(home, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	g := &gnupg{c: c, home: home, env: []string{"GNUPGHOME=" + home}}
	t.Cleanup(func() { g.kill(t) })
	return g
}

// gpgLibexec finds a GnuPG helper program (scdaemon) through gpgconf.
func gpgLibexec(t *testing.T, name string) string {
	t.Helper()
	out, err := exec.Command("gpgconf", "--list-components").Output()
	if err != nil {
		t.Fatalf("gpgconf --list-components: %v", err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Split(line, ":")
		if len(f) >= 3 && f[0] == name {
			if _, err := os.Stat(f[2]); err == nil {
				return f[2]
			}
		}
	}
	t.Fatalf("gpgconf lists no %s: install the Debian package scdaemon (scripts/deps.sh)\n%s", name, out)
	return ""
}

// kill stops the gpg-agent and scdaemon of this home, and no other.
func (g *gnupg) kill(t *testing.T) {
	cmd := exec.Command("gpgconf", "--homedir", g.home, "--kill", "all")
	cmd.Env = append(append([]string(nil), g.c.env...), g.env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("gpgconf --homedir %s --kill all: %v\n%s", g.home, err, out)
	}
	g.waitGone(t)
}

// forgetPINs ends this home's gpg-agent and with it its scdaemon (gpg
// starts new ones when next needed; killing scdaemon alone leaves the agent
// with a broken pipe): the new scdaemon has verified no PIN, and its SELECT
// clears the card's security status.
func (g *gnupg) forgetPINs(t *testing.T) {
	t.Helper()
	cmd := exec.Command("gpgconf", "--homedir", g.home, "--kill", "gpg-agent")
	cmd.Env = append(append([]string(nil), g.c.env...), g.env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("gpgconf --homedir %s --kill gpg-agent: %v\n%s", g.home, err, out)
	}
	g.waitGone(t)
}

// waitGone waits until no gpg-agent or scdaemon of this home runs (their
// environment holds this GNUPGHOME), so that the next scdaemon finds the
// reader free.
func (g *gnupg) waitGone(t *testing.T) {
	t.Helper()
	want := []byte("GNUPGHOME=" + g.home + "\x00")
	running := func() []string {
		var found []string
		dirs, _ := filepath.Glob("/proc/[0-9]*")
		for _, d := range dirs {
			comm, err := os.ReadFile(filepath.Join(d, "comm"))
			if err != nil {
				continue
			}
			name := strings.TrimSpace(string(comm))
			if name != "scdaemon" && name != "gpg-agent" {
				continue
			}
			if env, err := os.ReadFile(filepath.Join(d, "environ")); err == nil && bytes.Contains(env, want) {
				found = append(found, name+" "+filepath.Base(d))
			}
		}
		return found
	}
	deadline := time.Now().Add(10 * time.Second)
	for p := running(); len(p) > 0; p = running() {
		if time.Now().After(deadline) {
			t.Errorf("still running 10 s after gpgconf --kill: %v", p)
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// sawInOrder fails unless the card saw commands with the headers want
// (CLA INS P1 P2, hex), in this order, from trace offset mark on: what the
// client sent, as docs/openpgp.md tells it.
func (c *interopCard) sawInOrder(t *testing.T, mark int64, what string, want ...string) {
	t.Helper()
	if heads := c.exchanges(t, mark); !containsInOrder(heads, want...) {
		t.Errorf("%s: the card saw %v; want %v among them, in this order", what, heads, want)
	}
}

// wantDecrypted fails unless the file name in the flow's directory, which
// a client decrypted into, holds want.
func (c *interopCard) wantDecrypted(t *testing.T, name string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(c.path(name))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("decrypted %q, want %q", got, want)
	}
}

// traceWithholds fails if the card's trace shows any of pins, as the hex
// of their ASCII digits.
func (c *interopCard) traceWithholds(t *testing.T, pins ...string) {
	t.Helper()
	b, err := os.ReadFile(c.trace)
	if err != nil {
		t.Fatal(err)
	}
	b = bytes.ToUpper(b)
	for _, p := range pins {
		if bytes.Contains(b, []byte(fmt.Sprintf("%X", p))) {
			t.Errorf("the trace shows a PIN (%d digits) in hex", len(p))
		}
	}
}

// sshSocket is the ssh-agent socket of this home's gpg-agent.
func (g *gnupg) sshSocket(t *testing.T) string {
	t.Helper()
	cmd := exec.Command("gpgconf", "--homedir", g.home, "--list-dirs", "agent-ssh-socket")
	cmd.Env = append(append([]string(nil), g.c.env...), g.env...)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("gpgconf --list-dirs agent-ssh-socket: %v", err)
	}
	return strings.TrimSpace(string(out))
}

// scdLog is scdaemon's log so far, for a failing step.
func (g *gnupg) scdLog() string {
	b, err := os.ReadFile(filepath.Join(g.home, "scdaemon.log"))
	if err != nil {
		return fmt.Sprintf("(no scdaemon log: %v)", err)
	}
	const max = 8000
	if len(b) > max {
		b = append([]byte("...\n"), b[len(b)-max:]...)
	}
	return string(b)
}

// secret is an answer that must not show in logs (a PIN): label is shown instead.
type secret struct{ label, value string }

// gpgAnswers are the answers to gpg's prompts, by the prompt's keyword
// (the status line GET_LINE, GET_BOOL or GET_HIDDEN names it), each list
// used in order. "passphrase.enter" is every PIN gpg-agent asks for through
// the loopback pinentry; loopback does not say which PIN it wants, so the
// list follows the order of GnuPG 2.2's scdaemon.
type gpgAnswers struct {
	lines map[string][]string
	pins  []secret
	// rest, if set, answers every PIN prompt past pins: for steps that ask
	// one PIN a number of times that does not matter to the test.
	rest *secret
}

// gpgResult is what one gpg run did.
type gpgResult struct {
	out     string   // stdout and stderr
	status  []string // the status lines, without "[GNUPG:] "
	prompts []string // the prompts answered, in order ("keyword -> answer", PINs by label)
	code    int
}

// statusArgs returns the arguments of the status lines with keyword kw.
func (r gpgResult) statusArgs(kw string) []string {
	var args []string
	for _, s := range r.status {
		if s == kw || strings.HasPrefix(s, kw+" ") {
			args = append(args, strings.TrimSpace(strings.TrimPrefix(s, kw)))
		}
	}
	return args
}

// gpg runs gpg in this home with no terminal: --no-tty, the loopback
// pinentry, prompts answered from a (an unexpected prompt ends gpg and fails
// the test). gpg runs with --batch unless a has answers to other prompts
// than PINs (card-edit's passwd refuses to run in batch mode). Data goes
// through files in the flow's directory. It fails the test when gpg does
// not end within two minutes; the exit status is the caller's to judge.
func (g *gnupg) gpg(t *testing.T, a *gpgAnswers, args ...string) gpgResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	statusR, statusW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	full := []string{"--homedir", g.home, "--no-tty", "--yes", "--pinentry-mode", "loopback", "--status-fd", "3", "--with-colons"}
	if a == nil || len(a.lines) == 0 {
		full = append(full, "--batch")
	}
	if a != nil {
		full = append(full, "--command-fd", "0")
	}
	full = append(full, args...)
	cmd := exec.CommandContext(ctx, "gpg", full...)
	cmd.Dir = g.c.dir
	cmd.Env = append(append([]string(nil), g.c.env...), g.env...)
	cmd.ExtraFiles = []*os.File{statusW}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	var stdin io.WriteCloser
	if a != nil {
		if stdin, err = cmd.StdinPipe(); err != nil {
			t.Fatal(err)
		}
	} else {
		cmd.Stdin = strings.NewReader("")
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting gpg: %v", err)
	}
	statusW.Close()

	var (
		mu      sync.Mutex
		res     gpgResult
		problem string
	)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer statusR.Close()
		next := map[string]int{}
		pin := 0
		sc := bufio.NewScanner(statusR)
		for sc.Scan() {
			line := strings.TrimPrefix(sc.Text(), "[GNUPG:] ")
			mu.Lock()
			res.status = append(res.status, line)
			mu.Unlock()
			f := strings.Fields(line)
			if len(f) < 2 || (f[0] != "GET_LINE" && f[0] != "GET_BOOL" && f[0] != "GET_HIDDEN") {
				continue
			}
			kw := f[1]
			var answer, shown string
			ok := false
			if a != nil && kw == "passphrase.enter" {
				switch {
				case pin < len(a.pins):
					answer, shown, ok = a.pins[pin].value, "<"+a.pins[pin].label+">", true
					pin++
				case a.rest != nil:
					answer, shown, ok = a.rest.value, "<"+a.rest.label+">", true
				}
			} else if a != nil {
				if i := next[kw]; i < len(a.lines[kw]) {
					answer, ok = a.lines[kw][i], true
					shown = strconv.Quote(answer)
					next[kw] = i + 1
				}
			}
			mu.Lock()
			if !ok {
				problem = fmt.Sprintf("gpg asked %s %s, which this step has no (more) answers for", f[0], kw)
				res.prompts = append(res.prompts, kw+" -> (none: gpg stopped)")
				mu.Unlock()
				cmd.Process.Kill()
				return
			}
			res.prompts = append(res.prompts, kw+" -> "+shown)
			mu.Unlock()
			if _, err := io.WriteString(stdin, answer+"\n"); err != nil {
				mu.Lock()
				problem = fmt.Sprintf("answering %s: %v", kw, err)
				mu.Unlock()
				return
			}
		}
	}()
	err = cmd.Wait()
	<-done
	if stdin != nil {
		stdin.Close()
	}
	res.out = out.String()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		res.code = ee.ExitCode()
	case err != nil:
		t.Fatalf("running gpg: %v", err)
	}
	t.Logf("$ gpg %s  (exit %d)\nprompts answered: %s\n%s", quoteArgs(args), res.code, strings.Join(res.prompts, ", "), res.out)
	if ctx.Err() != nil {
		t.Fatalf("gpg %s: no end within 2 minutes\nscdaemon log:\n%s", quoteArgs(args), g.scdLog())
	}
	if problem != "" {
		t.Fatalf("gpg %s: %s\nstatus lines:\n  %s\nscdaemon log:\n%s", quoteArgs(args), problem, strings.Join(res.status, "\n  "), g.scdLog())
	}
	return res
}

// mustGPG is gpg that must exit 0.
func (g *gnupg) mustGPG(t *testing.T, a *gpgAnswers, args ...string) gpgResult {
	t.Helper()
	r := g.gpg(t, a, args...)
	if r.code != 0 {
		t.Fatalf("gpg %s: exit status %d\nscdaemon log:\n%s", quoteArgs(args), r.code, g.scdLog())
	}
	return r
}

// cardStatus is `gpg --card-status --with-colons`, as fields by record
// type (the first field): "pinretry" -> ["3","0","3"]; "AID" is the
// application ID from the Reader record.
type cardStatus map[string][][]string

func (g *gnupg) cardStatus(t *testing.T) cardStatus {
	t.Helper()
	r := g.mustGPG(t, nil, "--card-status")
	st := cardStatus{}
	for _, line := range strings.Split(r.out, "\n") {
		f := strings.Split(strings.TrimSpace(line), ":")
		if len(f) < 2 {
			continue
		}
		st[f[0]] = append(st[f[0]], f[1:])
	}
	// "Reader:NAME:AID:HEX:TYPE:" carries the application ID.
	if r := st["Reader"]; len(r) > 0 && len(r[0]) >= 3 && r[0][1] == "AID" {
		st["AID"] = [][]string{{r[0][2]}}
	}
	if len(st["AID"]) == 0 || st.field("AID", 0) == "" {
		t.Fatalf("gpg --card-status shows no OpenPGP card (no AID record):\n%s\nscdaemon log:\n%s", r.out, g.scdLog())
	}
	return st
}

// field is field i (0 = the one after the record type) of the first record
// of type typ, or "".
func (s cardStatus) field(typ string, i int) string {
	if len(s[typ]) == 0 || i >= len(s[typ][0]) {
		return ""
	}
	return s[typ][0][i]
}

// pinRetries is the card's PW1, Reset Code and PW3 tries left (C4).
func (s cardStatus) pinRetries(t *testing.T) [3]int {
	t.Helper()
	var r [3]int
	for i := range r {
		n, err := strconv.Atoi(s.field("pinretry", i))
		if err != nil {
			t.Fatalf("gpg --card-status: pinretry record %v: %v", s["pinretry"], err)
		}
		r[i] = n
	}
	return r
}

// fingerprints are the card's three key fingerprints (C5), upper-case hex,
// "" for an empty slot.
func (s cardStatus) fingerprints() [3]string {
	var f [3]string
	if len(s["fpr"]) > 0 {
		for i := 0; i < 3 && i < len(s["fpr"][0]); i++ {
			f[i] = strings.ToUpper(s["fpr"][0][i])
		}
	}
	return f
}
