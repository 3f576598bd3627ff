package hostdriver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/tesseracard/tessera/apdu"
)

// PKCS15Report is read from a token's PKCS#15 application (ISO/IEC
// 7816-15, PKCS #15 v1.1), wherever EF.DIR, its AID or the path 3F00/5015
// finds it: EF TokenInfo (5032), the ODF (5031) and the directory files it
// names. Its JSON form is stable: fields are only ever added.
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
	// Application is the PKCS#15 application's entry in EF.DIR, when the
	// card has one.
	Application *PKCS15Application `json:"application,omitempty"`
	// PINs are the AODF's password objects, each with the state VERIFY
	// without data reports; PrivateKeys the PrKDF's keys; Certificates the
	// CDFs' certificates, each read from its file and summarised.
	PINs         []PKCS15PIN  `json:"pins,omitempty"`
	PrivateKeys  []PKCS15Key  `json:"private_keys,omitempty"`
	Certificates []PKCS15Cert `json:"certificates,omitempty"`
}

// pkcs15Files finds a PKCS#15 application's files: by path from the MF
// below base, or, when the application was selected by its AID (aid set),
// relative to its DF after selecting it again.
type pkcs15Files struct {
	base []byte // the application DF's path below the MF
	aid  []byte
}

// read reads the file at a PKCS#15 path: from the MF when it starts with
// 3F00, else from the application DF; then the part the path names.
func (l pkcs15Files) read(ctx context.Context, c *Conn, p pkcs15Path) ([]byte, error) {
	var sel apdu.Command
	switch rel := p.path; {
	case len(rel) >= 4 && rel[0] == 0x3F && rel[1] == 0x00:
		sel = apdu.Command{P1: 0x08, Data: rel[2:]}
	case l.aid == nil:
		sel = apdu.Command{P1: 0x08, Data: append(bytes.Clone(l.base), rel...)}
	default:
		if _, err := c.Do(ctx, apdu.Command{INS: apdu.InsSelect, P1: 0x04, P2: 0x0C, Data: l.aid}); err != nil {
			return nil, err
		}
		sel = apdu.Command{P1: 0x09, Data: rel} // path from the current DF
		if len(rel) == 2 {
			sel.P1 = 0x00
		}
	}
	b, err := readFile(ctx, c, sel)
	if err != nil || !p.ranged {
		return b, err
	}
	if p.index > len(b) {
		return nil, fmt.Errorf("index %d past the file's %d bytes", p.index, len(b))
	}
	b = b[p.index:]
	if p.length > 0 && p.length < len(b) {
		b = b[:p.length]
	}
	return b, nil
}

// maxRecords bounds the records read from a record EF.
const maxRecords = 254

// readFile selects an EF with sel (its P1 and data) and reads it whole, up
// to maxEF bytes: a transparent EF with READ BINARY until a short answer,
// 6282 (end of file) or 6B00 (offset past the end), a record EF (as the FCP's file descriptor
// says, or READ BINARY's 6981) with READ RECORD of records 1, 2, ... until
// 6A83, the records put end to end.
func readFile(ctx context.Context, c *Conn, sel apdu.Command) ([]byte, error) {
	sel.INS, sel.Ne = apdu.InsSelect, 256
	fcp, err := c.Do(ctx, sel)
	if errors.Is(err, apdu.SWIncorrectP1P2) { // a card that answers no FCI
		sel.P2, sel.Ne = 0x0C, 0
		fcp, err = c.Do(ctx, sel)
	}
	if err != nil {
		return nil, err
	}
	if records(fcp) {
		return readRecords(ctx, c)
	}
	var out []byte
	for len(out) < maxEF {
		off := len(out)
		chunk, err := c.Do(ctx, apdu.Command{INS: apdu.InsReadBinary, P1: byte(off >> 8), P2: byte(off), Ne: min(256, maxEF-off)})
		if errors.Is(err, apdu.SWWrongP1P2) && off > 0 {
			break
		}
		if errors.Is(err, apdu.SWCommandIncompatible) && off == 0 {
			return readRecords(ctx, c)
		}
		// 6282: the end of the file came before Ne bytes, and the card
		// answered those there were (ISO/IEC 7816-4 §11.3.3), as many real
		// cards do where others answer 9000 or 6Cxx.
		end := errors.Is(err, apdu.SWEndOfFile)
		if err != nil && !end {
			return nil, err
		}
		out = append(out, chunk...)
		if end || len(chunk) < 256 {
			break
		}
	}
	return out, nil
}

