//go:build !linux

package control

import "time"

// MonotonicNow is 0 (not given) where ramwiped does not run.
func MonotonicNow() time.Duration { return 0 }
