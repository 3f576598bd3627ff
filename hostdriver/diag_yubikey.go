package hostdriver

import (
	"context"
	"errors"
	"fmt"
	"regexp"

	"github.com/tesseracard/tessera/apdu"
)

// YubiKeyReport is a YubiKey's identity, from its management application
// (AID A000000527471117): the SELECT answer and READ CONFIG (INS 1D),
// whose tags and values follow Yubico's yubikit (management.py).
type YubiKeyReport struct {
	// Version is the firmware version: READ CONFIG's, else the one in the
	// SELECT answer's text.
	Version string `json:"version,omitempty"`
	// ConfigError says why READ CONFIG gave nothing (firmware before 4.1
	// has none); the fields below are then empty.
	ConfigError string `json:"config_error,omitempty"`
	Serial      uint32 `json:"serial,omitempty"`
	// FormFactor: "Keychain (USB-A)", "Nano (USB-A)", "Keychain (USB-C)",
	// "Nano (USB-C)", "Keychain (USB-C, Lightning)", "Bio (USB-A)",
	// "Bio (USB-C)" or "unknown (XX)". FIPS and SecurityKey are the form
	// factor byte's flags 80 and 40.
	FormFactor  string `json:"form_factor,omitempty"`
	FIPS        bool   `json:"fips,omitempty"`
	SecurityKey bool   `json:"security_key,omitempty"`
	PartNumber  string `json:"part_number,omitempty"`
	// Supported and enabled applications over USB and NFC: "OTP",
	// "FIDO U2F", "OpenPGP", "PIV", "OATH", "YubiHSM Auth", "FIDO2", or
	// the bit in hex. NFC ones are absent on a key without NFC.
	USBSupported []string `json:"usb_supported,omitempty"`
	USBEnabled   []string `json:"usb_enabled,omitempty"`
	NFCSupported []string `json:"nfc_supported,omitempty"`
	NFCEnabled   []string `json:"nfc_enabled,omitempty"`
	// ConfigLocked: the configuration is protected by a lock code.
	ConfigLocked bool `json:"config_locked"`
}

// READ CONFIG tags (yubikit management.py).
const (
	ykTagUSBSupported = 0x01
	ykTagSerial       = 0x02
	ykTagUSBEnabled   = 0x03
	ykTagFormFactor   = 0x04
	ykTagVersion      = 0x05
	ykTagConfigLock   = 0x0A
	ykTagNFCSupported = 0x0D
	ykTagNFCEnabled   = 0x0E
	ykTagMoreData     = 0x10
	ykTagPartNumber   = 0x13
)

// diagnoseYubiKey selects the management application and reads its
// configuration, page by page while the card says more follows (at most
// readConfigPages). It sends READ CONFIG right after the SELECT: ReadOnly
// lets 1D through only there.
func diagnoseYubiKey(ctx context.Context, c *Conn) (*YubiKeyReport, error) {
	sel, err := c.Do(ctx, apdu.Command{INS: apdu.InsSelect, P1: 0x04, Data: YubiKeyManagementAID(), Ne: 256})
	if err != nil {
		return nil, fmt.Errorf("hostdriver: selecting YubiKey management: %w", err)
	}
	y := &YubiKeyReport{Version: versionInText(sel)}
	all := map[apdu.Tag][]byte{}
	for page := byte(0); page < readConfigPages; page++ {
		data, err := c.Do(ctx, apdu.Command{INS: apdu.InsReadConfig, P1: page, Ne: 256})
		var sw apdu.StatusWord
		if errors.As(err, &sw) && page == 0 {
			y.ConfigError = fmt.Sprintf("READ CONFIG not answered (%v)", err)
			return y, nil
		} else if err != nil && !errors.As(err, &sw) {
			return nil, fmt.Errorf("hostdriver: reading YubiKey configuration: %w", err)
		}
		tlvs, more, perr := parseReadConfig(data)
		if err != nil || perr != nil {
			y.ConfigError = fmt.Sprintf("READ CONFIG page %d unreadable: %v", page, errors.Join(err, perr))
			break
		}
		for k, v := range tlvs {
			all[k] = v
		}
		if !more {
			break
		}
	}
	y.fill(all)
	return y, nil
}

