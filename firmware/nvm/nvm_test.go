package nvm

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
)

func TestImageRoundTrip(t *testing.T) {
	tests := []Image{
		{Generation: 0, Records: map[string][]byte{}},
		{Generation: 7, Records: map[string][]byte{"pin/80": {3, 3, 0}, "piv/obj/5fc105": bytes.Repeat([]byte{0xAB}, 3000)}},
		{Generation: 1 << 40, Records: map[string][]byte{"empty": {}, "k": nil}},
	}
	for _, img := range tests {
		raw, err := EncodeImage(img)
		if err != nil {
			t.Fatalf("EncodeImage() error = %v", err)
		}
		got, err := DecodeImage(raw)
		if err != nil {
			t.Fatalf("DecodeImage() error = %v", err)
		}
		if got.Generation != img.Generation || len(got.Records) != len(img.Records) {
			t.Fatalf("DecodeImage() = gen %d, %d records; want gen %d, %d records", got.Generation, len(got.Records), img.Generation, len(img.Records))
		}
		for k, v := range img.Records {
			if !bytes.Equal(got.Records[k], v) {
				t.Errorf("record %q = %x, want %x", k, got.Records[k], v)
			}
		}
		again, _ := EncodeImage(got)
		if !bytes.Equal(again, raw) {
			t.Errorf("re-encoding differs: canonical encoding is not stable")
		}
	}
}

func TestImageRejectsDamage(t *testing.T) {
	good, err := EncodeImage(Image{Generation: 3, Records: map[string][]byte{"a": {1}, "b": {2, 2}}})
	if err != nil {
		t.Fatal(err)
	}
	flip := func(i int) []byte { b := bytes.Clone(good); b[i] ^= 0x40; return b }
	tests := map[string][]byte{
		"empty":         nil,
		"truncated":     good[:len(good)-1],
		"bad magic":     flip(0),
		"bad version":   flip(4),
		"bad count":     flip(16),
		"bad value":     flip(len(good) - 6),
		"bad checksum":  flip(len(good) - 1),
		"trailing byte": append(bytes.Clone(good), 0),
	}
	for name, b := range tests {
		if _, err := DecodeImage(b); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: DecodeImage() error = %v, want ErrCorrupt", name, err)
		}
	}
	if _, err := EncodeImage(Image{Records: map[string][]byte{"": {1}}}); err == nil {
		t.Errorf("EncodeImage(empty key) error = nil, want error")
	}
}

func FuzzDecodeImage(f *testing.F) {
	good, _ := EncodeImage(Image{Generation: 3, Records: map[string][]byte{"a": {1}, "b": {2, 2}}})
	f.Add(good)
	f.Add([]byte("TSIM\x01"))
	f.Fuzz(func(t *testing.T, b []byte) {
		img, err := DecodeImage(b)
		if err != nil {
			return
		}
		raw, err := EncodeImage(img)
		if err != nil {
			t.Fatalf("EncodeImage(DecodeImage(b)) error = %v", err)
		}
		if !bytes.Equal(raw, b) {
			t.Fatalf("decode/encode round trip changed the image")
		}
		if !bytes.Equal(referenceEncode(img), b) {
			t.Fatalf("the reference encoder (encode_test.go) does not give back the image")
		}
	})
}

