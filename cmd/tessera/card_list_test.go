package main

import (
	"strings"
	"testing"

	"github.com/tesseracard/tessera/simulator"
)

func TestPrintInfosReader(t *testing.T) {
	tests := []struct {
		card simulator.CardInfo
		want string
	}{
		{simulator.CardInfo{ID: 0, VPCD: "127.0.0.1:35963", Connected: true}, "vpcd 127.0.0.1:35963 (connected)"},
		{simulator.CardInfo{ID: 0, VPCD: "127.0.0.1:35963"}, "vpcd 127.0.0.1:35963 (not connected)"},
		{simulator.CardInfo{ID: 1, IFD: "/run/tessera/ifd/card-1.sock", Reader: "YubiKey 01 00", Connected: true}, `"YubiKey 01 00" (connected)`},
		{simulator.CardInfo{ID: 1, IFD: "/run/tessera/ifd/card-1.sock", Reader: "YubiKey 01 00"}, `"YubiKey 01 00"  `},
		{simulator.CardInfo{ID: 2}, "in process"},
	}
	for _, tt := range tests {
		var b strings.Builder
		printInfos(&b, []simulator.CardInfo{tt.card})
		if !strings.Contains(b.String(), tt.want) {
			t.Errorf("printInfos(%+v) =\n%s\nwant the reader %q", tt.card, b.String(), tt.want)
		}
	}
}
