package simulator

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/tesseracard/tessera/simulator/ifdlink"
)

// The IFD link: the card serves Tessera's own pcsc-lite reader driver
// (ifd/ifdhandler.c, loaded by pcscd) on a unix socket of its own,
// IFDDir/card-N.sock, in the framing of simulator/ifdlink. The driver is
// the client and asks; the card answers once. The link drops the driver's
// connection where the vpcd link drops vpcd's (the card removed, mute,
// power-cycled, reset to factory, or the simulator closing): the driver
// then reports the card gone at pcscd's next presence poll, and presence
// answers "no card" until the card is back (inserted, answering, past its
// off time). docs/ifd-bridge.md describes the bridge.

// IFDSocket returns the socket of card slot's IFD link in dir.
func IFDSocket(dir string, slot int) string {
	return filepath.Join(dir, "card-"+strconv.Itoa(slot)+".sock")
}

// DefaultIFDReaderName is the FRIENDLYNAME of slot's IFD reader when none
// is given.
func DefaultIFDReaderName(slot int) string { return "Tessera IFD " + strconv.Itoa(slot) }

// IFDReaderName is the name pcscd 1.9 gives the reader of card slot, whose
// reader.conf entry (scripts/ifd.sh writes one per card, in slot order) is
// named friendly: pcscd appends the reader's number among the driver's
// readers, which is the slot, and the slot within the reader, 00. ""
// stays "".
func IFDReaderName(friendly string, slot int) string {
	if friendly == "" {
		return ""
	}
	return fmt.Sprintf("%s %02X 00", friendly, slot)
}

// listenIFD listens on path, a socket of mode 0600 (the owner's and
// root's), replacing a socket file nobody serves (one
// left by a simulator that was killed); a socket another process serves,
// or a stale one of another user in a sticky directory, is an error.
func listenIFD(path string) (net.Listener, error) {
	if len(path) > maxSocketPath {
		return nil, fmt.Errorf("IFD socket %s: %d bytes, past the %d a unix socket path may have: use a shorter --ifd-dir", path, len(path), maxSocketPath)
	}
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode().Type() != os.ModeSocket {
			return nil, fmt.Errorf("IFD socket %s: the path exists and is not a socket", path)
		}
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			c.Close()
			return nil, fmt.Errorf("IFD socket %s: another process serves it (a second simulator on the same --ifd-dir?)", path)
		}
		if err := os.Remove(path); errors.Is(err, fs.ErrPermission) {
			// The sticky socket directory of scripts/ifd.sh install keeps
			// each member's sockets its own.
			return nil, fmt.Errorf("IFD socket %s: a stale socket of another user, which only that user or root may remove (%w): ask them to, or pass --ifd-dir a directory of your own", path, err)
		} else if err != nil {
			return nil, fmt.Errorf("IFD socket %s: removing the stale socket: %w", path, err)
		}
	}
	// Mode 0600: pcscd, root, connects whatever the mode; anyone else who
	// could would replace its connection and talk to the card.
	ln, err := listenUnixPrivate(path)
	if errors.Is(err, fs.ErrPermission) {
		return nil, ifdDirDenied(path, err)
	}
	if err != nil {
		return nil, fmt.Errorf("IFD socket: %w", err)
	}
	// The listener removes the file when closed.
	return ln, nil
}

// ifdDirDenied is the error of a simulator that may not create path's
// socket (err, a permission failure such as bind's EACCES): typically a
// user outside the group of the socket directory scripts/ifd.sh install
// makes (root:tessera, mode 3770). It names the directory and what to do,
// the directory's group when its owner gid can be looked up, and keeps
// errors.Is(err, fs.ErrPermission).
func ifdDirDenied(path string, err error) error {
	dir := filepath.Dir(path)
	fix := "be a user who may write there"
	if g, ok := dirGroup(dir); ok {
		fix = fmt.Sprintf("be in its group %s (usermod -aG %s USER, then log in again)", g, g)
	}
	return fmt.Errorf("IFD socket %s: no permission to create it in %s (%w): to serve cards there, %s, or pass --ifd-dir a directory of your own", path, dir, err, fix)
}

// runIFD serves the driver on ln until ctx ends: one connection at a time,
// a new one replacing the one before (the driver reconnected, or pcscd
// restarted and the old connection is stale).
func (r *Reader) runIFD(ctx context.Context, ln net.Listener) {
	defer close(r.linkDone)
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	defer ln.Close()
	served := make(chan struct{})
	close(served)
	defer func() { <-served }()
	for {
		conn, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			r.log.Warn("accepting the IFD driver's connection", "card", r.id, "err", err)
			sleepCtx(ctx, minBackoff, nil)
			continue
		}
		r.mu.Lock()
		if ctx.Err() != nil {
			r.mu.Unlock()
			conn.Close()
			return
		}
		if r.conn != nil {
			r.log.Info("a new IFD driver connection replaces the one before", "card", r.id)
		}
		r.dropConn()
		r.conn = conn
		r.changed()
		r.mu.Unlock()
		<-served
		done := make(chan struct{})
		served = done
		go func() {
			defer close(done)
			r.log.Info("IFD driver connected", "card", r.id, "socket", r.ifdPath)
			err := r.serveIFD(ctx, conn)
			r.detach(conn)
			r.log.Info("IFD driver disconnected", "card", r.id, "reason", err)
		}()
	}
}

