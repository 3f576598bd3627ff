package profile

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestNoIO: the package parses profiles from bytes and reads no file
// (DESIGN: firmware does no I/O; reading a profile's file belongs to the
// caller, simulator.LoadProfile). Its non-test files import neither os nor
// io/fs nor net.
func TestNoIO(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), name, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			switch path {
			case "os", "io/fs", "io/ioutil", "net", "net/http":
				t.Errorf("%s imports %q: the profile package must do no I/O", name, path)
			}
		}
	}
}

func TestBuiltinsValidate(t *testing.T) {
	for _, name := range Names() {
		p, ok := Builtin(name)
		if !ok {
			t.Fatalf("Builtin(%q) missing", name)
		}
		if err := p.Validate(); err != nil {
			t.Errorf("Builtin(%q).Validate() = %v", name, err)
		}
	}
	def, _ := Builtin("default")
	if def.PIV.MgmtKeyAlgorithmID() != 0x03 {
		t.Errorf("default management key algorithm = %02X, want 03 (3DES)", def.PIV.MgmtKeyAlgorithmID())
	}
	yk, _ := Builtin("yubikey-5.7")
	if yk.PIV.MgmtKeyAlgorithmID() != 0x0A || !yk.PIV.Behaviour.MalformedPINCountsAsWrong {
		t.Errorf("yubikey-5.7 = %+v, want AES-192 and YubiKey PIN behaviour", yk.PIV)
	}
	// Builtin returns copies.
	def.ATR[0] = 0
	if again, _ := Builtin("default"); again.ATR[0] != 0x3B {
		t.Errorf("changing a returned profile changed the built-in")
	}
}

func TestParseOverridesBase(t *testing.T) {
	p, err := Parse([]byte(`
base: yubikey-5.7
name: slow-card
serial: 42
version: 5.4.3
piv:
  pin_retries: 5
timing:
  default: 5ms
  per_ins:
    "47": 2s
quirks: [sw-6300]
`))
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "slow-card" || p.Serial != 42 || p.Version != (Version{5, 4, 3}) || p.PIV.PINRetries != 5 || p.PIV.PUKRetries != 3 {
		t.Errorf("Parse() = %+v", p)
	}
	if p.PIV.MgmtKeyAlgorithm != "aes192" {
		t.Errorf("base not applied: mgmt key algorithm %q", p.PIV.MgmtKeyAlgorithm)
	}
	if got := p.Timing.Latency(0x47); got != 2*time.Second {
		t.Errorf("Latency(47) = %v, want 2s", got)
	}
	if got := p.Timing.Latency(0x20); got != 5*time.Millisecond {
		t.Errorf("Latency(20) = %v, want 5ms", got)
	}
	if !p.HasQuirk("sw-6300") || p.HasQuirk("sw-6cxx") {
		t.Errorf("quirks = %v", p.Quirks)
	}
}

func TestParseErrorsNameTheField(t *testing.T) {
	tests := map[string]string{
		"name: x\nbogus: 1":                            "bogus",
		"name: x\natr: zz":                             "not hex",
		"name: x\nversion: 5.7":                        "version",
		"name: x\npiv: {pin_retries: 0}":               "piv.pin_retries",
		"name: x\npiv: {mgmt_key_algorithm: rc4}":      "mgmt_key_algorithm",
		"name: x\npiv: {mgmt_key: '0102'}":             "piv.mgmt_key",
		"name: x\nquirks: [explode]":                   "unknown quirk",
		"name: x\ntiming: {default: soon}":             "duration",
		"name: x\ntiming: {per_ins: {GENERATE: 1s}}":   "per_ins",
		"base: nope":                                   "not a built-in",
		"name: x\npiv: {pin_policy: {charset: emoji}}": "charset",
	}
	for doc, want := range tests {
		_, err := Parse([]byte(doc))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse(%q) error = %v, want one mentioning %q", doc, err, want)
		}
	}
}
