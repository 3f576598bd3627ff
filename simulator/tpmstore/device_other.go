//go:build !linux

package tpmstore

import (
	"runtime"

	"github.com/google/go-tpm/tpm2/transport"
)

// openDevice refuses: TPM character devices are Linux's (see
// errDeviceUnsupported).
func openDevice(string) (transport.TPMCloser, error) {
	return nil, errDeviceUnsupported(runtime.GOOS)
}
