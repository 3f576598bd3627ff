//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tesseracard/tessera/internal/hosttest"
)

// The IFD bridge (docs/ifd-bridge.md): the simulator's cards reach a
// private pcscd through Tessera's own reader driver, started by
// scripts/ifd.sh with a reader.conf of its own. The test process itself
// never opens a PC/SC context here: libpcsclite keeps the socket it first
// used (PCSCLITE_CSOCK_NAME is read once), and the other tests' is the
// machine's pcscd. The clients are processes, given the private socket.

// ifdPCSCD is a private pcscd loading the IFD driver.
type ifdPCSCD struct {
	run  string // TESSERA_RUN_DIR of scripts/ifd.sh
	sock string
}

// startIFDPCSCD starts scripts/ifd.sh's pcscd with one reader per name
// under a run directory of its own, and stops it at the end. Its clients
// need PCSCLITE_CSOCK_NAME=p.sock.
func startIFDPCSCD(t testing.TB, names ...string) *ifdPCSCD {
	t.Helper()
	return startIFDPCSCDIn(t, hosttest.ShortDir(t), append([]string{"start"}, names...)...)
}

// startIFDPCSCDIn runs `scripts/ifd.sh start...` (args) with run as
// TESSERA_RUN_DIR, and stops its pcscd at the end.
func startIFDPCSCDIn(t testing.TB, run string, args ...string) *ifdPCSCD {
	t.Helper()
	p := &ifdPCSCD{run: run}
	p.sock = filepath.Join(p.run, "ifd-pcscd", "pcscd.comm")
	env := []string{"TESSERA_RUN_DIR=" + p.run}
	if out, code := ifdScript(t, env, args...); code != 0 {
		t.Fatalf("scripts/ifd.sh %s: exit %d\n%s", strings.Join(args, " "), code, out)
	}
	t.Cleanup(func() {
		if out, code := ifdScript(t, env, "stop"); code != 0 {
			t.Errorf("scripts/ifd.sh stop: exit %d\n%s", code, out)
		}
	})
	return p
}

// ifdScript runs scripts/ifd.sh with args, env added to the test's
// environment, and returns its output (stdout and stderr) and exit code.
func ifdScript(t testing.TB, env []string, args ...string) (string, int) {
	t.Helper()
	return ifdScriptAs(t, nil, env, args...)
}

// ifdScriptAs is ifdScript as the user cred (nil: the test's).
func ifdScriptAs(t testing.TB, cred *syscall.Credential, env []string, args ...string) (string, int) {
	t.Helper()
	return runScript(t, "ifd.sh", cred, env, args...)
}

// readers lists the private pcscd's readers with opensc-tool: each name,
// and whether it holds a card. It fails the test if pcscd does not answer
// within cardWait.
func (p *ifdPCSCD) readers(t *testing.T) map[string]bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cardWait)
	defer cancel()
	out, err := exec.CommandContext(ctx, "opensc-tool", "--list-readers").CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("opensc-tool --list-readers: pcscd did not answer within %v", cardWait)
	}
	if err != nil && !bytes.Contains(out, []byte("No smart card readers")) {
		t.Fatalf("opensc-tool --list-readers: %v\n%s", err, out)
	}
	got := map[string]bool{}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) < 3 || (f[1] != "Yes" && f[1] != "No") {
			continue
		}
		// Nr, Card, Features (empty here), Name.
		name := strings.TrimSpace(strings.SplitN(line, f[1], 2)[1])
		got[name] = f[1] == "Yes"
	}
	return got
}

