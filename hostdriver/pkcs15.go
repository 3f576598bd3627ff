package hostdriver

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/tesseracard/tessera/apdu"
)

// The PKCS#15 parsers: EF.DIR (ISO/IEC 7816-4 §8.2.1.1), and the ODF,
// TokenInfo, AODF, PrKDF and CDF of ISO/IEC 7816-15 (PKCS #15 v1.1 §6).
// They are written by hand over apdu's BER-TLV parser rather than
// encoding/asn1 or cryptobyte: the structures are CHOICEs told apart by
// context tags, with long runs of OPTIONAL fields, and tokens write them
// with non-minimal lengths and pad the files with 00 or FF, which both DER
// parsers refuse. Every parser is bounded (maxPKCS15Objects, the path
// lengths) and returns *PKCS15Error.

// PKCS15AID is the AID of the PKCS#15 application, A0 00 00 00 63 then
// "PKCS-15" (PKCS #15 v1.1 §5.4.1; ISO/IEC 7816-15 §8.2).
func PKCS15AID() []byte {
	return []byte{0xA0, 0x00, 0x00, 0x00, 0x63, 'P', 'K', 'C', 'S', '-', '1', '5'}
}

// ErrPKCS15 is wrapped by every error the PKCS#15 parsers return: the
// bytes are not the structure parsed.
var ErrPKCS15 = errors.New("hostdriver: malformed PKCS#15 data")

// PKCS15Error is the error of a PKCS#15 parser (ParseEFDIR, ParseODF,
// ParseTokenInfo, ParseAODF, ParsePrKDF, ParseCDF). It wraps ErrPKCS15 and,
// when a TLV did not parse, apdu's *ParseError.
type PKCS15Error struct {
	File   string // "EF.DIR", "ODF", "TokenInfo", "AODF", "PrKDF", "CDF"
	Object int    // the object's position in the file, from 1; 0 for the file as a whole
	Reason string
	Err    error // the TLV error underneath, or nil
}

func (e *PKCS15Error) Error() string {
	s := "parsing " + e.File
	if e.Object > 0 {
		s += fmt.Sprintf(" object %d", e.Object)
	}
	s += ": " + e.Reason
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *PKCS15Error) Unwrap() []error {
	if e.Err == nil {
		return []error{ErrPKCS15}
	}
	return []error{ErrPKCS15, e.Err}
}

// maxPKCS15Objects bounds the objects read from one file.
const maxPKCS15Objects = 256

// maxPathLen bounds a PKCS#15 path: eight levels of file identifiers.
const maxPathLen = 16

// PKCS15Application is an application template of EF.DIR (tag 61): its
// AID (4F), label (50) and path (51), in hexadecimal.
type PKCS15Application struct {
	AID   string `json:"aid"`
	Label string `json:"label,omitempty"`
	Path  string `json:"path,omitempty"`
	path  []byte
}

// ParseEFDIR parses EF.DIR (ISO/IEC 7816-4 §8.2.1.1): application
// templates (61), as a transparent EF.DIR holds them or as the records of
// a record EF.DIR put end to end, up to the padding (00 or FF). A template
// must hold an AID of 1 to 16 bytes; a path must be whole file identifiers.
// It returns every template that parses and, when some does not, an error
// naming each.
func ParseEFDIR(b []byte) ([]PKCS15Application, error) {
	objs, err := pkcs15Objects("EF.DIR", b)
	if err != nil {
		return nil, err
	}
	var out []PKCS15Application
	var errs []error
	for i, o := range objs {
		bad := func(reason string, err error) error {
			return &PKCS15Error{File: "EF.DIR", Object: i + 1, Reason: reason, Err: err}
		}
		if o.Tag != 0x61 {
			errs = append(errs, bad(fmt.Sprintf("tag %s, want an application template (61)", o.Tag), nil))
			continue
		}
		fields, err := apdu.ParseTLVs(o.Value)
		if err != nil {
			errs = append(errs, bad("template", err))
			continue
		}
		var a PKCS15Application
		for _, f := range fields {
			switch f.Tag {
			case 0x4F:
				a.AID = upperHex(f.Value)
				if len(f.Value) == 0 || len(f.Value) > 16 {
					err = bad(fmt.Sprintf("AID of %d bytes", len(f.Value)), nil)
				}
			case 0x50:
				a.Label = utf8(f.Value)
			case 0x51:
				if len(f.Value)%2 != 0 || len(f.Value) > maxPathLen {
					err = bad(fmt.Sprintf("path of %d bytes", len(f.Value)), nil)
				}
				a.path = f.Value
				a.Path = upperHex(f.Value)
			}
		}
		if a.AID == "" && err == nil {
			err = bad("no AID (4F)", nil)
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, a)
	}
	return out, errors.Join(errs...)
}

