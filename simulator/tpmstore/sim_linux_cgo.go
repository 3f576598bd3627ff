//go:build linux && cgo

package tpmstore

import (
	"fmt"

	"github.com/google/go-tpm-tools/simulator"
	"github.com/google/go-tpm/tpm2/transport"
)

// simTPM is the in-process reference simulator. It keeps its state in this
// process only.
type simTPM struct {
	transport.TPM
	sim *simulator.Simulator
}

func openSimulator() (transport.TPMCloser, error) {
	sim, err := simulator.Get()
	if err != nil {
		return nil, fmt.Errorf("starting the in-process TPM simulator (it needs cgo and libcrypto): %w", err)
	}
	return &simTPM{TPM: transport.FromReadWriter(sim), sim: sim}, nil
}

func (s *simTPM) Close() error { return s.sim.Close() }
