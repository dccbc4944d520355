package usbinsert

import (
	"fmt"
	"path"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/ramwipe/ramwipe/trigger/uevent"
)

// Clock tells the time. Suspended is how long the machine has been
// suspended since boot (on Linux CLOCK_BOOTTIME − CLOCK_MONOTONIC): when
// it grew, the machine resumed. bootmedium's clock is one.
type Clock interface {
	Now() time.Time
	Suspended() time.Duration
}

// ResumeSettle is how long after a resume a device that was attached
// before the suspend may come back (re-enumerate) without firing, even if
// it is not on the allow-list.
const ResumeSettle = 5 * time.Second

// Config configures a [Watcher].
type Config struct {
	// Allow is the allow-list; empty means every new device fires.
	Allow []Rule
	// Root is prepended to /sys; "" means /. Tests point it at a fake tree.
	Root string
	// Clock detects resumes; required.
	Clock Clock
	// Logf receives what the Watcher decided and why (devices only); nil
	// discards.
	Logf func(format string, args ...any)
}

// Watcher decides, per uevent, whether a USB device was plugged in that
// is not on the allow-list. Match and Rescan are meant for the single
// uevent loop; Resumed, Attached and Unlisted may be called from any
// goroutine.
type Watcher struct {
	allow []Rule
	sys   sysfs
	clock Clock
	logf  func(string, ...any)

	mu       sync.Mutex
	attached map[string]Device // by devpath
	// holdUntil ends the settle time after a resume; until then a device
	// in resumed (attached when the resume was noticed) may come back.
	holdUntil time.Time
	resumed   map[identity]bool
	slept     time.Duration // Clock.Suspended at the previous check
}

// NewWatcher returns a Watcher that knows of no attached device yet: call
// [Watcher.Scan] before the first event.
func NewWatcher(cfg Config) *Watcher {
	root := cfg.Root
	if root == "" {
		root = "/"
	}
	w := &Watcher{allow: cfg.Allow, sys: sysfs{root: root}, clock: cfg.Clock, logf: cfg.Logf, attached: map[string]Device{}}
	if w.logf == nil {
		w.logf = func(string, ...any) {}
	}
	w.slept = w.clock.Suspended()
	return w
}

// Allowed reports whether the allow-list allows d.
func (w *Watcher) Allowed(d Device) bool {
	for _, r := range w.allow {
		if r.Allows(d) {
			return true
		}
	}
	return false
}

// Rules is how many entries the allow-list has.
func (w *Watcher) Rules() int { return len(w.allow) }

// Scan reads the devices attached now from sysfs; they do not fire,
// allowed or not (the trigger is about devices plugged in from now on).
// It returns List's error; the devices it could read are taken anyway.
func (w *Watcher) Scan() error {
	devs, err := List(w.sys.root)
	w.mu.Lock()
	defer w.mu.Unlock()
	w.attached = map[string]Device{}
	for _, d := range devs {
		w.attached[d.DevPath] = d
	}
	return err
}

// Match decides about one uevent. It fires (returns true) on:
//
//   - "add" of a USB device (DEVTYPE=usb_device) that is not a hub and not
//     on the allow-list, unless it is a device that was attached when the
//     machine resumed coming back at the same port within [ResumeSettle]
//     (re-enumeration after resume), or a device already attached at that
//     devpath with the same identity (announced twice);
//   - "add" of an interface that is not a hub's on a device that said it
//     was a hub (bDeviceClass 09) and is not on the allow-list: a device
//     posing as a hub to pass.
//
// A serial that cannot be read (the device went away at once) fires only
// if no allow-list entry has the device's vendor, product and port. Hubs
// never fire; what is plugged in behind them does. Uevents the kernel
// synthesised (SYNTH_UUID: `udevadm trigger`) never fire. Everything else,
// removals included, only updates what is attached. The string says why,
// for the log.
func (w *Watcher) Match(ev uevent.Event) (bool, string) {
	w.Resumed()
	if ev.Subsystem != "usb" {
		return false, ""
	}
	switch ev.DevType {
	case "usb_device":
		switch ev.Action {
		case "remove":
			w.mu.Lock()
			delete(w.attached, path.Clean(ev.DevPath))
			w.mu.Unlock()
			return false, ""
		case "add":
			if ev.Synthetic() {
				w.logf("usb: ignored a synthetic add of %s (udevadm trigger)", ev.DevPath)
				return false, ""
			}
			d, err := w.sys.device(ev.DevPath, &ev)
			if err != nil {
				// The kernel always sends PRODUCT and TYPE; a device
				// that cannot be identified cannot be on the list.
				w.mu.Lock()
				w.attached[d.DevPath] = d
				w.mu.Unlock()
				return true, fmt.Sprintf("USB device %s plugged in, not identifiable (%v)", ev.DevPath, err)
			}
			return w.judge(d)
		}
	case "usb_interface":
		if ev.Action != "add" || ev.Synthetic() {
			return false, ""
		}
		return w.iface(ev)
	}
	return false, ""
}

