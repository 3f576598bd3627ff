package scenario

import (
	"encoding/json"
	"errors"
	"io"
	"math"
	"strings"
	"time"

	"github.com/tesseracard/tessera/internal/junit"
)

// Result is the outcome of one scenario on one card.
type Result struct {
	File   string
	Name   string
	Target string // the card, as in Options.Target
	Steps  int    // the scenario's steps
	// Err is why the scenario failed (a *StepError when a step failed, or
	// the card could not be started); nil: it passed.
	Err error
	// Log is what each step that ran did, in order: "step 3 (verify):
	// the card answered 9000".
	Log      []string
	Duration time.Duration
}

// Passed reports whether the scenario passed.
func (r Result) Passed() bool { return r.Err == nil }

// Report is the outcome of running scenarios.
type Report struct {
	Started  time.Time
	Duration time.Duration
	Results  []Result
}

// Failed returns how many scenarios failed.
func (r *Report) Failed() int {
	n := 0
	for _, res := range r.Results {
		if !res.Passed() {
			n++
		}
	}
	return n
}

// jsonReport is the JSON form of a Report.
type jsonReport struct {
	Started    time.Time    `json:"started"`
	DurationMS float64      `json:"duration_ms"`
	Summary    jsonSummary  `json:"summary"`
	Scenarios  []jsonResult `json:"scenarios"`
}

type jsonSummary struct {
	Total  int `json:"total"`
	Passed int `json:"passed"`
	Failed int `json:"failed"`
}

type jsonResult struct {
	File       string       `json:"file"`
	Name       string       `json:"name"`
	Target     string       `json:"target"`
	Steps      int          `json:"steps"`
	Result     string       `json:"result"` // pass or fail
	DurationMS float64      `json:"duration_ms"`
	Failure    *jsonFailure `json:"failure,omitempty"`
	Log        []string     `json:"log"`
}

// jsonFailure is why a scenario failed; Line, Step and Kind are set when a
// step failed.
type jsonFailure struct {
	Message string   `json:"message"`
	Line    int      `json:"line,omitempty"`
	Step    int      `json:"step,omitempty"`
	Kind    StepKind `json:"kind,omitempty"`
}

func ms(d time.Duration) float64 { return math.Round(float64(d.Microseconds())) / 1000 }

// WriteJSON writes the report as one indented JSON object: started,
// duration_ms, summary (total, passed, failed) and scenarios (file, name,
// target, steps, result "pass" or "fail", duration_ms, failure with its
// message and, when a step failed, its line, step number and kind, and the
// log of the steps that ran). Fields are only ever added.
func (r *Report) WriteJSON(w io.Writer) error {
	out := jsonReport{Started: r.Started, DurationMS: ms(r.Duration), Scenarios: []jsonResult{}}
	out.Summary.Total = len(r.Results)
	out.Summary.Failed = r.Failed()
	out.Summary.Passed = out.Summary.Total - out.Summary.Failed
	for _, res := range r.Results {
		jr := jsonResult{File: res.File, Name: res.Name, Target: res.Target, Steps: res.Steps, Result: "pass", DurationMS: ms(res.Duration), Log: res.Log}
		if jr.Log == nil {
			jr.Log = []string{}
		}
		if res.Err != nil {
			jr.Result = "fail"
			jr.Failure = &jsonFailure{Message: res.Err.Error()}
			var se *StepError
			if errors.As(res.Err, &se) {
				jr.Failure.Line, jr.Failure.Step, jr.Failure.Kind = se.Line, se.Step, se.Kind
			}
		}
		out.Scenarios = append(out.Scenarios, jr)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// WriteJUnit writes the report as JUnit XML: one testsuite, one testcase per
// scenario (named "FILE: NAME", classname scenario), a failure with its
// message, and the log of the steps that ran in system-out.
func (r *Report) WriteJUnit(w io.Writer) error {
	suite := junit.Suite{Name: "tessera scenario", Tests: len(r.Results), Failures: r.Failed(), Time: junit.Seconds(r.Duration), Timestamp: junit.Timestamp(r.Started)}
	for _, res := range r.Results {
		jc := junit.Case{Name: res.File + ": " + res.Name, Classname: "scenario", Time: junit.Seconds(res.Duration)}
		if res.Err != nil {
			jc.Failure = &junit.Message{Message: res.Err.Error()}
		}
		out := res.Log
		if res.Target != "" {
			out = append([]string{"on " + res.Target}, out...)
		}
		jc.SystemOut = strings.Join(out, "\n")
		suite.Cases = append(suite.Cases, jc)
	}
	return junit.Write(w, junit.Suites{Name: "tessera scenario", Tests: suite.Tests, Failures: suite.Failures, Time: suite.Time, Suites: []junit.Suite{suite}})
}
