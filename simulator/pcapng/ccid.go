package pcapng

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/tesseracard/tessera/simulator"
)

// The reader every card appears behind: its endpoints and what its
// CCID class descriptor declares (CCID rev. 1.1 §5.1, §5.2).
const (
	bus         = 1
	epControlIn = 0x80 // usbmon's name for the default pipe, device to host
	epBulkOut   = 0x01
	epBulkIn    = 0x82
	epInterrupt = 0x83

	classSmartCard = 0x0B

	// maxAPDU bounds a command or a response: an extended case 4 command,
	// 4 + 3 + 65535 + 2 bytes, is the longest either can be.
	maxAPDU = 4 + 3 + 65535 + 2
	// maxCard is the highest card number: card N is USB device N+1 and a
	// USB address is at most 127.
	maxCard = 126
)

// CCID message types (CCID rev. 1.1 §6.1, §6.2, §6.3).
const (
	pcToRdrIccPowerOn  = 0x62
	pcToRdrIccPowerOff = 0x63
	pcToRdrXfrBlock    = 0x6F
	rdrToPcDataBlock   = 0x80
	rdrToPcSlotStatus  = 0x81
	rdrToPcNotifySlot  = 0x50
)

// usbmon URB types and transfer types (Linux Documentation/usb/usbmon.rst).
const (
	urbSubmit   = 'S'
	urbComplete = 'C'

	xferInterrupt = 1
	xferControl   = 2
	xferBulk      = 3

	errInProgress = -115 // -EINPROGRESS, the status of a submission
)

// TraceWriter writes trace records as the CCID traffic of USB smart-card
// readers, one per card, in a pcapng file (see the package documentation
// for the mapping). Records are written in the order given.
type TraceWriter struct {
	w     *Writer
	cards map[int]*reader
	urb   uint64 // the last URB ID given
}

// reader is what TraceWriter remembers of a card.
type reader struct {
	seq     byte   // bSeq of the next message
	atr     []byte // the last ATR seen, answered again on reset
	present bool
}

// NewTraceWriter writes the headers of a pcapng file to w and returns a
// TraceWriter that writes records after them.
func NewTraceWriter(w io.Writer) (*TraceWriter, error) {
	pw, err := NewWriter(w, LinkTypeUSBLinuxMmapped)
	if err != nil {
		return nil, err
	}
	return &TraceWriter{w: pw, cards: map[int]*reader{}}, nil
}

// Write writes one record: an exchange as a transfer block and its data
// block, an event as described in the package documentation. A card number
// outside 0-126, a record with neither event nor command, APDU text that is
// neither hex nor "XX", an APDU longer than an extended one and a time
// before 1970 are errors.
func (t *TraceWriter) Write(rec simulator.TraceRecord) error {
	if rec.Card < 0 || rec.Card > maxCard {
		return fmt.Errorf("card %d: a card number must be 0 to %d to be a USB device address", rec.Card, maxCard)
	}
	r := t.cards[rec.Card]
	if r == nil {
		r = &reader{present: true}
		t.cards[rec.Card] = r
		if err := t.describe(rec.Card, rec.Time); err != nil {
			return err
		}
	}
	switch {
	case rec.Event != "":
		return t.event(rec, r)
	case rec.Command != "":
		return t.exchange(rec, r)
	default:
		return fmt.Errorf("card %d at %s: a record with neither an event nor a command", rec.Card, rec.Time.Format(time.RFC3339Nano))
	}
}

