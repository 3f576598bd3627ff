package apdu_test

import (
	"errors"
	"fmt"

	"github.com/tesseracard/tessera/apdu"
)

func ExampleParseCommand() {
	// GET DATA for the CHUID, as OpenSC sends it (case 4S).
	raw := []byte{0x00, 0xCB, 0x3F, 0xFF, 0x05, 0x5C, 0x03, 0x5F, 0xC1, 0x02, 0x00}
	c, err := apdu.ParseCommand(raw)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("INS %02X, data % X, Ne %d\n", c.INS, c.Data, c.Ne)

	id, found, err := apdu.FindTLV(c.Data, 0x5C)
	fmt.Printf("object % X %v %v\n", id, found, err)

	// An Lc larger than the data that follows is rejected.
	_, err = apdu.ParseCommand([]byte{0x00, 0xA4, 0x04, 0x00, 0x05, 0xA0, 0x00})
	fmt.Println(err, errors.Is(err, apdu.ErrMalformed))
	// Output:
	// INS CB, data 5C 03 5F C1 02, Ne 256
	// object 5F C1 02 true <nil>
	// apdu: malformed command at byte 7: Lc exceeds the remaining bytes true
}

func ExampleCommand_Marshal() {
	c := apdu.Command{INS: 0xA4, P1: 0x04, Data: []byte{0xA0, 0x00, 0x00, 0x03, 0x08}}
	b, _ := c.Marshal()
	fmt.Printf("% X\n", b)

	c.Ne = 65536 // more than a short Le can express
	fmt.Println(c)
	// Output:
	// 00 A4 04 00 05 A0 00 00 03 08
	// 00 A4 04 00 00 00 05 A0 00 00 03 08 00 00
}

func ExampleStatusWord_Err() {
	// A VERIFY answered with 63C2: wrong PIN, two tries left.
	resp, _ := apdu.ParseResponse([]byte{0x63, 0xC2})
	err := fmt.Errorf("verifying PIN: %w", resp.SW.Err())

	fmt.Println(err)
	var ae *apdu.AuthError
	if errors.As(err, &ae) {
		fmt.Println("retries:", ae.Retries, "blocked:", ae.Blocked)
	}
	fmt.Println(errors.Is(err, apdu.SWVerificationFailed))

	// Status words without a retry counter are errors themselves.
	err = apdu.SWFileNotFound.Err()
	fmt.Println(err, errors.Is(err, apdu.SWFileNotFound))
	fmt.Println(apdu.SWSuccess.Err())
	// Output:
	// verifying PIN: apdu: 63C2 verification failed (2 retries left)
	// retries: 2 blocked: false
	// true
	// apdu: 6A82 file or application not found true
	// <nil>
}

func ExampleNest() {
	// GENERAL AUTHENTICATE request for a signature: 7C{82 00, 81 L data}.
	digest := make([]byte, 32)
	template := apdu.Nest(0x7C,
		apdu.AppendTLV(nil, 0x82, nil),
		apdu.AppendTLV(nil, 0x81, digest),
	)
	fmt.Printf("% X...\n", template[:6])

	// The response 7C{82 L signature} is read back with FindTLV.
	resp := apdu.Nest(0x7C, apdu.AppendTLV(nil, 0x82, []byte{0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x02}))
	inner, _, _ := apdu.FindTLV(resp, 0x7C)
	sig, _, _ := apdu.FindTLV(inner, 0x82)
	fmt.Printf("% X\n", sig)
	// Output:
	// 7C 24 82 00 81 20...
	// 30 06 02 01 01 02 01 02
}

func ExampleAppendTLV() {
	// A certificate object of 300 bytes gets a minimal 82 length.
	cert := make([]byte, 300)
	obj := apdu.AppendTLV(nil, 0x53, apdu.AppendTLV(nil, 0x70, cert))
	fmt.Printf("% X\n", obj[:8])

	// Multi-byte tags are written as their bytes.
	fmt.Printf("% X\n", apdu.AppendTLV(nil, 0x5FC105, nil))
	// Output:
	// 53 82 01 30 70 82 01 2C
	// 5F C1 05 00
}