// pkcs15Path is a PKCS#15 Path (PKCS #15 v1.1 §6.1.6): a file's path
// (from the MF when it starts with 3F00, else from the application DF)
// and optionally the part of the file, from index for length bytes.
type pkcs15Path struct {
	path          []byte
	index, length int
	ranged        bool
}

func (p pkcs15Path) String() string {
	if len(p.path) == 0 {
		return ""
	}
	return upperHex(p.path)
}

// parsePath parses the value of a Path SEQUENCE:
//
//	Path ::= SEQUENCE {
//	    path   OCTET STRING,
//	    index  INTEGER (0..pkcs15-ub-index) OPTIONAL,
//	    length [0] INTEGER (0..pkcs15-ub-index) OPTIONAL }
func parsePath(v []byte) (pkcs15Path, error) {
	fields, err := apdu.ParseTLVs(v)
	if err != nil {
		return pkcs15Path{}, err
	}
	if len(fields) == 0 || fields[0].Tag != 0x04 {
		return pkcs15Path{}, errors.New("path: no OCTET STRING")
	}
	p := pkcs15Path{path: fields[0].Value}
	if n := len(p.path); n < 2 || n%2 != 0 || n > maxPathLen {
		return pkcs15Path{}, fmt.Errorf("path of %d bytes, want 2 to %d in whole file identifiers", n, maxPathLen)
	}
	for _, f := range fields[1:] {
		var n int
		switch f.Tag {
		case 0x02:
			if n, err = asn1Int(f.Value); err != nil || n < 0 {
				return pkcs15Path{}, fmt.Errorf("path index: %v", orNegative(err))
			}
			p.index, p.ranged = n, true
		case 0x80:
			if n, err = asn1Int(f.Value); err != nil || n < 0 {
				return pkcs15Path{}, fmt.Errorf("path length: %v", orNegative(err))
			}
			p.length, p.ranged = n, true
		}
	}
	return p, nil
}

func orNegative(err error) error {
	if err == nil {
		return errors.New("negative")
	}
	return err
}

// PKCS15Directory is an entry of the ODF: which kind of directory file
// (Kind, "private_keys", "auth_objects", ...) and where it is; a directory
// given in the ODF itself (objects [0]) has no path.
type PKCS15Directory struct {
	Kind    string `json:"kind"`
	Path    string `json:"path,omitempty"`
	path    pkcs15Path
	objects []byte // the objects themselves, when the ODF holds them
}

// odfKinds names the ODF's entries by their tags (PKCS #15 v1.1 §6.2).
func odfKinds() map[apdu.Tag]string {
	return map[apdu.Tag]string{
		0xA0: "private_keys", 0xA1: "public_keys", 0xA2: "trusted_public_keys", 0xA3: "secret_keys",
		0xA4: "certificates", 0xA5: "trusted_certificates", 0xA6: "useful_certificates",
		0xA7: "data_objects", 0xA8: "auth_objects",
	}
}

