package apdu

import (
	"encoding/hex"
	"strings"
)

// RedactHex writes an exchange in upper-case hex for a record (a trace, a
// failure report) with the data a record may not show replaced by "XX" per
// byte: the command's data field unless showCommand, the response's data
// unless showResponse. Such a string is deliberately not valid hex. The
// header, the length fields (Lc, Le) and the status word stay visible; a
// command too malformed to locate its data field (ISO/IEC 7816-4 §5.1) is
// withheld whole after its first five bytes. redacted reports whether
// anything was withheld. Who decides what may be shown is the caller's: the
// card's applications in the simulator (firmware.Discloser), a host-side
// rule set elsewhere (hostdriver.Redactor).
func RedactHex(cmd, resp []byte, showCommand, showResponse bool) (cmdHex, respHex string, redacted bool) {
	cmdHex = strings.ToUpper(hex.EncodeToString(cmd))
	respHex = strings.ToUpper(hex.EncodeToString(resp))
	if !showCommand && len(cmd) > 5 {
		if c, err := ParseCommand(cmd); err != nil {
			cmdHex = cmdHex[:10] + strings.Repeat("XX", len(cmd)-5)
			redacted = true
		} else if len(c.Data) > 0 {
			// The data field follows Lc: one byte in short form, three
			// (00 and two bytes) in extended form.
			start := 5
			if c.Extended {
				start = 7
			}
			cmdHex = cmdHex[:2*start] + strings.Repeat("XX", len(c.Data)) + cmdHex[2*(start+len(c.Data)):]
			redacted = true
		}
	}
	if !showResponse && len(resp) > 2 {
		respHex = strings.Repeat("XX", len(resp)-2) + respHex[2*(len(resp)-2):]
		redacted = true
	}
	return cmdHex, respHex, redacted
}
