//go:build !linux

package simulator

import (
	"net"
	"time"
)

// spinReader reads the IFD driver's requests: where there is no IFD bridge
// (`tessera sim --bridge ifd` is Linux only) it never spins.
type spinReader struct {
	net.Conn
	spin   time.Duration
	caught int
}

func newSpinReader(conn net.Conn) *spinReader { return &spinReader{Conn: conn} }
