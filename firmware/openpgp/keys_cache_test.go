package openpgp

import (
	"crypto/rand"
	"errors"
	"testing"

	"github.com/tesseracard/tessera/apdu"
)

// TestKeyCache: a cached key is used only for the very record and
// attributes it was parsed from; more keys than entries still sign right.
func TestKeyCache(t *testing.T) {
	var c keyCache
	type key struct {
		al        algorithm
		priv, pub []byte
	}
	var keys []key
	for _, attr := range []string{"13" + oidP256, "16" + oidEd25519, "13" + oidP384, "13" + oidP256, "16" + oidEd25519} {
		al := mustAlg(t, keySig, attr)
		priv, pub, err := generateKey(al, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, key{al, priv, pub})
	}
	for round := range 3 {
		for i, k := range keys {
			pub, err := c.publicKey(k.al, k.priv)
			if err != nil {
				t.Fatal(err)
			}
			if string(pub) != string(k.pub) {
				t.Fatalf("round %d key %d: cached public key differs", round, i)
			}
			msg := []byte("message")
			sig, err := c.sign(k.al, k.priv, msg, rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			// Verify with the function that parses afresh.
			checkSig(t, k.al, k.pub, msg, sig)
		}
	}
	// The same record under other attributes is refused, cached or not.
	p384 := mustAlg(t, keySig, "13"+oidP384)
	if _, err := c.sign(p384, keys[0].priv, make([]byte, 32), rand.Reader); !errors.Is(err, apdu.SWReferenceDataUnusable) {
		t.Errorf("sign with a cached record under other attributes = %v, want 6984", err)
	}
	// A nil cache parses every time.
	if _, err := (*keyCache)(nil).sign(keys[0].al, keys[0].priv, make([]byte, 32), rand.Reader); err != nil {
		t.Errorf("nil cache: %v", err)
	}
}
