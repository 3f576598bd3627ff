package hostdriver

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"runtime"
	"slices"
	"strings"
)

// ErrBadATR is wrapped by every ParseATR error.
var ErrBadATR = errors.New("hostdriver: malformed ATR")

// InterfaceBytes are one group i of TAi, TBi, TCi, TDi (nil when absent).
type InterfaceBytes struct {
	TA, TB, TC, TD *byte
}

// ATR is a decoded answer-to-reset (ISO/IEC 7816-3 §8.2).
type ATR struct {
	Raw []byte
	// Inverse is true for TS = 3F (inverse convention), false for 3B.
	Inverse   bool
	Interface []InterfaceBytes
	// Protocols lists the transmission protocols offered, in order (T=0 when
	// no TD1 says otherwise).
	Protocols []int
	// Fi and Di are the clock rate conversion and baud rate adjustment
	// factors from TA1 (defaults 372 and 1).
	Fi, Di     int
	Historical []byte
	// HasTCK says whether a check byte is present; TCKValid whether the XOR
	// of T0..TCK is zero. TCK is mandatory unless only T=0 is offered.
	HasTCK, TCKValid bool
	// Caps is what the historical bytes say, when they are in the compact-TLV
	// format of ISO/IEC 7816-4 §8.1.1 (category indicator 80).
	Caps *Capabilities
}

// Capabilities are the historical bytes' compact-TLV objects.
type Capabilities struct {
	// Objects are the compact-TLV data objects by tag number (the high
	// nibble of each header byte).
	Objects map[byte][]byte
	// Status is SW1 SW2 of the status indicator, or zero.
	LifeCycle byte
	// CommandChaining and ExtendedLength come from the card capabilities
	// object (tag 7, third byte: bit 8 and bit 7).
	CommandChaining, ExtendedLength bool
	// AID is the application identifier object (tag F), if any.
	AID []byte
}

// Fi and Di tables (ISO/IEC 7816-3 Tables 7 and 8); 0 marks RFU values.
func fiTable(i byte) int {
	return [16]int{372, 372, 558, 744, 1116, 1488, 1860, 0, 0, 512, 768, 1024, 1536, 2048, 0, 0}[i]
}

func diTable(i byte) int {
	return [16]int{0, 1, 2, 4, 8, 16, 32, 64, 12, 20, 0, 0, 0, 0, 0, 0}[i]
}

// ParseATR decodes an ATR. It fails (wrapping ErrBadATR) when the bytes are
// structurally wrong: bad TS, interface or historical bytes beyond the end, a
// missing mandatory TCK, or stray bytes. A TCK that does not check is
// reported in TCKValid, not as an error, so a diagnostic can show it.
func ParseATR(b []byte) (ATR, error) {
	bad := func(format string, args ...any) (ATR, error) {
		return ATR{}, fmt.Errorf("%w: %s", ErrBadATR, fmt.Sprintf(format, args...))
	}
	if len(b) < 2 {
		return bad("%d bytes, want at least TS and T0", len(b))
	}
	if len(b) > 33 {
		return bad("%d bytes, more than the 33 allowed", len(b))
	}
	a := ATR{Raw: append([]byte(nil), b...), Fi: 372, Di: 1}
	switch b[0] {
	case 0x3B:
	case 0x3F:
		a.Inverse = true
	default:
		return bad("TS %02X is neither 3B nor 3F", b[0])
	}
	pos, y := 2, b[1]>>4
	hist := int(b[1] & 0x0F)
	tckNeeded := false
	for {
		var g InterfaceBytes
		for bit, dst := range []**byte{&g.TA, &g.TB, &g.TC} {
			if y&(1<<bit) != 0 {
				if pos >= len(b) {
					return bad("interface bytes run past the end")
				}
				*dst = &b[pos]
				pos++
			}
		}
		if y&8 != 0 {
			if pos >= len(b) {
				return bad("interface bytes run past the end")
			}
			g.TD = &b[pos]
			pos++
		}
		a.Interface = append(a.Interface, g)
		if g.TD == nil {
			break
		}
		t := int(*g.TD & 0x0F)
		if t != 0 {
			tckNeeded = true
		}
		if len(a.Protocols) == 0 || a.Protocols[len(a.Protocols)-1] != t {
			a.Protocols = append(a.Protocols, t)
		}
		y = *g.TD >> 4
	}
	if len(a.Protocols) == 0 {
		a.Protocols = []int{0}
	}
	if ta1 := a.Interface[0].TA; ta1 != nil {
		a.Fi, a.Di = fiTable(*ta1>>4), diTable(*ta1&0x0F)
	}
	if pos+hist > len(b) {
		return bad("%d historical bytes announced, %d present", hist, len(b)-pos)
	}
	a.Historical = a.Raw[pos : pos+hist]
	pos += hist
	switch rest := len(b) - pos; {
	case rest == 1:
		a.HasTCK = true
		var x byte
		for _, c := range b[1:] {
			x ^= c
		}
		a.TCKValid = x == 0
	case rest == 0 && tckNeeded:
		return bad("TCK missing although a protocol other than T=0 is offered")
	case rest > 1:
		return bad("%d stray bytes after the historical bytes", rest-1)
	}
	a.Caps = parseHistorical(a.Historical)
	return a, nil
}

