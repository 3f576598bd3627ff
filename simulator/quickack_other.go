//go:build !linux

package simulator

import "syscall"

// quickAck does nothing where TCP_QUICKACK does not exist; vpcd runs on
// Linux.
func quickAck(syscall.RawConn) {}
