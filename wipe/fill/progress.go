package fill

import (
	"fmt"
	"strings"
	"time"
)

const mib = 1 << 20

// Rate is the fill speed in bytes per second so far.
func (p Progress) Rate() float64 {
	if p.Elapsed <= 0 {
		return 0
	}
	return float64(p.Done) / p.Elapsed.Seconds()
}

// Line renders p for a console, with a bar of width cells:
//
//	[##########..........]  50%   256/512 MiB   85 MiB/s  ETA 3s
//
// The percentage is capped at 100: Total is an estimate made before the
// fill, and the kernel may hand out a little more.
func (p Progress) Line(width int) string {
	frac := 0.0
	if p.Total > 0 {
		frac = min(float64(p.Done)/float64(p.Total), 1)
	}
	n := int(frac * float64(width))
	bar := strings.Repeat("#", n) + strings.Repeat(".", width-n)
	eta := "ETA  --"
	if rate := p.Rate(); rate > 0 && p.Total > p.Done {
		eta = "ETA " + time.Duration(float64(p.Total-p.Done)/rate*float64(time.Second)).Round(time.Second).String()
	} else if p.Total > 0 && p.Done >= p.Total {
		eta = "ETA 0s"
	}
	return fmt.Sprintf("[%s] %3.0f%% %6d/%d MiB %5.0f MiB/s  %s",
		bar, frac*100, p.Done/mib, p.Total/mib, p.Rate()/mib, eta)
}

// Summary is the one line a wipe ends with.
func (r Result) Summary(total uint64) string {
	state := "memory full"
	switch {
	case r.TimedOut:
		state = "STOPPED AT DEADLINE"
	case !r.Full:
		state = "INCOMPLETE"
	}
	rate := 0.0
	if r.Elapsed > 0 {
		rate = float64(r.Bytes) / r.Elapsed.Seconds() / mib
	}
	return fmt.Sprintf("ramwipe: overwrote %d MiB of %d MiB free in %v (%.0f MiB/s): %s",
		r.Bytes/mib, total/mib, r.Elapsed.Round(time.Millisecond), rate, state)
}
