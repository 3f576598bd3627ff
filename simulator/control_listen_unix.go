//go:build unix

package simulator

import (
	"net"
	"syscall"
)

// listenUnixPrivate listens on a new unix socket at path created with mode
// 0600 (umask 0177 around the bind), so that the socket file is never, even
// for an instant before a chmod, connectable by other users. The umask is
// the process's: it is restored at once, and nothing else in the simulator
// creates a file or directory while a socket is being made (the control
// socket at start; a card's IFD socket under the simulator's lock, which
// card directories are made under too; state files are made 0600, which
// the umask leaves as it is).
func listenUnixPrivate(path string) (net.Listener, error) {
	old := syscall.Umask(0o177)
	defer syscall.Umask(old)
	return net.Listen("unix", path)
}
