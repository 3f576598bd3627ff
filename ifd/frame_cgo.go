//go:build cgo

package ifd

/*
#cgo pkg-config: libpcsclite
#include "frame.h"
*/
import "C"

import "unsafe"

// Decode runs the driver's decoder (frame.c's tif_decode) on the answer to
// request req at the start of b. It returns the frame's type, payload
// (aliasing b) and size in b, or rc, a negative TIF_ result.
func Decode(req byte, b []byte) (typ byte, payload []byte, n int, rc int) {
	var p *C.uint8_t
	if len(b) > 0 {
		p = (*C.uint8_t)(unsafe.Pointer(&b[0]))
	}
	var t C.uint8_t
	var pay *C.uint8_t
	var plen C.uint32_t
	r := C.tif_decode(C.uint8_t(req), p, C.size_t(len(b)), &t, &pay, &plen)
	if r < 0 {
		return 0, nil, 0, int(r)
	}
	off := uintptr(unsafe.Pointer(pay)) - uintptr(unsafe.Pointer(&b[0]))
	return byte(t), b[off : off+uintptr(plen)], int(r), 0
}

// PutHeader is frame.c's tif_put_header.
func PutHeader(typ byte, paylen int) []byte {
	hdr := make([]byte, C.TIF_HEADER)
	C.tif_put_header((*C.uint8_t)(unsafe.Pointer(&hdr[0])), C.uint8_t(typ), C.uint32_t(paylen))
	return hdr
}

// The decoder's results.
const (
	rcShort      = int(C.TIF_SHORT)
	rcBadLength  = int(C.TIF_BAD_LENGTH)
	rcBadType    = int(C.TIF_BAD_TYPE)
	rcBadPayload = int(C.TIF_BAD_PAYLOAD)
	maxPayload   = int(C.TIF_MAX_PAYLOAD)
	maxATR       = int(C.TIF_MAX_ATR)
)
