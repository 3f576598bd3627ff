package simulator

import "syscall"

// quickAck puts the socket in TCP quick-ACK mode, which also sends at once
// an acknowledgement the kernel was holding back. Linux leaves quick-ACK
// mode by itself, so the vpcd link re-arms it after every read: vpcd writes a
// message's length and body with two send calls with Nagle's algorithm on,
// and without an immediate ACK of the length the body waits for the delayed
// ACK, some 40 ms per APDU (see DESIGN.md, reference/vpcd-pcscd.md).
func quickAck(rc syscall.RawConn) {
	rc.Control(func(fd uintptr) {
		// Best effort: a failure only costs latency.
		_ = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_QUICKACK, 1)
	})
}