// ParseODF parses the ODF (PKCS #15 v1.1 §6.2):
//
//	PKCS15Objects ::= CHOICE {
//	    privateKeys [0] PrivateKeys, publicKeys [1] PublicKeys,
//	    trustedPublicKeys [2] PublicKeys, secretKeys [3] SecretKeys,
//	    certificates [4] Certificates, trustedCertificates [5] Certificates,
//	    usefulCertificates [6] Certificates, dataObjects [7] DataObjects,
//	    authObjects [8] AuthObjects, ... }
//	PathOrObjects ::= CHOICE { path Path, objects [0] SEQUENCE OF ..., ... }
//
// Entries of other kinds are skipped; a directory in a protected form
// ([1], [2]) is an error, as is a path that is not whole file identifiers.
// It returns every entry that parses and, when some does not, an error
// naming each.
func ParseODF(b []byte) ([]PKCS15Directory, error) {
	objs, err := pkcs15Objects("ODF", b)
	if err != nil {
		return nil, err
	}
	var out []PKCS15Directory
	var errs []error
	for i, o := range objs {
		kind, ok := odfKinds()[o.Tag]
		if !ok {
			continue
		}
		bad := func(reason string, err error) error {
			return &PKCS15Error{File: "ODF", Object: i + 1, Reason: reason, Err: err}
		}
		choice, _, err := apdu.ParseTLV(o.Value)
		if err != nil {
			errs = append(errs, bad(kind, err))
			continue
		}
		d := PKCS15Directory{Kind: kind}
		switch choice.Tag {
		case 0x30:
			if d.path, err = parsePath(choice.Value); err != nil {
				errs = append(errs, bad(kind+" "+err.Error(), nil))
				continue
			}
			d.Path = d.path.String()
		case 0xA0:
			d.objects = choice.Value
		default:
			errs = append(errs, bad(fmt.Sprintf("%s: tag %s, want a path (30) or the objects ([0] A0)", kind, choice.Tag), nil))
			continue
		}
		out = append(out, d)
	}
	return out, errors.Join(errs...)
}

// pkcs15Objects splits a PKCS#15 file into its top-level data objects, up
// to the padding (00 or FF bytes), at most maxPKCS15Objects of them.
func pkcs15Objects(file string, b []byte) ([]apdu.TLV, error) {
	var out []apdu.TLV
	for len(b) > 0 && b[0] != 0x00 && b[0] != 0xFF {
		if len(out) == maxPKCS15Objects {
			return nil, &PKCS15Error{File: file, Reason: fmt.Sprintf("more than %d objects", maxPKCS15Objects)}
		}
		t, rest, err := apdu.ParseTLV(b)
		if err != nil {
			return nil, &PKCS15Error{File: file, Object: len(out) + 1, Reason: "object", Err: err}
		}
		out, b = append(out, t), rest
	}
	return out, nil
}

// pkcs15Object is the common shape of every PKCS#15 object (PKCS #15 v1.1
// §6.1.2), its attributes split out:
//
//	PKCS15Object ::= SEQUENCE {
//	    commonObjectAttributes CommonObjectAttributes,
//	    classAttributes        ClassAttributes,
//	    subClassAttributes     [0] SubClassAttributes OPTIONAL,
//	    typeAttributes         [1] TypeAttributes }
//	CommonObjectAttributes ::= SEQUENCE {
//	    label  Label OPTIONAL,               -- UTF8String
//	    flags  CommonObjectFlags OPTIONAL,   -- BIT STRING
//	    authId Identifier OPTIONAL,          -- OCTET STRING
//	    ... }
//
// class holds the fields of the class attributes; typ those of the
// SEQUENCE inside typeAttributes (tagged explicitly: it is a parameter).
type pkcs15Object struct {
	label  string
	authID []byte
	class  []apdu.TLV
	typ    []apdu.TLV
}

func parsePKCS15Object(v []byte) (pkcs15Object, error) {
	var o pkcs15Object
	fields, err := apdu.ParseTLVs(v)
	if err != nil {
		return o, err
	}
	if len(fields) < 3 || fields[0].Tag != 0x30 || fields[1].Tag != 0x30 {
		return o, errors.New("want common, class and type attributes")
	}
	common, err := apdu.ParseTLVs(fields[0].Value)
	if err != nil {
		return o, fmt.Errorf("common attributes: %w", err)
	}
	for _, f := range common {
		switch f.Tag {
		case 0x0C:
			o.label = utf8(f.Value)
		case 0x04:
			o.authID = f.Value
		}
	}
	if o.class, err = apdu.ParseTLVs(fields[1].Value); err != nil {
		return o, fmt.Errorf("class attributes: %w", err)
	}
	var typ []byte
	found := false
	for _, f := range fields[2:] {
		if f.Tag == 0xA1 {
			typ, found = f.Value, true
		}
	}
	if !found {
		return o, errors.New("no type attributes ([1] A1)")
	}
	inner, _, err := apdu.ParseTLV(typ)
	if err != nil {
		return o, fmt.Errorf("type attributes: %w", err)
	}
	if inner.Tag != 0x30 {
		return o, fmt.Errorf("type attributes: tag %s, want a SEQUENCE (30)", inner.Tag)
	}
	if o.typ, err = apdu.ParseTLVs(inner.Value); err != nil {
		return o, fmt.Errorf("type attributes: %w", err)
	}
	return o, nil
}

