package simulator

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tesseracard/tessera/internal/hosttest"
	"github.com/tesseracard/tessera/simulator/ifdlink"
)

// ifdAsk sends one request on c and reads the answer.
func ifdAsk(t *testing.T, c net.Conn, f ifdlink.Frame) (ifdlink.Frame, error) {
	t.Helper()
	b, err := ifdlink.Append(nil, f)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write(b); err != nil {
		return ifdlink.Frame{}, err
	}
	a, _, err := ifdlink.Read(c, nil)
	if err == nil {
		err = ifdlink.CheckAnswer(f.Type, a)
	}
	return a, err
}

func TestIFDLink(t *testing.T) {
	dir := hosttest.ShortDir(t)
	sim, err := New(Config{IFDDir: dir, Profile: "piv"})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	r, err := sim.Add(CardSpec{Slot: 3})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := r.Info().IFD, IFDSocket(dir, 3); got != want {
		t.Errorf("Info().IFD = %q, want %q", got, want)
	}
	if got, want := r.Info().Reader, "Tessera IFD 3 03 00"; got != want {
		t.Errorf("Info().Reader = %q, want %q", got, want)
	}
	dial := func() net.Conn {
		c, err := net.Dial("unix", IFDSocket(dir, 3))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	c := dial()
	tests := []struct {
		req      ifdlink.Frame
		wantType ifdlink.Type
		check    func([]byte) bool
	}{
		{ifdlink.Frame{Type: ifdlink.Presence}, ifdlink.Presence | ifdlink.Answer, func(p []byte) bool { return len(p) > 0 && p[0] == 0x3B }},
		{ifdlink.Frame{Type: ifdlink.APDU, Payload: []byte{0, 0xA4, 4, 0, 5, 0xA0, 0, 0, 3, 8}}, ifdlink.APDU | ifdlink.Answer, func(p []byte) bool { return bytes.Equal(p, []byte{0x6F, 0x00}) }}, // unpowered
		{ifdlink.Frame{Type: ifdlink.PowerOn}, ifdlink.PowerOn | ifdlink.Answer, func(p []byte) bool { return len(p) > 0 }},
		{ifdlink.Frame{Type: ifdlink.APDU, Payload: []byte{0, 0xA4, 4, 0, 5, 0xA0, 0, 0, 3, 8}}, ifdlink.APDU | ifdlink.Answer, func(p []byte) bool { return bytes.HasSuffix(p, []byte{0x90, 0x00}) }},
		{ifdlink.Frame{Type: ifdlink.Reset}, ifdlink.Reset | ifdlink.Answer, func(p []byte) bool { return len(p) > 0 }},
		{ifdlink.Frame{Type: ifdlink.PowerOff}, ifdlink.PowerOff | ifdlink.Answer, func(p []byte) bool { return len(p) == 0 }},
	}
	for _, tt := range tests {
		a, err := ifdAsk(t, c, tt.req)
		if err != nil || a.Type != tt.wantType || !tt.check(a.Payload) {
			t.Fatalf("%v % X: answer %v % X, %v; want %v", tt.req.Type, tt.req.Payload, a.Type, a.Payload, err, tt.wantType)
		}
	}
	if !r.Info().Connected {
		t.Error("Info().Connected = false with the driver connected")
	}

	// Removed: the connection drops; a new one hears "no card".
	if err := r.Remove(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := ifdAsk(t, c, ifdlink.Frame{Type: ifdlink.Presence}); err == nil {
		t.Error("the connection outlived the card's removal")
	}
	c = dial()
	for _, req := range []ifdlink.Frame{{Type: ifdlink.APDU, Payload: []byte{0, 0xCA, 0, 0}}, {Type: ifdlink.PowerOn}} {
		if a, err := ifdAsk(t, c, req); err != nil || a.Type != ifdlink.NoCard {
			t.Errorf("%v to a removed card: %v, %v; want no card", req.Type, a.Type, err)
		}
	}
	if a, err := ifdAsk(t, c, ifdlink.Frame{Type: ifdlink.Presence}); err != nil || len(a.Payload) != 0 {
		t.Errorf("presence of a removed card: % X, %v; want none", a.Payload, err)
	}

	// A malformed request ends the connection, not the link.
	for _, bad := range [][]byte{{0, 0, 0, 1, 0x81}, {0, 0, 0, 3, 0x01, 0, 0}, {0xff, 0xff, 0xff, 0xff, 1}} {
		c := dial()
		c.Write(bad)
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if n, err := c.Read(make([]byte, 16)); err == nil {
			t.Errorf("% X: answered %d bytes, want the connection closed", bad, n)
		}
	}
	if err := r.Insert(context.Background()); err != nil {
		t.Fatal(err)
	}
	if a, err := ifdAsk(t, dial(), ifdlink.Frame{Type: ifdlink.Presence}); err != nil || len(a.Payload) == 0 {
		t.Errorf("presence after malformed requests and insertion: % X, %v", a.Payload, err)
	}
}

func TestIFDSocketFile(t *testing.T) {
	dir := hosttest.ShortDir(t)
	// A stale socket (its simulator killed) is replaced.
	stale, err := net.Listen("unix", IFDSocket(dir, 0))
	if err != nil {
		t.Fatal(err)
	}
	stale.(*net.UnixListener).SetUnlinkOnClose(false)
	stale.Close()
	sim, err := New(Config{IFDDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	if _, err := sim.Add(CardSpec{Slot: 0}); err != nil {
		t.Fatalf("Add over a stale socket: %v", err)
	}
	// A socket another simulator serves is not taken.
	other, err := New(Config{IFDDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, err := other.Add(CardSpec{Slot: 0}); err == nil || !strings.Contains(err.Error(), "another process serves it") {
		t.Errorf("Add on a served socket: %v, want an error saying another process serves it", err)
	}
	if err := os.WriteFile(IFDSocket(dir, 1), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := other.Add(CardSpec{Slot: 1}); err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Errorf("Add on a regular file: %v, want an error saying it is not a socket", err)
	}
	if _, err := New(Config{IFDDir: dir, VPCD: "127.0.0.1:35963"}); err == nil {
		t.Error("New with both vpcd and the IFD link: no error")
	}
	sim.Close()
	if _, err := os.Lstat(IFDSocket(dir, 0)); !os.IsNotExist(err) {
		t.Errorf("socket after Close: %v, want it removed", err)
	}
}

// TestIFDDirDenied: a simulator that may not create its socket (bind's
// EACCES or EPERM, as a user outside the group of the directory
// scripts/ifd.sh install makes gets) is told the directory, its group and
// what to do, and the error still matches fs.ErrPermission. The failure is
// fabricated as net.Listen wraps it, since root may bind anywhere.
func TestIFDDirDenied(t *testing.T) {
	owned := hosttest.ShortDir(t)
	group := ownGroup(t, owned) // "" where directories have no group
	missing := filepath.Join(owned, "missing")
	tests := []struct {
		name  string
		dir   string
		errno syscall.Errno
		fix   string
	}{
		{"EACCES", owned, syscall.EACCES, "be in its group " + group + " (usermod -aG " + group + " USER, then log in again)"},
		{"EPERM", owned, syscall.EPERM, "be in its group " + group + " (usermod -aG " + group + " USER, then log in again)"},
		{"the directory unreadable", missing, syscall.EACCES, "be a user who may write there"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fix := tt.fix
			if group == "" {
				fix = "be a user who may write there"
			}
			path := IFDSocket(tt.dir, 0)
			bind := &net.OpError{Op: "listen", Net: "unix", Addr: &net.UnixAddr{Name: path, Net: "unix"}, Err: os.NewSyscallError("bind", tt.errno)}
			err := ifdDirDenied(path, bind)
			if !errors.Is(err, fs.ErrPermission) {
				t.Errorf("errors.Is(%v, fs.ErrPermission) = false", err)
			}
			for _, want := range []string{path, "in " + tt.dir + " ", "bind: ", fix, "or pass --ifd-dir a directory of your own"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("ifdDirDenied = %q, want it to say %q", err, want)
				}
			}
		})
	}
}
