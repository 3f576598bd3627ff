package mgmt

import (
	"bytes"
	"crypto/subtle"
	"encoding/binary"
	"fmt"

	"github.com/tesseracard/tessera/apdu"
	"github.com/tesseracard/tessera/firmware"
	"github.com/tesseracard/tessera/firmware/profile"
)

// AID returns the management application's AID.
func AID() []byte { return []byte{0xA0, 0x00, 0x00, 0x05, 0x27, 0x47, 0x11, 0x17} }

// Store keys.
const (
	keySerial = "mgmt/serial"
	keyConfig = "mgmt/config"
	keyLock   = "mgmt/lock"
)

// READ CONFIG and WRITE CONFIG tags (yubikit management.py).
const (
	tagUSBSupported   = 0x01
	tagSerial         = 0x02
	tagUSBEnabled     = 0x03
	tagFormFactor     = 0x04
	tagVersion        = 0x05
	tagAutoEject      = 0x06
	tagChalRespTimout = 0x07
	tagDeviceFlags    = 0x08
	tagConfigLock     = 0x0A
	tagUnlock         = 0x0B
	tagReboot         = 0x0C
	tagNFCSupported   = 0x0D
	tagNFCEnabled     = 0x0E
)

// lockCodeLen is the length of a configuration lock code.
const lockCodeLen = 16

// Options are the per-card settings beyond the profile.
type Options struct {
	// Serial overrides the profile's serial number at first boot.
	Serial uint32
}

// Applet is the management application of one card.
type Applet struct {
	version      profile.Version
	formFactor   byte
	usbSupported uint16
	usbEnabled   uint16 // factory
	nfc          bool
	serial       uint32
}

// New returns the management application of a card of profile p.
func New(p profile.Profile, opts Options) *Applet {
	if opts.Serial == 0 {
		opts.Serial = p.Serial
	}
	return &Applet{
		version:      p.Version,
		formFactor:   p.Device.FormFactorCode(),
		usbSupported: profile.CapabilityMask(p.Supported()),
		usbEnabled:   profile.CapabilityMask(p.Enabled()),
		nfc:          p.Device.NFC,
		serial:       opts.Serial,
	}
}

// config is the record "mgmt/config".
type config struct {
	usbEnabled, nfcEnabled uint16
	autoEject              uint16
	chalRespTimeout        byte
	flags                  byte
	// known are the capabilities supported when the record was written:
	// one the card supports now but did not then (an application a newer
	// profile adds) is enabled, as a new application is out of the box.
	known uint16
}

// configLen is the record's length; legacyConfigLen that of the first
// format, without known.
const (
	configLen       = 10
	legacyConfigLen = 8
)

func (c config) marshal() []byte {
	b := binary.BigEndian.AppendUint16(nil, c.usbEnabled)
	b = binary.BigEndian.AppendUint16(b, c.nfcEnabled)
	b = binary.BigEndian.AppendUint16(b, c.autoEject)
	b = append(b, c.chalRespTimeout, c.flags)
	return binary.BigEndian.AppendUint16(b, c.known)
}

func parseConfig(b []byte) (config, error) {
	if len(b) != configLen && len(b) != legacyConfigLen {
		return config{}, fmt.Errorf("mgmt: config record of %d bytes, want %d", len(b), configLen)
	}
	c := config{
		usbEnabled: binary.BigEndian.Uint16(b), nfcEnabled: binary.BigEndian.Uint16(b[2:]),
		autoEject: binary.BigEndian.Uint16(b[4:]), chalRespTimeout: b[6], flags: b[7],
	}
	if len(b) == configLen {
		c.known = binary.BigEndian.Uint16(b[8:])
	} else {
		// The first format: then only PIV and OATH had an application.
		c.known = capPIV | capOATH | c.usbEnabled
	}
	return c, nil
}

// Capability bits (yubikit's CAPABILITY).
const (
	capU2F     = 0x02
	capOpenPGP = 0x08
	capPIV     = 0x10
	capOATH    = 0x20
)

// AID implements firmware.Applet.
func (a *Applet) AID() []byte { return AID() }

