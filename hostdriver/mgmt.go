package hostdriver

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"crypto/rand"
	"errors"
	"fmt"
	"io"

	"github.com/tesseracard/tessera/apdu"
	"github.com/tesseracard/tessera/pivalg"
)

// Exchanger sends one command APDU under the ISO/IEC 7816-4 exchange rules
// and returns the complete response, whatever its status word. [*Conn] is
// one; a test harness that logs its exchanges can be another.
type Exchanger interface {
	Transmit(ctx context.Context, cmd apdu.Command) (apdu.Response, error)
}

// ErrMgmtAuth is wrapped by every error of AuthenticateManagementKey that
// is not the card's status word or the transport's error: a key of the
// wrong length or algorithm, a malformed witness, or a card whose answer to
// the host's challenge shows it does not hold the same key.
var ErrMgmtAuth = errors.New("hostdriver: management key authentication failed")

// ManagementKeyCipher returns the block cipher of a PIV management key
// (SP 800-78-4 Table 5; the AES identifiers as SP 800-78-4 and the YubiKey
// use them): alg 03 3DES (24 bytes), 08 AES-128, 0A AES-192, 0C AES-256.
// Any other algorithm, or a key of the wrong length, is an error wrapping
// ErrMgmtAuth.
func ManagementKeyCipher(alg byte, key []byte) (cipher.Block, error) {
	want := pivalg.MgmtKeySize(alg)
	switch alg {
	case pivalg.TDES:
		if len(key) != want {
			return nil, fmt.Errorf("%w: a 3DES management key is %d bytes, not %d", ErrMgmtAuth, want, len(key))
		}
		return des.NewTripleDESCipher(key)
	case pivalg.AES128, pivalg.AES192, pivalg.AES256:
		if len(key) != want {
			return nil, fmt.Errorf("%w: an AES-%d management key is %d bytes, not %d", ErrMgmtAuth, want*8, want, len(key))
		}
		return aes.NewCipher(key)
	}
	return nil, fmt.Errorf("%w: management key algorithm %02X: want 03 (3DES), 08, 0A or 0C (AES)", ErrMgmtAuth, alg)
}

// AuthenticateManagementKey authenticates the PIV management key (key
// reference 9B) with the card by mutual authentication, SP 800-73-4 Part 2
// §3.2.4 and Appendix A.2: the card sends an encrypted witness, the host
// returns it decrypted with a challenge of its own drawn from random
// (crypto/rand when nil), and the card's encryption of that challenge
// proves the card holds the key too. The PIV application must be selected.
//
// A status word other than 9000 is returned as the card's error
// (apdu.StatusWord.Err, so errors.Is(err, apdu.SWSecurityStatusNotSatisfied)
// and the like work); a transport failure as the transport's; anything
// else wraps ErrMgmtAuth. The key never appears in an error.
func AuthenticateManagementKey(ctx context.Context, c Exchanger, alg byte, key []byte, random io.Reader) error {
	if random == nil {
		random = rand.Reader
	}
	block, err := ManagementKeyCipher(alg, key)
	if err != nil {
		return err
	}
	bs := block.BlockSize()
	r, err := c.Transmit(ctx, apdu.Command{INS: apdu.InsGeneralAuthenticate, P1: alg, P2: 0x9B, Data: []byte{0x7C, 0x02, 0x80, 0x00}, Ne: 256})
	if err != nil {
		return fmt.Errorf("requesting a witness: %w", err)
	}
	if err := r.SW.Err(); err != nil {
		return fmt.Errorf("requesting a witness: %w", err)
	}
	wit, err := DynamicAuthData(r.Data, 0x80)
	if err != nil || len(wit) != bs {
		return fmt.Errorf("%w: the witness answer % X is not 7C { 80 <%d bytes> }", ErrMgmtAuth, r.Data, bs)
	}
	plain := make([]byte, bs)
	block.Decrypt(plain, wit)
	chal := make([]byte, bs)
	if _, err := io.ReadFull(random, chal); err != nil {
		return fmt.Errorf("drawing a challenge: %w", err)
	}
	inner := apdu.AppendTLV(apdu.AppendTLV(nil, 0x80, plain), 0x81, chal)
	r, err = c.Transmit(ctx, apdu.Command{INS: apdu.InsGeneralAuthenticate, P1: alg, P2: 0x9B, Data: apdu.Nest(0x7C, inner), Ne: 256})
	if err != nil {
		return fmt.Errorf("answering the witness: %w", err)
	}
	if err := r.SW.Err(); err != nil {
		return fmt.Errorf("the management key was refused: %w", err)
	}
	got, err := DynamicAuthData(r.Data, 0x82)
	want := make([]byte, bs)
	block.Encrypt(want, chal)
	if err != nil || !bytes.Equal(got, want) {
		return fmt.Errorf("%w: the card's answer to the host challenge is wrong: it does not hold the same key", ErrMgmtAuth)
	}
	return nil
}

// DynamicAuthData returns the value of tag inside a dynamic authentication
// template 7C, the data field of GENERAL AUTHENTICATE both ways (SP
// 800-73-4 Part 2 Table 7): 80 witness, 81 challenge, 82 response, 85
// exponentiation. b must be exactly one 7C template.
func DynamicAuthData(b []byte, tag apdu.Tag) ([]byte, error) {
	t, rest, err := apdu.ParseTLV(b)
	if err != nil || t.Tag != 0x7C || len(rest) != 0 {
		return nil, errors.New("not one 7C template")
	}
	v, ok, err := apdu.FindTLV(t.Value, tag)
	if err != nil || !ok {
		return nil, fmt.Errorf("no tag %X in the template", uint32(tag))
	}
	return v, nil
}
