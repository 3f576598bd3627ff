package replay_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/tesseracard/tessera/apdu"
	"github.com/tesseracard/tessera/hostdriver"
	"github.com/tesseracard/tessera/replay"
	"github.com/tesseracard/tessera/simulator/simtarget"
)

// The corpus test replays every recording the repository ships
// (testdata/recordings, see its README) on a simulated card of the profile
// it was recorded against, in process, and pins the agreement counts: a
// change in the simulator that moves an exchange from exact to structural,
// or one that needs a new allowance, fails here until the numbers are
// updated on purpose. A departure is never a silent pass: it is a mismatch
// unless testdata/recordings/allowlist.yaml names it with a reason.

func recordingsDir() string { return filepath.Join("..", "testdata", "recordings") }

// corpus is a directory of recordings, the profile they replay on, and
// the counts they must give.
type corpus struct {
	dir, glob, profile string
	recordings         int
	want               replay.Counts
}

func corpora() []corpus {
	return []corpus{
		{
			// A real YubiKey 5.7.1 under cunicu/go-piv's test suite.
			dir: "yubikey-5.7.1", glob: "*.trace", profile: "yubikey-5.7", recordings: 57,
			want: replay.Counts{Exchanges: 628, Exact: 484, Structural: 137, Allowed: 7},
		},
		{
			// OpenSC 0.23.0's commands, answers from a model of IsoApplet.
			dir: "opensc-isoapplet", glob: "*.txt", profile: "iso-token", recordings: 2,
			want: replay.Counts{Exchanges: 897, Exact: 865, Structural: 30, Allowed: 2},
		},
	}
}

// setups bring a fresh card to the state a recording starts from, where
// that is not the factory state. TestChangeManagementKey was recorded right
// after TestSetManagementKey, which left the default key's value set as a
// 3DES key, no longer flagged default: its first GET METADATA 9B answers
// 01 01 03 … 05 01 00.
func setups() map[string]func(context.Context, *simtarget.Card) error {
	return map[string]func(context.Context, *simtarget.Card) error{
		"TestChangeManagementKey.trace": func(ctx context.Context, c *simtarget.Card) error {
			conn := &hostdriver.Conn{T: c}
			def := []byte{1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8}
			steps := []func() error{
				func() error {
					r, err := conn.Transmit(ctx, apdu.Command{INS: apdu.InsSelect, P1: 0x04, Data: []byte{0xA0, 0x00, 0x00, 0x03, 0x08}})
					if err == nil {
						err = r.SW.Err()
					}
					return err
				},
				func() error {
					// The key's algorithm as the card has it (AES-192 on a
					// YubiKey 5.7), from GET METADATA 9B.
					r, err := conn.Transmit(ctx, apdu.Command{INS: apdu.InsGetMetadata, P2: 0x9B})
					if err == nil {
						err = r.SW.Err()
					}
					if err != nil {
						return err
					}
					alg, ok, err := apdu.FindTLV(r.Data, 0x01)
					if err != nil || !ok || len(alg) != 1 {
						return fmt.Errorf("GET METADATA 9B % X has no algorithm", r.Data)
					}
					return hostdriver.AuthenticateManagementKey(ctx, conn, alg[0], def, nil)
				},
				func() error {
					r, err := conn.Transmit(ctx, apdu.Command{INS: apdu.InsSetManagementKey, P1: 0xFF, P2: 0xFF, Data: append([]byte{0x03, 0x9B, 24}, def...)})
					if err == nil {
						err = r.SW.Err()
					}
					return err
				},
				func() error { return c.Reset(ctx) }, // a new session: nothing authenticated
			}
			for _, s := range steps {
				if err := s(); err != nil {
					return err
				}
			}
			return nil
		},
	}
}

func readAllowlist(t *testing.T) replay.Allowlist {
	t.Helper()
	f, err := os.Open(filepath.Join(recordingsDir(), "allowlist.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	l, err := replay.ReadAllowlist(f)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestCorpus(t *testing.T) {
	allow := readAllowlist(t)
	used := map[string]bool{}
	for _, c := range corpora() {
		t.Run(c.dir, func(t *testing.T) {
			paths, err := filepath.Glob(filepath.Join(recordingsDir(), c.dir, c.glob))
			if err != nil || len(paths) != c.recordings {
				t.Fatalf("%d recordings in %s (%v), want %d: the recordings are part of the repository", len(paths), c.dir, err, c.recordings)
			}
			var total replay.Counts
			for _, path := range paths {
				name := filepath.Base(path)
				used[name] = true
				t.Run(name, func(t *testing.T) {
					res := replayFile(t, path, c.profile, allow)
					total.Add(res.Counts)
					if !res.OK() {
						for _, x := range res.Exchanges {
							if x.Verdict == replay.Mismatch {
								t.Errorf("%s", replay.FormatExchange(x))
							}
						}
						t.Errorf("%s: %+v; %s", name, res.Counts, res.Stopped)
					}
				})
			}
			fmt.Printf("report: replay %s on %s: %d recordings, %d exchanges: %d exact, %d structural, %d allowed, %d mismatch, %d not run\n",
				c.dir, c.profile, len(paths), total.Exchanges, total.Exact, total.Structural, total.Allowed, total.Mismatch, total.NotRun)
			if total != c.want {
				t.Errorf("replay %s: counts %+v, want %+v: if the change is meant, update corpora() (and the allowlist, with a reason)", c.dir, total, c.want)
			}
		})
	}
	for _, a := range allow {
		if !used[a.Recording] {
			t.Errorf("allowlist names %s, which is not in the corpus", a.Recording)
		}
	}
}

// replayFile replays one recording on a fresh simulated card of profile.
func replayFile(t *testing.T, path, profile string, allow replay.Allowlist) *replay.Result {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rec, err := replay.Read(f, filepath.Base(path), replay.FormatAuto)
	if err != nil {
		t.Fatal(err)
	}
	card, err := simtarget.Open(simtarget.Options{Profile: profile})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { card.Close() })
	ctx := t.Context()
	if setup := setups()[rec.Name]; setup != nil {
		if err := setup(ctx, card); err != nil {
			t.Fatalf("bringing the card to the recording's starting state: %v", err)
		}
	}
	res, err := replay.Replay(ctx, card, rec, replay.Options{Allowlist: allow})
	if err != nil {
		t.Fatal(err)
	}
	return res
}
