// Package tpmstore binds a card's state file to a TPM 2.0: it implements the
// [nvm.Sealer] and [nvm.Counter] behind an [nvm.Protected] medium with
// github.com/google/go-tpm, so that a state file copied back (restoring
// spent PIN tries) or copied to another machine (cloning the card's keys)
// is refused.
//
// The TPM is reached through a device (/dev/tpmrm0, the kernel's resource
// manager), swtpm's unix socket (unix:PATH, `swtpm socket --tpm2 --server
// type=unixio,path=PATH`), or the in-process reference simulator (sim, from
// github.com/google/go-tpm-tools/simulator; Linux, cgo and libcrypto only).
// A device is Linux-only too. See [Open].
//
// Sealed state key (TPM 2.0 Library Part 1 §27, Part 3 §12.1 TPM2_Create,
// §12.7 TPM2_Unseal): the random 32-byte key that encrypts a card's state
// is sealed in a keyed-hash data object under the owner hierarchy's storage
// root key, the TCG's standard ECC P-256 SRK template, recreated with
// TPM2_CreatePrimary for every seal and unseal (the same template and seed
// give the same key) and flushed after: no persistent handle is needed and
// nothing stays loaded in the TPM. The sealed object (its public and
// private areas) travels inside the state file; see nvm.Protected. Unseal
// runs in a salted HMAC session that encrypts the key on its way out of the
// TPM. No PCR binding: the key opens whatever the machine booted.
//
// Anti-rollback counter (Part 1 §37.2, Part 3 §31.8 TPM2_NV_Increment):
// each card has an NV counter index (TPM_NT_COUNTER, 8 bytes) in the owner
// range 0x01800000–0x01BFFFFF (TCG Registry of Reserved TPM 2.0 Handles),
// derived from the SHA-256 of the state file's absolute path (see
// [IndexFor]). Its name, "tpm-nv:0x018xxxxx", is recorded in every saved
// state, so a state file moved to another card's place, whose counter is
// another index, is refused. The index is created at the card's first
// save and kept across factory resets of the same card (the counter never
// goes back).
//
// Every object and index is created with NoDA, and none is authorised with
// the card's PIN (their authorisation values are empty): a mistyped card
// PIN never counts against the machine's TPM dictionary-attack lockout.
// The card keeps its own try counters, in the protected state.
//
// The owner hierarchy's authorisation must be empty (the default on Linux
// and on current Windows).
package tpmstore
