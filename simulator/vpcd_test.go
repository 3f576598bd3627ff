package simulator

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/tesseracard/tessera/firmware"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

func TestReadFrame(t *testing.T) {
	tests := []struct {
		name    string
		in      []byte
		limit   int
		want    []string // payloads, hex
		wantErr error    // after the payloads
	}{
		{"empty stream", nil, maxFrame, nil, io.EOF},
		{"control byte", unhex(t, "0001 04"), maxFrame, []string{"04"}, io.EOF},
		{"two frames", unhex(t, "0001 01 0005 00A4040000"), maxFrame, []string{"01", "00A4040000"}, io.EOF},
		{"zero length", unhex(t, "0000"), maxFrame, []string{""}, io.EOF},
		{"one length byte", unhex(t, "00"), maxFrame, nil, io.ErrUnexpectedEOF},
		{"payload short", unhex(t, "0005 00A4"), maxFrame, nil, io.ErrUnexpectedEOF},
		{"length announces more than follows", unhex(t, "FFFF 0102"), maxFrame, nil, io.ErrUnexpectedEOF},
		{"oversize", unhex(t, "0101") /* 257 */, 256, nil, ErrFrameTooLarge},
		{"at the limit", append(unhex(t, "0100"), make([]byte, 256)...), 256, []string{strings.Repeat("00", 256)}, io.EOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := bytes.NewReader(tt.in)
			var buf []byte
			var got []string
			var err error
			for {
				var p []byte
				p, buf, err = readFrame(r, buf, tt.limit, nil)
				if err != nil {
					break
				}
				got = append(got, strings.ToUpper(hex.EncodeToString(p)))
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("payloads = %v, want %v", got, tt.want)
			}
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("final error = %v, want %v", err, tt.wantErr)
			}
			if cap(buf) > 2+tt.limit+256 {
				t.Errorf("buffer grew to %d bytes, limit %d", cap(buf), tt.limit)
			}
		})
	}
}

func TestAppendFrame(t *testing.T) {
	got, err := appendFrame(nil, unhex(t, "9000"))
	if err != nil || !bytes.Equal(got, unhex(t, "0002 9000")) {
		t.Errorf("appendFrame(9000) = %X, %v, want 00029000", got, err)
	}
	if _, err := appendFrame(nil, make([]byte, maxFrame+1)); !errors.Is(err, ErrFrameTooLarge) {
		t.Errorf("appendFrame(64 KiB) error = %v, want ErrFrameTooLarge", err)
	}
}

// FuzzReadFrame feeds arbitrary streams to the frame reader: it must never
// return a payload over the limit nor grow its buffer past it, and the
// frames it returns must re-encode to exactly the bytes it consumed.
func FuzzReadFrame(f *testing.F) {
	for _, s := range []string{"000104", "0001010005 00A4040000", "0000", "FFFF01", "0101", "00", "0002 9000 0001"} {
		f.Add(unhex(f, s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		const limit = 300
		r := bytes.NewReader(in)
		var buf, reencoded []byte
		for {
			p, nb, err := readFrame(r, buf, limit, nil)
			buf = nb
			if cap(buf) > 2+limit {
				t.Fatalf("buffer grew to %d, limit %d", cap(buf), limit)
			}
			if err != nil {
				if errors.Is(err, io.EOF) && len(reencoded) != len(in) {
					t.Fatalf("io.EOF after %d of %d bytes", len(reencoded), len(in))
				}
				return
			}
			if len(p) > limit {
				t.Fatalf("payload of %d bytes, limit %d", len(p), limit)
			}
			reencoded, _ = appendFrame(reencoded, p)
			if !bytes.HasPrefix(in, reencoded) {
				t.Fatalf("frames re-encode to %X, not a prefix of the input %X", reencoded, in)
			}
		}
	})
}

// fakeVPCD is the vpcd end of the link: a TCP listener handing out the
// connections the card makes.
type fakeVPCD struct {
	ln    net.Listener
	conns chan net.Conn
}

func newFakeVPCD(t *testing.T) *fakeVPCD {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeVPCD{ln: ln, conns: make(chan net.Conn, 8)}
	go f.acceptLoop(ln)
	t.Cleanup(func() { ln.Close() })
	return f
}

func (f *fakeVPCD) acceptLoop(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		f.conns <- c
	}
}

func (f *fakeVPCD) addr() string { return f.ln.Addr().String() }

// accept waits for the card to connect.
func (f *fakeVPCD) accept(t *testing.T) net.Conn {
	t.Helper()
	select {
	case c := <-f.conns:
		t.Cleanup(func() { c.Close() })
		return c
	case <-time.After(5 * time.Second):
		t.Fatal("the card did not connect to vpcd within 5s")
		return nil
	}
}

// noConnection asserts that the card does not connect for d.
func (f *fakeVPCD) noConnection(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case c := <-f.conns:
		c.Close()
		t.Fatal("the card connected, want it to stay away")
	case <-time.After(d):
	}
}

