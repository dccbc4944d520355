//go:build !linux

package bootmedium

import (
	"context"
	"errors"
)

// WatchResume is Linux-only.
func WatchResume(ctx context.Context, resumed func()) error {
	return errors.New("resume notifications need Linux")
}
