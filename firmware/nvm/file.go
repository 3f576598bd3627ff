package nvm

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sync"
	"syscall"
)

// Journal file format (all integers big-endian):
//
//	header: "TSRJ" | version u8 (1) | 3 reserved zero bytes
//	frame:  length u32 | crc32c(length) u32 | crc32c(payload) u32 | payload
//
// Each Save appends one frame holding a whole image and syncs the file; the
// last complete frame is the current image. A power cut during an append can
// only damage the last frame: a partial header, a payload that stops short of
// its length or fails its checksum, each possibly followed by zeros where the
// file system extended the file but the data never arrived. Such a torn tail is
// ignored on Load and cut away by the next Save. Damage anywhere else (a bad
// checksum followed by more data) cannot come from a power cut, so it is
// reported as corruption rather than silently rolled back.
//
// When the journal grows past a threshold it is compacted: the current image is
// written to a fresh file that replaces the old one by rename, after fsync of
// the file and of its directory.
const (
	journalMagic   = "TSRJ"
	journalVersion = 1
	journalHeader  = 8
	frameHeader    = 12
	// compactMin is the journal size below which it is never compacted.
	compactMin = 1 << 20
	// maxJournal bounds the file read at open, whatever its size claims.
	maxJournal = 8*MaxImageSize + compactMin
)

// File is a crash-safe Medium in one file, locked against use by a second
// process. Open it with OpenFile and Close it when done.
type File struct {
	mu   sync.Mutex
	path string
	f    *os.File // nil until the file exists
	end  int64    // offset just past the last complete frame
}

// OpenFile opens the journal at path, or prepares to create it at the first
// Save if it does not exist. The parent directory must exist. It fails, with
// an error naming the file, when the file is corrupt (wrapping ErrCorrupt) or
// locked by another process.
func OpenFile(path string) (*File, error) {
	m := &File{path: path}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if errors.Is(err, os.ErrNotExist) {
		if _, err := os.Stat(filepath.Dir(path)); err != nil {
			return nil, fmt.Errorf("nvm: opening state file: %w", err)
		}
		return m, nil
	}
	if err != nil {
		return nil, fmt.Errorf("nvm: opening state file: %w", err)
	}
	if err := lockFile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("nvm: state file %s: %w", path, err)
	}
	m.f = f
	if _, err := m.load(); err != nil {
		f.Close()
		return nil, err
	}
	return m, nil
}

// Path returns the file's path.
func (m *File) Path() string { return m.path }

// Close releases the file and its lock.
func (m *File) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.f == nil {
		return nil
	}
	err := m.f.Close()
	m.f = nil
	return err
}

// Load returns the current image, or nil if the file does not exist yet.
func (m *File) Load() ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.load()
}

func (m *File) load() ([]byte, error) {
	if m.f == nil {
		return nil, nil
	}
	st, err := m.f.Stat()
	if err != nil {
		return nil, fmt.Errorf("nvm: reading state file %s: %w", m.path, err)
	}
	if st.Size() > maxJournal {
		return nil, fmt.Errorf("%w: state file %s is %d bytes, over the %d-byte limit", ErrCorrupt, m.path, st.Size(), int64(maxJournal))
	}
	data := make([]byte, st.Size())
	if _, err := m.f.ReadAt(data, 0); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("nvm: reading state file %s: %w", m.path, err)
	}
	last, end, err := scanJournal(data)
	if err != nil {
		return nil, fmt.Errorf("state file %s: %w", m.path, err)
	}
	m.end = end
	return last, nil
}

