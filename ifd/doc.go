// Package ifd holds the C sources of Tessera's pcsc-lite reader driver
// (the IFD handler pcscd loads: driver/ifdhandler.c, built by `make` into
// bin/libifdtessera.so) and, for its tests, a cgo wrapper of the driver's
// frame decoder (frame.c), so that the decoder the driver runs is fuzzed
// from Go against simulator/ifdlink, the simulator's side of the same wire
// format. docs/ifd-bridge.md describes the bridge.
package ifd
