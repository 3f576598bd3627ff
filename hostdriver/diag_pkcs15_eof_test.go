package hostdriver

import (
	"context"
	"strings"
	"testing"

	"github.com/tesseracard/tessera/apdu"
)

// TestReadFileEnd: how a card may answer a READ BINARY that asks for more
// than the file has left (ISO/IEC 7816-4 §11.3.3: 6282 "end of file
// reached before reading Ne bytes" with the bytes there are, or 6Cxx on a
// T=0 card, or 6B00 for an offset past the end); each gives the whole
// file. Before, 6282 failed the read, so diag read no PKCS#15 structure
// from a real card that answers so (our simulated one answers 9000).
func TestReadFileEnd(t *testing.T) {
	const sel, fcp = "00 A4 08 00 02 2F 00 00", "62 03 82 01 01 90 00" // a transparent EF
	full, tail := strings.Repeat("AB", 256), strings.Repeat("CD", 16)
	tests := []struct {
		name  string
		steps [][2]string
		want  string
	}{
		{"6282 with the last bytes", [][2]string{{sel, fcp}, {"00 B0 00 00 00", tail + "62 82"}}, tail},
		{"6282 at a multiple of 256", [][2]string{{sel, fcp}, {"00 B0 00 00 00", full + "90 00"}, {"00 B0 01 00 00", "62 82"}}, full},
		{"6282 after a whole piece", [][2]string{{sel, fcp}, {"00 B0 00 00 00", full + "90 00"}, {"00 B0 01 00 00", tail + "62 82"}}, full + tail},
		{"6Cxx (T=0)", [][2]string{{sel, fcp}, {"00 B0 00 00 00", full + "90 00"}, {"00 B0 01 00 00", "6C 10"}, {"00 B0 01 00 10", tail + "90 00"}}, full + tail},
		{"6B00 past the end", [][2]string{{sel, fcp}, {"00 B0 00 00 00", full + "90 00"}, {"00 B0 01 00 00", "6B 00"}}, full},
		{"short answer, 9000", [][2]string{{sel, fcp}, {"00 B0 00 00 00", tail + "90 00"}}, tail},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &script{t: t, steps: tt.steps}
			got, err := readFile(context.Background(), &Conn{T: s}, apdu.Command{P1: 0x08, Data: []byte{0x2F, 0x00}})
			if err != nil {
				t.Fatalf("readFile() error = %v", err)
			}
			if want := unhex(tt.want); string(got) != string(want) {
				t.Errorf("readFile() = %d bytes, want %d", len(got), len(want))
			}
			if s.i != len(s.steps) {
				t.Errorf("%d of %d scripted exchanges used", s.i, len(s.steps))
			}
		})
	}
}