// judge decides about a device that appeared, and records it as attached.
func (w *Watcher) judge(d Device) (bool, string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	prev, known := w.attached[d.DevPath]
	w.attached[d.DevPath] = d
	inHold := w.clock.Now().Before(w.holdUntil)
	switch {
	case d.Hub():
		w.logf("usb: hub %s plugged in: what is plugged in behind it is judged on its own", d)
		return false, ""
	case w.Allowed(d):
		w.logf("usb: %s plugged in: allowed", d)
		return false, ""
	case known && prev.identity() == d.identity():
		w.logf("usb: %s announced again: already attached", d)
		return false, ""
	case inHold && w.resumed[d.identity()]:
		w.logf("usb: %s came back after the resume: attached before it", d)
		return false, ""
	case !d.SerialKnown && w.modelAllowed(d):
		w.logf("usb: %s plugged in and gone before its serial was read; its model is on the allow-list: not fired", d)
		return false, ""
	}
	return true, fmt.Sprintf("USB device %s plugged in, not on the allow-list", d)
}

// modelAllowed reports whether an entry allows d's vendor, product and
// port, whatever its serial.
func (w *Watcher) modelAllowed(d Device) bool {
	for _, r := range w.allow {
		if r.Vendor == d.Vendor && r.Product == d.Product && (r.Port == "" || r.Port == d.Port) {
			return true
		}
	}
	return false
}

// iface fires on a non-hub interface of an unlisted device that said it
// was a hub.
func (w *Watcher) iface(ev uevent.Event) (bool, string) {
	parent := path.Dir(path.Clean(ev.DevPath))
	w.mu.Lock()
	d, ok := w.attached[parent]
	w.mu.Unlock()
	if !ok || !d.Hub() || w.Allowed(d) {
		return false, ""
	}
	cls, err := ParseClass(ev.Get("INTERFACE"))
	if err == nil && cls == ClassHub {
		return false, ""
	}
	what := fmt.Sprintf("class %d", cls)
	if err != nil {
		what = fmt.Sprintf("unreadable class (%v)", err)
	}
	return true, fmt.Sprintf("USB device %s said it was a hub, and has an interface %s of %s", d, path.Base(ev.DevPath), what)
}

// Rescan rebuilds the view of attached devices from sysfs after lost
// uevents, and fires if one of them appeared meanwhile and would have
// fired (see Match). Devices that went away are forgotten.
func (w *Watcher) Rescan() (bool, string) {
	w.Resumed()
	devs, err := List(w.sys.root)
	if err != nil {
		w.logf("usb: rescan after lost uevents: %v", err)
	}
	now := map[string]bool{}
	var fired []string
	for _, d := range devs {
		now[d.DevPath] = true
		w.mu.Lock()
		prev, known := w.attached[d.DevPath]
		w.mu.Unlock()
		if known && prev.identity() == d.identity() {
			continue
		}
		if fire, why := w.judge(d); fire {
			fired = append(fired, why)
		}
	}
	w.mu.Lock()
	for p := range w.attached {
		if !now[p] {
			delete(w.attached, p)
		}
	}
	w.mu.Unlock()
	if len(fired) == 0 {
		return false, ""
	}
	return true, strings.Join(fired, "; ") + " (found after lost uevents)"
}

// Resumed checks whether the machine slept since the last check, and if
// so lets the devices attached now come back within [ResumeSettle]
// without firing. Match calls it for every event; call it also when told
// of a resume, so the settle time starts then. It reports whether the
// machine had slept.
func (w *Watcher) Resumed() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	slept := w.clock.Suspended()
	if slept <= w.slept+time.Second {
		return false
	}
	now := w.clock.Now()
	if !now.Before(w.holdUntil) {
		w.resumed = map[identity]bool{}
	}
	for _, d := range w.attached {
		w.resumed[d.identity()] = true
	}
	w.holdUntil = now.Add(ResumeSettle)
	w.slept = slept
	w.logf("usb: the machine resumed; for %v the %d devices attached before may re-enumerate without firing", ResumeSettle, len(w.attached))
	return true
}

// Attached returns the devices attached now, hubs included, by port.
func (w *Watcher) Attached() []Device {
	w.mu.Lock()
	devs := make([]Device, 0, len(w.attached))
	for _, d := range w.attached {
		devs = append(devs, d)
	}
	w.mu.Unlock()
	sort.Slice(devs, func(i, j int) bool { return portLess(devs[i].Port, devs[j].Port) })
	return devs
}

// Unlisted returns the attached devices that are neither hubs nor on the
// allow-list: unplugging and plugging one in again fires.
func (w *Watcher) Unlisted() []Device {
	var out []Device
	for _, d := range w.Attached() {
		if !d.Hub() && !w.Allowed(d) {
			out = append(out, d)
		}
	}
	return out
}
