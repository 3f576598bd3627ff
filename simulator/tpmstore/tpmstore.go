package tpmstore

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"

	"github.com/tesseracard/tessera/firmware/nvm"
)

// Owner NV index range (TCG Registry of Reserved TPM 2.0 Handles and
// Localities, §2.2): 0x01800000 to 0x01BFFFFF.
const (
	ownerIndexBase = 0x01800000
	ownerIndexSpan = 0x00400000
)

// TPM is a connection to a TPM holding the state keys and counters of the
// cards of one simulator. Its methods are safe for concurrent use: commands
// go to the TPM one sequence at a time.
type TPM struct {
	mu   sync.Mutex
	t    transport.TPMCloser
	desc string // what Open was given, for errors
}

// Open connects to the TPM that spec names:
//
//   - "sim": the in-process reference simulator (go-tpm-tools), built only
//     on Linux with cgo and libcrypto: elsewhere Open returns an error
//     wrapping errors.ErrUnsupported.
//     Its state lives in this process only: a card's state cannot survive a
//     restart of the process, so it only demonstrates. Only one may be open
//     in a process at a time; a second Open waits for the first's Close.
//   - "unix:PATH": a TPM emulator's command socket, such as `swtpm socket
//     --tpm2 --server type=unixio,path=PATH`. Open starts the TPM
//     (TPM2_Startup) unless it already is.
//   - a device path such as /dev/tpmrm0 (use the resource manager, not
//     /dev/tpm0, when anything else uses the TPM). Linux only: elsewhere
//     Open returns an error wrapping errors.ErrUnsupported.
//
// ctx bounds the connection. Open checks that the TPM answers and that its
// storage root key can be made (the owner hierarchy's authorisation must
// be empty).
func Open(ctx context.Context, spec string) (*TPM, error) {
	var (
		t   transport.TPMCloser
		err error
	)
	switch {
	case spec == "sim":
		t, err = openSimulator()
	case strings.HasPrefix(spec, "unix:"):
		t, err = dialUnix(ctx, strings.TrimPrefix(spec, "unix:"))
	case spec == "":
		return nil, errors.New("tpmstore: no TPM named: want a device path, unix:SOCKET or sim")
	default:
		t, err = openDevice(spec)
	}
	if err != nil {
		return nil, fmt.Errorf("tpmstore: opening TPM %s: %w", spec, err)
	}
	tp := &TPM{t: t, desc: spec}
	if strings.HasPrefix(spec, "unix:") {
		_, err := tpm2.Startup{StartupType: tpm2.TPMSUClear}.Execute(t)
		if err != nil && !errors.Is(err, tpm2.TPMRCInitialize) {
			t.Close()
			return nil, fmt.Errorf("tpmstore: starting TPM %s: %w", spec, err)
		}
	}
	if err := ctx.Err(); err != nil {
		t.Close()
		return nil, fmt.Errorf("tpmstore: opening TPM %s: %w", spec, err)
	}
	tp.mu.Lock()
	defer tp.mu.Unlock()
	srk, err := tp.createSRK()
	if err != nil {
		t.Close()
		return nil, err
	}
	tp.flush(srk.ObjectHandle)
	return tp, nil
}

// errDeviceUnsupported is Open's error for a TPM device on goos, where
// there is no TPM character device to open (Windows reaches its TPM through
// TBS, macOS has none). It wraps errors.ErrUnsupported.
func errDeviceUnsupported(goos string) error {
	return fmt.Errorf("a TPM device is supported on Linux only, not on %s; use unix:SOCKET (a TPM emulator's command socket, such as swtpm's) or sim (the in-process simulator, a demonstration only; it needs a cgo build): %w", goos, errors.ErrUnsupported)
}

// errSimUnsupported is Open's error for "sim" in a build for goos without
// the in-process simulator, which needs Linux, cgo and libcrypto's headers.
// It wraps errors.ErrUnsupported.
func errSimUnsupported(goos string) error {
	return fmt.Errorf("the in-process TPM simulator is built only on Linux with cgo and libcrypto (Debian: libssl-dev), not in this build for %s; use unix:SOCKET (a TPM emulator's command socket, such as swtpm's): %w", goos, errors.ErrUnsupported)
}

// String names the TPM as Open was given it.
func (t *TPM) String() string { return t.desc }

// Close ends the connection (for "sim", the simulator and its state).
func (t *TPM) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.t.Close()
}

// Protect wraps m, the medium of the card whose state file is statePath,
// in an nvm.Protected medium whose key this TPM seals and whose counter is
// the card's NV index (see Counter).
func (t *TPM) Protect(statePath string, m nvm.Medium) (*nvm.Protected, error) {
	c, err := t.Counter(statePath)
	if err != nil {
		return nil, err
	}
	return nvm.NewProtected(m, nvm.ProtectOptions{Sealer: t, Counter: c, Rand: rand.Reader})
}

