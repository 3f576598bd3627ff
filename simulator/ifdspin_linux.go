//go:build linux

package simulator

import (
	"errors"
	"io"
	"net"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// spinReader reads the IFD driver's requests. Before a read that follows
// an APDU (spin set), it keeps trying on the CPU for up to spin, yielding
// to anything else runnable, before it sleeps in the runtime's network
// poller: on a virtual machine every wake of an idle CPU costs tens of
// microseconds (docs/ifd-bridge.md), and a client sending APDUs back to
// back then finds the card awake. Past spin, or with spin zero, it reads
// as net.Conn does.
type spinReader struct {
	conn net.Conn
	rc   syscall.RawConn // nil: spinning is not possible on conn
	// spin is how long the next Read tries without sleeping.
	spin time.Duration
	// caught counts the reads that found their bytes while spinning (for
	// tests).
	caught int
	// calmAfter: the CPU was contended (see spinPreempted); no spinning
	// before then.
	calmAfter time.Time
	// preempted and calm are spinPreempted and spinCalm (tests change
	// them).
	preempted, calm time.Duration
}

// Contention. A spinning thread that another thread wanted the CPU from is
// worse than a sleeping one: the scheduler favours a thread that wakes
// from sleep, and runs a busy one when its turn comes again, milliseconds
// later (measured on a loaded 2-vCPU machine: the hop to the card 10 times
// slower with spinning than without). So the spin stops when one of its
// rounds took longer than spinPreempted (the thread lost a time slice to
// another), and the link sleeps for spinCalm before it tries spinning
// again. A round in which sched_yield ran the client or pcscd for their
// few tens of microseconds is no contention: a 50 µs threshold stopped the
// spin on a quiet machine too, where it then gained nothing.
const (
	spinPreempted = 500 * time.Microsecond
	spinCalm      = 250 * time.Millisecond
)

func newSpinReader(conn net.Conn) *spinReader {
	s := &spinReader{conn: conn, preempted: spinPreempted, calm: spinCalm}
	if sc, ok := conn.(syscall.Conn); ok {
		if rc, err := sc.SyscallConn(); err == nil {
			s.rc = rc
		}
	}
	return s
}

func (s *spinReader) Read(p []byte) (int, error) {
	if s.spin <= 0 || s.rc == nil || len(p) == 0 || time.Now().Before(s.calmAfter) {
		return s.conn.Read(p)
	}
	var n int
	var rerr error
	spun := false // the window has passed: the poller's turn
	err := s.rc.Read(func(fd uintptr) bool {
		if spun {
			n, rerr = readOnce(fd, p)
			return !errors.Is(rerr, unix.EAGAIN)
		}
		last := time.Now()
		deadline := last.Add(s.spin)
		for {
			if n, rerr = readOnce(fd, p); !errors.Is(rerr, unix.EAGAIN) {
				if rerr == nil && n > 0 {
					s.caught++
				}
				return true
			}
			now := time.Now()
			if now.Sub(last) > s.preempted {
				s.calmAfter = now.Add(s.calm)
				spun = true
				return false
			}
			if now.After(deadline) {
				spun = true
				return false
			}
			last = now
			// Let a thread this CPU holds back (the driver's pcscd, the
			// client) run first.
			unix.RawSyscall(unix.SYS_SCHED_YIELD, 0, 0, 0)
		}
	})
	switch {
	case err != nil:
		return 0, err
	case rerr != nil:
		return 0, rerr
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}

// readOnce is one read(2) on the non-blocking fd, EINTR retried.
func readOnce(fd uintptr, p []byte) (int, error) {
	for {
		n, err := unix.Read(int(fd), p)
		if !errors.Is(err, unix.EINTR) {
			return n, err
		}
	}
}
