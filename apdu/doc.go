// Package apdu owns the ISO/IEC 7816-4 wire format of a smart card, for the
// card side and the host side alike.
//
// It covers three things, each with a parser and a marshaller:
//
//   - Command and response APDUs, the command-response pairs of ISO/IEC
//     7816-4 §5.1: all four cases in short and extended form (cases 1, 2S,
//     3S, 4S, 2E, 3E, 4E), command chaining (§5.1.1.1) and the class byte
//     rules it depends on. See [Command], [ParseCommand], [SplitChain],
//     [Response] and [ParseResponse].
//   - Status words (SW1-SW2, §5.1.3, Tables 5 and 6) as an error type.
//     [StatusWord] implements error, names the interindustry values, and
//     folds families in [StatusWord.Is], so that any 63Cx "is"
//     [SWVerificationFailed]. [StatusWord.Err] turns a failed verification
//     into an [*AuthError] carrying the retry counter.
//   - BER-TLV data objects (§5.2), parsed and built by hand. See [TLV],
//     [ParseTLV], [ParseTLVs], [FindTLV], [AppendTLV] and [Nest].
//
// Section numbers refer to ISO/IEC 7816-4:2005; later editions keep the same
// rules.
//
// # Aliasing
//
// Parsers never copy: [Command.Data], [Response.Data] and [TLV.Value] are
// subslices of the input, so parsing allocates nothing. Their capacity is
// clipped to their length, so appending to them never overwrites the bytes
// that follow in the input. A caller that keeps a parsed value after
// reusing the input buffer must copy it first.
//
// # Errors
//
// Every parser reports malformed input as a [*ParseError] that wraps
// [ErrMalformed], or [ErrTruncated] when the input ends too soon
// (errors.Is(ErrTruncated, ErrMalformed) also holds). Parsers never panic,
// never read past their input and never allocate in proportion to a length
// declared inside the input. Marshalling an impossible command reports an
// error wrapping [ErrInvalidCommand].
//
// The package does no I/O and has no mutable package-level state.
package apdu
