//go:build e2e

package e2e

import (
	"slices"
	"strings"
	"testing"
)

// TestYkmanOpenPGPSetRetries drives SET PIN RETRIES (INS F2) of a
// yubikey-5.7 card with Debian's ykman 4.0.9, `ykman openpgp access
// set-retries` (1 to 99 each, checked by ykman before it opens the card),
// and reads the tries back with `ykman openpgp info` (GET DATA C4): limits
// above 15 (25, as Yubico's device test sets the admin PIN's, and 99) are
// taken and shown; a wrong admin PIN counts down from 25, ykman reading the
// tries from C4; 0 for the Reset Code, which Yubico's test sends through
// its library, ykman's command line refuses, and so 100, without a word to
// the card.
func TestYkmanOpenPGPSetRetries(t *testing.T) {
	c := newInteropCard(t, "--profile", "yubikey-5.7")
	ykman := func(t *testing.T, args ...string) toolResult {
		t.Helper()
		return c.exec(t, nil, "ykman", append([]string{"--reader", c.reader, "openpgp"}, args...)...)
	}
	info := func(t *testing.T, want ...string) {
		t.Helper()
		r := ykman(t, "info")
		if r.code != 0 {
			t.Fatalf("ykman openpgp info: exit status %d", r.code)
		}
		mustContain(t, "ykman openpgp info", r.out, want...)
	}
	refused := func(t *testing.T, arg string, args ...string) {
		t.Helper()
		mark := c.traceSize()
		r := ykman(t, append([]string{"access", "set-retries"}, append(args, "--admin-pin", gpgAdminPIN, "-f")...)...)
		if r.code == 0 || !strings.Contains(r.out, "Invalid value for '"+arg+"'") {
			t.Errorf("ykman openpgp access set-retries %s: exit %d, want a refusal of %s:\n%s", strings.Join(args, " "), r.code, arg, r.out)
		}
		if heads := c.exchanges(t, mark); slices.Contains(heads, "00F20000") {
			t.Errorf("the card saw SET PIN RETRIES (%v); ykman should refuse before", heads)
		}
	}
	set := func(t *testing.T, args ...string) {
		t.Helper()
		mark := c.traceSize()
		r := ykman(t, append([]string{"access", "set-retries"}, append(args, "--admin-pin", gpgAdminPIN, "-f")...)...)
		if r.code != 0 {
			t.Fatalf("ykman openpgp access set-retries %s: exit status %d", strings.Join(args, " "), r.code)
		}
		c.sawInOrder(t, mark, "ykman openpgp access set-retries", "00200083", "00F20000")
	}

	c.step("set-retries 5 0 25 refused by ykman", func(t *testing.T) {
		refused(t, "RESET-CODE-RETRIES", "5", "0", "25")
		info(t, "PIN tries remaining: 3", "Reset code tries remaining: 0", "Admin PIN tries remaining: 3")
	})
	c.step("set-retries 5 3 25", func(t *testing.T) {
		set(t, "5", "3", "25")
		info(t, "PIN tries remaining: 5", "Reset code tries remaining: 0", "Admin PIN tries remaining: 25")
	})
	c.step("a wrong admin PIN counts down from 25", func(t *testing.T) {
		mark := c.traceSize()
		r := ykman(t, "access", "set-retries", "3", "3", "3", "--admin-pin", "00000000", "-f")
		if r.code == 0 || !strings.Contains(r.out, "Invalid PIN, 24 tries remaining.") {
			t.Errorf("set-retries with a wrong admin PIN: exit %d, want ykman's \"Invalid PIN, 24 tries remaining.\":\n%s", r.code, r.out)
		}
		if heads := c.exchanges(t, mark); slices.Contains(heads, "00F20000") {
			t.Errorf("the card saw SET PIN RETRIES after a wrong admin PIN (%v)", heads)
		}
		info(t, "PIN tries remaining: 5", "Admin PIN tries remaining: 24")
	})
	c.step("set-retries 99 99 99", func(t *testing.T) {
		set(t, "99", "99", "99")
		info(t, "PIN tries remaining: 99", "Reset code tries remaining: 0", "Admin PIN tries remaining: 99")
	})
	c.step("set-retries 100 refused by ykman", func(t *testing.T) {
		refused(t, "ADMIN-PIN-RETRIES", "3", "3", "100")
		info(t, "PIN tries remaining: 99", "Admin PIN tries remaining: 99")
	})
}
