package nvm

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func mustOpenFile(t *testing.T, path string) *File {
	t.Helper()
	m, err := OpenFile(path)
	if err != nil {
		t.Fatalf("OpenFile(%s) error = %v", path, err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func TestFileSaveLoadReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "card.state")
	m := mustOpenFile(t, path)
	if got, err := m.Load(); got != nil || err != nil {
		t.Fatalf("Load() of a new file = %x, %v; want nil, nil", got, err)
	}
	for i := range 5 {
		if err := m.Save([]byte(fmt.Sprintf("image-%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	m.Close()
	m2 := mustOpenFile(t, path)
	if got, _ := m2.Load(); string(got) != "image-4" {
		t.Errorf("Load() after reopen = %q, want image-4", got)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Errorf("state file mode = %v, want 0600", st.Mode().Perm())
	}
}

func TestFileLockedAgainstSecondOpener(t *testing.T) {
	path := filepath.Join(t.TempDir(), "card.state")
	m := mustOpenFile(t, path)
	if err := m.Save([]byte("x")); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenFile(path); !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), path) {
		t.Errorf("second OpenFile error = %v, want ErrLocked naming %s", err, path)
	}
}

func TestFileCompacts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "card.state")
	m := mustOpenFile(t, path)
	img := bytes.Repeat([]byte{0x5A}, 100<<10)
	for i := range 40 {
		img[0] = byte(i)
		if err := m.Save(img); err != nil {
			t.Fatal(err)
		}
	}
	st, _ := os.Stat(path)
	if st.Size() > compactMin+int64(len(img))+frameHeader+journalHeader {
		t.Errorf("journal is %d bytes after 40 saves of %d; compaction did not run", st.Size(), len(img))
	}
	m.Close()
	if got, _ := mustOpenFile(t, path).Load(); !bytes.Equal(got, img) {
		t.Errorf("Load() after compaction returned a different image")
	}
}

// journalOf builds a journal file's bytes holding the given images.
func journalOf(images ...[]byte) []byte {
	b := append([]byte(journalMagic), journalVersion, 0, 0, 0)
	for _, img := range images {
		b = appendFrame(b, img)
	}
	return b
}

// TestFileEveryTornPrefix cuts a journal at every byte, as a power cut during
// the last append would, and checks each prefix loads as the old or new image.
func TestFileEveryTornPrefix(t *testing.T) {
	old, next := []byte("old image, committed"), []byte("new image, being appended")
	full := journalOf(old, next)
	base := len(journalOf(old))
	for cut := base; cut <= len(full); cut++ {
		for _, zeroFill := range []bool{false, true} {
			data := bytes.Clone(full[:cut])
			if zeroFill { // the file system grew the file but the data never arrived
				data = append(data, make([]byte, len(full)-cut)...)
			}
			got, end, err := scanJournal(data)
			want := old
			if cut == len(full) {
				want = next
			}
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("cut at %d (zero fill %v): got %q, %v; want %q", cut, zeroFill, got, err, want)
			}
			wantEnd := int64(base)
			if cut == len(full) {
				wantEnd = int64(len(full))
			}
			if end != wantEnd {
				t.Fatalf("cut at %d: end = %d, want %d", cut, end, wantEnd)
			}
		}
	}
	// A torn payload: complete length, garbage where the data should be.
	torn := bytes.Clone(full)
	torn[len(torn)-1] ^= 1
	if got, _, err := scanJournal(torn); err != nil || !bytes.Equal(got, old) {
		t.Errorf("torn last payload: got %q, %v; want old image", got, err)
	}
}

func TestFileCorruptionIsAnErrorNamingTheFile(t *testing.T) {
	a, b := []byte("first image"), []byte("second image")
	good := journalOf(a, b)
	mid := bytes.Clone(good)
	mid[journalHeader+frameHeader+2] ^= 0xFF // inside the first payload, with a frame after it
	hdr := bytes.Clone(good)
	hdr[journalHeader+1] ^= 0xFF // the first frame's length
	tests := map[string][]byte{
		"empty file":        {},
		"header only":       journalOf(),
		"bad magic":         append([]byte("XXXX"), good[4:]...),
		"bad version":       append(append([]byte(journalMagic), 9), good[5:]...),
		"payload bit flip":  mid,
		"length field flip": hdr,
		"truncated to 3":    good[:3],
		"random bytes":      bytes.Repeat([]byte{0xA5}, 100),
		"torn only frame":   journalOf(a)[:journalHeader+frameHeader+3],
	}
	for name, data := range tests {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "card.state")
			if err := os.WriteFile(path, data, 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := OpenFile(path)
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), path) {
				t.Errorf("OpenFile error = %v, want ErrCorrupt naming %s", err, path)
			}
		})
	}
}

