package tpmstore

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"time"
)

// Command and response framing (TPM 2.0 Library Part 1 §18: tag u16 |
// size u32 | code u32 | ...): the header is 10 bytes and size counts the
// whole message.
const (
	tpmHeaderSize = 10
	// maxResponse bounds a response read from a socket, whatever its
	// header claims; TPM responses are a few kilobytes at most.
	maxResponse = 64 << 10
	// commandTimeout bounds one command on a socket: a TPM that does not
	// answer in this time is stuck.
	commandTimeout = 30 * time.Second
)

// unixTPM talks to a TPM emulator over one unix socket connection (swtpm's
// --server type=unixio), one command and its response at a time.
type unixTPM struct {
	conn net.Conn
}

func dialUnix(ctx context.Context, path string) (*unixTPM, error) {
	if path == "" {
		return nil, errors.New("empty socket path after unix:")
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return nil, err
	}
	return &unixTPM{conn: conn}, nil
}

// Send writes cmd and reads the whole response: its header, then as many
// bytes as the header says, each with io.ReadFull.
func (u *unixTPM) Send(cmd []byte) ([]byte, error) {
	if err := u.conn.SetDeadline(time.Now().Add(commandTimeout)); err != nil {
		return nil, err
	}
	if _, err := u.conn.Write(cmd); err != nil {
		return nil, fmt.Errorf("sending a TPM command: %w", err)
	}
	hdr := make([]byte, tpmHeaderSize)
	if _, err := io.ReadFull(u.conn, hdr); err != nil {
		return nil, fmt.Errorf("reading a TPM response header: %w", err)
	}
	size := binary.BigEndian.Uint32(hdr[2:6])
	if size < tpmHeaderSize || size > maxResponse {
		return nil, fmt.Errorf("TPM response claims %d bytes, want %d to %d", size, tpmHeaderSize, maxResponse)
	}
	rsp := make([]byte, size)
	copy(rsp, hdr)
	if _, err := io.ReadFull(u.conn, rsp[tpmHeaderSize:]); err != nil {
		return nil, fmt.Errorf("reading a TPM response: %w", err)
	}
	return rsp, nil
}

func (u *unixTPM) Close() error { return u.conn.Close() }
