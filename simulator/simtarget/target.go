package simtarget

import (
	"context"
	"fmt"

	"github.com/tesseracard/tessera/conformance"
	"github.com/tesseracard/tessera/simulator"
)

// Target returns the simulator in process as the suite's target: a
// factory-fresh card of the profile (a built-in name or a YAML file) in RAM
// for every case, and the profile's factory credentials. A card issued with
// random credentials (personas transport-pin-token and pin-puk-envelope) is
// tested as delivered: its envelope is opened (RevealCredentials) and the
// suite uses the values inside (conformance.CardCredentials), so a
// transport PIN is still a transport PIN and the report names its persona
// difference.
func Target(profileName string) (conformance.Target, conformance.Credentials, error) {
	p, err := simulator.ResolveProfile(profileName)
	if err != nil {
		return conformance.Target{}, conformance.Credentials{}, err
	}
	creds := conformance.Credentials{PIN: p.PIV.PIN, PUK: p.PIV.PUK, MgmtKey: p.PIV.MgmtKey, MgmtAlg: p.PIV.MgmtKeyAlgorithmID()}
	t := conformance.Target{
		Name:  fmt.Sprintf("the simulator in process (profile %s)", p.Name),
		Fresh: true,
		Open: func(ctx context.Context) (conformance.Card, error) {
			c, err := Open(Options{Profile: profileName})
			if err != nil {
				return nil, err
			}
			if !p.PIV.RandomPIN && !p.PIV.RandomPUK {
				return c, nil
			}
			pin, puk, err := c.RevealCredentials(ctx)
			if err != nil {
				c.Close()
				return nil, fmt.Errorf("opening the card's envelope: %w", err)
			}
			own := creds
			if pin != "" {
				own.PIN = pin
			}
			if puk != "" {
				own.PUK = puk
			}
			return issuedCard{c, own}, nil
		},
	}
	return t, creds, nil
}

// issuedCard is a simulated card issued with random credentials, with
// those it was issued with (conformance.CardCredentials).
type issuedCard struct {
	*Card
	creds conformance.Credentials
}

func (c issuedCard) Credentials() conformance.Credentials { return c.creds }