// PKCS15PIN is a password authentication object of the AODF and its
// state, read by VERIFY without data to its reference.
type PKCS15PIN struct {
	Label  string `json:"label,omitempty"`
	AuthID string `json:"auth_id,omitempty"` // hexadecimal
	// Reference is the PIN's reference on the card (VERIFY's P2).
	Reference int `json:"reference"`
	// Type is "bcd", "ascii-numeric", "utf8", "half-nibble-bcd" or
	// "iso9564-1".
	Type         string `json:"type"`
	MinLength    int    `json:"min_length"`
	StoredLength int    `json:"stored_length"`
	MaxLength    int    `json:"max_length,omitempty"`
	PadChar      string `json:"pad_char,omitempty"` // hexadecimal
	// Flags are the PasswordFlags set: "case-sensitive", "local",
	// "change-disabled", "unblock-disabled", "initialized",
	// "needs-padding", "unblockingPin", "soPin", "disable-allowed",
	// "integrity-protected", "confidentiality-protected",
	// "exchangeRefData".
	Flags []string `json:"flags"`
	// Path is the DF the PIN belongs to, when the object names one.
	Path string `json:"path,omitempty"`
	// State is what VERIFY without data answered: "tries-left" (with
	// TriesLeft), "verified", "blocked", "not-set" (6984, 6A88), or
	// "unknown"; Status is the status word, in hexadecimal. Both are
	// empty when the PIN was not asked (a reference beyond one byte).
	State     string `json:"state,omitempty"`
	TriesLeft *int   `json:"tries_left,omitempty"`
	Status    string `json:"status,omitempty"`
	path      pkcs15Path
}

// pinFlagNames are the PasswordFlags bits, from bit 0.
func pinFlagNames() []string {
	return []string{"case-sensitive", "local", "change-disabled", "unblock-disabled", "initialized",
		"needs-padding", "unblockingPin", "soPin", "disable-allowed", "integrity-protected",
		"confidentiality-protected", "exchangeRefData"}
}

// ParseAODF parses an AODF's password objects (PKCS #15 v1.1 §6.8):
//
//	AuthenticationObject ::= CHOICE {
//	    pwd PKCS15Object {CommonAuthenticationObjectAttributes, NULL, PasswordAttributes},
//	    biometricTemplate [0] ..., authKey [1] ..., external [2] ..., ... }
//	CommonAuthenticationObjectAttributes ::= SEQUENCE { authId Identifier, ... }
//	PasswordAttributes ::= SEQUENCE {
//	    pwdFlags     PasswordFlags,       -- BIT STRING
//	    pwdType      PasswordType,        -- ENUMERATED
//	    minLength    INTEGER,
//	    storedLength INTEGER,
//	    maxLength    INTEGER OPTIONAL,
//	    pwdReference [0] Reference DEFAULT 0,
//	    padChar      OCTET STRING (SIZE(1)) OPTIONAL,
//	    lastPasswordChange GeneralizedTime OPTIONAL,
//	    path         Path OPTIONAL, ... }
//
// Authentication objects of other kinds are skipped. It returns every PIN
// that parses and, when some object does not, an error naming each.
func ParseAODF(b []byte) ([]PKCS15PIN, error) {
	kinds := map[apdu.Tag]string{0x30: "pwd", 0xA0: "", 0xA1: "", 0xA2: ""}
	return parseDirectory("AODF", b, kinds, "authentication object", func(v []byte, _ string) (PKCS15PIN, error) {
		return parsePIN(v)
	})
}

