//go:build lab

package main

import (
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ramwipe/ramwipe/initramfs"
	"github.com/ramwipe/ramwipe/wipe/fill"
)

// labBench is what the lab's benchmark asks of the lab build, with
// ramwipe.lab= a comma-separated list of:
//
//	memset=MiB  before the fill, time clear() of MiB of memory split over
//	            as many threads as fill workers, once freshly mapped (page
//	            faults and zeroing, as the fill meets memory) and once
//	            resident, four passes (memset bandwidth), and print
//	            "ramwipe: lab: memset MiB MiB, N threads: fresh X MiB/s, resident Y MiB/s"
//	nohuge      no transparent huge pages, for the memset and the fill
type labBench struct {
	memsetMiB int
	noHuge    bool
}

func parseLabBench(s string) (labBench, bool) {
	var b labBench
	for _, f := range strings.Split(s, ",") {
		k, v, _ := strings.Cut(f, "=")
		switch k {
		case "memset":
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 {
				return b, false
			}
			b.memsetMiB = n
		case "nohuge":
			b.noHuge = true
		default:
			return b, false
		}
	}
	return b, true
}

func (b labBench) run(p initramfs.Params, start fill.StartFunc, workers int, logf func(string, ...any)) fill.StartFunc {
	if b.noHuge {
		// Before the memset, so that it meets memory as the fill will.
		_ = os.WriteFile("/sys/kernel/mm/transparent_hugepage/enabled", []byte("never"), 0)
		logf("ramwipe: lab: no huge pages")
		start = fill.StartExec(p.Pattern, false)
	}
	if b.memsetMiB > 0 {
		size := b.memsetMiB << 20
		fresh, err := timeMemset(size, workers, 0)
		if err != nil {
			logf("ramwipe: lab: memset: %v", err)
		}
		resident, err := timeMemset(size, workers, residentPasses)
		if err != nil {
			logf("ramwipe: lab: memset: %v", err)
		}
		mibs := func(d time.Duration, passes int) float64 { return float64(b.memsetMiB*passes) / d.Seconds() }
		logf("ramwipe: lab: memset %d MiB, %d threads: fresh %.0f MiB/s, resident %.0f MiB/s", b.memsetMiB, workers, mibs(fresh, 1), mibs(resident, residentPasses))
	}
	return start
}

// residentPasses is how often the resident memset clears its memory: one
// pass is over too soon to time well.
const residentPasses = 4

// timeMemset maps size bytes and times clear() of them split over threads
// goroutines: once if passes is 0, else passes times after faulting them
// in (resident).
func timeMemset(size, threads, passes int) (time.Duration, error) {
	m, err := unix.Mmap(-1, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return 0, err
	}
	defer unix.Munmap(m)
	if passes > 0 {
		if err := unix.Madvise(m, unix.MADV_POPULATE_WRITE); err != nil {
			return 0, err
		}
	}
	part := size / threads
	var wg sync.WaitGroup
	t := time.Now()
	for i := range threads {
		wg.Go(func() {
			for range max(passes, 1) {
				clear(m[i*part : (i+1)*part])
			}
		})
	}
	wg.Wait()
	return time.Since(t), nil
}
