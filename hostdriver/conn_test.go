package hostdriver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/tesseracard/tessera/apdu"
)

// script is a Transport that expects commands in order and gives canned
// answers; "*" matches any command.
type script struct {
	t     *testing.T
	steps [][2]string
	i     int
}

func (s *script) Transmit(_ context.Context, cmd []byte) ([]byte, error) {
	s.t.Helper()
	if s.i >= len(s.steps) {
		s.t.Fatalf("unexpected command % X after the script ended", cmd)
	}
	want, resp := s.steps[s.i][0], s.steps[s.i][1]
	s.i++
	if want != "*" && !bytes.Equal(cmd, unhex(want)) {
		s.t.Fatalf("step %d: command % X, want %s", s.i, cmd, want)
	}
	if resp == "removed" {
		return nil, fmt.Errorf("reader: %w", ErrCardRemoved)
	}
	return unhex(resp), nil
}

func TestConnExchangeRules(t *testing.T) {
	long := strings.Repeat("AB", 256)
	tests := []struct {
		name     string
		extended bool
		cmd      apdu.Command
		steps    [][2]string
		data     string
		sw       apdu.StatusWord
	}{
		{"61xx followed", false, apdu.Command{INS: 0xCB, P1: 0x3F, P2: 0xFF, Data: unhex("5C 03 5F C1 05"), Ne: 256},
			[][2]string{{"00 CB 3F FF 05 5C 03 5F C1 05 00", long + "61 10"}, {"00 C0 00 00 10", strings.Repeat("CD", 16) + "90 00"}},
			long + strings.Repeat("CD", 16), apdu.SWSuccess},
		{"61 00 means 256 more", false, apdu.Command{INS: 0xCA, Ne: 256},
			[][2]string{{"00 CA 00 00 00", "01 61 00"}, {"00 C0 00 00 00", long + "90 00"}},
			"01" + long, apdu.SWSuccess},
		{"6Cxx resent with the exact Le", false, apdu.Command{INS: 0xFD, Ne: 256},
			[][2]string{{"00 FD 00 00 00", "6C 03"}, {"00 FD 00 00 03", "05 07 01 90 00"}},
			"05 07 01", apdu.SWSuccess},
		{"T=0 GET RESPONSE asks for an exact Le", false, apdu.Command{INS: 0xCA, Ne: 256},
			[][2]string{{"00 CA 00 00 00", "61 05"}, {"00 C0 00 00 05", "6C 04"}, {"00 C0 00 00 04", "01 02 03 04 90 00"}},
			"01 02 03 04", apdu.SWSuccess},
		{"6C00 means exactly 256", false, apdu.Command{INS: 0xCA, P1: 0x5F, P2: 0xC1, Ne: 16},
			[][2]string{{"00 CA 5F C1 10", "6C 00"}, {"00 CA 5F C1 00", long + "90 00"}},
			long, apdu.SWSuccess},
		{"T=0 case 4 in several rounds", false, apdu.Command{INS: 0xCB, P1: 0x3F, P2: 0xFF, Data: unhex("5C 03 5F C1 05"), Ne: 256},
			[][2]string{{"00 CB 3F FF 05 5C 03 5F C1 05 00", "61 00"}, {"00 C0 00 00 00", long + "61 00"}, {"00 C0 00 00 00", long + "61 03"}, {"00 C0 00 00 03", "01 02 03 90 00"}},
			long + long + "01 02 03", apdu.SWSuccess},
		{"chained", false, apdu.Command{INS: 0xDB, P1: 0x3F, P2: 0xFF, Data: bytes.Repeat([]byte{0xEE}, 300)},
			[][2]string{{"10 DB 3F FF FF " + strings.Repeat("EE", 255), "90 00"}, {"00 DB 3F FF 2D " + strings.Repeat("EE", 45), "90 00"}},
			"", apdu.SWSuccess},
		{"chain refused", false, apdu.Command{INS: 0xDB, P1: 0x3F, P2: 0xFF, Data: bytes.Repeat([]byte{0xEE}, 300)},
			[][2]string{{"*", "68 84"}},
			"", apdu.SWChainingNotSupported},
		{"extended when allowed", true, apdu.Command{INS: 0xDB, P1: 0x3F, P2: 0xFF, Data: bytes.Repeat([]byte{0xEE}, 300)},
			[][2]string{{"00 DB 3F FF 00 01 2C " + strings.Repeat("EE", 300), "90 00"}},
			"", apdu.SWSuccess},
		{"error status passes through", false, apdu.Command{INS: 0x20, P2: 0x80},
			[][2]string{{"00 20 00 80", "63 C2"}},
			"", apdu.RetriesSW(2)},
	}
	for _, tt := range tests {
		s := &script{t: t, steps: tt.steps}
		c := &Conn{T: s, ExtendedLength: tt.extended}
		r, err := c.Transmit(context.Background(), tt.cmd)
		if err != nil {
			t.Errorf("%s: Transmit() error = %v", tt.name, err)
			continue
		}
		if got, want := fmt.Sprintf("% X", r.Data), fmt.Sprintf("% X", unhex(tt.data)); got != want || r.SW != tt.sw {
			t.Errorf("%s: got %s %04X, want %s %04X", tt.name, got, uint16(r.SW), want, uint16(tt.sw))
		}
		if s.i != len(s.steps) {
			t.Errorf("%s: %d of %d scripted exchanges used", tt.name, s.i, len(s.steps))
		}
	}
}

func TestConnErrors(t *testing.T) {
	ctx := context.Background()
	c := &Conn{T: &script{t: t, steps: [][2]string{{"*", "63 C1"}}}}
	_, err := c.Do(ctx, apdu.Command{INS: 0x20, P2: 0x80, Data: []byte("000000")})
	var ae *apdu.AuthError
	if !errors.As(err, &ae) || ae.Retries != 1 {
		t.Errorf("Do(wrong PIN) error = %v, want AuthError{1}", err)
	}
	c = &Conn{T: &script{t: t, steps: [][2]string{{"*", "removed"}}}}
	if _, err := c.Do(ctx, apdu.Command{INS: 0xFD}); !errors.Is(err, ErrCardRemoved) {
		t.Errorf("Do on a removed card error = %v, want ErrCardRemoved", err)
	}
	c = &Conn{T: &script{t: t, steps: [][2]string{{"*", "90"}}}}
	if _, err := c.Do(ctx, apdu.Command{INS: 0xFD}); err == nil {
		t.Errorf("Do with a one-byte answer: no error")
	}
	endless := make([][2]string, maxGetResponses+1)
	for i := range endless {
		endless[i] = [2]string{"*", "00 61 01"}
	}
	c = &Conn{T: &script{t: t, steps: endless}}
	if _, err := c.Do(ctx, apdu.Command{INS: 0xCA}); err == nil || !strings.Contains(err.Error(), "GET RESPONSE") {
		t.Errorf("endless 61xx error = %v, want a bound", err)
	}
}
