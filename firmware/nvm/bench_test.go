package nvm

import (
	"fmt"
	"testing"
)

// benchStore returns a store on a Memory medium holding n records of 32
// bytes each under keys shaped like the applications' ("app/obj/%04d").
func benchStore(b *testing.B, n int) *Store {
	b.Helper()
	s, err := Open(new(Memory), Options{})
	if err != nil {
		b.Fatal(err)
	}
	tx, err := s.Begin()
	if err != nil {
		b.Fatal(err)
	}
	val := make([]byte, 32)
	for i := range n {
		if err := tx.Put(fmt.Sprintf("app/obj/%04d", i), val); err != nil {
			b.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	return s
}

// BenchmarkPut is one durable Put of a small record that already exists
// (a try counter, a signature counter) into stores of 10, 100 and 1000
// records: the common path of a card's writes.
func BenchmarkPut(b *testing.B) {
	for _, n := range []int{10, 100, 1000} {
		b.Run(fmt.Sprintf("records=%d", n), func(b *testing.B) {
			s := benchStore(b, n)
			val := []byte{0, 0, 1}
			b.ReportAllocs()
			for b.Loop() {
				val[2]++
				if err := s.Put("app/obj/0000", val); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkCommit is a transaction of two small records, one new and one
// deleted, into stores of 10, 100 and 1000 records: the path that changes
// the set of keys.
func BenchmarkCommit(b *testing.B) {
	for _, n := range []int{10, 100, 1000} {
		b.Run(fmt.Sprintf("records=%d", n), func(b *testing.B) {
			s := benchStore(b, n)
			keys := [2]string{"app/new/a", "app/new/b"}
			i := 0
			b.ReportAllocs()
			for b.Loop() {
				tx, err := s.Begin()
				if err != nil {
					b.Fatal(err)
				}
				tx.Put(keys[i%2], []byte{1, 2, 3})
				tx.Delete(keys[(i+1)%2])
				if err := tx.Commit(); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}
