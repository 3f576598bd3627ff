package hostdriver

import (
	"fmt"

	"github.com/tesseracard/tessera/apdu"
)

// OATHReport is the YubiKey OATH application (YKOATH, AID A0000005272101)
// as its SELECT answer describes it: never its credentials, which only a
// LIST after the access code would show and diagnostics do not ask for.
type OATHReport struct {
	// Version is the application's version (tag 79), "major.minor.patch".
	Version string `json:"version,omitempty"`
	// AccessCode says an access code protects the credentials: SELECT
	// answered a challenge (tag 74).
	AccessCode bool `json:"access_code"`
}

// parseOATHSelect reads YKOATH's SELECT answer (Yubico's YKOATH protocol
// specification: 79 version, 71 name, and 74 challenge and 7B algorithm
// while an access code is set). An answer it cannot read gives a report
// without a version and a warning.
func parseOATHSelect(data []byte, warn *[]string) *OATHReport {
	r := &OATHReport{}
	tlvs, err := apdu.ParseTLVs(data)
	if err != nil {
		*warn = append(*warn, fmt.Sprintf("OATH: SELECT answer unreadable: %v", err))
		return r
	}
	for _, t := range tlvs {
		switch t.Tag {
		case 0x79:
			if len(t.Value) == 3 {
				r.Version = fmt.Sprintf("%d.%d.%d", t.Value[0], t.Value[1], t.Value[2])
			}
		case 0x74:
			r.AccessCode = true
		}
	}
	return r
}
