//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestInteropYkmanMgmt drives the management application of a yubikey-5.7
// card with Debian's ykman 4.0.9 through the machine's pcscd and vpcd, the
// reader named with --reader (ykmanMgmtFlow).
func TestInteropYkmanMgmt(t *testing.T) {
	c := newInteropCard(t, "--profile", "yubikey-5.7", "--serial", strconv.Itoa(ykmanMgmtSerial))
	ykmanMgmtFlow(t, c, []string{"--reader", c.reader})
}

// TestInteropYkmanMgmtIFD is TestInteropYkmanMgmt over the IFD bridge, in
// a reader named as a YubiKey's, which ykman finds by its name without
// --reader.
func TestInteropYkmanMgmtIFD(t *testing.T) {
	c, _ := newIFDYubiKeyCard(t, "--profile", "yubikey-5.7", "--serial", strconv.Itoa(ykmanMgmtSerial))
	ykmanMgmtFlow(t, c, nil)
}

// ykmanMgmtSerial is the serial number of the management flow's card.
const ykmanMgmtSerial = 20260923

// ykmanMgmtFlow drives the management application of c, a yubikey-5.7
// card with serial ykmanMgmtSerial, with ykman given the arguments sel
// that pick the card: ykman info reports the device type, serial, firmware
// and form factor the profile sets and its applications (PIV, OATH and
// OpenPGP enabled over USB, the rest not available);
// ykman config usb --disable PIV is honoured after a power-up (the
// control API's power cycle): SELECT of PIV answers 6A82 while OATH still
// answers, and --enable PIV brings it back after the power cycle after. A
// lock code set with ykman config set-lock-code guards the configuration
// (a wrong one refused) while OATH is disabled and enabled the same way,
// and the trace never shows it.
func ykmanMgmtFlow(t *testing.T, c *interopCard, sel []string) {
	const serial = ykmanMgmtSerial
	reader, trace, s := c.reader, c.trace, c.sim
	ykman := func(t *testing.T, args ...string) string {
		t.Helper()
		return c.run(t, "ykman", append(slices.Clone(sel), args...)...)
	}
	// app checks one row of ykman info's application table.
	app := func(t *testing.T, info, name, status string) {
		t.Helper()
		if !regexp.MustCompile(`(?m)^` + name + `\s+` + status + `\s*$`).MatchString(info) {
			t.Errorf("ykman info: no row %q %q:\n%s", name, status, info)
		}
	}
	// selectSW sends SELECT of aid with opensc-tool and returns SW1SW2,
	// trying again for a while when pcscd still reports the card removed
	// by a power cycle.
	selectSW := func(t *testing.T, aid string) string {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for {
			r := c.exec(t, nil, "opensc-tool", "--reader", reader, "--send-apdu", "00:A4:04:00:"+fmt.Sprintf("%02X", len(aid)/2)+":"+aid)
			m := regexp.MustCompile(`SW1=0x([0-9A-Fa-f]{2}), SW2=0x([0-9A-Fa-f]{2})`).FindStringSubmatch(r.out)
			if m != nil {
				return strings.ToUpper(m[1] + m[2])
			}
			if time.Now().After(deadline) {
				t.Fatalf("opensc-tool SELECT %s: no status word in:\n%s", aid, r.out)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	powerCycle := func(t *testing.T) {
		t.Helper()
		if _, err := s.client().PowerCycle(context.Background(), 0); err != nil {
			t.Fatal(err)
		}
	}
	const pivAID, oathAID = "A000000308", "A0000005272101"

	c.step("info", func(t *testing.T) {
		info := ykman(t, "info")
		// "5A": a USB-A keychain without NFC. (The USB interfaces ykman
		// lists come from the reader's name, not from the card.)
		mustContain(t, "ykman info", info, "Device type: YubiKey 5A\n", fmt.Sprintf("Serial number: %d\n", serial),
			"Firmware version: 5.7.1\n", "Form factor: Keychain (USB-A)\n")
		app(t, info, "PIV", "Enabled")
		app(t, info, "OATH", "Enabled")
		app(t, info, "OpenPGP", "Enabled")
		for _, name := range []string{"OTP", "FIDO U2F", "FIDO2", "YubiHSM Auth"} {
			app(t, info, name, "Not available")
		}
	})
	c.step("config usb --disable PIV", func(t *testing.T) {
		// pcscd itself powers the card down when ykman lets it go, which
		// a YubiKey's reboot stands for; the control API's power cycle
		// makes the power-up explicit. (That the change waits for a
		// power-up is firmware/mgmt's TestWriteConfigDisablesAtPowerOn.)
		ykman(t, "config", "usb", "--disable", "PIV", "--force")
		powerCycle(t)
		if got := selectSW(t, pivAID); got != "6A82" {
			t.Errorf("SELECT PIV after the power cycle = %s, want 6A82", got)
		}
		if got := selectSW(t, oathAID); got != "9000" {
			t.Errorf("SELECT OATH after the power cycle = %s, want 9000", got)
		}
		app(t, ykman(t, "info"), "PIV", "Disabled")
	})
	c.step("config usb --enable PIV", func(t *testing.T) {
		ykman(t, "config", "usb", "--enable", "PIV", "--force")
		powerCycle(t)
		if got := selectSW(t, pivAID); got != "9000" {
			t.Errorf("SELECT PIV after enabling and a power cycle = %s, want 9000", got)
		}
		app(t, ykman(t, "info"), "PIV", "Enabled")
	})
	const lockCode = "5eca11ab1e0ddba11c0ffee15deadbee"
	c.step("config set-lock-code", func(t *testing.T) {
		ykman(t, "config", "set-lock-code", "-n", lockCode, "--force")
		mustContain(t, "ykman info", ykman(t, "info"), "Configured capabilities are protected by a lock code.")
	})
	c.step("config usb --disable OATH with the lock code", func(t *testing.T) {
		wrong := strings.Repeat("00", 15) + "01"
		if r := c.exec(t, nil, "ykman", append(slices.Clone(sel), "config", "usb", "--disable", "OATH", "--force", "--lock-code", wrong)...); r.code == 0 {
			t.Errorf("config usb with a wrong lock code succeeded:\n%s", r.out)
		}
		ykman(t, "config", "usb", "--disable", "OATH", "--force", "--lock-code", lockCode)
		powerCycle(t)
		if got := selectSW(t, oathAID); got != "6A82" {
			t.Errorf("SELECT OATH after disabling it and a power cycle = %s, want 6A82", got)
		}
		if got := selectSW(t, pivAID); got != "9000" {
			t.Errorf("SELECT PIV = %s, want 9000", got)
		}
		app(t, ykman(t, "info"), "OATH", "Disabled")
	})
	c.step("config usb --enable OATH, lock code cleared", func(t *testing.T) {
		ykman(t, "config", "usb", "--enable", "OATH", "--force", "--lock-code", lockCode)
		ykman(t, "config", "set-lock-code", "--lock-code", lockCode, "--clear", "--force")
		powerCycle(t)
		if got := selectSW(t, oathAID); got != "9000" {
			t.Errorf("SELECT OATH after enabling it and a power cycle = %s, want 9000", got)
		}
		info := ykman(t, "info")
		app(t, info, "OATH", "Enabled")
		if strings.Contains(info, "lock code") {
			t.Errorf("ykman info after clearing the lock code still mentions one:\n%s", info)
		}
	})
	c.step("trace withholds the lock code", func(t *testing.T) {
		b, err := os.ReadFile(trace)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(bytes.ToUpper(b), []byte(strings.ToUpper(lockCode))) {
			t.Errorf("the trace shows the lock code")
		}
	})
}
