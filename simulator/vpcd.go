package simulator

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/tesseracard/tessera/apdu"
)

// The vsmartcard vpcd protocol (vpcd 0.8, as in pcscd's libifdvpcd): the
// card is the TCP client of the vpcd driver inside pcscd, one connection per
// reader slot on port 35963+slot. Every message, both ways, is a 2-byte
// big-endian length and that many bytes. A 1-byte message from vpcd is a
// control code; anything longer is a command APDU, answered with one
// response APDU. Strictly one exchange at a time; the card never speaks
// first. Closing the connection is pulling the card out.
const (
	// DefaultVPCDPort is slot 0's port.
	DefaultVPCDPort = 35963
	// maxFrame is the longest payload a 2-byte length can announce.
	maxFrame = 0xFFFF

	ctrlPowerOff = 0x00 // no reply
	ctrlPowerOn  = 0x01 // no reply
	ctrlReset    = 0x02 // no reply
	ctrlGetATR   = 0x04 // reply: the ATR
)

// Link timing.
const (
	minBackoff  = 50 * time.Millisecond
	maxBackoff  = time.Second
	dialTimeout = 2 * time.Second
	// silenceWarning is how long vpcd may say nothing after accepting the
	// connection before the link warns: pcscd asks for the ATR every 400 ms.
	silenceWarning = 3 * time.Second
)

// ErrFrameTooLarge is returned by readFrame for a frame whose announced
// length exceeds the limit. The stream cannot be resynchronised after it.
var ErrFrameTooLarge = errors.New("vpcd: frame too large")

// errPulled ends a vpcd connection the simulator closed itself.
var errPulled = errors.New("the simulator pulled the card out (removed, power-cycled, reset or mute)")

// readFrame reads one message into buf (grown if needed, never beyond
// 2+limit bytes) and returns its payload, which aliases buf. It calls
// afterRead after reading the length and after reading the payload. A stream
// that ends inside a frame is io.ErrUnexpectedEOF; one that ends between
// frames is io.EOF.
func readFrame(r io.Reader, buf []byte, limit int, afterRead func()) ([]byte, []byte, error) {
	if cap(buf) < 2 {
		buf = make([]byte, 2, 2+256)
	}
	hdr := buf[:2]
	if _, err := io.ReadFull(r, hdr); err != nil {
		return nil, buf, err
	}
	if afterRead != nil {
		afterRead()
	}
	n := int(binary.BigEndian.Uint16(hdr))
	if n > limit {
		return nil, buf, fmt.Errorf("%w: %d bytes announced, limit %d", ErrFrameTooLarge, n, limit)
	}
	if cap(buf) < 2+n {
		nb := make([]byte, 2+n)
		copy(nb, hdr)
		buf = nb
	}
	payload := buf[2 : 2+n]
	if n > 0 {
		if _, err := io.ReadFull(r, payload); err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return nil, buf, err
		}
		if afterRead != nil {
			afterRead()
		}
	}
	return payload, buf, nil
}

// appendFrame appends payload with its 2-byte length to dst.
func appendFrame(dst, payload []byte) ([]byte, error) {
	if len(payload) > maxFrame {
		return dst, fmt.Errorf("%w: %d bytes to send", ErrFrameTooLarge, len(payload))
	}
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(payload)))
	return append(dst, payload...), nil
}

// waitPresent waits until the card is inserted, answering, and past any
// off time. It returns false when ctx ends.
func (r *Reader) waitPresent(ctx context.Context) bool {
	for {
		r.mu.Lock()
		ok := r.inserted && !r.mute
		wake, until := r.wake, r.offUntil
		r.mu.Unlock()
		wait := time.Until(until)
		if ok && wait <= 0 {
			return true
		}
		var timer *time.Timer
		var expired <-chan time.Time
		if ok {
			timer = time.NewTimer(wait)
			expired = timer.C
		}
		select {
		case <-wake:
		case <-expired:
		case <-ctx.Done():
		}
		if timer != nil {
			timer.Stop()
		}
		if ctx.Err() != nil {
			return false
		}
	}
}

// sleepCtx waits d or until ctx ends or wake closes.
func sleepCtx(ctx context.Context, d time.Duration, wake <-chan struct{}) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	case <-wake:
	}
}

