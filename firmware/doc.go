// Package firmware is Tessera's card OS: the part of a smart card between the
// contacts and the applications.
//
// A [Card] owns power and reset (with the ATR), the dispatch of command APDUs
// to on-card applications ([Applet]) selected by AID, command chaining
// reassembly (ISO/IEC 7816-4 §5.1.1.1), long responses in 61xx pieces fetched
// with GET RESPONSE (§7.6.1), and the security status of each application,
// which lives in RAM only and is lost at every power-off and reset.
//
// Persistent state goes through an [nvm.Store] opened from the [nvm.Medium]
// handed in; the clock and the random source are handed in too. The card does
// no I/O of its own, which is what makes power-cut injection ([nvm.Tearable])
// and reproducible runs possible.
//
// [Card.Process] is total: every input, however malformed, is answered with a
// status word, except after a power cut, when the card is mute until powered
// on again.
package firmware
