// Package ifd holds the C sources of Tessera's pcsc-lite reader driver
// (the IFD handler pcscd loads: ifdhandler.c, built by `make` into
// bin/libifdtessera.so) and, for its tests, cgo wrappers of the driver's
// frame decoder (frame.c) and of its IFDH* entry points, so that the code
// pcscd runs is tested and fuzzed from Go: the decoder against
// simulator/ifdlink, the simulator's side of the same wire format, and the
// driver against a simulator and against a peer that answers garbage. The
// built driver has no Go in it (docs/ifd-bridge.md says why).
package ifd