func sendFrame(t *testing.T, c net.Conn, payload []byte) {
	t.Helper()
	b, err := appendFrame(nil, payload)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write(b); err != nil {
		t.Fatalf("writing to the card: %v", err)
	}
}

func recvFrame(t *testing.T, c net.Conn) []byte {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	p, _, err := readFrame(c, nil, maxFrame, nil)
	if err != nil {
		t.Fatalf("reading the card's reply: %v", err)
	}
	return p
}

// expectClosed asserts the card closes the connection without a reply.
func expectClosed(t *testing.T, c net.Conn) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var b [64]byte
	n, err := c.Read(b[:])
	if err == nil {
		t.Fatalf("the card sent %X, want the connection closed", b[:n])
	}
	if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && !strings.Contains(err.Error(), "reset") {
		t.Fatalf("read error %v, want EOF (connection closed by the card)", err)
	}
}

// exchangeVPCD sends a command APDU and returns the response.
func exchangeVPCD(t *testing.T, c net.Conn, cmd string) string {
	t.Helper()
	sendFrame(t, c, unhex(t, cmd))
	return strings.ToUpper(hex.EncodeToString(recvFrame(t, c)))
}

func newTestSim(t *testing.T, cfg Config) *Simulator {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func addCard(t *testing.T, s *Simulator, spec CardSpec) *Reader {
	t.Helper()
	r, err := s.Add(spec)
	if err != nil {
		t.Fatalf("Add(%+v): %v", spec, err)
	}
	return r
}

const (
	selectPIV  = "00A4040005A000000308"
	getVersion = "00FD0000"
	wrongPIN   = "002000800831323334353637FF" // 1234567
	pinStatus  = "00200080"
)

func TestVPCDLink(t *testing.T) {
	f := newFakeVPCD(t)
	s := newTestSim(t, Config{VPCD: f.addr()})
	r := addCard(t, s, CardSpec{Slot: 0})
	c := f.accept(t)

	// Presence poll: the ATR, without power.
	sendFrame(t, c, []byte{ctrlGetATR})
	if got, want := recvFrame(t, c), r.prof.ATR; !bytes.Equal(got, want) {
		t.Fatalf("ATR = %X, want %X", got, want)
	}
	// A command to an unpowered card is answered, not left hanging.
	if got := exchangeVPCD(t, c, getVersion); got != "6F00" {
		t.Errorf("GET VERSION unpowered = %s, want 6F00", got)
	}
	sendFrame(t, c, []byte{ctrlPowerOn}) // no reply
	// An unknown control code gets no reply: the next reply is the ATR's.
	sendFrame(t, c, []byte{0x03})
	sendFrame(t, c, []byte{ctrlGetATR})
	if got := recvFrame(t, c); !bytes.Equal(got, r.prof.ATR) {
		t.Fatalf("after an unknown control code, reply = %X, want the ATR", got)
	}
	tests := []struct{ name, cmd, want string }{
		{"select", selectPIV, "9000"},
		{"get version", getVersion, "0507019000"},
		{"empty frame", "", "6700"},
		{"2-byte frame", "00A4", "6700"},
		{"3-byte frame", "00A404", "6700"},
		{"wrong PIN", wrongPIN, "63C2"},
	}
	for _, tt := range tests {
		got := exchangeVPCD(t, c, tt.cmd)
		if !strings.HasSuffix(got, tt.want) {
			t.Errorf("%s: response %s, want ...%s", tt.name, got, tt.want)
		}
	}
	// Reset loses the RAM state: the PIV application is deselected.
	sendFrame(t, c, []byte{ctrlReset})
	if got := exchangeVPCD(t, c, getVersion); got != "6D00" {
		t.Errorf("GET VERSION after reset = %s, want 6D00 (nothing selected)", got)
	}
	// An extended APDU near the frame limit is answered.
	big := append(unhex(t, "00DB3FFF00FFF0"), make([]byte, 0xFFF0)...)
	sendFrame(t, c, big)
	if got := recvFrame(t, c); len(got) != 2 {
		t.Errorf("64 KiB command: response %X, want a status word", got)
	}
	sendFrame(t, c, []byte{ctrlPowerOff})
	sendFrame(t, c, []byte{ctrlGetATR})
	if got := recvFrame(t, c); !bytes.Equal(got, r.prof.ATR) {
		t.Errorf("ATR after power off = %X", got)
	}
}

// TestVPCDReplyInOneWrite checks that the length and the body of a reply
// arrive together: written in one call, they leave in one TCP segment.
func TestVPCDReplyInOneWrite(t *testing.T) {
	f := newFakeVPCD(t)
	s := newTestSim(t, Config{VPCD: f.addr()})
	addCard(t, s, CardSpec{Slot: 0})
	c := f.accept(t)
	sendFrame(t, c, []byte{ctrlPowerOn})
	for range 20 {
		sendFrame(t, c, unhex(t, selectPIV))
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		b := make([]byte, 4096)
		n, err := c.Read(b)
		if err != nil {
			t.Fatal(err)
		}
		if n < 4 || int(binary.BigEndian.Uint16(b)) != n-2 {
			t.Fatalf("one read got %d bytes (%X), want the whole framed reply", n, b[:n])
		}
	}
}

func TestVPCDReconnects(t *testing.T) {
	f := newFakeVPCD(t)
	s := newTestSim(t, Config{VPCD: f.addr()})
	addCard(t, s, CardSpec{Slot: 0})
	c := f.accept(t)

	// vpcd drops the connection (pcscd restarted): the card comes back.
	c.Close()
	c = f.accept(t)
	sendFrame(t, c, []byte{ctrlPowerOn})
	if got := exchangeVPCD(t, c, selectPIV); !strings.HasSuffix(got, "9000") {
		t.Fatalf("select after reconnect = %s", got)
	}

	// A truncated frame (vpcd died mid-message) ends the connection too.
	c.Write(unhex(t, "0010 00A4"))
	c.Close()
	c = f.accept(t)

	// pcscd goes away altogether and comes back on the same port.
	addr := f.addr()
	f.ln.Close()
	c.Close()
	time.Sleep(300 * time.Millisecond) // a few refused dials
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("re-listening on %s: %v", addr, err)
	}
	f.ln = ln
	go f.acceptLoop(ln)
	t.Cleanup(func() { ln.Close() })
	c = f.accept(t)
	sendFrame(t, c, []byte{ctrlGetATR})
	recvFrame(t, c)
}

