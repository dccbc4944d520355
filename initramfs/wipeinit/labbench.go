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
//	            resident (memset bandwidth), and print
//	            "ramwipe: lab: memset MiB MiB, N threads: fresh X MiB/s, resident Y MiB/s"
//	nohuge      fill without transparent huge pages
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
	if b.memsetMiB > 0 {
		size := b.memsetMiB << 20
		fresh, err := timeMemset(size, workers, false)
		if err != nil {
			logf("ramwipe: lab: memset: %v", err)
		}
		resident, err := timeMemset(size, workers, true)
		if err != nil {
			logf("ramwipe: lab: memset: %v", err)
		}
		mibs := func(d time.Duration) float64 { return float64(b.memsetMiB) / d.Seconds() }
		logf("ramwipe: lab: memset %d MiB, %d threads: fresh %.0f MiB/s, resident %.0f MiB/s", b.memsetMiB, workers, mibs(fresh), mibs(resident))
	}
	if b.noHuge {
		_ = os.WriteFile("/sys/kernel/mm/transparent_hugepage/enabled", []byte("never"), 0)
		logf("ramwipe: lab: no huge pages")
		return fill.StartExec(p.Pattern, false)
	}
	return start
}

// timeMemset maps size bytes, faults them in first if resident, and times
// clear() of them split over threads goroutines.
func timeMemset(size, threads int, resident bool) (time.Duration, error) {
	m, err := unix.Mmap(-1, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return 0, err
	}
	defer unix.Munmap(m)
	if resident {
		if err := unix.Madvise(m, unix.MADV_POPULATE_WRITE); err != nil {
			return 0, err
		}
	}
	part := size / threads
	var wg sync.WaitGroup
	t := time.Now()
	for i := range threads {
		wg.Go(func() {
			clear(m[i*part : (i+1)*part])
		})
	}
	wg.Wait()
	return time.Since(t), nil
}
