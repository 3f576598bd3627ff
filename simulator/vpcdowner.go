package simulator

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// The vpcd link dials pcscd's vpcd on a loopback TCP port, which any local
// user may bind first (docs/security.md). Before the card answers anything
// on a loopback connection, the link looks up who owns the other end — the
// socket vpcd accepted: the accepting process's uid, or the listener's
// while it waits in the accept queue — and hands the card only to root
// (pcscd) or to the simulator's own user, unless Config.VPCDAnyOwner.
// Linux only (the kernel's socket tables in /proc/net); elsewhere the
// owner is not checked.

// errOwnerUnknown: the platform cannot tell who owns a socket.
var errOwnerUnknown = errors.New("the owner of a socket cannot be looked up on this platform")

// errNoSocketRow: the socket table has no row for the connection.
var errNoSocketRow = errors.New("no row for the connection in the kernel's socket table")

// vpcdPeerAllowed reports an error naming the owner when the user owning
// the far end of conn may not receive the card: anyone but root and self.
// Connections to another host, and platforms without socket tables, are
// not checked.
func vpcdPeerAllowed(conn net.Conn, self int) error {
	local, lok := addrPort(conn.LocalAddr())
	remote, rok := addrPort(conn.RemoteAddr())
	if !lok || !rok || !remote.Addr().Unmap().IsLoopback() {
		return nil
	}
	uid, err := peerOwner(local, remote)
	for try := 0; errors.Is(err, errNoSocketRow) && try < 5; try++ {
		// Not there yet? vpcd's end of a loopback connection appears
		// when the kernel has taken the handshake's last ACK.
		time.Sleep(5 * time.Millisecond)
		uid, err = peerOwner(local, remote)
	}
	if errors.Is(err, errOwnerUnknown) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("looking up who holds vpcd port %s: %w", remote, err)
	}
	if uid != 0 && uid != self {
		return fmt.Errorf("vpcd port %s is held by a program of uid %d, neither root (pcscd) nor this simulator's uid %d: not handing it the card (another user may have bound the port before pcscd; --vpcd-any-owner allows it)", remote, uid, self)
	}
	return nil
}

func addrPort(a net.Addr) (netip.AddrPort, bool) {
	ta, ok := a.(*net.TCPAddr)
	if !ok {
		return netip.AddrPort{}, false
	}
	return ta.AddrPort(), true
}

// socketOwner finds, in a Linux socket table (/proc/net/tcp or tcp6), the
// socket whose local address is local and remote address is remote, and
// returns the uid that owns it. v6 says which table it reads: the tcp6
// table holds IPv4 addresses as IPv4-mapped IPv6 ones. Each address is the
// kernel's: 4-byte groups printed as native-endian hex words, then the port.
func socketOwner(table io.Reader, local, remote netip.AddrPort, v6 bool) (int, error) {
	wantLocal, wantRemote := procAddr(local, v6), procAddr(remote, v6)
	sc := bufio.NewScanner(table)
	first := true
	for sc.Scan() {
		if first { // the column titles
			first = false
			continue
		}
		f := strings.Fields(sc.Text())
		if len(f) < 8 {
			return 0, fmt.Errorf("socket table row %q: %d fields, want at least 8", sc.Text(), len(f))
		}
		if !strings.EqualFold(f[1], wantLocal) || !strings.EqualFold(f[2], wantRemote) {
			continue
		}
		uid, err := strconv.ParseUint(f[7], 10, 32)
		if err != nil {
			return 0, fmt.Errorf("socket table row %q: uid %q: %w", sc.Text(), f[7], err)
		}
		return int(uid), nil
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, errNoSocketRow
}

// procAddr writes a as the kernel's socket tables do.
func procAddr(a netip.AddrPort, v6 bool) string {
	var b strings.Builder
	var raw []byte
	if v6 {
		r := a.Addr().As16()
		raw = r[:]
	} else {
		r := a.Addr().Unmap().As4()
		raw = r[:]
	}
	for i := 0; i < len(raw); i += 4 {
		fmt.Fprintf(&b, "%08X", binary.NativeEndian.Uint32(raw[i:i+4]))
	}
	fmt.Fprintf(&b, ":%04X", a.Port())
	return b.String()
}
