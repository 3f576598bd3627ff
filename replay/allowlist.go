package replay

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/tesseracard/tessera/apdu"
)

// Allowance is one reviewed departure: an exchange of a recording whose
// answer the target may give differently, and why. The shipped list is
// testdata/recordings/allowlist.yaml.
//
// The target's answer is collected through its own 61xx chain (any GET
// RESPONSE continuing the recorded answer is part of the allowance) and
// its final status word must still be the recorded one, or SW when set;
// where the answer is structured (an attestation certificate, say) the
// structure is still checked.
type Allowance struct {
	// Recording is the recording's file name, e.g. "TestAttestation.trace".
	Recording string `yaml:"recording"`
	// Exchange is the exchange's number in the recording, from 1 (resets
	// are not counted).
	Exchange int `yaml:"exchange"`
	// Command is the recorded command in hex: a guard, so that an entry
	// cannot silently cover another exchange after a recording changes.
	Command string `yaml:"command"`
	// SW, four hex digits, is the status word the target gives instead of
	// the recorded one; empty keeps the recorded one.
	SW string `yaml:"sw,omitempty"`
	// Reason says why the departure is right. It is required.
	Reason string `yaml:"reason"`
}

// Allowlist is a list of reviewed departures.
type Allowlist []Allowance

// ErrAllowlist is wrapped by the errors of ReadAllowlist and by Replay's
// error when an entry does not match its recording.
var ErrAllowlist = errors.New("replay: bad allowlist")

// ReadAllowlist reads an allowlist, a YAML list of entries:
//
//   - recording: TestAttestation.trace
//     exchange: 3
//     command: 00cb3fff055c035fff01
//     reason: the attestation certificate is the card maker's ...
//
// Every field but sw is required; unknown fields are errors.
func ReadAllowlist(r io.Reader) (Allowlist, error) {
	dec := yaml.NewDecoder(r)
	dec.KnownFields(true)
	var l Allowlist
	if err := dec.Decode(&l); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: %v", ErrAllowlist, err)
	}
	seen := map[string]bool{}
	for i, a := range l {
		where := fmt.Sprintf("entry %d (%s exchange %d)", i+1, a.Recording, a.Exchange)
		cmd, err := hex.DecodeString(a.Command)
		switch {
		case a.Recording == "" || a.Exchange < 1:
			return nil, fmt.Errorf("%w: %s: recording and exchange (from 1) are required", ErrAllowlist, where)
		case err != nil || len(cmd) < 4:
			return nil, fmt.Errorf("%w: %s: command must be the recorded command in hex", ErrAllowlist, where)
		case strings.TrimSpace(a.Reason) == "":
			return nil, fmt.Errorf("%w: %s: a departure needs a reason", ErrAllowlist, where)
		case seen[fmt.Sprint(a.Recording, a.Exchange)]:
			return nil, fmt.Errorf("%w: %s: listed twice", ErrAllowlist, where)
		}
		if a.SW != "" {
			if _, err := a.sw(); err != nil {
				return nil, fmt.Errorf("%w: %s: %v", ErrAllowlist, where, err)
			}
		}
		seen[fmt.Sprint(a.Recording, a.Exchange)] = true
	}
	return l, nil
}

func (a Allowance) sw() (apdu.StatusWord, error) {
	b, err := hex.DecodeString(a.SW)
	if err != nil || len(b) != 2 {
		return 0, fmt.Errorf("sw %q is not four hex digits", a.SW)
	}
	return apdu.SWFromBytes(b[0], b[1]), nil
}

// For returns the entries of the recording named, by exchange number,
// after checking that each names a recorded command as it is.
func (l Allowlist) For(rec *Recording) (map[int]Allowance, error) {
	out := map[int]Allowance{}
	cmds := map[int][]byte{}
	for _, s := range rec.Steps {
		if !s.Reset {
			cmds[s.N] = s.Command
		}
	}
	for _, a := range l {
		if a.Recording != rec.Name {
			continue
		}
		want, _ := hex.DecodeString(a.Command)
		if got, ok := cmds[a.Exchange]; !ok || !bytes.Equal(got, want) {
			return nil, fmt.Errorf("%w: %s exchange %d is not %s: has the recording changed?", ErrAllowlist, a.Recording, a.Exchange, a.Command)
		}
		out[a.Exchange] = a
	}
	return out, nil
}
