package dispatch

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/ramwipe/ramwipe/trigger/bootmedium"
	"github.com/ramwipe/ramwipe/trigger/hotkey"
	"github.com/ramwipe/ramwipe/trigger/uevent"
	"github.com/ramwipe/ramwipe/trigger/usbinsert"
)

// The names Run passes to [Config.Fire].
const (
	TriggerBootMedium = "bootmedium"
	TriggerUSB        = "usb"
)

// Source delivers kernel uevents, one per Receive. Receive returns an
// error wrapping [uevent.ErrOverrun] when events were lost (the source
// stays usable) and any other error when it is done; Close makes a
// blocked Receive return.
type Source interface {
	Receive() (uevent.Event, error)
	Close() error
}

// Hotkey is the keyboard side: it adds and drops keyboards on input
// uevents and rescans /dev/input after lost events.
type Hotkey interface {
	HandleUevent(ev uevent.Event)
	Scan() error
}

// Medium is the boot-medium side: it judges each uevent, tells which
// watched devices are missing, and how long removals are still held.
type Medium interface {
	Match(ev uevent.Event) (bootmedium.Verdict, string)
	Missing() []string
	HoldEnds() time.Duration
}

// USB is the USB-insertion side: it judges each uevent and, after lost
// events, rescans the attached devices; both report whether to fire.
type USB interface {
	Match(ev uevent.Event) (bool, string)
	Rescan() (bool, string)
}

// Clock runs f in its own goroutine after d.
type Clock interface {
	AfterFunc(d time.Duration, f func())
}

var (
	_ Source = (*uevent.Listener)(nil)
	_ Hotkey = (*hotkey.Watcher)(nil)
	_ Medium = (*bootmedium.Matcher)(nil)
	_ USB    = (*usbinsert.Watcher)(nil)
)

// Config configures [Run].
type Config struct {
	// Source is read until it fails or ctx ends; Run closes it. Required.
	Source Source
	// Hotkey gets every uevent; nil means no hotkey. Mind Go's nil
	// pointer in an interface: leave the field unset, do not assign a
	// nil *hotkey.Watcher.
	Hotkey Hotkey
	// Medium judges every uevent; nil means no boot-medium trigger (the
	// same caution as for Hotkey applies).
	Medium Medium
	// USB judges every uevent for a USB device plugged in; nil means no
	// USB-insertion trigger (the same caution as for Hotkey applies).
	USB USB
	// Fire is called with [TriggerBootMedium] when the boot medium is
	// gone and with [TriggerUSB] when a USB device not allowed was
	// plugged in; required with a Medium or a USB. It may be called
	// concurrently.
	Fire func(trigger string)
	// Clock schedules the re-check after a hold; nil means the system
	// clock (time.AfterFunc).
	Clock Clock
	// Logf receives what happened (devices and verdicts, never keys);
	// nil discards.
	Logf func(format string, args ...any)
}

type systemClock struct{}

func (systemClock) AfterFunc(d time.Duration, f func()) { time.AfterFunc(d, f) }

// Run dispatches uevents from cfg.Source until ctx ends (it then closes
// the source and returns nil) or Receive fails with anything but
// [uevent.ErrOverrun] (it returns that error). It closes the source
// before it returns. At least one of cfg.Hotkey, cfg.Medium and cfg.USB
// must be set. A re-check scheduled before Run returned still runs, unless ctx
// has ended.
func Run(ctx context.Context, cfg Config) error {
	if cfg.Source == nil {
		return errors.New("dispatch: no uevent source")
	}
	if err := check(cfg); err != nil {
		cfg.Source.Close()
		return err
	}
	l := &loop{ctx: ctx, Config: cfg}
	if l.Clock == nil {
		l.Clock = systemClock{}
	}
	if l.Logf == nil {
		l.Logf = func(string, ...any) {}
	}

	done, closed := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(closed)
		select {
		case <-ctx.Done():
		case <-done:
		}
		l.Source.Close()
	}()
	err := l.run()
	close(done)
	<-closed
	if ctx.Err() != nil {
		return nil
	}
	return fmt.Errorf("dispatch: receive uevents: %w", err)
}

func check(cfg Config) error {
	switch {
	case cfg.Hotkey == nil && cfg.Medium == nil && cfg.USB == nil:
		return errors.New("dispatch: no hotkey, boot medium or USB trigger to dispatch uevents to")
	case cfg.Medium != nil && cfg.Fire == nil:
		return errors.New("dispatch: a boot medium needs Fire")
	case cfg.USB != nil && cfg.Fire == nil:
		return errors.New("dispatch: a USB trigger needs Fire")
	}
	return nil
}

// loop is one Run.
type loop struct {
	ctx context.Context
	Config
	pending atomic.Bool // a re-check at the end of a hold is scheduled
}

// run receives until the source fails and returns that error.
func (l *loop) run() error {
	for {
		ev, err := l.Source.Receive()
		switch {
		case errors.Is(err, uevent.ErrOverrun):
			l.resync()
		case err != nil:
			return err
		default:
			l.handle(ev)
		}
	}
}

// handle passes one uevent to every side.
func (l *loop) handle(ev uevent.Event) {
	if l.Hotkey != nil {
		l.Hotkey.HandleUevent(ev)
	}
	if l.USB != nil {
		if fire, why := l.USB.Match(ev); fire {
			l.Fire(TriggerUSB)
			l.Logf("usb: %s", why)
		}
	}
	if l.Medium == nil {
		return
	}
	switch v, why := l.Medium.Match(ev); v {
	case bootmedium.Gone:
		l.Fire(TriggerBootMedium) // first: the log may go to a disk
		l.Logf("boot medium: %s", why)
	case bootmedium.Deferred:
		l.Logf("boot medium: %s; just resumed: checking again in %v", why, l.Medium.HoldEnds())
		l.schedule()
	}
}

// resync rebuilds every side's view after lost uevents.
func (l *loop) resync() {
	if l.Hotkey != nil {
		if err := l.Hotkey.Scan(); err != nil {
			l.Logf("hotkey: rescan after lost uevents: %v", err)
		}
	}
	if l.USB != nil {
		if fire, why := l.USB.Rescan(); fire {
			l.Fire(TriggerUSB)
			l.Logf("usb: %s", why)
		}
	}
	if l.Medium == nil {
		return
	}
	if d := l.Medium.HoldEnds(); d > 0 {
		// A device may be away for the hold (USB re-enumerating after a
		// resume, which is when events overflow): look when it ends.
		l.Logf("boot medium: uevents lost during a hold: checking in %v", d)
		l.schedule()
		return
	}
	if gone := l.Medium.Missing(); len(gone) > 0 {
		l.Fire(TriggerBootMedium)
		l.Logf("boot medium: %v gone (found after lost uevents)", gone)
	}
}

// schedule arranges one re-check at the end of the hold, unless one is
// pending already.
func (l *loop) schedule() {
	if l.pending.Swap(true) {
		return
	}
	l.Clock.AfterFunc(l.Medium.HoldEnds(), l.recheck)
}

// recheck runs when a hold ended: it fires if a watched device is still
// missing. A hold extended meanwhile (another resume) moves it to the
// new end.
func (l *loop) recheck() {
	l.pending.Store(false) // before the check: a later removal schedules anew
	if l.ctx.Err() != nil {
		return
	}
	if l.Medium.HoldEnds() > 0 {
		l.schedule()
		return
	}
	if gone := l.Medium.Missing(); len(gone) > 0 {
		l.Fire(TriggerBootMedium)
		l.Logf("boot medium: %v still gone after the resume", gone)
	}
}
