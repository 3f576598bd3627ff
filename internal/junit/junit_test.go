package junit

import (
	"encoding/xml"
	"strings"
	"testing"
	"time"
)

// TestWriteRoundTrip: what Write writes parses back as the same document,
// with the header CI systems expect.
func TestWriteRoundTrip(t *testing.T) {
	want := Suites{
		Name: "tessera", Tests: 2, Failures: 1, Time: Seconds(1500 * time.Millisecond),
		Suites: []Suite{{
			Name: "a card", Tests: 2, Failures: 1, Time: "1.500", Timestamp: Timestamp(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)),
			Cases: []Case{
				{Name: "passes", Classname: "x.safe", Time: "0.001", SystemOut: "reference: <§5.1> & more"},
				{Name: "fails", Classname: "x.safe", Time: "0.002", Failure: &Message{Message: `answered "6A80"`, Body: "> 00\n< 6A80"}},
			},
		}},
	}
	var b strings.Builder
	if err := Write(&b, want); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(b.String(), xml.Header+"<testsuites ") || !strings.HasSuffix(b.String(), "</testsuites>\n") {
		t.Errorf("Write wrote %q, want the XML header, <testsuites ...> and a final newline", b.String())
	}
	var got Suites
	if err := xml.Unmarshal([]byte(b.String()), &got); err != nil {
		t.Fatalf("the XML does not parse: %v\n%s", err, b.String())
	}
	got.XMLName = xml.Name{}
	if g, w := got.Suites[0].Timestamp, "2026-01-02T03:04:05Z"; g != w {
		t.Errorf("timestamp = %q, want %q", g, w)
	}
	if g, w := got.Suites[0].Cases[1].Failure.Body, "> 00\n< 6A80"; g != w {
		t.Errorf("failure body = %q, want %q", g, w)
	}
	if g, w := got.Suites[0].Cases[0].SystemOut, "reference: <§5.1> & more"; g != w {
		t.Errorf("system-out = %q, want %q", g, w)
	}
	if got.Tests != 2 || got.Failures != 1 || got.Time != "1.500" || got.Suites[0].Cases[0].Failure != nil {
		t.Errorf("document = %+v", got)
	}
}