// waitCard waits until reader shows a card (present) or none.
func (p *ifdPCSCD) waitCard(t *testing.T, reader string, present bool, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		rs := p.readers(t)
		if has, ok := rs[reader]; ok && has == present {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: card present = %v not seen within %v (readers %v)", reader, present, timeout, rs)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestIFDBridge runs the clients of the vpcd tests through the IFD bridge:
// two cards under reader names of their choosing in one private pcscd, the
// conformance suite with the vpcd test's assertions, tessera diag, ykman
// info; removal and insertion through the control API; the simulator
// killed with SIGKILL (the readers report no card, pcscd keeps answering)
// and restarted (the cards come back).
func TestIFDBridge(t *testing.T) {
	names := []string{"Yubico YubiKey OTP+FIDO+CCID", "Tessera IFD Second"}
	r0, r1 := names[0]+" 00 00", names[1]+" 01 00"
	p := startIFDPCSCD(t, names...)
	t.Setenv("PCSCLITE_CSOCK_NAME", p.sock) // for the clients this test starts
	state := hosttest.ShortDir(t)
	args := []string{"--bridge", "ifd", "--cards", "2", "--profile", "default,yubikey-5.7",
		"--ifd-dir", filepath.Join(p.run, "ifd"), "--reader-name", names[0], "--reader-name", names[1]}
	s := startSim(t, state, args...)
	p.waitCard(t, r0, true, 15*time.Second)
	p.waitCard(t, r1, true, 15*time.Second)
	if rs := p.readers(t); len(rs) != 2 {
		t.Errorf("the IFD pcscd lists %v, want exactly %q and %q", rs, r0, r1)
	}
	ctx := context.Background()

	t.Run("conform", func(t *testing.T) { checkConformSuite(t, s, 0, r0) })

	t.Run("diag", func(t *testing.T) {
		st, err := s.client().State(ctx, 1)
		if err != nil {
			t.Fatal(err)
		}
		out, _, code := tessera(t, "diag", "--reader", r1)
		if code != 0 {
			t.Fatalf("tessera diag --reader %q: exit %d\n%s", r1, code, out)
		}
		mustContain(t, "tessera diag", out, r1, fmt.Sprint(st.CardSerial), "5.7.1")
	})

	t.Run("ykman", func(t *testing.T) {
		st, err := s.client().State(ctx, 1)
		if err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command("ykman", "--reader", r1, "info").CombinedOutput()
		if err != nil {
			t.Fatalf("ykman --reader %q info: %v\n%s", r1, err, out)
		}
		mustContain(t, "ykman info", string(out), fmt.Sprintf("Serial number: %d\n", st.CardSerial), "Firmware version: 5.7.1\n")
	})

	t.Run("remove and insert", func(t *testing.T) {
		if _, err := s.client().Remove(ctx, 1); err != nil {
			t.Fatal(err)
		}
		p.waitCard(t, r1, false, cardWait)
		if rs := p.readers(t); !rs[r0] {
			t.Errorf("removing card 1 took card 0 too: %v", rs)
		}
		if _, err := s.client().Insert(ctx, 1); err != nil {
			t.Fatal(err)
		}
		p.waitCard(t, r1, true, cardWait)
	})

	t.Run("kill and restart", func(t *testing.T) {
		s.kill9()
		start := time.Now()
		p.waitCard(t, r0, false, cardWait)
		p.waitCard(t, r1, false, cardWait)
		fmt.Printf("report: e2e IFD bridge: simulator killed with SIGKILL; pcscd saw both cards go after %v and kept answering\n", time.Since(start).Round(time.Millisecond))
		s2 := startSim(t, state, args...)
		p.waitCard(t, r0, true, 15*time.Second)
		p.waitCard(t, r1, true, 15*time.Second)
		out, _, code := tessera(t, "diag", "--reader", r0)
		if code != 0 || !strings.Contains(out, r0) {
			t.Errorf("tessera diag after the restart: exit %d\n%s", code, out)
		}
		s2.stop()
	})
}

// ifdClientsEnv, set to the tessera binary and the IFD socket directory
// (a newline between), makes the test binary a run of vpcd tests over the
// IFD bridge: reader0 is then card 0's IFD reader, and startSim starts the
// simulator with --bridge ifd.
const ifdClientsEnv = "TESSERA_E2E_IFD_CLIENTS"

// ifdClientsReader is card 0's reader name in TestIFDClients' run.
const ifdClientsReader = "Tessera IFD Clients"

// ifdClientTests are the vpcd tests TestIFDClients runs again over the IFD
// bridge, with their own assertions. Every other test of the package is in
// ifdOffBridge, with the reason (TestIFDClientsListed checks that each test
// is in exactly one of the two); the benchmarks compare vpcd with the
// bridge and stay out of both.
var ifdClientTests = []string{
	"TestKillRestartKeepsRetryCounter",
	// kill -9 of the simulator in the middle of VERIFYs: over the bridge,
	// the driver sees the link die mid-exchange (and, with --ifd-spin,
	// while the card waits awake).
	"TestKillAtRandomInstants",
	"TestRemoveInsertThroughControlAPI",
	"TestDiagThroughPCSCD",
	"TestInteropPivGo",
	"TestInteropOpenSC",
	"TestInteropYkman",
	"TestInteropYubicoPIVTool",
	"TestPCSCTransportTypedRemoval",
	"TestConformThroughPCSCD",
	"TestConformCatchesAQuirkThroughPCSCD",
	"TestConformISOThroughPCSCD",
	"TestConformOpenPGPThroughPCSCD",
	"TestScenarioThroughPCSCD",
	"TestDiagISOToken",
	"TestInteropISOToken",
	"TestISOTokenReadme",
	"TestInteropPivGoYubiKeyProfile",
	// GnuPG: scdaemon's reader-port is the card's reader (newGnuPG), the
	// IFD one here.
	"TestGPGCardRSA",
	"TestGPGCardShortAPDUs",
	"TestGPGCardRSA3072",
	"TestGPGCardECC",
	"TestGPGCardYubiKey",
	"TestGPGCardP384",
	"TestGPGCardBrainpool",
	"TestGPGCardBrainpoolYubiKey",
	"TestGPGKeyToCard",
	"TestGPGFactoryReset",
	"TestGPGForceSig",
	"TestGPGCardholderCertificate",
	"TestYkmanOpenPGPAttest",
	"TestYkmanOpenPGPSetRetries",
	// OpenSC's openpgp driver on the card gpg generated keys on.
	"TestInteropOpenSCOpenPGP",
	"TestInteropOpenSCOpenPGPECC",
	"TestInteropOpenSCOpenPGPYubiKey",
}

// ifdOffBridge are the tests TestIFDClients does not run over the IFD
// bridge, and why.
var ifdOffBridge = map[string]string{
	// The bridge's own tests.
	"TestIFDBridge":            "the bridge's own test, with a private IFD pcscd of its own",
	"TestIFDClients":           "the run over the bridge itself",
	"TestIFDInstall":           "the bridge's own test: scripts/ifd.sh install under DESTDIR, its reader.conf in a private IFD pcscd of its own",
	"TestIFDInstallUnsafeDir":  "the bridge's own test: scripts/ifd.sh install refusing a directory another user may write",
	"TestIFDSocketDirDenied":   "the bridge's own test: a simulator outside the socket directory's group",
	"TestIFDStartUnsafeRunDir": "the bridge's own test: scripts/ifd.sh start refusing a run directory another user owns",
	// Flows that want a reader named as a YubiKey's: each runs over the
	// bridge in a test of its own (newIFDYubiKeyCard), and over vpcd with
	// --reader.
	"TestInteropYkmanMgmtIFD":    "over the bridge already, in a reader named as a YubiKey's (newIFDYubiKeyCard)",
	"TestInteropYkmanOATHIFD":    "over the bridge already, in a reader named as a YubiKey's (newIFDYubiKeyCard)",
	"TestGPGYkmanOpenPGPInfoIFD": "over the bridge already, in a reader named as a YubiKey's (newIFDYubiKeyCard)",
	"TestPivGoUpstream":          "over the bridge already, in a reader named as a YubiKey's (newIFDYubiKeyCard); over vpcd it would need a renamed reader",
	"TestInteropYkmanMgmt":       "the vpcd run of ykmanMgmtFlow, with --reader; TestInteropYkmanMgmtIFD is its run over the bridge",
	"TestInteropYkmanOATH":       "the vpcd run of ykmanOATHFlow, with --reader; TestInteropYkmanOATHIFD is its run over the bridge",
	"TestGPGYkmanOpenPGPInfo":    "the vpcd run of gpgYkmanFlow, with --reader; TestGPGYkmanOpenPGPInfoIFD is its run over the bridge",
	// Tests of vpcd itself.
	"TestRelayThroughPCSCD":            "the relay's card and its relayed copy are in two vpcd readers (Virtual PCD 00 00 and 00 01) of the machine's pcscd",
	"TestInteropYkmanYubicoReaderName": "asserts vpcd's two readers per pcscd (ykman's \"Multiple YubiKeys detected\") in a private vpcd pcscd",
	"TestPCSCBench":                    "the benchmarks' C client on the vpcd echo card and Tessera cards of the machine's pcscd; BenchmarkGetVersionIFDThroughPCSCD runs it over the bridge",
	// No card.
	"TestPCSCBenchBuildNeeds":        "no card: the benchmarks' C client's build on a machine without what it needs",
	"TestPivGoUpstreamCheck":         "no card: TestPivGoUpstream's comparison on made-up outcomes",
	"TestIFDClientsListed":           "no card: checks these lists against the package's tests",
	"TestIFDScriptArgs":              "no card: scripts/ifd.sh's argument errors",
	"TestPCSCDScriptUnsafeRunDir":    "no card: scripts/pcscd.sh refusing a run directory another user could change",
	"TestScriptsStopOnlyTheirOwn":    "no card: scripts/pcscd.sh and ifd.sh stop leaving a reused pid alone",
	"TestPCSCDScriptStartStop":       "no card: scripts/pcscd.sh start-instance and stop-instance of a private vpcd pcscd",
	"TestScriptsStopAsAnotherUser":   "no card: scripts/pcscd.sh and ifd.sh stop run by a user who may not stop root's pcscd",
	"TestDepsScriptThroughSudo":      "no card: scripts/deps.sh's apt-get through sudo, with stand-ins",
	"TestPCSCDScriptArgs":            "no card: scripts/pcscd.sh's argument and environment errors",
	"TestScriptsKeepAListenedSocket": "no card: scripts/pcscd.sh and ifd.sh leaving a pcscd socket another process listens on",
}

// ifdClientsTimeout bounds TestIFDClients' run of ifdClientTests: they took
// 67 s together over the bridge on the shared 2-core machine (2026-12-03;
// the slowest TestInteropYkman 9.5 s, TestConformThroughPCSCD 7.1 s). The
// vpcd kill tests took 4.7 s each beside a light load there, 33 s each
// beside 4 busy loops and 2 fsync dd loops (at nice 19): these, 7 times
// slower, would pass the 4 minutes they had. 15 leaves room, inside
// make test's 45 for e2e.
const ifdClientsTimeout = 15 * time.Minute

// TestIFDClients runs vpcd tests again over the IFD bridge, unchanged:
// this test binary is started again with the IFD pcscd's socket
// (libpcsclite reads PCSCLITE_CSOCK_NAME once per process), where reader0
// is card 0's IFD reader. Each listed test must pass there; a skip fails.
func TestIFDClients(t *testing.T) {
	if e2e.ifdDir != "" {
		t.Fatal("TestIFDClients inside a run over the IFD bridge")
	}
	p := startIFDPCSCD(t, ifdClientsReader)
	cmd := exec.Command(os.Args[0], "-test.run=^("+strings.Join(ifdClientTests, "|")+")$", "-test.v", "-test.count=1", "-test.timeout="+ifdClientsTimeout.String())
	cmd.Env = append(os.Environ(), "PCSCLITE_CSOCK_NAME="+p.sock,
		ifdClientsEnv+"="+e2e.bin+"\n"+filepath.Join(p.run, "ifd"))
	cmd.Dir = filepath.Join(e2e.root, "e2e")
	out, err := cmd.CombinedOutput()
	for _, line := range strings.Split(string(out), "\n") {
		switch {
		case strings.HasPrefix(line, "report: "):
			fmt.Println("report: over the IFD bridge: " + strings.TrimPrefix(line, "report: "))
		case strings.HasPrefix(line, "--- "): // each test's result and time
			t.Log(line)
		}
	}
	if err != nil {
		t.Errorf("the tests over the IFD bridge failed: %v\n%s", err, out)
	}
	for _, name := range ifdClientTests {
		if !strings.Contains(string(out), "--- PASS: "+name+" ") {
			t.Errorf("%s did not pass over the IFD bridge (skipped, or not run)", name)
		}
	}
	// A skipped step passes its test: each must have run.
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "--- SKIP: ") {
			t.Errorf("over the IFD bridge: %s", strings.TrimSpace(line))
		}
	}
}

