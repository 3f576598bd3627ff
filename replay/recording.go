package replay

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/tesseracard/tessera/apdu"
)

// Recording is a recorded card session: its exchanges and resets, in order.
type Recording struct {
	// Name identifies the recording in reports and in the allowlist: the
	// file's base name, e.g. "TestAttestation.trace".
	Name   string
	Format Format
	Steps  []Step
}

// Step is one thing that happened to the card: an exchange (Command and
// Response set) or a reset (Reset set: a warm reset, a power-on, a
// reconnection that resets the card).
type Step struct {
	// N numbers the exchanges of a recording from 1; resets have none.
	N    int
	Line int // the step's line in its file, from 1
	// Command and Response are the raw APDUs, the response's status word
	// last.
	Command, Response []byte
	// Reset marks a reset instead of an exchange; Event names it as the
	// recording did ("reset", "power-on", "SCardReconnect", ...).
	Reset bool
	Event string
	// RedactedCommand and RedactedResponse report that the recording
	// withheld the command's or the response's data (a Tessera trace made
	// without --trace-secrets shows secret bytes as XX). The withheld bytes
	// read as zeros here.
	RedactedCommand, RedactedResponse bool
}

// SW returns the recorded status word.
func (s Step) SW() apdu.StatusWord {
	return apdu.SWFromBytes(s.Response[len(s.Response)-2], s.Response[len(s.Response)-1])
}

// Data returns the recorded response data, without the status word.
func (s Step) Data() []byte { return s.Response[:len(s.Response)-2] }

// Exchanges returns the number of exchanges (not resets) in r.
func (r *Recording) Exchanges() int {
	n := 0
	for _, s := range r.Steps {
		if !s.Reset {
			n++
		}
	}
	return n
}

// Format is a recording's file format.
type Format string

// The formats Read knows.
const (
	// FormatAuto detects the format from the first meaningful line.
	FormatAuto Format = "auto"
	// FormatTessera is Tessera's JSON Lines trace (tessera sim --trace):
	// one object per line with "command" and "response" in hex, or
	// "event". Data withheld as XX is marked redacted.
	FormatTessera Format = "tessera"
	// FormatPIVGo is the mock file of piv-go/go-piv's test suite:
	// "on START END Transmit CMD RESP" lines, other lines ignored.
	FormatPIVGo Format = "pivgo"
	// FormatPCSCSpy is the text pcsc-spy (pcsc-lite) prints: SCardTransmit
	// calls with their bSendBuffer and bRecvBuffer hex dumps, and
	// SCardReconnect/SCardDisconnect calls that reset the card.
	FormatPCSCSpy Format = "pcsc-spy"
	// FormatOpenSC is a plain APDU log: "> CMD" and "< RESP" lines in hex,
	// "-- power/reset" lines for a reset, other lines ignored.
	FormatOpenSC Format = "opensc"
)

// Formats lists the formats Read accepts, FormatAuto first.
func Formats() []Format {
	return []Format{FormatAuto, FormatTessera, FormatPIVGo, FormatPCSCSpy, FormatOpenSC}
}

// ParseFormat returns the format named s, or an error listing the formats.
func ParseFormat(s string) (Format, error) {
	if f := Format(s); slices.Contains(Formats(), f) {
		return f, nil
	}
	return "", fmt.Errorf("replay: unknown recording format %q: want one of %v", s, Formats())
}

// ErrFormat is wrapped by every error of Read about the recording's
// content: a malformed line, an unknown format, a recording with no
// exchange.
var ErrFormat = errors.New("replay: malformed recording")

// formatError names the line of a malformed recording.
func formatError(line int, format string, args ...any) error {
	return fmt.Errorf("%w: line %d: %s", ErrFormat, line, fmt.Sprintf(format, args...))
}

// Bounds: a line holds at most an extended command or response in hex
// with room to spare; a recording at most maxSteps steps.
const (
	maxLine  = 1 << 20
	maxSteps = 1 << 20
)

