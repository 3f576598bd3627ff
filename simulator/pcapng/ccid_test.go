package pcapng

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tesseracard/tessera/simulator"
)

// urb is what a test reads of one packet TraceWriter wrote.
type urb struct {
	typ, xfer, ep, dev byte
	data               []byte // after the usbmon header
	comment            string
}

func convert(t testing.TB, recs ...simulator.TraceRecord) ([]urb, error) {
	t.Helper()
	var buf bytes.Buffer
	tw, err := NewTraceWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	for _, rec := range recs {
		if err := tw.Write(rec); err != nil {
			return nil, err
		}
	}
	lt, pkts, err := readFile(buf.Bytes())
	if err != nil {
		t.Fatalf("reading back: %v", err)
	}
	if lt != LinkTypeUSBLinuxMmapped {
		t.Fatalf("link type %d, want %d", lt, LinkTypeUSBLinuxMmapped)
	}
	var urbs []urb
	for i, p := range pkts {
		if len(p.data) < 64 {
			t.Fatalf("packet %d: %d bytes, shorter than a usbmon header", i, len(p.data))
		}
		h := p.data[:64]
		if n := int(binary.LittleEndian.Uint32(h[36:])); n != len(p.data)-64 {
			t.Fatalf("packet %d: header says %d data bytes, has %d", i, n, len(p.data)-64)
		}
		if us := int64(binary.LittleEndian.Uint64(h[16:]))*1e6 + int64(binary.LittleEndian.Uint32(h[24:])); us != p.ts.UnixMicro() {
			t.Errorf("packet %d: header time %d µs, block time %d µs", i, us, p.ts.UnixMicro())
		}
		urbs = append(urbs, urb{typ: h[8], xfer: h[9], ep: h[10], dev: h[11], data: p.data[64:], comment: p.comment})
	}
	return urbs, nil
}

func unhex(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

func TestTraceWriterMapping(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name string
		rec  simulator.TraceRecord
		want []urb // after the configuration descriptor's two packets
	}{{
		name: "power-on answers the ATR",
		rec:  simulator.TraceRecord{Event: "power-on", Detail: "ATR 3B8001"},
		want: []urb{
			{typ: 'S', xfer: 3, ep: 0x01, data: unhex("62 00000000 00 00 000000")},
			{typ: 'C', xfer: 3, ep: 0x82, data: unhex("80 03000000 00 00 000000 3B8001"), comment: "tessera event: power-on (ATR 3B8001)"},
		},
	}, {
		name: "an exchange is a transfer block and a data block",
		rec:  simulator.TraceRecord{Command: "00A4040002A000", Response: "6A82"},
		want: []urb{
			{typ: 'S', xfer: 3, ep: 0x01, data: unhex("6F 07000000 00 00 000000 00A4040002A000")},
			{typ: 'C', xfer: 3, ep: 0x82, data: unhex("80 02000000 00 00 000000 6A82")},
		},
	}, {
		name: "withheld bytes are zeros with a comment",
		rec:  simulator.TraceRecord{Command: "0020008004XXXXXXXX", Response: "XXXX9000", Redacted: true},
		want: []urb{
			{typ: 'S', xfer: 3, ep: 0x01, data: unhex("6F 09000000 00 00 000000 0020008004 00000000"), comment: "redacted by the card: 4 bytes withheld"},
			{typ: 'C', xfer: 3, ep: 0x82, data: unhex("80 04000000 00 00 000000 00009000"), comment: "redacted by the card: 2 bytes withheld"},
		},
	}, {
		name: "no response is a mute card",
		rec:  simulator.TraceRecord{Command: "00B0000000"},
		want: []urb{
			{typ: 'S', xfer: 3, ep: 0x01, data: unhex("6F 05000000 00 00 000000 00B0000000")},
			{typ: 'C', xfer: 3, ep: 0x82, data: unhex("80 00000000 00 00 40FE00")},
		},
	}, {
		name: "power-off answers the slot status",
		rec:  simulator.TraceRecord{Event: "power-off"},
		want: []urb{
			{typ: 'S', xfer: 3, ep: 0x01, data: unhex("63 00000000 00 00 000000")},
			{typ: 'C', xfer: 3, ep: 0x82, data: unhex("81 00000000 00 00 010000")},
		},
	}, {
		name: "remove",
		rec:  simulator.TraceRecord{Event: "remove"},
		want: []urb{{typ: 'C', xfer: 1, ep: 0x83, data: unhex("5002")}},
	}, {
		name: "insert",
		rec:  simulator.TraceRecord{Event: "insert"},
		want: []urb{{typ: 'C', xfer: 1, ep: 0x83, data: unhex("5003")}},
	}, {
		name: "another event changes nothing and is named",
		rec:  simulator.TraceRecord{Event: "tear-armed", Detail: "after 3 writes"},
		want: []urb{{typ: 'C', xfer: 1, ep: 0x83, data: unhex("5001"), comment: "tessera event: tear-armed (after 3 writes)"}},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := tt.rec
			rec.Time, rec.Card = at, 4
			got, err := convert(t, rec)
			if err != nil {
				t.Fatalf("Write(%+v) = %v", rec, err)
			}
			if len(got) != 2+len(tt.want) {
				t.Fatalf("%d packets, want %d: %+v", len(got), 2+len(tt.want), got)
			}
			// The configuration descriptor comes first: a control request
			// and its answer naming a smart-card interface.
			if req, resp := got[0], got[1]; req.xfer != 2 || resp.xfer != 2 || resp.ep != 0x80 || len(resp.data) < 18 || resp.data[9+5] != 0x0B {
				t.Errorf("descriptor packets %+v, %+v: want a GET_DESCRIPTOR answer with interface class 0B", req, resp)
			}
			for i, w := range tt.want {
				w.dev = 5 // card 4
				if g := got[2+i]; g.typ != w.typ || g.xfer != w.xfer || g.ep != w.ep || g.dev != w.dev || !bytes.Equal(g.data, w.data) || g.comment != w.comment {
					t.Errorf("packet %d = {%c xfer %d ep %02X dev %d % X %q}, want {%c xfer %d ep %02X dev %d % X %q}",
						i, g.typ, g.xfer, g.ep, g.dev, g.data, g.comment, w.typ, w.xfer, w.ep, w.dev, w.data, w.comment)
				}
			}
		})
	}
}

