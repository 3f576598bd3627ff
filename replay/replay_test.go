package replay_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tesseracard/tessera/apdu"
	"github.com/tesseracard/tessera/hostdriver"
	"github.com/tesseracard/tessera/replay"
	"github.com/tesseracard/tessera/simulator"
	"github.com/tesseracard/tessera/simulator/simtarget"
)

func h(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

// samples are one small session in every format: SELECT, a reset, GET
// VERSION.
func samples() map[replay.Format]string {
	return map[replay.Format]string{
		replay.FormatPIVGo: "mockfile\nmeta status.atr 3b\non 0.0 0.0 BeginTransaction\n" +
			"on 0.1 0.1 Transmit 00a4040005a000000308 9000\non 0.2 0.2 Transmit 00fd0000 0507019000\n",
		replay.FormatOpenSC: "===== tool\n> 00a4040005a000000308\n< 9000\n-- power/reset 1\n> 00fd0000\n< 0507019000\n",
		replay.FormatTessera: `{"card":0,"event":"power-on","detail":"ATR 3B"}` + "\n" +
			`{"card":0,"command":"00A4040005A000000308","response":"9000","sw":"9000"}` + "\n" +
			`{"card":0,"event":"reset"}` + "\n" +
			`{"card":0,"command":"00FD0000","response":"0507019000","sw":"9000"}` + "\n",
		replay.FormatPCSCSpy: "SCardBeginTransaction\n i hCard: 0x1\n => Command successful. (SCARD_S_SUCCESS [0x00000000])  [0.0]\n" +
			"SCardTransmit\n i hCard: 0x1\n i bSendLength 0x0000000A (10)\n i bSendBuffer\n i  0000 00 A4 04 00 05 A0 00 00 03 08                   ..........\n" +
			" o bRecvLength 0x00000002 (2)\n o bRecvBuffer\n o  0000 90 00                                            ..\n => Command successful. (SCARD_S_SUCCESS [0x00000000])  [0.0]\n" +
			"SCardReconnect\n i dwInitialization 0x00000001 (1)\n => Command successful. (SCARD_S_SUCCESS [0x00000000])  [0.0]\n" +
			"SCardTransmit\n i bSendLength 0x00000004 (4)\n i bSendBuffer\n i  0000 00 FD 00 00                                      ....\n" +
			" o bRecvLength 0x00000005 (5)\n o bRecvBuffer\n o  0000 05 07 01 90 00                             .....\n => Command successful. (SCARD_S_SUCCESS [0x00000000])  [0.0]\n" +
			// A failed transmit is no exchange.
			"SCardTransmit\n i bSendLength 0x00000004 (4)\n i bSendBuffer\n i  0000 00 FD 00 00                                      ....\n" +
			" => Card was removed. (SCARD_W_REMOVED_CARD [0x80100069])  [0.0]\n",
	}
}

func TestReadFormats(t *testing.T) {
	for f, text := range samples() {
		t.Run(string(f), func(t *testing.T) {
			for _, as := range []replay.Format{f, replay.FormatAuto} {
				rec, err := replay.Read(strings.NewReader(text), "s", as)
				if err != nil {
					t.Fatalf("Read(%s) = %v", as, err)
				}
				if rec.Format != f {
					t.Errorf("Format = %s, want %s", rec.Format, f)
				}
				var got []string
				for _, s := range rec.Steps {
					if s.Reset {
						got = append(got, "reset")
					} else {
						got = append(got, fmt.Sprintf("%d %X %X", s.N, s.Command, s.Response))
					}
				}
				want := []string{"1 00A4040005A000000308 9000", "reset", "2 00FD0000 0507019000"}
				if f == replay.FormatPIVGo {
					want = []string{want[0], want[2]}
				}
				if f == replay.FormatTessera {
					want = append([]string{"reset"}, want...) // the power-on
				}
				if strings.Join(got, "; ") != strings.Join(want, "; ") {
					t.Errorf("steps = %q, want %q", got, want)
				}
			}
		})
	}
}

func TestReadErrors(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		f          replay.Format
		want       string
	}{
		{"unknown", "hello\n", replay.FormatAuto, "cannot tell the format"},
		{"empty", "", replay.FormatAuto, "cannot tell the format"},
		{"pivgo fields", "on 0 0 Transmit 00a40400\n", replay.FormatPIVGo, "line 1: want on START END Transmit CMD RESP"},
		{"pivgo hex", "on 0 0 Transmit 00a4040g 9000\n", replay.FormatPIVGo, "line 1: the command is not hex"},
		{"pivgo short", "on 0 0 Transmit 00a4 9000\n", replay.FormatPIVGo, "line 1: a command APDU has at least 4 bytes"},
		{"pivgo nothing", "meta x\n", replay.FormatPIVGo, "holds no exchange"},
		{"opensc orphan", "< 9000\n", replay.FormatOpenSC, "line 1: a response without a command"},
		{"opensc unanswered", "> 00a40400\n", replay.FormatOpenSC, "line 1: a command without a response"},
		{"opensc no sw", "> 00a40400\n< 90\n", replay.FormatOpenSC, "line 1: a response APDU has at least a status word"},
		{"tessera json", "{\"card\":0,\n", replay.FormatTessera, "line 1: not a trace record"},
		{"tessera two cards", `{"card":0,"command":"00A40400","response":"9000"}` + "\n" + `{"card":1,"command":"00A40400","response":"9000"}`, replay.FormatTessera, "line 2: the trace holds cards 0 and 1"},
		{"spy length", "SCardTransmit\n i bSendLength 0x00000005 (5)\n i bSendBuffer\n i  0000 00 A4 04 00                                      ....\n => ok (SCARD_S_SUCCESS [0x0])\n", replay.FormatPCSCSpy, "hex dump line holds fewer bytes"},
		{"spy offset", "SCardTransmit\n i bSendLength 0x00000004 (4)\n i bSendBuffer\n i  0010 00 A4 04 00                                      ....\n", replay.FormatPCSCSpy, "line 4: hex dump offset 0010, want 0000"},
		{"format", "x", "xml", "unknown recording format"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := replay.Read(strings.NewReader(tc.text), "s", tc.f)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Read() = %v, want an error containing %q", err, tc.want)
			}
			if tc.f != "xml" && !errors.Is(err, replay.ErrFormat) {
				t.Errorf("Read() = %v, want errors.Is ErrFormat", err)
			}
		})
	}
}

