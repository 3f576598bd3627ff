package hostdriver_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"testing"

	"github.com/tesseracard/tessera/apdu"
	"github.com/tesseracard/tessera/firmware/nvm"
	"github.com/tesseracard/tessera/firmware/profile"
	"github.com/tesseracard/tessera/hostdriver"
	"github.com/tesseracard/tessera/simulator"
)

// pivConn powers on a card of the named built-in profile and selects PIV.
func pivConn(t *testing.T, name string) *hostdriver.Conn {
	t.Helper()
	p, ok := profile.Builtin(name)
	if !ok {
		t.Fatalf("no built-in profile %q", name)
	}
	card, err := simulator.NewCard(p, &nvm.Memory{}, simulator.CardOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := card.PowerOn(); err != nil {
		t.Fatal(err)
	}
	c := &hostdriver.Conn{T: cardTransport{card}}
	if _, err := c.Do(context.Background(), apdu.Command{INS: apdu.InsSelect, P1: 0x04, Data: []byte{0xA0, 0, 0, 3, 8}}); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestAuthenticateManagementKey authenticates against the firmware with
// each factory key algorithm, and checks what a wrong key, a key of the
// wrong length and an unknown algorithm give.
func TestAuthenticateManagementKey(t *testing.T) {
	factory := bytes.Repeat([]byte{1, 2, 3, 4, 5, 6, 7, 8}, 3)
	wrong := bytes.Repeat([]byte{8, 7, 6, 5, 4, 3, 2, 1}, 3)
	tests := []struct {
		name    string
		profile string
		alg     byte
		key     []byte
		wantSW  apdu.StatusWord // 0: no status word error
		wantErr error           // nil: success
	}{
		{"3DES factory key", "default", 0x03, factory, 0, nil},
		{"AES-192 factory key", "yubikey-5.7", 0x0A, factory, 0, nil},
		{"3DES wrong key", "default", 0x03, wrong, apdu.SWSecurityStatusNotSatisfied, nil},
		{"AES-192 wrong key", "yubikey-5.7", 0x0A, wrong, apdu.SWSecurityStatusNotSatisfied, nil},
		{"3DES key of 16 bytes", "default", 0x03, factory[:16], 0, hostdriver.ErrMgmtAuth},
		{"unknown algorithm", "default", 0x07, factory, 0, hostdriver.ErrMgmtAuth},
		{"other algorithm than the card's", "default", 0x0A, factory, apdu.SWIncorrectP1P2, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			c := pivConn(t, tt.profile)
			err := hostdriver.AuthenticateManagementKey(ctx, c, tt.alg, tt.key, rand.Reader)
			switch {
			case tt.wantSW == 0 && tt.wantErr == nil:
				if err != nil {
					t.Fatalf("AuthenticateManagementKey() = %v, want success", err)
				}
				// The card now lets the holder of the key write an object.
				put := apdu.Command{INS: apdu.InsPutDataOdd, P1: 0x3F, P2: 0xFF, Data: []byte{0x5C, 0x03, 0x5F, 0xC1, 0x02, 0x53, 0x00}}
				if _, err := c.Do(ctx, put); err != nil {
					t.Errorf("PUT DATA after authenticating = %v, want success", err)
				}
			case tt.wantSW != 0:
				var sw apdu.StatusWord
				if !errors.As(err, &sw) || !errors.Is(err, tt.wantSW) {
					t.Errorf("AuthenticateManagementKey() = %v, want status word %04X", err, uint16(tt.wantSW))
				}
			default:
				if !errors.Is(err, tt.wantErr) {
					t.Errorf("AuthenticateManagementKey() = %v, want %v", err, tt.wantErr)
				}
			}
		})
	}
}

// impostor answers the witness request like a card, and the host's
// challenge with a response that is not its encryption under the key.
type impostor struct{ block func() []byte }

func (i impostor) Transmit(_ context.Context, cmd apdu.Command) (apdu.Response, error) {
	if len(cmd.Data) == 4 { // 7C 02 80 00: the witness request
		return apdu.Response{Data: apdu.Nest(0x7C, apdu.AppendTLV(nil, 0x80, i.block())), SW: apdu.SWSuccess}, nil
	}
	return apdu.Response{Data: apdu.Nest(0x7C, apdu.AppendTLV(nil, 0x82, i.block())), SW: apdu.SWSuccess}, nil
}

// TestAuthenticateManagementKeyChecksTheCard: a card that accepts the
// witness but cannot answer the host's challenge does not hold the key,
// and the authentication fails (the mutual half of mutual
// authentication).
func TestAuthenticateManagementKeyChecksTheCard(t *testing.T) {
	key := bytes.Repeat([]byte{1, 2, 3, 4, 5, 6, 7, 8}, 3)
	c := impostor{block: func() []byte { return make([]byte, 8) }}
	err := hostdriver.AuthenticateManagementKey(context.Background(), c, 0x03, key, rand.Reader)
	if !errors.Is(err, hostdriver.ErrMgmtAuth) {
		t.Errorf("AuthenticateManagementKey(impostor) = %v, want %v", err, hostdriver.ErrMgmtAuth)
	}
	bad := impostor{block: func() []byte { return make([]byte, 5) }}
	if err := hostdriver.AuthenticateManagementKey(context.Background(), bad, 0x03, key, rand.Reader); !errors.Is(err, hostdriver.ErrMgmtAuth) {
		t.Errorf("AuthenticateManagementKey(short witness) = %v, want %v", err, hostdriver.ErrMgmtAuth)
	}
}