// parseReadConfig parses one page of READ CONFIG: a length byte, then
// that many bytes of TLVs (one-byte tags, BER lengths), as yubikit's
// DeviceInfo.parse. more is whether tag 10 says another page follows.
func parseReadConfig(b []byte) (tlvs map[apdu.Tag][]byte, more bool, err error) {
	if len(b) == 0 || int(b[0]) != len(b)-1 {
		return nil, false, fmt.Errorf("length byte does not match the %d bytes answered", len(b))
	}
	list, err := apdu.ParseTLVs(b[1:])
	if err != nil {
		return nil, false, err
	}
	tlvs = map[apdu.Tag][]byte{}
	for _, t := range list {
		if t.Tag == ykTagMoreData {
			more = len(t.Value) == 1 && t.Value[0] == 1
			continue
		}
		tlvs[t.Tag] = t.Value
	}
	return tlvs, more, nil
}

// fill sets the report's fields from READ CONFIG's TLVs.
func (y *YubiKeyReport) fill(tlvs map[apdu.Tag][]byte) {
	if v := tlvs[ykTagVersion]; len(v) == 3 {
		y.Version = fmt.Sprintf("%d.%d.%d", v[0], v[1], v[2])
	}
	if v := tlvs[ykTagSerial]; len(v) > 0 && len(v) <= 4 {
		y.Serial = uint32(beUint(v))
	}
	if v := tlvs[ykTagFormFactor]; len(v) == 1 {
		names := []string{"unknown (00)", "Keychain (USB-A)", "Nano (USB-A)", "Keychain (USB-C)", "Nano (USB-C)", "Keychain (USB-C, Lightning)", "Bio (USB-A)", "Bio (USB-C)"}
		y.FormFactor = fmt.Sprintf("unknown (%02X)", v[0]&0x0F)
		if int(v[0]&0x0F) < len(names) {
			y.FormFactor = names[v[0]&0x0F]
		}
		y.FIPS, y.SecurityKey = v[0]&0x80 != 0, v[0]&0x40 != 0
	}
	if v := tlvs[ykTagPartNumber]; len(v) > 0 {
		y.PartNumber = string(v)
	}
	y.ConfigLocked = len(tlvs[ykTagConfigLock]) == 1 && tlvs[ykTagConfigLock][0] == 1
	for _, f := range []struct {
		tag apdu.Tag
		dst *[]string
	}{
		{ykTagUSBSupported, &y.USBSupported}, {ykTagUSBEnabled, &y.USBEnabled},
		{ykTagNFCSupported, &y.NFCSupported}, {ykTagNFCEnabled, &y.NFCEnabled},
	} {
		if v, ok := tlvs[f.tag]; ok && len(v) <= 4 {
			*f.dst = capabilities(beUint(v))
		}
	}
}

// capabilities names the application bits of a YubiKey capability mask
// (yubikit's CAPABILITY), bits it does not name in hex; never nil.
func capabilities(mask uint64) []string {
	names := map[uint64]string{0x01: "OTP", 0x02: "FIDO U2F", 0x08: "OpenPGP", 0x10: "PIV", 0x20: "OATH", 0x100: "YubiHSM Auth", 0x200: "FIDO2"}
	out := []string{}
	for bit := uint64(1); bit != 0 && bit <= mask; bit <<= 1 {
		if mask&bit == 0 {
			continue
		}
		if n, ok := names[bit]; ok {
			out = append(out, n)
		} else {
			out = append(out, fmt.Sprintf("0x%X", bit))
		}
	}
	return out
}

func beUint(b []byte) uint64 {
	var n uint64
	for _, x := range b {
		n = n<<8 | uint64(x)
	}
	return n
}

// versionInText finds a version a.b.c in the management application's
// SELECT answer, a text such as "5.4.3" (yubikit reads it the same way).
func versionInText(b []byte) string {
	return regexp.MustCompile(`[0-9]+\.[0-9]+\.[0-9]+`).FindString(string(b))
}
