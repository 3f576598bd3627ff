package main

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/tesseracard/tessera/hostdriver"
)

// printPKCS15 prints the PKCS#15 application's section: where it was
// found, TokenInfo, the PINs with their tries, the private keys and the
// certificates.
func printPKCS15(tw io.Writer, p *hostdriver.PKCS15Report) {
	fmt.Fprintln(tw, "PKCS#15")
	if a := p.Application; a != nil {
		fmt.Fprintf(tw, "  Application\t%s %s (path %s)\n", a.AID, a.Label, orDash(a.Path))
	}
	printTokenInfo(tw, p)
	if len(p.PINs) > 0 {
		fmt.Fprintln(tw, "  PIN\tReference\tType\tLength\tState\tFlags")
		for _, pin := range p.PINs {
			length := fmt.Sprintf("%d-%d", pin.MinLength, pin.MaxLength)
			if pin.MaxLength == 0 {
				length = fmt.Sprintf("%d+", pin.MinLength)
			}
			fmt.Fprintf(tw, "  %s\t%02X\t%s\t%s (stored %d)\t%s\t%s\n", orDash(pin.Label), pin.Reference, pin.Type, length, pin.StoredLength, pinState(pin), orDash(strings.Join(pin.Flags, ", ")))
		}
	}
	if len(p.PrivateKeys) > 0 {
		fmt.Fprintln(tw, "  Private key\tID\tAlgorithm\tUsage")
		for _, k := range p.PrivateKeys {
			alg := k.Algorithm
			if k.KeySize > 0 {
				alg = fmt.Sprintf("%s-%d", alg, k.KeySize)
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", orDash(k.Label), k.ID, alg, orDash(strings.Join(k.Usage, ", ")))
		}
	}
	if len(p.Certificates) > 0 {
		fmt.Fprintln(tw, "  Certificate\tID\tSubject\tIssuer\tNot after\tDays left")
		for _, c := range p.Certificates {
			switch {
			case c.ReadError != "":
				fmt.Fprintf(tw, "  %s\t%s\t(unreadable: %s)\n", orDash(c.Label), c.ID, c.ReadError)
			case c.CertificateInfo == nil:
				fmt.Fprintf(tw, "  %s\t%s\t(%s certificate, not read)\n", orDash(c.Label), c.ID, c.Type)
			case c.ParseError != "":
				fmt.Fprintf(tw, "  %s\t%s\t(does not parse: %s)\n", orDash(c.Label), c.ID, c.ParseError)
			default:
				fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%d\n", orDash(c.Label), c.ID, c.Subject, c.Issuer, c.NotAfter.Format("2006-01-02"), c.DaysLeft)
			}
		}
	}
}

// pinState says what VERIFY without data told of a PKCS#15 PIN.
func pinState(pin hostdriver.PKCS15PIN) string {
	switch pin.State {
	case "tries-left":
		return fmt.Sprintf("%d tries left", *pin.TriesLeft)
	case "blocked":
		return "BLOCKED"
	case "verified":
		return "verified in this session"
	case "not-set":
		return "not set (" + pin.Status + ")"
	case "":
		return "-"
	}
	return "unknown (" + pin.Status + ")"
}

// printTokenInfo prints what EF TokenInfo says and the PKCS#15 object
// counts.
func printTokenInfo(tw io.Writer, p *hostdriver.PKCS15Report) {
	fmt.Fprintf(tw, "  Token label\t%s\n", orDash(p.Label))
	fmt.Fprintf(tw, "  Serial\t%s\n", orDash(p.Serial))
	fmt.Fprintf(tw, "  Manufacturer\t%s\n", orDash(p.Manufacturer))
	if len(p.Flags) > 0 {
		fmt.Fprintf(tw, "  Token flags\t%s\n", strings.Join(p.Flags, ", "))
	}
	if p.Objects != nil {
		var objs []string
		for _, k := range slices.Sorted(maps.Keys(p.Objects)) {
			objs = append(objs, fmt.Sprintf("%s: %d", strings.ReplaceAll(k, "_", " "), p.Objects[k]))
		}
		fmt.Fprintf(tw, "  PKCS#15 objects\t%s\n", orDash(strings.Join(objs, ", ")))
	}
}
