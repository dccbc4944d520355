package bootmedium

import (
	"time"

	"golang.org/x/sys/unix"
)

// Suspended is CLOCK_BOOTTIME − CLOCK_MONOTONIC: both count from boot, and
// only the first goes on while the machine is suspended. MONOTONIC is read
// first, so the difference errs by microseconds upwards, never below 0.
func (systemClock) Suspended() time.Duration {
	var boot, mono unix.Timespec
	if unix.ClockGettime(unix.CLOCK_MONOTONIC, &mono) != nil || unix.ClockGettime(unix.CLOCK_BOOTTIME, &boot) != nil {
		return 0
	}
	return max(time.Duration(boot.Nano()-mono.Nano()), 0)
}