// createSRK makes the storage root key from the owner hierarchy's seed:
// the same key at every call on the same TPM. Called with mu held; the
// caller flushes it.
func (t *TPM) createSRK() (*tpm2.CreatePrimaryResponse, error) {
	rsp, err := tpm2.CreatePrimary{
		PrimaryHandle: tpm2.TPMRHOwner,
		InPublic:      tpm2.New2B(tpm2.ECCSRKTemplate),
	}.Execute(t.t)
	if err != nil {
		return nil, fmt.Errorf("tpmstore: creating the storage root key on TPM %s (is the owner authorisation empty?): %w", t.desc, err)
	}
	return rsp, nil
}

func (t *TPM) flush(h tpm2.TPMHandle) {
	// A flush fails only if the handle is gone already; nothing to do then.
	_, _ = tpm2.FlushContext{FlushHandle: h}.Execute(t.t)
}

// sealedTemplate is the sealed data object: a keyed-hash object holding
// the caller's data, bound to this TPM and its parent, never duplicable,
// usable with its (empty) authorisation value, exempt from dictionary
// attack protection.
var sealedTemplate = tpm2.TPMTPublic{
	Type:    tpm2.TPMAlgKeyedHash,
	NameAlg: tpm2.TPMAlgSHA256,
	ObjectAttributes: tpm2.TPMAObject{
		FixedTPM:     true,
		FixedParent:  true,
		UserWithAuth: true,
		NoDA:         true,
	},
	Parameters: tpm2.NewTPMUPublicParms(tpm2.TPMAlgKeyedHash, &tpm2.TPMSKeyedHashParms{
		Scheme: tpm2.TPMTKeyedHashScheme{Scheme: tpm2.TPMAlgNull},
	}),
}

// Sealed blob format: "TSK1" | pubLen u16 | TPM2B_PUBLIC contents |
// privLen u16 | TPM2B_PRIVATE contents.
const (
	blobMagic = "TSK1"
	maxBlob   = 2048
)

// withSRK runs f, with mu held, on the storage root key and a salted
// HMAC session under it that encrypts the first parameter in the direction
// enc says (the key never crosses the bus in clear), then flushes the key.
func (t *TPM) withSRK(enc tpm2.AuthOption, f func(srk *tpm2.CreatePrimaryResponse, sess tpm2.Session) error) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	srk, err := t.createSRK()
	if err != nil {
		return err
	}
	defer t.flush(srk.ObjectHandle)
	pub, err := srk.OutPublic.Contents()
	if err != nil {
		return fmt.Errorf("tpmstore: reading the storage root key: %w", err)
	}
	return f(srk, tpm2.HMAC(tpm2.TPMAlgSHA256, 16, enc, tpm2.Salted(srk.ObjectHandle, *pub)))
}

