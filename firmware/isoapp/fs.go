package isoapp

import (
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/tesseracard/tessera/apdu"
	"github.com/tesseracard/tessera/firmware"
	"github.com/tesseracard/tessera/firmware/nvm"
)

// File system limits.
const (
	mfFID       uint16 = 0x3F00
	maxChildren        = 30     // files in one DF
	maxFileSize        = 0x7FFF // bytes in one EF, and the largest offset
	defaultSize        = 128    // an EF created without a size
	saLen              = 8      // the tag-86 security attributes
)

// File descriptor bytes (FCP tag 82).
const (
	fdbTransparent = 0x01
	fdbDF          = 0x38
)

// Access rule positions in the 8 tag-86 bytes, counted from the last (b0)
// as IsoApplet does.
const (
	acRead     = 0 // EF: READ BINARY
	acUpdate   = 1 // EF: UPDATE BINARY; DF: CREATE EF
	acCreateDF = 2 // DF: CREATE DF
	acDelete   = 6 // the file itself: DELETE FILE
)

// mfFCI returns the MF's FCI: a DF with FID 3F00 and no access rules.
func mfFCI() []byte { return []byte{0x6F, 0x07, 0x82, 0x01, fdbDF, 0x83, 0x02, 0x3F, 0x00} }

// file is one file's record: its parent DF and its FCP as created.
type file struct {
	fid, parent uint16
	fcp         []byte
	df          bool
	size        int
	sa          []byte // nil: no access rules
}

func fileKey(fid uint16) string { return fmt.Sprintf("iso/f/%04X", fid) }
func dataKey(fid uint16) string { return fmt.Sprintf("iso/d/%04X", fid) }

// encode is the stored record: parent FID, then the FCP.
func (f file) encode() []byte {
	return append(binary.BigEndian.AppendUint16(nil, f.parent), f.fcp...)
}

// parseFCP reads a CREATE FILE template (6F: 81/80 size, 82 FDB, 83 FID, 86
// security attributes). A malformed template is 6A80; security attributes
// of the wrong length are 6984, as IsoApplet answers.
func parseFCP(fcp []byte) (file, error) {
	outer, rest, err := apdu.ParseTLV(fcp)
	if err != nil || outer.Tag != 0x6F || len(rest) != 0 {
		return file{}, apdu.SWIncorrectData
	}
	tlvs, err := apdu.ParseTLVs(outer.Value)
	if err != nil {
		return file{}, apdu.SWIncorrectData
	}
	f := file{fcp: fcp, size: -1}
	var haveFDB, haveFID bool
	for _, t := range tlvs {
		switch t.Tag {
		case 0x80, 0x81:
			if len(t.Value) != 2 {
				return file{}, apdu.SWIncorrectData
			}
			f.size = int(binary.BigEndian.Uint16(t.Value))
		case 0x82:
			if len(t.Value) == 0 {
				return file{}, apdu.SWIncorrectData
			}
			switch t.Value[0] {
			case fdbDF:
				f.df = true
			case fdbTransparent:
			default:
				return file{}, apdu.SWIncorrectData // only transparent EFs
			}
			haveFDB = true
		case 0x83:
			if len(t.Value) != 2 {
				return file{}, apdu.SWIncorrectData
			}
			f.fid = binary.BigEndian.Uint16(t.Value)
			haveFID = true
		case 0x86:
			if len(t.Value) != saLen {
				return file{}, apdu.SWReferenceDataUnusable
			}
			f.sa = t.Value
		}
	}
	switch {
	case !haveFDB || !haveFID:
		return file{}, apdu.SWIncorrectData
	case f.fid == mfFID || f.fid == 0x3FFF || f.fid == 0xFFFF:
		return file{}, apdu.SWIncorrectData // reserved identifiers
	case f.size > maxFileSize:
		return file{}, apdu.SWIncorrectData
	}
	if f.df {
		f.size = 0
	} else if f.size < 0 {
		f.size = defaultSize
	}
	return f, nil
}

// lookup returns the file with identifier fid; the MF always exists.
func lookup(s *nvm.Store, fid uint16) (file, bool, error) {
	if fid == mfFID {
		return file{fid: mfFID, parent: mfFID, fcp: mfFCI(), df: true}, true, nil
	}
	raw, ok := s.Get(fileKey(fid))
	if !ok {
		return file{}, false, nil
	}
	if len(raw) < 2 {
		return file{}, false, fmt.Errorf("%w: iso: file record %04X is malformed", nvm.ErrCorrupt, fid)
	}
	f, err := parseFCP(raw[2:])
	if err != nil || f.fid != fid {
		return file{}, false, fmt.Errorf("%w: iso: file record %04X is malformed", nvm.ErrCorrupt, fid)
	}
	f.parent = binary.BigEndian.Uint16(raw)
	return f, true, nil
}

