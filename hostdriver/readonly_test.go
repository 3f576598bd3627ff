package hostdriver_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tesseracard/tessera/apdu"
	"github.com/tesseracard/tessera/firmware/profile"
	"github.com/tesseracard/tessera/hostdriver"
	"github.com/tesseracard/tessera/internal/cardtest"
	"github.com/tesseracard/tessera/simulator"
)

// recorder is a Transport that keeps every command that reaches it and
// passes it on to next, or answers 9000 when next is nil.
type recorder struct {
	next hostdriver.Transport
	sent [][]byte
}

func (r *recorder) Transmit(ctx context.Context, cmd []byte) ([]byte, error) {
	r.sent = append(r.sent, bytes.Clone(cmd))
	if r.next == nil {
		return []byte{0x90, 0x00}, nil
	}
	return r.next.Transmit(ctx, cmd)
}

// TestReadOnlyRefuses: every instruction outside ReadOnlyINS (in every
// APDU case), VERIFY with data or P1 FF, chained commands, proprietary,
// reserved and secure-messaging classes and malformed bytes are refused
// with ErrNotReadOnly, and nothing reaches the card.
func TestReadOnlyRefuses(t *testing.T) {
	type refusal struct {
		name string
		cmd  string
		want string // in the error message
	}
	var tests []refusal
	for ins := range 256 {
		if slices.Contains(hostdriver.ReadOnlyINS(), byte(ins)) {
			continue
		}
		want := fmt.Sprintf("instruction %02X", ins)
		for _, shape := range []string{"", " 00", " 03 01 02 03", " 03 01 02 03 00", " 00 00 03 01 02 03"} {
			tests = append(tests, refusal{fmt.Sprintf("INS %02X%s", ins, shape), fmt.Sprintf("00 %02X 00 00%s", ins, shape), want})
		}
		// In a read-only class variation, too.
		tests = append(tests, refusal{fmt.Sprintf("INS %02X channel 1", ins), fmt.Sprintf("01 %02X 00 00 00", ins), want})
	}
	tests = append(tests, []refusal{
		{"VERIFY with a PIN", "00 20 00 80 08 31 32 33 34 35 36 FF FF", "VERIFY (20) with data"},
		{"VERIFY with a PIN and Le", "00 20 00 80 08 31 32 33 34 35 36 FF FF 00", "VERIFY (20) with data"},
		{"VERIFY with a PIN, extended", "00 20 00 80 00 00 08 31 32 33 34 35 36 FF FF", "VERIFY (20) with data"},
		{"VERIFY with one byte", "00 20 00 01 01 00", "VERIFY (20) with data"},
		{"VERIFY reset (P1 FF)", "00 20 FF 80", "VERIFY (20) with P1 FF"},
		{"GET DATA (CA) with data", "00 CA 00 6E 02 5C 00", "GET DATA (CA) with data"},
		{"GET DATA (CA) with data and Le", "00 CA 3F FF 03 5C 01 7E 00", "GET DATA (CA) with data"},
		{"READ RECORD with data", "00 B2 01 04 02 5C 00", "READ RECORD (B2) with data"},
		{"proprietary READ RECORD", "80 B2 01 04 00", "class 80"},
		{"READ CONFIG without the management application", "00 1D 00 00 00", "right after SELECT of the YubiKey management application"},
		{"chained GET DATA (CA)", "10 CA 00 6E 00", "class 10"},
		{"chained SELECT", "10 A4 04 00 05 A0 00 00 03 08", "class 10"},
		{"chained VERIFY", "10 20 00 80 04 31 32 33 34", "class 10"},
		{"chained PUT DATA", "10 DB 3F FF 03 5C 01 7E", "instruction DB"},
		{"chained GET DATA, further class", "50 CB 3F FF 05 5C 03 5F C1 05", "class 50"},
		{"proprietary GET DATA", "80 CB 3F FF 05 5C 03 5F C1 05 00", "class 80"},
		{"proprietary SELECT with MAC", "84 A4 04 00 05 A0 00 00 03 08", "class 84"},
		{"proprietary VERIFY", "80 20 00 80", "class 80"},
		{"proprietary READ BINARY", "A0 B0 00 00 00", "class A0"},
		{"class FF", "FF A4 00 00 00", "class FF"},
		{"reserved class", "20 CB 3F FF 00", "class 20"},
		{"secure messaging", "0C A4 04 00 05 A0 00 00 03 08", "class 0C"},
		{"proprietary secure messaging", "04 B0 00 00 00", "class 04"},
		{"secure messaging, further class", "60 CB 3F FF 00", "class 60"},
		{"empty", "", "command"},
		{"three bytes", "00 A4 04", "command"},
		{"Lc past the end", "00 A4 04 00 05 A0 00", "command"},
		{"bytes after Le", "00 B0 00 00 02 01 02 00 00", "command"},
		{"short extended length", "00 CB 00 00 00 01", "command"},
	}...)
	for _, tt := range tests {
		rec := &recorder{}
		resp, err := hostdriver.ReadOnly(rec).Transmit(context.Background(), cardtest.Hex(tt.cmd))
		if !errors.Is(err, hostdriver.ErrNotReadOnly) || resp != nil {
			t.Errorf("%s: Transmit(%s) = % X, %v; want ErrNotReadOnly", tt.name, tt.cmd, resp, err)
			continue
		}
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %q does not say %q", tt.name, err, tt.want)
		}
		if strings.Contains(err.Error(), "31 32") || strings.Contains(err.Error(), "123") {
			t.Errorf("%s: error %q shows the data field", tt.name, err)
		}
		if len(rec.sent) != 0 {
			t.Errorf("%s: % X reached the card", tt.name, rec.sent)
		}
	}
}