// Seal wraps key in a data object sealed under this TPM's storage root key
// (nvm.Sealer).
func (t *TPM) Seal(key []byte) ([]byte, error) {
	var rsp *tpm2.CreateResponse
	err := t.withSRK(tpm2.AESEncryption(128, tpm2.EncryptIn), func(srk *tpm2.CreatePrimaryResponse, sess tpm2.Session) error {
		var err error
		rsp, err = tpm2.Create{
			ParentHandle: tpm2.AuthHandle{Handle: srk.ObjectHandle, Name: srk.Name, Auth: sess},
			InSensitive: tpm2.TPM2BSensitiveCreate{Sensitive: &tpm2.TPMSSensitiveCreate{
				Data: tpm2.NewTPMUSensitiveCreate(&tpm2.TPM2BSensitiveData{Buffer: key}),
			}},
			InPublic: tpm2.New2B(sealedTemplate),
		}.Execute(t.t)
		if err != nil {
			return fmt.Errorf("tpmstore: sealing the state key on TPM %s: %w", t.desc, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	pub, priv := rsp.OutPublic.Bytes(), rsp.OutPrivate.Buffer
	b := make([]byte, 0, 4+2+len(pub)+2+len(priv))
	b = append(b, blobMagic...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(pub)))
	b = append(b, pub...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(priv)))
	return append(b, priv...), nil
}

// parseBlob splits a sealed blob into its public and private areas.
func parseBlob(b []byte) (pub, priv []byte, err error) {
	bad := func(what string) ([]byte, []byte, error) {
		return nil, nil, fmt.Errorf("tpmstore: sealed state key: %s", what)
	}
	if len(b) > maxBlob || len(b) < 4+2 || string(b[:4]) != blobMagic {
		return bad("not a sealed TPM object (bad header or size)")
	}
	rest := b[4:]
	n := int(binary.BigEndian.Uint16(rest))
	if len(rest) < 2+n+2 {
		return bad("truncated public area")
	}
	pub, rest = rest[2:2+n], rest[2+n:]
	n = int(binary.BigEndian.Uint16(rest))
	if len(rest) != 2+n {
		return bad("private area length does not match")
	}
	return pub, rest[2:], nil
}

// Unseal loads the sealed object under this TPM's storage root key and
// returns the key (nvm.Sealer). An object sealed by another TPM, or before
// the owner hierarchy was cleared, fails to load: the error says so.
func (t *TPM) Unseal(sealed []byte) ([]byte, error) {
	pub, priv, err := parseBlob(sealed)
	if err != nil {
		return nil, err
	}
	var key []byte
	err = t.withSRK(tpm2.AESEncryption(128, tpm2.EncryptOut), func(srk *tpm2.CreatePrimaryResponse, sess tpm2.Session) error {
		loaded, err := tpm2.Load{
			ParentHandle: tpm2.AuthHandle{Handle: srk.ObjectHandle, Name: srk.Name, Auth: tpm2.PasswordAuth(nil)},
			InPublic:     tpm2.BytesAs2B[tpm2.TPMTPublic](pub),
			InPrivate:    tpm2.TPM2BPrivate{Buffer: priv},
		}.Execute(t.t)
		if errors.Is(err, tpm2.TPMRCIntegrity) {
			return fmt.Errorf("tpmstore: the state key was sealed by another TPM (or before its owner hierarchy was cleared), TPM %s cannot unseal it: %w", t.desc, err)
		}
		if err != nil {
			return fmt.Errorf("tpmstore: loading the sealed state key into TPM %s: %w", t.desc, err)
		}
		defer t.flush(loaded.ObjectHandle)
		rsp, err := tpm2.Unseal{
			ItemHandle: tpm2.AuthHandle{Handle: loaded.ObjectHandle, Name: loaded.Name, Auth: sess},
		}.Execute(t.t)
		if err != nil {
			return fmt.Errorf("tpmstore: unsealing the state key on TPM %s: %w", t.desc, err)
		}
		key = rsp.OutData.Buffer
		return nil
	})
	return key, err
}

// IndexFor returns the NV index of the card whose state file is statePath:
// 0x01800000 plus the first four bytes of the SHA-256 of the absolute
// path, modulo the 0x400000 indices of the owner range. Two cards colliding
// is unlikely (a few cards among four million indices); an index another
// program defined is refused by Counter's checks.
func IndexFor(statePath string) (tpm2.TPMHandle, error) {
	abs, err := filepath.Abs(statePath)
	if err != nil {
		return 0, fmt.Errorf("tpmstore: state file path %s: %w", statePath, err)
	}
	sum := sha256.Sum256([]byte(abs))
	return tpm2.TPMHandle(ownerIndexBase + binary.BigEndian.Uint32(sum[:4])%ownerIndexSpan), nil
}

// Counter is a card's anti-rollback counter: an NV counter index of the TPM
// (nvm.Counter).
type Counter struct {
	t     *TPM
	index tpm2.TPMHandle
}

// Counter returns the counter of the card whose state file is statePath,
// at IndexFor(statePath). Nothing is sent to the TPM: the index is defined
// at the first Increment.
func (t *TPM) Counter(statePath string) (*Counter, error) {
	idx, err := IndexFor(statePath)
	if err != nil {
		return nil, err
	}
	return &Counter{t: t, index: idx}, nil
}

// CounterAt returns the counter at NV index idx.
func (t *TPM) CounterAt(idx tpm2.TPMHandle) *Counter { return &Counter{t: t, index: idx} }

// Index returns the counter's NV index.
func (c *Counter) Index() tpm2.TPMHandle { return c.index }

// Name returns "tpm-nv:" and the index in hex.
func (c *Counter) Name() string { return fmt.Sprintf("tpm-nv:%#08x", uint32(c.index)) }

// counterAttrs are the index's attributes: a counter written and read with
// its own (empty) authorisation or the owner's, exempt from dictionary
// attack protection. Not orderly: an orderly counter may jump forward
// after a power loss, which would look like a rollback.
var counterAttrs = tpm2.TPMANV{
	OwnerWrite: true,
	OwnerRead:  true,
	AuthWrite:  true,
	AuthRead:   true,
	NT:         tpm2.TPMNTCounter,
	NoDA:       true,
}

// public reads the index's public area; missing reports an index that
// does not exist. Called with t.mu held.
func (c *Counter) public() (pub *tpm2.TPMSNVPublic, name tpm2.TPM2BName, missing bool, err error) {
	rsp, err := tpm2.NVReadPublic{NVIndex: c.index}.Execute(c.t.t)
	if errors.Is(err, tpm2.TPMRCHandle) {
		return nil, tpm2.TPM2BName{}, true, nil
	}
	if err != nil {
		return nil, tpm2.TPM2BName{}, false, fmt.Errorf("tpmstore: reading NV index %#08x on TPM %s: %w", uint32(c.index), c.t.desc, err)
	}
	pub, err = rsp.NVPublic.Contents()
	if err != nil {
		return nil, tpm2.TPM2BName{}, false, fmt.Errorf("tpmstore: NV index %#08x: %w", uint32(c.index), err)
	}
	a := pub.Attributes
	if a.NT != tpm2.TPMNTCounter || !a.NoDA || !a.AuthRead || !a.AuthWrite || a.Orderly || pub.DataSize != 8 || len(pub.AuthPolicy.Buffer) != 0 {
		return nil, tpm2.TPM2BName{}, false, fmt.Errorf("tpmstore: NV index %#08x on TPM %s exists but is not a Tessera counter (another program's index?): type %d, attributes %#08x", uint32(c.index), c.t.desc, a.NT, tpm2.Marshal(a))
	}
	return pub, rsp.NVName, false, nil
}

// Read returns the counter's value (nvm.Counter); an error wrapping
// nvm.ErrNoCounter if the index does not exist or was never incremented.
func (c *Counter) Read() (uint64, error) {
	c.t.mu.Lock()
	defer c.t.mu.Unlock()
	return c.read()
}

func (c *Counter) read() (uint64, error) {
	pub, name, missing, err := c.public()
	if err != nil {
		return 0, err
	}
	if missing || !pub.Attributes.Written {
		return 0, fmt.Errorf("%w: NV index %#08x on TPM %s", nvm.ErrNoCounter, uint32(c.index), c.t.desc)
	}
	rsp, err := tpm2.NVRead{
		AuthHandle: tpm2.AuthHandle{Handle: c.index, Name: name, Auth: tpm2.PasswordAuth(nil)},
		NVIndex:    tpm2.NamedHandle{Handle: c.index, Name: name},
		Size:       8,
	}.Execute(c.t.t)
	if err != nil {
		return 0, fmt.Errorf("tpmstore: reading counter %#08x on TPM %s: %w", uint32(c.index), c.t.desc, err)
	}
	if len(rsp.Data.Buffer) != 8 {
		return 0, fmt.Errorf("tpmstore: counter %#08x on TPM %s: read %d bytes, want 8", uint32(c.index), c.t.desc, len(rsp.Data.Buffer))
	}
	return binary.BigEndian.Uint64(rsp.Data.Buffer), nil
}

// Increment adds one to the counter, defining the index first if it does
// not exist, and returns the new value (nvm.Counter). A real TPM limits
// the rate of NV writes; too many in a burst answer TPM_RC_NV_RATE, which
// the error carries.
func (c *Counter) Increment() (uint64, error) {
	c.t.mu.Lock()
	defer c.t.mu.Unlock()
	_, name, missing, err := c.public()
	if err != nil {
		return 0, err
	}
	if missing {
		_, err := tpm2.NVDefineSpace{
			AuthHandle: tpm2.AuthHandle{Handle: tpm2.TPMRHOwner, Auth: tpm2.PasswordAuth(nil)},
			PublicInfo: tpm2.New2B(tpm2.TPMSNVPublic{
				NVIndex:    c.index,
				NameAlg:    tpm2.TPMAlgSHA256,
				Attributes: counterAttrs,
				DataSize:   8,
			}),
		}.Execute(c.t.t)
		if err != nil {
			return 0, fmt.Errorf("tpmstore: defining counter %#08x on TPM %s (is the owner authorisation empty?): %w", uint32(c.index), c.t.desc, err)
		}
		if _, name, _, err = c.public(); err != nil {
			return 0, err
		}
	}
	_, err = tpm2.NVIncrement{
		AuthHandle: tpm2.AuthHandle{Handle: c.index, Name: name, Auth: tpm2.PasswordAuth(nil)},
		NVIndex:    tpm2.NamedHandle{Handle: c.index, Name: name},
	}.Execute(c.t.t)
	if err != nil {
		return 0, fmt.Errorf("tpmstore: incrementing counter %#08x on TPM %s: %w", uint32(c.index), c.t.desc, err)
	}
	return c.read()
}
