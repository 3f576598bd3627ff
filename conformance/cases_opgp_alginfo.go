package conformance

import (
	"bytes"
	"context"
	"encoding/asn1"
	"fmt"

	"github.com/tesseracard/tessera/apdu"
)

// opgpTagAlgInfo is the Algorithm Information DO (OpenPGP card 3.4
// §4.4.3.11): a constructed DO listing, per key (C1, C2, C3, and DA for a
// YubiKey's attestation key), every algorithm attribute the card takes.
const opgpTagAlgInfo = 0x00FA

// opgpAlgInfoCase reads FA and checks each entry is tagged as a key's
// algorithm attributes and is well-formed (§4.4.3.10: RSA 01 nnnn eeee ff,
// ff an import format 00-03; ECC 12, 13 or 16, a curve OID that decodes,
// an optional import format FF), and that each key's current attributes
// (from 6E, the import format aside) are among the ones listed for it. A
// card that answers FA with 6A88 has none: skipped.
func opgpAlgInfoCase(ctx context.Context, e *Env) error {
	r, err := e.Transmit(ctx, opgpGetDataCmd(opgpTagAlgInfo))
	if err != nil {
		return err
	}
	switch r.SW {
	case apdu.SWSuccess:
	case apdu.SWReferenceNotFound:
		return Skipf("the card has no algorithm information: GET DATA FA answered %s", swText(r.SW))
	default:
		return fmt.Errorf("GET DATA FA answered %s, want 9000 (or 6A88 for none)", swText(r.SW))
	}
	body := r.Data
	if t, rest, err := apdu.ParseTLV(body); err == nil && t.Tag == opgpTagAlgInfo && len(rest) == 0 {
		body = t.Value
	}
	entries, err := apdu.ParseTLVs(body)
	if err != nil {
		return fmt.Errorf("the algorithm information % X does not parse: %w", r.Data, err)
	}
	listed := map[apdu.Tag][][]byte{}
	for _, en := range entries {
		switch en.Tag {
		case 0xC1, 0xC2, 0xC3, 0xDA:
		default:
			return fmt.Errorf("the algorithm information lists tag %X, want C1, C2, C3 or DA", uint32(en.Tag))
		}
		if err := opgpCheckAttributes(en.Value); err != nil {
			return fmt.Errorf("the algorithm information's %X entry % X: %w", uint32(en.Tag), en.Value, err)
		}
		listed[en.Tag] = append(listed[en.Tag], opgpStandardAttributes(en.Value))
	}
	d, err := e.opgpAppData(ctx)
	if err != nil {
		return err
	}
	for _, tag := range []apdu.Tag{0xC1, 0xC2, 0xC3, 0xDA} {
		cur, ok := d.get(tag)
		if !ok {
			continue // DA: only a card with an attestation key
		}
		std := opgpStandardAttributes(cur)
		found := false
		for _, l := range listed[tag] {
			found = found || bytes.Equal(l, std)
		}
		if !found {
			return fmt.Errorf("the current attributes %X % X are not among the %d the algorithm information lists for %X", uint32(tag), cur, len(listed[tag]), uint32(tag))
		}
	}
	return nil
}

// opgpCheckAttributes checks one algorithm attributes value (§4.4.3.10).
func opgpCheckAttributes(a []byte) error {
	if len(a) == 0 {
		return fmt.Errorf("empty")
	}
	switch a[0] {
	case 0x01:
		switch {
		case len(a) != 6:
			return fmt.Errorf("RSA attributes are %d bytes, want 6 (01 nnnn eeee ff)", len(a))
		case a[1] == 0 && a[2] == 0 || a[3] == 0 && a[4] == 0:
			return fmt.Errorf("RSA modulus or exponent length 0")
		case a[5] > 0x03:
			return fmt.Errorf("RSA import format %02X, want 00-03", a[5])
		}
		return nil
	case 0x12, 0x13, 0x16:
		oid := a[1:]
		if len(oid) > 1 && oid[len(oid)-1] == 0xFF {
			oid = oid[:len(oid)-1]
		}
		var id asn1.ObjectIdentifier
		if len(oid) == 0 || len(oid) > 127 {
			return fmt.Errorf("no curve OID")
		}
		if rest, err := asn1.Unmarshal(append([]byte{0x06, byte(len(oid))}, oid...), &id); err != nil || len(rest) != 0 {
			return fmt.Errorf("the curve OID % X does not decode", oid)
		}
		return nil
	}
	return fmt.Errorf("algorithm ID %02X, want 01 (RSA), 12 (ECDH), 13 (ECDSA) or 16 (EdDSA)", a[0])
}

// opgpStandardAttributes returns attributes without their import format:
// RSA's first five bytes, ECC without a final FF.
func opgpStandardAttributes(a []byte) []byte {
	switch {
	case len(a) >= 5 && a[0] == 0x01:
		return a[:5]
	case len(a) > 2 && a[len(a)-1] == 0xFF:
		return a[:len(a)-1]
	}
	return a
}
