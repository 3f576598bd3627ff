//go:build cgo

package ifd

/*
#include <stdlib.h>
#include <ifdhandler.h>
#include <reader.h>
*/
import "C"

import "unsafe"

// The driver's results and actions (ifdhandler.h).
const (
	ifdSuccess           = int(C.IFD_SUCCESS)
	ifdCommError         = int(C.IFD_COMMUNICATION_ERROR)
	ifdNotSupported      = int(C.IFD_NOT_SUPPORTED)
	ifdErrorNotSupported = int(C.IFD_ERROR_NOT_SUPPORTED)
	ifdPresent           = int(C.IFD_ICC_PRESENT)
	ifdNotPresent        = int(C.IFD_ICC_NOT_PRESENT)
	ifdPowerAction       = int(C.IFD_ERROR_POWER_ACTION)
	ifdInsufficient      = int(C.IFD_ERROR_INSUFFICIENT_BUFFER)
	ifdNoSuchDevice      = int(C.IFD_NO_SUCH_DEVICE)
	ifdErrorTag          = int(C.IFD_ERROR_TAG)

	powerUp   = int(C.IFD_POWER_UP)
	powerDown = int(C.IFD_POWER_DOWN)
	reset     = int(C.IFD_RESET)

	tagATR          = int(C.TAG_IFD_ATR)
	tagSlots        = int(C.TAG_IFD_SLOTS_NUMBER)
	tagSimultaneous = int(C.TAG_IFD_SIMULTANEOUS_ACCESS)
	tagThreadSafe   = int(C.TAG_IFD_THREAD_SAFE)

	getFeatureRequest = int(C.CM_IOCTL_GET_FEATURE_REQUEST)
)

// driver calls the IFDH* functions of ifdhandler.c for one Lun, as pcscd
// does.
type driver struct{ lun C.DWORD }

func createChannelByName(lun int, device string) (driver, int) {
	cs := C.CString(device)
	defer C.free(unsafe.Pointer(cs))
	d := driver{C.DWORD(lun)}
	return d, int(C.IFDHCreateChannelByName(d.lun, cs))
}

func createChannel(lun, channel int) int {
	return int(C.IFDHCreateChannel(C.DWORD(lun), C.DWORD(channel)))
}

func (d driver) close() int { return int(C.IFDHCloseChannel(d.lun)) }

func (d driver) presence() int { return int(C.IFDHICCPresence(d.lun)) }

func (d driver) power(action int) ([]byte, int) {
	var atr [C.MAX_ATR_SIZE]C.UCHAR
	n := C.DWORD(len(atr))
	rc := C.IFDHPowerICC(d.lun, C.DWORD(action), &atr[0], &n)
	return C.GoBytes(unsafe.Pointer(&atr[0]), C.int(n)), int(rc)
}

func (d driver) transmit(cmd []byte, rxCap int) ([]byte, int) {
	rx := make([]byte, rxCap+1)
	n := C.DWORD(rxCap)
	var send, recv C.SCARD_IO_HEADER
	send.Protocol = 2 // T=1
	rc := C.IFDHTransmitToICC(d.lun, send, (*C.UCHAR)(unsafe.Pointer(&cmd[0])), C.DWORD(len(cmd)),
		(*C.UCHAR)(unsafe.Pointer(&rx[0])), &n, &recv)
	return rx[:n], int(rc)
}

func (d driver) capability(tag int) ([]byte, int) {
	var v [64]C.UCHAR
	n := C.DWORD(len(v))
	rc := C.IFDHGetCapabilities(d.lun, C.DWORD(tag), &n, &v[0])
	if rc != C.IFD_SUCCESS {
		return nil, int(rc)
	}
	return C.GoBytes(unsafe.Pointer(&v[0]), C.int(n)), int(rc)
}

func (d driver) control(code int) int {
	var out C.DWORD = 7
	var rx [4]C.UCHAR
	return int(C.IFDHControl(d.lun, C.DWORD(code), nil, 0, &rx[0], C.DWORD(len(rx)), &out))
}

func (d driver) setProtocol(protocol int) int {
	return int(C.IFDHSetProtocolParameters(d.lun, C.DWORD(protocol), 0, 0, 0, 0))
}
