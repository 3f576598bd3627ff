package conformance

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tesseracard/tessera/internal/junit"
)

// Outcome is what became of a case.
type Outcome string

const (
	Passed   Outcome = "pass"      // the card conforms
	Departed Outcome = "departure" // the card conforms, or departs from the specification in a documented way
	Failed   Outcome = "fail"      // the card does not conform, or a case could not put the card back
	Skipped  Outcome = "skip"      // the case does not apply, or needs what the target lacks
	Refused  Outcome = "refused"   // destructive, and the suite cannot put this card back afterwards
	// NotApplicable: the card has none of the applications the suite
	// tests (it answers SELECT for neither PIV nor the ISO application),
	// so the case was not run. It is no failure: such a card is not
	// non-conforming, it is outside the suite.
	NotApplicable Outcome = "not-applicable"
)

// Result is the outcome of one case.
type Result struct {
	ID         string          `json:"id"`
	App        Application     `json:"application"` // the application the case tests
	Title      string          `json:"title"`
	Ref        string          `json:"reference"`
	Class      Class           `json:"class"`
	Outcome    Outcome         `json:"result"`
	Message    string          `json:"message,omitempty"` // why it failed, was skipped or refused
	Departures []DepartureNote `json:"departures,omitempty"`
	Duration   time.Duration   `json:"-"`
	// Exchanges are the last exchanges of a failed case, secrets
	// replaced by XX: "> command\n< response" in hex.
	Exchanges []string `json:"exchanges,omitempty"`
}

// Report is the outcome of a run.
type Report struct {
	Target   string
	Started  time.Time
	Duration time.Duration
	// Notes are what the suite found out before running destructive
	// cases on a real card: what it checked, what it refuses and why.
	Notes   []string
	Results []Result
}

// Counts is how many cases had each outcome.
type Counts struct {
	Total    int `json:"total"`
	Passed   int `json:"passed"`
	Departed int `json:"departures"`
	Failed   int `json:"failed"`
	Skipped  int `json:"skipped"`
	Refused  int `json:"refused"`
	// NotApplicable counts the cases of a card that has none of the
	// applications the suite tests.
	NotApplicable int `json:"not_applicable"`
}

// Counts counts the outcomes.
func (r *Report) Counts() Counts {
	c := Counts{Total: len(r.Results)}
	for _, res := range r.Results {
		switch res.Outcome {
		case Passed:
			c.Passed++
		case Departed:
			c.Departed++
		case Failed:
			c.Failed++
		case Skipped:
			c.Skipped++
		case Refused:
			c.Refused++
		case NotApplicable:
			c.NotApplicable++
		}
	}
	return c
}

// AppCounts are the outcomes of one application's cases.
type AppCounts struct {
	App Application `json:"application"`
	Counts
	// DepartureNames are the departures its cases saw, sorted, once each:
	// why the cases that departed passed.
	DepartureNames []string `json:"departure_names"`
}

// ByApplication counts the outcomes of each application's cases, in the
// order PIV, ISO, OATH, MGMT, OpenPGP, leaving out applications with no case.
func (r *Report) ByApplication() []AppCounts {
	var out []AppCounts
	for _, app := range []Application{AppPIV, AppISO, AppOATH, AppMgmt, AppOpenPGP} {
		sub := &Report{}
		for _, res := range r.Results {
			if res.App == app {
				sub.Results = append(sub.Results, res)
			}
		}
		if len(sub.Results) == 0 {
			continue
		}
		names := sub.DepartureNames()
		if names == nil {
			names = []string{}
		}
		out = append(out, AppCounts{App: app, Counts: sub.Counts(), DepartureNames: names})
	}
	return out
}

// Code is the application's short name in reports: PIV, ISO, OATH, MGMT
// or OpenPGP.
func (a Application) Code() string {
	switch a {
	case AppISO:
		return "ISO"
	case AppOATH:
		return "OATH"
	case AppMgmt:
		return "MGMT"
	case AppOpenPGP:
		return "OpenPGP"
	}
	return "PIV"
}

// MarshalText writes the application's Code.
func (a Application) MarshalText() ([]byte, error) { return []byte(a.Code()), nil }