// children returns the identifiers of the files whose parent is df.
func children(s *nvm.Store, df uint16) ([]uint16, error) {
	var out []uint16
	for _, k := range s.Keys("iso/f/") {
		raw, _ := s.Get(k)
		if len(raw) < 2 {
			return nil, fmt.Errorf("%w: iso: file record %s is malformed", nvm.ErrCorrupt, strings.TrimPrefix(k, "iso/f/"))
		}
		if binary.BigEndian.Uint16(raw) == df {
			var fid uint16
			if _, err := fmt.Sscanf(strings.TrimPrefix(k, "iso/f/"), "%04X", &fid); err != nil {
				return nil, fmt.Errorf("%w: iso: file key %q is malformed", nvm.ErrCorrupt, k)
			}
			out = append(out, fid)
		}
	}
	return out, nil
}

// allowed checks one access rule of f: 00 always, 90 or any value with
// x&9F == 10 (10, 30, 50, 70: user authentication, security environment 0)
// once the PIN is verified, anything else (FF included) never, as IsoApplet
// decides. Before a PIN exists every file operation is allowed.
func allowed(env *firmware.Context, f file, rule int) error {
	if f.sa == nil {
		return nil
	}
	lc, err := lifeCycle(env.Store)
	if err != nil {
		return err
	}
	if lc != stateOperational {
		return nil
	}
	switch v := f.sa[saLen-1-rule]; {
	case v == 0x00:
		return nil
	case (v == 0x90 || v&0x9F == 0x10) && env.Security.Has(pinRef):
		return nil
	}
	return apdu.SWSecurityStatusNotSatisfied
}

// currentDF is the current file if it is a DF, else its parent.
func (a *Applet) currentDF(s *nvm.Store) (file, error) {
	f, ok, err := lookup(s, a.cur)
	if err != nil {
		return file{}, err
	}
	if !ok {
		a.cur = mfFID
		return lookup1(s, mfFID)
	}
	if f.df {
		return f, nil
	}
	return lookup1(s, f.parent)
}

// lookup1 is lookup of a file that must exist.
func lookup1(s *nvm.Store, fid uint16) (file, error) {
	f, ok, err := lookup(s, fid)
	if err == nil && !ok {
		err = fmt.Errorf("%w: iso: parent %04X of a file is missing", nvm.ErrCorrupt, fid)
	}
	return f, err
}

// currentEF is the current file, which must be an EF (else 6986).
func (a *Applet) currentEF(s *nvm.Store) (file, error) {
	f, ok, err := lookup(s, a.cur)
	if err != nil {
		return file{}, err
	}
	if !ok || f.df {
		return file{}, apdu.SWCommandNotAllowed
	}
	return f, nil
}

// selectFile is SELECT by FID (P1 00) or by path from the MF (P1 08; the
// path may start with 3F00 or omit it). P2 00 or 04 answers the FCI as
// created, 0C nothing. A file not found answers 6A82 and keeps the current
// file.
func (a *Applet) selectFile(env *firmware.Context, cmd apdu.Command) ([]byte, error) {
	var resp bool
	switch cmd.P2 {
	case 0x00, 0x04:
		resp = true
	case 0x0C:
	default:
		return nil, apdu.SWIncorrectP1P2
	}
	d := cmd.Data
	var f file
	switch cmd.P1 {
	case 0x00:
		if len(d) == 0 {
			d = []byte{0x3F, 0x00}
		}
		if len(d) != 2 {
			return nil, apdu.SWWrongLength
		}
		var ok bool
		var err error
		if f, ok, err = lookup(env.Store, binary.BigEndian.Uint16(d)); err != nil {
			return nil, err
		} else if !ok {
			return nil, apdu.SWFileNotFound
		}
	case 0x08:
		if len(d) == 0 || len(d)%2 != 0 {
			return nil, apdu.SWWrongLength
		}
		var err error
		if f, err = walk(env.Store, d); err != nil {
			return nil, err
		}
	default:
		return nil, apdu.SWIncorrectP1P2
	}
	a.cur = f.fid
	if !resp {
		return nil, nil
	}
	return append([]byte(nil), f.fcp...), nil
}

// walk follows a path of FIDs from the MF.
func walk(s *nvm.Store, path []byte) (file, error) {
	f, _, _ := lookup(s, mfFID)
	if binary.BigEndian.Uint16(path) == mfFID {
		path = path[2:]
	}
	for ; len(path) > 0; path = path[2:] {
		next, ok, err := lookup(s, binary.BigEndian.Uint16(path))
		if err != nil {
			return file{}, err
		}
		if !ok || next.parent != f.fid || !f.df {
			return file{}, apdu.SWFileNotFound
		}
		f = next
	}
	return f, nil
}

