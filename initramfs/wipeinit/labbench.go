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
// With memset it also prints when, after the first worker started, the
// OOM killer ended a worker, when Run learned that memory was full and
// stopped the fill, and when it saw the first worker end, from the kernel
// log's clock:
//
//	"ramwipe: lab: fill timeline: OOM kill at X ms, full at Y ms"
//	"ramwipe: lab: fill timeline: first worker ended at Z ms" (if before the action)
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
		if kmsg, err := os.OpenFile("/dev/kmsg", os.O_RDWR, 0); err == nil {
			start = timeline(kmsg, start, logf)
		}
	}
	return start
}

// Marks the timeline writes into the kernel log, and what the OOM killer
// writes there (mm/oom_kill.c: "%s: Killed process %d (%s) …").
const (
	markStart = "ramwipe: lab: fill start"
	markFull  = "ramwipe: lab: fill full"
	markEnded = "ramwipe: lab: first worker ended"
	markOOM   = ": Killed process "
)

// timeline wraps start to mark the fill's start and the first worker's end
// in the kernel log, sets labOnFull to mark the moment the fill learned
// memory was full, and reads the log until the marks and an OOM kill are
// there, to print the times between them.
func timeline(kmsg *os.File, start fill.StartFunc, logf func(string, ...any)) fill.StartFunc {
	_, _ = kmsg.Seek(0, io.SeekEnd) // only records from now on
	go func() {
		at := map[string]int64{} // mark → kernel clock, µs
		buf := make([]byte, 8192)
		marks := []string{markStart, markFull, markEnded, markOOM}
		ms := func(m string) float64 { return float64(at[m]-at[markStart]) / 1000 }
		printed := false
		for !printed || at[markEnded] == 0 {
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
			for _, m := range marks {
				if _, seen := at[m]; !seen && strings.Contains(msg, m) {
					at[m] = ts
				}
			}
			// The worker's end gets a line of its own: the /init may power
			// off before its mark is read.
			if !printed && at[markStart] != 0 && at[markOOM] != 0 && at[markFull] != 0 {
				logf("ramwipe: lab: fill timeline: OOM kill at %.0f ms, full at %.0f ms", ms(markOOM), ms(markFull))
				printed = true
			}
		}
		logf("ramwipe: lab: fill timeline: first worker ended at %.0f ms", ms(markEnded))
	}()
	labOnFull = func() { fmt.Fprintf(kmsg, "<6>%s\n", markFull) }
	var once sync.Once
	return func(i int, w *os.File) (fill.Proc, error) {
		if i == 0 {
			fmt.Fprintf(kmsg, "<6>%s\n", markStart)
		}
		p, err := start(i, w)
		if err != nil {
			return nil, err
		}
		return endMark{p, func() { once.Do(func() { fmt.Fprintf(kmsg, "<6>%s\n", markEnded) }) }}, nil
	}
}

// endMark is a worker whose first end (of all workers) is marked.
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
