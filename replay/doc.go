// Package replay sends a recorded card session's commands to a target card
// and compares every answer with the recorded one: the tool that tells a
// driver developer whether the simulator (or another card) behaves as the
// card they recorded, and that keeps the simulator honest against real
// tokens.
//
// A [Recording] is read from one of several formats ([Read], [Format]):
// Tessera's own JSON Lines traces (tessera sim --trace), the mock files of
// piv-go/go-piv, the output of pcsc-lite's pcsc-spy, and OpenSC-style
// ">"/"<" APDU logs. [Replay] sends it to a [Target] (any
// hostdriver.Transport that can also be reset: the simulator in process,
// a PC/SC reader) and returns a [Result] with a [Verdict] per exchange:
//
//   - Exact: the status word and the data are the recorded ones;
//   - Structural: the answer is random by nature (a generated key, a
//     signature, a challenge, a management-key witness, an attestation
//     certificate) and was checked in structure instead: the same BER-TLV
//     tags and lengths, a signature that verifies under the target's key, a
//     key of the right algorithm and size, a certificate that parses and
//     attests the slot's key;
//   - Allowed: an entry of the [Allowlist] names the exchange and says why
//     the target may depart from the recording;
//   - Mismatch: anything else, with the reason.
//
// Where a recorded command carries data derived from a random answer, the
// host's side is recomputed as the recorded host computed it: the decrypted
// witness of PIV management-key mutual authentication (SP 800-73-4 Part 2
// Appendix A.2), with the default key or any key the recording sets, and
// the ciphertext of an RSA decryption under a key the card generated.
//
// The package knows nothing of the simulator: the command line and the
// tests hand it the target.
package replay
