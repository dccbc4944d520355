package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os/user"
	"strconv"
	"strings"
	"time"

	"github.com/ramwipe/ramwipe/trigger/bootmedium"
	"github.com/ramwipe/ramwipe/trigger/control"
	"github.com/ramwipe/ramwipe/trigger/dispatch"
	"github.com/ramwipe/ramwipe/trigger/hotkey"
	"github.com/ramwipe/ramwipe/trigger/uevent"
	"github.com/ramwipe/ramwipe/trigger/usbinsert"
)

// serve runs the triggers until ctx ends: the hotkey and the boot medium
// (see startUevents) and the control socket (ramwipe panic|status|test).
func serve(ctx context.Context, d *daemon, log *slog.Logger) error {
	logf := func(f string, a ...any) { log.Info(fmt.Sprintf(f, a...)) }
	if d.armed {
		// Re-arm when the kernel or the wipe image is upgraded.
		paths := []string{d.cfg.Initramfs, strings.TrimSuffix(d.cfg.Initramfs, ".cpio") + ".cmdline"}
		if k := d.snapshot().Kernel; k != "" {
			paths = append(paths, k)
		}
		go func() {
			err := watchFiles(ctx, paths, 2*time.Second, d.rearm, logf)
			if err != nil {
				log.Warn(fmt.Sprintf("watch for upgrades: %v; restart ramwiped after upgrading the kernel or ramwipe", err))
			}
		}()
		go d.watchImage(ctx, imageCheckInterval)
	}
	startUevents(ctx, d, logf)
	startSuspend(ctx, d, logf)
	gid := -1
	if g, err := user.LookupGroup(d.cfg.Group); err != nil {
		log.Warn(fmt.Sprintf("group %q: %v; only root may use ramwipe", d.cfg.Group, err))
	} else {
		gid, _ = strconv.Atoi(g.Gid)
	}
	srv := &control.Server{
		Path:         d.cfg.Socket,
		PriorityPath: control.PriorityPath(d.cfg.Socket),
		GID:          gid,
		Group:        d.cfg.Group,
		Handler:      d.handle,
		Logf:         func(f string, a ...any) { log.Warn(fmt.Sprintf(f, a...)) },
	}
	d.mu.Lock()
	d.refused = srv.Refused
	d.mu.Unlock()
	if err := srv.Listen(); err != nil {
		d.watchOff("cli", fmt.Sprintf("control socket: %v", err))
		return fmt.Errorf("control socket: %w", err)
	}
	who := "root only"
	if gid >= 0 {
		who = fmt.Sprintf("root and group %s", d.cfg.Group)
	}
	d.setWatch("cli", func() control.Watch {
		return control.Watch{Trigger: "cli", On: true, What: fmt.Sprintf("ramwipe panic on %s (%s)", d.cfg.Socket, who)}
	})
	log.Info("ready", "socket", d.cfg.Socket, "status", d.Status())
	if err := notify("READY=1\n" + statusLine(d.snapshot())); err != nil {
		log.Warn(fmt.Sprintf("sd_notify: %v", err))
	}
	return srv.Serve(ctx)
}

// handle serves one authorized control request.
func (d *daemon) handle(ctx context.Context, p control.Peer, r control.Request) (string, error) {
	switch r.Command {
	case "status":
		return d.Status(), nil
	case "panic":
		source := fmt.Sprintf("cli (uid %d, pid %d)", p.UID, p.PID)
		if !d.armed {
			_ = d.panicSent(source, r.Sent)
			return d.dryRunPanic(), nil
		}
		// The reply goes out while the sequence runs; it may never arrive.
		go d.panicSent(source, r.Sent)
		return "wiping now", nil
	case "test":
		return d.Test(ctx, r.Arg)
	case control.CommandSleep:
		return d.handleSleep(p, r.Arg)
	}
	return "", fmt.Errorf("unknown command %q: use status, panic or test TRIGGER", r.Command)
}

