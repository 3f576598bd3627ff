package hostdriver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/tesseracard/tessera/apdu"
)

// ErrNotReadOnly is wrapped by the error a ReadOnly transport returns when
// it refuses a command: an instruction outside ReadOnlyINS, VERIFY with
// data or with P1 other than 00, a chained command, a class byte that is
// not plain interindustry, or bytes that are not a command APDU. Nothing
// was sent to the card.
var ErrNotReadOnly = errors.New("hostdriver: command refused, not read-only")

// ReadOnlyINS are the instructions Diagnose may send, and the only ones a
// ReadOnly transport lets through: SELECT, GET DATA (CB), GET RESPONSE, GET
// VERSION, GET SERIAL, GET METADATA (the last three YubiKey's), READ
// BINARY, and VERIFY without data (which reports the counter without
// spending a try).
func ReadOnlyINS() []byte {
	return []byte{
		apdu.InsSelect, apdu.InsGetDataOdd, apdu.InsGetResponse, apdu.InsGetVersion,
		apdu.InsGetSerial, apdu.InsGetMetadata, apdu.InsReadBinary, apdu.InsVerify,
	}
}

// ReadOnly returns a Transport that sends to t only commands that read a
// card's state, and refuses every other with an error wrapping
// ErrNotReadOnly, sending nothing. It parses each command
// (apdu.ParseCommand) and lets it through only when:
//
//   - its instruction is in ReadOnlyINS;
//   - a VERIFY has no data field and P1 = 00 (with data it would try a
//     PIN; P1 = FF resets the verified state, SP 800-73-4 Part 2 §3.2.1);
//   - its class byte is interindustry (ISO/IEC 7816-4 §5.1.1: 00..0F or
//     40..7F, any logical channel) without command chaining or secure
//     messaging. A proprietary class (80..FF) gives the instruction byte a
//     vendor's meaning; a chain part is not a whole command, and the card
//     acts on the chain it reassembles; secure messaging hides the data
//     field in cryptograms.
//
// ReadOnly sits below Conn, so every byte that leaves is checked,
// including Conn's own GET RESPONSE commands and its resending after 6Cxx.
// The bytes checked are the bytes sent: the command is copied first. A
// Conn over a ReadOnly transport must not need chaining (Conn chains
// commands of more than 255 data bytes unless ExtendedLength is set).
//
// ReadOnly of a ReadOnly transport returns it unchanged.
func ReadOnly(t Transport) Transport {
	if r, ok := t.(readOnly); ok {
		return r
	}
	return readOnly{t: t}
}

type readOnly struct{ t Transport }

func (r readOnly) Transmit(ctx context.Context, cmd []byte) ([]byte, error) {
	cmd = bytes.Clone(cmd)
	if err := checkReadOnly(cmd); err != nil {
		return nil, err
	}
	return r.t.Transmit(ctx, cmd)
}

// checkReadOnly returns an error wrapping ErrNotReadOnly when cmd is not
// a read-only command, as ReadOnly defines it. The error names the
// instruction and never shows the data field (a refused VERIFY's would be
// a PIN).
func checkReadOnly(raw []byte) error {
	cmd, err := apdu.ParseCommand(raw)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrNotReadOnly, err)
	}
	name := apdu.InsName(cmd.INS)
	switch {
	case !slices.Contains(ReadOnlyINS(), cmd.INS):
		return fmt.Errorf("%w: instruction %02X is not one of the read-only instructions % X", ErrNotReadOnly, cmd.INS, ReadOnlyINS())
	case !plainInterindustry(cmd.CLA):
		return fmt.Errorf("%w: %s (%02X) with class %02X: only interindustry classes without chaining or secure messaging are sent", ErrNotReadOnly, name, cmd.INS, cmd.CLA)
	case cmd.INS == apdu.InsVerify && len(cmd.Data) > 0:
		return fmt.Errorf("%w: VERIFY (20) with data would try a PIN", ErrNotReadOnly)
	case cmd.INS == apdu.InsVerify && cmd.P1 != 0x00:
		return fmt.Errorf("%w: VERIFY (20) with P1 %02X: only P1 00 asks for the counter", ErrNotReadOnly, cmd.P1)
	}
	return nil
}

// plainInterindustry reports whether cla is an interindustry class byte
// (ISO/IEC 7816-4 §5.1.1) with neither the command chaining bit nor a
// secure messaging indication: first interindustry 000x SSCC with x and SS
// zero, or further interindustry 01SX CCCC with S and X zero. Any logical
// channel is allowed.
func plainInterindustry(cla byte) bool {
	switch {
	case cla&0xE0 == 0x00: // first interindustry
		return cla&(apdu.CLAChaining|0x0C) == 0
	case cla&0xC0 == 0x40: // further interindustry
		return cla&(apdu.CLAChaining|0x20) == 0
	}
	return false
}
