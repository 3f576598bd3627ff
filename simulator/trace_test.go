package simulator

import (
	"bytes"
	"context"
	"encoding/base32"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tesseracard/tessera/firmware"
)

func TestRedact(t *testing.T) {
	var (
		none    = firmware.Disclosure{}
		all     = firmware.Disclosure{Command: true, Response: true}
		cmdOnly = firmware.Disclosure{Command: true}
		outOnly = firmware.Disclosure{Response: true}
	)
	tests := []struct {
		name, cmd, resp   string
		d                 firmware.Disclosure
		wantCmd, wantResp string
		wantRedacted      bool
	}{
		{"select, shown", "00A4040005A000000308", "9000", all, "00A4040005A000000308", "9000", false},
		{"verify PIN", "002000800831323334353637FF", "63C2", outOnly, "0020008008XXXXXXXXXXXXXXXX", "63C2", true},
		{"verify status has no data", "00200080", "63C3", outOnly, "00200080", "63C3", false},
		{"nothing disclosed, no data", "00200080", "63C3", none, "00200080", "63C3", false},
		{"both withheld", "008703 9B 04 7C028000", "7C0A8008" + "1122334455667788" + "9000", none, "0087039B04XXXXXXXX", "XXXXXXXXXXXXXXXXXXXXXXXX9000", true},
		{"response withheld only", "0087079A06 7C04 82008100", "7C0482020102" + "9000", cmdOnly, "0087079A067C0482008100", "XXXXXXXXXXXX9000", true},
		{"shown both ways", "0087119A06 7C04 82008100", "7C0482020102" + "9000", all, "0087119A067C0482008100", "7C04820201029000", false},
		{"chained piece", "10FE119A04 06020102", "9000", outOnly, "10FE119A04XXXXXXXX", "9000", true},
		{"extended", "00FE119A000003 060201", "9000", outOnly, "00FE119A000003XXXXXX", "9000", true},
		{"Le stays visible", "002000800831323334353637FF00", "6700", outOnly, "0020008008XXXXXXXXXXXXXXXX00", "6700", true},
		{"malformed", "002000800831", "6700", none, "0020008008XX", "6700", true},
		{"malformed, disclosed", "002000800831", "6700", all, "002000800831", "6700", false},
		{"too short to hold data", "0020", "6700", none, "0020", "6700", false},
		{"no response", "0020008001AA", "", none, "0020008001XX", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gotCmd, gotResp, red := Redact(unhex(t, tt.cmd), unhex(t, tt.resp), tt.d)
			if gotCmd != strings.ReplaceAll(tt.wantCmd, " ", "") || gotResp != tt.wantResp || red != tt.wantRedacted {
				t.Errorf("Redact(%+v) = %s, %s, %v; want %s, %s, %v", tt.d, gotCmd, gotResp, red, tt.wantCmd, tt.wantResp, tt.wantRedacted)
			}
		})
	}
}

// TestTraceNeverHoldsSecrets runs a session through a traced card and checks
// the PIN and the management key appear nowhere in the trace.
func TestTraceNeverHoldsSecrets(t *testing.T) {
	var buf bytes.Buffer
	s := newTestSim(t, Config{Tracer: NewTracer(&buf)})
	r := addCard(t, s, CardSpec{Slot: 0})
	tr := r.Transport()
	transmit(t, tr, selectPIV)
	transmit(t, tr, "0020008008313233343536FFFF")                                          // PIN 123456
	transmit(t, tr, "002400801031323334353636FFFF313233343536FFFF")                        // change to 123466... wrong old
	transmit(t, tr, "0087039B047C028000")                                                  // witness request
	transmit(t, tr, "00FFFFFF1B039B18"+"010203040506070801020304050607080102030405060708") // set mgmt key (refused: not authenticated)
	r.Remove(context.Background())
	text := buf.String()
	for _, secret := range []string{"313233343536", "0102030405060708"} {
		if strings.Contains(text, secret) {
			t.Errorf("trace holds %s:\n%s", secret, text)
		}
	}
	var exchanges, events int
	err := ReadTrace(strings.NewReader(text), func(rec TraceRecord) error {
		if rec.Card != 0 || rec.Time.IsZero() {
			t.Errorf("record %+v", rec)
		}
		if rec.Event != "" {
			events++
			return nil
		}
		exchanges++
		if len(rec.SW) != 4 || !strings.HasSuffix(rec.Response, rec.SW) || rec.Duration <= 0 {
			t.Errorf("exchange record %+v", rec)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if exchanges != 5 || events < 2 { // power-on, remove, power-off
		t.Errorf("trace has %d exchanges and %d events, want 5 and at least 2:\n%s", exchanges, events, text)
	}
}

func TestReadTraceErrors(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"not JSON", "{\"card\":0}\nhello\n", "line 2: not a trace record"},
		{"too long", strings.Repeat("x", maxTraceLine+10), "longer than"},
	}
	for _, tt := range tests {
		err := ReadTrace(strings.NewReader(tt.in), func(TraceRecord) error { return nil })
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: ReadTrace() error = %v, want %q", tt.name, err, tt.want)
		}
	}
}

