//go:build unix

package simulator

import (
	"os"
	"os/user"
	"strconv"
	"testing"
)

// ownGroup gives dir this process's group (any user may) and returns that
// group's name.
func ownGroup(t *testing.T, dir string) string {
	t.Helper()
	gid := os.Getegid()
	if err := os.Chown(dir, -1, gid); err != nil {
		t.Fatal(err)
	}
	g, err := user.LookupGroupId(strconv.Itoa(gid))
	if err != nil {
		return "gid " + strconv.Itoa(gid)
	}
	return g.Name
}
