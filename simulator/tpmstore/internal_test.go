package tpmstore

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
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

// A TPM device is Linux's: elsewhere Open says so (errors.ErrUnsupported)
// and names what works instead; on Linux a missing device is just missing.
func TestDeviceOnlyOnLinux(t *testing.T) {
	for _, goos := range []string{"windows", "darwin", "freebsd"} {
		err := errDeviceUnsupported(goos)
		if !errors.Is(err, errors.ErrUnsupported) {
			t.Errorf("errDeviceUnsupported(%q) = %v, want errors.ErrUnsupported", goos, err)
		}
		for _, want := range []string{"Linux only", goos, "unix:SOCKET", "sim"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("errDeviceUnsupported(%q) = %v, want it to say %q", goos, err, want)
			}
		}
	}
	dev := filepath.Join(t.TempDir(), "tpmrm0")
	_, err := Open(context.Background(), dev)
	if got, want := errors.Is(err, errors.ErrUnsupported), runtime.GOOS != "linux"; got != want {
		t.Errorf("on %s, Open(%q) = %v: errors.Is(ErrUnsupported) = %v, want %v", runtime.GOOS, dev, err, got, want)
	}
}
