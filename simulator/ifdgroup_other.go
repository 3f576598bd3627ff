//go:build !unix

package simulator

// dirGroup names the group that owns dir; where files have no owning
// group (Windows) it reports false.
func dirGroup(string) (string, bool) { return "", false }