// dryRunPanic says what a panic would have done, had ramwiped been armed.
func (d *daemon) dryRunPanic() string {
	var st Status
	if err := json.Unmarshal([]byte(d.Status()), &st); err != nil {
		return control.DryRunPrefix + " nothing was wiped"
	}
	devs := "no dm-crypt device is open"
	if len(st.CryptDevices) > 0 {
		devs = "erase the keys of " + strings.Join(st.CryptDevices, ", ")
	}
	return fmt.Sprintf("%s nothing was wiped (ramwiped runs without --armed). Armed, it would now %s, sweep the kernel keyrings, and boot %s into the wipe image %s with %q",
		control.DryRunPrefix, devs, st.Kernel, st.Initramfs, st.Cmdline)
}

// startUevents starts the triggers that hear kernel uevents: the hotkey
// (keyboards plugged in later), the boot medium (removal) and the USB
// insertion. One netlink socket feeds them all through [dispatch.Run];
// after lost uevents each resynchronises.
func startUevents(ctx context.Context, d *daemon, logf func(string, ...any)) {
	cfg := dispatch.Config{Fire: d.Fire, Logf: logf}
	if d.cfg.Hotkey != "off" {
		if w, err := newHotkey(d, logf); err != nil {
			logf("hotkey: %v; the hotkey is off", err)
			d.watchOff("hotkey", fmt.Sprintf("off: %v (fix hotkey = in ramwipe.conf)", err))
		} else {
			cfg.Hotkey = w
		}
	} else {
		d.watchOff("hotkey", "off: hotkey = off in ramwipe.conf")
	}
	var medium *bootmedium.Matcher
	if d.cfg.BootMedium != "off" || len(d.cfg.KillCords) > 0 {
		medium = newBootMedium(d, logf)
	} else {
		d.watchOff("bootmedium", "off: boot_medium = off in ramwipe.conf, and no kill_cord")
	}
	if medium != nil {
		cfg.Medium = medium // never a nil *Matcher in the interface
	}
	var usb *usbinsert.Watcher
	if d.cfg.USBInsert {
		usb = newUSB(d, "/", logf)
		cfg.USB = usb
	} else {
		d.watchOff("usb", "off: usb_insert = off in ramwipe.conf")
	}
	if cfg.Hotkey == nil && cfg.Medium == nil && cfg.USB == nil {
		return
	}
	off := func(format string, err error) {
		if medium != nil {
			d.dropTrigger("bootmedium")
			d.watchOff("bootmedium", fmt.Sprintf(format, err))
		}
		if usb != nil {
			d.dropTrigger("usb")
			d.watchOff("usb", fmt.Sprintf(format, err))
		}
	}
	l, err := uevent.Listen(uevent.Config{Logf: logf})
	if err != nil {
		logf("uevents: %v; keyboards plugged in later, boot-medium removal and USB insertion are not seen", err)
		off("off: kernel uevents: %v", err)
		return
	}
	cfg.Source = l
	if medium != nil || usb != nil {
		// A resume starts the hold at once, not at the next uevent.
		err := bootmedium.WatchResume(ctx, func() {
			if medium != nil {
				medium.Resumed()
			}
			if usb != nil {
				usb.Resumed()
			}
		})
		if err != nil {
			logf("resume notifications: %v; a resume is noticed at the next uevent", err)
		}
	}
	go func() {
		err := dispatch.Run(ctx, cfg)
		if err == nil {
			return
		}
		logf("uevents: %v; keyboards plugged in later, boot-medium removal and USB insertion are no longer seen", err)
		off("off: kernel uevents: %v (restart ramwiped)", err)
	}()
}

