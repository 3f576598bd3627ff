package firmware

// Gate is implemented by an applet that decides which of the card's other
// applets are enabled, such as the YubiKey management application, whose
// WRITE CONFIG turns applications off. At every power-on and reset, after
// every applet has booted, the card OS asks each Gate about each other
// applet by AID; an applet any Gate refuses answers no SELECT (6A82) until
// the next power-on, as a disabled application of a YubiKey is absent
// after its reboot. Enabled must not change state.
type Gate interface {
	Enabled(env *Context, aid []byte) bool
}

// gate recomputes which applets are hidden (see Gate).
func (c *Card) gate() {
	c.hidden = make([]bool, len(c.cfg.Applets))
	for gi, a := range c.cfg.Applets {
		g, ok := a.(Gate)
		if !ok {
			continue
		}
		for i, b := range c.cfg.Applets {
			if i != gi && !g.Enabled(c.context(gi), b.AID()) {
				c.hidden[i] = true
			}
		}
	}
}