func TestReadRedacted(t *testing.T) {
	text := `{"card":0,"command":"0020008008XXXXXXXXXXXXXXXX","response":"9000","redacted":true}` + "\n" +
		`{"card":0,"command":"00CB3FFF055C035FC102","response":"XXXX9000","redacted":true}` + "\n"
	rec, err := replay.Read(strings.NewReader(text), "r.jsonl", replay.FormatAuto)
	if err != nil {
		t.Fatal(err)
	}
	if s := rec.Steps[0]; !s.RedactedCommand || s.RedactedResponse || len(s.Command) != 13 {
		t.Errorf("step 1 = %+v, want a redacted 13-byte command", s)
	}
	if s := rec.Steps[1]; s.RedactedCommand || !s.RedactedResponse || len(s.Response) != 4 {
		t.Errorf("step 2 = %+v, want a redacted 4-byte response", s)
	}
	card := openCard(t, "default")
	_, err = replay.Replay(t.Context(), card, rec, replay.Options{})
	if !errors.Is(err, replay.ErrRedacted) || !strings.Contains(err.Error(), "exchange 1 (line 1, VERIFY)") {
		t.Fatalf("Replay() = %v, want ErrRedacted naming exchange 1", err)
	}
}

// FuzzRead feeds every importer arbitrary text, seeded with the shipped
// recordings and the samples: no panic, and what is read is well formed and
// reads back the same through another format.
func FuzzRead(f *testing.F) {
	for _, text := range samples() {
		f.Add([]byte(text))
	}
	paths, _ := filepath.Glob(filepath.Join(recordingsDir(), "*", "*"))
	for _, p := range paths {
		if b, err := os.ReadFile(p); err == nil && len(b) < 64<<10 {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, format := range replay.Formats() {
			rec, err := replay.Read(bytes.NewReader(b), "f", format)
			if err != nil {
				continue
			}
			var log strings.Builder
			n := 0
			for _, s := range rec.Steps {
				if s.Reset {
					log.WriteString("-- power/reset\n")
					continue
				}
				n++
				if s.N != n || len(s.Command) < 4 || len(s.Response) < 2 {
					t.Fatalf("%s: step %+v malformed", format, s)
				}
				fmt.Fprintf(&log, "> %X\n< %X\n", s.Command, s.Response)
			}
			back, err := replay.Read(strings.NewReader(log.String()), "f", replay.FormatOpenSC)
			if err != nil || len(back.Steps) != len(rec.Steps) {
				t.Fatalf("%s: read back as an APDU log: %v", format, err)
			}
			for i := range back.Steps {
				if !bytes.Equal(back.Steps[i].Command, rec.Steps[i].Command) || !bytes.Equal(back.Steps[i].Response, rec.Steps[i].Response) {
					t.Fatalf("%s: step %d reads back differently", format, i)
				}
			}
		}
	})
}

func openCard(t *testing.T, profile string) *simtarget.Card {
	t.Helper()
	card, err := simtarget.Open(simtarget.Options{Profile: profile})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { card.Close() })
	return card
}