func parsePIN(v []byte) (PKCS15PIN, error) {
	o, err := parsePKCS15Object(v)
	if err != nil {
		return PKCS15PIN{}, err
	}
	p := PKCS15PIN{Label: o.label, Flags: []string{}}
	if id, ok := first(o.class, 0x04); ok {
		p.AuthID = upperHex(id)
	}
	var ints []int
	for _, f := range o.typ {
		switch f.Tag {
		case 0x03:
			p.Flags = bitNames(f.Value, pinFlagNames())
		case 0x0A:
			n, err := asn1Int(f.Value)
			if err != nil {
				return p, fmt.Errorf("pwdType: %w", err)
			}
			types := []string{"bcd", "ascii-numeric", "utf8", "half-nibble-bcd", "iso9564-1"}
			if n >= 0 && n < len(types) {
				p.Type = types[n]
			} else {
				p.Type = fmt.Sprintf("unknown (%d)", n)
			}
		case 0x02:
			n, err := asn1Int(f.Value)
			if err != nil {
				return p, fmt.Errorf("length: %w", err)
			}
			ints = append(ints, n)
		case 0x80:
			n, err := asn1Int(f.Value)
			if err != nil {
				return p, fmt.Errorf("pwdReference: %w", err)
			}
			p.Reference = n
		case 0x04:
			p.PadChar = upperHex(f.Value)
		case 0x30:
			if p.path, err = parsePath(f.Value); err != nil {
				return p, err
			}
			p.Path = p.path.String()
		}
	}
	if p.Type == "" || len(ints) < 2 {
		return p, errors.New("password attributes without type, minimum and stored length")
	}
	p.MinLength, p.StoredLength = ints[0], ints[1]
	if len(ints) > 2 {
		p.MaxLength = ints[2]
	}
	return p, nil
}

// PKCS15Key is a private key object of a PrKDF.
type PKCS15Key struct {
	Label  string `json:"label,omitempty"`
	ID     string `json:"id"` // hexadecimal
	AuthID string `json:"auth_id,omitempty"`
	// Algorithm is "RSA", "EC", "DH", "DSA", "KEA" or "generic".
	Algorithm string `json:"algorithm"`
	// KeySize is the RSA modulus length or the EC field size in bits, when
	// the object gives it.
	KeySize int `json:"key_size,omitempty"`
	// Usage are the KeyUsageFlags set: "encrypt", "decrypt", "sign",
	// "signRecover", "wrap", "unwrap", "verify", "verifyRecover",
	// "derive", "nonRepudiation".
	Usage []string `json:"usage"`
	// Access are the KeyAccessFlags set: "sensitive", "extractable",
	// "alwaysSensitive", "neverExtractable", "local".
	Access    []string `json:"access,omitempty"`
	Reference *int     `json:"key_reference,omitempty"`
	Path      string   `json:"path,omitempty"`
}

// ParsePrKDF parses a PrKDF's private key objects (PKCS #15 v1.1 §6.4):
//
//	PrivateKeyType ::= CHOICE {
//	    privateRSAKey PrivateKeyObject {PrivateRSAKeyAttributes},
//	    privateECKey  [0] ..., privateDHKey [1] ..., privateDSAKey [2] ...,
//	    privateKEAKey [3] ..., genericPrivateKey [4] ... }
//	CommonKeyAttributes ::= SEQUENCE {
//	    iD Identifier, usage KeyUsageFlags, native BOOLEAN DEFAULT TRUE,
//	    accessFlags KeyAccessFlags OPTIONAL, keyReference Reference OPTIONAL, ... }
//	PrivateRSAKeyAttributes ::= SEQUENCE { value ObjectValue, modulusLength INTEGER, ... }
//
// The key size is the first INTEGER after the value: the modulus length of
// an RSA key, the field size OpenSC writes for an EC key. It returns every
// key that parses and an error naming each object that does not.
func ParsePrKDF(b []byte) ([]PKCS15Key, error) {
	algs := map[apdu.Tag]string{0x30: "RSA", 0xA0: "EC", 0xA1: "DH", 0xA2: "DSA", 0xA3: "KEA", 0xA4: "generic"}
	return parseDirectory("PrKDF", b, algs, "private key", func(v []byte, alg string) (PKCS15Key, error) {
		k, err := parseKey(v)
		k.Algorithm = alg
		return k, err
	})
}