// newUSB starts the USB-insertion trigger over the devices attached now
// (below root, "/" but in tests), and describes it for the status.
func newUSB(d *daemon, root string, logf func(string, ...any)) *usbinsert.Watcher {
	w := usbinsert.NewWatcher(usbinsert.Config{Allow: d.cfg.USBAllow, Root: root, Clock: bootmedium.SystemClock(), Logf: logf})
	if err := w.Scan(); err != nil {
		logf("usb: reading the devices attached now: %v", err)
	}
	d.addTrigger("usb")
	d.setWatch("usb", func() control.Watch { return control.Watch{Trigger: "usb", On: true, What: usbWhat(w)} })
	logf("usb: %s", usbWhat(w))
	return w
}

// usbWhat says what the USB-insertion trigger watches, for the status.
func usbWhat(w *usbinsert.Watcher) string {
	n := w.Rules()
	what := fmt.Sprintf("a USB device plugged in that is not on the allow-list (%d usb_allow entries)", n)
	if n == 0 {
		what = "EVERY USB device plugged in: the allow-list is empty (ramwipe usb learn)"
	}
	devs := 0
	for _, dev := range w.Attached() {
		if !dev.Hub() {
			devs++
		}
	}
	what += fmt.Sprintf("; %d devices attached now", devs)
	if un := w.Unlisted(); len(un) > 0 {
		names := make([]string, 0, len(un))
		for _, dev := range un {
			names = append(names, dev.String())
		}
		what += fmt.Sprintf(", %d of them not allowed (re-plugging one wipes): %s", len(un), strings.Join(names, "; "))
	}
	return what
}

// newHotkey watches every keyboard present now for the chord.
func newHotkey(d *daemon, logf func(string, ...any)) (*hotkey.Watcher, error) {
	chord, err := hotkey.ParseChord(d.cfg.Hotkey)
	if err != nil {
		return nil, err
	}
	w, err := hotkey.NewWatcher(hotkey.Config{Chord: chord, OnChord: func() { d.Fire("hotkey") }, Logf: logf})
	if err != nil {
		return nil, err
	}
	if err := w.Scan(); err != nil {
		logf("hotkey: %v", err)
	}
	d.addTrigger("hotkey")
	d.setWatch("hotkey", func() control.Watch {
		kbds := w.Keyboards()
		what := fmt.Sprintf("%s, held together, on %d keyboards: %s", chord, len(kbds), strings.Join(kbds, "; "))
		if len(kbds) == 0 {
			what = fmt.Sprintf("%s, on any keyboard plugged in (none now)", chord)
		}
		return control.Watch{Trigger: "hotkey", On: true, What: what}
	})
	logf("hotkey: %s on %d keyboards", chord, len(w.Devices()))
	return w, nil
}

// newBootMedium finds the devices behind / and /boot and the kill cords;
// it returns nil when there is nothing to watch.
func newBootMedium(d *daemon, logf func(string, ...any)) *bootmedium.Matcher {
	m, err := bootmedium.Resolve(bootmedium.Options{KillCords: d.cfg.KillCords, WatchFixed: d.cfg.BootMedium == "fixed", Logf: logf})
	if err != nil {
		logf("boot medium: %v; the boot-medium trigger is off", err)
		d.watchOff("bootmedium", fmt.Sprintf("off: %v", err))
		return nil
	}
	matcher := bootmedium.NewMatcher(m, bootmedium.MatcherConfig{Logf: logf})
	if !matcher.Watching() {
		logf("boot medium: nothing removable to watch (%s): the boot-medium trigger is off; boot_medium = fixed or a kill_cord turns it on", m)
		d.watchOff("bootmedium", fmt.Sprintf("off: nothing removable to watch (%s); boot_medium = fixed or a kill_cord in ramwipe.conf turns it on", m))
		return nil
	}
	d.addTrigger("bootmedium")
	d.setWatch("bootmedium", func() control.Watch {
		return control.Watch{Trigger: "bootmedium", On: true, What: "removal of " + m.String()}
	})
	logf("boot medium: watching %s", m)
	return matcher
}