func TestVPCDMuteCardLeavesAndComesBack(t *testing.T) {
	f := newFakeVPCD(t)
	s := newTestSim(t, Config{VPCD: f.addr()})
	r := addCard(t, s, CardSpec{Slot: 0})
	c := f.accept(t)
	ctx := context.Background()
	sendFrame(t, c, []byte{ctrlPowerOn})
	exchangeVPCD(t, c, selectPIV)
	if err := r.ArmTear(ctx, 0); err != nil {
		t.Fatal(err)
	}
	// VERIFY first writes the decremented counter: that write is cut.
	sendFrame(t, c, unhex(t, wrongPIN))
	expectClosed(t, c)
	if in := r.Info(); !in.Mute || in.Tear == nil || !in.Tear.Fired {
		t.Fatalf("Info() after the tear = %+v, want mute with the tear fired", in)
	}
	f.noConnection(t, 500*time.Millisecond)
	if _, err := r.Transport().Transmit(ctx, unhex(t, selectPIV)); !errors.Is(err, ErrMute) {
		t.Errorf("Transmit to a mute card: error %v, want ErrMute", err)
	}

	if err := r.PowerCycle(ctx); err != nil {
		t.Fatal(err)
	}
	c = f.accept(t)
	sendFrame(t, c, []byte{ctrlPowerOn})
	exchangeVPCD(t, c, selectPIV)
	// The cut write never happened: no try was spent.
	if got := exchangeVPCD(t, c, pinStatus); got != "63C3" {
		t.Errorf("PIN status after the torn VERIFY = %s, want 63C3", got)
	}
}

func TestVPCDRemoveInsert(t *testing.T) {
	f := newFakeVPCD(t)
	s := newTestSim(t, Config{VPCD: f.addr()})
	r := addCard(t, s, CardSpec{Slot: 0})
	c := f.accept(t)
	ctx := context.Background()
	if err := r.Remove(ctx); err != nil {
		t.Fatal(err)
	}
	expectClosed(t, c)
	f.noConnection(t, 300*time.Millisecond)
	if in := r.Info(); in.Inserted || in.Connected {
		t.Errorf("Info() after Remove = %+v", in)
	}
	if _, err := r.Transport().Transmit(ctx, unhex(t, selectPIV)); !errors.Is(err, ErrRemoved) {
		t.Errorf("Transmit to a removed card: error %v, want ErrRemoved", err)
	}
	if err := r.Insert(ctx); err != nil {
		t.Fatal(err)
	}
	c = f.accept(t)
	sendFrame(t, c, []byte{ctrlGetATR})
	recvFrame(t, c)
}

func TestVPCDPanicAnswers6F00(t *testing.T) {
	f := newFakeVPCD(t)
	s := newTestSim(t, Config{VPCD: f.addr()})
	r := addCard(t, s, CardSpec{Slot: 0})
	c := f.accept(t)
	sendFrame(t, c, []byte{ctrlPowerOn})
	exchangeVPCD(t, c, selectPIV)
	r.lock <- struct{}{}
	r.process = func(card *firmware.Card, cmd []byte) []byte {
		if cmd[1] == 0xEE {
			panic("firmware bug")
		}
		return card.Process(cmd)
	}
	<-r.lock
	if got := exchangeVPCD(t, c, "00EE0000"); got != "6F00" {
		t.Errorf("panicking command = %s, want 6F00", got)
	}
	// The card restarted: still connected, powered, PIV deselected.
	if got := exchangeVPCD(t, c, getVersion); got != "6D00" {
		t.Errorf("GET VERSION after the panic = %s, want 6D00 (card restarted)", got)
	}
	if got := exchangeVPCD(t, c, selectPIV); !strings.HasSuffix(got, "9000") {
		t.Errorf("SELECT after the panic = %s", got)
	}
}