func TestFileSaveCutsTornTail(t *testing.T) {
	path := filepath.Join(t.TempDir(), "card.state")
	full := journalOf([]byte("one"), []byte("two"))
	if err := os.WriteFile(path, full[:len(full)-2], 0o600); err != nil {
		t.Fatal(err)
	}
	m := mustOpenFile(t, path)
	if got, _ := m.Load(); string(got) != "one" {
		t.Fatalf("Load() = %q, want one", got)
	}
	if err := m.Save([]byte("three")); err != nil {
		t.Fatal(err)
	}
	m.Close()
	if got, _ := mustOpenFile(t, path).Load(); string(got) != "three" {
		t.Errorf("Load() after saving over a torn tail = %q, want three", got)
	}
}

func FuzzScanJournal(f *testing.F) {
	f.Add(journalOf([]byte("a"), []byte("bb")))
	f.Add(journalOf([]byte("a"))[:15])
	f.Fuzz(func(t *testing.T, data []byte) {
		last, end, err := scanJournal(data)
		if err != nil {
			return
		}
		if end > int64(len(data)) || int64(len(last)) > end {
			t.Fatalf("scanJournal() end %d, last %d bytes for %d bytes of input", end, len(last), len(data))
		}
		// The accepted prefix must rescan to the same image.
		again, _, err := scanJournal(data[:end])
		if err != nil || !bytes.Equal(again, last) {
			t.Fatalf("prefix rescan = %x, %v; want %x", again, err, last)
		}
	})
}

const killChildEnv = "TESSERA_NVM_KILL_CHILD"

// TestFileKillSafety kills a writing child process at random instants, many
// times over, and checks that every reopen yields the last acknowledged image
// or the one being written after it.
func TestFileKillSafety(t *testing.T) {
	if path := os.Getenv(killChildEnv); path != "" {
		killChild(path)
		return
	}
	rounds := 40
	if testing.Short() {
		rounds = 10
	}
	path := filepath.Join(t.TempDir(), "card.state")
	rng := rand.New(rand.NewPCG(1, 2))
	var acked uint64
	for round := range rounds {
		cmd := exec.Command(os.Args[0], "-test.run=^TestFileKillSafety$")
		cmd.Env = append(os.Environ(), killChildEnv+"="+path)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan uint64, 1024)
		go func() {
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				if n, err := strconv.ParseUint(sc.Text(), 10, 64); err == nil {
					lines <- n
				}
			}
			close(lines)
		}()
		// Let it write a while, then kill it without warning.
		deadline := time.After(time.Duration(2+rng.IntN(25)) * time.Millisecond)
	wait:
		for {
			select {
			case n, ok := <-lines:
				if !ok {
					break wait
				}
				acked = n
			case <-deadline:
				break wait
			}
		}
		cmd.Process.Signal(syscall.SIGKILL)
		for n := range lines {
			acked = n
		}
		cmd.Wait()

		m, err := OpenFile(path)
		if err != nil {
			t.Fatalf("round %d: reopen after kill: %v", round, err)
		}
		raw, err := m.Load()
		m.Close()
		if err != nil {
			t.Fatalf("round %d: Load after kill: %v", round, err)
		}
		if raw == nil {
			if acked != 0 {
				t.Fatalf("round %d: file blank after write %d was acknowledged", round, acked)
			}
			continue
		}
		img, err := DecodeImage(raw)
		if err != nil {
			t.Fatalf("round %d: image after kill: %v", round, err)
		}
		got := binary.BigEndian.Uint64(img.Records["seq"])
		if got != acked && got != acked+1 {
			t.Fatalf("round %d: image seq %d after kill, want %d (acknowledged) or %d (in flight)", round, got, acked, acked+1)
		}
		acked = got
	}
	fmt.Printf("kill test: nvm file medium survived %d kills mid-write, last image seq %d\n", rounds, acked)
}

