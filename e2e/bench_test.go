//go:build e2e && linux

package e2e

import (
	"encoding/binary"
	"io"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/ebfe/scard"

	"github.com/tesseracard/tessera/simulator"
)

// reader1 is the second vpcd reader of the machine's pcscd, where the echo
// card of the benchmark sits.
const reader1 = "Virtual PCD 00 01"

// echoCard is the smallest vpcd peer that does what the latency trap
// demands (TCP_QUICKACK re-armed after every read, one write per reply): it
// answers every command with 9000. It is the yardstick for the simulator.
func echoCard(b *testing.B, addr string) (stop func()) {
	b.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatalf("echo card: %v", err)
	}
	rc, err := conn.(*net.TCPConn).SyscallConn()
	if err != nil {
		b.Fatal(err)
	}
	quick := func() {
		rc.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_QUICKACK, 1) })
	}
	atr := []byte{0x3B, 0x80, 0x80, 0x01, 0x01}
	go func() {
		var hdr [2]byte
		buf := make([]byte, 1<<16)
		out := make([]byte, 0, 64)
		for {
			if _, err := io.ReadFull(conn, hdr[:]); err != nil {
				return
			}
			quick()
			n := int(binary.BigEndian.Uint16(hdr[:]))
			if _, err := io.ReadFull(conn, buf[:n]); err != nil {
				return
			}
			quick()
			var reply []byte
			switch {
			case n == 1 && buf[0] == 0x04:
				reply = atr
			case n == 1:
				continue
			default:
				reply = []byte{0x90, 0x00}
			}
			out = binary.BigEndian.AppendUint16(out[:0], uint16(len(reply)))
			out = append(out, reply...)
			if _, err := conn.Write(out); err != nil {
				return
			}
		}
	}()
	return func() { conn.Close() }
}

// BenchmarkGetVersionThroughPCSCD measures, through pcscd and vpcd, the
// rate of a no-op command (GET VERSION) on a Tessera card against the echo
// card's, in the same run, interleaved so that both see the same machine.
// It reports both rates and their ratio (goal: at least 0.9).
func BenchmarkGetVersionThroughPCSCD(b *testing.B) {
	ctx, err := scard.EstablishContext()
	if err != nil {
		b.Fatalf("SCardEstablishContext: %v", err)
	}
	defer ctx.Release()
	checkNoCard(b, ctx, reader0)
	checkNoCard(b, ctx, reader1)

	sim, err := simulator.New(simulator.Config{VPCD: "127.0.0.1:35963"})
	if err != nil {
		b.Fatal(err)
	}
	defer sim.Close()
	if _, err := sim.Add(simulator.CardSpec{Slot: 0}); err != nil {
		b.Fatal(err)
	}
	defer echoCard(b, "127.0.0.1:35964")()

	connectB := func(reader string) *scard.Card {
		deadline := time.Now().Add(15 * time.Second)
		for {
			c, err := ctx.Connect(reader, scard.ShareShared, scard.ProtocolT1)
			if err == nil {
				return c
			}
			if time.Now().After(deadline) {
				b.Fatalf("SCardConnect(%s): %v", reader, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	tessera, echo := connectB(reader0), connectB(reader1)
	defer tessera.Disconnect(scard.LeaveCard)
	defer echo.Disconnect(scard.LeaveCard)
	if resp, err := tessera.Transmit([]byte{0x00, 0xA4, 0x04, 0x00, 0x05, 0xA0, 0x00, 0x00, 0x03, 0x08}); err != nil || len(resp) < 2 || resp[len(resp)-2] != 0x90 {
		b.Fatalf("SELECT PIV = %X, %v", resp, err)
	}
	getVersion := []byte{0x00, 0xFD, 0x00, 0x00}
	transmit := func(c *scard.Card) time.Duration {
		start := time.Now()
		resp, err := c.Transmit(getVersion)
		if err != nil || len(resp) < 2 || resp[len(resp)-2] != 0x90 {
			b.Fatalf("GET VERSION = %X, %v", resp, err)
		}
		return time.Since(start)
	}
	for range 50 { // warm up both paths
		transmit(tessera)
		transmit(echo)
	}
	var tTessera, tEcho time.Duration
	n := 0
	for b.Loop() {
		tTessera += transmit(tessera)
		tEcho += transmit(echo)
		n++
	}
	rateT := float64(n) / tTessera.Seconds()
	rateE := float64(n) / tEcho.Seconds()
	b.ReportMetric(rateT, "tessera-apdu/s")
	b.ReportMetric(rateE, "echo-apdu/s")
	b.ReportMetric(rateT/rateE, "ratio")
	if n >= 1000 && rateT < 100 {
		b.Errorf("Tessera answers %.0f APDU/s through pcscd: the delayed-ACK trap (TCP_QUICKACK) is back", rateT)
	}
}