// createFile is CREATE FILE in the current DF; the new file becomes the
// current file. Its FID must be unused anywhere on the card (6984).
func (a *Applet) createFile(env *firmware.Context, cmd apdu.Command) error {
	if cmd.P1 != 0 || cmd.P2 != 0 {
		return apdu.SWIncorrectP1P2
	}
	if len(cmd.Data) == 0 {
		return apdu.SWWrongLength
	}
	f, err := parseFCP(cmd.Data)
	if err != nil {
		return err
	}
	parent, err := a.currentDF(env.Store)
	if err != nil {
		return err
	}
	rule := acUpdate
	if f.df {
		rule = acCreateDF
	}
	if err := allowed(env, parent, rule); err != nil {
		return err
	}
	if _, exists, err := lookup(env.Store, f.fid); err != nil {
		return err
	} else if exists {
		return apdu.SWReferenceDataUnusable
	}
	kids, err := children(env.Store, parent.fid)
	if err != nil {
		return err
	}
	if len(kids) >= maxChildren {
		return apdu.SWNotEnoughMemory
	}
	f.parent = parent.fid
	f.fcp = append([]byte(nil), f.fcp...)
	tx, err := env.Store.Begin()
	if err != nil {
		return err
	}
	defer tx.Abort()
	if err := tx.Put(fileKey(f.fid), f.encode()); err != nil {
		return err
	}
	if !f.df {
		if err := tx.Put(dataKey(f.fid), make([]byte, f.size)); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	a.cur = f.fid
	return nil
}

// deleteFile is DELETE FILE of the file named in the data, looked up across
// the tree; a DF goes with everything in it, in one write.
func (a *Applet) deleteFile(env *firmware.Context, cmd apdu.Command) error {
	if cmd.P1 != 0 || cmd.P2 != 0 {
		return apdu.SWIncorrectP1P2
	}
	if len(cmd.Data) != 2 {
		return apdu.SWWrongLength
	}
	fid := binary.BigEndian.Uint16(cmd.Data)
	if fid == mfFID {
		return apdu.SWConditionsNotSatisfied
	}
	f, ok, err := lookup(env.Store, fid)
	if err != nil {
		return err
	}
	if !ok {
		return apdu.SWFileNotFound
	}
	if err := allowed(env, f, acDelete); err != nil {
		return err
	}
	doomed, err := subtree(env.Store, fid)
	if err != nil {
		return err
	}
	tx, err := env.Store.Begin()
	if err != nil {
		return err
	}
	defer tx.Abort()
	for _, d := range doomed {
		if err := tx.Delete(fileKey(d)); err != nil {
			return err
		}
		if err := tx.Delete(dataKey(d)); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	for _, d := range doomed {
		if a.cur == d {
			a.cur = f.parent
		}
	}
	return nil
}

// subtree returns fid and every file below it.
func subtree(s *nvm.Store, fid uint16) ([]uint16, error) {
	out := []uint16{fid}
	for i := 0; i < len(out); i++ {
		kids, err := children(s, out[i])
		if err != nil {
			return nil, err
		}
		out = append(out, kids...)
	}
	return out, nil
}

// offset reads READ/UPDATE BINARY's offset from P1-P2; P1 bit 8 would name a
// short EF identifier, which this application does not offer.
func offset(cmd apdu.Command) (int, error) {
	if cmd.P1&0x80 != 0 {
		return 0, apdu.SWIncorrectP1P2
	}
	return int(cmd.P1)<<8 | int(cmd.P2), nil
}

// readBinary answers min(Ne, rest of the file) bytes from the offset; an
// offset at or past the end is 6B00.
func (a *Applet) readBinary(env *firmware.Context, cmd apdu.Command) ([]byte, error) {
	off, err := offset(cmd)
	if err != nil {
		return nil, err
	}
	if cmd.Ne == 0 || len(cmd.Data) != 0 {
		return nil, apdu.SWWrongLength
	}
	f, err := a.currentEF(env.Store)
	if err != nil {
		return nil, err
	}
	if err := allowed(env, f, acRead); err != nil {
		return nil, err
	}
	data, err := contents(env.Store, f)
	if err != nil {
		return nil, err
	}
	if off >= len(data) {
		return nil, apdu.SWWrongP1P2
	}
	n := min(cmd.Ne, len(data)-off)
	return append([]byte(nil), data[off:off+n]...), nil
}

// updateBinary writes the data at the offset; past the end is 6B00.
func (a *Applet) updateBinary(env *firmware.Context, cmd apdu.Command) error {
	off, err := offset(cmd)
	if err != nil {
		return err
	}
	if len(cmd.Data) == 0 {
		return apdu.SWWrongLength
	}
	f, err := a.currentEF(env.Store)
	if err != nil {
		return err
	}
	if err := allowed(env, f, acUpdate); err != nil {
		return err
	}
	data, err := contents(env.Store, f)
	if err != nil {
		return err
	}
	if off+len(cmd.Data) > len(data) {
		return apdu.SWWrongP1P2
	}
	next := append([]byte(nil), data...)
	copy(next[off:], cmd.Data)
	return env.Store.Put(dataKey(f.fid), next)
}

// contents returns an EF's stored bytes.
func contents(s *nvm.Store, f file) ([]byte, error) {
	data, ok := s.Get(dataKey(f.fid))
	if !ok || len(data) != f.size {
		return nil, fmt.Errorf("%w: iso: contents of EF %04X are missing or of the wrong size", nvm.ErrCorrupt, f.fid)
	}
	return data, nil
}