// TestIFDClientsListed checks that every test of this package is either
// run over the IFD bridge (ifdClientTests) or kept off it with a reason
// (ifdOffBridge), not both, and that both lists name tests that exist.
func TestIFDClientsListed(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(e2e.root, "e2e", "*_test.go"))
	if err != nil || len(files) == 0 {
		t.Fatalf("the e2e test files: %v (%d found)", err, len(files))
	}
	tests := map[string]bool{}
	fset := token.NewFileSet()
	for _, f := range files {
		file, err := parser.ParseFile(fset, f, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range file.Decls {
			if fn, ok := d.(*ast.FuncDecl); ok && fn.Recv == nil && strings.HasPrefix(fn.Name.Name, "Test") && fn.Name.Name != "TestMain" {
				tests[fn.Name.Name] = true
			}
		}
	}
	on := map[string]bool{}
	for _, name := range ifdClientTests {
		if on[name] {
			t.Errorf("%s is twice in ifdClientTests", name)
		}
		on[name] = true
	}
	for name := range tests {
		_, off := ifdOffBridge[name]
		switch {
		case on[name] && off:
			t.Errorf("%s is in ifdClientTests and in ifdOffBridge (%s)", name, ifdOffBridge[name])
		case !on[name] && !off:
			t.Errorf("%s is in neither ifdClientTests nor ifdOffBridge: run it over the IFD bridge, or say why not", name)
		}
	}
	listed := slices.Concat(ifdClientTests, slices.Collect(maps.Keys(ifdOffBridge)))
	for _, name := range listed {
		if !tests[name] {
			t.Errorf("%s is listed for the IFD bridge, but this package has no such test", name)
		}
	}
}

// newIFDYubiKeyCard starts a private pcscd loading the IFD driver with one
// reader named as a YubiKey's (ykmanReaderName, which ykman and piv-go's
// tests look for) and the simulator with a fresh card in it (args go to
// `tessera sim`), traced, and waits until pcscd sees the card. The card's
// clients reach that pcscd: its socket is in their environment.
func newIFDYubiKeyCard(t *testing.T, args ...string) (*interopCard, *ifdPCSCD) {
	t.Helper()
	p := startIFDPCSCD(t, ykmanReaderName)
	state := hosttest.ShortDir(t)
	trace := filepath.Join(state, "trace.jsonl")
	s := startSim(t, state, append([]string{"--trace", trace, "--bridge", "ifd",
		"--ifd-dir", filepath.Join(p.run, "ifd"), "--reader-name", ykmanReaderName}, args...)...)
	c := newInteropOn(t, s, ykmanReaderName+" 00 00", trace, []string{"PCSCLITE_CSOCK_NAME=" + p.sock})
	c.waitReader(t, 15*time.Second)
	return c, p
}
