package simulator

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestOpenPGPTouchThroughCard: on a yubikey-5.7 card in manual touch mode,
// an OpenPGP signature key whose touch policy D6 is on waits for the
// card's one touch sensor (the one PIV uses): a touch given through the
// simulator lets PSO:CDS through; none within the touch timeout answers
// 6985. As in TestTouchThroughCard, the touched signature runs on a card
// that waits longTouch, the untouched one on a card that gives up after
// 300 ms (with 300 ms for both, 3 runs in 10 at nice 19 beside busy loops
// touched too late).
func TestOpenPGPTouchThroughCard(t *testing.T) {
	sign := "002A9E9A0664696765737400"
	var requests []string
	touchCard := func(timeout time.Duration, use func(*Reader)) {
		var trace bytes.Buffer
		s := newTestSim(t, Config{TouchMode: TouchManual, TouchTimeout: timeout, Tracer: NewTracer(&trace)})
		r := addCard(t, s, CardSpec{Slot: 0, Profile: "yubikey-5.7"})
		tr := r.Transport()
		for _, c := range []string{
			"00A4040006D27600012401",         // SELECT OpenPGP
			"00200083083132333435363738",     // VERIFY PW3 (factory)
			"00DA00C10A162B06010401DA470F01", // C1: Ed25519
			"0047800002B60000",               // GENERATE the signature key
			"00DA00D6020120",                 // D6: touch on
			"0020008106313233343536",         // VERIFY PW1 81 (factory)
		} {
			if got := transmit(t, tr, c); !strings.HasSuffix(got, "9000") {
				t.Fatalf("%s = %s", c, got)
			}
		}
		use(r)
		if err := ReadTrace(bytes.NewReader(trace.Bytes()), func(rec TraceRecord) error {
			if rec.Event == "touch-request" || rec.Event == "touch" || strings.HasPrefix(rec.Command, "002A") {
				requests = append(requests, rec.Event+" "+rec.Detail+rec.Command[:min(8, len(rec.Command))])
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	touchCard(longTouch, func(r *Reader) {
		if got := transmitTouched(t, r, sign, "B6"); !strings.HasSuffix(got, "9000 <nil>") {
			t.Errorf("PSO:CDS with a touch = %s, want 9000", got)
		}
	})
	touchCard(300*time.Millisecond, func(r *Reader) {
		transmitUntouched(t, r, sign, "6985", 300*time.Millisecond)
	})
	want := []string{"touch-request key B6", "touch ", " 002A9E9A", "touch-request key B6", " 002A9E9A"}
	if !slices.Equal(requests, want) {
		t.Errorf("trace: %q, want %q", requests, want)
	}
}
