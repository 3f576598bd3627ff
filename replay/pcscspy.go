package replay

import (
	"regexp"
	"strconv"
	"strings"
)

// ansiEscape matches the colour escapes pcsc-spy writes unless -n.
var ansiEscape = regexp.MustCompile("\x1b\\[[0-9;]*m")

func stripANSI(s string) string {
	if !strings.Contains(s, "\x1b") {
		return s
	}
	return ansiEscape.ReplaceAllString(s, "")
}

// threadPrefix matches the " (tN) " pcsc-spy -t puts before a thread's
// lines, after the thread's indentation.
var threadPrefix = regexp.MustCompile(`^\(t\d+\)\s*`)

// spyCall is a PC/SC call being read, per thread (the indentation and
// thread prefix tell threads apart).
type spyCall struct {
	name       string
	line       int
	field      string // the buffer whose dump lines follow: "send" or "recv"
	sendLen    int
	recvLen    int
	send, recv []byte
	resets     bool // a reconnect or disconnect that resets the card
}

// readPCSCSpy reads pcsc-spy's output (pcsc-lite src/spy/pcsc-spy). Each
// call is its name on a line of its own, its parameters as " i NAME VALUE"
// (in) and " o NAME VALUE" (out) lines, and its result as
// " => TEXT (SCARD_... [0x...])". Buffers follow their length as hex dump
// lines, " i  0000 00 A4 04 00 ... ascii", sixteen bytes a line in a
// column 47 characters wide. A successful SCardTransmit is an exchange; a
// successful SCardReconnect with dwInitialization SCARD_RESET_CARD or
// SCARD_UNPOWER_CARD (1, 2), or SCardDisconnect with such a dwDisposition,
// is a reset. Calls that failed and every other call are skipped. Colour
// escapes, -d's "0x????" handles and -t's thread prefixes are understood.
func readPCSCSpy(b []byte) ([]Step, error) {
	var steps []Step
	calls := map[string]*spyCall{}
	err := scanLines(b, func(n int, raw string) error {
		line := stripANSI(raw)
		body := strings.TrimLeft(line, " ")
		// A thread's lines are indented by four spaces a thread; parameter
		// and result lines by one space more than the call's name.
		indent := strconv.Itoa((len(line) - len(body)) / 4)
		if loc := threadPrefix.FindString(body); loc != "" {
			indent += strings.TrimSpace(loc)
			body = strings.TrimLeft(body[len(loc):], " ")
		}
		body = strings.TrimRight(body, " \r")
		switch {
		case body == "":
			return nil
		case strings.HasPrefix(body, "=> "):
			c := calls[indent]
			delete(calls, indent)
			if c == nil || !strings.Contains(body, "SCARD_S_SUCCESS") {
				return nil
			}
			switch {
			case c.name == "SCardTransmit":
				if len(c.send) != c.sendLen || len(c.recv) != c.recvLen {
					return formatError(c.line, "SCardTransmit: the buffers hold %d and %d bytes, their lengths say %d and %d", len(c.send), len(c.recv), c.sendLen, c.recvLen)
				}
				s, err := exchangeStep(c.line, c.send, c.recv)
				if err != nil {
					return err
				}
				steps = append(steps, s)
			case c.resets:
				steps = append(steps, Step{Line: c.line, Reset: true, Event: c.name})
			}
		case strings.HasPrefix(body, "i ") || strings.HasPrefix(body, "o "):
			c := calls[indent]
			if c == nil {
				return nil // a parameter of a call whose name we missed
			}
			return c.param(n, body[2:])
		case strings.HasPrefix(body, "SCar") && !strings.Contains(body, " "):
			// SCardTransmit, ..., and pcsc-spy's own "SCarControl".
			calls[indent] = &spyCall{name: body, line: n}
		}
		if len(steps) > maxSteps {
			return formatError(n, "more than %d steps", maxSteps)
		}
		return nil
	})
	return steps, err
}

// param reads one parameter line of a call (its " i " or " o " removed).
func (c *spyCall) param(n int, p string) error {
	if strings.HasPrefix(p, " ") { // a hex dump line of the buffer just named
		if c.field == "" {
			return nil
		}
		return c.dump(n, strings.TrimLeft(p, " "))
	}
	c.field = ""
	name, value, _ := strings.Cut(p, " ")
	switch name {
	case "bSendLength", "bRecvLength":
		v, _, _ := strings.Cut(value, " ")
		l, err := strconv.ParseUint(strings.TrimPrefix(v, "0x"), 16, 32)
		if err != nil || l > maxLine {
			return formatError(n, "%s %q is not a length", name, value)
		}
		if name == "bSendLength" {
			c.sendLen = int(l)
		} else {
			c.recvLen = int(l)
		}
	case "bSendBuffer":
		c.field = "send"
	case "bRecvBuffer":
		c.field = "recv"
	case "dwInitialization:", "dwInitialization", "dwDisposition:":
		c.resets = strings.Contains(value, "RESET") || strings.Contains(value, "UNPOWER") ||
			strings.HasPrefix(value, "0x00000001") || strings.HasPrefix(value, "0x00000002")
	}
	return nil
}

// dump reads one hex dump line: "OOOO HH HH ... ascii", the hex column 47
// characters wide (sixteen "HH " less the last space), so that the ASCII
// column, which may itself look like hex, is never read as bytes.
func (c *spyCall) dump(n int, d string) error {
	off, rest, ok := strings.Cut(d, " ")
	o, err := strconv.ParseUint(off, 16, 32)
	if !ok || err != nil || len(off) != 4 {
		return formatError(n, "a hex dump line starts with a 4-digit offset: %q", d)
	}
	buf := &c.send
	want := c.sendLen
	if c.field == "recv" {
		buf, want = &c.recv, c.recvLen
	}
	if int(o) != len(*buf) {
		return formatError(n, "hex dump offset %04X, want %04X", o, len(*buf))
	}
	if len(rest) > 47 {
		rest = rest[:47]
	}
	k := min(16, want-len(*buf))
	f := strings.Fields(rest)
	if k <= 0 || len(f) < k {
		return formatError(n, "hex dump line holds fewer bytes than the buffer's length says")
	}
	b, err := decodeHex(n, "the hex dump", strings.Join(f[:k], ""))
	if err != nil {
		return err
	}
	*buf = append(*buf, b...)
	return nil
}