// Read reads a recording in format f (FormatAuto detects it) and names it
// name. Errors about the content wrap ErrFormat and name the line.
func Read(r io.Reader, name string, f Format) (*Recording, error) {
	b, err := io.ReadAll(io.LimitReader(r, 256<<20))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	if f == FormatAuto || f == "" {
		if f, err = Detect(b); err != nil {
			return nil, err
		}
	}
	var steps []Step
	switch f {
	case FormatTessera:
		steps, err = readTessera(b)
	case FormatPIVGo:
		steps, err = readPIVGo(b)
	case FormatPCSCSpy:
		steps, err = readPCSCSpy(b)
	case FormatOpenSC:
		steps, err = readOpenSC(b)
	default:
		_, err = ParseFormat(string(f))
	}
	if err != nil {
		return nil, err
	}
	n := 0
	for i := range steps {
		if !steps[i].Reset {
			n++
			steps[i].N = n
		}
	}
	if n == 0 {
		return nil, fmt.Errorf("%w: %s holds no exchange in format %s", ErrFormat, name, f)
	}
	return &Recording{Name: name, Format: f, Steps: steps}, nil
}

// Detect tells a recording's format from its first meaningful line.
func Detect(b []byte) (Format, error) {
	sc := newScanner(b)
	for sc.Scan() {
		line := strings.TrimSpace(stripANSI(sc.Text()))
		switch {
		case line == "" || line == "mockfile":
			continue
		case strings.HasPrefix(line, "{"):
			return FormatTessera, nil
		case strings.HasPrefix(line, "file ") || strings.HasPrefix(line, "meta ") || strings.HasPrefix(line, "on "):
			return FormatPIVGo, nil
		case strings.HasPrefix(line, "SCard") || strings.HasPrefix(line, "(t") || strings.HasPrefix(line, "i ") || strings.HasPrefix(line, "o "):
			return FormatPCSCSpy, nil
		case strings.HasPrefix(line, "> ") || strings.HasPrefix(line, "< ") || strings.HasPrefix(line, "--") || strings.HasPrefix(line, "====="):
			return FormatOpenSC, nil
		}
	}
	return "", fmt.Errorf("%w: cannot tell the format (want a Tessera trace, a piv-go mock file, pcsc-spy output or a >/< APDU log); name it with the format option", ErrFormat)
}

func newScanner(b []byte) *bufio.Scanner {
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 64<<10), maxLine)
	return sc
}

// scanLines calls fn with every line and its number, and turns a line too
// long into an error naming it.
func scanLines(b []byte, fn func(n int, line string) error) error {
	sc := newScanner(b)
	n := 0
	for sc.Scan() {
		n++
		if err := fn(n, sc.Text()); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return formatError(n+1, "%v", err)
	}
	return nil
}

// exchangeStep checks a recorded command and response.
func exchangeStep(line int, cmd, resp []byte) (Step, error) {
	switch {
	case len(cmd) < 4:
		return Step{}, formatError(line, "a command APDU has at least 4 bytes, not %d", len(cmd))
	case len(resp) < 2:
		return Step{}, formatError(line, "a response APDU has at least a status word, not %d bytes", len(resp))
	}
	return Step{Line: line, Command: cmd, Response: resp}, nil
}

// decodeHex decodes hex with or without spaces.
func decodeHex(line int, what, s string) ([]byte, error) {
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		return nil, formatError(line, "%s is not hex: %v", what, err)
	}
	return b, nil
}

// tesseraRecord is the part of a Tessera trace line (simulator.TraceRecord)
// a replay needs. The format is public and documented in docs/replay.md.
type tesseraRecord struct {
	Card     int    `json:"card"`
	Event    string `json:"event"`
	Command  string `json:"command"`
	Response string `json:"response"`
}

