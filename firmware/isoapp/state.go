package isoapp

import (
	"fmt"
	"slices"
	"strings"

	"github.com/tesseracard/tessera/firmware/nvm"
	"github.com/tesseracard/tessera/firmware/pin"
)

// State is what the application holds, as committed: never a secret. The
// simulator's control API reports it.
type State struct {
	// LifeCycle is "creation" (blank), "initialisation" (PUK set) or
	// "operational" (PIN set).
	LifeCycle string `json:"life_cycle"`
	// PIN and PUK are their counters, nil while not set.
	PIN *pin.Status `json:"pin,omitempty"`
	PUK *pin.Status `json:"puk,omitempty"`
	// Files are the files below the MF, by path.
	Files []FileState `json:"files"`
	// Keys are the key slots that hold a key.
	Keys []KeyState `json:"keys"`
}

// FileState is one file.
type FileState struct {
	Path string `json:"path"` // FIDs from the MF, e.g. 3F00/5015/4401
	DF   bool   `json:"df"`
	Size int    `json:"size"` // bytes (EFs)
}

// KeyState is one key slot's key, not its value.
type KeyState struct {
	Slot      int    `json:"slot"`
	Algorithm string `json:"algorithm"` // RSA-2048, or EC and the curve
}

// ReadState reads the application's state from a store.
func ReadState(s *nvm.Store) (State, error) {
	lc, err := lifeCycle(s)
	if err != nil {
		return State{}, err
	}
	st := State{LifeCycle: map[byte]string{stateCreation: "creation", stateInitialisation: "initialisation", stateOperational: "operational"}[lc],
		Files: []FileState{}, Keys: []KeyState{}}
	for key, out := range map[string]**pin.Status{keyPIN: &st.PIN, keyPUK: &st.PUK} {
		o := pin.New(s, key)
		if !o.Exists() {
			continue
		}
		ps, err := o.Status()
		if err != nil {
			return State{}, err
		}
		*out = &ps
	}
	files, err := subtree(s, mfFID)
	if err != nil {
		return State{}, err
	}
	for _, fid := range files[1:] {
		f, err := lookup1(s, fid)
		if err != nil {
			return State{}, err
		}
		path := []string{fmt.Sprintf("%04X", fid)}
		for p := f.parent; ; {
			path = append(path, fmt.Sprintf("%04X", p))
			if p == mfFID {
				break
			}
			pf, err := lookup1(s, p)
			if err != nil {
				return State{}, err
			}
			p = pf.parent
		}
		slices.Reverse(path)
		st.Files = append(st.Files, FileState{Path: strings.Join(path, "/"), DF: f.df, Size: f.size})
	}
	slices.SortFunc(st.Files, func(a, b FileState) int { return strings.Compare(a.Path, b.Path) })
	cs := curves()
	for ref := range byte(keySlots) {
		raw, ok := s.Get(keySlotKey(ref))
		if !ok {
			continue
		}
		k, err := cs.parseKey(raw, ref)
		if err != nil {
			return State{}, err
		}
		alg := "RSA-2048"
		if k.ec != nil {
			alg = "EC " + k.ec.Name
		}
		st.Keys = append(st.Keys, KeyState{Slot: int(ref), Algorithm: alg})
	}
	return st, nil
}
