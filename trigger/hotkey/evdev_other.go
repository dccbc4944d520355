//go:build !linux

package hotkey

import (
	"errors"
	"fmt"
	"runtime"
)

func openEvdev(path string, _ Chord, _ func(string, ...any)) (device, error) {
	return nil, fmt.Errorf("open %s: evdev on %s: %w", path, runtime.GOOS, errors.ErrUnsupported)
}