func TestStoreSingleWritesAndTransactions(t *testing.T) {
	var m Memory
	s, err := Open(&m, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Put("counter", []byte{3}); err != nil {
		t.Fatal(err)
	}
	tx, err := s.Begin()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Begin(); !errors.Is(err, ErrTxActive) {
		t.Errorf("second Begin() error = %v, want ErrTxActive", err)
	}
	tx.Put("a", []byte("A"))
	tx.Put("b", []byte("B"))
	// A single write during the transaction goes through alone.
	if err := s.Put("counter", []byte{2}); err != nil {
		t.Fatal(err)
	}
	reopened, _ := Open(&m, Options{})
	if _, ok := reopened.Get("a"); ok {
		t.Errorf("staged record visible on the medium before Commit")
	}
	if v, _ := reopened.Get("counter"); !bytes.Equal(v, []byte{2}) {
		t.Errorf("counter on medium = %x, want 02", v)
	}
	if v, ok := tx.Get("a"); !ok || string(v) != "A" {
		t.Errorf("tx.Get(a) = %q, %v; want A, true", v, ok)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := tx.Put("c", nil); !errors.Is(err, ErrTxDone) {
		t.Errorf("Put after Commit error = %v, want ErrTxDone", err)
	}
	reopened, _ = Open(&m, Options{})
	for k, want := range map[string]string{"a": "A", "b": "B", "counter": "\x02"} {
		if v, _ := reopened.Get(k); string(v) != want {
			t.Errorf("after commit %s = %q, want %q", k, v, want)
		}
	}
	tx, _ = s.Begin()
	tx.Delete("a")
	tx.Put("z", []byte("Z"))
	tx.Abort()
	if _, ok := s.Get("a"); !ok {
		t.Errorf("Abort lost record a")
	}
	if _, ok := s.Get("z"); ok {
		t.Errorf("Abort kept staged record z")
	}
	if got, want := s.Keys(""), []string{"a", "b", "counter"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Keys() = %v, want %v", got, want)
	}
}

func TestStoreCapacity(t *testing.T) {
	var m Memory
	s, _ := Open(&m, Options{Capacity: 20})
	if err := s.Put("k", make([]byte, 10)); err != nil {
		t.Fatal(err)
	}
	before, _ := m.Load()
	if err := s.Put("big", make([]byte, 10)); !errors.Is(err, ErrCapacity) {
		t.Fatalf("Put over capacity error = %v, want ErrCapacity", err)
	}
	tx, _ := s.Begin()
	tx.Put("x", make([]byte, 5))
	tx.Put("y", make([]byte, 5))
	if err := tx.Commit(); !errors.Is(err, ErrCapacity) {
		t.Fatalf("Commit over capacity error = %v, want ErrCapacity", err)
	}
	after, _ := m.Load()
	if !bytes.Equal(before, after) {
		t.Errorf("a refused write changed the medium")
	}
	if _, ok := s.Get("x"); ok {
		t.Errorf("refused transaction left record x")
	}
	// Shrinking is always allowed.
	if err := s.Put("k", make([]byte, 2)); err != nil {
		t.Errorf("shrinking Put error = %v", err)
	}
}

func TestTearableCutsAfterK(t *testing.T) {
	for k := 0; k < 3; k++ {
		var mem Memory
		tm := NewTearable(&mem)
		s, _ := Open(tm, Options{})
		tm.CutAfter(k)
		var err error
		n := 0
		for ; n < 5; n++ {
			if err = s.Put("n", []byte{byte(n)}); err != nil {
				break
			}
		}
		if n != k || !errors.Is(err, ErrPowerLost) || !tm.Torn() {
			t.Errorf("CutAfter(%d): %d writes then %v (torn %v), want %d then ErrPowerLost", k, n, err, tm.Torn(), k)
		}
		if err := s.Put("n", nil); !errors.Is(err, ErrPowerLost) {
			t.Errorf("write after the cut error = %v, want ErrPowerLost", err)
		}
		if v, _ := s.Get("n"); k > 0 && v[0] != byte(k-1) {
			t.Errorf("store adopted a write that failed: n = %d, want %d", v[0], k-1)
		}
		tm.Restore()
		if err := s.Put("n", []byte{9}); err != nil {
			t.Errorf("write after Restore error = %v", err)
		}
		if tm.Saves() != k+1 {
			t.Errorf("Saves() = %d, want %d", tm.Saves(), k+1)
		}
	}
}

// failing is a Medium whose writes fail, as a full disk's do.
type failing struct{ Memory }

func (*failing) Save([]byte) error { return errors.New("no space left on device") }

func TestMediumFailureIsTypedAndAdoptsNothing(t *testing.T) {
	s, _ := Open(&failing{}, Options{})
	if err := s.Put("k", []byte{1}); !errors.Is(err, ErrMedium) {
		t.Errorf("Put on a failing medium error = %v, want ErrMedium", err)
	}
	if _, ok := s.Get("k"); ok {
		t.Errorf("a failed write was adopted")
	}
}
