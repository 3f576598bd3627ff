package scenario

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse: any input parses or fails with a *SyntaxError that
// names a line; it never panics. Seeds are the shipped scenarios.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("..", "scenarios", "*.yaml"))
	for _, name := range files {
		if b, err := os.ReadFile(name); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("name: x\nsteps:\n  - verify: {pin: \"1\", expect: [63Cx, none]}\n  - tear: 1\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse("f.yaml", data)
		var se *SyntaxError
		switch {
		case err != nil && (!errors.As(err, &se) || se.Line < 1):
			t.Fatalf("error %v (%T) is no SyntaxError with a line", err, err)
		case err == nil && (s.Name == "" || len(s.Steps) == 0):
			t.Fatalf("parsed without a name or steps: %+v", s)
		}
	})
}
