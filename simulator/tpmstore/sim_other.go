//go:build !linux || !cgo

package tpmstore

import (
	"runtime"

	"github.com/google/go-tpm/tpm2/transport"
)

// openSimulator refuses: the in-process simulator (go-tpm-tools, the
// reference TPM's C code on libcrypto) is built only on Linux with cgo (see
// errSimUnsupported).
func openSimulator() (transport.TPMCloser, error) {
	return nil, errSimUnsupported(runtime.GOOS)
}
