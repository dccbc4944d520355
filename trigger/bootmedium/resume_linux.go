package bootmedium

import (
	"context"
	"errors"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// WatchResume calls resumed whenever the machine may have resumed from
// suspend, until ctx ends, without polling: it blocks in a read of a
// timerfd on CLOCK_REALTIME armed with TFD_TIMER_CANCEL_ON_SET and an
// expiry years away. The kernel cancels such timers when the wall clock
// jumps, which it does on every resume (timekeeping_resume injects the
// sleep time and calls timerfd_resume) and when someone sets the time;
// [Matcher.Resumed] tells the two apart by the suspend clock.
func WatchResume(ctx context.Context, resumed func()) error {
	fd, err := unix.TimerfdCreate(unix.CLOCK_REALTIME, unix.TFD_CLOEXEC|unix.TFD_NONBLOCK)
	if err != nil {
		return err
	}
	f := os.NewFile(uintptr(fd), "timerfd")
	arm := func() error {
		var now unix.Timespec
		if err := unix.ClockGettime(unix.CLOCK_REALTIME, &now); err != nil {
			return err
		}
		far := unix.NsecToTimespec(now.Nano() + int64(10*365*24*time.Hour))
		return unix.TimerfdSettime(fd, unix.TFD_TIMER_ABSTIME|unix.TFD_TIMER_CANCEL_ON_SET, &unix.ItimerSpec{Value: far}, nil)
	}
	if err := arm(); err != nil {
		f.Close()
		return err
	}
	go func() {
		<-ctx.Done()
		f.Close()
	}()
	go func() {
		buf := make([]byte, 8)
		for {
			_, err := f.Read(buf)
			switch {
			case errors.Is(err, unix.ECANCELED):
				resumed()
				if arm() != nil {
					return
				}
			case err != nil:
				return // closed
			}
			// An expiry ten years on: re-arm and go on.
			if err == nil && arm() != nil {
				return
			}
		}
	}()
	return nil
}
