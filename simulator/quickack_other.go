//go:build !linux

package simulator

import "syscall"

// quickAck does nothing where TCP_QUICKACK does not exist (it is Linux's).
// vpcd's link still works there (vsmartcard's vpcd also runs on macOS and
// Windows); only the delayed-ACK stall quickack_linux.go describes, where
// the peer's stack has one, is not avoided.
func quickAck(syscall.RawConn) {}
