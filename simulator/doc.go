// Package simulator hosts Tessera cards and puts them where host software
// can reach them.
//
// A [Simulator] holds any number of cards, each in a [Reader] of its own:
// the card's firmware (assembled from a profile by [NewCard]), its
// persistent memory in a crash-safe journal file of its own
// (STATE/cards/<n>/card.state), so that the simulator may be killed at any
// instant and every card resumes with exactly what it had committed, and
// what reaches it:
//
//   - a vpcd link: the card is a TCP client of the vsmartcard vpcd driver
//     inside pcscd (port 35963+n), so every PC/SC program on the machine
//     sees it. Messages are a 2-byte big-endian length and a payload; a
//     1-byte payload from vpcd is a control code (00 power off, 01 power on,
//     02 reset, 04 get ATR). The link re-arms TCP_QUICKACK after every read
//     and writes each reply in one write (without both, every APDU waits
//     some 40 ms for a delayed ACK), and reconnects with backoff while pcscd
//     is away;
//   - a [Transport], in process, for tests that need no pcscd;
//   - the control API ([ControlHandler], [Client]): HTTP/JSON on a unix
//     socket (mode 0600), or on loopback TCP with a bearer token
//     ([NewControlToken]), to add, remove, insert, power-cycle, tear, touch,
//     inspect and factory-reset cards. It is an administrator interface and
//     refuses requests from web pages (control.go lists its checks).
//
// Commands reach a card one at a time, whichever way they come, after the
// latency its profile gives the instruction (the timing model). A [Tracer]
// records every exchange as a JSON line with the secrets redacted.
//
// # A card that loses power
//
// A tear armed through [Reader.ArmTear] cuts the card's power at a chosen
// persistent write (nvm.Tearable). The command that made the write gets no
// answer and the card goes mute, as a real card pulled out mid-write: it
// leaves its vpcd reader (the host's pending transmit gets an empty
// response, and pcscd sees the card removed) and [Transport.Transmit]
// returns [ErrMute], until the card is re-inserted or power-cycled. A panic
// in the firmware is answered 6F00 and restarts the card, and never takes
// the simulator down.
package simulator