func (t *TraceWriter) exchange(rec simulator.TraceRecord, r *reader) error {
	cmd, cmdHidden, err := decodeAPDU(rec.Command)
	if err != nil {
		return fmt.Errorf("card %d at %s: command: %w", rec.Card, rec.Time.Format(time.RFC3339Nano), err)
	}
	resp, respHidden, err := decodeAPDU(rec.Response)
	if err != nil {
		return fmt.Errorf("card %d at %s: response: %w", rec.Card, rec.Time.Format(time.RFC3339Nano), err)
	}
	seq := r.next()
	if err := t.bulkOut(rec.Card, rec.Time, ccidMessage(pcToRdrXfrBlock, seq, [3]byte{}, cmd), withheld(cmdHidden)); err != nil {
		return err
	}
	end := rec.Time.Add(time.Duration(max(rec.Duration, 0)))
	if len(resp) == 0 {
		// No answer: a failed command (bmCommandStatus 1) with a mute card
		// (bError ICC_MUTE, FE), as a reader reports it.
		return t.bulkIn(rec.Card, end, ccidMessage(rdrToPcDataBlock, seq, [3]byte{0x40, 0xFE, 0}, nil), "")
	}
	return t.bulkIn(rec.Card, end, ccidMessage(rdrToPcDataBlock, seq, [3]byte{}, resp), withheld(respHidden))
}

func (t *TraceWriter) event(rec simulator.TraceRecord, r *reader) error {
	switch rec.Event {
	case "power-on", "reset":
		if atr, ok := strings.CutPrefix(rec.Detail, "ATR "); ok {
			if b, err := hex.DecodeString(atr); err == nil && len(b) <= 33 { // ISO/IEC 7816-3 §8.2.1: at most 32 bytes after TS
				r.atr = b
			}
		}
		r.present = true
		seq := r.next()
		if err := t.bulkOut(rec.Card, rec.Time, ccidMessage(pcToRdrIccPowerOn, seq, [3]byte{}, nil), ""); err != nil {
			return err
		}
		return t.bulkIn(rec.Card, rec.Time, ccidMessage(rdrToPcDataBlock, seq, [3]byte{}, r.atr), eventComment(rec))
	case "power-off":
		seq := r.next()
		if err := t.bulkOut(rec.Card, rec.Time, ccidMessage(pcToRdrIccPowerOff, seq, [3]byte{}, nil), ""); err != nil {
			return err
		}
		// bmICCStatus 1: present and inactive; clock running.
		return t.bulkIn(rec.Card, rec.Time, ccidMessage(rdrToPcSlotStatus, seq, [3]byte{0x01, 0, 0}, nil), "")
	case "insert":
		r.present = true
		return t.notify(rec, 0x03, "") // slot 0 present, changed
	case "remove":
		r.present = false
		return t.notify(rec, 0x02, "") // slot 0 absent, changed
	default:
		state := byte(0)
		if r.present {
			state = 0x01
		}
		return t.notify(rec, state, eventComment(rec))
	}
}

// notify writes an RDR_to_PC_NotifySlotChange for slot 0 on the interrupt
// endpoint.
func (t *TraceWriter) notify(rec simulator.TraceRecord, state byte, comment string) error {
	return t.transfer(rec.Card, rec.Time, urbComplete, xferInterrupt, epInterrupt, nil, []byte{rdrToPcNotifySlot, state}, comment)
}

// describe writes a GET_DESCRIPTOR request for the configuration
// descriptor of card's device and its answer: a CCID interface.
func (t *TraceWriter) describe(card int, ts time.Time) error {
	cfg := configDescriptor()
	setup := []byte{0x80, 0x06, 0x00, 0x02, 0x00, 0x00, 0, 0} // standard, device to host, GET_DESCRIPTOR (CONFIGURATION, 0)
	binary.LittleEndian.PutUint16(setup[6:], uint16(len(cfg)))
	id := t.nextURB()
	if err := t.write(ts, urbHeader(id, urbSubmit, xferControl, epControlIn, card, ts, setup, len(cfg), nil), nil, ""); err != nil {
		return err
	}
	note := fmt.Sprintf("card %d: written by tessera, not traced: a CCID reader's configuration, so that Wireshark dissects what follows as CCID", card)
	return t.write(ts, urbHeader(id, urbComplete, xferControl, epControlIn, card, ts, nil, len(cfg), cfg), cfg, note)
}