// parseHistorical decodes compact-TLV historical bytes (category indicator
// 80, ISO/IEC 7816-4 §8.1.1.2), or returns nil for other formats.
func parseHistorical(h []byte) *Capabilities {
	if len(h) == 0 || h[0] != 0x80 {
		return nil
	}
	c := &Capabilities{Objects: map[byte][]byte{}}
	for rest := h[1:]; len(rest) > 0; {
		tag, n := rest[0]>>4, int(rest[0]&0x0F)
		if 1+n > len(rest) {
			return c // a truncated object ends the decoding
		}
		v := rest[1 : 1+n]
		rest = rest[1+n:]
		c.Objects[tag] = v
		switch tag {
		case 0x7:
			if len(v) >= 3 {
				c.CommandChaining = v[2]&0x80 != 0
				c.ExtendedLength = v[2]&0x40 != 0
			}
		case 0xF:
			c.AID = v
		case 0x8:
			if len(v) >= 1 {
				c.LifeCycle = v[0]
			}
		}
	}
	return c
}

// ExtendedLength reports whether the ATR announces extended Lc and Le.
func (a ATR) ExtendedLength() bool { return a.Caps != nil && a.Caps.ExtendedLength }

// String is the ATR in upper-case hex with spaces, as pcsc-tools writes it.
func (a ATR) String() string { return hexSpaced(a.Raw) }

func hexSpaced(b []byte) string {
	return strings.TrimSpace(fmt.Sprintf("% X", b))
}

// DefaultATRList is where Debian's pcsc-tools installs its list of ATRs.
const DefaultATRList = "/usr/share/pcsc/smartcard_list.txt"

// ATRListURL is where pcsc-tools publishes the newest list of ATRs, for a
// machine without pcsc-tools (Windows, macOS) to fetch by hand.
const ATRListURL = "https://pcsc-tools.apdu.fr/smartcard_list.txt"

// DefaultATRListPath is where the list of ATRs is looked for when none is
// named: DefaultATRList on Linux, and "" on other systems, where pcsc-tools
// has no standard place.
func DefaultATRListPath() string {
	if runtime.GOOS == "linux" {
		return DefaultATRList
	}
	return ""
}

// maxATRList bounds the list read (pcsc-tools' is about 0.5 MB).
const maxATRList = 16 << 20

