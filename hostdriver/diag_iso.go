package hostdriver

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/tesseracard/tessera/apdu"
)

// IsoAppletAID is the AID of the ISO 7816 file-system application that
// OpenSC's isoApplet driver personalises with PKCS#15 (IsoApplet v0).
func IsoAppletAID() []byte {
	return []byte{0xF2, 0x76, 0xA2, 0x88, 0xBC, 0xFB, 0xA6, 0x9D, 0x34, 0xF3, 0x10, 0x01}
}

// isoAppName names the ISO file-system application in Report.Applications.
const isoAppName = "ISO file system (IsoApplet)"

// ISOReport is the state of an ISO 7816 file-system application
// (IsoApplet-compatible), read without changing it.
type ISOReport struct {
	// APIVersion is the API version from the SELECT answer, "00.06".
	APIVersion string `json:"api_version"`
	// Features are the features the SELECT answer announces:
	// "extended-apdu", "secure-random", "ecc", or "bit XX" for others.
	Features []string `json:"features"`
	// PINSet is false while the token has no PIN (it was never
	// personalised: the file system is open to all); PIN is then absent.
	PINSet bool     `json:"pin_set"`
	PIN    *Counter `json:"pin,omitempty"`
	// PKCS15 is what the token's PKCS#15 structure says, when it has one.
	PKCS15 *PKCS15Report `json:"pkcs15,omitempty"`
}

// PKCS15Report is read from a token's PKCS#15 files (ISO/IEC 7816-15): EF
// TokenInfo (3F00/5015/5032) and the directory files the ODF (5031) names.
type PKCS15Report struct {
	Label        string `json:"label,omitempty"`
	Serial       string `json:"serial,omitempty"` // as it is stored, in hexadecimal
	Manufacturer string `json:"manufacturer,omitempty"`
	// Flags are TokenInfo's token flags: "read-only", "login-required",
	// "prn-generation", "eid-compliant".
	Flags []string `json:"flags"`
	// Objects counts the PKCS#15 objects by kind ("private_keys",
	// "public_keys", "certificates", "auth_objects", ...), as the directory
	// files the ODF names hold them; absent when the ODF cannot be read.
	Objects map[string]int `json:"objects,omitempty"`
}

// isoFeatures returns the feature bits of IsoApplet's SELECT answer (API
// major, minor, feature bits) and their names.
func isoFeatures() []struct {
	bit  byte
	name string
} {
	return []struct {
		bit  byte
		name string
	}{{0x01, "extended-apdu"}, {0x02, "secure-random"}, {0x04, "ecc"}}
}

// PKCS#15 file paths below the MF (SELECT by path omits 3F00): the
// TokenInfo file 5015/5032 and the ODF 5015/5031.
func pathTokenInfo() []byte { return []byte{0x50, 0x15, 0x50, 0x32} }
func pathODF() []byte       { return []byte{0x50, 0x15, 0x50, 0x31} }

// maxEF bounds a file diag reads: IsoApplet's largest file size.
const maxEF = 0x7FFF

// diagnoseISO reads an ISO file-system application: the SELECT answer,
// the PIN state by VERIFY without data to reference 01 (9000: no PIN set,
// 63Cx, 6983 blocked; spending no try), and the PKCS#15 TokenInfo and
// object counts by SELECT by path and READ BINARY. The PUK state cannot be
// read without spending a try, so it is not read.
func diagnoseISO(ctx context.Context, c *Conn, warn *[]string) (*ISOReport, error) {
	sel, err := c.Do(ctx, apdu.Command{INS: apdu.InsSelect, P1: 0x04, Data: IsoAppletAID(), Ne: 256})
	if err != nil {
		return nil, fmt.Errorf("hostdriver: selecting the ISO application: %w", err)
	}
	r := &ISOReport{Features: []string{}}
	if len(sel) >= 2 {
		r.APIVersion = fmt.Sprintf("%02X.%02X", sel[0], sel[1])
	}
	if len(sel) >= 3 {
		rest := sel[2]
		for _, f := range isoFeatures() {
			if rest&f.bit != 0 {
				r.Features = append(r.Features, f.name)
				rest &^= f.bit
			}
		}
		for bit := byte(1); bit != 0; bit <<= 1 {
			if rest&bit != 0 {
				r.Features = append(r.Features, fmt.Sprintf("bit %02X", bit))
			}
		}
	}
	resp, err := c.Transmit(ctx, apdu.Command{INS: apdu.InsVerify, P2: 0x01})
	if err != nil {
		return nil, fmt.Errorf("hostdriver: reading the ISO PIN state: %w", err)
	}
	switch n, ok := resp.SW.Retries(); {
	case resp.SW == apdu.SWSuccess:
		*warn = append(*warn, "token not personalised (no PIN set)")
	case resp.SW == apdu.SWAuthMethodBlocked || ok && n == 0:
		r.PINSet, r.PIN = true, &Counter{Blocked: true}
		*warn = append(*warn, "PIN is blocked")
	case ok:
		r.PINSet, r.PIN = true, &Counter{Tries: n}
	default:
		*warn = append(*warn, fmt.Sprintf("ISO application PIN state unreadable (%04X)", uint16(resp.SW)))
	}
	info, err := readEF(ctx, c, pathTokenInfo())
	switch {
	case errors.Is(err, apdu.SWFileNotFound):
		return r, nil // no PKCS#15 structure
	case err != nil:
		*warn = append(*warn, fmt.Sprintf("PKCS#15 TokenInfo unreadable: %v", err))
		return r, nil
	}
	p, err := ParseTokenInfo(info)
	if err != nil {
		*warn = append(*warn, fmt.Sprintf("PKCS#15 TokenInfo unreadable: %v", err))
		return r, nil
	}
	p.Objects = pkcs15Objects(ctx, c)
	r.PKCS15 = p
	return r, nil
}

