//go:build !linux

package simulator

import "net/netip"

// peerOwner: only Linux's socket tables are read.
func peerOwner(netip.AddrPort, netip.AddrPort) (int, error) { return 0, errOwnerUnknown }
