package simulator

import (
	"bufio"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/tesseracard/tessera/apdu"
	"github.com/tesseracard/tessera/firmware"
)

// TraceRecord is one line of a trace (JSON Lines): an exchange, with Command
// and Response set, or an event such as a power-on, with Event set.
//
// Command and Response are hexadecimal, except that data the card did not
// declare safe to show is replaced by "XX" for every byte (see Redact): such
// a string is deliberately not valid hex. The header, the length fields and
// the status word are always shown.
type TraceRecord struct {
	Time     time.Time `json:"time"`
	Card     int       `json:"card"`
	Event    string    `json:"event,omitempty"`    // power-on, power-off, reset, insert, remove, power-lost, ...
	Detail   string    `json:"detail,omitempty"`   // the event's particulars (an ATR, a reason)
	Command  string    `json:"command,omitempty"`  // command APDU, hex, redacted
	Response string    `json:"response,omitempty"` // response APDU, hex, redacted
	SW       string    `json:"sw,omitempty"`       // the response's status word, 4 hex digits
	Duration int64     `json:"duration_ns"`        // from receipt of the command to the response
	Redacted bool      `json:"redacted,omitempty"` // some data was withheld
}

// maxTraceLine bounds one line read back from a trace: an extended command
// and its response, each at most 64 KiB, in hex, with room to spare.
const maxTraceLine = 1 << 20

// Tracer writes trace records, one JSON line each, to an io.Writer. It is
// safe for concurrent use; every line is written with one Write call so that
// a trace file stays readable up to the instant the simulator is killed.
// A nil *Tracer discards everything.
type Tracer struct {
	mu  sync.Mutex
	w   io.Writer
	err error // the first write error; tracing stops after it
}

// NewTracer returns a Tracer writing to w.
func NewTracer(w io.Writer) *Tracer { return &Tracer{w: w} }

// Err returns the first error met while writing, if any.
func (t *Tracer) Err() error {
	if t == nil {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.err
}

func (t *Tracer) write(rec TraceRecord) {
	if t == nil {
		return
	}
	line, err := json.Marshal(rec)
	if err != nil {
		return // cannot happen: every field marshals
	}
	line = append(line, '\n')
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.err != nil {
		return
	}
	if _, err := t.w.Write(line); err != nil {
		t.err = fmt.Errorf("writing trace: %w", err)
	}
}

// exchange records one command and its response, redacted as d says (the
// card's TakeDisclosure for this command).
func (t *Tracer) exchange(card int, start time.Time, cmd, resp []byte, d firmware.Disclosure) {
	if t == nil {
		return
	}
	c, r, redacted := Redact(cmd, resp, d)
	rec := TraceRecord{Time: start, Card: card, Command: c, Response: r, Duration: int64(time.Since(start)), Redacted: redacted}
	if len(resp) >= 2 {
		rec.SW = strings.ToUpper(hex.EncodeToString(resp[len(resp)-2:]))
	}
	t.write(rec)
}

// event records something that happened to a card other than an exchange.
func (t *Tracer) event(card int, event, detail string) {
	if t == nil {
		return
	}
	t.write(TraceRecord{Time: time.Now(), Card: card, Event: event, Detail: detail})
}

// Redact returns cmd and resp in hex with the data d does not disclose
// replaced by "XX" per byte: the command's data field unless d.Command, the
// response's data unless d.Response (apdu.RedactHex). What is secret is
// decided by the card, per command and per answer: the applet that handles
// a command says what it may show (firmware.Discloser), and the zero
// Disclosure, for a command nobody vouched for, withholds both; for a
// relayed real card, the relay's host-side rule set decides (Backend). The
// header, the length fields and the status word stay visible. redacted
// reports whether anything was withheld.
func Redact(cmd, resp []byte, d firmware.Disclosure) (cmdHex, respHex string, redacted bool) {
	return apdu.RedactHex(cmd, resp, d.Command, d.Response)
}

// ReadTrace calls fn for every record of a JSON Lines trace, in order. Lines
// longer than 1 MiB, and lines that are not trace records, are errors naming
// the line number; blank lines are skipped.
func ReadTrace(r io.Reader, fn func(TraceRecord) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxTraceLine)
	for n := 1; sc.Scan(); n++ {
		line := sc.Bytes()
		if len(strings.TrimSpace(string(line))) == 0 {
			continue
		}
		var rec TraceRecord
		if err := json.Unmarshal(line, &rec); err != nil {
			return fmt.Errorf("line %d: not a trace record: %w", n, err)
		}
		if err := fn(rec); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return fmt.Errorf("reading trace: a line is longer than %d bytes", maxTraceLine)
		}
		return fmt.Errorf("reading trace: %w", err)
	}
	return nil
}

// FormatRecord renders a record for people: time, card, command name,
// the APDUs, the status word and its meaning, and the duration, e.g.
//
//	15:04:05.000123 card 0  VERIFY  00200080 08 XXXXXXXXXXXXXXXX → 63C2  verification failed (2 retries left)  41µs
func FormatRecord(rec TraceRecord) string {
	ts := rec.Time.Local().Format("15:04:05.000000")
	if rec.Event != "" {
		s := fmt.Sprintf("%s card %d  -- %s", ts, rec.Card, rec.Event)
		if rec.Detail != "" {
			s += " " + rec.Detail
		}
		return s
	}
	name := "?"
	if b, ok := headerBytes(rec.Command); ok {
		name = apdu.InsName(b[1])
		if b[0]&apdu.CLAChaining != 0 && b[0]&0x80 == 0 {
			name += " (chained)"
		}
	}
	meaning := ""
	if sw, ok := parseSW(rec.SW); ok {
		meaning = strings.TrimPrefix(sw.Error(), "apdu: ")
	} else {
		meaning = "no status word"
	}
	resp := rec.Response
	if len(resp) >= 4 {
		resp = resp[:len(resp)-4]
		if resp != "" {
			resp += " "
		}
		resp += rec.Response[len(rec.Response)-4:]
	}
	return fmt.Sprintf("%s card %d  %s  %s → %s  [%s]  %v", ts, rec.Card, name, spaceHeader(rec.Command), resp, meaning, time.Duration(rec.Duration).Round(time.Microsecond))
}

// headerBytes decodes CLA and INS from the start of a command's hex.
func headerBytes(cmdHex string) ([2]byte, bool) {
	if len(cmdHex) < 4 {
		return [2]byte{}, false
	}
	b, err := hex.DecodeString(cmdHex[:4])
	if err != nil {
		return [2]byte{}, false
	}
	return [2]byte{b[0], b[1]}, true
}

// spaceHeader separates the four header bytes from the rest.
func spaceHeader(cmdHex string) string {
	if len(cmdHex) <= 8 {
		return cmdHex
	}
	return cmdHex[:8] + " " + cmdHex[8:]
}

func parseSW(s string) (apdu.StatusWord, bool) {
	if len(s) != 4 {
		return 0, false
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		return 0, false
	}
	return apdu.SWFromBytes(b[0], b[1]), true
}
