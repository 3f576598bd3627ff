package main

import (
	"context"
	"fmt"

	"github.com/tesseracard/tessera/hostdriver"
	"github.com/tesseracard/tessera/simulator/simtarget"
)

// diagnoseSim diagnoses a factory-fresh simulated card of the profile (a
// built-in name or a YAML file), in process, through the same read-only
// connection as a card in a reader: what diag shows of a card of that
// profile, with no pcscd.
func diagnoseSim(ctx context.Context, prof string, names *hostdriver.ATRList) ([]*hostdriver.Report, error) {
	c, err := simtarget.Open(simtarget.Options{Profile: prof})
	if err != nil {
		return nil, fmt.Errorf("--profile: %w", err)
	}
	defer c.Close()
	atr, err := c.ATR(ctx)
	if err != nil {
		return nil, fmt.Errorf("the simulated card's ATR: %w", err)
	}
	r, err := hostdriver.Diagnose(ctx, &hostdriver.Conn{T: hostdriver.ReadOnly(c)}, atr, hostdriver.DiagOptions{Names: names})
	if err != nil {
		return nil, err
	}
	r.Reader, r.State = fmt.Sprintf("the simulator in process (profile %s)", c.Profile()), hostdriver.StateCard
	return []*hostdriver.Report{r}, nil
}
