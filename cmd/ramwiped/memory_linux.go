package main

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// lockMemory locks ramwiped in RAM for the panic path: after a dm-crypt
// device is suspended any disk I/O may block forever, so every page the
// panic path touches must be resident. MCL_CURRENT|MCL_FUTURE, not
// MCL_ONFAULT: every page resident now, and every mapping made later.
//
// MCL_CURRENT also makes resident what the Go runtime only reserved in
// writable memory and counts on demand paging for: its heap index, 32 MiB
// of which a daemon with a small heap writes one page. releaseHeapIndex
// gives those pages back (and locks them again on fault); if it cannot,
// they stay locked, which costs memory, not safety.
func lockMemory(logf func(string, ...any)) error {
	if err := unix.Mlockall(unix.MCL_CURRENT | unix.MCL_FUTURE); err != nil {
		return fmt.Errorf("mlockall(MCL_CURRENT|MCL_FUTURE): %w", err)
	}
	n, err := releaseHeapIndex()
	if logf == nil {
		return nil
	}
	if err != nil {
		logf("memory locked; the Go runtime's unused heap index stays resident: %v", err)
		return nil
	}
	logf("memory locked; %.1f MiB of the Go runtime's heap index that no arena uses given back (locked again on fault)", float64(n)/(1<<20))
	return nil
}