func (t *TraceWriter) bulkOut(card int, ts time.Time, msg []byte, comment string) error {
	return t.transfer(card, ts, urbSubmit, xferBulk, epBulkOut, nil, msg, comment)
}

func (t *TraceWriter) bulkIn(card int, ts time.Time, msg []byte, comment string) error {
	return t.transfer(card, ts, urbComplete, xferBulk, epBulkIn, nil, msg, comment)
}

// transfer writes one URB carrying data: a submission for data to the
// device, a completion for data from it.
func (t *TraceWriter) transfer(card int, ts time.Time, typ, xfer, ep byte, setup, data []byte, comment string) error {
	return t.write(ts, urbHeader(t.nextURB(), typ, xfer, ep, card, ts, setup, len(data), data), data, comment)
}

func (t *TraceWriter) write(ts time.Time, hdr, data []byte, comment string) error {
	return t.w.WritePacket(ts, append(hdr, data...), comment)
}

func (t *TraceWriter) nextURB() uint64 {
	t.urb++
	return t.urb
}

func (r *reader) next() byte {
	s := r.seq
	r.seq++
	return s
}

// urbHeader returns the 64-byte usbmon header of a URB (struct
// usbmon_packet, little-endian) whose data has length n, of which the
// bytes of data are captured; setup, when not nil, is the control
// transfer's setup packet.
func urbHeader(id uint64, typ, xfer, ep byte, card int, ts time.Time, setup []byte, n int, data []byte) []byte {
	h := make([]byte, 64)
	binary.LittleEndian.PutUint64(h[0:], id)
	h[8] = typ
	h[9] = xfer
	h[10] = ep
	h[11] = byte(card + 1) // device address
	binary.LittleEndian.PutUint16(h[12:], bus)
	h[14] = '-' // no setup packet
	if setup != nil {
		h[14] = 0
		copy(h[40:48], setup)
	}
	switch {
	case len(data) > 0:
		h[15] = 0 // data present
	case typ == urbSubmit:
		h[15] = '<'
	default:
		h[15] = '>'
	}
	us := ts.UnixMicro()
	binary.LittleEndian.PutUint64(h[16:], uint64(us/1e6))
	binary.LittleEndian.PutUint32(h[24:], uint32(us%1e6))
	status := int32(0)
	if typ == urbSubmit {
		status = errInProgress
	}
	binary.LittleEndian.PutUint32(h[28:], uint32(status))
	binary.LittleEndian.PutUint32(h[32:], uint32(n))         // URB length
	binary.LittleEndian.PutUint32(h[36:], uint32(len(data))) // captured data length
	if xfer == xferInterrupt {
		binary.LittleEndian.PutUint32(h[48:], 16) // polling interval
	}
	return h
}

// ccidMessage returns a bulk CCID message for slot 0: type, dwLength,
// bSlot, bSeq, the three type-specific bytes, then data.
func ccidMessage(typ, seq byte, specific [3]byte, data []byte) []byte {
	m := make([]byte, 10, 10+len(data))
	m[0] = typ
	binary.LittleEndian.PutUint32(m[1:], uint32(len(data)))
	m[6] = seq
	copy(m[7:], specific[:])
	return append(m, data...)
}