// killChild writes images with increasing sequence numbers of varied sizes,
// printing each number once Save has returned.
func killChild(path string) {
	m, err := OpenFile(path)
	for err != nil && errors.Is(err, ErrLocked) { // the killed parent's child may linger a moment
		time.Sleep(time.Millisecond)
		m, err = OpenFile(path)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	s, err := Open(m, Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	seq := uint64(0)
	if v, ok := s.Get("seq"); ok {
		seq = binary.BigEndian.Uint64(v)
	}
	rng := rand.New(rand.NewPCG(seq, 7))
	for {
		seq++
		tx, _ := s.Begin()
		tx.Put("seq", binary.BigEndian.AppendUint64(nil, seq))
		tx.Put("filler", bytes.Repeat([]byte{byte(seq)}, rng.IntN(300<<10)))
		if err := tx.Commit(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		fmt.Println(seq)
	}
}

// TestFileLockedBeforeItExists: a File holds its lock from OpenFile, before
// its first Save creates the state file, so that two cannot both create it.
func TestFileLockedBeforeItExists(t *testing.T) {
	path := filepath.Join(t.TempDir(), "card.state")
	first := mustOpenFile(t, path)
	_, err := OpenFile(path)
	var le *LockedError
	if !errors.Is(err, ErrLocked) || !errors.As(err, &le) || !strings.Contains(err.Error(), path) {
		t.Fatalf("second OpenFile of a state file not yet created: error = %v, want ErrLocked naming %s", err, path)
	}
	if le.PID != os.Getpid() {
		t.Errorf("LockedError.PID = %d, want this process, %d", le.PID, os.Getpid())
	}
	if err := first.Save([]byte("one")); err != nil {
		t.Fatal(err)
	}
	first.Close()
	if got, _ := mustOpenFile(t, path).Load(); string(got) != "one" {
		t.Errorf("Load() after the first File closed = %q, want one", got)
	}
}

// TestFileClosedSavesNothing: Save after Close fails and creates nothing,
// since the File no longer holds the lock.
func TestFileClosedSavesNothing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "card.state")
	m := mustOpenFile(t, path)
	m.Close()
	if err := m.Save([]byte("x")); !errors.Is(err, os.ErrClosed) {
		t.Errorf("Save() after Close error = %v, want os.ErrClosed", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Save() after Close created %s (stat error %v)", path, err)
	}
}

// TestFileRewriteLeavesALockedTmpAlone: a compaction file that another
// process holds (an older Tessera mid-rewrite) is neither truncated nor
// removed.
func TestFileRewriteLeavesALockedTmpAlone(t *testing.T) {
	path := filepath.Join(t.TempDir(), "card.state")
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte("theirs"), 0o600); err != nil {
		t.Fatal(err)
	}
	theirs, err := os.OpenFile(tmp, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer theirs.Close()
	if err := lockFD(theirs); err != nil {
		t.Fatal(err)
	}
	m := mustOpenFile(t, path)
	if err := m.Save([]byte("mine")); !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), tmp) {
		t.Errorf("Save() with %s locked elsewhere: error = %v, want ErrLocked naming it", tmp, err)
	}
	if b, err := os.ReadFile(tmp); string(b) != "theirs" {
		t.Errorf("the locked %s now holds %q (%v), want it untouched", filepath.Base(tmp), b, err)
	}
}

// TestFileDirSyncFailure: when the directory cannot be synced after a
// compaction's rename, the Save fails but the File moves to the renamed
// file (the old one has no name any more), and the next Save syncs the
// directory before it reports success.
func TestFileDirSyncFailure(t *testing.T) {
	path := filepath.Join(t.TempDir(), "card.state")
	m := mustOpenFile(t, path)
	syncs, failSync := 0, true
	m.syncDir = func(dir string) error {
		syncs++
		if failSync {
			return errors.New("injected directory sync failure")
		}
		return syncDir(dir)
	}
	failSync = false
	img := bytes.Repeat([]byte{0x5A}, 100<<10)
	compacted := false
	for i := 0; !compacted; i++ {
		if i > 100 {
			t.Fatal("no compaction after 100 saves")
		}
		img[0] = byte(i)
		failSync = i > 0 // fail the first compaction, not the file's creation
		before := syncs
		err := m.Save(img)
		compacted = syncs > before && i > 0
		switch {
		case compacted && (err == nil || !strings.Contains(err.Error(), "injected directory sync failure")):
			t.Fatalf("Save() that compacted: error = %v, want the directory sync failure", err)
		case !compacted && err != nil:
			t.Fatal(err)
		}
	}
	failSync = true
	if err := m.Save([]byte("after")); err == nil {
		t.Error("Save() while the directory still cannot be synced: error = nil, want one")
	}
	failSync = false
	before := syncs
	if err := m.Save([]byte("durable")); err != nil {
		t.Fatalf("Save() once the directory syncs: %v", err)
	}
	if syncs != before+1 {
		t.Errorf("Save() after a failed directory sync synced it %d times, want 1", syncs-before)
	}
	before = syncs
	if err := m.Save([]byte("next")); err != nil || syncs != before {
		t.Errorf("the Save() after that: error %v, %d directory syncs, want nil and 0", err, syncs-before)
	}
	m.Close()
	if got, _ := mustOpenFile(t, path).Load(); string(got) != "next" {
		t.Errorf("Load() after reopen = %.20q, want the last save, next", got)
	}
}