func TestTraceWriterSequenceAndCards(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	got, err := convert(t,
		simulator.TraceRecord{Time: at, Card: 0, Event: "power-on", Detail: "ATR 3B00"},
		simulator.TraceRecord{Time: at, Card: 1, Command: "00CA000000", Response: "9000"},
		simulator.TraceRecord{Time: at, Card: 0, Event: "reset"},
		simulator.TraceRecord{Time: at, Card: 0, Command: "00CA000000", Response: "9000", Duration: int64(3 * time.Millisecond)},
	)
	if err != nil {
		t.Fatal(err)
	}
	// card 0: descriptor (2), power-on (2); card 1: descriptor (2),
	// exchange (2); card 0: reset (2), exchange (2).
	if len(got) != 12 {
		t.Fatalf("%d packets, want 12", len(got))
	}
	for _, w := range []struct {
		packet   int
		dev, seq byte
	}{{2, 1, 0}, {6, 2, 0}, {8, 1, 1}, {10, 1, 2}} {
		if out := got[w.packet]; out.dev != w.dev || out.data[6] != w.seq {
			t.Errorf("packet %d: device %d bSeq %d, want device %d bSeq %d", w.packet, out.dev, out.data[6], w.dev, w.seq)
		}
	}
	if atr := got[9].data[10:]; !bytes.Equal(atr, []byte{0x3B, 0x00}) {
		t.Errorf("reset answered ATR % X, want the power-on's 3B 00", atr)
	}
}

func TestTraceWriterRefuses(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name string
		rec  simulator.TraceRecord
		want string
		is   error
	}{
		{"negative card", simulator.TraceRecord{Time: at, Card: -1, Event: "insert"}, "card -1: a card number must be 0 to 126", nil},
		{"card beyond a USB address", simulator.TraceRecord{Time: at, Card: 127, Event: "insert"}, "card 127:", nil},
		{"empty record", simulator.TraceRecord{Time: at}, "neither an event nor a command", nil},
		{"odd command", simulator.TraceRecord{Time: at, Command: "00A"}, "command: 3 hex digits, an odd number", nil},
		{"not hex", simulator.TraceRecord{Time: at, Command: "00A4ZZ00"}, `command: byte 2 is "ZZ", neither hex nor XX`, nil},
		{"bad response", simulator.TraceRecord{Time: at, Command: "00A40400", Response: "9G00"}, "response: byte 0", nil},
		{"too long", simulator.TraceRecord{Time: at, Command: strings.Repeat("00", maxAPDU+1)}, "command:", ErrTooLong},
		{"before 1970", simulator.TraceRecord{Card: 0, Event: "insert"}, "before 1970", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := convert(t, tt.rec)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Write = %v, want an error containing %q", err, tt.want)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("Write = %v, want errors.Is %v", err, tt.is)
			}
		})
	}
}

