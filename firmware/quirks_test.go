package firmware

import (
	"testing"

	"github.com/tesseracard/tessera/apdu"
	"github.com/tesseracard/tessera/firmware/nvm"
)

// TestQuirkStatusSurvivesReset: with the quirk the PIN stays verified over a
// reset and a power cycle; without it (TestSecurityStatusIsRAMOnly) it does
// not.
func TestQuirkStatusSurvivesReset(t *testing.T) {
	cfg := testConfig(nvm.NewTearable(&nvm.Memory{}))
	cfg.Quirks.StatusSurvivesReset = true
	c := poweredCard(t, cfg)
	expectSW(t, c, selectTest, apdu.SWSuccess)
	expectSW(t, c, verifyRight, apdu.SWSuccess)
	for _, cycle := range []func() error{
		func() error { _, err := c.Reset(); return err },
		func() error { c.PowerOff(); _, err := c.PowerOn(); return err },
	} {
		if err := cycle(); err != nil {
			t.Fatal(err)
		}
		expectSW(t, c, selectTest, apdu.SWSuccess)
		expectSW(t, c, verifyStatus, apdu.SWSuccess)
	}
}
