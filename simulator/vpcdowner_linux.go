package simulator

import (
	"errors"
	"net/netip"
	"os"
)

// peerOwner returns the uid owning the socket at the far end of the local
// TCP connection local → remote: the row whose local address is remote.
func peerOwner(local, remote netip.AddrPort) (int, error) {
	tables := []struct {
		path string
		v6   bool
	}{{"/proc/net/tcp", false}, {"/proc/net/tcp6", true}}
	if !remote.Addr().Unmap().Is4() {
		tables = tables[1:]
	}
	for _, t := range tables {
		f, err := os.Open(t.path)
		if errors.Is(err, os.ErrNotExist) {
			continue // no IPv6 in this kernel
		}
		if err != nil {
			return 0, err
		}
		uid, err := socketOwner(f, remote, local, t.v6)
		f.Close()
		if !errors.Is(err, errNoSocketRow) {
			return uid, err
		}
	}
	return 0, errNoSocketRow
}
