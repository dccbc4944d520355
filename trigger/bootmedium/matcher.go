package bootmedium

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ramwipe/ramwipe/trigger/uevent"
)

// Clock tells the time; [Matcher.Hold] is measured with it. Suspended
// is how long the machine has been suspended since it booted (on Linux
// CLOCK_BOOTTIME − CLOCK_MONOTONIC): when it grew, the machine resumed.
type Clock interface {
	Now() time.Time
	Suspended() time.Duration
}

type systemClock struct{}

// SystemClock is the system's [Clock]: the time, and on Linux the suspend
// clock (elsewhere Suspended is always 0).
func SystemClock() Clock { return systemClock{} }

func (systemClock) Now() time.Time { return time.Now() }

// ResumeSettle is how long after a resume the Matcher holds removals (see
// [Matcher.Match]): long enough for a USB bus that re-enumerates on resume
// to bring its devices back.
const ResumeSettle = 5 * time.Second

// Verdict is what [Matcher.Match] decides about a uevent.
type Verdict uint8

const (
	// Ignore: the event is not about the boot medium.
	Ignore Verdict = iota
	// Gone: a watched device went away. Panic.
	Gone
	// Deferred: a watched device went away during a hold (see
	// [Matcher.Hold]); call [Matcher.Missing] when the hold ends.
	Deferred
)

func (v Verdict) String() string {
	switch v {
	case Ignore:
		return "ignore"
	case Gone:
		return "gone"
	case Deferred:
		return "deferred"
	}
	return fmt.Sprintf("Verdict(%d)", uint8(v))
}

// MatcherConfig configures a [Matcher].
type MatcherConfig struct {
	// Root is prepended to /sys; "" means /. Tests point it at a fake tree.
	Root string
	// Clock measures holds; nil means the system clock.
	Clock Clock
	// Logf receives events that look like a removal but are not one;
	// nil discards.
	Logf func(format string, args ...any)
}

// Matcher decides whether a uevent means the boot medium (or a kill cord)
// went away. It reads sysfs only for a media-change event of a watched disk
// and in [Matcher.Missing]. Match may be called from one goroutine at a
// time; it is meant for the single uevent loop.
type Matcher struct {
	watched   []Device
	sys       string
	clock     Clock
	logf      func(string, ...any)
	mu        sync.Mutex // holdUntil and slept: Resumed comes from another goroutine
	holdUntil time.Time
	slept     time.Duration // Clock.Suspended at the previous check
	// size returns a disk's size in 512-byte sectors; a seam for tests.
	size func(devpath string) (uint64, error)
}

// NewMatcher returns a Matcher for the watched devices of m.
func NewMatcher(m *Medium, cfg MatcherConfig) *Matcher {
	root := cfg.Root
	if root == "" {
		root = "/"
	}
	mt := &Matcher{sys: filepath.Join(root, "sys"), clock: cfg.Clock, logf: cfg.Logf}
	if mt.clock == nil {
		mt.clock = systemClock{}
	}
	if mt.logf == nil {
		mt.logf = func(string, ...any) {}
	}
	mt.size = mt.sysfsSize
	mt.slept = mt.clock.Suspended()
	for _, d := range m.Devices {
		if d.Watched {
			mt.watched = append(mt.watched, d)
		}
	}
	return mt
}

