package fill

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// Proc is a started worker process.
type Proc interface {
	// Wait blocks until the worker ended. It returns nil when the worker
	// ran out of memory or was killed by the OOM killer (both mean memory
	// is full), and an error when it failed for another reason.
	Wait() error
	// Kill ends the worker at once.
	Kill()
}

// StartFunc starts worker number i, which reports progress on w (see
// [Worker.Progress]). The worker must hold its own copy of w: Run closes
// its copy once every worker started.
type StartFunc func(i int, w *os.File) (Proc, error)

// Options configure [Run].
type Options struct {
	// Workers is the number of worker processes; at least 1.
	Workers int
	// Start starts one worker; see [StartExec] for the real one.
	Start StartFunc
	// Total is the number of bytes expected to be free (MemAvailable), for
	// progress reports only.
	Total uint64
	// Progress, if set, is called from one goroutine at most every Every
	// and once at the end.
	Progress func(Progress)
	// Every is the interval between progress reports (default 250ms).
	Every time.Duration
	// Logf, if set, receives diagnostics.
	Logf func(string, ...any)
	// Now is the clock (default time.Now).
	Now func() time.Time
	// OnFull, if set, is called once when memory is full, before the
	// workers are killed and their memory is freed.
	OnFull func()
}

// drain is how long Run reads the progress of workers it killed.
const drain = 50 * time.Millisecond

// Progress is a snapshot of a running fill.
type Progress struct {
	Done, Total uint64
	Elapsed     time.Duration
	Final       bool
}

// Result is what a fill achieved.
type Result struct {
	// Bytes filled by all workers together.
	Bytes uint64
	// Elapsed is the time until memory was full or ctx ended (killed
	// workers end later), or until every worker ended.
	Elapsed time.Duration
	// Full is true when some worker ran out of memory: all memory the
	// kernel would hand out was filled.
	Full bool
	// TimedOut is true when ctx ended before memory was full.
	TimedOut bool
}

// Run starts the workers, waits until memory is full (the first worker to
// run out of memory), ctx ends, or every worker failed, then kills the rest
// and returns without waiting for them to end. The error joins every worker
// failure seen until then; a Result with Full set is a complete fill even
// when some workers failed.
//
// Memory counts as full only once a worker has ended, not when the kernel
// log reports the OOM killer's kill (it does, hundreds of milliseconds
// earlier under TCG): by the end the kernel has freed that worker's memory,
// and the /init needs some for what follows. Stopping at the report was
// tried twice (a sentinel process, then a /dev/kmsg reader): the /init then
// page-faulted while memory was still full and no process was left that the
// OOM killer may end, and the kernel panicked ("System is deadlocked on
// memory") part way through the wipe.
func Run(ctx context.Context, o Options) (Result, error) {
	if o.Workers < 1 {
		return Result{}, fmt.Errorf("fill: %d workers: want at least 1", o.Workers)
	}
	if o.Start == nil {
		return Result{}, errors.New("fill: no Start function")
	}
	now := o.Now
	if now == nil {
		now = time.Now
	}
	every := o.Every
	if every <= 0 {
		every = 250 * time.Millisecond
	}
	logf := o.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	start := now()

	r, w, err := os.Pipe()
	if err != nil {
		return Result{}, fmt.Errorf("fill: progress pipe: %w", err)
	}
	defer r.Close()

	var procs []Proc
	var ids []int // worker number of each started proc
	var errs []error
	for i := range o.Workers {
		p, err := o.Start(i, w)
		if err != nil {
			errs = append(errs, fmt.Errorf("start worker %d: %w", i, err))
			continue
		}
		procs = append(procs, p)
		ids = append(ids, i)
	}
	w.Close() // the workers hold their copies: EOF once all have ended
	if len(procs) == 0 {
		return Result{Elapsed: now().Sub(start)}, errors.Join(errs...)
	}

	type exit struct {
		i   int
		err error
	}
	exits := make(chan exit, len(procs))
	for i, p := range procs {
		go func() { exits <- exit{ids[i], p.Wait()} }()
	}

	var mu sync.Mutex
	var done uint64
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		var rec [8]byte
		for {
			if _, err := io.ReadFull(r, rec[:]); err != nil {
				return // EOF: every worker ended
			}
			mu.Lock()
			done += binary.LittleEndian.Uint64(rec[:])
			mu.Unlock()
		}
	}()
	snapshot := func(final bool) Progress {
		mu.Lock()
		defer mu.Unlock()
		return Progress{Done: done, Total: o.Total, Elapsed: now().Sub(start), Final: final}
	}

	res := Result{}
	killAll := func() {
		for _, p := range procs {
			p.Kill()
		}
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	left := len(procs)
	// failed counts a worker's end and reports whether it failed.
	failed := func(e exit) bool {
		left--
		if e.err == nil {
			return false
		}
		errs = append(errs, fmt.Errorf("worker %d: %w", e.i, e.err))
		logf("fill: worker %d: %v", e.i, e.err)
		return true
	}
	var stoppedAt time.Time
	for left > 0 && stoppedAt.IsZero() {
		select {
		case e := <-exits:
			if failed(e) {
				continue
			}
			res.Full = true
			stoppedAt = now()
			if o.OnFull != nil {
				o.OnFull()
			}
			killAll()
		case <-ctx.Done():
			res.TimedOut = true
			stoppedAt = now()
			killAll()
		case <-tick.C:
			if o.Progress != nil {
				o.Progress(snapshot(false))
			}
		}
	}
	if stoppedAt.IsZero() {
		<-readDone // every worker ended: the pipe is at EOF
	} else {
		// Killed workers take long to end: the kernel frees all the
		// memory they filled, and with init_on_free=1 zeroes it once more,
		// which is no part of the wipe. Read what they reported before the
		// kill and note the failures of workers that end at once, for a
		// moment only.
		_ = r.SetReadDeadline(time.Now().Add(drain))
		timeout := time.After(drain)
		for left > 0 {
			select {
			case e := <-exits:
				failed(e)
				continue
			case <-timeout:
			}
			break
		}
		<-readDone
	}
	p := snapshot(true)
	if !stoppedAt.IsZero() {
		p.Elapsed = stoppedAt.Sub(start)
	}
	if o.Progress != nil {
		o.Progress(p)
	}
	res.Bytes, res.Elapsed = p.Done, p.Elapsed
	if res.Full {
		// A full fill is a success; worker failures are still reported.
		return res, errors.Join(errs...)
	}
	if res.TimedOut {
		errs = append(errs, fmt.Errorf("fill: stopped after %v: %w", p.Elapsed.Round(time.Millisecond), ctx.Err()))
	}
	if len(errs) == 0 {
		errs = append(errs, errors.New("fill: every worker ended before memory was full"))
	}
	return res, errors.Join(errs...)
}
