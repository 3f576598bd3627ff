package firmware

import (
	"bytes"
	"testing"

	"github.com/tesseracard/tessera/apdu"
	"github.com/tesseracard/tessera/firmware/nvm"
)

// TestNoCapacityFillsTo6A84: a card configured with capacity 0 (a profile's
// "capacity: 0") takes the card OS's largest capacity. PUT DATA ever larger
// fills it until the card answers 6A84 (not 6F00 at the image limit); the
// refused write leaves persistent memory untouched and the card works on.
func TestNoCapacityFillsTo6A84(t *testing.T) {
	cfg := testConfig(&nvm.Memory{})
	cfg.Capacity = 0
	cfg.ExtendedLength = true
	cfg.MaxCommand = 1 << 16
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.PowerOn(); err != nil {
		t.Fatal(err)
	}
	if got := c.Store().Capacity(); got != nvm.MaxCapacity {
		t.Errorf("Capacity() = %d, want nvm.MaxCapacity %d", got, nvm.MaxCapacity)
	}
	expectSW(t, c, selectTest, apdu.SWSuccess)
	expectSW(t, c, verifyRight, apdu.SWSuccess)
	// PUT DATA P1 FF writes 256 copies of its data: from 512 KiB to 16 MiB.
	last := []byte("factory")
	refused := false
	for _, size := range []int{2 << 10, 4 << 10, 8 << 10, 16 << 10, 32 << 10, 0xFFFF} {
		if refused {
			break
		}
		data := bytes.Repeat([]byte{byte(size >> 10)}, size)
		raw, err := apdu.Command{INS: 0xDB, P1: 0xFF, Data: data}.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		before, _ := cfg.Medium.Load()
		switch _, sw := sendRaw(t, c, raw); sw {
		case apdu.SWSuccess:
			last = data
		case apdu.SWNotEnoughMemory:
			refused = true
			if after, _ := cfg.Medium.Load(); !bytes.Equal(before, after) {
				t.Errorf("the refused PUT DATA of %d bytes × 256 changed persistent memory", len(data))
			}
		default:
			t.Fatalf("PUT DATA of %d bytes × 256: SW = %04X, want 9000 or 6A84", len(data), uint16(sw))
		}
	}
	if !refused {
		t.Fatalf("a card with capacity 0 took PUT DATA of 16 MiB: no limit below the image limit")
	}
	if got := expectSW(t, c, "00 CA 00 00 00 00 00", apdu.SWSuccess); !bytes.Equal(got, last) {
		t.Errorf("after the refusal GET DATA returned %d bytes, want the %d last written", len(got), len(last))
	}
	expectSW(t, c, "00 DB 00 00 02 AA55", apdu.SWSuccess)
	if got := expectSW(t, c, "00 CA 00 00 00", apdu.SWSuccess); !bytes.Equal(got, []byte{0xAA, 0x55}) {
		t.Errorf("GET DATA = % X, want AA 55", got)
	}
	expectSW(t, c, verifyWrong, apdu.RetriesSW(2))
	expectSW(t, c, verifyRight, apdu.SWSuccess)
}
