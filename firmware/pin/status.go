package pin

import (
	"errors"

	"github.com/tesseracard/tessera/apdu"
)

// AuthError maps this package's errors to the status words a card answers
// (ISO/IEC 7816-4 §5.6): a *WrongError to 63Cx (an *apdu.AuthError with
// the tries left), ErrBlocked to 6983, ErrNotSet to 6984 (reference data
// not usable), ErrPolicy to 6A80; any other error, such as a power cut,
// unchanged. (PIV answers the blocking try its profile's way and maps its
// own.)
func AuthError(err error) error {
	var we *WrongError
	switch {
	case errors.As(err, &we):
		return &apdu.AuthError{Retries: we.Retries, SW: apdu.RetriesSW(we.Retries)}
	case errors.Is(err, ErrBlocked):
		return &apdu.AuthError{Blocked: true, SW: apdu.SWAuthMethodBlocked}
	case errors.Is(err, ErrNotSet):
		return apdu.SWReferenceDataUnusable
	case errors.Is(err, ErrPolicy):
		return apdu.SWIncorrectData
	}
	return err
}
