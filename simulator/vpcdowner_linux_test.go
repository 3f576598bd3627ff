package simulator

import (
	"fmt"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// fakeVPCDAs is a fake vpcd whose sockets uid owns: it listens and
// accepts on a thread whose file-system uid is uid (the kernel records the
// creating thread's as a socket's owner, and an accepted socket's owner
// is the accepting thread's). The thread is never given back to Go's
// scheduler: it ends with the accept loop. Needs root.
func fakeVPCDAs(t *testing.T, uid int) *fakeVPCD {
	t.Helper()
	f := &fakeVPCD{conns: make(chan net.Conn, 8)}
	ready := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // and never unlocked: the thread dies with the goroutine
		syscall.RawSyscall(syscall.SYS_SETFSUID, uintptr(uid), 0, 0)
		if now, _, _ := syscall.RawSyscall(syscall.SYS_SETFSUID, uintptr(uid), 0, 0); int(now) != uid {
			ready <- fmt.Errorf("setfsuid(%d) did not take: fsuid is %d", uid, now)
			return
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			ready <- err
			return
		}
		f.ln = ln
		ready <- nil
		f.acceptLoop(ln)
	}()
	if err := <-ready; err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.ln.Close() })
	return f
}

// TestVPCDPeerOwnerLive reads this kernel's socket tables: a connection to
// a listener of this process is owned by this process's uid, and handed to
// it only when that uid is the simulator's own or root.
func TestVPCDPeerOwnerLive(t *testing.T) {
	for _, network := range []string{"tcp4", "tcp6"} {
		t.Run(network, func(t *testing.T) {
			addr := "127.0.0.1:0"
			if network == "tcp6" {
				addr = "[::1]:0"
			}
			ln, err := net.Listen(network, addr)
			if err != nil {
				t.Fatalf("this machine has no %s loopback: %v", network, err)
			}
			defer ln.Close()
			go func() {
				if c, err := ln.Accept(); err == nil {
					defer c.Close()
					c.Read(make([]byte, 1))
				}
			}()
			conn, err := net.Dial(network, ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			self := os.Geteuid()
			if err := vpcdPeerAllowed(conn, self); err != nil {
				t.Errorf("a port held by this simulator's own uid %d: %v", self, err)
			}
			if self == 0 {
				return // root's own sockets are root's: allowed whatever self says
			}
			err = vpcdPeerAllowed(conn, self+1)
			if err == nil || !strings.Contains(err.Error(), "uid "+strconv.Itoa(self)) {
				t.Errorf("a port held by uid %d, simulator uid %d: %v, want a refusal naming uid %d", self, self+1, err, self)
			}
		})
	}
}

// TestVPCDLinkRefusesForeignPort: a card does not answer on a vpcd port
// another user bound (root only: it makes a socket of uid 65534), and
// does with Config.VPCDAnyOwner.
func TestVPCDLinkRefusesForeignPort(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to make a socket another user owns (CI runs as root)")
	}
	for _, anyOwner := range []bool{false, true} {
		t.Run("VPCDAnyOwner="+strconv.FormatBool(anyOwner), func(t *testing.T) {
			f := fakeVPCDAs(t, 65534)
			s := newTestSim(t, Config{VPCD: f.addr(), VPCDAnyOwner: anyOwner})
			addCard(t, s, CardSpec{Slot: 0})
			c := f.accept(t)
			if anyOwner {
				sendFrame(t, c, []byte{ctrlGetATR})
				if atr := recvFrame(t, c); len(atr) == 0 {
					t.Fatal("no ATR with VPCDAnyOwner")
				}
				return
			}
			// The card hangs up before answering anything, and stays
			// away from the port (it dials again only after a back-off).
			c.Write([]byte{0, 1, ctrlGetATR})
			expectClosed(t, c)
			f.noConnection(t, 200*time.Millisecond)
		})
	}
}
