//go:build !linux

package suspend

import (
	"errors"
	"time"
)

// SystemClock is the machine's clocks; only Linux has CLOCK_BOOTTIME.
type SystemClock struct{}

func (SystemClock) Boottime() time.Duration  { return 0 }
func (SystemClock) Suspended() time.Duration { return 0 }
func (SystemClock) Now() time.Time           { return time.Now().Round(0) }
func (SystemClock) AtBoottime(time.Duration, func()) (func(), error) {
	return nil, errors.New("CLOCK_BOOTTIME timers need Linux")
}
