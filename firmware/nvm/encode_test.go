package nvm

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	mrand "math/rand/v2"
	"path/filepath"
	"slices"
	"sort"
	"testing"
)

// referenceEncode is the image encoder as it was before the Store kept its
// keys sorted and its buffer (commit "nvm: BenchmarkPut and
// BenchmarkCommit"): every image the Store writes must be byte for byte
// what it made of the same state.
func referenceEncode(img Image) []byte {
	keys := make([]string, 0, len(img.Records))
	for k := range img.Records {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	b := []byte(imageMagic)
	b = append(b, imageVersion)
	b = binary.BigEndian.AppendUint64(b, img.Generation)
	b = binary.BigEndian.AppendUint32(b, uint32(len(keys)))
	for _, k := range keys {
		v := img.Records[k]
		b = binary.BigEndian.AppendUint16(b, uint16(len(k)))
		b = append(b, k...)
		b = binary.BigEndian.AppendUint32(b, uint32(len(v)))
		b = append(b, v...)
	}
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli)))
}

// randomRecords makes up to n records with keys of 1 to 255 bytes that
// share prefixes (as the applications' do) and values of 0 to 300 bytes.
func randomRecords(r *mrand.Rand, n int) map[string][]byte {
	recs := map[string][]byte{}
	for range r.IntN(n + 1) {
		recs[randomKey(r)] = randomValue(r)
	}
	return recs
}

func randomKey(r *mrand.Rand) string {
	prefixes := []string{"", "a", "piv/obj/", "piv/key/", "pin/", "\xff", "\x00"}
	k := prefixes[r.IntN(len(prefixes))]
	for range r.IntN(6) {
		k += string(rune('0' + r.IntN(10)))
	}
	if r.IntN(20) == 0 {
		k += string(bytes.Repeat([]byte{'x'}, r.IntN(256)))
	}
	if k == "" {
		k = "k"
	}
	return k[:min(len(k), maxKeyLen)]
}

func randomValue(r *mrand.Rand) []byte {
	switch r.IntN(5) {
	case 0:
		return nil
	case 1:
		return []byte{}
	}
	v := make([]byte, r.IntN(300))
	for i := range v {
		v[i] = byte(r.Uint32())
	}
	return v
}

func TestEncodeImageMatchesReference(t *testing.T) {
	r := mrand.New(mrand.NewPCG(1, 2))
	for i := range 500 {
		img := Image{Generation: r.Uint64() >> r.IntN(64), Records: randomRecords(r, 60)}
		got, err := EncodeImage(img)
		if err != nil {
			t.Fatalf("case %d: EncodeImage() error = %v", i, err)
		}
		if want := referenceEncode(img); !bytes.Equal(got, want) {
			t.Fatalf("case %d (%d records): EncodeImage() = %x, want %x", i, len(img.Records), got, want)
		}
	}
}

// flakyMedium is a Memory whose Save fails when told to, in one of the ways
// a medium fails: a power cut, an I/O error, or a panic.
type flakyMedium struct {
	Memory
	fail string // "", "cut", "io", "panic"
}

func (f *flakyMedium) Save(image []byte) error {
	switch f.fail {
	case "cut":
		return ErrPowerLost
	case "io":
		return errors.New("input/output error")
	case "panic":
		panic("medium exploded")
	}
	return f.Memory.Save(image)
}

// storeState is everything a Store shows of its committed state.
type storeState struct {
	gen   uint64
	used  int
	saves int
	keys  []string
	recs  map[string][]byte
}

func stateOf(s *Store) storeState {
	st := storeState{gen: s.Generation(), used: s.Used(), saves: s.Saves(), keys: s.Keys(""), recs: map[string][]byte{}}
	for _, k := range st.keys {
		v, _ := s.Get(k)
		st.recs[k] = v
	}
	return st
}

func (a storeState) equal(b storeState) bool {
	if a.gen != b.gen || a.used != b.used || a.saves != b.saves || !slices.Equal(a.keys, b.keys) || len(a.recs) != len(b.recs) {
		return false
	}
	for k, v := range a.recs {
		if w, ok := b.recs[k]; !ok || !bytes.Equal(v, w) {
			return false
		}
	}
	return true
}

