package replay

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/tesseracard/tessera/apdu"
	"github.com/tesseracard/tessera/internal/junit"
)

// maxShown bounds the bytes of an APDU a text line shows; JSON shows all.
const maxShown = 48

// hexAPDU shows an APDU as tessera trace does, its last two bytes (a
// response's status word) apart when sw is set, cut after maxShown bytes.
func hexAPDU(b []byte, sw bool) string {
	body := b
	if sw && len(b) >= 2 {
		body = b[:len(b)-2]
	}
	s := strings.ToUpper(hex.EncodeToString(body[:min(len(body), maxShown)]))
	if len(body) > maxShown {
		s += fmt.Sprintf("…(%d bytes)", len(body))
	}
	if sw && len(b) >= 2 {
		if s != "" {
			s += " "
		}
		s += strings.ToUpper(hex.EncodeToString(b[len(b)-2:]))
	}
	return s
}

func meaning(resp []byte) string {
	if len(resp) < 2 {
		return "no status word"
	}
	return strings.TrimPrefix(swOf(resp).Error(), "apdu: ")
}

// FormatExchange describes one exchange in a line, as tessera trace shows
// an exchange, with its verdict; an exchange that is not exact gets the
// recorded and the target's answers on lines of their own, and why.
func FormatExchange(x ExchangeResult) string {
	name := insName(x.Command)
	if len(x.Command) > 0 && x.Command[0]&apdu.CLAChaining != 0 && x.Command[0]&0x80 == 0 {
		name += " (chained)"
	}
	head := fmt.Sprintf("#%-4d line %-5d %s  %s", x.N, x.Line, name, hexAPDU(x.Command, false))
	if x.Verdict == Exact {
		return fmt.Sprintf("%s → %s  [%s]  exact", head, hexAPDU(x.Got, true), meaning(x.Got))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s  %s", head, strings.ToUpper(string(x.Verdict)))
	if x.Recorded != nil {
		fmt.Fprintf(&b, "\n      recorded command %s", hexAPDU(x.Recorded, false))
	}
	fmt.Fprintf(&b, "\n      want %s  [%s]", hexAPDU(x.Want, true), meaning(x.Want))
	if x.Verdict != NotRun {
		got := "(the GET RESPONSEs of the allowed answer above)"
		if len(x.Got) > 0 {
			got = fmt.Sprintf("%s  [%s]", hexAPDU(x.Got, true), meaning(x.Got))
		}
		fmt.Fprintf(&b, "\n      got  %s", got)
	}
	if x.Why != "" {
		fmt.Fprintf(&b, "\n      why  %s", x.Why)
	}
	return b.String()
}

// FormatCounts is a one-line summary of counts.
func FormatCounts(c Counts) string {
	return fmt.Sprintf("%d exchanges: %d exact, %d structural, %d allowed, %d mismatch, %d not run",
		c.Exchanges, c.Exact, c.Structural, c.Allowed, c.Mismatch, c.NotRun)
}

// WriteText writes a replay a person reads: every exchange (FormatExchange),
// or with brief only those that are not exact, then the summary line.
func WriteText(w io.Writer, r *Result, brief bool) error {
	var b strings.Builder
	fmt.Fprintf(&b, "== %s (%s)\n", r.Recording, r.Format)
	for _, x := range r.Exchanges {
		if brief && (x.Verdict == Exact || x.Verdict == NotRun) {
			continue
		}
		b.WriteString(FormatExchange(x))
		b.WriteByte('\n')
	}
	if r.Stopped != "" {
		fmt.Fprintf(&b, "stopped: %s\n", r.Stopped)
	}
	verdict := "agrees"
	if !r.OK() {
		verdict = "DISAGREES"
	}
	fmt.Fprintf(&b, "%s %s: %s\n", r.Recording, verdict, FormatCounts(r.Counts))
	_, err := io.WriteString(w, b.String())
	return err
}

// jsonExchange is ExchangeResult with its APDUs in hex.
type jsonExchange struct {
	N        int     `json:"n"`
	Line     int     `json:"line"`
	Name     string  `json:"name"`
	Command  string  `json:"command"`
	Recorded string  `json:"recorded_command,omitempty"`
	Want     string  `json:"want"`
	Got      string  `json:"got,omitempty"`
	Verdict  Verdict `json:"verdict"`
	Why      string  `json:"why,omitempty"`
}

type jsonResult struct {
	Recording string         `json:"recording"`
	Format    Format         `json:"format"`
	Agrees    bool           `json:"agrees"`
	Counts    Counts         `json:"counts"`
	Stopped   string         `json:"stopped,omitempty"`
	Exchanges []jsonExchange `json:"exchanges"`
}

// WriteJSON writes the results as one JSON document: {"agrees": bool,
// "counts": totals, "recordings": [{"recording", "format", "agrees",
// "counts", "stopped", "exchanges": [{"n", "line", "name", "command",
// "recorded_command", "want", "got", "verdict", "why"}]}]}, APDUs in
// upper-case hex.
func WriteJSON(w io.Writer, results []*Result) error {
	doc := struct {
		Agrees     bool         `json:"agrees"`
		Counts     Counts       `json:"counts"`
		Recordings []jsonResult `json:"recordings"`
	}{Agrees: true, Recordings: []jsonResult{}}
	up := func(b []byte) string { return strings.ToUpper(hex.EncodeToString(b)) }
	for _, r := range results {
		jr := jsonResult{Recording: r.Recording, Format: r.Format, Agrees: r.OK(), Counts: r.Counts, Stopped: r.Stopped, Exchanges: []jsonExchange{}}
		for _, x := range r.Exchanges {
			jr.Exchanges = append(jr.Exchanges, jsonExchange{N: x.N, Line: x.Line, Name: insName(x.Command), Command: up(x.Command), Recorded: up(x.Recorded),
				Want: up(x.Want), Got: up(x.Got), Verdict: x.Verdict, Why: x.Why})
		}
		doc.Agrees = doc.Agrees && r.OK()
		doc.Counts.Add(r.Counts)
		doc.Recordings = append(doc.Recordings, jr)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}

// WriteJUnit writes the results as JUnit XML: a suite per recording, a
// case per exchange, failed when it mismatches, skipped when not run.
func WriteJUnit(w io.Writer, results []*Result, start time.Time) error {
	doc := junit.Suites{Name: "tessera replay"}
	var total time.Duration
	for _, r := range results {
		s := junit.Suite{Name: r.Recording, Time: junit.Seconds(r.Duration), Timestamp: junit.Timestamp(start)}
		for _, x := range r.Exchanges {
			c := junit.Case{Name: fmt.Sprintf("exchange %d (line %d) %s", x.N, x.Line, insName(x.Command)), Classname: r.Recording, Time: "0.000", SystemOut: FormatExchange(x)}
			switch x.Verdict {
			case Mismatch:
				c.Failure = &junit.Message{Message: x.Why, Body: FormatExchange(x)}
				s.Failures++
			case NotRun:
				c.Skipped = &junit.Message{Message: "not run: " + r.Stopped}
				s.Skipped++
			}
			s.Tests++
			s.Cases = append(s.Cases, c)
		}
		doc.Tests += s.Tests
		doc.Failures += s.Failures
		doc.Skipped += s.Skipped
		total += r.Duration
		doc.Suites = append(doc.Suites, s)
	}
	doc.Time = junit.Seconds(total)
	return junit.Write(w, doc)
}
