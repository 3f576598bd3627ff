//go:build !unix

package simulator

import (
	"net"
	"time"
)

// spinReader reads the IFD driver's requests: where there is no IFD bridge
// (pcsc-lite reader drivers are unix only) it never spins.
type spinReader struct {
	net.Conn
	spin   time.Duration
	caught int
}

func newSpinReader(conn net.Conn) *spinReader { return &spinReader{Conn: conn} }
