package hostdriver

import (
	"context"
	"fmt"

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
	// PKCS15 is the PKCS#15 TokenInfo and object counts of the token, when
	// its TokenInfo parses; Report.PKCS15 has the whole structure.
	PKCS15 *PKCS15Report `json:"pkcs15,omitempty"`
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

// maxEF bounds a file diag reads: IsoApplet's largest file size.
const maxEF = 0x7FFF

// diagnoseISO reads an ISO file-system application: the SELECT answer,
// the PIN state by VERIFY without data to reference 01 (9000: no PIN set,
// 63Cx, 6983 blocked; spending no try). Its PKCS#15 structure is read as
// any card's (diag_pkcs15.go). The PUK state cannot be read without
// spending a try, so it is not read.
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
	return r, nil
}
