package firmware

import (
	"errors"
	"fmt"
	"io"

	"github.com/tesseracard/tessera/apdu"
	"github.com/tesseracard/tessera/firmware/pin"
)

// testApplet is a small application that exercises every card-OS service the
// real applets use: PIN and PUK objects, transactions, security status, long
// responses and randomness.
//
//	20 VERIFY      P1 00|FF, P2 80|81; no data: status; data: the value
//	24 CHANGE      P2 80|81; data: len(old) ‖ old ‖ new
//	2C RESET RETRY P2 80; data: len(puk) ‖ puk ‖ new PIN
//	DB PUT DATA    PIN needed; writes P1 records t/obj/0.. and t/obj, in one transaction
//	CA GET DATA    returns t/obj
//	CB LONG        returns P1P2 bytes of a counting pattern
//	84 CHALLENGE   returns Ne random bytes
type testApplet struct{}

var testAID = []byte{0xF0, 0x54, 0x45, 0x53, 0x54, 0x01, 0x02}

const (
	refPIN = 0x80
	refPUK = 0x81
)

func (testApplet) AID() []byte { return testAID }

func (testApplet) Boot(env *Context) error {
	if pin.New(env.Store, "t/pin").Exists() {
		return nil
	}
	tx, err := env.Store.Begin()
	if err != nil {
		return err
	}
	defer tx.Abort()
	if err := pin.New(env.Store, "t/pin").Init(tx, []byte("123456"), 3, true, false, env.Rand); err != nil {
		return err
	}
	if err := pin.New(env.Store, "t/puk").Init(tx, []byte("12345678"), 3, true, false, env.Rand); err != nil {
		return err
	}
	tx.Put("t/obj", []byte("factory"))
	return tx.Commit()
}

func (testApplet) Select(*Context, apdu.Command) ([]byte, error) { return nil, nil }
func (testApplet) Deselect(*Context)                             {}

func (a testApplet) ref(env *Context, p2 byte) (*pin.Object, error) {
	switch p2 {
	case refPIN:
		return pin.New(env.Store, "t/pin"), nil
	case refPUK:
		return pin.New(env.Store, "t/puk"), nil
	}
	return nil, apdu.SWReferenceNotFound
}

// pinStatus maps firmware/pin errors to status words.
func pinStatus(err error) error {
	var we *pin.WrongError
	switch {
	case errors.As(err, &we):
		return apdu.RetriesSW(we.Retries)
	case errors.Is(err, pin.ErrBlocked):
		return apdu.SWAuthMethodBlocked
	case errors.Is(err, pin.ErrPolicy):
		return apdu.SWIncorrectData
	}
	return err
}

func split(data []byte) (a, b []byte, err error) {
	if len(data) < 1 || int(data[0]) > len(data)-1 {
		return nil, nil, apdu.SWIncorrectData
	}
	return data[1 : 1+data[0]], data[1+data[0]:], nil
}

func (a testApplet) Process(env *Context, cmd apdu.Command) ([]byte, error) {
	if cmd.CLA != 0 {
		return nil, apdu.SWCLANotSupported
	}
	switch cmd.INS {
	case 0x20:
		o, err := a.ref(env, cmd.P2)
		if err != nil {
			return nil, err
		}
		switch {
		case cmd.P1 == 0xFF && len(cmd.Data) == 0:
			env.Security.Revoke(cmd.P2)
			return nil, nil
		case cmd.P1 != 0:
			return nil, apdu.SWIncorrectP1P2
		case len(cmd.Data) == 0:
			if env.Security.Has(cmd.P2) {
				return nil, nil
			}
			st, err := o.Status()
			if err != nil {
				return nil, err
			}
			if st.Blocked() {
				return nil, apdu.SWAuthMethodBlocked
			}
			return nil, apdu.RetriesSW(st.Tries)
		}
		env.Security.Revoke(cmd.P2)
		if err := o.Verify(cmd.Data); err != nil {
			return nil, pinStatus(err)
		}
		env.Security.Grant(cmd.P2)
		return nil, nil
	case 0x24:
		o, err := a.ref(env, cmd.P2)
		if err != nil {
			return nil, err
		}
		old, nw, err := split(cmd.Data)
		if err != nil {
			return nil, err
		}
		return nil, pinStatus(o.Change(old, nw, pin.Policy{MinLen: 6, MaxLen: 8}, env.Rand))
	case 0x2C:
		if cmd.P2 != refPIN {
			return nil, apdu.SWReferenceNotFound
		}
		puk, nw, err := split(cmd.Data)
		if err != nil {
			return nil, err
		}
		return nil, pinStatus(pin.Unblock(pin.New(env.Store, "t/puk"), pin.New(env.Store, "t/pin"), puk, nw, pin.Policy{MinLen: 6, MaxLen: 8}, env.Rand))
	case 0xDB:
		if !env.Security.Has(refPIN) {
			return nil, apdu.SWSecurityStatusNotSatisfied
		}
		tx, err := env.Store.Begin()
		if err != nil {
			return nil, err
		}
		defer tx.Abort()
		for i := range int(cmd.P1) {
			tx.Put(fmt.Sprintf("t/obj/%d", i), cmd.Data)
		}
		tx.Put("t/obj", cmd.Data)
		return nil, tx.Commit()
	case 0xCA:
		v, _ := env.Store.Get("t/obj")
		return v, nil
	case 0xCB:
		out := make([]byte, int(cmd.P1)<<8|int(cmd.P2))
		for i := range out {
			out[i] = byte(i)
		}
		return out, nil
	case 0x84:
		out := make([]byte, cmd.Ne)
		if _, err := io.ReadFull(env.Rand, out); err != nil {
			return nil, err
		}
		return out, nil
	}
	return nil, apdu.SWINSNotSupported
}
