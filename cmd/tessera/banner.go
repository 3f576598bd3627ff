package main

import (
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"

	"github.com/tesseracard/tessera/firmware/openpgp"
	"github.com/tesseracard/tessera/firmware/profile"
	"github.com/tesseracard/tessera/pivalg"
	"github.com/tesseracard/tessera/simulator"
)

// writeBanner prints what a person starting tessera sim needs to reach each
// card: its profile, its PC/SC reader, and the factory credentials its
// profile gives it. Credentials a card draws at random are never printed:
// the banner says how to reveal them, once. The banner goes to standard
// output, never to the log.
func writeBanner(w io.Writer, cards []simulator.CardInfo) error {
	var b strings.Builder
	for _, c := range cards {
		if c.Relay != "" {
			fmt.Fprintf(&b, "\n  Card %d: the real card in %s, relayed\n", c.ID, c.Relay)
			fmt.Fprintf(&b, "    reader          %s\n", readerName(c))
			continue
		}
		p, err := simulator.ResolveProfile(c.Profile)
		if err != nil {
			return fmt.Errorf("card %d: %w", c.ID, err)
		}
		fmt.Fprintf(&b, "\n  Card %d: %s (profile %s, serial %d)\n", c.ID, cardKind(p), p.Name, c.Serial)
		fmt.Fprintf(&b, "    reader          %s\n", readerName(c))
		if p.HasApp(profile.AppPIV) {
			writePIVCredentials(&b, c.ID, p.PIV)
		}
		if p.HasApp(profile.AppISO) {
			fmt.Fprintf(&b, "    ISO token       blank until personalised (pkcs15-init --create-pkcs15 sets its PIN and PUK)\n")
		}
		if p.HasApp(profile.AppOpenPGP) {
			fmt.Fprintf(&b, "    OpenPGP         PW1 %s, admin PW3 %s, no resetting code\n", openpgp.DefaultPW1, openpgp.DefaultPW3)
		}
	}
	if len(cards) > 0 {
		b.WriteString("\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// cardKind names what a profile makes, in a few words.
func cardKind(p profile.Profile) string {
	switch {
	case p.HasApp(profile.AppPIV) && p.HasApp(profile.AppISO):
		return "a PIV card with an ISO 7816 file-system application"
	case p.HasApp(profile.AppISO):
		return "a PKCS#11 token, an ISO 7816 file-system application"
	case p.HasApp(profile.AppOpenPGP) && !p.HasApp(profile.AppPIV):
		return "an OpenPGP card"
	case p.PIV.Persona():
		return "a PIV field token"
	}
	return "a PIV card"
}

// writePIVCredentials prints the PIV application's factory credentials.
func writePIVCredentials(b *strings.Builder, id int, v profile.PIV) {
	random := fmt.Sprintf("random, reveal once with tessera card reveal %d", id)
	pin := v.PIN
	if v.RandomPIN {
		pin = random
	}
	if v.TransportPIN {
		pin += " (a transport PIN: change it before any key operation)"
	}
	puk := v.PUK
	switch {
	case v.AdminReset:
		puk = "none for the holder (an administrator resets the PIN with the management key)"
	case v.RandomPUK:
		puk = random
	}
	b.WriteString("    factory credentials (unless changed on this card since):\n")
	fmt.Fprintf(b, "      PIN             %s\n", pin)
	fmt.Fprintf(b, "      PUK             %s\n", puk)
	fmt.Fprintf(b, "      management key  %s (%s)\n", strings.ToUpper(hex.EncodeToString(v.MgmtKey)), mgmtAlgName(v.MgmtKeyAlgorithm))
	if v.TOTP {
		fmt.Fprintf(b, "      TOTP            not enrolled: tessera card totp-enrol %d\n", id)
	}
}

// mgmtAlgName spells a profile's management key algorithm as the
// specifications do.
func mgmtAlgName(alg string) string {
	if id, ok := pivalg.MgmtKeyID(alg); ok {
		return pivalg.Name(id)
	}
	return alg
}

// readerName says where PC/SC programs find the card. vpcd gives each pcscd
// two readers, "Virtual PCD 00 00" and "Virtual PCD 00 01", on ports 35963
// and 35964; scripts/pcscd.sh's instance k listens on 35963+2k and
// 35964+2k.
func readerName(c simulator.CardInfo) string {
	if c.IFD != "" {
		return fmt.Sprintf("%q (IFD link %s; scripts/ifd.sh start starts its pcscd)", c.Reader, c.IFD)
	}
	if c.VPCD == "" {
		return "none: no vpcd link (--no-vpcd); tessera card apdu " + strconv.Itoa(c.ID) + " reaches the card"
	}
	where := "vpcd " + c.VPCD
	host, portStr, err := net.SplitHostPort(c.VPCD)
	port, perr := strconv.Atoi(portStr)
	if err != nil || perr != nil || port < simulator.DefaultVPCDPort || !isLoopback(host) {
		return where
	}
	k := port - simulator.DefaultVPCDPort
	name := fmt.Sprintf("%q (%s", fmt.Sprintf("Virtual PCD 00 %02d", k%2), where)
	if k >= 2 {
		name += fmt.Sprintf(", pcscd instance %d: PCSCLITE_CSOCK_NAME=/run/tessera/pcscd-%d/pcscd.comm", k/2, k/2)
	}
	return name + ")"
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
