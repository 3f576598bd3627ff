//go:build !cgo && !windows

package pcsc

import (
	"context"
	"runtime"
)

// Context is a connection to the PC/SC stack. In this build (no cgo) there
// is none: Establish always fails.
type Context struct{}

// Establish returns an error wrapping errors.ErrUnsupported: this build has
// no PC/SC (see the package documentation).
func Establish() (*Context, error) { return nil, errNoCgo(runtime.GOOS) }

// The methods below exist so that callers compile; no Context or Card can
// be had in this build, so they only say why.

// Release does nothing.
func (c *Context) Release() error { return nil }

// Readers returns Establish's error.
func (c *Context) Readers() ([]string, error) { return nil, errNoCgo(runtime.GOOS) }

// WaitForCard returns Establish's error.
func (c *Context) WaitForCard(context.Context, string) error { return errNoCgo(runtime.GOOS) }

// WaitForRemoval returns Establish's error.
func (c *Context) WaitForRemoval(context.Context, string) error { return errNoCgo(runtime.GOOS) }

// Connect returns Establish's error.
func (c *Context) Connect(string, Mode) (*Card, error) { return nil, errNoCgo(runtime.GOOS) }

// ResetCard returns Establish's error.
func (c *Context) ResetCard(string) error { return errNoCgo(runtime.GOOS) }

// Card is a connection to the card in one reader; none can be had in this
// build.
type Card struct{}

// Reader returns "".
func (k *Card) Reader() string { return "" }

// Protocol returns 1.
func (k *Card) Protocol() int { return 1 }

// ATR returns Establish's error.
func (k *Card) ATR() ([]byte, error) { return nil, errNoCgo(runtime.GOOS) }

// Transmit returns Establish's error.
func (k *Card) Transmit(context.Context, []byte) ([]byte, error) { return nil, errNoCgo(runtime.GOOS) }

// Reset returns Establish's error.
func (k *Card) Reset(context.Context) error { return errNoCgo(runtime.GOOS) }

// BeginTransaction returns Establish's error.
func (k *Card) BeginTransaction(context.Context) error { return errNoCgo(runtime.GOOS) }

// EndTransaction returns Establish's error.
func (k *Card) EndTransaction() error { return errNoCgo(runtime.GOOS) }

// Close does nothing.
func (k *Card) Close() error { return nil }