// Boot installs the factory configuration at first power-on.
func (a *Applet) Boot(env *firmware.Context) error {
	if _, ok := env.Store.Get(keySerial); ok {
		return nil
	}
	tx, err := env.Store.Begin()
	if err != nil {
		return err
	}
	defer tx.Abort()
	if err := tx.Put(keySerial, binary.BigEndian.AppendUint32(nil, a.serial)); err != nil {
		return err
	}
	factory := config{usbEnabled: a.usbEnabled, known: a.usbSupported}
	if a.nfc {
		factory.nfcEnabled = a.usbSupported
	}
	if err := tx.Put(keyConfig, factory.marshal()); err != nil {
		return err
	}
	return tx.Commit()
}

// Select answers the firmware version as text.
func (a *Applet) Select(*firmware.Context, apdu.Command) ([]byte, error) {
	return []byte(a.version.String()), nil
}

// Deselect does nothing: the application keeps no session state.
func (a *Applet) Deselect(*firmware.Context) {}

// Chainable refuses chaining: WRITE CONFIG fits one command.
func (a *Applet) Chainable(byte) bool { return false }

// Process handles READ CONFIG and WRITE CONFIG.
func (a *Applet) Process(env *firmware.Context, cmd apdu.Command) ([]byte, error) {
	if cmd.CLA != 0x00 {
		return nil, apdu.SWCLANotSupported
	}
	switch cmd.INS {
	case apdu.InsReadConfig:
		if cmd.P1 != 0 || cmd.P2 != 0 {
			return nil, apdu.SWIncorrectP1P2
		}
		return a.readConfig(env)
	case apdu.InsWriteConfig:
		if cmd.P1 != 0 || cmd.P2 != 0 {
			return nil, apdu.SWIncorrectP1P2
		}
		return nil, a.writeConfig(env, cmd.Data)
	}
	return nil, apdu.SWINSNotSupported
}

// load reads the configuration as it stands for the card's supported
// capabilities: enabled ones among them, those the record did not know
// of enabled, known all of them.
func (a *Applet) load(env *firmware.Context) (config, error) {
	raw, _ := env.Store.Get(keyConfig)
	c, err := parseConfig(raw)
	if err != nil {
		return c, err
	}
	fresh := a.usbSupported &^ c.known
	c.usbEnabled = c.usbEnabled&a.usbSupported | fresh
	if a.nfc {
		c.nfcEnabled = c.nfcEnabled&a.usbSupported | fresh
	} else {
		c.nfcEnabled = 0
	}
	c.known = a.usbSupported
	return c, nil
}

func (a *Applet) readConfig(env *firmware.Context) ([]byte, error) {
	c, err := a.load(env)
	if err != nil {
		return nil, err
	}
	serial, _ := env.Store.Get(keySerial)
	_, locked := env.Store.Get(keyLock)
	u16 := func(v uint16) []byte { return binary.BigEndian.AppendUint16(nil, v) }
	var b []byte
	b = apdu.AppendTLV(b, tagUSBSupported, u16(a.usbSupported))
	b = apdu.AppendTLV(b, tagSerial, serial)
	b = apdu.AppendTLV(b, tagUSBEnabled, u16(c.usbEnabled))
	b = apdu.AppendTLV(b, tagFormFactor, []byte{a.formFactor})
	b = apdu.AppendTLV(b, tagVersion, []byte{a.version.Major, a.version.Minor, a.version.Patch})
	b = apdu.AppendTLV(b, tagAutoEject, u16(c.autoEject))
	b = apdu.AppendTLV(b, tagChalRespTimout, []byte{c.chalRespTimeout})
	b = apdu.AppendTLV(b, tagDeviceFlags, []byte{c.flags})
	b = apdu.AppendTLV(b, tagConfigLock, []byte{boolByte(locked)})
	if a.nfc {
		b = apdu.AppendTLV(b, tagNFCSupported, u16(a.usbSupported))
		b = apdu.AppendTLV(b, tagNFCEnabled, u16(c.nfcEnabled))
	}
	return append([]byte{byte(len(b))}, b...), nil
}

func boolByte(b bool) byte {
	if b {
		return 1
	}
	return 0
}

