package simulator

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// ControlTokenFile is the name of the control API's token file in a
// simulator's state directory.
const ControlTokenFile = "control.token"

// controlTokenBytes is the size of a control token before hex encoding.
const controlTokenBytes = 32

// ErrBadControlToken is returned by [ReadControlToken] and
// [CheckControlToken] for a token that is not 64 hex digits, the form
// [NewControlToken] makes.
var ErrBadControlToken = errors.New("not a tessera control token (want 64 hex digits)")

// NewControlToken returns a new random bearer token for the control API over
// TCP: 32 bytes from crypto/rand, in hex.
func NewControlToken() (string, error) {
	b := make([]byte, controlTokenBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("making a control token: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// CheckControlToken returns [ErrBadControlToken] unless token has the form
// of a control token.
func CheckControlToken(token string) error {
	if len(token) != 2*controlTokenBytes {
		return ErrBadControlToken
	}
	if _, err := hex.DecodeString(token); err != nil {
		return ErrBadControlToken
	}
	return nil
}

// WriteControlToken writes token to the file at path, readable and writable
// by its owner only (mode 0600 on unix), replacing any older token file in
// one rename, so that a reader sees the old token or the new one, never a
// part, and the file is never readable by others, even briefly.
func WriteControlToken(path, token string) error {
	if err := CheckControlToken(token); err != nil {
		return fmt.Errorf("writing control token: %w", err)
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*") // mode 0600
	if err != nil {
		return fmt.Errorf("writing control token: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // after a successful rename: nothing there, an ignored error
	_, err = io.WriteString(f, token+"\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp, 0o600)
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		return fmt.Errorf("writing control token: %w", err)
	}
	return nil
}

// maxControlTokenFile bounds what ReadControlToken reads.
const maxControlTokenFile = 1 << 10

// ReadControlToken reads the token [WriteControlToken] wrote at path. The
// error wraps the file system's (errors.Is(err, fs.ErrNotExist) when there
// is no file) or is [ErrBadControlToken].
func ReadControlToken(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("reading control token: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxControlTokenFile))
	if err != nil {
		return "", fmt.Errorf("reading control token %s: %w", path, err)
	}
	token := strings.TrimSpace(string(b))
	if err := CheckControlToken(token); err != nil {
		return "", fmt.Errorf("control token file %s: %w", path, err)
	}
	return token, nil
}
