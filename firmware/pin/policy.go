package pin

import (
	"errors"
	"fmt"
	"strings"
)

// ErrPolicy is wrapped by every error about a new value that breaks the
// policy. The card answers 6A80 and spends no try.
var ErrPolicy = errors.New("pin: value breaks the policy")

// Character sets for Policy.Allowed.
const (
	Digits       = "0123456789"
	Alphanumeric = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz" + Digits
)

// Policy is what a new PIN or PUK value must satisfy. The zero Policy allows
// any value of 1 to 255 bytes.
type Policy struct {
	MinLen, MaxLen int    // in bytes; 0 means 1 and 255
	Allowed        string // allowed bytes; empty allows any byte
	RequireUpper   bool   // at least one of A–Z
	RequireLower   bool   // at least one of a–z
	RequireDigit   bool   // at least one of 0–9
}

// PasswordPolicy returns the password rule of a field virtual token: 8–12
// characters, at least one upper-case letter, one lower-case letter and one
// digit, no special characters.
func PasswordPolicy() Policy {
	return Policy{MinLen: 8, MaxLen: 12, Allowed: Alphanumeric, RequireUpper: true, RequireLower: true, RequireDigit: true}
}

// Check returns nil if v satisfies p, or an error wrapping ErrPolicy that
// names the rule broken without echoing the value.
func (p Policy) Check(v []byte) error {
	minLen, maxLen := max(p.MinLen, 1), p.MaxLen
	if maxLen == 0 {
		maxLen = 255
	}
	if len(v) < minLen || len(v) > maxLen {
		return fmt.Errorf("%w: length %d outside %d..%d", ErrPolicy, len(v), minLen, maxLen)
	}
	var upper, lower, digit bool
	for i, c := range v {
		if p.Allowed != "" && strings.IndexByte(p.Allowed, c) < 0 {
			return fmt.Errorf("%w: character %d not allowed", ErrPolicy, i+1)
		}
		upper = upper || 'A' <= c && c <= 'Z'
		lower = lower || 'a' <= c && c <= 'z'
		digit = digit || '0' <= c && c <= '9'
	}
	switch {
	case p.RequireUpper && !upper:
		return fmt.Errorf("%w: needs an upper-case letter", ErrPolicy)
	case p.RequireLower && !lower:
		return fmt.Errorf("%w: needs a lower-case letter", ErrPolicy)
	case p.RequireDigit && !digit:
		return fmt.Errorf("%w: needs a digit", ErrPolicy)
	}
	return nil
}