// parseWrite parses WRITE CONFIG's data: a length byte and TLVs, each tag
// at most once, of the lengths yubikit sends.
func parseWrite(data []byte) (map[apdu.Tag][]byte, error) {
	if len(data) == 0 || int(data[0]) != len(data)-1 {
		return nil, apdu.SWWrongLength
	}
	tlvs, err := apdu.ParseTLVs(data[1:])
	if err != nil {
		return nil, apdu.SWIncorrectData
	}
	want := map[apdu.Tag]int{tagUSBEnabled: 2, tagNFCEnabled: 2, tagAutoEject: 2, tagChalRespTimout: 1, tagDeviceFlags: 1, tagConfigLock: lockCodeLen, tagUnlock: lockCodeLen, tagReboot: 0}
	m := map[apdu.Tag][]byte{}
	for _, t := range tlvs {
		n, ok := want[t.Tag]
		if _, dup := m[t.Tag]; !ok || dup || len(t.Value) != n {
			return nil, apdu.SWIncorrectData
		}
		m[t.Tag] = t.Value
	}
	return m, nil
}

func (a *Applet) writeConfig(env *firmware.Context, data []byte) error {
	m, err := parseWrite(data)
	if err != nil {
		return err
	}
	if lock, locked := env.Store.Get(keyLock); locked {
		if unlock, ok := m[tagUnlock]; !ok || subtle.ConstantTimeCompare(unlock, lock) != 1 {
			return apdu.SWSecurityStatusNotSatisfied
		}
	}
	c, err := a.load(env)
	if err != nil {
		return err
	}
	if v, ok := m[tagUSBEnabled]; ok {
		c.usbEnabled = binary.BigEndian.Uint16(v)
		if c.usbEnabled&^a.usbSupported != 0 || c.usbEnabled == 0 {
			return apdu.SWIncorrectData
		}
	}
	if v, ok := m[tagNFCEnabled]; ok {
		c.nfcEnabled = binary.BigEndian.Uint16(v)
		if !a.nfc || c.nfcEnabled&^a.usbSupported != 0 {
			return apdu.SWIncorrectData
		}
	}
	if v, ok := m[tagAutoEject]; ok {
		c.autoEject = binary.BigEndian.Uint16(v)
	}
	if v, ok := m[tagChalRespTimout]; ok {
		c.chalRespTimeout = v[0]
	}
	if v, ok := m[tagDeviceFlags]; ok {
		c.flags = v[0]
	}
	tx, err := env.Store.Begin()
	if err != nil {
		return err
	}
	defer tx.Abort()
	if err := tx.Put(keyConfig, c.marshal()); err != nil {
		return err
	}
	if code, ok := m[tagConfigLock]; ok {
		var err error
		if bytes.Equal(code, make([]byte, lockCodeLen)) {
			err = tx.Delete(keyLock)
		} else {
			err = tx.Put(keyLock, code)
		}
		if err != nil {
			return err
		}
	}
	return tx.Commit()
}

// capabilityOf returns the capability bit of the application an AID
// names (yubikit's CAPABILITY and AID), 0 for one no capability governs.
func capabilityOf(aid []byte) uint16 {
	for _, c := range []struct {
		aid []byte
		bit uint16
	}{
		{[]byte{0xA0, 0x00, 0x00, 0x03, 0x08}, capPIV},
		{[]byte{0xA0, 0x00, 0x00, 0x05, 0x27, 0x21, 0x01}, capOATH},
		{[]byte{0xD2, 0x76, 0x00, 0x01, 0x24, 0x01}, capOpenPGP},
		{[]byte{0xA0, 0x00, 0x00, 0x06, 0x47, 0x2F, 0x00, 0x01}, capU2F},
	} {
		if bytes.HasPrefix(aid, c.aid) {
			return c.bit
		}
	}
	return 0
}

// Enabled implements firmware.Gate: an application whose capability is
// not enabled over USB is off until the configuration enables it.
func (a *Applet) Enabled(env *firmware.Context, aid []byte) bool {
	bit := capabilityOf(aid)
	if bit == 0 {
		return true
	}
	c, err := a.load(env)
	if err != nil {
		return true // a damaged record hides nothing
	}
	return c.usbEnabled&bit != 0
}
