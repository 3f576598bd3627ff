// Package pcsc reaches cards through the PC/SC stack with
// github.com/ebfe/scard: pcscd (pcsc-lite) on Linux, the PCSC framework on
// macOS, winscard.dll on Windows. A *Card satisfies hostdriver.Transport.
//
// On Linux and macOS it needs cgo (libpcsclite's headers on Linux, the
// macOS SDK on a Mac); on Windows it calls winscard.dll without cgo. A
// build without cgo elsewhere (CGO_ENABLED=0, or a cross-compile from
// another OS) still compiles, but Establish then returns an error wrapping
// errors.ErrUnsupported that says how to build a binary with PC/SC. It is a
// package of its own so that the rest of hostdriver builds without any of
// this. PCSCLITE_CSOCK_NAME selects a pcscd other than the system's.
package pcsc

import (
	"errors"
	"fmt"
	"strings"
)

// ErrNoReader is returned when no reader matches.
var ErrNoReader = errors.New("pcsc: no such reader")

// ErrCardReset is returned by Transmit when another program reset the card:
// the connection has been re-established, but the card's security status is
// gone. Send the command again after re-authenticating.
var ErrCardReset = errors.New("pcsc: card was reset")

// Mode is how a card is shared with other programs.
type Mode int

// Sharing modes.
const (
	Shared Mode = iota
	Exclusive
)

// errNoCgo is Establish's error in a build for goos without cgo, where
// ebfe/scard has no PC/SC to call. It wraps errors.ErrUnsupported.
func errNoCgo(goos string) error {
	how := "build it with cgo and libpcsclite's headers (Debian: libpcsclite-dev): CGO_ENABLED=1 go build ./cmd/tessera"
	if goos == "darwin" {
		how = "build it on a Mac, where cgo reaches the PCSC framework: CGO_ENABLED=1 go build ./cmd/tessera"
	}
	return fmt.Errorf("pcsc: this tessera for %s was built without cgo, so it has no PC/SC; %s: %w", goos, how, errors.ErrUnsupported)
}

// FindReader returns the reader whose name equals name, or else the only one
// that contains it (case-insensitive). An empty name matches a sole reader.
func (c *Context) FindReader(name string) (string, error) {
	names, err := c.Readers()
	if err != nil {
		return "", err
	}
	var hits []string
	for _, n := range names {
		if n == name {
			return n, nil
		}
		if strings.Contains(strings.ToLower(n), strings.ToLower(name)) {
			hits = append(hits, n)
		}
	}
	switch len(hits) {
	case 1:
		return hits[0], nil
	case 0:
		return "", fmt.Errorf("%w: %q (readers: %s)", ErrNoReader, name, strings.Join(names, ", "))
	}
	return "", fmt.Errorf("%w: %q matches %d readers (%s); name one exactly", ErrNoReader, name, len(hits), strings.Join(hits, ", "))
}
