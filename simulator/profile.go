package simulator

import (
	"fmt"
	"os"
	"strings"

	"github.com/tesseracard/tessera/firmware/profile"
)

// LoadProfile reads a card profile from a YAML file and parses it
// (profile.Parse): the simulator's side of profiles, since the firmware
// reads no file. Errors name the file.
func LoadProfile(path string) (profile.Profile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return profile.Profile{}, fmt.Errorf("loading profile: %w", err)
	}
	p, err := profile.Parse(data)
	if err != nil {
		return profile.Profile{}, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}

// ResolveProfile returns the built-in profile called nameOrPath, or else
// loads the file at that path (LoadProfile). A name that is neither is an
// error listing the built-in profiles.
func ResolveProfile(nameOrPath string) (profile.Profile, error) {
	if p, ok := profile.Builtin(nameOrPath); ok {
		return p, nil
	}
	if _, err := os.Stat(nameOrPath); err != nil {
		return profile.Profile{}, fmt.Errorf("profile %q is neither a built-in profile (%s) nor a readable file", nameOrPath, strings.Join(profile.Names(), ", "))
	}
	return LoadProfile(nameOrPath)
}
