package suspend

import (
	"errors"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// SystemClock is the machine's clocks.
type SystemClock struct{}

// Boottime reads CLOCK_BOOTTIME.
func (SystemClock) Boottime() time.Duration {
	var ts unix.Timespec
	if unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts) != nil {
		return 0
	}
	return time.Duration(ts.Nano())
}

// Suspended is CLOCK_BOOTTIME − CLOCK_MONOTONIC. MONOTONIC is read first,
// so the difference errs by microseconds upwards, never below 0.
func (SystemClock) Suspended() time.Duration {
	var boot, mono unix.Timespec
	if unix.ClockGettime(unix.CLOCK_MONOTONIC, &mono) != nil || unix.ClockGettime(unix.CLOCK_BOOTTIME, &boot) != nil {
		return 0
	}
	return max(time.Duration(boot.Nano()-mono.Nano()), 0)
}

// Now is the wall clock without a monotonic reading.
func (SystemClock) Now() time.Time { return time.Now().Round(0) }

// AtBoottime arms a timerfd on CLOCK_BOOTTIME at the absolute time at; the
// kernel fires it right after a resume if at passed during the sleep.
func (SystemClock) AtBoottime(at time.Duration, f func()) (func(), error) {
	fd, err := unix.TimerfdCreate(unix.CLOCK_BOOTTIME, unix.TFD_CLOEXEC|unix.TFD_NONBLOCK)
	if err != nil {
		return nil, err
	}
	ts := unix.NsecToTimespec(int64(at))
	if err := unix.TimerfdSettime(fd, unix.TFD_TIMER_ABSTIME, &unix.ItimerSpec{Value: ts}, nil); err != nil {
		unix.Close(fd)
		return nil, err
	}
	file := os.NewFile(uintptr(fd), "timerfd-boottime")
	var once sync.Once
	stopped := make(chan struct{})
	stop := func() {
		once.Do(func() {
			close(stopped)
			file.Close()
		})
	}
	go func() {
		buf := make([]byte, 8)
		_, err := file.Read(buf)
		select {
		case <-stopped:
			return
		default:
		}
		if err == nil || !errors.Is(err, os.ErrClosed) {
			f()
		}
		stop()
	}()
	return stop, nil
}