// runLink keeps the card connected to vpcd while it is inserted and
// answering: it dials, serves vpcd until the connection ends, and dials
// again, backing off while nothing listens (pcscd stopped or restarting).
func (r *Reader) runLink(ctx context.Context) {
	defer close(r.linkDone)
	backoff := minBackoff
	waiting := false
	refused := false // the port's holder was refused, and the log says so
	d := net.Dialer{Timeout: dialTimeout}
	for r.waitPresent(ctx) {
		conn, err := d.DialContext(ctx, "tcp", r.vpcdAddr)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if !waiting {
				r.log.Info("waiting for vpcd (is pcscd running with vsmartcard-vpcd?)", "card", r.id, "addr", r.vpcdAddr, "err", err)
				waiting = true
			}
			r.backOff(ctx, backoff)
			backoff = min(2*backoff, maxBackoff)
			continue
		}
		if !r.vpcdAnyOwner {
			if err := vpcdPeerAllowed(conn, os.Geteuid()); err != nil {
				conn.Close()
				if !refused {
					r.log.Error("card not connected to vpcd", "card", r.id, "addr", r.vpcdAddr, "err", err)
					refused = true
				}
				r.backOff(ctx, maxBackoff)
				continue
			}
		}
		backoff, waiting, refused = minBackoff, false, false
		r.mu.Lock()
		if !r.inserted || r.mute || ctx.Err() != nil {
			r.mu.Unlock()
			conn.Close()
			continue
		}
		r.conn = conn
		r.changed()
		r.mu.Unlock()
		r.log.Info("card connected to vpcd", "card", r.id, "addr", r.vpcdAddr)
		err = r.serve(ctx, conn)
		r.detach(conn)
		r.log.Info("card disconnected from vpcd", "card", r.id, "reason", err)
	}
}

// backOff waits d before the link dials again, less if the card is
// inserted or pulled meanwhile, or ctx ends.
func (r *Reader) backOff(ctx context.Context, d time.Duration) {
	r.mu.Lock()
	wake := r.wake
	r.mu.Unlock()
	sleepCtx(ctx, d, wake)
}

// readEnded says why a link's connection ended on a failed read from peer:
// the simulator stopping, the simulator pulling the card, or err.
func readEnded(ctx context.Context, err error, peer string) error {
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case errors.Is(err, net.ErrClosed):
		return errPulled
	}
	return fmt.Errorf("reading from %s: %w", peer, err)
}

// detach closes conn, a link's connection that has ended, and forgets it
// unless another has taken its place.
func (r *Reader) detach(conn net.Conn) {
	conn.Close()
	r.mu.Lock()
	if r.conn == conn {
		r.conn = nil
		r.changed()
	}
	r.mu.Unlock()
}

// serve answers vpcd on conn until the connection ends, the card goes mute
// or is removed, or ctx ends. Every reply is written with one Write.
func (r *Reader) serve(ctx context.Context, conn net.Conn) error {
	var rc syscall.RawConn
	if tc, ok := conn.(*net.TCPConn); ok {
		rc, _ = tc.SyscallConn()
	}
	rearm := func() {
		if rc != nil {
			quickAck(rc)
		}
	}
	rearm()
	var heard atomic.Bool
	silence := time.AfterFunc(silenceWarning, func() {
		if !heard.Load() {
			r.log.Warn("vpcd accepted the connection but has said nothing: is another card connected to this reader slot?", "card", r.id, "addr", r.vpcdAddr)
		}
	})
	defer silence.Stop()

	buf := make([]byte, 2, 2+4096)
	out := make([]byte, 0, 2+4096)
	for {
		msg, nbuf, err := readFrame(conn, buf, maxFrame, rearm)
		buf = nbuf
		if err != nil {
			return readEnded(ctx, err, "vpcd")
		}
		heard.Store(true)
		var reply []byte
		if len(msg) == 1 {
			var err error
			reply, err = r.control(ctx, msg[0])
			if err != nil {
				return err
			}
			if reply == nil {
				continue
			}
		} else {
			cmd := append([]byte(nil), msg...) // the card may keep what it is given
			resp, err := r.exchange(ctx, cmd, false)
			if err != nil {
				return err
			}
			if len(resp) > maxFrame {
				r.log.Error("response too long for vpcd; answered 6F00", "card", r.id, "bytes", len(resp))
				resp = apdu.Response{SW: apdu.SWUnknown}.Marshal()
			}
			reply = resp
		}
		out, _ = appendFrame(out[:0], reply)
		if _, err := conn.Write(out); err != nil {
			return fmt.Errorf("writing to vpcd: %w", err)
		}
	}
}

// control handles a vpcd control code. It returns the reply to send (nil
// for none), or an error that ends the connection.
func (r *Reader) control(ctx context.Context, code byte) ([]byte, error) {
	if err := r.acquire(ctx); err != nil {
		return nil, err
	}
	defer r.release()
	switch code {
	case ctrlPowerOff:
		r.powerOff()
	case ctrlPowerOn:
		if _, err := r.powerOn(); err != nil {
			return nil, err
		}
	case ctrlReset:
		r.tracer.event(r.id, "reset", "")
		if _, err := r.powerOn(); err != nil {
			return nil, err
		}
	case ctrlGetATR:
		return r.cardATR(ctx)
	default:
		// vpcd sends no other code, and expects no reply to one: answering
		// would put the stream out of step.
		r.log.Warn("ignoring unknown vpcd control code", "card", r.id, "code", fmt.Sprintf("%02X", code))
	}
	return nil, nil
}
