package oath

import (
	"testing"

	"github.com/tesseracard/tessera/apdu"
	"github.com/tesseracard/tessera/firmware"
)

// TestDisclose checks what a trace may show of each OATH exchange, through
// the card OS: secrets (PUT, SET CODE, VALIDATE) and one-time codes never.
func TestDisclose(t *testing.T) {
	tc := newTestCard(t)
	tc.selectInfo()
	tests := []struct {
		name string
		cmd  []byte
		want firmware.Disclosure
	}{
		{"put", putCmd("t", typeTOTP|algSHA1, 6, seed20), firmware.Disclosure{Response: true}},
		{"list", command(apdu.InsOATHList, 0, 0), firmware.Disclosure{Command: true, Response: true}},
		{"calculate", calcCmd("t", timeStep(59), 1), firmware.Disclosure{Command: true}},
		{"calculate all", command(apdu.InsOATHCalculateAll, 0, 1, tlv(tagChallenge, timeStep(59))), firmware.Disclosure{Command: true}},
		{"rename", command(apdu.InsOATHRename, 0, 0, tlv(tagName, []byte("t")), tlv(tagName, []byte("u"))), firmware.Disclosure{Command: true, Response: true}},
		{"delete", command(apdu.InsOATHDelete, 0, 0, tlv(tagName, []byte("u"))), firmware.Disclosure{Command: true, Response: true}},
		{"set code", setCodeCmd(accessKey), firmware.Disclosure{Response: true}},
		{"validate", command(apdu.InsOATHValidate, 0, 0, tlv(tagResponse, make([]byte, 20)), tlv(tagChallenge, make([]byte, 8))), firmware.Disclosure{}},
		{"reset", h("00 04 DE AD"), firmware.Disclosure{Command: true, Response: true}},
		{"unknown", h("00 EE 00 00 01 00"), firmware.Disclosure{}},
		{"proprietary class", h("80 A1 00 00"), firmware.Disclosure{}},
	}
	for _, tt := range tests {
		tc.c.Process(tt.cmd)
		if got := tc.c.TakeDisclosure(); got != tt.want {
			t.Errorf("%s: disclosure %+v, want %+v", tt.name, got, tt.want)
		}
	}
}
