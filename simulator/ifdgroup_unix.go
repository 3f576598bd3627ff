//go:build unix

package simulator

import (
	"os"
	"os/user"
	"strconv"
	"syscall"
)

// dirGroup names the group that owns dir: its name if the system knows
// the gid, else "gid N". It reports false if dir cannot be read.
func dirGroup(dir string) (string, bool) {
	fi, err := os.Stat(dir)
	if err != nil {
		return "", false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return "", false
	}
	gid := strconv.FormatUint(uint64(st.Gid), 10)
	if g, err := user.LookupGroupId(gid); err == nil {
		return g.Name, true
	}
	return "gid " + gid, true
}
