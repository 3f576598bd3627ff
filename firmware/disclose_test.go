package firmware

import (
	"testing"

	"github.com/tesseracard/tessera/apdu"
)

func TestDiscloseInterindustry(t *testing.T) {
	tests := []struct {
		name        string
		cmd         apdu.Command
		want        Disclosure
		wantDecided bool
	}{
		{"VERIFY", apdu.Command{INS: apdu.InsVerify, P2: 0x80}, Disclosure{Response: true}, true},
		{"CHANGE REFERENCE DATA chained", apdu.Command{CLA: apdu.CLAChaining, INS: apdu.InsChangeReferenceData}, Disclosure{Response: true}, true},
		{"RESET RETRY COUNTER", apdu.Command{INS: apdu.InsResetRetryCounter}, Disclosure{Response: true}, true},
		{"proprietary class", apdu.Command{CLA: 0x80, INS: apdu.InsSelect}, Disclosure{}, true},
		{"SELECT", apdu.Command{INS: apdu.InsSelect, P1: 0x04}, Disclosure{}, false},
	}
	for _, tt := range tests {
		got, decided := DiscloseInterindustry(tt.cmd)
		if got != tt.want || decided != tt.wantDecided {
			t.Errorf("%s: DiscloseInterindustry() = %+v, %v, want %+v, %v", tt.name, got, decided, tt.want, tt.wantDecided)
		}
	}
}
