//go:build cgo

package ifd

import (
	"bytes"
	"context"
	"encoding/binary"
	"net"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tesseracard/tessera/internal/hosttest"
	"github.com/tesseracard/tessera/simulator"
	"github.com/tesseracard/tessera/simulator/ifdlink"
)

// nextLun gives every channel of the test binary its own Lun: the driver's
// table of readers lives as long as the process, as in pcscd.
var nextLun atomic.Int64

func open(t *testing.T, socket string) driver {
	t.Helper()
	d, rc := createChannelByName(int(nextLun.Add(1))<<16, socket)
	if rc != ifdSuccess {
		t.Fatalf("IFDHCreateChannelByName(%s) = %d", socket, rc)
	}
	t.Cleanup(func() { d.close() })
	return d
}

func startSim(t *testing.T, dir string) (*simulator.Simulator, *simulator.Reader) {
	t.Helper()
	sim, err := simulator.New(simulator.Config{IFDDir: dir, Profile: "piv"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	r, err := sim.Add(simulator.CardSpec{Slot: 0})
	if err != nil {
		t.Fatal(err)
	}
	return sim, r
}

var selectPIV = []byte{0x00, 0xA4, 0x04, 0x00, 0x09, 0xA0, 0x00, 0x00, 0x03, 0x08, 0x00, 0x00, 0x10, 0x00, 0x00}

func wantPresence(t *testing.T, d driver, want int) {
	t.Helper()
	if got := d.presence(); got != want {
		t.Fatalf("IFDHICCPresence = %d, want %d", got, want)
	}
}

// TestDriverAgainstSimulator drives the driver as pcscd does against a
// simulated card: presence, power, commands, removal and insertion, the
// simulator's death and its return.
func TestDriverAgainstSimulator(t *testing.T) {
	dir := hosttest.ShortDir(t)
	// As scripts/ifd.sh writes it into reader.conf.
	d := open(t, "/dev/null:"+simulator.IFDSocket(dir, 0))
	wantPresence(t, d, ifdNotPresent) // no simulator yet

	sim, r := startSim(t, dir)
	wantPresence(t, d, ifdPresent)
	atr, rc := d.power(powerUp)
	if rc != ifdSuccess || len(atr) < 2 || atr[0] != 0x3B {
		t.Fatalf("IFDHPowerICC(up) = % X, %d; want an ATR", atr, rc)
	}
	if got, rc := d.capability(tagATR); rc != ifdSuccess || !bytes.Equal(got, atr) {
		t.Errorf("TAG_IFD_ATR = % X, %d; want % X", got, rc, atr)
	}
	resp, rc := d.transmit(selectPIV, 258)
	if rc != ifdSuccess || len(resp) < 2 || !bytes.Equal(resp[len(resp)-2:], []byte{0x90, 0x00}) {
		t.Fatalf("SELECT PIV = % X, %d; want ... 90 00", resp, rc)
	}
	if _, rc := d.transmit(selectPIV, 1); rc != ifdInsufficient {
		t.Errorf("SELECT PIV into 1 byte: %d, want IFD_ERROR_INSUFFICIENT_BUFFER", rc)
	}
	if ratr, rc := d.power(reset); rc != ifdSuccess || !bytes.Equal(ratr, atr) {
		t.Errorf("IFDHPowerICC(reset) = % X, %d; want % X", ratr, rc, atr)
	}

	ctx := context.Background()
	if err := r.Remove(ctx); err != nil {
		t.Fatal(err)
	}
	if _, rc := d.transmit(selectPIV, 258); rc != ifdCommError && rc != ifdNotPresent {
		t.Errorf("transmit to a removed card = %d, want no card or a communication error", rc)
	}
	wantPresence(t, d, ifdNotPresent)
	wantPresence(t, d, ifdNotPresent)
	if _, rc := d.power(powerUp); rc != ifdPowerAction {
		t.Errorf("power up of a removed card = %d, want IFD_ERROR_POWER_ACTION", rc)
	}
	if err := r.Insert(ctx); err != nil {
		t.Fatal(err)
	}
	wantPresence(t, d, ifdPresent)

	// A removal and an insertion between two polls is still seen.
	if err := r.Remove(ctx); err != nil {
		t.Fatal(err)
	}
	if err := r.Insert(ctx); err != nil {
		t.Fatal(err)
	}
	wantPresence(t, d, ifdNotPresent)
	wantPresence(t, d, ifdPresent)

	// A power cycle through the control API: the card leaves its reader
	// for a moment and comes back unpowered.
	if _, rc := d.power(powerUp); rc != ifdSuccess {
		t.Fatalf("power up = %d", rc)
	}
	if err := r.PowerCycle(ctx); err != nil {
		t.Fatal(err)
	}
	wantPresence(t, d, ifdNotPresent)
	deadline := time.Now().Add(3 * time.Second)
	for d.presence() != ifdPresent {
		if time.Now().After(deadline) {
			t.Fatal("the card did not come back within 3 s of a power cycle")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if _, rc := d.power(powerUp); rc != ifdSuccess {
		t.Fatalf("power up after the power cycle = %d", rc)
	}

	// The simulator dies: no card, until it is back.
	sim.Close()
	wantPresence(t, d, ifdNotPresent)
	wantPresence(t, d, ifdNotPresent)
	if _, rc := d.transmit(selectPIV, 258); rc != ifdCommError {
		t.Errorf("transmit with no simulator = %d, want IFD_COMMUNICATION_ERROR", rc)
	}
	startSim(t, dir)
	wantPresence(t, d, ifdPresent)
	if _, rc := d.power(powerUp); rc != ifdSuccess {
		t.Fatalf("power up after the simulator's return = %d", rc)
	}
	if resp, rc := d.transmit(selectPIV, 258); rc != ifdSuccess || !bytes.HasSuffix(resp, []byte{0x90, 0x00}) {
		t.Errorf("SELECT PIV after the simulator's return = % X, %d", resp, rc)
	}
	if _, rc := d.power(powerDown); rc != ifdSuccess {
		t.Errorf("power down = %d", rc)
	}
}

func TestDriverCapabilities(t *testing.T) {
	d := open(t, filepath.Join(hosttest.ShortDir(t), "none.sock"))
	for _, tt := range []struct {
		tag  int
		want []byte
	}{
		{tagSlots, []byte{1}},
		{tagSimultaneous, []byte{16}},
		{tagThreadSafe, []byte{1}},
		{tagATR, []byte{}},
	} {
		if got, rc := d.capability(tt.tag); rc != ifdSuccess || !bytes.Equal(got, tt.want) {
			t.Errorf("IFDHGetCapabilities(%#x) = % X, %d; want % X", tt.tag, got, rc, tt.want)
		}
	}
	if _, rc := d.capability(0x7777); rc != ifdErrorTag {
		t.Errorf("IFDHGetCapabilities(unknown) = %d, want IFD_ERROR_TAG", rc)
	}
	if rc := createChannel(0x990000, 0x8C7B); rc != ifdNotSupported {
		t.Errorf("IFDHCreateChannel = %d, want IFD_NOT_SUPPORTED", rc)
	}
	if rc := d.control(0x42000001); rc != ifdErrorNotSupported {
		t.Errorf("IFDHControl(0x42000001) = %d, want IFD_ERROR_NOT_SUPPORTED", rc)
	}
	if rc := d.control(getFeatureRequest); rc != ifdSuccess {
		t.Errorf("IFDHControl(CM_IOCTL_GET_FEATURE_REQUEST) = %d, want IFD_SUCCESS (no features)", rc)
	}
	protocols := map[int]int{1: ifdSuccess, 2: ifdSuccess, 4: 607} // 607: IFD_PROTOCOL_NOT_SUPPORTED
	for p, want := range protocols {
		if rc := d.setProtocol(p); rc != want {
			t.Errorf("IFDHSetProtocolParameters(%d) = %d, want %d", p, rc, want)
		}
	}
	if _, rc := createChannelByName(0x980000, strings.Repeat("s", 200)); rc != ifdCommError {
		t.Errorf("IFDHCreateChannelByName(a 200-byte name) = %d, want IFD_COMMUNICATION_ERROR", rc)
	}
	if rc := (driver{0x970000}).presence(); rc != ifdNoSuchDevice {
		t.Errorf("IFDHICCPresence(unknown Lun) = %d, want IFD_NO_SUCH_DEVICE", rc)
	}
}

// peer listens on a socket and answers every request it reads with
// answer(request type); with hangUp, it closes the connection after each
// answer.
func peer(t *testing.T, hangUp bool, answer func(req ifdlink.Type) []byte) string {
	t.Helper()
	path := filepath.Join(hosttest.ShortDir(t), "peer.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				var buf []byte
				for {
					f, nb, err := ifdlink.Read(c, buf)
					buf = nb
					if err != nil {
						return
					}
					a := answer(f.Type)
					if a == nil {
						return
					}
					if _, err := c.Write(a); err != nil || hangUp {
						return
					}
				}
			}()
		}
	}()
	return path
}

// exercise makes every call pcscd makes and checks each result is one the
// API allows; it reports the transmit's answer.
func exercise(t *testing.T, d driver) ([]byte, int) {
	t.Helper()
	if rc := d.presence(); rc != ifdPresent && rc != ifdNotPresent {
		t.Fatalf("IFDHICCPresence = %d", rc)
	}
	for _, a := range []int{powerUp, reset} {
		atr, rc := d.power(a)
		if (rc != ifdSuccess || len(atr) == 0 || len(atr) > 33) && (rc != ifdPowerAction || len(atr) != 0) {
			t.Fatalf("IFDHPowerICC(%d) = % X, %d", a, atr, rc)
		}
	}
	resp, rc := d.transmit(selectPIV, 300)
	if (rc != ifdSuccess || len(resp) < 2) && (rc == ifdSuccess || len(resp) != 0) {
		t.Fatalf("IFDHTransmitToICC = % X, %d", resp, rc)
	}
	return resp, rc
}

// FuzzDriverAnswers: whatever a peer on the socket answers (any bytes,
// then a hang-up; TestDriverSilentPeer has silence), the driver neither crashes nor claims more
// than it was sent. A well-formed answer comes through as it is.
func FuzzDriverAnswers(f *testing.F) {
	f.Add([]byte{0, 0, 0, 3, 0x81, 0x90, 0x00})
	f.Add([]byte{0, 0, 0, 2, 0x85, 0x3b})
	f.Add([]byte{0, 0, 0, 1, 0xfe})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0x81})
	f.Add([]byte{0, 0, 0, 9, 0x81, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		path := peer(t, true, func(ifdlink.Type) []byte { return b })
		d := open(t, path)
		resp, rc := exercise(t, d)
		if len(b) >= 5 && binary.BigEndian.Uint32(b) == uint32(len(b)-4) && b[4] == 0x81 && len(b) >= 7 && rc == ifdSuccess && !bytes.Equal(resp, b[5:]) {
			t.Fatalf("transmit answered % X, peer sent % X", resp, b)
		}
	})
}

