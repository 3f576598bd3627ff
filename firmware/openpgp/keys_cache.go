package openpgp

import (
	"bytes"
	"io"
)

// keyCache keeps parsed private keys in RAM, as a card keeps its key
// objects, so that a signature does not rebuild its key from the stored
// record every time: for RSA that rebuilding (moduli, the consistency
// checks of crypto/rsa) costs about a third of the signature itself. An
// entry is used only while the record and the attributes are byte for byte
// the ones it was parsed from, so a key generated, imported or deleted
// (even by a transaction a power cut undid) is never answered from a stale
// entry. The zero value is ready; a nil *keyCache parses every time. A
// keyCache belongs to one applet and is not safe for concurrent use.
type keyCache struct {
	entries [3]cachedKey // one per key reference, in practice
	next    int          // the entry replaced next
}

// cachedKey is a parsed key with the record and attributes it came from.
type cachedKey struct {
	attr, rec []byte
	k         keyPair
}

// load returns the key of record rec under attributes al, parsed once.
func (c *keyCache) load(al algorithm, rec []byte) (keyPair, error) {
	if c != nil {
		for _, e := range c.entries {
			if e.rec != nil && bytes.Equal(e.rec, rec) && bytes.Equal(e.attr, al.Raw) {
				return e.k, nil
			}
		}
	}
	k, err := parseRecord(al, rec)
	if err != nil {
		return keyPair{}, err
	}
	if c != nil {
		c.entries[c.next] = cachedKey{attr: bytes.Clone(al.Raw), rec: bytes.Clone(rec), k: k}
		c.next = (c.next + 1) % len(c.entries)
	}
	return k, nil
}

// publicKey is publicKey (keys.go) through the cache.
func (c *keyCache) publicKey(al algorithm, priv []byte) ([]byte, error) {
	k, err := c.load(al, priv)
	if err != nil {
		return nil, err
	}
	return k.public(), nil
}

// sign is sign (keys.go) through the cache.
func (c *keyCache) sign(al algorithm, priv, input []byte, rand io.Reader) ([]byte, error) {
	k, err := c.load(al, priv)
	if err != nil {
		return nil, err
	}
	return k.sign(input, rand)
}

// decipher is decipher (keys.go) through the cache.
func (c *keyCache) decipher(al algorithm, priv, data []byte) ([]byte, error) {
	k, err := c.load(al, priv)
	if err != nil {
		return nil, err
	}
	return k.decipher(data)
}