// readEF selects the EF at path (below the MF) and reads it whole with
// READ BINARY, up to maxEF bytes: until a short answer or 6B00 (offset
// past the end).
func readEF(ctx context.Context, c *Conn, path []byte) ([]byte, error) {
	if _, err := c.Do(ctx, apdu.Command{INS: apdu.InsSelect, P1: 0x08, Data: path, Ne: 256}); err != nil {
		return nil, err
	}
	var out []byte
	for len(out) < maxEF {
		off := len(out)
		chunk, err := c.Do(ctx, apdu.Command{INS: apdu.InsReadBinary, P1: byte(off >> 8), P2: byte(off), Ne: min(256, maxEF-off)})
		if errors.Is(err, apdu.SWWrongP1P2) && off > 0 {
			break
		}
		if err != nil {
			return nil, err
		}
		out = append(out, chunk...)
		if len(chunk) < 256 {
			break
		}
	}
	return out, nil
}

// ParseTokenInfo parses a PKCS#15 TokenInfo (ISO/IEC 7816-15, PKCS #15
// v1.1 §6.9) as a token stores it, trailing padding allowed:
//
//	TokenInfo ::= SEQUENCE {
//	    version        INTEGER,
//	    serialNumber   OCTET STRING,
//	    manufacturerID UTF8String OPTIONAL,
//	    label          [0] UTF8String OPTIONAL,
//	    tokenflags     BIT STRING,
//	    ... }
//
// It is parsed by hand as BER-TLV (apdu), like the rest of the card's
// data: tokens write non-minimal lengths, and fields after tokenflags
// (and any this parser does not know) are skipped.
func ParseTokenInfo(b []byte) (*PKCS15Report, error) {
	seq, _, err := apdu.ParseTLV(b)
	if err != nil {
		return nil, fmt.Errorf("parsing TokenInfo: %w", err)
	}
	if seq.Tag != 0x30 {
		return nil, fmt.Errorf("parsing TokenInfo: tag %s, want a SEQUENCE (30)", seq.Tag)
	}
	fields, err := apdu.ParseTLVs(seq.Value)
	if err != nil {
		return nil, fmt.Errorf("parsing TokenInfo: %w", err)
	}
	if len(fields) < 2 || fields[0].Tag != 0x02 || fields[1].Tag != 0x04 {
		return nil, errors.New("parsing TokenInfo: no version and serial number")
	}
	p := &PKCS15Report{Serial: hex.EncodeToString(fields[1].Value), Flags: []string{}}
	for _, f := range fields[2:] {
		switch f.Tag {
		case 0x0C: // manufacturerID UTF8String; a second one is a label
			// written without its [0] tag, as some tokens do (OpenSC's
			// "label-tw")
			if p.Manufacturer == "" {
				p.Manufacturer = strings.ToValidUTF8(string(f.Value), "?")
			} else if p.Label == "" {
				p.Label = strings.ToValidUTF8(string(f.Value), "?")
			}
		case 0x80: // label [0]
			p.Label = strings.ToValidUTF8(string(f.Value), "?")
		case 0x03: // tokenflags BIT STRING: unused-bit count, then bits from b8 of the first byte
			for i, name := range []string{"read-only", "login-required", "prn-generation", "eid-compliant"} {
				if len(f.Value) > 1 && f.Value[1]&(0x80>>i) != 0 {
					p.Flags = append(p.Flags, name)
				}
			}
			return p, nil
		}
	}
	return p, nil
}

// pkcs15Objects counts the objects in each directory file the ODF names;
// nil when the ODF cannot be read. A directory file that cannot be read is
// left out.
func pkcs15Objects(ctx context.Context, c *Conn) map[string]int {
	odf, err := readEF(ctx, c, pathODF())
	if err != nil {
		return nil
	}
	kinds := map[apdu.Tag]string{
		0xA0: "private_keys", 0xA1: "public_keys", 0xA2: "trusted_public_keys", 0xA3: "secret_keys",
		0xA4: "certificates", 0xA5: "trusted_certificates", 0xA6: "useful_certificates",
		0xA7: "data_objects", 0xA8: "auth_objects",
	}
	out := map[string]int{}
	for _, e := range berObjects(odf) {
		kind, ok := kinds[e.Tag]
		if !ok {
			continue
		}
		// PathOrObjects: a Path, SEQUENCE { path OCTET STRING, ... }.
		seq, ok, err := apdu.FindTLV(e.Value, 0x30)
		if err != nil || !ok {
			continue
		}
		path, ok, err := apdu.FindTLV(seq, 0x04)
		if err != nil || !ok || len(path) < 2 || len(path)%2 != 0 {
			continue
		}
		if path[0] == 0x3F && path[1] == 0x00 {
			path = path[2:]
		}
		if len(path) == 0 {
			continue
		}
		df, err := readEF(ctx, c, path)
		if err != nil {
			continue
		}
		out[kind] += len(berObjects(df))
	}
	return out
}

// berObjects parses the data objects of a PKCS#15 file up to its padding
// (00 or FF bytes) or the first that does not parse.
func berObjects(b []byte) []apdu.TLV {
	var out []apdu.TLV
	for len(b) > 0 && b[0] != 0x00 && b[0] != 0xFF {
		t, rest, err := apdu.ParseTLV(b)
		if err != nil {
			break
		}
		out, b = append(out, t), rest
	}
	return out
}