// TestReadOnlyLetsReadsThrough: the commands diag sends reach the card
// byte for byte, on any logical channel, and the card's answer comes back.
func TestReadOnlyLetsReadsThrough(t *testing.T) {
	for _, cmd := range []string{
		"00 A4 04 00 05 A0 00 00 03 08 00",
		"00 A4 08 00 04 50 15 50 32 00",
		"00 CB 3F FF 05 5C 03 5F C1 05 00",
		"00 C0 00 00 10",
		"00 FD 00 00 00",
		"00 F8 00 00 00",
		"00 F7 00 9A 00",
		"00 B0 01 00 00",
		"00 B0 00 00 00 01 00",
		"00 B2 01 04 00",
		"00 20 00 80",
		"00 20 00 80 00",
		"00 CA 00 6E 00",
		"00 CA 5F 50",
		"00 CA 00 C4 00",
		"03 CB 3F FF 05 5C 03 5F C1 05 00",
		"4F A4 04 00 05 A0 00 00 03 08",
	} {
		rec := &recorder{}
		resp, err := hostdriver.ReadOnly(rec).Transmit(context.Background(), cardtest.Hex(cmd))
		if err != nil || !bytes.Equal(resp, []byte{0x90, 0x00}) {
			t.Errorf("Transmit(%s) = % X, %v; want 90 00", cmd, resp, err)
		}
		if len(rec.sent) != 1 || !bytes.Equal(rec.sent[0], cardtest.Hex(cmd)) {
			t.Errorf("Transmit(%s): the card got % X", cmd, rec.sent)
		}
	}
	rec := &recorder{}
	if ro := hostdriver.ReadOnly(rec); hostdriver.ReadOnly(ro) != ro {
		t.Errorf("ReadOnly(ReadOnly(t)) wraps twice")
	}
}