// records reports whether a SELECT answer's FCP or FCI (62 or 6F) has a
// file descriptor byte (82) of a record EF (ISO/IEC 7816-4 §7.4.5: x000 0xxx
// with structure 010 to 111).
func records(fci []byte) bool {
	for _, tmpl := range []apdu.Tag{0x62, 0x6F} {
		v, ok, err := apdu.FindTLV(fci, tmpl)
		if err != nil || !ok {
			continue
		}
		d, ok, err := apdu.FindTLV(v, 0x82)
		if err != nil || !ok || len(d) == 0 {
			continue
		}
		return d[0]&0xB8 == 0 && d[0]&0x07 >= 2
	}
	return false
}

// readRecords reads the current record EF's records, from 1, until 6A83.
func readRecords(ctx context.Context, c *Conn) ([]byte, error) {
	var out []byte
	for n := 1; n <= maxRecords && len(out) < maxEF; n++ {
		rec, err := c.Do(ctx, apdu.Command{INS: apdu.InsReadRecord, P1: byte(n), P2: 0x04, Ne: 256})
		if errors.Is(err, apdu.SWRecordNotFound) && n > 1 {
			break
		}
		if err != nil {
			return nil, err
		}
		out = append(out, rec...)
	}
	return out, nil
}

// pathEFDIR is EF.DIR below the MF; pathPKCS15DF the usual PKCS#15
// application DF, the fallback when neither EF.DIR nor the AID finds it.
func pathEFDIR() []byte      { return []byte{0x2F, 0x00} }
func pathPKCS15DF() []byte   { return []byte{0x50, 0x15} }
func fidTokenInfo() []byte   { return []byte{0x50, 0x32} }
func fidODF() []byte         { return []byte{0x50, 0x31} }
func absolute(b []byte) bool { return len(b) >= 2 && b[0] == 0x3F && b[1] == 0x00 }