// TestDriverSilentPeer: a simulator that stops answering costs a bounded
// wait, then the card is gone. The peer neither answers nor hangs up until
// the test ends, so only the driver's own deadline can end the call; the
// test asserts that it ends, not how fast (it asserted under 6 s, a
// timed assertion a loaded machine may fail), failing if the call still
// waits after a minute.
func TestDriverSilentPeer(t *testing.T) {
	silent := make(chan struct{})
	path := peer(t, false, func(ifdlink.Type) []byte { <-silent; return nil })
	t.Cleanup(func() { close(silent) }) // before the peer's listener closes
	d := open(t, path)
	rc := make(chan int, 1)
	go func() { rc <- d.presence() }()
	select {
	case got := <-rc:
		if got != ifdNotPresent {
			t.Errorf("IFDHICCPresence against a silent peer = %d, want IFD_ICC_NOT_PRESENT", got)
		}
	case <-time.After(time.Minute):
		t.Fatal("IFDHICCPresence against a silent peer still waits after a minute")
	}
}

// BenchmarkDriverTransmit measures the bridge's own hop, without pcscd:
// IFDHTransmitToICC of GET VERSION to a simulated card, as pcscd calls it.
func BenchmarkDriverTransmit(b *testing.B) {
	dir := hosttest.ShortDir(b)
	sim, err := simulator.New(simulator.Config{IFDDir: dir})
	if err != nil {
		b.Fatal(err)
	}
	defer sim.Close()
	if _, err := sim.Add(simulator.CardSpec{Slot: 0}); err != nil {
		b.Fatal(err)
	}
	d, rc := createChannelByName(int(nextLun.Add(1))<<16, simulator.IFDSocket(dir, 0))
	if rc != ifdSuccess {
		b.Fatalf("IFDHCreateChannelByName = %d", rc)
	}
	defer d.close()
	if rc := d.presence(); rc != ifdPresent {
		b.Fatalf("IFDHICCPresence = %d", rc)
	}
	if _, rc := d.power(powerUp); rc != ifdSuccess {
		b.Fatalf("IFDHPowerICC = %d", rc)
	}
	d.transmit(selectPIV, 258)
	getVersion := []byte{0x00, 0xFD, 0x00, 0x00}
	for b.Loop() {
		if resp, rc := d.transmit(getVersion, 258); rc != ifdSuccess || !bytes.HasSuffix(resp, []byte{0x90, 0x00}) {
			b.Fatalf("GET VERSION = % X, %d", resp, rc)
		}
	}
}