// parseDirectory parses the objects of a directory file, each a CHOICE
// whose tag kinds names (an object of another tag is an error naming
// what; one whose kind is "" is passed over): every object that parse
// accepts, and an error naming each that it does not.
func parseDirectory[T any](file string, b []byte, kinds map[apdu.Tag]string, what string, parse func(v []byte, kind string) (T, error)) ([]T, error) {
	objs, err := pkcs15Objects(file, b)
	if err != nil {
		return nil, err
	}
	var out []T
	var errs []error
	for i, o := range objs {
		kind, ok := kinds[o.Tag]
		if !ok {
			errs = append(errs, &PKCS15Error{File: file, Object: i + 1, Reason: fmt.Sprintf("tag %s is no %s type", o.Tag, what)})
			continue
		}
		if kind == "" {
			continue
		}
		v, err := parse(o.Value, kind)
		if err != nil {
			errs = append(errs, &PKCS15Error{File: file, Object: i + 1, Reason: err.Error()})
			continue
		}
		out = append(out, v)
	}
	return out, errors.Join(errs...)
}

func parseKey(v []byte) (PKCS15Key, error) {
	o, err := parsePKCS15Object(v)
	if err != nil {
		return PKCS15Key{}, err
	}
	k := PKCS15Key{Label: o.label, AuthID: upperHex(o.authID), Usage: []string{}}
	if k.ID, err = o.id("key"); err != nil {
		return k, err
	}
	bits := 0
	for _, f := range o.class {
		switch f.Tag {
		case 0x03:
			if bits == 0 {
				k.Usage = bitNames(f.Value, []string{"encrypt", "decrypt", "sign", "signRecover", "wrap", "unwrap", "verify", "verifyRecover", "derive", "nonRepudiation"})
			} else {
				k.Access = bitNames(f.Value, []string{"sensitive", "extractable", "alwaysSensitive", "neverExtractable", "local"})
			}
			bits++
		case 0x02:
			n, err := asn1Int(f.Value)
			if err != nil {
				return k, fmt.Errorf("keyReference: %w", err)
			}
			k.Reference = &n
		}
	}
	for i, f := range o.typ {
		if i == 0 {
			if f.Tag == 0x30 {
				if p, err := parsePath(f.Value); err == nil {
					k.Path = p.String()
				}
			}
			continue
		}
		if f.Tag == 0x02 {
			if k.KeySize, err = asn1Int(f.Value); err != nil {
				return k, fmt.Errorf("key size: %w", err)
			}
			break
		}
	}
	return k, nil
}

// PKCS15Cert is a certificate object of a CDF and, for an X.509
// certificate that could be read, what SummarizeCertificate says of it.
type PKCS15Cert struct {
	Label string `json:"label,omitempty"`
	ID    string `json:"id"` // hexadecimal
	// Directory is the ODF entry the CDF was found under:
	// "certificates", "trusted_certificates" or "useful_certificates".
	Directory string `json:"directory"`
	Authority bool   `json:"authority,omitempty"`
	// Type is "x509", "x509-attribute", "spki", "pgp", "wtls", "x9.68" or
	// "cv"; only X.509 certificates are read.
	Type string `json:"type"`
	Path string `json:"path,omitempty"`
	// ReadError says why the certificate could not be read.
	ReadError string `json:"read_error,omitempty"`
	*CertificateInfo
	path   pkcs15Path
	direct []byte // the certificate, when the object holds it
}

// ParseCDF parses a CDF's certificate objects (PKCS #15 v1.1 §6.6):
//
//	CertificateType ::= CHOICE {
//	    x509Certificate CertificateObject {X509CertificateAttributes},
//	    x509AttributeCertificate [0] ..., spkiCertificate [1] ...,
//	    pgpCertificate [2] ..., wtlsCertificate [3] ..., x9-68Certificate [4] ...,
//	    cvCertificate [5] ... }
//	CommonCertificateAttributes ::= SEQUENCE {
//	    iD Identifier, authority BOOLEAN DEFAULT FALSE, ... }
//	X509CertificateAttributes ::= SEQUENCE {
//	    value ObjectValue { Certificate }, ... }
//	ObjectValue ::= CHOICE { indirect ReferencedValue (a Path), direct [0] ..., ... }
//
// Directory is left empty. It returns every certificate object that
// parses and an error naming each that does not.
func ParseCDF(b []byte) ([]PKCS15Cert, error) {
	types := map[apdu.Tag]string{0x30: "x509", 0xA0: "x509-attribute", 0xA1: "spki", 0xA2: "pgp", 0xA3: "wtls", 0xA4: "x9.68", 0xA5: "cv"}
	return parseDirectory("CDF", b, types, "certificate", func(v []byte, typ string) (PKCS15Cert, error) {
		c, err := parseCert(v)
		c.Type = typ
		return c, err
	})
}

