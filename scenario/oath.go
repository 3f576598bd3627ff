package scenario

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/tesseracard/tessera/apdu"
	"github.com/tesseracard/tessera/conformance"
)

// DefaultOATHName is the OATH credential an oath_put step writes when it
// names none.
const DefaultOATHName = "Tessera:cloud-signature"

// oathPut is the step oath_put: the holder enrols the TOTP seed of the
// cloud-signature authorisation (the last enrol step's) into the card's OATH
// application (YKOATH PUT: TOTP, HMAC-SHA-1, 6 digits), as an authenticator
// app would take it from the otpauth:// URI, then selects the scenario's
// application again.
func (r *runner) oathPut(ctx context.Context, st *Step) (string, error) {
	if r.seed == nil {
		return "", errors.New("no TOTP seed to put into the OATH application: enrol first")
	}
	name := st.Name
	if name == "" {
		name = DefaultOATHName
	}
	if err := r.selectOATH(ctx); err != nil {
		return "", err
	}
	what, err := r.exchange(ctx, st, conformance.OATHPutCommand(name, 0x21, 6, r.seed), "9000")
	if err != nil {
		return "", err
	}
	r.oathName = name
	return "OATH PUT " + name + ": " + what, r.reselect(ctx, "OATH PUT")
}

// oathCode returns the code the card's OATH application computes for the
// TOTP step (YKOATH CALCULATE of the oath_put credential), then selects the
// scenario's application again.
func (r *runner) oathCode(ctx context.Context, step uint64) (string, error) {
	if r.oathName == "" {
		return "", errors.New("code: oath needs the seed in the OATH application: oath_put first")
	}
	if err := r.selectOATH(ctx); err != nil {
		return "", err
	}
	resp, err := r.e.Transmit(ctx, conformance.OATHCalculateCommand(r.oathName, binary.BigEndian.AppendUint64(nil, step)))
	if err != nil {
		return "", fmt.Errorf("OATH CALCULATE: %w", err)
	}
	if resp.SW != apdu.SWSuccess {
		return "", fmt.Errorf("OATH CALCULATE of %q answered %s, want 9000", r.oathName, conformance.SWText(resp.SW))
	}
	code, err := conformance.OATHCode(resp.Data)
	if err != nil {
		return "", fmt.Errorf("OATH CALCULATE: %w", err)
	}
	return code, r.reselect(ctx, "OATH CALCULATE")
}

// selectOATH selects the card's OATH application.
func (r *runner) selectOATH(ctx context.Context) error {
	resp, err := r.e.Transmit(ctx, conformance.SelectCommand(conformance.AppOATH.AID()))
	if err != nil {
		return fmt.Errorf("selecting the OATH application: %w", err)
	}
	if resp.SW != apdu.SWSuccess {
		return fmt.Errorf("SELECT of the OATH application answered %s: the card has none (profile applications: [piv, oath])", conformance.SWText(resp.SW))
	}
	return nil
}