// TestReadOnlyConnFollowsTheCard: a Conn over ReadOnly still fetches a
// long object through GET RESPONSE and sends again after 6Cxx, against a
// card that answers 6Cxx instead of 61xx (quirk sw-6cxx); and Diagnose of
// that card, through ReadOnly, reads the 9A certificate and the long F9
// attestation certificate.
func TestReadOnlyConnFollowsTheCard(t *testing.T) {
	// Wire-level quirks live in the simulator's reader: a profile file.
	path := filepath.Join(t.TempDir(), "sw-6cxx.yaml")
	if err := os.WriteFile(path, []byte("base: default\nname: sw-6cxx\nquirks: ["+profile.QuirkSW6Cxx+"]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	sim, err := simulator.New(simulator.Config{Profile: path})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	reader, err := sim.Add(simulator.CardSpec{Slot: 0})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := reader.Transport().Reset(ctx); err != nil {
		t.Fatal(err)
	}
	atr, err := reader.Transport().ATR(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{next: reader.Transport()}
	c := &hostdriver.Conn{T: hostdriver.ReadOnly(rec)}
	if _, err := c.Do(ctx, apdu.Command{INS: 0xA4, P1: 0x04, Data: []byte{0xA0, 0, 0, 3, 8}}); err != nil {
		t.Fatal(err)
	}
	att, err := c.Do(ctx, apdu.Command{INS: 0xCB, P1: 0x3F, P2: 0xFF, Data: []byte{0x5C, 0x03, 0x5F, 0xFF, 0x01}}) // no Le: the card asks for one
	if err != nil || len(att) <= 256 {
		t.Fatalf("GET DATA 5FFF01 = %d bytes, %v; want the whole object past 256 bytes", len(att), err)
	}
	var resent, fetched bool
	for i, cmd := range rec.sent {
		resent = resent || i > 0 && cmd[1] == 0xCB && bytes.Equal(cmd[:len(cmd)-1], rec.sent[i-1][:len(cmd)-1])
		fetched = fetched || cmd[1] == 0xC0
	}
	if !resent || !fetched {
		t.Errorf("sent % X: want GET DATA sent again after 6Cxx (%v) and GET RESPONSE (%v)", rec.sent, resent, fetched)
	}
	r, err := hostdriver.Diagnose(ctx, c, atr, hostdriver.DiagOptions{Now: now})
	if err != nil {
		t.Fatalf("Diagnose through ReadOnly: %v", err)
	}
	if r.PIV == nil || len(r.PIV.Certificates) != 1 || r.PIV.Certificates[0].Slot != "F9" || r.PIV.Certificates[0].ParseError != "" {
		t.Errorf("Diagnose through ReadOnly: PIV %+v, want the F9 attestation certificate read whole", r.PIV)
	}
}

// TestDiagnoseCannotBypassReadOnly: Diagnose given a bare transport still
// sends through ReadOnly. A token whose ODF names a directory file by a
// 300-byte path would have the Conn chain a SELECT (chain parts are not
// whole commands, so ReadOnly refuses them): the chain never reaches the
// card, and the rest of the report is read as usual.
func TestDiagnoseCannotBypassReadOnly(t *testing.T) {
	card, _, atr := newCard(t, "iso-token")
	long := apdu.AppendTLV(nil, 0xA4, apdu.AppendTLV(nil, 0x30, apdu.AppendTLV(nil, 0x04, append([]byte{0x3F, 0x00}, bytes.Repeat([]byte{0x50, 0x15}, 150)...))))
	personalise(t, card, tokenInfo, long)
	if _, err := card.Reset(); err != nil {
		t.Fatal(err)
	}
	rec := &recorder{next: cardTransport{card}}
	r, err := hostdriver.Diagnose(context.Background(), &hostdriver.Conn{T: rec}, atr, hostdriver.DiagOptions{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	for _, cmd := range rec.sent {
		if cmd[0]&apdu.CLAChaining != 0 {
			t.Errorf("a chained command reached the card: %02X %02X %02X %02X ... (%d bytes)", cmd[0], cmd[1], cmd[2], cmd[3], len(cmd))
		}
	}
	if r.ISO == nil || r.ISO.PKCS15 == nil || r.ISO.PKCS15.Objects["private_keys"] != 2 || r.ISO.PKCS15.Objects["auth_objects"] != 1 {
		t.Errorf("ISO report %+v: want the PKCS#15 objects of the readable directory files", r.ISO)
	}
}
