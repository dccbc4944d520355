//go:build !linux

package bootmedium

import "time"

// Suspended is unknown here: no resume is ever detected.
func (systemClock) Suspended() time.Duration { return 0 }