// recordSession drives a PIV session through hostdriver on a simulated
// card and records every raw exchange, as a relay would: management-key
// authentication, key generation, a signature, a PIN.
func recordSession(t *testing.T, ctx context.Context, profile string) *replay.Recording {
	t.Helper()
	card := openCard(t, profile)
	rec := &replay.Recording{Name: "own", Format: replay.FormatOpenSC}
	conn := &hostdriver.Conn{T: card, Trace: func(cmd, resp []byte) {
		rec.Steps = append(rec.Steps, replay.Step{N: len(rec.Steps) + 1, Command: bytes.Clone(cmd), Response: bytes.Clone(resp)})
	}}
	send := func(c apdu.Command) []byte {
		t.Helper()
		r, err := conn.Transmit(ctx, c)
		if err != nil || r.SW != apdu.SWSuccess {
			t.Fatalf("%s: %v %v", apdu.InsName(c.INS), r.SW, err)
		}
		return r.Data
	}
	send(apdu.Command{INS: apdu.InsSelect, P1: 0x04, Data: h("A000000308")})
	meta := send(apdu.Command{INS: apdu.InsGetMetadata, P2: 0x9B})
	alg, _, _ := apdu.FindTLV(meta, 0x01)
	if err := hostdriver.AuthenticateManagementKey(ctx, conn, alg[0], h("010203040506070801020304050607080102030405060708"), nil); err != nil {
		t.Fatal(err)
	}
	send(apdu.Command{INS: apdu.InsGenerateKeyPairOdd, P2: 0x9A, Data: h("AC 03 80 01 11"), Ne: 256})
	send(apdu.Command{INS: apdu.InsVerify, P2: 0x80, Data: []byte("123456\xff\xff")})
	digest := sha256.Sum256([]byte("replay"))
	send(apdu.Command{INS: apdu.InsGeneralAuthenticate, P1: 0x11, P2: 0x9A, Data: apdu.Nest(0x7C, h("82 00"), apdu.AppendTLV(nil, 0x81, digest[:])), Ne: 256})
	send(apdu.Command{INS: apdu.InsGetMetadata, P2: 0x9A})
	return rec
}

