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
//
// The lock is a lock file beside it, the state file's name plus ".lock",
// held from OpenFile to Close whether or not the state file exists yet. The
// state file itself is locked too, as Tessera did before lock files, so that
// a running older Tessera and this one still exclude each other.
type File struct {
	mu   sync.Mutex
	path string
	lock *Lock    // nil once closed
	f    *os.File // nil until the file exists
	end  int64    // offset just past the last complete frame
	// dirPending: the last compaction renamed a new file into place but the
	// directory could not be synced, so the new name may not survive a
	// power cut; the next Save syncs it before it reports success.
	dirPending bool
	// syncDir syncs a directory; tests replace it to inject failures.
	syncDir func(dir string) error
}

// lockSuffix names a state file's lock file: path + lockSuffix.
const lockSuffix = ".lock"

// OpenFile opens the journal at path, or prepares to create it at the first
// Save if it does not exist. The parent directory must exist. It fails, with
// an error naming the file, when the file is corrupt (wrapping ErrCorrupt) or
// in use by another process or another File (wrapping a *LockedError, which
// matches ErrLocked).
func OpenFile(path string) (*File, error) {
	lock, err := AcquireLock(path + lockSuffix)
	if errors.Is(err, ErrLocked) {
		return nil, fmt.Errorf("nvm: state file %s: %w", path, err)
	}
	if err != nil {
		return nil, err // it names the lock file, beside the state file
	}
	m := &File{path: path, lock: lock, syncDir: syncDir}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if errors.Is(err, os.ErrNotExist) {
		return m, nil
	}
	if err != nil {
		lock.Release()
		return nil, fmt.Errorf("nvm: opening state file: %w", err)
	}
	if err := lockFD(f); err != nil {
		f.Close()
		lock.Release()
		if errors.Is(err, ErrLocked) {
			err = &LockedError{Path: path}
		}
		return nil, fmt.Errorf("nvm: state file %s: %w", path, err)
	}
	m.f = f
	if _, err := m.load(); err != nil {
		f.Close()
		lock.Release()
		return nil, err
	}
	return m, nil
}

// Path returns the file's path.
func (m *File) Path() string { return m.path }

// Close releases the file and its lock. A closed File saves nothing.
func (m *File) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	var err error
	if m.f != nil {
		err = m.f.Close()
		m.f = nil
	}
	if m.lock != nil {
		err = errors.Join(err, m.lock.Release())
		m.lock = nil
	}
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
	if m.lock == nil {
		return fmt.Errorf("nvm: saving to %s: %w", m.path, os.ErrClosed)
	}
	size := int64(frameHeader + len(image))
	if m.f == nil || m.end+size > max(compactMin, 4*size) {
		return m.rewrite(image)
	}
	if m.dirPending { // what is written to a file whose name may vanish is not durable
		if err := m.syncDir(filepath.Dir(m.path)); err != nil {
			return fmt.Errorf("nvm: saving to %s: syncing its directory: %w", m.path, err)
		}
		m.dirPending = false
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
// temp file, fsync, rename, fsync directory. Once the rename is done the
// File uses the new file, even if the directory sync then fails (the error
// is returned and the next Save retries the sync): the old file has no name
// any more, and what was written to it would be lost.
func (m *File) rewrite(image []byte) error {
	wrap := func(err error) error { return fmt.Errorf("nvm: saving to %s: %w", m.path, err) }
	tmp := m.path + ".tmp"
	// Not O_TRUNC: the file is cut only once locked, never while another
	// process (an older Tessera, which takes no lock file) may write it.
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return wrap(err)
	}
	if err := lockFD(f); err != nil {
		f.Close()
		if errors.Is(err, ErrLocked) {
			err = &LockedError{Path: tmp}
		}
		return wrap(err)
	}
	buf := make([]byte, 0, journalHeader+frameHeader+len(image))
	buf = append(buf, journalMagic...)
	buf = append(buf, journalVersion, 0, 0, 0)
	buf = appendFrame(buf, image)
	err = f.Truncate(0)
	if err == nil {
		_, err = f.WriteAt(buf, 0)
	}
	if err == nil {
		err = f.Sync()
	}
	if err == nil {
		err = os.Rename(tmp, m.path)
	}
	if err != nil {
		f.Close()
		os.Remove(tmp)
		return wrap(err)
	}
	if m.f != nil {
		m.f.Close()
	}
	m.f, m.end = f, int64(len(buf))
	if err := m.syncDir(filepath.Dir(m.path)); err != nil {
		m.dirPending = true
		return wrap(fmt.Errorf("syncing its directory: %w", err))
	}
	m.dirPending = false
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
