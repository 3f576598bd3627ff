//go:build cgo || windows

package pcsc

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ebfe/scard"

	"github.com/tesseracard/tessera/hostdriver"
)

// fakeWatcher answers SCardGetStatusChange from a script: each step the
// reader's event state, or an error; past the script, it times out.
type fakeWatcher struct {
	steps []watchStep
	calls int
}

type watchStep struct {
	ev  scard.StateFlag
	err error
}

func (f *fakeWatcher) GetStatusChange(rs []scard.ReaderState, _ time.Duration) error {
	if f.calls >= len(f.steps) {
		f.calls++
		time.Sleep(5 * time.Millisecond) // as if it waited its timeout
		return scard.ErrTimeout
	}
	s := f.steps[f.calls]
	f.calls++
	if s.err != nil {
		return s.err
	}
	rs[0].EventState = s.ev
	return nil
}

// TestWaitOn: what each wait makes of what PC/SC reports. A USB token
// (a YubiKey) is its own reader: pulled out, the reader goes, and
// pcsc-lite reports the name as SCARD_STATE_UNKNOWN | UNAVAILABLE, never
// EMPTY; before, WaitForRemoval took that for "still there" and the relay
// kept a relayed YubiKey in its vpcd reader after it was pulled out.
func TestWaitOn(t *testing.T) {
	const (
		present = scard.StatePresent | scard.StateChanged
		empty   = scard.StateEmpty | scard.StateChanged
		gone    = scard.StateUnknown | scard.StateUnavailable | scard.StateChanged
	)
	tests := []struct {
		name    string
		removal bool
		steps   []watchStep
		ok      bool
	}{
		{"card taken out", true, []watchStep{{ev: present}, {ev: empty}}, true},
		{"USB token pulled out: the reader goes", true, []watchStep{{ev: present}, {ev: gone}}, true},
		{"the reader unknown (another PC/SC stack)", true, []watchStep{{ev: present}, {err: scard.ErrUnknownReader}}, true},
		{"the reader unavailable", true, []watchStep{{err: scard.ErrReaderUnavailable}}, true},
		{"card still in", true, []watchStep{{ev: present}}, false},
		{"pcscd gone", true, []watchStep{{ev: present}, {err: scard.ErrNoService}}, false},
		{"card put in", false, []watchStep{{ev: empty}, {ev: present}}, true},
		{"USB token plugged back in", false, []watchStep{{ev: gone}, {ev: scard.StateUnknown | scard.StateUnavailable}, {ev: present}}, true},
		{"reader unknown, then back with a card", false, []watchStep{{err: scard.ErrUnknownReader}, {ev: present}}, true},
		{"the reader gone stays gone", false, []watchStep{{ev: gone}}, false},
		{"reader empty", false, []watchStep{{ev: empty}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A wait that must end well gets a minute: its script can
			// take a watchPoll (250 ms) and more on a loaded machine,
			// which 300 ms for every case left 50 ms of. One that must
			// not end well waits until its context ends: 300 ms.
			timeout := time.Minute
			if !tt.ok {
				timeout = 300 * time.Millisecond
			}
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			w := &fakeWatcher{steps: tt.steps}
			err := waitOn(ctx, w, "Yubico YubiKey OTP+FIDO+CCID 00 00", tt.removal)
			if tt.ok && err != nil {
				t.Errorf("waitOn(removal %v) = %v after %d calls, want nil", tt.removal, err, w.calls)
			}
			if !tt.ok && err == nil {
				t.Errorf("waitOn(removal %v) = nil, want an error (still waiting when the context ended, or pcscd's)", tt.removal)
			}
			if !tt.ok && err != nil && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, scard.ErrNoService) {
				t.Errorf("waitOn(removal %v) = %v, want the context's or pcscd's error", tt.removal, err)
			}
		})
	}
}

// TestMapErr: PC/SC's errors for a card that is gone all wrap
// hostdriver.ErrCardRemoved, the PC/SC error still wrapped; a sharing
// violation says that another program holds the card. Before, a pulled-out
// USB token's SCARD_E_READER_UNAVAILABLE was not a removed card, and a
// sharing violation said only "Sharing violation".
func TestMapErr(t *testing.T) {
	tests := []struct {
		err     error
		removed bool
		say     string
	}{
		{scard.ErrRemovedCard, true, ""},
		{scard.ErrNoSmartcard, true, ""},
		{scard.ErrReaderUnavailable, true, ""},
		{scard.ErrUnknownReader, true, ""},
		{scard.ErrSharingViolation, false, "another program holds the card exclusively"},
		{scard.ErrResetCard, false, ""},
		{scard.ErrNoService, false, ""},
	}
	for _, tt := range tests {
		err := mapErr(tt.err)
		if got := errors.Is(err, hostdriver.ErrCardRemoved); got != tt.removed {
			t.Errorf("mapErr(%v) = %v: ErrCardRemoved %v, want %v", tt.err, err, got, tt.removed)
		}
		if !errors.Is(err, tt.err) {
			t.Errorf("mapErr(%v) = %v, want it to wrap the PC/SC error", tt.err, err)
		}
		if !strings.Contains(err.Error(), tt.say) {
			t.Errorf("mapErr(%v) = %v, want it to say %q", tt.err, err, tt.say)
		}
	}
}