func TestFormatRecord(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 123456000, time.Local)
	tests := []struct {
		rec  TraceRecord
		want []string
	}{
		{TraceRecord{Time: at, Card: 1, Command: "0020008008XXXXXXXXXXXXXXXX", Response: "63C2", SW: "63C2", Duration: int64(41 * time.Microsecond)},
			[]string{"03:04:05.123456", "card 1", "VERIFY", "00200080 08XXXXXXXXXXXXXXXX", "63C2", "verification failed (2 retries left)", "41µs"}},
		{TraceRecord{Time: at, Command: "00FD0000", Response: "0507019000", SW: "9000"},
			[]string{"GET VERSION", "050701 9000", "success"}},
		{TraceRecord{Time: at, Command: "10DB3FFF04", Response: "9000", SW: "9000"},
			[]string{"PUT DATA (chained)"}},
		{TraceRecord{Time: at, Command: "00E0000004620282013F", Response: "9000", SW: "9000"},
			[]string{"CREATE FILE"}},
		{TraceRecord{Time: at, Command: "002A9E9A0401020304", Response: "9000", SW: "9000"},
			[]string{"PERFORM SECURITY OPERATION"}},
		{TraceRecord{Time: at, Command: "00EE0000", Response: "6D00", SW: "6D00"},
			[]string{"INS EE", "instruction"}},
		{TraceRecord{Time: at, Card: 2, Event: "power-on", Detail: "ATR 3B8080"},
			[]string{"card 2", "-- power-on ATR 3B8080"}},
	}
	for _, tt := range tests {
		got := FormatRecord(tt.rec)
		for _, w := range tt.want {
			if !strings.Contains(got, w) {
				t.Errorf("FormatRecord(%+v) = %q, want it to contain %q", tt.rec, got, w)
			}
		}
	}
}

func TestTraceRecordJSON(t *testing.T) {
	var buf bytes.Buffer
	tr := NewTracer(&buf)
	start := time.Now()
	tr.exchange(3, start, unhex(t, "00A4040005A000000308"), unhex(t, "9000"), firmware.Disclosure{Command: true, Response: true})
	var m map[string]any
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"time", "card", "command", "response", "sw", "duration_ns"} {
		if _, ok := m[k]; !ok {
			t.Errorf("trace line %s has no %q", buf.String(), k)
		}
	}
	if !strings.HasSuffix(buf.String(), "}\n") || strings.Count(buf.String(), "\n") != 1 {
		t.Errorf("trace line %q: want one JSON object and a newline", buf.String())
	}
}

// TestTraceNeverHoldsPersonaSecrets: the secrets of the field-token
// personas (an issued transport PIN, an envelope PIN and PUK, a TOTP seed
// and the codes sent with VERIFY to key reference 90) appear neither in
// the trace nor in the log, through reveal, enrolment and use.
func TestTraceNeverHoldsPersonaSecrets(t *testing.T) {
	var trace, logs bytes.Buffer
	s := newTestSim(t, Config{Tracer: NewTracer(&trace), Log: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	ctx := context.Background()
	field := func(v string) string {
		return fmt.Sprintf("%X", append([]byte(v), bytes.Repeat([]byte{0xFF}, 8-len(v))...))
	}
	var secrets []string
	for slot, name := range []string{"transport-pin-token", "pin-puk-envelope"} {
		r := addCard(t, s, CardSpec{Slot: slot, Profile: name})
		in, err := r.RevealCredentials(ctx)
		if err != nil {
			t.Fatal(err)
		}
		tr := r.Transport()
		transmit(t, tr, selectPIV)
		transmit(t, tr, "0020008008"+field(in.PIN))
		transmit(t, tr, "0024008010"+field(in.PIN)+field("24681357"))
		if in.PUK != "" {
			transmit(t, tr, "0024008110"+field(in.PUK)+field("86427531"))
			secrets = append(secrets, in.PUK, field(in.PUK))
		}
		secrets = append(secrets, in.PIN, field(in.PIN), "24681357", field("24681357"))
	}
	r := addCard(t, s, CardSpec{Slot: 2, Profile: "cloud-signature"})
	enr, err := r.EnrolTOTP(ctx)
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(enr.URI)
	if err != nil {
		t.Fatal(err)
	}
	seed := u.Query().Get("secret")
	raw, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(seed)
	if err != nil || seed == "" {
		t.Fatalf("enrolment URI %q: no seed", enr.URI)
	}
	tr := r.Transport()
	transmit(t, tr, selectPIV)
	code := "492817" // wrong or right, VERIFY's data is redacted alike
	if got := transmit(t, tr, "0020009006"+fmt.Sprintf("%X", code)); !strings.HasPrefix(got, "63C") {
		t.Errorf("VERIFY to 90 with a code answered %s, want 63Cx", got)
	}
	transmit(t, tr, "00200090")
	secrets = append(secrets, seed, fmt.Sprintf("%X", raw), fmt.Sprintf("%X", code), code)
	for _, where := range []struct {
		name, text string
	}{{"trace", trace.String()}, {"log", logs.String()}} {
		for _, secret := range secrets {
			// A secret standing alone: not inside a longer run of digits
			// or hex (a timestamp, a duration).
			re := regexp.MustCompile(`(?i)(^|[^0-9A-F])` + regexp.QuoteMeta(secret) + `([^0-9A-F]|$)`)
			if strings.Contains(strings.ToUpper(where.text), strings.ToUpper(secret)) && (len(secret) > 8 || re.MatchString(where.text)) {
				t.Errorf("the %s holds the secret %q:\n%s", where.name, secret, where.text)
			}
		}
	}
	if !strings.Contains(trace.String(), "0020009006XXXXXXXXXXXX") {
		t.Errorf("the trace has no redacted VERIFY to key reference 90:\n%s", trace.String())
	}
}
