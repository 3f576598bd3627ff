//go:build !unix

package simulator

import "testing"

// ownGroup: where directories have no owning group, "".
func ownGroup(*testing.T, string) string { return "" }
