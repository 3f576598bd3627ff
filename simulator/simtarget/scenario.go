package simtarget

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/tesseracard/tessera/scenario"
)

// ForScenario starts the card a scenario runs on: its state in a new
// temporary directory (so that the restart step finds it), removed by
// Close; the profile override when not empty, else the scenario's (a
// built-in name, a file relative to the scenario's file, or a profile
// written inline), else "default".
func ForScenario(s *scenario.Scenario, override string) (*Card, error) {
	dir, err := os.MkdirTemp("", "tessera-scenario")
	if err != nil {
		return nil, err
	}
	prof := "default"
	switch {
	case override != "":
		prof = override
	case s.Profile.YAML != nil:
		prof = filepath.Join(dir, "profile.yaml")
		if err := os.WriteFile(prof, s.Profile.YAML, 0o600); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	case s.Profile.Name != "":
		prof = s.Profile.Name
		if _, statErr := os.Stat(filepath.Join(filepath.Dir(s.File), s.Profile.Name)); statErr == nil {
			prof = filepath.Join(filepath.Dir(s.File), s.Profile.Name)
		}
	}
	c, err := Open(Options{Profile: prof, Dir: filepath.Join(dir, "state")})
	if err != nil {
		os.RemoveAll(dir)
		if s.Profile.YAML != nil && override == "" {
			return nil, fmt.Errorf("line %d: the inline profile: %w", s.Profile.Line, err)
		}
		return nil, err
	}
	c.cleanup = func() { os.RemoveAll(dir) }
	return c, nil
}
