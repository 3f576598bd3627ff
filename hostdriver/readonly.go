package hostdriver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/tesseracard/tessera/apdu"
)

// ErrNotReadOnly is wrapped by the error a ReadOnly transport returns when
// it refuses a command: an instruction outside ReadOnlyINS, VERIFY with
// data or with P1 other than 00, a chained command, a class byte that is
// not plain interindustry, or bytes that are not a command APDU. Nothing
// was sent to the card.
var ErrNotReadOnly = errors.New("hostdriver: command refused, not read-only")

// ReadOnlyINS are the instructions Diagnose may send, and the only ones a
// ReadOnly transport lets through: SELECT, GET DATA (CB, and CA without
// data), GET RESPONSE, GET VERSION, GET SERIAL, GET METADATA (the last
// three YubiKey's), READ BINARY, READ RECORD without data, VERIFY without data (which reports the
// counter without spending a try), and the YubiKey management
// application's READ CONFIG (1D), only right after that application was
// selected.
//
// GET DATA with the even INS CA names a data object by P1-P2 and has no
// data field (ISO/IEC 7816-4 §11.4.3; OpenPGP card 3.4 §7.2.6): it reads
// the object and changes nothing. The OpenPGP application is read with it.
//
// READ RECORD (B2, ISO/IEC 7816-4 §11.4.3) reads the records of a record
// EF, such as a record EF.DIR (PKCS#15 diagnostics); at most it moves the
// current record pointer, which is session state, never stored. The odd
// B3 and any data field (a search) are refused.
func ReadOnlyINS() []byte {
	return []byte{
		apdu.InsSelect, apdu.InsGetDataOdd, apdu.InsGetData, apdu.InsGetResponse, apdu.InsGetVersion,
		apdu.InsGetSerial, apdu.InsGetMetadata, apdu.InsReadBinary, apdu.InsReadRecord, apdu.InsVerify, apdu.InsReadConfig,
	}
}

// YubiKeyManagementAID is the AID of the YubiKey management application
// (yubikit's AID.MANAGEMENT), whose READ CONFIG reports the firmware
// version, serial, form factor and applications of a YubiKey.
func YubiKeyManagementAID() []byte { return []byte{0xA0, 0x00, 0x00, 0x05, 0x27, 0x47, 0x11, 0x17} }

// readConfigPages bounds the READ CONFIG pages (P1) diag asks for and
// ReadOnly lets through: a YubiKey says with tag 10 that another page
// follows; 5.7 has two.
const readConfigPages = 4

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
//     field in cryptograms;
//   - a GET DATA with the even INS CA has no data field;
//   - a READ CONFIG (1D) has class 00, P1 (the page) below 4, P2 00 and
//     no data, and follows a SELECT of the YubiKey management application
//     (00 A4 04 00 with its whole AID, YubiKeyManagementAID) that the
//     card accepted, with no other SELECT since.
//
// 1D is READ CONFIG only to the YubiKey management application: ISO/IEC
// 7816-4 defines no command 1D, so another application may give it any
// meaning, a write included. The transport therefore remembers whether the
// last SELECT it passed, on any channel, selected that application by its
// whole AID on the basic channel and was answered 9000 or 61xx; any other
// SELECT, and any failed exchange, forgets it. What it cannot see it does
// not trust: a card reset through another path (not through Transmit)
// while the management application is remembered would let one READ CONFIG
// reach the card's default application. Diagnose selects the application
// again right before it reads.
//
// ReadOnly sits below Conn, so every byte that leaves is checked,
// including Conn's own GET RESPONSE commands and its resending after 6Cxx.
// The bytes checked are the bytes sent: the command is copied first. A
// Conn over a ReadOnly transport must not need chaining (Conn chains
// commands of more than 255 data bytes unless ExtendedLength is set).
//
// ReadOnly of a ReadOnly transport returns it unchanged. A ReadOnly
// transport is safe for concurrent use; exchanges are serialised.
func ReadOnly(t Transport) Transport {
	if r, ok := t.(*readOnly); ok {
		return r
	}
	return &readOnly{t: t}
}

type readOnly struct {
	t  Transport
	mu sync.Mutex
	// management: the last SELECT passed selected the YubiKey management
	// application, so READ CONFIG may follow.
	management bool
}

func (r *readOnly) Transmit(ctx context.Context, cmd []byte) ([]byte, error) {
	cmd = bytes.Clone(cmd)
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := checkReadOnly(cmd, r.management); err != nil {
		return nil, err
	}
	resp, err := r.t.Transmit(ctx, cmd)
	switch {
	case err != nil || len(resp) < 2:
		r.management = false
	case cmd[1] == apdu.InsSelect:
		sw := resp[len(resp)-2]
		r.management = selectsManagement(cmd) && (sw == 0x90 && resp[len(resp)-1] == 0x00 || sw == 0x61)
	}
	return resp, err
}

// selectsManagement reports whether raw, a command checkReadOnly accepted,
// is 00 A4 04 00 naming the whole YubiKey management AID.
func selectsManagement(raw []byte) bool {
	cmd, err := apdu.ParseCommand(raw)
	return err == nil && cmd.CLA == 0x00 && cmd.P1 == 0x04 && cmd.P2 == 0x00 && bytes.Equal(cmd.Data, YubiKeyManagementAID())
}

// checkReadOnly returns an error wrapping ErrNotReadOnly when cmd is not
// a read-only command, as ReadOnly defines it; management says whether
// the YubiKey management application is selected. The error names the
// instruction and never shows the data field (a refused VERIFY's would be
// a PIN).
func checkReadOnly(raw []byte, management bool) error {
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
	case cmd.INS == apdu.InsReadRecord && len(cmd.Data) > 0:
		return fmt.Errorf("%w: READ RECORD (B2) with data: only the records P1-P2 name are read", ErrNotReadOnly)
	case cmd.INS == apdu.InsGetData && len(cmd.Data) > 0:
		return fmt.Errorf("%w: GET DATA (CA) with data: the even GET DATA names its object by P1-P2 alone", ErrNotReadOnly)
	case cmd.INS == apdu.InsReadConfig && (cmd.CLA != 0x00 || cmd.P1 >= readConfigPages || cmd.P2 != 0x00 || len(cmd.Data) > 0):
		return fmt.Errorf("%w: READ CONFIG (1D) is sent only as 00 1D 0p 00 (page p below %d) without data", ErrNotReadOnly, readConfigPages)
	case cmd.INS == apdu.InsReadConfig && !management:
		return fmt.Errorf("%w: READ CONFIG (1D) is sent only right after SELECT of the YubiKey management application (%X): 1D means something else, or nothing, to other applications", ErrNotReadOnly, YubiKeyManagementAID())
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
