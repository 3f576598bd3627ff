//go:build !unix

package simulator

import "net"

// listenUnixPrivate listens on a new unix socket at path. Outside unix
// there is no umask: the socket file gets the permissions of its directory
// (on Windows, its ACL), and the caller's chmod is all there is.
func listenUnixPrivate(path string) (net.Listener, error) {
	return net.Listen("unix", path)
}
