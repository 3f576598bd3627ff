// Package nvm is the card's persistent memory: what EEPROM or flash is to a
// Java Card or a YubiKey.
//
// A [Store] holds named records. Every change reaches the [Medium] as one
// complete, checksummed image (see [EncodeImage]), written atomically: after a
// power cut at any instant the medium holds either the image before the write
// or the image after it, never a mixture. Two kinds of change exist:
//
//   - a single atomic write outside any transaction ([Store.Put],
//     [Store.Delete]), used for try counters exactly as Java Card's OwnerPIN
//     updates its counter outside the transaction in progress;
//   - a transaction ([Store.Begin], [Tx.Commit], [Tx.Abort]): any number of
//     changes that reach the medium in one write at commit, or not at all.
//
// Two media are provided: [Memory] for tests and in-process cards, and [File],
// an append-only journal of checksummed frames that survives a kill or power
// cut at any byte. [Tearable] wraps any medium to inject power cuts: after a
// planned number of writes it refuses all further ones with [ErrPowerLost],
// which the card OS turns into a mute card that must be powered on again.
//
// The package does no I/O beyond the medium handed to it and keeps no
// package-level state.
package nvm