// UnmarshalText reads an application's Code.
func (a *Application) UnmarshalText(b []byte) error {
	for _, app := range []Application{AppPIV, AppISO, AppOATH, AppMgmt, AppOpenPGP} {
		if app.Code() == string(b) {
			*a = app
			return nil
		}
	}
	return fmt.Errorf("conformance: %q is no application (PIV, ISO, OATH, MGMT or OpenPGP)", b)
}

// line is an application's counts for the text report, e.g. "PIV: 40
// cases: 36 passed, 3 departed (yubikey-blocking-6983), 0 failed, 1
// skipped".
func (a AppCounts) line() string {
	s := fmt.Sprintf("%s: %d cases: %d passed, %d departed", a.App.Code(), a.Total, a.Passed, a.Departed)
	if len(a.DepartureNames) > 0 {
		s += " (" + strings.Join(a.DepartureNames, ", ") + ")"
	}
	s += fmt.Sprintf(", %d failed", a.Failed)
	for _, n := range []struct {
		n    int
		what string
	}{{a.Skipped, "skipped"}, {a.Refused, "refused"}, {a.NotApplicable, "not applicable"}} {
		if n.n > 0 {
			s += fmt.Sprintf(", %d %s", n.n, n.what)
		}
	}
	return s
}

// Failed reports whether any case failed.
func (r *Report) Failed() bool { return r.Counts().Failed > 0 }

// IDs returns the IDs of the cases with outcome o.
func (r *Report) IDs(o Outcome) []string {
	var ids []string
	for _, res := range r.Results {
		if res.Outcome == o {
			ids = append(ids, res.ID)
		}
	}
	return ids
}

// DepartureNames returns the names of the departures seen, sorted, once
// each.
func (r *Report) DepartureNames() []string {
	var names []string
	for _, res := range r.Results {
		for _, d := range res.Departures {
			if !slices.Contains(names, d.Name) {
				names = append(names, d.Name)
			}
		}
	}
	slices.Sort(names)
	return names
}

// Summary is the closing line of the text report, e.g. "41 cases in 0.2s: 36
// passed, 3 departures (yubikey-blocking-6983), 0 failed, 2 skipped".
func (r *Report) Summary() string {
	c := r.Counts()
	s := fmt.Sprintf("%d cases in %s: %d passed, %d with departures", c.Total, formatDuration(r.Duration), c.Passed, c.Departed)
	if names := r.DepartureNames(); len(names) > 0 {
		s += " (" + strings.Join(names, ", ") + ")"
	}
	s += fmt.Sprintf(", %d failed", c.Failed)
	if c.Failed > 0 {
		s += " (" + strings.Join(r.IDs(Failed), ", ") + ")"
	}
	s += fmt.Sprintf(", %d skipped", c.Skipped)
	if c.Refused > 0 {
		s += fmt.Sprintf(", %d refused", c.Refused)
	}
	if c.NotApplicable > 0 {
		s += fmt.Sprintf(", %d not applicable", c.NotApplicable)
	}
	return s
}

