//go:build lab

package main

import (
	"fmt"
	"io"
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
//
// With memset it also prints when, after the fill started, the OOM killer
// ended a process of the fill and when the fill saw the first one end, from
// the kernel log's clock:
//
//	"ramwipe: lab: fill timeline: OOM kill at X ms, fill saw it at Y ms"
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

func (b labBench) run(p initramfs.Params, o *fill.Options) {
	if b.noHuge {
		// Before the memset, so that it meets memory as the fill will.
		_ = os.WriteFile("/sys/kernel/mm/transparent_hugepage/enabled", []byte("never"), 0)
		o.Logf("ramwipe: lab: no huge pages")
		o.Start = fill.StartExec(p.Pattern, false)
	}
	if b.memsetMiB == 0 {
		return
	}
	size := b.memsetMiB << 20
	fresh, err := timeMemset(size, o.Workers, 0)
	if err != nil {
		o.Logf("ramwipe: lab: memset: %v", err)
	}
	resident, err := timeMemset(size, o.Workers, residentPasses)
	if err != nil {
		o.Logf("ramwipe: lab: memset: %v", err)
	}
	mibs := func(d time.Duration, passes int) float64 { return float64(b.memsetMiB*passes) / d.Seconds() }
	o.Logf("ramwipe: lab: memset %d MiB, %d threads: fresh %.0f MiB/s, resident %.0f MiB/s", b.memsetMiB, o.Workers, mibs(fresh, 1), mibs(resident, residentPasses))
	if kmsg, err := os.OpenFile("/dev/kmsg", os.O_RDWR, 0); err == nil {
		timeline(kmsg, o)
	}
}

// Marks the timeline writes into the kernel log, and what the OOM killer
// writes there (mm/oom_kill.c: "%s: Killed process %d (%s) …").
const (
	markStart = "ramwipe: lab: fill start"
	markEnded = "ramwipe: lab: fill saw a process end"
	markOOM   = ": Killed process "
)

// timeline wraps the fill's workers and sentinel to mark the fill's start
// and the first end of any of them (when the fill learns that memory is
// full) in the kernel log, and reads the log until both marks and an OOM
// kill are there, to print the times between them.
func timeline(kmsg *os.File, o *fill.Options) {
	_, _ = kmsg.Seek(0, io.SeekEnd) // only records from now on
	logf := o.Logf
	go func() {
		at := map[string]int64{} // mark → kernel clock, µs
		buf := make([]byte, 8192)
		for len(at) < 3 {
			n, err := kmsg.Read(buf)
			if err != nil {
				return
			}
			// "PRI,SEQ,TS_USEC,FLAGS;MESSAGE\n"
			head, msg, _ := strings.Cut(string(buf[:n]), ";")
			f := strings.Split(head, ",")
			if len(f) < 3 {
				continue
			}
			ts, _ := strconv.ParseInt(f[2], 10, 64)
			for _, m := range []string{markStart, markEnded, markOOM} {
				if _, seen := at[m]; !seen && strings.Contains(msg, m) {
					at[m] = ts
				}
			}
		}
		logf("ramwipe: lab: fill timeline: OOM kill at %.0f ms, fill saw it at %.0f ms",
			float64(at[markOOM]-at[markStart])/1000, float64(at[markEnded]-at[markStart])/1000)
	}()
	var once sync.Once
	mark := func() { once.Do(func() { fmt.Fprintf(kmsg, "<6>%s\n", markEnded) }) }
	wrap := func(p fill.Proc, err error) (fill.Proc, error) {
		if err != nil {
			return nil, err
		}
		return endMark{p, mark}, nil
	}
	start, sentinel := o.Start, o.Sentinel
	o.Start = func(i int, w *os.File) (fill.Proc, error) {
		if i == 0 && sentinel == nil {
			fmt.Fprintf(kmsg, "<6>%s\n", markStart)
		}
		return wrap(start(i, w))
	}
	if sentinel != nil {
		o.Sentinel = func() (fill.Proc, error) {
			fmt.Fprintf(kmsg, "<6>%s\n", markStart) // Run starts it first
			return wrap(sentinel())
		}
	}
}

// endMark is a process of the fill whose end is marked, if it is the first.
type endMark struct {
	fill.Proc
	mark func()
}

func (e endMark) Wait() error {
	err := e.Proc.Wait()
	e.mark()
	return err
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