func parseCert(v []byte) (PKCS15Cert, error) {
	o, err := parsePKCS15Object(v)
	if err != nil {
		return PKCS15Cert{}, err
	}
	c := PKCS15Cert{Label: o.label}
	if c.ID, err = o.id("certificate"); err != nil {
		return c, err
	}
	if a, ok := first(o.class, 0x01); ok && len(a) == 1 && a[0] != 0 {
		c.Authority = true
	}
	if len(o.typ) == 0 {
		return c, errors.New("certificate attributes without a value")
	}
	switch val := o.typ[0]; val.Tag {
	case 0x30:
		if c.path, err = parsePath(val.Value); err != nil {
			return c, err
		}
		c.Path = c.path.String()
	case 0xA0:
		c.direct = val.Value
	}
	return c, nil
}

// id returns the object's identifier (its class attributes' iD, tag 04) in
// upper-case hexadecimal, or an error saying that what's attributes have none.
func (o pkcs15Object) id(what string) (string, error) {
	id, ok := first(o.class, 0x04)
	if !ok {
		return "", fmt.Errorf("%s attributes without an ID", what)
	}
	return upperHex(id), nil
}

// upperHex is b in upper-case hexadecimal, as the reports show identifiers.
func upperHex(b []byte) string { return strings.ToUpper(hex.EncodeToString(b)) }

// first returns the value of the first of fields with the tag.
func first(fields []apdu.TLV, tag apdu.Tag) ([]byte, bool) {
	for _, f := range fields {
		if f.Tag == tag {
			return f.Value, true
		}
	}
	return nil, false
}

// asn1Int reads a DER INTEGER's contents of one to four bytes, two's
// complement.
func asn1Int(v []byte) (int, error) {
	if len(v) == 0 || len(v) > 4 {
		return 0, fmt.Errorf("INTEGER of %d bytes, want 1 to 4", len(v))
	}
	n := int32(int8(v[0]))
	for _, b := range v[1:] {
		n = n<<8 | int32(b)
	}
	return int(n), nil
}

// bitNames names the bits set in a BIT STRING's contents (its unused-bit
// count, then bit 0 as b8 of the first byte), in order; a bit without a
// name is "bit N".
func bitNames(v []byte, names []string) []string {
	out := []string{}
	if len(v) < 2 {
		return out
	}
	for i := 0; i < 8*(len(v)-1) && i < 64; i++ {
		if v[1+i/8]&(0x80>>(i%8)) == 0 {
			continue
		}
		if i < len(names) {
			out = append(out, names[i])
		} else {
			out = append(out, fmt.Sprintf("bit %d", i))
		}
	}
	return out
}

func utf8(b []byte) string { return strings.ToValidUTF8(string(b), "?") }

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
	bad := func(reason string, err error) error { return &PKCS15Error{File: "TokenInfo", Reason: reason, Err: err} }
	seq, _, err := apdu.ParseTLV(b)
	if err != nil {
		return nil, bad("SEQUENCE", err)
	}
	if seq.Tag != 0x30 {
		return nil, bad(fmt.Sprintf("tag %s, want a SEQUENCE (30)", seq.Tag), nil)
	}
	fields, err := apdu.ParseTLVs(seq.Value)
	if err != nil {
		return nil, bad("fields", err)
	}
	if len(fields) < 2 || fields[0].Tag != 0x02 || fields[1].Tag != 0x04 {
		return nil, bad("no version and serial number", nil)
	}
	p := &PKCS15Report{Serial: hex.EncodeToString(fields[1].Value), Flags: []string{}}
	for _, f := range fields[2:] {
		switch f.Tag {
		case 0x0C: // manufacturerID UTF8String; a second one is a label
			// written without its [0] tag, as some tokens do (OpenSC's
			// "label-tw")
			if p.Manufacturer == "" {
				p.Manufacturer = utf8(f.Value)
			} else if p.Label == "" {
				p.Label = utf8(f.Value)
			}
		case 0x80: // label [0]
			p.Label = utf8(f.Value)
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
