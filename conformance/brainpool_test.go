package conformance

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"math/big"
	"testing"
)

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestBrainpoolP256r1 checks the suite's own arithmetic against OpenSSL
// (Python's cryptography 48): the curve's constants, a signature OpenSSL
// made, and an ECDH secret it computed.
func TestBrainpoolP256r1(t *testing.T) {
	c := brainpoolP256r1()
	if !c.onCurve(c.gx, c.gy) {
		t.Fatal("G is not on the curve")
	}
	if R := c.times(c.n, point{x: c.gx, y: c.gy}); !R.inf {
		t.Error("n·G is not the point at infinity")
	}

	k, err := c.parse(unhex(t, "04a874b2e525975b18bb251d0834c9bcd56b3bef0419b80de969dac6e7742a9ff783749f284022b31a082f4ec0b351bb6a8227ea289e73c9331201bd594dadc6c0"))
	if err != nil {
		t.Fatal(err)
	}
	hash := sha256.Sum256([]byte("tessera conformance"))
	sig := unhex(t, "3bd683bcf96baf2ae5acf4d9fbbd9d34e28203543d9d945ead5cdaee4148b63302a7d8bc3f73694ae185b0958a5a167073d8b0423221930b5c597ff9d6245626")
	if err := k.verify(hash[:], sig); err != nil {
		t.Errorf("OpenSSL's signature: %v", err)
	}
	bad := bytes.Clone(sig)
	bad[40] ^= 1
	if err := k.verify(hash[:], bad); err == nil {
		t.Error("a changed s verifies")
	}
	if err := k.verify(hash[:], sig[:63]); err == nil {
		t.Error("a 63-byte signature verifies")
	}

	// ECDH: a "random" source that makes the host's key OpenSSL's d (the
	// suite draws d = v mod (n-1) + 1 from 40 bytes v).
	d := new(big.Int).SetBytes(unhex(t, "215b78182b5ad942c0a3f3cf51853bb717e64f4660ff990e023f0d1780c2ae8e"))
	src := new(big.Int).Sub(d, big.NewInt(1)).FillBytes(make([]byte, 40))
	peer, err := c.parse(unhex(t, "045c520d63e5692f473712f36e33054d19e648345236ec304a0e01788a412463b18aef0748c574ef21cbaf1a602342b08e74e538583e99a2f3392413f10bfdf783"))
	if err != nil {
		t.Fatal(err)
	}
	hostPoint, secret, err := peer.ecdh(bytes.NewReader(src))
	if err != nil {
		t.Fatal(err)
	}
	if want := "0402ea080a26adfb65503d0ce89e098bbb15a8156e8bcd8dafe547102b41d050190d8ce7417e94cfd1699f5dc34c432903d01855247a51e2ab97b7be4642b3ae68"; hex.EncodeToString(hostPoint) != want {
		t.Errorf("host point %x, want OpenSSL's %s", hostPoint, want)
	}
	if want := "890ddf7c6d9c3477a2a0092d181c8a3517f2117ed39ef7ceab78f9aed2f20484"; hex.EncodeToString(secret) != want {
		t.Errorf("shared secret %x, want OpenSSL's %s", secret, want)
	}

	for _, p := range [][]byte{
		append([]byte{4}, make([]byte, 64)...), // (0, 0): off the curve
		append([]byte{2}, unhex(t, "5c520d63e5692f473712f36e33054d19e648345236ec304a0e01788a412463b1")...), // compressed
		append(append([]byte{4}, c.p.Bytes()...), c.gy.Bytes()...),                                         // x = p
	} {
		if _, err := c.parse(p); err == nil {
			t.Errorf("parse(% X) accepted", p)
		}
	}
}
