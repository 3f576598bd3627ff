//go:build linux

package simulator

import (
	"errors"
	"io"
	"net"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tesseracard/tessera/internal/hosttest"
	"github.com/tesseracard/tessera/simulator/ifdlink"
)

// unixPair returns both ends of a unix stream connection.
func unixPair(t *testing.T) (net.Conn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("unix", filepath.Join(hosttest.ShortDir(t), "s"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	peer, err := net.Dial("unix", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	conn := <-accepted
	if conn == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { conn.Close(); peer.Close() })
	return conn, peer
}

func TestSpinReader(t *testing.T) {
	tests := []struct {
		name       string
		spin       time.Duration
		writeAfter time.Duration
		whenSpun   bool // write once the read has stopped spinning, not after writeAfter
		caught     int  // reads that found their bytes while spinning
	}{
		{"bytes within the spin are caught awake", 2 * time.Second, 20 * time.Millisecond, false, 1},
		{"bytes already there", time.Second, 0, false, 1},
		{"bytes after the spin: the poller wakes the read", time.Millisecond, 0, true, 0},
		{"no spin", 0, 20 * time.Millisecond, false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn, peer := unixPair(t)
			s := newSpinReader(conn)
			s.spin = tt.spin
			s.preempted = time.Hour // this test is not about contention
			spun := make(chan struct{})
			if tt.whenSpun {
				s.rc = &spunRC{RawConn: s.rc, spun: spun}
			}
			go func() {
				if tt.whenSpun {
					select {
					case <-spun:
					case <-time.After(time.Minute): // a read that never spun: write anyway
					}
				}
				time.Sleep(tt.writeAfter)
				peer.Write([]byte("hello"))
			}()
			if tt.writeAfter == 0 && !tt.whenSpun {
				time.Sleep(20 * time.Millisecond) // let the bytes arrive first
			}
			buf := make([]byte, 5)
			if _, err := io.ReadFull(s, buf); err != nil || string(buf) != "hello" {
				t.Fatalf("read %q, %v; want hello", buf, err)
			}
			if s.caught != tt.caught {
				t.Errorf("%d reads caught awake, want %d", s.caught, tt.caught)
			}
		})
	}
}

// spunRC closes spun when a read stops spinning and leaves the rest to
// the poller (its callback answers false), so that a test writes only then.
// Writing 300 ms after starting the read instead raced the read's start on
// a loaded machine: a read begun late found the bytes there at once.
type spunRC struct {
	syscall.RawConn
	spun chan struct{}
	once sync.Once
}

func (r *spunRC) Read(f func(fd uintptr) bool) error {
	return r.RawConn.Read(func(fd uintptr) bool {
		done := f(fd)
		if !done {
			r.once.Do(func() { close(r.spun) })
		}
		return done
	})
}

// TestSpinReaderContended: a spin round that takes longer than the
// contention threshold ends the spin, the read waits asleep, and the next
// reads do not spin for the calm period.
func TestSpinReaderContended(t *testing.T) {
	conn, peer := unixPair(t)
	s := newSpinReader(conn)
	s.spin = 2 * time.Second
	s.preempted = time.Nanosecond // every round looks preempted
	s.calm = time.Hour
	go func() {
		time.Sleep(50 * time.Millisecond)
		peer.Write([]byte("a"))
	}()
	buf := make([]byte, 1)
	if _, err := io.ReadFull(s, buf); err != nil {
		t.Fatal(err)
	}
	if s.caught != 0 {
		t.Errorf("a contended spin caught %d reads awake, want 0 (asleep)", s.caught)
	}
	if calm := time.Until(s.calmAfter); calm <= 0 || calm > time.Hour {
		t.Errorf("after contention no spinning for %v, want up to an hour (calm) from the contention", calm)
	}
	s.preempted = time.Hour
	peer.Write([]byte("b"))
	time.Sleep(20 * time.Millisecond)
	if _, err := io.ReadFull(s, buf); err != nil || s.caught != 0 {
		t.Errorf("a read within the calm period: caught %d, %v; want it read without spinning", s.caught, err)
	}
}

// TestSpinReaderEnds: a read, spinning or asleep, ends with io.EOF when
// the driver hangs up and with net.ErrClosed when the link closes the
// connection (the card pulled).
func TestSpinReaderEnds(t *testing.T) {
	for _, spin := range []time.Duration{time.Second, time.Millisecond} {
		conn, peer := unixPair(t)
		s := newSpinReader(conn)
		s.spin = spin
		go func() { time.Sleep(30 * time.Millisecond); peer.Close() }()
		if n, err := s.Read(make([]byte, 8)); n != 0 || !errors.Is(err, io.EOF) {
			t.Errorf("spin %v, driver hung up: read %d, %v; want io.EOF", spin, n, err)
		}

		conn, _ = unixPair(t)
		s = newSpinReader(conn)
		s.spin = spin
		go func() { time.Sleep(30 * time.Millisecond); conn.Close() }()
		// That the read ends is the point, not how fast: a minute's
		// bound for a hang ("after spin + 5 s" was a timed assertion).
		read := make(chan error, 1)
		go func() {
			_, err := s.Read(make([]byte, 8))
			read <- err
		}()
		select {
		case err := <-read:
			if !errors.Is(err, net.ErrClosed) {
				t.Errorf("spin %v, connection closed: read error %v; want net.ErrClosed", spin, err)
			}
		case <-time.After(time.Minute):
			t.Fatalf("spin %v: the read still waits a minute after its connection was closed", spin)
		}
	}
}

func TestSpinAfter(t *testing.T) {
	for _, typ := range []ifdlink.Type{ifdlink.APDU, ifdlink.PowerOn, ifdlink.PowerOff, ifdlink.Reset, ifdlink.Presence} {
		want := time.Duration(0)
		if typ == ifdlink.APDU {
			want = DefaultIFDSpin
		}
		if got := spinAfter(typ, DefaultIFDSpin); got != want {
			t.Errorf("spin after %v = %v, want %v", typ, got, want)
		}
	}
}

func TestConfigIFDSpin(t *testing.T) {
	for _, tt := range []struct{ in, want time.Duration }{
		{0, DefaultIFDSpin}, {-1, 0}, {time.Millisecond, time.Millisecond},
	} {
		if got := (Config{IFDSpin: tt.in}).ifdSpin(); got != tt.want {
			t.Errorf("Config{IFDSpin: %v}.ifdSpin() = %v, want %v", tt.in, got, tt.want)
		}
	}
	if _, err := New(Config{IFDSpin: MaxIFDSpin + 1}); err == nil {
		t.Errorf("New with IFDSpin past MaxIFDSpin: no error")
	}
}
