package firmware

import "fmt"

// checkATR verifies that atr is a well-formed answer-to-reset (ISO/IEC
// 7816-3 §8.2) that offers T=1, the protocol PIV clients insist on: TS, T0,
// the interface bytes T0 and each TDi announce, the historical bytes, and the
// TCK, which must be present and make the XOR of T0..TCK zero whenever a
// protocol other than T=0 is offered.
func checkATR(atr []byte) error {
	if len(atr) < 2 || len(atr) > 33 {
		return fmt.Errorf("ATR of %d bytes: want 2 to 33", len(atr))
	}
	if atr[0] != 0x3B && atr[0] != 0x3F {
		return fmt.Errorf("ATR TS byte %02X: want 3B or 3F", atr[0])
	}
	pos, y := 2, atr[1]>>4 // pos: the next unread byte; y: which of TAi..TDi follow
	hist := int(atr[1] & 0x0F)
	protocols := map[byte]bool{}
	for {
		for _, bit := range []byte{1, 2, 4} { // TAi, TBi, TCi
			if y&bit != 0 {
				pos++
			}
		}
		if y&8 == 0 {
			break
		}
		if pos >= len(atr) {
			return fmt.Errorf("ATR truncated in its interface bytes")
		}
		td := atr[pos]
		pos++
		protocols[td&0x0F] = true
		y = td >> 4
	}
	end := pos + hist
	if !protocols[1] {
		return fmt.Errorf("ATR does not offer T=1")
	}
	// Offering a protocol other than T=0 makes TCK mandatory.
	if end+1 != len(atr) {
		return fmt.Errorf("ATR length %d: interface and %d historical bytes want %d with TCK", len(atr), hist, end+1)
	}
	var x byte
	for _, b := range atr[1:] {
		x ^= b
	}
	if x != 0 {
		return fmt.Errorf("ATR TCK %02X is wrong (XOR of T0..TCK is %02X)", atr[len(atr)-1], x)
	}
	return nil
}