// Match decides about one uevent:
//
//   - "remove" of a watched device or of any device above it (its disk,
//     USB device, hub or controller) is [Gone];
//   - "change" with DISK_MEDIA_CHANGE=1 of a watched disk whose size is
//     now 0 (a card pulled from a reader) is [Gone]; a media change with
//     a medium present, as a reader may report after resume, is not;
//   - events the kernel synthesised on a write to a uevent file
//     (SYNTH_UUID, `udevadm trigger --action=remove`) are not removals;
//   - everything else is [Ignore]d.
//
// A removal during a hold is [Deferred] instead of [Gone]. The first event
// after the machine resumed from suspend starts a hold of [ResumeSettle]
// by itself (some hardware re-enumerates USB on resume: its devices go and
// come back, which is no reason to wipe); the caller then asks
// [Matcher.Missing] when the hold ends, so a medium pulled while the
// machine slept still fires, [ResumeSettle] later.
//
// The string says what happened, for the log.
func (m *Matcher) Match(ev uevent.Event) (Verdict, string) {
	m.Resumed()
	var why string
	switch ev.Action {
	case "remove":
		d, ok := m.covered(ev.DevPath)
		if !ok {
			return Ignore, ""
		}
		why = fmt.Sprintf("%s removed: %s", ev.DevPath, d.Desc)
	case "change":
		if ev.Get("DISK_MEDIA_CHANGE") != "1" {
			return Ignore, ""
		}
		d, ok := m.covered(ev.DevPath)
		if !ok {
			return Ignore, ""
		}
		n, err := m.size(ev.DevPath)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			why = fmt.Sprintf("%s: medium changed and the disk is gone: %s", ev.DevPath, d.Desc)
		case err != nil:
			m.logf("boot medium: %s: medium changed, size unreadable (%v): not treated as removal", ev.DevPath, err)
			return Ignore, ""
		case n != 0:
			m.logf("boot medium: %s: medium changed, %d sectors present: not a removal", ev.DevPath, n)
			return Ignore, ""
		default:
			why = fmt.Sprintf("%s: medium removed (size 0): %s", ev.DevPath, d.Desc)
		}
	default:
		return Ignore, ""
	}
	if ev.Synthetic() {
		m.logf("boot medium: ignored a synthetic uevent (SYNTH_UUID): %s", why)
		return Ignore, ""
	}
	if m.HoldEnds() > 0 {
		return Deferred, why
	}
	return Gone, why
}

// Resumed checks whether the machine slept since the last check, and if
// so starts a hold of [ResumeSettle]. Match calls it for every event; call
// it also when told of a resume ([WatchResume]), so that the hold starts
// at the resume and not at the next uevent, which may be the real removal
// a minute later. It reports whether the machine had slept.
func (m *Matcher) Resumed() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	slept := m.clock.Suspended()
	if slept <= m.slept+time.Second {
		return false
	}
	m.logf("boot medium: the machine resumed (suspended %v since the last check); removals are checked again in %v", (slept - m.slept).Round(time.Second), ResumeSettle)
	m.holdUntil = m.clock.Now().Add(ResumeSettle)
	m.slept = slept
	return true
}

// covered returns the watched device that devpath is, or is above.
func (m *Matcher) covered(devpath string) (Device, bool) {
	for _, d := range m.watched {
		if covers(devpath, d.DevPath) {
			return d, true
		}
	}
	return Device{}, false
}

// covers reports whether the removal of device a takes device b with it:
// a is b, or a directory above b in /sys/devices. Paths compare by whole
// components: /devices/…/usb1/1-1 covers /devices/…/usb1/1-1/1-1:1.0/…,
// not /devices/…/usb1/1-10/….
func covers(a, b string) bool {
	if a == "" || b == "" {
		return false
	}
	a, b = path.Clean(a), path.Clean(b)
	if !strings.HasPrefix(a, "/devices/") || !strings.HasPrefix(b, "/devices/") {
		return false
	}
	return a == b || strings.HasPrefix(b, a+"/")
}

// Hold defers removals for d from now: Match reports [Deferred] instead of
// [Gone] until then; the caller calls [Matcher.Missing] when the hold ends
// ([Matcher.HoldEnds]) and panics if anything is missing. Match holds by
// itself after a resume. Hold(0) ends a hold.
func (m *Matcher) Hold(d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.holdUntil = m.clock.Now().Add(d)
}

// HoldEnds is how long the current hold lasts from now (0 if none).
func (m *Matcher) HoldEnds() time.Duration {
	m.mu.Lock()
	defer m.mu.Unlock()
	return max(m.holdUntil.Sub(m.clock.Now()), 0)
}

// Missing returns the watched devpaths that are no longer in sysfs. Call it
// after uevents were lost ([uevent.ErrOverrun]) and when a hold ends: a
// removal among the lost events shows here.
func (m *Matcher) Missing() []string {
	var gone []string
	for _, d := range m.watched {
		if _, err := os.Stat(filepath.Join(m.sys, filepath.FromSlash(d.DevPath))); errors.Is(err, fs.ErrNotExist) {
			gone = append(gone, d.DevPath)
		}
	}
	return gone
}

// Watching reports whether any device is watched.
func (m *Matcher) Watching() bool { return len(m.watched) > 0 }

// sysfsSize reads /sys<devpath>/size, in 512-byte sectors.
func (m *Matcher) sysfsSize(devpath string) (uint64, error) {
	p := filepath.Join(m.sys, filepath.FromSlash(path.Clean(devpath)), "size")
	b, err := os.ReadFile(p)
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", p, err)
	}
	return n, nil
}
