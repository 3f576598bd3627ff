package simulator

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"strings"
	"testing"
)

// A /proc/net/tcp and a /proc/net/tcp6 as a little-endian Linux writes them
// (the only byte order the fixtures are written for): the test card's link
// 127.0.0.1:40000 → 127.0.0.1:35963 (port 8C7B), vpcd's end owned by uid
// 1001 (the accepted socket: local 35963, remote 40000 = 9C40), the
// card's end by 0; and the same over IPv4-mapped IPv6 in tcp6.
const (
	procTCP = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:8C7B 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1001        0 1111 1 0000000000000000 100 0 0 10 0
   1: 0100007F:8C7B 0100007F:9C40 01 00000000:00000000 00:00000000 00000000  1001        0 2222 1 0000000000000000 20 4 30 10 -1
   2: 0100007F:9C40 0100007F:8C7B 01 00000000:00000000 00:00000000 00000000     0        0 3333 1 0000000000000000 20 4 30 10 -1
`
	procTCP6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0000000000000000FFFF00000100007F:8C7B 0000000000000000FFFF00000100007F:9C40 01 00000000:00000000 00:00000000 00000000   104        0 4444 1 0000000000000000 20 4 30 10 -1
`
)

func TestSocketOwner(t *testing.T) {
	if binary.NativeEndian.Uint16([]byte{1, 0}) != 1 {
		t.Skip("the fixtures are a little-endian kernel's tables; procAddr's native order is tested by TestVPCDPeerOwnerLive")
	}
	vpcd, card := netip.MustParseAddrPort("127.0.0.1:35963"), netip.MustParseAddrPort("127.0.0.1:40000")
	mapped := func(a netip.AddrPort) netip.AddrPort {
		return netip.AddrPortFrom(netip.AddrFrom16(a.Addr().As16()), a.Port())
	}
	tests := []struct {
		name          string
		table         string
		local, remote netip.AddrPort
		v6            bool
		uid           int
		err           error // nil: uid; else errors.Is
		errText       string
	}{
		{"vpcd's end", procTCP, vpcd, card, false, 1001, nil, ""},
		{"the card's end", procTCP, card, vpcd, false, 0, nil, ""},
		{"IPv4-mapped in tcp6", procTCP6, mapped(vpcd), mapped(card), true, 104, nil, ""},
		{"IPv4 addresses looked up in tcp6", procTCP6, vpcd, card, true, 104, nil, ""},
		{"no such connection", procTCP, vpcd, netip.MustParseAddrPort("127.0.0.1:40001"), false, 0, errNoSocketRow, ""},
		{"only the listener", procTCP, netip.MustParseAddrPort("0.0.0.0:35963"), netip.MustParseAddrPort("0.0.0.0:0"), false, 1001, nil, ""},
		{"titles only", strings.SplitAfter(procTCP, "\n")[0], vpcd, card, false, 0, errNoSocketRow, ""},
		{"short row", "titles\n   1: 0100007F:8C7B 0100007F:9C40 01\n", vpcd, card, false, 0, nil, "4 fields"},
		{"bad uid", "titles\n   1: 0100007F:8C7B 0100007F:9C40 01 0:0 00:0 0 root 0 1\n", vpcd, card, false, 0, nil, `uid "root"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			uid, err := socketOwner(strings.NewReader(tt.table), tt.local, tt.remote, tt.v6)
			switch {
			case tt.err != nil:
				if !errors.Is(err, tt.err) {
					t.Fatalf("err = %v, want %v", err, tt.err)
				}
			case tt.errText != "":
				if err == nil || !strings.Contains(err.Error(), tt.errText) {
					t.Fatalf("err = %v, want one saying %q", err, tt.errText)
				}
			case err != nil:
				t.Fatal(err)
			case uid != tt.uid:
				t.Fatalf("uid = %d, want %d", uid, tt.uid)
			}
		})
	}
}

// FuzzSocketOwner: any table text gives a uid or an error, never a panic.
func FuzzSocketOwner(f *testing.F) {
	f.Add(procTCP, false)
	f.Add(procTCP6, true)
	f.Add("titles\n1: x y z\n", false)
	vpcd, card := netip.MustParseAddrPort("127.0.0.1:35963"), netip.MustParseAddrPort("127.0.0.1:40000")
	f.Fuzz(func(t *testing.T, table string, v6 bool) {
		uid, err := socketOwner(strings.NewReader(table), vpcd, card, v6)
		if err == nil && uid < 0 {
			t.Fatalf("uid %d", uid)
		}
	})
}