// configDescriptor returns the configuration of the reader every card sits
// behind: one interface of class 0x0B (smart card) with its CCID class
// descriptor and three endpoints (USB 2.0 §9.6.3, §9.6.5, §9.6.6; CCID
// rev. 1.1 §5.1).
func configDescriptor() []byte {
	iface := []byte{9, 0x04, 0, 0, 3, classSmartCard, 0, 0, 0}
	ccid := []byte{54, 0x21}
	ccid = binary.LittleEndian.AppendUint16(ccid, 0x0110) // bcdCCID 1.10
	ccid = append(ccid, 0, 0x07)                          // bMaxSlotIndex, bVoltageSupport 5 V, 3 V, 1.8 V
	ccid = binary.LittleEndian.AppendUint32(ccid, 0x02)   // dwProtocols: T=1
	ccid = binary.LittleEndian.AppendUint32(ccid, 4000)   // dwDefaultClock, kHz
	ccid = binary.LittleEndian.AppendUint32(ccid, 4000)   // dwMaximumClock
	ccid = append(ccid, 0)                                // bNumClockSupported
	ccid = binary.LittleEndian.AppendUint32(ccid, 10752)  // dwDataRate, bps
	ccid = binary.LittleEndian.AppendUint32(ccid, 10752)  // dwMaxDataRate
	ccid = append(ccid, 0)                                // bNumDataRatesSupported
	ccid = binary.LittleEndian.AppendUint32(ccid, 254)    // dwMaxIFSD
	ccid = binary.LittleEndian.AppendUint32(ccid, 0)      // dwSynchProtocols
	ccid = binary.LittleEndian.AppendUint32(ccid, 0)      // dwMechanical
	// dwFeatures: automatic parameters, activation, voltage, clock, baud
	// rate, negotiation and PPS (0xFE); short and extended APDU exchange
	// (0x040000).
	ccid = binary.LittleEndian.AppendUint32(ccid, 0x000400FE)
	ccid = binary.LittleEndian.AppendUint32(ccid, 10+maxAPDU) // dwMaxCCIDMessageLength
	ccid = append(ccid, 0xFF, 0xFF)                           // bClassGetResponse, bClassEnvelope: echo the command's
	ccid = binary.LittleEndian.AppendUint16(ccid, 0)          // wLcdLayout: none
	ccid = append(ccid, 0, 1)                                 // bPINSupport: none; bMaxCCIDBusySlots
	endpoints := []byte{
		7, 0x05, epBulkOut, 0x02, 0x40, 0x00, 0,
		7, 0x05, epBulkIn, 0x02, 0x40, 0x00, 0,
		7, 0x05, epInterrupt, 0x03, 0x08, 0x00, 0x10,
	}
	body := append(append(iface, ccid...), endpoints...)
	cfg := []byte{9, 0x02, 0, 0, 1, 1, 0, 0x80, 50} // one interface, configuration 1, bus powered, 100 mA
	binary.LittleEndian.PutUint16(cfg[2:], uint16(len(cfg)+len(body)))
	return append(cfg, body...)
}

// decodeAPDU decodes an APDU as a trace writes it: hex, with "XX" for
// every byte the card withheld, which becomes a zero byte. It returns the
// bytes and how many were withheld.
func decodeAPDU(s string) (b []byte, hidden int, err error) {
	if len(s)%2 != 0 {
		return nil, 0, fmt.Errorf("%d hex digits, an odd number", len(s))
	}
	if len(s)/2 > maxAPDU {
		return nil, 0, fmt.Errorf("%d bytes: %w (an APDU is at most %d)", len(s)/2, ErrTooLong, maxAPDU)
	}
	b = make([]byte, len(s)/2)
	for i := 0; i < len(s); i += 2 {
		pair := s[i : i+2]
		if pair == "XX" || pair == "xx" {
			hidden++
			continue
		}
		if _, err := hex.Decode(b[i/2:i/2+1], []byte(pair)); err != nil {
			return nil, 0, fmt.Errorf("byte %d is %q, neither hex nor XX", i/2, pair)
		}
	}
	return b, hidden, nil
}

// withheld is the comment of a packet carrying n withheld bytes.
func withheld(n int) string {
	if n == 0 {
		return ""
	}
	return fmt.Sprintf("redacted by the card: %d bytes withheld", n)
}

// eventComment names an event and its particulars.
func eventComment(rec simulator.TraceRecord) string {
	s := "tessera event: " + rec.Event
	if rec.Detail != "" {
		s += " (" + rec.Detail + ")"
	}
	if len(s) > maxComment {
		s = strings.ToValidUTF8(s[:maxComment], "")
	}
	return s
}
