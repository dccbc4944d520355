//go:build !linux

package uevent

import (
	"errors"
	"fmt"
	"runtime"
)

// Listener receives kernel uevents; only Linux has them.
type Listener struct{}

// Listen returns an error: uevents exist only on Linux.
func Listen(Config) (*Listener, error) {
	return nil, fmt.Errorf("uevent: listen on %s: %w", runtime.GOOS, errors.ErrUnsupported)
}

// Receive returns an error: uevents exist only on Linux.
func (*Listener) Receive() (Event, error) {
	return Event{}, fmt.Errorf("uevent: receive on %s: %w", runtime.GOOS, errors.ErrUnsupported)
}

// Close does nothing.
func (*Listener) Close() error { return nil }
