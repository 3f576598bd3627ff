//go:build e2e

package e2e

import (
	"bytes"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/go-piv/piv-go/v2/piv"
)

// pivgoSerial is the serial the piv-go flow's card is made with.
const pivgoSerial = 20260801

// openPivGo opens the card in reader with piv-go: piv.Open takes a reader
// name as piv.Cards lists it. piv-go connects exclusively, so every other
// client waits until the returned close function (also run at the end of
// the test) closes it.
func openPivGo(t *testing.T, reader string) (*piv.YubiKey, func()) {
	t.Helper()
	cards, err := piv.Cards()
	if err != nil {
		t.Fatalf("piv.Cards: %v", err)
	}
	if !slices.Contains(cards, reader) {
		t.Fatalf("piv.Cards() = %q, no %q", cards, reader)
	}
	// pcscd may still be powering the card: try again, up to cardWait.
	for deadline := time.Now().Add(cardWait); ; {
		yk, err := piv.Open(reader)
		if err == nil {
			var once sync.Once
			closeYK := func() { once.Do(func() { yk.Close() }) }
			t.Cleanup(closeYK)
			return yk, closeYK
		}
		if time.Now().After(deadline) {
			t.Fatalf("piv.Open(%q): %v, still after %v", reader, err, cardWait)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// wantAuthErr checks that err is piv-go's AuthErr with retries left.
func wantAuthErr(t *testing.T, what string, err error, retries int) {
	t.Helper()
	var ae piv.AuthErr
	if !errors.As(err, &ae) || ae.Retries != retries {
		t.Errorf("%s = %v, want AuthErr with %d retries", what, err, retries)
	}
}

// pivgoKeyCase is a key to generate in a slot.
type pivgoKeyCase struct {
	alg   piv.Algorithm
	name  string
	pin   piv.PINPolicy
	touch piv.TouchPolicy
}

// pivgoAlgorithms is every algorithm piv-go v2.6 can generate.
var pivgoAlgorithms = []struct {
	alg  piv.Algorithm
	name string
}{
	{piv.AlgorithmEC256, "P-256"},
	{piv.AlgorithmEC384, "P-384"},
	{piv.AlgorithmEd25519, "Ed25519"},
	{piv.AlgorithmX25519, "X25519"},
	{piv.AlgorithmRSA1024, "RSA-1024"},
	{piv.AlgorithmRSA2048, "RSA-2048"},
	{piv.AlgorithmRSA3072, "RSA-3072"},
	{piv.AlgorithmRSA4096, "RSA-4096"},
}

// pivgoSlots are the four PIV key slots with the policies the flow gives
// their keys.
var pivgoSlots = []struct {
	slot  piv.Slot
	pin   piv.PINPolicy
	touch piv.TouchPolicy
}{
	{piv.SlotAuthentication, piv.PINPolicyOnce, piv.TouchPolicyNever},
	{piv.SlotSignature, piv.PINPolicyAlways, piv.TouchPolicyNever},
	{piv.SlotKeyManagement, piv.PINPolicyOnce, piv.TouchPolicyCached},
	{piv.SlotCardAuthentication, piv.PINPolicyNever, piv.TouchPolicyAlways},
}

// TestInteropPivGo drives a fresh card with github.com/go-piv/piv-go/v2
// through pcscd: PIN, PUK and management key handling, key generation in
// every slot with every algorithm piv-go supports, signatures, decryption
// and ECDH checked on the host, certificates, attestation chained to the
// card's F9 certificate, protected metadata, and reset.
func TestInteropPivGo(t *testing.T) {
	start := time.Now()
	c := newInteropCard(t, "--serial", fmt.Sprint(pivgoSerial))
	yk, _ := openPivGo(t, c.reader)
	const pin2, pin3 = "246813", "135790"
	aesKey := []byte("tessera-aes192-mgmt-key!") // 24 bytes: AES-192 on a 5.4+ card
	var attestCert *x509.Certificate

	c.step("Open", func(t *testing.T) {
		if got, want := yk.Version(), (piv.Version{Major: 5, Minor: 7, Patch: 1}); got != want {
			t.Errorf("Version() = %v, want %v", got, want)
		}
		serial, err := yk.Serial()
		if err != nil || serial != pivgoSerial {
			t.Errorf("Serial() = %d, %v; want %d", serial, err, pivgoSerial)
		}
		if n, err := yk.Retries(); err != nil || n != 3 {
			t.Errorf("Retries() = %d, %v; want 3", n, err)
		}
		c.checkTries(t, 3, 3)
	})

	c.step("VerifyPIN", func(t *testing.T) {
		wantAuthErr(t, "VerifyPIN(wrong)", yk.VerifyPIN("000000"), 2)
		wantAuthErr(t, "VerifyPIN(wrong) again", yk.VerifyPIN("999999"), 1)
		if n, err := yk.Retries(); err != nil || n != 1 {
			t.Errorf("Retries() after two wrong PINs = %d, %v; want 1", n, err)
		}
		c.checkTries(t, 1, 3)
		if err := yk.VerifyPIN(piv.DefaultPIN); err != nil {
			t.Fatalf("VerifyPIN(right) = %v", err)
		}
		// The status form of VERIFY answers 9000 once the PIN is verified,
		// which piv-go's Retries reports as an error, not as a count.
		if n, err := yk.Retries(); err == nil {
			t.Errorf("Retries() while verified = %d, want the error of a 9000 answer", n)
		}
		c.checkTries(t, 3, 3)
	})

	c.step("SetPIN, block, Unblock", func(t *testing.T) {
		if err := yk.SetPIN(piv.DefaultPIN, pin2); err != nil {
			t.Fatalf("SetPIN: %v", err)
		}
		wantAuthErr(t, "VerifyPIN(old PIN)", yk.VerifyPIN(piv.DefaultPIN), 2)
		if err := yk.VerifyPIN(pin2); err != nil {
			t.Fatalf("VerifyPIN(new PIN) = %v", err)
		}
		wantAuthErr(t, "VerifyPIN(wrong) 1", yk.VerifyPIN("000000"), 2)
		wantAuthErr(t, "VerifyPIN(wrong) 2", yk.VerifyPIN("000000"), 1)
		wantAuthErr(t, "VerifyPIN(wrong) 3", yk.VerifyPIN("000000"), 0)
		wantAuthErr(t, "VerifyPIN(right) when blocked", yk.VerifyPIN(pin2), 0)
		if n, err := yk.Retries(); err != nil || n != 0 {
			t.Errorf("Retries() when blocked = %d, %v; want 0", n, err)
		}
		c.checkTries(t, 0, 3)
		wantAuthErr(t, "Unblock(wrong PUK)", yk.Unblock("00000000", pin3), 2)
		if err := yk.Unblock(piv.DefaultPUK, pin3); err != nil {
			t.Fatalf("Unblock: %v", err)
		}
		c.checkTries(t, 3, 3)
		if err := yk.VerifyPIN(pin3); err != nil {
			t.Fatalf("VerifyPIN(PIN set by Unblock) = %v", err)
		}
	})

	c.step("SetManagementKey AES-192", func(t *testing.T) {
		mark := c.traceSize()
		if err := yk.SetManagementKey(piv.DefaultManagementKey, aesKey); err != nil {
			t.Fatalf("SetManagementKey: %v", err)
		}
		if st := c.cardState(t); st.MgmtKey.Algorithm != "AES-192" || st.MgmtKey.Default {
			t.Errorf("card management key = %+v, want AES-192, not default", st.MgmtKey)
		}
		// Authenticate with it: piv-go reads the algorithm from GET
		// METADATA 9B and runs AES-192 mutual authentication (P1 0A).
		if _, err := yk.GenerateKey(aesKey, piv.SlotAuthentication, piv.Key{Algorithm: piv.AlgorithmEC256, PINPolicy: piv.PINPolicyOnce, TouchPolicy: piv.TouchPolicyNever}); err != nil {
			t.Fatalf("GenerateKey with the AES-192 key: %v", err)
		}
		if !slices.Contains(c.exchanges(t, mark), "00870A9B") {
			t.Errorf("no GENERAL AUTHENTICATE with P1 0A (AES-192) in the trace")
		}
		if _, err := yk.GenerateKey(piv.DefaultManagementKey, piv.SlotAuthentication, piv.Key{Algorithm: piv.AlgorithmEC256}); err == nil {
			t.Errorf("GenerateKey with the old 3DES key succeeded")
		}
	})

	c.step("empty slots", func(t *testing.T) {
		for _, s := range []piv.Slot{piv.SlotSignature, piv.SlotKeyManagement, piv.SlotCardAuthentication} {
			if _, err := yk.Certificate(s); !errors.Is(err, piv.ErrNotFound) {
				t.Errorf("Certificate(%v) of an empty slot = %v, want ErrNotFound", s, err)
			}
			if _, err := yk.Attest(s); !errors.Is(err, piv.ErrNotFound) {
				t.Errorf("Attest(%v) of an empty slot = %v, want ErrNotFound", s, err)
			}
		}
	})

	c.step("AttestationCertificate", func(t *testing.T) {
		var err error
		attestCert, err = yk.AttestationCertificate()
		if err != nil {
			t.Fatalf("AttestationCertificate: %v", err)
		}
		if err := attestCert.CheckSignatureFrom(attestCert); err != nil {
			t.Errorf("the F9 certificate is not self-signed: %v", err)
		}
	})

	// Every algorithm in every slot: generate, read back, attest, use.
	pubs := map[piv.Slot]crypto.PublicKey{}
	for _, sl := range pivgoSlots {
		for _, a := range pivgoAlgorithms {
			c.step(fmt.Sprintf("GenerateKey %v %s", sl.slot, a.name), func(t *testing.T) {
				pub := pivgoGenerateAndUse(t, yk, aesKey, pin3, attestCert, sl.slot, pivgoKeyCase{a.alg, a.name, sl.pin, sl.touch})
				pubs[sl.slot] = pub
			})
		}
	}

	c.step("SharedKey", func(t *testing.T) {
		for _, curve := range []piv.Algorithm{piv.AlgorithmEC256, piv.AlgorithmEC384} {
			pub, err := yk.GenerateKey(aesKey, piv.SlotKeyManagement, piv.Key{Algorithm: curve, PINPolicy: piv.PINPolicyOnce, TouchPolicy: piv.TouchPolicyNever})
			if err != nil {
				t.Fatalf("GenerateKey: %v", err)
			}
			pivgoECDH(t, yk, pin3, piv.SlotKeyManagement, pub)
			pubs[piv.SlotKeyManagement] = pub
		}
	})

	c.step("SetCertificate and Certificate", func(t *testing.T) {
		ca := newHostCA(t)
		for _, sl := range pivgoSlots {
			cert := ca.issue(t, "piv-go "+sl.slot.String(), pubs[sl.slot])
			if err := yk.SetCertificate(aesKey, sl.slot, cert); err != nil {
				t.Fatalf("SetCertificate(%v): %v", sl.slot, err)
			}
			got, err := yk.Certificate(sl.slot)
			if err != nil {
				t.Fatalf("Certificate(%v): %v", sl.slot, err)
			}
			if !bytes.Equal(got.Raw, cert.Raw) {
				t.Errorf("Certificate(%v) is not the certificate stored", sl.slot)
			}
		}
	})

	c.step("Metadata", func(t *testing.T) {
		m, err := yk.Metadata(pin3)
		if err != nil {
			t.Fatalf("Metadata before any was set: %v", err)
		}
		if m.ManagementKey != nil {
			t.Errorf("Metadata before any was set holds a management key")
		}
		key := slices.Clone(aesKey)
		if err := yk.SetMetadata(aesKey, &piv.Metadata{ManagementKey: &key}); err != nil {
			t.Fatalf("SetMetadata: %v", err)
		}
		m, err = yk.Metadata(pin3)
		if err != nil {
			t.Fatalf("Metadata: %v", err)
		}
		if m.ManagementKey == nil || !bytes.Equal(*m.ManagementKey, aesKey) {
			t.Errorf("Metadata().ManagementKey = %v, want the key stored", m.ManagementKey)
		}
	})

	c.step("Reset after blocking PIN and PUK", func(t *testing.T) {
		for i, want := range []int{2, 1, 0} {
			wantAuthErr(t, fmt.Sprintf("VerifyPIN(wrong) %d", i+1), yk.VerifyPIN("000000"), want)
		}
		for i, want := range []int{2, 1, 0} {
			wantAuthErr(t, fmt.Sprintf("Unblock(wrong PUK) %d", i+1), yk.Unblock("00000000", pin3), want)
		}
		wantAuthErr(t, "Unblock(right PUK) when blocked", yk.Unblock(piv.DefaultPUK, pin3), 0)
		c.checkTries(t, 0, 0)
		if err := yk.Reset(); err != nil {
			t.Fatalf("Reset: %v", err)
		}
		c.checkTries(t, 3, 3)
		if n, err := yk.Retries(); err != nil || n != 3 {
			t.Errorf("Retries() after Reset = %d, %v; want 3", n, err)
		}
		if err := yk.VerifyPIN(piv.DefaultPIN); err != nil {
			t.Errorf("VerifyPIN(factory PIN) after Reset = %v", err)
		}
		for _, sl := range pivgoSlots {
			if _, err := yk.Certificate(sl.slot); !errors.Is(err, piv.ErrNotFound) {
				t.Errorf("Certificate(%v) after Reset = %v, want ErrNotFound", sl.slot, err)
			}
			if _, err := yk.KeyInfo(sl.slot); err == nil {
				t.Errorf("KeyInfo(%v) after Reset found a key", sl.slot)
			}
		}
		if m, err := yk.Metadata(piv.DefaultPIN); err != nil || m.ManagementKey != nil {
			t.Errorf("Metadata after Reset = %+v, %v; want none", m, err)
		}
		after, err := yk.AttestationCertificate()
		if err != nil || !bytes.Equal(after.Raw, attestCert.Raw) {
			t.Errorf("AttestationCertificate after Reset: %v (the F9 certificate must stay)", err)
		}
		st := c.cardState(t)
		if st.MgmtKey.Algorithm != "3DES" || !st.MgmtKey.Default || len(st.Keys) != 1 {
			t.Errorf("card after Reset: management key %+v, keys %+v; want the factory 3DES key and only F9", st.MgmtKey, st.Keys)
		}
		// The factory management key works again.
		if _, err := yk.GenerateKey(piv.DefaultManagementKey, piv.SlotAuthentication, piv.Key{Algorithm: piv.AlgorithmEC256, PINPolicy: piv.PINPolicyOnce, TouchPolicy: piv.TouchPolicyNever}); err != nil {
			t.Errorf("GenerateKey with the factory key after Reset: %v", err)
		}
	})
	fmt.Printf("report: interop piv-go: %d algorithms × %d slots generated, used and attested in %v\n",
		len(pivgoAlgorithms), len(pivgoSlots), time.Since(start).Round(time.Millisecond))
}

// pivgoGenerateAndUse generates a key, checks what the card reports of it
// (KeyInfo, attestation) and uses it once, checking the result on the host.
func pivgoGenerateAndUse(t *testing.T, yk *piv.YubiKey, mgmt []byte, pin string, attestCert *x509.Certificate, slot piv.Slot, k pivgoKeyCase) crypto.PublicKey {
	t.Helper()
	pub, err := yk.GenerateKey(mgmt, slot, piv.Key{Algorithm: k.alg, PINPolicy: k.pin, TouchPolicy: k.touch})
	if err != nil {
		t.Fatalf("GenerateKey: %v", err)
	}
	info, err := yk.KeyInfo(slot)
	if err != nil {
		t.Fatalf("KeyInfo: %v", err)
	}
	if info.Algorithm != k.alg || info.Origin != piv.OriginGenerated || info.PINPolicy != k.pin || info.TouchPolicy != k.touch {
		t.Errorf("KeyInfo = alg %v origin %v pin %v touch %v; want %v generated %v %v", info.Algorithm, info.Origin, info.PINPolicy, info.TouchPolicy, k.alg, k.pin, k.touch)
	}
	if !publicEqual(info.PublicKey, pub) {
		t.Errorf("KeyInfo public key differs from GenerateKey's")
	}

	// Attestation: chained to the card's F9 certificate (not Yubico's
	// roots), Yubico's extensions parsed by piv-go.
	cert, err := yk.Attest(slot)
	if err != nil {
		t.Fatalf("Attest: %v", err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(attestCert)
	v := piv.Verifier{Roots: roots}
	att, err := v.Verify(attestCert, cert)
	if err != nil {
		t.Fatalf("attestation does not verify against the F9 certificate: %v", err)
	}
	// Go's ParseCertificate leaves an X25519 key unparsed; the
	// subjectPublicKeyInfo itself parses.
	if attested, err := x509.ParsePKIXPublicKey(cert.RawSubjectPublicKeyInfo); err != nil || !publicEqual(attested, pub) {
		t.Errorf("attested public key differs from GenerateKey's (%v)", err)
	}
	if att.Serial != pivgoSerial || att.Version != (piv.Version{Major: 5, Minor: 7, Patch: 1}) || att.Slot != slot || att.PINPolicy != k.pin || att.TouchPolicy != k.touch {
		t.Errorf("attestation = %+v; want serial %d, version 5.7.1, slot %v, PIN %v, touch %v", *att, pivgoSerial, slot, k.pin, k.touch)
	}

	auth := piv.KeyAuth{PIN: pin}
	priv, err := yk.PrivateKey(slot, pub, auth)
	if err != nil {
		t.Fatalf("PrivateKey: %v", err)
	}
	msg := []byte("Tessera interop: " + k.name + " in " + slot.String())
	switch pub := pub.(type) {
	case *ecdsa.PublicKey:
		var digest []byte
		h := crypto.SHA256
		if pub.Curve == elliptic.P384() {
			d := sha512.Sum384(msg)
			digest, h = d[:], crypto.SHA384
		} else {
			d := sha256.Sum256(msg)
			digest = d[:]
		}
		sig, err := priv.(crypto.Signer).Sign(rand.Reader, digest, h)
		if err != nil {
			t.Fatalf("Sign: %v", err)
		}
		if !ecdsa.VerifyASN1(pub, digest, sig) {
			t.Errorf("ECDSA signature does not verify")
		}
		if slot == piv.SlotKeyManagement {
			pivgoECDH(t, yk, pin, slot, pub)
		}
	case ed25519.PublicKey:
		sig, err := priv.(crypto.Signer).Sign(rand.Reader, msg, crypto.Hash(0))
		if err != nil {
			t.Fatalf("Sign: %v", err)
		}
		if !ed25519.Verify(pub, msg, sig) {
			t.Errorf("Ed25519 signature does not verify")
		}
	case *rsa.PublicKey:
		d := sha256.Sum256(msg)
		sig, err := priv.(crypto.Signer).Sign(rand.Reader, d[:], crypto.SHA256)
		if err != nil {
			t.Fatalf("Sign PKCS#1 v1.5: %v", err)
		}
		if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, d[:], sig); err != nil {
			t.Errorf("PKCS#1 v1.5 signature does not verify: %v", err)
		}
		pss := &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA256}
		sig, err = priv.(crypto.Signer).Sign(rand.Reader, d[:], pss)
		if err != nil {
			t.Fatalf("Sign PSS: %v", err)
		}
		if err := rsa.VerifyPSS(pub, crypto.SHA256, d[:], sig, pss); err != nil {
			t.Errorf("PSS signature does not verify: %v", err)
		}
		ct, err := rsa.EncryptPKCS1v15(rand.Reader, pub, msg)
		if err != nil {
			t.Fatal(err)
		}
		pt, err := priv.(crypto.Decrypter).Decrypt(rand.Reader, ct, nil)
		if err != nil || !bytes.Equal(pt, msg) {
			t.Errorf("Decrypt = %q, %v; want %q", pt, err, msg)
		}
	case *ecdh.PublicKey: // X25519
		peer, err := ecdh.X25519().GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		got, err := priv.(*piv.X25519PrivateKey).ECDH(peer.PublicKey())
		if err != nil {
			t.Fatalf("ECDH: %v", err)
		}
		want, err := peer.ECDH(pub)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("X25519 shared secret differs from the host's")
		}
	default:
		t.Fatalf("GenerateKey returned a %T", pub)
	}
	return pub
}

// pivgoECDH runs SharedKey with a host key on the curve of pub and compares
// the card's secret with the host's.
func pivgoECDH(t *testing.T, yk *piv.YubiKey, pin string, slot piv.Slot, pub crypto.PublicKey) {
	t.Helper()
	ecPub := pub.(*ecdsa.PublicKey)
	priv, err := yk.PrivateKey(slot, pub, piv.KeyAuth{PIN: pin})
	if err != nil {
		t.Fatalf("PrivateKey: %v", err)
	}
	peer, err := ecdsa.GenerateKey(ecPub.Curve, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	got, err := priv.(*piv.ECDSAPrivateKey).SharedKey(&peer.PublicKey)
	if err != nil {
		t.Fatalf("SharedKey: %v", err)
	}
	peerECDH, err := peer.ECDH()
	if err != nil {
		t.Fatal(err)
	}
	cardECDH, err := ecPub.ECDH()
	if err != nil {
		t.Fatal(err)
	}
	want, err := peerECDH.ECDH(cardECDH)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("SharedKey on %s differs from the host's secret", ecPub.Curve.Params().Name)
	}
}

// publicEqual reports whether two public keys are the same key.
func publicEqual(a, b crypto.PublicKey) bool {
	ea, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && ea.Equal(b)
}

// TestInteropPivGoYubiKeyProfile runs piv-go against the byte-faithful
// yubikey-5.7 profile, whose factory management key is AES-192: piv-go
// learns that from GET METADATA 9B and authenticates with AES.
func TestInteropPivGoYubiKeyProfile(t *testing.T) {
	c := newInteropCard(t, "--profile", "yubikey-5.7")
	yk, _ := openPivGo(t, c.reader)
	c.step("GenerateKey with the AES-192 factory key", func(t *testing.T) {
		mark := c.traceSize()
		pub, err := yk.GenerateKey(piv.DefaultManagementKey, piv.SlotSignature, piv.Key{Algorithm: piv.AlgorithmEC256, PINPolicy: piv.PINPolicyAlways, TouchPolicy: piv.TouchPolicyNever})
		if err != nil {
			t.Fatalf("GenerateKey: %v", err)
		}
		if !slices.Contains(c.exchanges(t, mark), "00870A9B") {
			t.Errorf("no GENERAL AUTHENTICATE with P1 0A (AES-192) in the trace")
		}
		priv, err := yk.PrivateKey(piv.SlotSignature, pub, piv.KeyAuth{PIN: piv.DefaultPIN})
		if err != nil {
			t.Fatal(err)
		}
		d := sha256.Sum256([]byte("yubikey-5.7"))
		sig, err := priv.(crypto.Signer).Sign(rand.Reader, d[:], crypto.SHA256)
		if err != nil {
			t.Fatalf("Sign: %v", err)
		}
		if !ecdsa.VerifyASN1(pub.(*ecdsa.PublicKey), d[:], sig) {
			t.Errorf("signature does not verify")
		}
	})
	c.step("Reset", func(t *testing.T) {
		if err := yk.Reset(); err != nil {
			t.Fatalf("Reset: %v", err)
		}
		c.checkTries(t, 3, 3)
		if st := c.cardState(t); st.MgmtKey.Algorithm != "AES-192" || !st.MgmtKey.Default {
			t.Errorf("management key after Reset = %+v, want the AES-192 factory key", st.MgmtKey)
		}
	})
}