// TestTshark opens the conversion of testdata/sample.jsonl (a trace the
// simulator wrote, plus a second card) with Wireshark's tshark, with the
// one Decode As the payload needs, and checks that the ISO 7816 dissector
// shows every command's instruction and every response's status word, and
// the comments on redacted packets.
func TestTshark(t *testing.T) {
	tshark, err := exec.LookPath("tshark")
	if err != nil {
		t.Skip("tshark not installed (scripts/deps.sh installs it)")
	}
	f, err := os.Open("testdata/sample.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var buf bytes.Buffer
	tw, err := NewTraceWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	var wantINS, wantSW []string
	err = simulator.ReadTrace(f, func(rec simulator.TraceRecord) error {
		if rec.Command != "" {
			wantINS = append(wantINS, "0x"+strings.ToLower(rec.Command[2:4]))
			wantSW = append(wantSW, "0x"+strings.ToLower(rec.SW[:2])+",0x"+strings.ToLower(rec.SW[2:]))
		}
		return tw.Write(rec)
	})
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "sample.pcapng")
	if err := os.WriteFile(out, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(tshark, "-r", out, "-d", "usbccid.subdissector,iso7816", "-T", "fields", "-E", "separator=|",
		"-e", "usb.device_address", "-e", "usbccid.bMessageType", "-e", "iso7816.apdu.ins", "-e", "iso7816.apdu.sw1", "-e", "iso7816.apdu.sw2", "-e", "frame.comment")
	cmd.Env = append(os.Environ(), "WIRESHARK_CONFIG_DIR="+t.TempDir()) // no personal preferences
	stdout, err := cmd.Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	var gotINS, gotSW []string
	var redacted, descriptors int
	for _, line := range strings.Split(strings.TrimSpace(string(stdout)), "\n") {
		f := strings.Split(line, "|")
		if len(f) != 6 {
			t.Fatalf("tshark line %q: %d fields, want 6", line, len(f))
		}
		if f[2] != "" {
			gotINS = append(gotINS, f[2])
		}
		if f[3] != "" {
			gotSW = append(gotSW, f[3]+","+f[4])
		}
		if strings.HasPrefix(f[5], "redacted by the card: ") {
			redacted++
		}
		if strings.Contains(f[5], "written by tessera") {
			descriptors++
		}
	}
	if strings.Join(gotINS, " ") != strings.Join(wantINS, " ") {
		t.Errorf("tshark's instructions = %v, want %v", gotINS, wantINS)
	}
	if strings.Join(gotSW, " ") != strings.Join(wantSW, " ") {
		t.Errorf("tshark's status words = %v, want %v", gotSW, wantSW)
	}
	// Two VERIFY commands and GENERAL AUTHENTICATE's command and response.
	if redacted != 4 || descriptors != 2 {
		t.Errorf("tshark shows %d redaction comments and %d descriptor notes, want 4 and 2", redacted, descriptors)
	}
}

func FuzzTraceWriter(f *testing.F) {
	f.Add(0, "", "", "0020008004XXXXXXXX", "XXXX9000", int64(41000))
	f.Add(1, "power-on", "ATR 3B8001", "", "", int64(0))
	f.Add(126, "reset", "", "", "", int64(0))
	f.Add(0, "", "", "00A4040002A0", "", int64(-5))
	f.Add(3, "panic", "index out of range", "", "", int64(0))
	f.Fuzz(func(t *testing.T, card int, event, detail, command, response string, duration int64) {
		rec := simulator.TraceRecord{Time: time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC), Card: card, Event: event, Detail: detail, Command: command, Response: response, Duration: duration}
		var buf bytes.Buffer
		tw, err := NewTraceWriter(&buf)
		if err != nil {
			t.Fatal(err)
		}
		if err := tw.Write(rec); err != nil {
			return
		}
		_, pkts, err := readFile(buf.Bytes())
		if err != nil {
			t.Fatalf("Write(%+v) wrote a malformed file: %v", rec, err)
		}
		if len(pkts) < 3 {
			t.Fatalf("Write(%+v) wrote %d packets, want the descriptor's two and more", rec, len(pkts))
		}
		if event == "" {
			hidden := strings.Count(strings.ToUpper(command), "XX")
			if hidden > 0 && !strings.Contains(pkts[2].comment, "withheld") {
				t.Errorf("command %q: packet comment %q does not say bytes were withheld", command, pkts[2].comment)
			}
		}
	})
}