// TestReplayOwnRecording replays a session recorded on the simulator on a
// fresh simulated card of the same profile: every exchange agrees, the
// random ones in structure.
func TestReplayOwnRecording(t *testing.T) {
	ctx := t.Context()
	rec := recordSession(t, ctx, "yubikey-5.7")
	res, err := replay.Replay(ctx, openCard(t, "yubikey-5.7"), rec, replay.Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := replay.Counts{Exchanges: 8, Exact: 4, Structural: 4}
	if res.Counts != want || !res.OK() {
		for _, x := range res.Exchanges {
			t.Log(replay.FormatExchange(x))
		}
		t.Fatalf("Counts = %+v, want %+v", res.Counts, want)
	}
	// The witness was answered with a recomputed command.
	if x := res.Exchanges[3]; x.Recorded == nil || x.Verdict != replay.Exact {
		t.Errorf("exchange 4 = %+v, want the host's witness recomputed and exact", x)
	}
}

// TestReplayQuirkyCard replays a real YubiKey's recording on a card that
// answers ECDSA signatures as raw r‖s instead of DER: the disagreement is
// found and named.
func TestReplayQuirkyCard(t *testing.T) {
	ctx := t.Context()
	prof := filepath.Join(t.TempDir(), "quirky.yaml")
	if err := os.WriteFile(prof, []byte("base: yubikey-5.7\nname: raw-ecdsa\nquirks: [ecdsa-raw-signature]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(recordingsDir(), "yubikey-5.7.1", "TestSignECC_P-256.trace"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rec, err := replay.Read(f, "TestSignECC_P-256.trace", replay.FormatAuto)
	if err != nil {
		t.Fatal(err)
	}
	res, err := replay.Replay(ctx, openCard(t, prof), rec, replay.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.OK() || res.Counts.Mismatch != 1 {
		t.Fatalf("Counts = %+v, want one mismatch", res.Counts)
	}
	for _, x := range res.Exchanges {
		if x.Verdict == replay.Mismatch && !strings.Contains(x.Why, "target's signature") {
			t.Errorf("mismatch %q does not name the signature", x.Why)
		}
	}
	// The same recording on the faithful profile agrees.
	f.Seek(0, 0)
	res, err = replay.Replay(ctx, openCard(t, "yubikey-5.7"), rec, replay.Options{})
	if err != nil || !res.OK() {
		t.Fatalf("on yubikey-5.7: %+v, %v", res.Counts, err)
	}
}

// TestReplayTraceOfSimulator replays a trace the simulator wrote itself
// (tessera sim --trace's format), which guards the importer against a
// change of the trace's fields.
func TestReplayTraceOfSimulator(t *testing.T) {
	var buf bytes.Buffer
	sim, err := simulator.New(simulator.Config{Profile: "default", Tracer: simulator.NewTracer(&buf)})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	r, err := sim.Add(simulator.CardSpec{Slot: 0})
	if err != nil {
		t.Fatal(err)
	}
	card := r.Transport()
	ctx := t.Context()
	for _, c := range []string{"00A4040005A000000308", "00FD0000", "00CB3FFF055C035FC102"} {
		if _, err := card.Transmit(ctx, h(c)); err != nil {
			t.Fatal(err)
		}
	}
	if err := card.Reset(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := card.Transmit(ctx, h("00FD0000")); err != nil {
		t.Fatal(err)
	}
	rec, err := replay.Read(&buf, "sim.jsonl", replay.FormatAuto)
	if err != nil {
		t.Fatal(err)
	}
	res, err := replay.Replay(ctx, openCard(t, "default"), rec, replay.Options{})
	if err != nil || !res.OK() || res.Counts.Exact != 4 {
		t.Fatalf("Replay() = %+v, %v; want 4 exact", res.Counts, err)
	}
}

func TestAllowlistErrors(t *testing.T) {
	for _, tc := range []struct{ name, doc, want string }{
		{"reason", "- {recording: a, exchange: 1, command: 00a40400}", "needs a reason"},
		{"exchange", "- {recording: a, exchange: 0, command: 00a40400, reason: r}", "recording and exchange"},
		{"command", "- {recording: a, exchange: 1, command: zz, reason: r}", "command must be"},
		{"sw", "- {recording: a, exchange: 1, command: 00a40400, sw: 6A, reason: r}", "four hex digits"},
		{"twice", "- {recording: a, exchange: 1, command: 00a40400, reason: r}\n- {recording: a, exchange: 1, command: 00a40400, reason: r}", "listed twice"},
		{"field", "- {recording: a, exchange: 1, command: 00a40400, reason: r, why: x}", "field why not found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := replay.ReadAllowlist(strings.NewReader(tc.doc))
			if !errors.Is(err, replay.ErrAllowlist) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("ReadAllowlist() = %v, want ErrAllowlist containing %q", err, tc.want)
			}
		})
	}
	// An entry that no longer names its recorded command is refused.
	l, err := replay.ReadAllowlist(strings.NewReader("- {recording: s, exchange: 2, command: 00fd0001, reason: r}"))
	if err != nil {
		t.Fatal(err)
	}
	rec, _ := replay.Read(strings.NewReader(samples()[replay.FormatOpenSC]), "s", replay.FormatAuto)
	if _, err := replay.Replay(t.Context(), openCard(t, "default"), rec, replay.Options{Allowlist: l}); !errors.Is(err, replay.ErrAllowlist) {
		t.Fatalf("Replay() = %v, want ErrAllowlist", err)
	}
}

// pulledOut is a card that answers its first n commands and then fails as
// a PC/SC card pulled out of its reader does.
type pulledOut struct {
	*simtarget.Card
	n int
}

func (p *pulledOut) Transmit(ctx context.Context, cmd []byte) ([]byte, error) {
	if p.n == 0 {
		return nil, fmt.Errorf("pcsc: transmitting: %w", hostdriver.ErrCardRemoved)
	}
	p.n--
	return p.Card.Transmit(ctx, cmd)
}

// TestReplayNamesTheStepATransportFailed: a real card pulled out (or reset
// by another program) in the middle of a replay stops it with an error
// naming the exchange and its line in the recording, as a differing status
// word does; before, the error said only "sending GET VERSION".
func TestReplayNamesTheStepATransportFailed(t *testing.T) {
	ctx := t.Context()
	rec := recordSession(t, ctx, "yubikey-5.7")
	for i := range rec.Steps {
		rec.Steps[i].Line = 10 * rec.Steps[i].N
	}
	res, err := replay.Replay(ctx, &pulledOut{openCard(t, "yubikey-5.7"), 2}, rec, replay.Options{})
	if !errors.Is(err, hostdriver.ErrCardRemoved) {
		t.Fatalf("Replay() error = %v, want ErrCardRemoved", err)
	}
	if want := "exchange 3 (line 30): sending "; !strings.Contains(err.Error(), want) || !strings.Contains(res.Stopped, want) {
		t.Errorf("Replay() error = %q, stopped %q, want both to say %q", err, res.Stopped, want)
	}
	if res.Counts.Exact != 2 || res.Counts.NotRun != len(rec.Steps)-2 {
		t.Errorf("Counts = %+v, want 2 exact, the rest not run", res.Counts)
	}
}
