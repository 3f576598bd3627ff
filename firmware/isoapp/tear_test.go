package isoapp

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/hex"
	"fmt"
	"math/big"
	"slices"
	"testing"
	"testing/cryptotest"

	"github.com/tesseracard/tessera/apdu"
	"github.com/tesseracard/tessera/firmware/nvm"
	"github.com/tesseracard/tessera/internal/cardtest"
)

// isoTearCase is one command of the application that writes persistent
// memory, with the exchanges that prepare the card for it.
type isoTearCase struct {
	name    string
	setup   func(tc *testCard)
	cmd     string
	counter string // the PIN record whose tries the command spends, if any
	right   bool   // the value presented is the right one
}

// Preparations.
func fresh(tc *testCard) { tc.must(cmdSelectApp, apdu.SWSuccess) }
func withPUK(tc *testCard) {
	fresh(tc)
	tc.must(cmdSetPUK, apdu.SWSuccess)
}
func operational(tc *testCard) {
	withPUK(tc)
	tc.must(cmdSetPIN, apdu.SWSuccess)
}
func loggedIn(tc *testCard) {
	operational(tc)
	tc.must(cmdVerifyPIN, apdu.SWSuccess)
}
func blocked(tc *testCard) {
	operational(tc)
	for range 3 {
		tc.send(cmdWrongPIN)
	}
}
func withDF(tc *testCard) {
	loggedIn(tc)
	tc.must(cmdCreateDF, apdu.SWSuccess)
	tc.must(cmdCreateEF, apdu.SWSuccess)
}
func keygenEnv(alg string) func(tc *testCard) {
	return func(tc *testCard) {
		loggedIn(tc)
		tc.must("00 22 41 00 06 80 01 "+alg+" 84 01 02", apdu.SWSuccess)
	}
}

const (
	cmdWrongPIN = "00 20 00 01 10 30303030303000000000000000000000"
	// DF 5015 (rules: create EF/DF always, delete PIN) and in it EF 4401
	// of 64 bytes (read always, update and delete PIN).
	cmdCreateDF = "00 E0 00 00 17 6F 15 81 02 13 88 82 01 38 83 02 50 15 86 08 FF 90 00 00 00 00 00 00"
	cmdCreateEF = "00 E0 00 00 17 6F 15 81 02 00 40 82 01 01 83 02 44 01 86 08 FF 90 90 90 90 90 90 00"
)

// ecGenP256 is GENERATE with the explicit P-256 parameters, as OpenSC sends
// it.
var ecGenP256 = "00 46 00 00 CF" + p256Params + "00"

const p256Params = "8120ffffffff00000001000000000000000000000000ffffffffffffffffffffffff" +
	"8220ffffffff00000001000000000000000000000000fffffffffffffffffffffffc" +
	"83205ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604b" +
	"8441046b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c2964fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5" +
	"8520ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551" +
	"87020001"

var isoTearCases = []isoTearCase{
	{"set PUK", fresh, cmdSetPUK, "", true},
	{"set PIN", withPUK, cmdSetPIN, "", true},
	{"verify right", operational, cmdVerifyPIN, keyPIN, true},
	{"verify wrong", operational, cmdWrongPIN, keyPIN, false},
	{"change PIN right", operational, "00 24 00 01 20 31323334353600000000000000000000 36353433323100000000000000000000", keyPIN, true},
	{"change PIN wrong", operational, "00 24 00 01 20 30303030303000000000000000000000 36353433323100000000000000000000", keyPIN, false},
	{"unblock right", blocked, "00 2C 00 01 20 30313233343536373839616263646566 31323334353600000000000000000000", keyPUK, true},
	{"unblock wrong", blocked, "00 2C 00 01 20 30303030303030303030303030303030 31323334353600000000000000000000", keyPUK, false},
	{"create DF", loggedIn, cmdCreateDF, "", true},
	{"create EF", func(tc *testCard) { loggedIn(tc); tc.must(cmdCreateDF, apdu.SWSuccess) }, cmdCreateEF, "", true},
	{"update binary", withDF, "00 D6 00 10 04 01020304", "", true},
	{"delete EF", withDF, "00 E4 00 00 02 4401", "", true},
	{"delete DF with its EF", withDF, "00 E4 00 00 02 5015", "", true},
	{"generate EC", keygenEnv("EC"), ecGenP256, "", true},
	{"generate RSA", keygenEnv("F3"), "00 46 42 00 00", "", true},
	{"import EC", keygenEnv("EC"), "00 DB 3F FF F4 E0 81 F1" + p256Params + "8820" + fmt.Sprintf("%064x", 12345), "", true},
}

// isoRecords returns every record of the application except the PIN and
// PUK, whose counters change in steps of their own.
func isoRecords(s *nvm.Store) string { return cardtest.Records(s, keyPIN, keyPUK) }

// TestISOTearEveryWrite cuts the power after each write of every command
// that changes persistent state, in turn: the card must power on from what
// the medium holds, gain no PIN or PUK try, hold either the old or the new
// state, and answer.
func TestISOTearEveryWrite(t *testing.T) {
	points := 0
	cases := append(slices.Clone(isoTearCases), rsaImportTearCase(t))
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			points += cardtest.Tear{
				Prepare: func() cardtest.Card {
					cryptotest.SetGlobalRandom(t, 1) // the same RSA key every run
					c := newTestCard(t)
					tc.setup(c)
					return cardtest.Card{Card: c.c, Tear: c.tm}
				},
				Cmd: h(tc.cmd), Counter: tc.counter, Right: tc.right, Skip: []string{keyPIN, keyPUK},
				Alive: func(c cardtest.Card) {
					tc := &testCard{t: t, c: c.Card, tm: c.Tear}
					tc.must(cmdSelectApp, apdu.SWSuccess)
					if _, sw := tc.send("00 20 00 01"); sw != apdu.SWSuccess && sw != apdu.SWAuthMethodBlocked && !sw.Is(apdu.SWVerificationFailed) {
						t.Errorf("PIN status answered %04X", uint16(sw))
					}
				},
			}.EveryWrite(t)
		})
	}
	fmt.Printf("tear test: iso: exercised %d tear points over %d commands\n", points, len(cases))
}

// rsaImportTearCase is PUT DATA of an RSA-2048 key: too long for one short
// command, so the setup sends the first part of the chain and the torn
// command is the last part, which writes the key.
func rsaImportTearCase(t *testing.T) isoTearCase {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	key.Precompute()
	var parts [][]byte
	for i, v := range []*big.Int{key.Primes[0], key.Primes[1], key.Precomputed.Qinv, key.Precomputed.Dp, key.Precomputed.Dq} {
		parts = append(parts, apdu.AppendTLV(nil, apdu.Tag(0x92+i), v.Bytes()))
	}
	chain, err := apdu.SplitChain(apdu.Command{INS: 0xDB, P1: 0x3F, P2: 0xFF, Data: apdu.Nest(0x7F48, parts...)}, 255)
	if err != nil {
		t.Fatal(err)
	}
	var raws []string
	for _, c := range chain {
		raw, err := c.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		raws = append(raws, hex.EncodeToString(raw))
	}
	return isoTearCase{name: "import RSA (chained)", setup: func(tc *testCard) {
		keygenEnv("F3")(tc)
		for _, r := range raws[:len(raws)-1] {
			tc.must(r, apdu.SWSuccess)
		}
	}, cmd: raws[len(raws)-1], right: true}
}