// readTessera reads a JSON Lines trace of one card. A redacted command
// (XX for withheld bytes) is kept with the bytes zeroed and marked, so
// that Replay can refuse it by name.
func readTessera(b []byte) ([]Step, error) {
	var steps []Step
	card := -1
	err := scanLines(b, func(n int, line string) error {
		if strings.TrimSpace(line) == "" {
			return nil
		}
		var rec tesseraRecord
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			return formatError(n, "not a trace record: %v", err)
		}
		if card >= 0 && rec.Card != card {
			return formatError(n, "the trace holds cards %d and %d: a replay takes one card's session (tessera trace --card N shows one)", card, rec.Card)
		}
		card = rec.Card
		switch {
		case rec.Event == "reset" || rec.Event == "power-on":
			steps = append(steps, Step{Line: n, Reset: true, Event: rec.Event})
		case rec.Event != "":
			// insert, remove, power-off, power-lost: nothing to send
		default:
			cmd, rc, err := unredact(n, "command", rec.Command)
			if err != nil {
				return err
			}
			resp, rr, err := unredact(n, "response", rec.Response)
			if err != nil {
				return err
			}
			s, err := exchangeStep(n, cmd, resp)
			if err != nil {
				return err
			}
			s.RedactedCommand, s.RedactedResponse = rc, rr
			steps = append(steps, s)
		}
		if len(steps) > maxSteps {
			return formatError(n, "more than %d steps", maxSteps)
		}
		return nil
	})
	return steps, err
}

// unredact decodes a trace's hex, where XX stands for a withheld byte
// (read as 00).
func unredact(line int, what, s string) ([]byte, bool, error) {
	redacted := strings.Contains(strings.ToUpper(s), "XX")
	if redacted {
		var sb strings.Builder
		for i := 0; i+1 < len(s); i += 2 {
			if p := s[i : i+2]; p == "XX" || p == "xx" {
				sb.WriteString("00")
			} else {
				sb.WriteString(p)
			}
		}
		if len(s)%2 == 1 {
			sb.WriteByte(s[len(s)-1])
		}
		s = sb.String()
	}
	b, err := decodeHex(line, what, s)
	return b, redacted, err
}

// readPIVGo reads a piv-go/go-piv mock file: only the Transmit lines
// count.
//
//	on START END Transmit <command hex> <response hex>
func readPIVGo(b []byte) ([]Step, error) {
	var steps []Step
	err := scanLines(b, func(n int, line string) error {
		f := strings.Fields(line)
		if len(f) < 4 || f[0] != "on" || f[3] != "Transmit" {
			return nil
		}
		if len(f) != 6 {
			return formatError(n, "want on START END Transmit CMD RESP, got %d fields", len(f))
		}
		cmd, err := decodeHex(n, "the command", f[4])
		if err != nil {
			return err
		}
		resp, err := decodeHex(n, "the response", f[5])
		if err != nil {
			return err
		}
		s, err := exchangeStep(n, cmd, resp)
		if err != nil {
			return err
		}
		if steps = append(steps, s); len(steps) > maxSteps {
			return formatError(n, "more than %d steps", maxSteps)
		}
		return nil
	})
	return steps, err
}

// readOpenSC reads a ">"/"<" APDU log: "> CMD", then "< RESP"; a line
// starting "-- power/reset" is a reset; other lines are comments.
func readOpenSC(b []byte) ([]Step, error) {
	var steps []Step
	var cmd []byte
	cmdLine := 0
	err := scanLines(b, func(n int, line string) error {
		switch {
		case strings.HasPrefix(line, "-- power/reset"):
			if cmd != nil {
				return formatError(cmdLine, "a command without a response")
			}
			steps = append(steps, Step{Line: n, Reset: true, Event: "power/reset"})
		case strings.HasPrefix(line, ">"):
			if cmd != nil {
				return formatError(cmdLine, "a command without a response")
			}
			var err error
			if cmd, err = decodeHex(n, "the command", line[1:]); err != nil {
				return err
			}
			cmdLine = n
		case strings.HasPrefix(line, "<"):
			if cmd == nil {
				return formatError(n, "a response without a command")
			}
			resp, err := decodeHex(n, "the response", line[1:])
			if err != nil {
				return err
			}
			s, err := exchangeStep(cmdLine, cmd, resp)
			if err != nil {
				return err
			}
			steps, cmd = append(steps, s), nil
		}
		if len(steps) > maxSteps {
			return formatError(n, "more than %d steps", maxSteps)
		}
		return nil
	})
	if err == nil && cmd != nil {
		err = formatError(cmdLine, "a command without a response")
	}
	return steps, err
}
