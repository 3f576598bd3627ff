package scenario

import (
	"encoding/json"
	"encoding/xml"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tesseracard/tessera/internal/junit"
)

// TestReportJSONAndJUnit: a report of a passing scenario, one whose step
// failed and one whose card never started gives JSON with the counts, each
// result, the failed step's line, number and kind, and the log; and JUnit
// XML with one testcase per scenario, failures with their message.
func TestReportJSONAndJUnit(t *testing.T) {
	stepErr := &StepError{File: "b.yaml", Line: 6, Step: 3, Kind: StepVerify, Err: errors.New("the card answered 63C1, want 63C2")}
	rep := &Report{
		Started:  time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		Duration: 40 * time.Millisecond,
		Results: []Result{
			{File: "a.yaml", Name: "passes", Target: "the simulator (profile default)", Steps: 2, Log: []string{"a.yaml:3: step 1 (verify): 9000 (success)", "a.yaml:4: step 2 (assert): pin_tries 3"}, Duration: 10 * time.Millisecond},
			{File: "b.yaml", Name: "fails", Target: "the simulator (profile default)", Steps: 4, Err: stepErr, Log: []string{"b.yaml:4: step 1 (verify): 63C2"}, Duration: 20 * time.Millisecond},
			{File: "c.yaml", Name: "no card", Steps: 1, Err: errors.New("c.yaml: profile \"nosuch\" is neither ...")},
		},
	}
	if got, want := rep.Failed(), 2; got != want {
		t.Errorf("Failed() = %d, want %d", got, want)
	}

	var b strings.Builder
	if err := rep.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	var got jsonReport
	if err := json.Unmarshal([]byte(b.String()), &got); err != nil {
		t.Fatalf("the JSON does not parse: %v\n%s", err, b.String())
	}
	if want := (jsonSummary{Total: 3, Passed: 1, Failed: 2}); got.Summary != want {
		t.Errorf("summary = %+v, want %+v", got.Summary, want)
	}
	if len(got.Scenarios) != 3 {
		t.Fatalf("%d scenarios in the JSON, want 3:\n%s", len(got.Scenarios), b.String())
	}
	a, f, c := got.Scenarios[0], got.Scenarios[1], got.Scenarios[2]
	if a.Result != "pass" || a.Failure != nil || len(a.Log) != 2 || a.DurationMS != 10 || a.Steps != 2 {
		t.Errorf("passing scenario = %+v", a)
	}
	if f.Result != "fail" || f.Failure == nil || *f.Failure != (jsonFailure{Message: stepErr.Error(), Line: 6, Step: 3, Kind: StepVerify}) {
		t.Errorf("failing scenario = %+v, failure %+v", f, f.Failure)
	}
	if c.Result != "fail" || c.Failure == nil || c.Failure.Step != 0 || c.Log == nil {
		t.Errorf("scenario whose card never started = %+v", c)
	}

	b.Reset()
	if err := rep.WriteJUnit(&b); err != nil {
		t.Fatal(err)
	}
	var doc junit.Suites
	if err := xml.Unmarshal([]byte(b.String()), &doc); err != nil {
		t.Fatalf("the JUnit XML does not parse: %v\n%s", err, b.String())
	}
	s := doc.Suites[0]
	if doc.Tests != 3 || doc.Failures != 2 || len(s.Cases) != 3 || s.Timestamp != "2026-01-02T03:04:05Z" {
		t.Fatalf("JUnit = %s", b.String())
	}
	if s.Cases[0].Name != "a.yaml: passes" || s.Cases[0].Failure != nil || !strings.Contains(s.Cases[0].SystemOut, "step 2 (assert)") {
		t.Errorf("passing testcase = %+v", s.Cases[0])
	}
	if s.Cases[1].Failure == nil || s.Cases[1].Failure.Message != stepErr.Error() {
		t.Errorf("failing testcase = %+v", s.Cases[1])
	}
}