// diagnosePKCS15 looks for a PKCS#15 application and reads it. selectFirst,
// when set, is the AID of the application whose file system holds it
// (IsoApplet's), selected first. It returns nil, and warns of nothing, on
// a card where none is found; what cannot be read of a found one is a
// warning; tokenInfo says whether TokenInfo parsed. The error is that of a
// card that stopped answering.
func diagnosePKCS15(ctx context.Context, c *Conn, opts DiagOptions, selectFirst []byte, warn *[]string) (r *PKCS15Report, tokenInfo bool, err error) {
	warnf := func(format string, a ...any) { *warn = append(*warn, fmt.Sprintf(format, a...)) }
	selectHost := func() error {
		if selectFirst == nil {
			return nil
		}
		_, err := c.Do(ctx, apdu.Command{INS: apdu.InsSelect, P1: 0x04, P2: 0x0C, Data: selectFirst})
		return err
	}
	if err := selectHost(); err != nil {
		return nil, false, cardGone(err)
	}
	r = &PKCS15Report{Flags: []string{}}
	dir, err := readFile(ctx, c, apdu.Command{P1: 0x08, Data: pathEFDIR()})
	if err == nil {
		apps, err := ParseEFDIR(dir)
		if err != nil {
			warnf("EF.DIR unreadable: %v", err)
		}
		for _, a := range apps {
			if strings.EqualFold(a.AID, fmt.Sprintf("%X", PKCS15AID())) {
				r.Application = &a
				break
			}
		}
	} else if err := cardGone(err); err != nil {
		return nil, false, err
	}
	// Where the application is: EF.DIR's path, else its AID, else 5015.
	var files pkcs15Files
	switch {
	case r.Application != nil && len(r.Application.path) > 0:
		files.base = bytes.Clone(r.Application.path)
		if absolute(files.base) {
			files.base = files.base[2:]
		}
	default:
		if _, err := c.Do(ctx, apdu.Command{INS: apdu.InsSelect, P1: 0x04, P2: 0x0C, Data: PKCS15AID()}); err == nil {
			files.aid = PKCS15AID()
		} else if err := cardGone(err); err != nil {
			return nil, false, err
		} else if err := selectHost(); err != nil {
			return nil, false, cardGone(err)
		} else {
			files.base = pathPKCS15DF()
		}
	}
	info, infoErr := files.read(ctx, c, pkcs15Path{path: fidTokenInfo()})
	odf, odfErr := files.read(ctx, c, pkcs15Path{path: fidODF()})
	for _, err := range []error{infoErr, odfErr} {
		if err := cardGone(err); err != nil {
			return nil, false, err
		}
	}
	if infoErr != nil && odfErr != nil {
		if r.Application != nil {
			warnf("PKCS#15 application %s listed in EF.DIR, but its TokenInfo and ODF are unreadable: %v", r.Application.AID, infoErr)
			return r, tokenInfo, nil
		}
		return nil, false, nil
	}
	if infoErr != nil {
		warnf("PKCS#15 TokenInfo unreadable: %v", infoErr)
	} else if ti, err := ParseTokenInfo(info); err != nil {
		warnf("PKCS#15 TokenInfo unreadable: %v", err)
	} else {
		ti.Application, r, tokenInfo = r.Application, ti, true
	}
	if odfErr != nil {
		warnf("PKCS#15 ODF unreadable: %v", odfErr)
		return r, tokenInfo, nil
	}
	dirs, err := ParseODF(odf)
	if err != nil {
		warnf("PKCS#15 ODF: %v", err)
	}
	r.Objects = map[string]int{}
	for _, d := range dirs {
		content := d.objects
		if content == nil {
			if content, err = files.read(ctx, c, d.path); err != nil {
				if err := cardGone(err); err != nil {
					return nil, false, err
				}
				warnf("PKCS#15 %s directory %s unreadable: %v", d.Kind, d.Path, err)
				continue
			}
		}
		objs, _ := pkcs15Objects(d.Kind, content)
		r.Objects[d.Kind] += len(objs)
		switch d.Kind {
		case "auth_objects":
			pins, err := ParseAODF(content)
			if err != nil {
				warnf("PKCS#15 AODF %s: %v", d.Path, err)
			}
			r.PINs = append(r.PINs, pins...)
		case "private_keys":
			keys, err := ParsePrKDF(content)
			if err != nil {
				warnf("PKCS#15 PrKDF %s: %v", d.Path, err)
			}
			r.PrivateKeys = append(r.PrivateKeys, keys...)
		case "certificates", "trusted_certificates", "useful_certificates":
			certs, err := ParseCDF(content)
			if err != nil {
				warnf("PKCS#15 CDF %s: %v", d.Path, err)
			}
			for _, cert := range certs {
				cert.Directory = d.Kind
				r.Certificates = append(r.Certificates, cert)
			}
		}
	}
	for i := range r.PINs {
		if err := pinState(ctx, c, files, &r.PINs[i], warnf); err != nil {
			return nil, false, err
		}
	}
	for i := range r.Certificates {
		if err := readCert(ctx, c, files, &r.Certificates[i], opts, warnf); err != nil {
			return nil, false, err
		}
	}
	return r, tokenInfo, nil
}

// pinState asks the card for a PIN's state with VERIFY without data to its
// reference (ISO/IEC 7816-4 §11.5.6): 63Cx x tries left, 9000 verified,
// 6983 blocked, 6984 or 6A88 not set; never with data, so no try is spent.
// A PIN that names its DF is asked there.
func pinState(ctx context.Context, c *Conn, files pkcs15Files, p *PKCS15PIN, warnf func(string, ...any)) error {
	if p.Reference < 0 || p.Reference > 0xFF {
		return nil
	}
	if len(p.path.path) > 0 {
		if _, err := files.read(ctx, c, p.path); cardGone(err) != nil {
			return cardGone(err)
		}
	}
	resp, err := c.Transmit(ctx, apdu.Command{INS: apdu.InsVerify, P2: byte(p.Reference)})
	if err != nil {
		return err
	}
	p.Status = fmt.Sprintf("%04X", uint16(resp.SW))
	name := fmt.Sprintf("PKCS#15 PIN %q (reference %02X)", p.Label, p.Reference)
	switch n, ok := resp.SW.Retries(); {
	case resp.SW == apdu.SWSuccess:
		p.State = "verified"
	case resp.SW == apdu.SWAuthMethodBlocked || ok && n == 0:
		p.State = "blocked"
		warnf("%s is blocked", name)
	case ok:
		p.State, p.TriesLeft = "tries-left", &n
	case resp.SW == apdu.SWReferenceDataUnusable || resp.SW == apdu.SWReferenceNotFound:
		p.State = "not-set"
	default:
		p.State = "unknown"
	}
	return nil
}

