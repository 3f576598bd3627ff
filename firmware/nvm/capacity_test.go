package nvm

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
)

func TestOpenCapacity(t *testing.T) {
	tests := []struct {
		asked, want int
	}{
		{0, MaxCapacity}, // "no limit": the most the card OS allows
		{-1, MaxCapacity},
		{MaxCapacity + 1, MaxCapacity},
		{1 << 30, MaxCapacity},
		{MaxCapacity, MaxCapacity},
		{512 << 10, 512 << 10},
	}
	for _, tt := range tests {
		s, err := Open(&Memory{}, Options{Capacity: tt.asked})
		if err != nil {
			t.Fatal(err)
		}
		if got := s.Capacity(); got != tt.want {
			t.Errorf("Open(Capacity %d).Capacity() = %d, want %d", tt.asked, got, tt.want)
		}
	}
}

// TestMaxCapacityFitsAnImage: a store filled to MaxCapacity with the
// smallest records (a 1-byte key, no value: 7 bytes of image for each byte
// counted) still encodes within MaxImageSize, with room for an envelope.
func TestMaxCapacityFitsAnImage(t *testing.T) {
	if worst := imageHeader + imageTrailer + 7*MaxCapacity; worst > MaxImageSize/2 {
		t.Errorf("a full store can take %d bytes of image, over half the %d-byte limit", worst, MaxImageSize)
	}
}

// TestUnlimitedStoreFillsToMaxCapacity: a store opened with no capacity
// refuses, with ErrCapacity, the write that would take it past
// MaxCapacity, keeps nothing of it, and goes on working.
func TestUnlimitedStoreFillsToMaxCapacity(t *testing.T) {
	var m Memory
	s, err := Open(&m, Options{})
	if err != nil {
		t.Fatal(err)
	}
	chunk := bytes.Repeat([]byte{0xA5}, 256<<10)
	var refused error
	for i := 0; refused == nil && i < 4*MaxCapacity/len(chunk); i++ {
		before, _ := m.Load()
		used := s.Used()
		if refused = s.Put(fmt.Sprintf("obj/%03d", i), chunk); refused == nil {
			continue
		}
		if after, _ := m.Load(); !bytes.Equal(before, after) || s.Used() != used {
			t.Errorf("the refused Put changed the store (used %d, then %d)", used, s.Used())
		}
		if _, ok := s.Get(fmt.Sprintf("obj/%03d", i)); ok {
			t.Errorf("the refused Put left its record")
		}
	}
	if !errors.Is(refused, ErrCapacity) {
		t.Fatalf("filling a store opened without a capacity: %v, want ErrCapacity", refused)
	}
	if s.Used() > MaxCapacity {
		t.Errorf("Used() = %d, over MaxCapacity %d", s.Used(), MaxCapacity)
	}
	if err := s.Delete("obj/000"); err != nil {
		t.Fatalf("Delete after the refusal: %v", err)
	}
	if err := s.Put("small", []byte("still works")); err != nil {
		t.Fatalf("Put after the refusal: %v", err)
	}
	if v, ok := s.Get("small"); !ok || string(v) != "still works" {
		t.Errorf("Get(small) = %q, %v", v, ok)
	}
}

// TestOversizedStoreOpens: state written when capacity 0 meant no limit
// may hold more than MaxCapacity. It opens, every record intact; writes
// that shrink it are allowed and writes that grow it are refused.
func TestOversizedStoreOpens(t *testing.T) {
	img := Image{Generation: 9, Records: map[string][]byte{}}
	big := bytes.Repeat([]byte{0x5A}, 1<<20)
	for i := range MaxCapacity/len(big) + 2 {
		img.Records[fmt.Sprintf("obj/%d", i)] = big
	}
	raw, err := EncodeImage(img)
	if err != nil {
		t.Fatal(err)
	}
	var m Memory
	if err := m.Save(raw); err != nil {
		t.Fatal(err)
	}
	for _, capacity := range []int{0, 512 << 10} {
		s, err := Open(&m, Options{Capacity: capacity})
		if err != nil {
			t.Fatalf("Open(Capacity %d) of a store over MaxCapacity: %v", capacity, err)
		}
		if s.Used() <= s.Capacity() || len(s.Keys("obj/")) != len(img.Records) {
			t.Fatalf("Open(Capacity %d): used %d of %d, %d records; want every record, over capacity", capacity, s.Used(), s.Capacity(), len(s.Keys("obj/")))
		}
	}
	s, _ := Open(&m, Options{})
	if err := s.Put("new", []byte{1}); !errors.Is(err, ErrCapacity) {
		t.Errorf("growing Put on an over-capacity store: %v, want ErrCapacity", err)
	}
	if err := s.Put("obj/0", big[:10]); err != nil {
		t.Errorf("shrinking Put on an over-capacity store: %v", err)
	}
	if err := s.Delete("obj/1"); err != nil {
		t.Errorf("Delete on an over-capacity store: %v", err)
	}
}
