// Package hostdriver is the host side of Tessera: how software on a computer
// reaches a card.
//
// A [Transport] moves raw APDU bytes to a card and back: the PC/SC transport
// in package hostdriver/pcsc, or the simulator's in-process transport, which
// satisfies the interface structurally. A [Conn] applies the ISO/IEC 7816-4
// exchange rules on top of any transport: it fetches the rest of a long
// answer with GET RESPONSE after 61xx, sends a command again with the right Le
// after 6Cxx, splits long commands by chaining, and uses extended length only
// where the card says it supports it. Errors carry the status word
// (apdu.StatusWord, *apdu.AuthError).
//
// [ParseATR] decodes an answer-to-reset (ISO/IEC 7816-3 §8) and its
// historical bytes (ISO/IEC 7816-4 §8.1.1), and [ATRList] names a card from
// pcsc-tools' smartcard_list.txt.
//
// [Diagnose] reads a card's state without changing it, and cannot: its
// commands leave through [ReadOnly], a transport that refuses (with
// [ErrNotReadOnly], sending nothing) every command outside [ReadOnlyINS]
// and VERIFY with data.
package hostdriver