// readCert reads an X.509 certificate object's certificate (from its file,
// or the object itself) and summarises it, warning of one that cannot be
// read, does not parse, has expired or expires soon.
func readCert(ctx context.Context, c *Conn, files pkcs15Files, cert *PKCS15Cert, opts DiagOptions, warnf func(string, ...any)) error {
	if cert.Type != "x509" {
		return nil
	}
	where := fmt.Sprintf("PKCS#15 certificate %q (ID %s)", cert.Label, cert.ID)
	der := cert.direct
	if der == nil {
		if len(cert.path.path) == 0 {
			cert.ReadError = "no path to the certificate"
		} else {
			b, err := files.read(ctx, c, cert.path)
			if err := cardGone(err); err != nil {
				return err
			}
			if err != nil {
				cert.ReadError = fmt.Sprintf("reading %s: %v", cert.Path, err)
			}
			der = b
		}
	}
	if cert.ReadError == "" {
		// A certificate file is often padded: the certificate is its first TLV.
		if _, rest, err := apdu.ParseTLV(der); err == nil {
			der = der[:len(der)-len(rest)]
		}
		ci := SummarizeCertificate(der, opts.Now)
		cert.CertificateInfo = &ci
		if w := ci.Warning(where, opts.Now, opts.ExpiryWarning); w != "" {
			warnf("%s", w)
		}
		return nil
	}
	warnf("%s unreadable: %s", where, cert.ReadError)
	return nil
}

// cardGone returns err when the card stopped answering or the context
// ended, and nil when the card answered (a status word) or ReadOnly refused
// a command that was never sent.
func cardGone(err error) error {
	var sw apdu.StatusWord
	if err == nil || errors.As(err, &sw) || errors.Is(err, ErrNotReadOnly) {
		return nil
	}
	return err
}

// diagnosePKCS15 reads the card's PKCS#15 application into r.PKCS15, the
// IsoApplet's file system first selected when isoPresent, and gives the
// ISO section what it has always held: TokenInfo and the object counts,
// when TokenInfo parses.
//
// It looks on a card with the IsoApplet, one that answers the PKCS#15 AID,
// and one that answers none of the probed applications (a card with its
// own file system: CardOS, national eIDs). A card whose known applications
// answer (PIV, OpenPGP, a YubiKey) is not sent file commands meant for a
// file system it does not have: they would reach whichever of its
// applications is selected.
func (r *Report) diagnosePKCS15(ctx context.Context, c *Conn, opts DiagOptions, isoPresent bool) error {
	look := true
	for _, a := range r.Applications {
		if a.Present {
			look = a.AID == fmt.Sprintf("%X", PKCS15AID())
			if look {
				break
			}
		}
	}
	var host []byte
	if isoPresent {
		look, host = true, IsoAppletAID()
	}
	if !look {
		return nil
	}
	p, tokenInfo, err := diagnosePKCS15(ctx, c, opts, host, &r.Warnings)
	if err != nil {
		return fmt.Errorf("hostdriver: reading the PKCS#15 application: %w", err)
	}
	r.PKCS15 = p
	if r.ISO != nil && tokenInfo {
		r.ISO.PKCS15 = &PKCS15Report{Label: p.Label, Serial: p.Serial, Manufacturer: p.Manufacturer, Flags: p.Flags, Objects: p.Objects}
	}
	return nil
}