// ATRList names cards from pcsc-tools' smartcard_list.txt. Its format: a
// card's ATR pattern on a line of its own, a regular expression over the
// ATR in upper-case hex with spaces ("3B 8F 80 01 80 4F 0C A0 00 00 03 06
// .. .."), matched whole and without regard to case; then the card's
// descriptions, each on a line starting with a tab; a blank line ends the
// entry. Lines starting with # are comments; CR LF line ends are read as
// LF.
type ATRList struct {
	entries []atrEntry
	skipped int
}

type atrEntry struct {
	re    *regexp.Regexp
	names []string
}

// LoadATRList reads a list in smartcard_list.txt format from a file (see
// ReadATRList). A missing file gives an error wrapping fs.ErrNotExist.
func LoadATRList(path string) (*ATRList, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("hostdriver: loading ATR list: %w", err)
	}
	defer f.Close()
	l, err := ReadATRList(f)
	if err != nil {
		return nil, fmt.Errorf("hostdriver: loading ATR list %s: %w", path, err)
	}
	return l, nil
}

// ReadATRList parses a list in smartcard_list.txt format. A pattern line
// that is not an ATR pattern (characters other than hex digits, spaces and
// the regular-expression operators . [ ] ( ) | ? * + { } , - ^ $, or a
// pattern that does not compile) is passed over with its descriptions, and
// counted in Skipped: one bad line does not lose the rest of the list. It
// fails only when the reader does, or past 16 MiB or a line of 1 MiB.
func ReadATRList(r io.Reader) (*ATRList, error) {
	l := &ATRList{}
	lr := &io.LimitedReader{R: r, N: maxATRList + 1}
	sc := bufio.NewScanner(lr)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var cur *atrEntry
	for sc.Scan() {
		line := strings.TrimSuffix(sc.Text(), "\r")
		switch {
		case strings.TrimSpace(line) == "":
			cur = nil
		case strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "\t"):
			if cur != nil {
				if name := strings.TrimSpace(line); name != "" {
					cur.names = append(cur.names, name)
				}
			}
		default:
			re, ok := compileATRPattern(strings.TrimSpace(line))
			if !ok {
				l.skipped++
				cur = nil
				continue
			}
			l.entries = append(l.entries, atrEntry{re: re})
			cur = &l.entries[len(l.entries)-1]
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("hostdriver: reading ATR list: %w", err)
	}
	if lr.N <= 0 {
		return nil, fmt.Errorf("hostdriver: reading ATR list: longer than %d bytes", maxATRList)
	}
	return l, nil
}

// compileATRPattern compiles one ATR pattern line, or reports false when
// it is not one.
func compileATRPattern(p string) (*regexp.Regexp, bool) {
	if p == "" || !isHex(p[0]) && p[0] != '.' && p[0] != '[' && p[0] != '(' {
		return nil, false
	}
	for i := 0; i < len(p); i++ {
		if !isHex(p[i]) && !strings.ContainsRune(" .[]()|?*+{},-^$", rune(p[i])) {
			return nil, false
		}
	}
	re, err := regexp.Compile("(?i)^(?:" + p + ")$")
	if err != nil {
		return nil, false
	}
	return re, true
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'A' <= c && c <= 'F' || 'a' <= c && c <= 'f'
}

// Names returns the descriptions of every pattern that matches atr, in the
// list's order, each description once; nil when none matches. Several
// patterns often match one ATR: a precise one naming the product and a
// broad one naming its family.
func (l *ATRList) Names(atr []byte) []string {
	s := hexSpaced(atr)
	var names []string
	for _, e := range l.entries {
		if !e.re.MatchString(s) {
			continue
		}
		for _, n := range e.names {
			if !slices.Contains(names, n) {
				names = append(names, n)
			}
		}
	}
	return names
}

// Len returns the number of patterns.
func (l *ATRList) Len() int { return len(l.entries) }

// Skipped returns the number of pattern lines passed over because they
// are not ATR patterns.
func (l *ATRList) Skipped() int { return l.skipped }
