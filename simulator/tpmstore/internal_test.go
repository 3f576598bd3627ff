package tpmstore

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/google/go-tpm/tpm2"

	"github.com/tesseracard/tessera/firmware/nvm"
)

func openSim(t *testing.T) *TPM {
	t.Helper()
	tpm, err := Open(context.Background(), "sim")
	if err != nil {
		t.Skipf("in-process TPM simulator unavailable (needs cgo and libssl-dev): %v", err)
	}
	t.Cleanup(func() { tpm.Close() })
	return tpm
}

// Nothing Tessera makes in the TPM counts towards its dictionary-attack
// lockout: the sealed object and the counter index carry NoDA.
func TestObjectsAreNoDA(t *testing.T) {
	tpm := openSim(t)
	blob, err := tpm.Seal(make([]byte, nvm.StateKeySize))
	if err != nil {
		t.Fatal(err)
	}
	pubBytes, _, err := parseBlob(blob)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := tpm2.Unmarshal[tpm2.TPMTPublic](pubBytes)
	if err != nil {
		t.Fatal(err)
	}
	if a := pub.ObjectAttributes; !a.NoDA || !a.FixedTPM || !a.FixedParent {
		t.Errorf("sealed object attributes %+v: want NoDA, FixedTPM, FixedParent", a)
	}
	c, _ := tpm.Counter(filepath.Join(t.TempDir(), "card.state"))
	if _, err := c.Increment(); err != nil {
		t.Fatal(err)
	}
	rsp, err := tpm2.NVReadPublic{NVIndex: c.Index()}.Execute(tpm.t)
	if err != nil {
		t.Fatal(err)
	}
	nv, _ := rsp.NVPublic.Contents()
	if a := nv.Attributes; !a.NoDA || a.NT != tpm2.TPMNTCounter || a.Orderly {
		t.Errorf("counter index attributes %+v: want NoDA, a counter, not orderly", a)
	}
	if got, want := c.Name(), fmt.Sprintf("tpm-nv:%#08x", uint32(c.Index())); got != want {
		t.Errorf("Name() = %q, want %q", got, want)
	}
}

// An index another program defined at a card's place is not used.
func TestForeignIndexRefused(t *testing.T) {
	tpm := openSim(t)
	c, _ := tpm.Counter(filepath.Join(t.TempDir(), "card.state"))
	_, err := tpm2.NVDefineSpace{
		AuthHandle: tpm2.AuthHandle{Handle: tpm2.TPMRHOwner, Auth: tpm2.PasswordAuth(nil)},
		PublicInfo: tpm2.New2B(tpm2.TPMSNVPublic{
			NVIndex: c.Index(), NameAlg: tpm2.TPMAlgSHA256,
			Attributes: tpm2.TPMANV{OwnerWrite: true, OwnerRead: true, AuthWrite: true, AuthRead: true, NT: tpm2.TPMNTOrdinary, NoDA: true},
			DataSize:   8,
		}),
	}.Execute(tpm.t)
	if err != nil {
		t.Fatal(err)
	}
	for name, op := range map[string]func() (uint64, error){"Read": c.Read, "Increment": c.Increment} {
		if _, err := op(); err == nil || errors.Is(err, nvm.ErrNoCounter) || !strings.Contains(err.Error(), "not a Tessera counter") {
			t.Errorf("%s() on another program's index: error = %v, want one saying it is not a Tessera counter", name, err)
		}
	}
}

func TestIndexFor(t *testing.T) {
	a, err := IndexFor("/var/lib/tessera/cards/0/card.state")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := IndexFor("/var/lib/tessera/cards/1/card.state")
	again, _ := IndexFor("/var/lib/tessera/cards/0/../0/card.state")
	if a == b {
		t.Errorf("IndexFor gives two cards the same index %#x", a)
	}
	if a != again {
		t.Errorf("IndexFor(same file, other spelling) = %#x, want %#x", again, a)
	}
	for _, h := range []tpm2.TPMHandle{a, b} {
		if h < ownerIndexBase || h >= ownerIndexBase+ownerIndexSpan {
			t.Errorf("IndexFor = %#x, outside the owner range", h)
		}
	}
}

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	for _, spec := range []string{"", "unix:" + filepath.Join(dir, "missing.sock"), filepath.Join(dir, "tpmrm0"), "unix:"} {
		tpm, err := Open(ctx, spec)
		if err == nil {
			tpm.Close()
			t.Errorf("Open(%q) error = nil, want one", spec)
			continue
		}
		if spec != "" && !strings.Contains(err.Error(), spec) {
			t.Errorf("Open(%q) error = %v, want it to name the TPM", spec, err)
		}
	}
}

// A TPM device is Linux's, and the in-process simulator is built only on
// Linux with cgo: elsewhere Open says so (errors.ErrUnsupported) and names
// what works instead.
func TestUnsupportedErrors(t *testing.T) {
	for _, tt := range []struct {
		name string
		err  func(goos string) error
		want []string
	}{
		{"device", errDeviceUnsupported, []string{"Linux only", "unix:SOCKET", "sim"}},
		{"sim", errSimUnsupported, []string{"Linux with cgo", "libssl-dev", "unix:SOCKET"}},
	} {
		for _, goos := range []string{"windows", "darwin", "linux"} {
			err := tt.err(goos)
			if !errors.Is(err, errors.ErrUnsupported) {
				t.Errorf("%s on %s: error = %v, want errors.ErrUnsupported", tt.name, goos, err)
			}
			for _, want := range append([]string{goos}, tt.want...) {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("%s on %s: error = %v, want it to say %q", tt.name, goos, err, want)
				}
			}
		}
	}
}

// Open in this very build: a device and the simulator are refused with
// errors.ErrUnsupported exactly where they are not built (`make cross`
// runs this test with CGO_ENABLED=0). On Linux a missing device is just
// missing; with cgo the simulator may still fail to start, but not as
// unsupported.
func TestOpenUnsupported(t *testing.T) {
	for _, tt := range []struct {
		spec        string
		unsupported bool
	}{
		{filepath.Join(t.TempDir(), "tpmrm0"), runtime.GOOS != "linux"},
		{"sim", runtime.GOOS != "linux" || !cgoBuild(t)},
	} {
		tpm, err := Open(context.Background(), tt.spec)
		if err == nil {
			tpm.Close()
		}
		if got := errors.Is(err, errors.ErrUnsupported); got != tt.unsupported {
			t.Errorf("on %s, Open(%q) = %v: errors.Is(ErrUnsupported) = %v, want %v", runtime.GOOS, tt.spec, err, got, tt.unsupported)
		}
	}
}

// cgoBuild reports whether this test binary was built with cgo.
func cgoBuild(t *testing.T) bool {
	t.Helper()
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		t.Fatal("no build information in the test binary")
	}
	for _, s := range bi.Settings {
		if s.Key == "CGO_ENABLED" {
			return s.Value == "1"
		}
	}
	t.Fatal("the test binary's build information has no CGO_ENABLED")
	return false
}