// TestStoreWritesMatchReference drives a Store through random Puts,
// Deletes and transactions, some of them failing in the medium, and checks
// after each that the medium holds exactly the reference encoding of a
// model of the state, that a failed write left the Store exactly as it
// was, and that Keys, Used and Get agree with the model.
func TestStoreWritesMatchReference(t *testing.T) {
	r := mrand.New(mrand.NewPCG(3, 4))
	for run := range 20 {
		m := &flakyMedium{}
		s, err := Open(m, Options{Capacity: 1 + r.IntN(40000)})
		if err != nil {
			t.Fatal(err)
		}
		model := Image{Records: map[string][]byte{}}
		var pool []string
		for range 10 + r.IntN(30) {
			pool = append(pool, randomKey(r))
		}
		pick := func() string { return pool[r.IntN(len(pool))] }
		for step := range 300 {
			m.fail = ""
			if r.IntN(6) == 0 {
				m.fail = []string{"cut", "io", "panic"}[r.IntN(3)]
			}
			next := Image{Generation: model.Generation + 1, Records: maps(model.Records)}
			before := stateOf(s)
			var err error
			op := ""
			func() {
				defer func() {
					if p := recover(); p != nil {
						err = fmt.Errorf("panic: %v", p)
						s.AbortTx()
					}
				}()
				switch r.IntN(3) {
				case 0:
					k, v := pick(), randomValue(r)
					op = fmt.Sprintf("Put(%q, %d bytes)", k, len(v))
					next.Records[k] = bytes.Clone(v)
					err = s.Put(k, v)
					clear(v) // the Store keeps its own copy
				case 1:
					k := pick()
					op = fmt.Sprintf("Delete(%q)", k)
					if _, ok := model.Records[k]; !ok {
						next = model
					}
					delete(next.Records, k)
					err = s.Delete(k)
				default:
					op = "Commit"
					tx, _ := s.Begin()
					for range 1 + r.IntN(5) {
						k := pick()
						if r.IntN(3) == 0 {
							tx.Delete(k)
							delete(next.Records, k)
						} else {
							v := randomValue(r)
							tx.Put(k, v)
							next.Records[k] = bytes.Clone(v)
						}
					}
					err = tx.Commit()
				}
			}()
			raw, _ := m.Load()
			if err != nil {
				if after := stateOf(s); !after.equal(before) {
					t.Fatalf("run %d step %d: %s failed (%v) and changed the Store: gen %d→%d, used %d→%d, keys %q→%q", run, step, op, err, before.gen, after.gen, before.used, after.used, before.keys, after.keys)
				}
				if model.Generation > 0 && !bytes.Equal(raw, referenceEncode(model)) {
					t.Fatalf("run %d step %d: %s failed (%v) and the medium changed", run, step, op, err)
				}
				if m.fail == "" && !errors.Is(err, ErrCapacity) {
					t.Fatalf("run %d step %d: %s error = %v on a working medium", run, step, op, err)
				}
				continue
			}
			if m.fail != "" && next.Generation != model.Generation {
				t.Fatalf("run %d step %d: %s on a failing medium (%s) succeeded", run, step, op, m.fail)
			}
			model = next
			if model.Generation == 0 {
				continue
			}
			if want := referenceEncode(model); !bytes.Equal(raw, want) {
				t.Fatalf("run %d step %d: after %s the medium holds\n%x\nwant\n%x", run, step, op, raw, want)
			}
			if s.Generation() != model.Generation || s.Used() != usage(model.Records) {
				t.Fatalf("run %d step %d: after %s Generation() = %d, Used() = %d; want %d, %d", run, step, op, s.Generation(), s.Used(), model.Generation, usage(model.Records))
			}
			var keys []string
			for k := range model.Records {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, prefix := range []string{"", "piv/", "piv/obj/", "p", "\xff", "zz"} {
				var want []string
				for _, k := range keys {
					if len(k) >= len(prefix) && k[:len(prefix)] == prefix {
						want = append(want, k)
					}
				}
				got := s.Keys(prefix)
				if !slices.Equal(got, want) {
					t.Fatalf("run %d step %d: after %s Keys(%q) = %q, want %q", run, step, op, prefix, got, want)
				}
				for i := range got {
					got[i] = "" // the caller's to change: the Store's sorted keys stay as they are
				}
			}
		}
		reopened, err := Open(&Memory{image: mustLoad(t, m)}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := stateOf(reopened), stateOf(s); !slices.Equal(got.keys, want.keys) || got.used != want.used || got.gen != want.gen {
			t.Fatalf("run %d: reopened store: gen %d, used %d, keys %q; want %d, %d, %q", run, got.gen, got.used, got.keys, want.gen, want.used, want.keys)
		}
	}
}

func maps(m map[string][]byte) map[string][]byte {
	out := make(map[string][]byte, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func mustLoad(t *testing.T, m Medium) []byte {
	t.Helper()
	raw, err := m.Load()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// TestMediaDoNotKeepTheImage: the Store encodes every write into one buffer,
// so no medium may keep the slice it is given.
func TestMediaDoNotKeepTheImage(t *testing.T) {
	file := func(t *testing.T) Medium {
		f, err := OpenFile(filepath.Join(t.TempDir(), "state"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return f
	}
	media := map[string]func(t *testing.T) Medium{
		"Memory":   func(*testing.T) Medium { return new(Memory) },
		"Tearable": func(*testing.T) Medium { return NewTearable(new(Memory)) },
		"File":     file,
		"Protected": func(t *testing.T) Medium {
			p, err := NewProtected(file(t), ProtectOptions{Rand: rand.Reader})
			if err != nil {
				t.Fatal(err)
			}
			return p
		},
	}
	for name, open := range media {
		t.Run(name, func(t *testing.T) {
			m := open(t)
			image, _ := EncodeImage(Image{Generation: 1, Records: map[string][]byte{"k": []byte("value")}})
			want := bytes.Clone(image)
			if err := m.Save(image); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(image, want) {
				t.Errorf("Save changed the image it was given")
			}
			clear(image)
			if got := mustLoad(t, m); !bytes.Equal(got, want) {
				t.Errorf("Load() after the saved slice was overwritten = %x, want %x", got, want)
			}
		})
	}
}
