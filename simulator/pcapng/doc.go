// Package pcapng turns a Tessera trace (simulator.TraceRecord, JSON Lines)
// into a pcapng capture file that Wireshark and tshark open, so that the
// exchanges of a simulated (or relayed) card can be read with the same tool
// as a capture of a real USB smart-card reader.
//
// Writer writes the pcapng blocks themselves (IETF draft "PCAP Now Generic
// (pcapng) Capture File Format", draft-ietf-opsawg-pcapng: the Section
// Header Block, one Interface Description Block and Enhanced Packet Blocks,
// timestamps in microseconds, little-endian).
//
// TraceWriter frames each record as the USB traffic of a CCID reader
// (USB Device Class Specification for Integrated Circuit(s) Cards Interface
// Devices, rev. 1.1) as Linux usbmon captures it (LINKTYPE_USB_LINUX_MMAPPED,
// 220: a 64-byte URB header before each transfer's data):
//
//   - every card is a USB device (address card+1 on bus 1) whose
//     configuration descriptor, written once before its first record,
//     declares a smart-card interface (class 0x0B) with a bulk-out, a
//     bulk-in and an interrupt-in endpoint, which is how Wireshark knows
//     the bulk transfers that follow are CCID;
//   - a command is a PC_to_RDR_XfrBlock (0x6F) on the bulk-out endpoint,
//     its response an RDR_to_PC_DataBlock (0x80) on the bulk-in endpoint,
//     timed at the record's time and at that time plus its duration;
//   - power-on and reset are PC_to_RDR_IccPowerOn (0x62) answered by a
//     DataBlock carrying the ATR; power-off is PC_to_RDR_IccPowerOff (0x63)
//     answered by RDR_to_PC_SlotStatus (0x81); insert and remove are
//     RDR_to_PC_NotifySlotChange (0x50) on the interrupt endpoint; any
//     other event is a NotifySlotChange that changes nothing, carrying the
//     event's name as its packet comment.
//
// Data the card withheld from the trace ("XX" bytes) are written as zero
// bytes, and the packet carrying them has the comment "redacted by the
// card: N bytes withheld": nothing in the capture is invented.
//
// Wireshark dissects the CCID messages with no configuration. Their
// payload goes to the table "usbccid.subdissector", which has no default
// entry in any Wireshark release, so the ISO 7816 dissector shows the
// APDUs only after one "Decode As" (USB CCID → ISO 7816); with tshark:
//
//	tshark -r trace.pcapng -d usbccid.subdissector,iso7816
package pcapng