// WriteText writes the report as an aligned table: case, result, time,
// title, with the reason for every outcome but a pass on the lines below,
// then the summary, then one line per application (ByApplication).
func (r *Report) WriteText(w io.Writer) error {
	fmt.Fprintf(w, "Conformance of %s\n", r.Target)
	for _, n := range r.Notes {
		fmt.Fprintf(w, "  note: %s\n", n)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CASE\tRESULT\tTIME\tWHAT")
	for _, res := range r.Results {
		outcome := string(res.Outcome)
		if res.Outcome == Failed {
			outcome = "FAIL"
		}
		dur := formatDuration(res.Duration)
		if res.Outcome == Refused || res.Outcome == NotApplicable || res.Outcome == Skipped && res.Duration < time.Microsecond {
			dur = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", res.ID, outcome, dur, res.Title)
		for _, d := range res.Departures {
			fmt.Fprintf(tw, "\t\t\t  departure %s: %s\n", d.Name, d.Detail)
		}
		if res.Message != "" {
			fmt.Fprintf(tw, "\t\t\t  %s\n", res.Message)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, res := range r.Results {
		if len(res.Exchanges) == 0 {
			continue
		}
		fmt.Fprintf(w, "\nLast exchanges of %s:\n", res.ID)
		for _, x := range res.Exchanges {
			fmt.Fprintf(w, "  %s\n", strings.ReplaceAll(x, "\n", "\n  "))
		}
	}
	if _, err := fmt.Fprintf(w, "\n%s\n", r.Summary()); err != nil {
		return err
	}
	for _, a := range r.ByApplication() {
		if _, err := fmt.Fprintf(w, "  %s\n", a.line()); err != nil {
			return err
		}
	}
	return nil
}

func formatDuration(d time.Duration) string {
	switch {
	case d >= time.Second:
		return fmt.Sprintf("%.2fs", d.Seconds())
	case d >= 10*time.Millisecond:
		return fmt.Sprintf("%dms", d.Milliseconds())
	}
	return fmt.Sprintf("%.1fms", float64(d.Microseconds())/1000)
}

// jsonReport is the JSON form of a Report.
type jsonReport struct {
	Target     string          `json:"target"`
	Started    time.Time       `json:"started"`
	DurationMS float64         `json:"duration_ms"`
	Summary    Counts          `json:"summary"`
	Apps       []AppCounts     `json:"applications"`
	Departures []DepartureInfo `json:"departures_known"`
	Notes      []string        `json:"notes"`
	Cases      []jsonResult    `json:"cases"`
}

type jsonResult struct {
	Result
	DurationMS float64 `json:"duration_ms"`
}

func ms(d time.Duration) float64 { return math.Round(float64(d.Microseconds())) / 1000 }

// WriteJSON writes the report as one indented JSON object: target, started,
// duration_ms, summary (counts), applications (per application: its code,
// the counts and departure_names), notes, departures_known, and cases (id,
// application, title, reference, class, result, message, departures,
// duration_ms, exchanges). Fields are only ever added.
func (r *Report) WriteJSON(w io.Writer) error {
	out := jsonReport{Target: r.Target, Started: r.Started, DurationMS: ms(r.Duration), Summary: r.Counts(), Apps: r.ByApplication(), Departures: Departures(), Notes: r.Notes, Cases: []jsonResult{}}
	if out.Apps == nil {
		out.Apps = []AppCounts{}
	}
	if out.Notes == nil {
		out.Notes = []string{}
	}
	for _, res := range r.Results {
		out.Cases = append(out.Cases, jsonResult{res, ms(res.Duration)})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// WriteJUnit writes the report as JUnit XML: one testsuite per application
// (named "<target> PIV", "<target> ISO", ...; ByApplication's order), one
// testcase per case (classname conformance.safe or
// conformance.destructive), failures with their message and last
// exchanges, skipped, refused and not applicable cases as skipped (the
// message: the outcome, then the reason), departures and references in
// system-out. A report with no case has one empty testsuite named after the
// target.
func (r *Report) WriteJUnit(w io.Writer) error {
	c := r.Counts()
	all := junit.Suites{Name: "tessera conform", Tests: c.Total, Failures: c.Failed, Skipped: c.Skipped + c.Refused + c.NotApplicable, Time: junit.Seconds(r.Duration)}
	apps := r.ByApplication()
	if len(apps) == 0 {
		all.Suites = []junit.Suite{{Name: r.Target, Time: all.Time, Timestamp: junit.Timestamp(r.Started)}}
	}
	for _, a := range apps {
		suite := junit.Suite{Name: r.Target + " " + a.App.Code(), Tests: a.Total, Failures: a.Failed, Skipped: a.Skipped + a.Refused + a.NotApplicable, Timestamp: junit.Timestamp(r.Started)}
		var d time.Duration
		for _, res := range r.Results {
			if res.App != a.App {
				continue
			}
			d += res.Duration
			suite.Cases = append(suite.Cases, junitCase(res))
		}
		suite.Time = junit.Seconds(d)
		all.Suites = append(all.Suites, suite)
	}
	return junit.Write(w, all)
}

func junitCase(res Result) junit.Case {
	jc := junit.Case{Name: res.ID + " " + res.Title, Classname: "conformance." + res.Class.String(), Time: junit.Seconds(res.Duration)}
	out := []string{"reference: " + res.Ref}
	for _, d := range res.Departures {
		out = append(out, "departure "+d.Name+": "+d.Detail)
	}
	switch res.Outcome {
	case Failed:
		jc.Failure = &junit.Message{Message: res.Message, Body: strings.Join(res.Exchanges, "\n")}
	case Skipped, Refused, NotApplicable:
		jc.Skipped = &junit.Message{Message: string(res.Outcome) + ": " + res.Message}
	}
	jc.SystemOut = strings.Join(out, "\n")
	return jc
}
