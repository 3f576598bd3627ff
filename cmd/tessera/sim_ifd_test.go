//go:build linux

package main

import (
	"context"
	"encoding/json"
	"net"
	"testing"
	"time"

	"github.com/tesseracard/tessera/internal/hosttest"
	"github.com/tesseracard/tessera/simulator"
	"github.com/tesseracard/tessera/simulator/ifdlink"
)

// TestSimBridgeIFD: tessera sim --bridge ifd serves each card on its own
// socket in --ifd-dir, named by --reader-name in slot order, and tessera
// card list shows the readers as pcscd names them.
func TestSimBridgeIFD(t *testing.T) {
	dir, ifdDir := hosttest.ShortDir(t), hosttest.ShortDir(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, _, err := runTessera(ctx, "sim", "--state", dir, "--bridge", "ifd", "--ifd-dir", ifdDir,
			"--reader-name", "Yubico YubiKey OTP+FIDO+CCID", "--reader-name", "Second Key")
		done <- err
	}()
	defer func() { cancel(); <-done }()
	waitControl(t, dir)
	out, errOut, err := runTessera(context.Background(), "card", "--state", dir, "list", "--json")
	if err != nil {
		t.Fatalf("tessera card list: %v\n%s", err, errOut)
	}
	var cards []simulator.CardInfo
	if err := json.Unmarshal([]byte(out), &cards); err != nil || len(cards) != 2 {
		t.Fatalf("card list --json = %+v, %v; want 2 cards (one per --reader-name)", cards, err)
	}
	for i, want := range []string{"Yubico YubiKey OTP+FIDO+CCID 00 00", "Second Key 01 00"} {
		if cards[i].Reader != want || cards[i].IFD != simulator.IFDSocket(ifdDir, i) {
			t.Errorf("card %d: reader %q on %q, want %q on card-%d.sock", i, cards[i].Reader, cards[i].IFD, want, i)
		}
		c, err := net.Dial("unix", cards[i].IFD)
		if err != nil {
			t.Fatal(err)
		}
		req, _ := ifdlink.Append(nil, ifdlink.Frame{Type: ifdlink.Presence})
		c.SetDeadline(time.Now().Add(5 * time.Second))
		c.Write(req)
		f, _, err := ifdlink.Read(c, nil)
		c.Close()
		if err != nil || f.Type != ifdlink.Presence|ifdlink.Answer || len(f.Payload) == 0 {
			t.Errorf("card %d: presence answer %v % X, %v; want the ATR", i, f.Type, f.Payload, err)
		}
	}
}