// scanJournal returns the last complete frame's payload and the offset just
// past it. See the format comment for what counts as a torn tail.
func scanJournal(data []byte) (last []byte, end int64, err error) {
	if len(data) < journalHeader || string(data[:4]) != journalMagic {
		return nil, 0, fmt.Errorf("%w: not a Tessera state journal (bad header)", ErrCorrupt)
	}
	if data[4] != journalVersion {
		return nil, 0, fmt.Errorf("%w: unsupported journal version %d", ErrCorrupt, data[4])
	}
	off := journalHeader
	for off < len(data) {
		rest := data[off:]
		if len(rest) < frameHeader || allZero(rest) {
			break // torn tail: a partial header or a zero-filled extension
		}
		n := binary.BigEndian.Uint32(rest)
		if crc32.Checksum(rest[:4], castagnoli) != binary.BigEndian.Uint32(rest[4:]) || n == 0 || n > MaxImageSize {
			if allZero(rest[frameHeader:]) {
				break // torn tail: a header partly written over a zero-filled extension
			}
			return nil, 0, fmt.Errorf("%w: damaged frame header at offset %d", ErrCorrupt, off)
		}
		if uint64(len(rest)-frameHeader) < uint64(n) {
			break // torn tail: the payload stops short
		}
		payload := rest[frameHeader : frameHeader+int(n)]
		if crc32.Checksum(payload, castagnoli) != binary.BigEndian.Uint32(rest[8:]) {
			if allZero(rest[frameHeader+int(n):]) {
				break // torn tail: the last payload was not fully written
			}
			return nil, 0, fmt.Errorf("%w: frame at offset %d fails its checksum and is followed by %d more bytes", ErrCorrupt, off, len(rest)-frameHeader-int(n))
		}
		last = payload
		off += frameHeader + int(n)
		end = int64(off)
	}
	if last == nil {
		return nil, 0, fmt.Errorf("%w: journal holds no complete image", ErrCorrupt)
	}
	return bytes.Clone(last), end, nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

func appendFrame(dst, image []byte) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(image)))
	dst = binary.BigEndian.AppendUint32(dst, crc32.Checksum(dst[len(dst)-4:], castagnoli))
	dst = binary.BigEndian.AppendUint32(dst, crc32.Checksum(image, castagnoli))
	return append(dst, image...)
}

// Save appends image to the journal and syncs it, compacting first when the
// journal has grown large.
func (m *File) Save(image []byte) error {
	if len(image) == 0 || len(image) > MaxImageSize {
		return fmt.Errorf("nvm: saving to %s: image of %d bytes out of range", m.path, len(image))
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	size := int64(frameHeader + len(image))
	if m.f == nil || m.end+size > max(compactMin, 4*size) {
		return m.rewrite(image)
	}
	frame := appendFrame(make([]byte, 0, size), image)
	if err := m.f.Truncate(m.end); err != nil { // drop a torn tail, if any
		return fmt.Errorf("nvm: saving to %s: %w", m.path, err)
	}
	if _, err := m.f.WriteAt(frame, m.end); err != nil {
		return fmt.Errorf("nvm: saving to %s: %w", m.path, err)
	}
	if err := m.f.Sync(); err != nil {
		return fmt.Errorf("nvm: saving to %s: %w", m.path, err)
	}
	m.end += size
	return nil
}

// rewrite replaces the journal with a fresh one holding only image:
// temp file, fsync, rename, fsync directory.
func (m *File) rewrite(image []byte) (err error) {
	wrap := func(err error) error { return fmt.Errorf("nvm: saving to %s: %w", m.path, err) }
	tmp := m.path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return wrap(err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err := lockFile(f); err != nil {
		return wrap(err)
	}
	buf := make([]byte, 0, journalHeader+frameHeader+len(image))
	buf = append(buf, journalMagic...)
	buf = append(buf, journalVersion, 0, 0, 0)
	buf = appendFrame(buf, image)
	if _, err := f.Write(buf); err != nil {
		return wrap(err)
	}
	if err := f.Sync(); err != nil {
		return wrap(err)
	}
	if err := os.Rename(tmp, m.path); err != nil {
		return wrap(err)
	}
	if err := syncDir(filepath.Dir(m.path)); err != nil {
		return wrap(err)
	}
	if m.f != nil {
		m.f.Close()
	}
	m.f, m.end = f, int64(len(buf))
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// ErrLocked is returned by OpenFile when another process holds the state file.
var ErrLocked = errors.New("in use by another process")

func lockFile(f *os.File) error {
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return ErrLocked
		}
		return fmt.Errorf("locking: %w", err)
	}
	return nil
}