// serveIFD answers the driver on conn until the connection ends, a
// malformed request arrives, or ctx ends. Every answer is written with one
// Write.
func (r *Reader) serveIFD(ctx context.Context, conn net.Conn) error {
	buf := make([]byte, ifdlink.HeaderSize, ifdlink.HeaderSize+4096)
	out := make([]byte, 0, ifdlink.HeaderSize+4096)
	var atr []byte // the card's ATR, once known on this connection
	in := newSpinReader(conn)
	for {
		f, nbuf, err := ifdlink.Read(in, buf)
		buf = nbuf
		if err == nil {
			err = ifdlink.CheckRequest(f)
		}
		if err != nil {
			return readEnded(ctx, err, "the IFD driver")
		}
		ans, err := r.answerIFD(ctx, f, &atr)
		if err != nil {
			return err
		}
		if len(ans.Payload) > ifdlink.MaxPayload {
			r.log.Error("response too long for the IFD link; answered 6F00", "card", r.id, "bytes", len(ans.Payload))
			ans.Payload = []byte{0x6F, 0x00}
		}
		out, _ = ifdlink.Append(out[:0], ans)
		if _, err := conn.Write(out); err != nil {
			return fmt.Errorf("writing to the IFD driver: %w", err)
		}
		in.spin = spinAfter(f.Type, r.ifdSpin)
	}
}

// spinAfter is how long the link waits awake for the request that follows
// one of type t, spin being the card's IFDSpin: a client sending APDUs
// sends the next soon; presence polls and power requests come seldom.
func spinAfter(t ifdlink.Type, spin time.Duration) time.Duration {
	if t == ifdlink.APDU {
		return spin
	}
	return 0
}

// present reports whether the card is in its reader for the host: inserted,
// answering, and past any off time.
func (r *Reader) present() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.inserted && !r.mute && !time.Now().Before(r.offUntil)
}

// noCard is the answer when no card is in the reader.
func noCard() ifdlink.Frame { return ifdlink.Frame{Type: ifdlink.NoCard} }

// presenceWait bounds how long a presence poll waits for a busy card's ATR:
// well within the driver's 3 s deadline (CONTROL_MS in ifd/ifdhandler.c).
const presenceWait = time.Second

// answerIFD answers one request; *atr caches the card's ATR for presence
// polls. An error ends the connection.
func (r *Reader) answerIFD(ctx context.Context, f ifdlink.Frame, atr *[]byte) (ifdlink.Frame, error) {
	ans := ifdlink.Frame{Type: f.Type | ifdlink.Answer}
	switch f.Type {
	case ifdlink.Presence:
		if !r.present() {
			return ans, nil
		}
		if *atr == nil {
			// Within the driver's deadline for a presence poll, even when
			// the card is busy elsewhere (a control API transmit).
			pctx, cancel := context.WithTimeout(ctx, presenceWait)
			a, err := r.control(pctx, ctrlGetATR)
			cancel()
			if err != nil || len(a) == 0 {
				return ans, nil
			}
			*atr = a
		}
		ans.Payload = *atr
	case ifdlink.PowerOn, ifdlink.Reset:
		if !r.present() {
			return noCard(), nil
		}
		code := byte(ctrlPowerOn)
		if f.Type == ifdlink.Reset {
			code = ctrlReset
		}
		if _, err := r.control(ctx, code); err != nil {
			r.log.Info("powering the card for the IFD driver", "card", r.id, "err", err)
			return noCard(), nil
		}
		a, err := r.control(ctx, ctrlGetATR)
		if err != nil || len(a) == 0 || len(a) > ifdlink.MaxATR {
			return noCard(), nil
		}
		*atr = a
		ans.Payload = a
	case ifdlink.PowerOff:
		if r.present() {
			if _, err := r.control(ctx, ctrlPowerOff); err != nil {
				return noCard(), nil
			}
		}
	case ifdlink.APDU:
		cmd := append([]byte(nil), f.Payload...) // the card may keep what it is given
		resp, err := r.exchange(ctx, cmd, false)
		switch {
		case errors.Is(err, ErrRemoved) || errors.Is(err, ErrMute):
			return noCard(), nil
		case err != nil:
			return ans, err
		}
		ans.Payload = resp
	}
	return ans, nil
}
