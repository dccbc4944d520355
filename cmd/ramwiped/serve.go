package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os/user"
	"strconv"
	"strings"
	"time"

	"github.com/ramwipe/ramwipe/trigger/control"
	"github.com/ramwipe/ramwipe/trigger/hotkey"
	"github.com/ramwipe/ramwipe/trigger/uevent"
)

// serve runs the triggers until ctx ends: the hotkey (with keyboards
// hot-plugged later, from kernel uevents) and the control socket (ramwipe
// panic|status|test).
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
	}
	if d.cfg.Hotkey != "off" {
		if err := startHotkey(ctx, d, logf); err != nil {
			log.Warn(fmt.Sprintf("hotkey: %v; the hotkey is off", err))
		}
	}
	gid := -1
	if g, err := user.LookupGroup(d.cfg.Group); err != nil {
		log.Warn(fmt.Sprintf("group %q: %v; only root may use ramwipe", d.cfg.Group, err))
	} else {
		gid, _ = strconv.Atoi(g.Gid)
	}
	srv := &control.Server{
		Path:    d.cfg.Socket,
		GID:     gid,
		Handler: d.handle,
		Logf:    func(f string, a ...any) { log.Warn(fmt.Sprintf(f, a...)) },
	}
	if err := srv.Listen(); err != nil {
		return fmt.Errorf("control socket: %w", err)
	}
	log.Info("ready", "socket", d.cfg.Socket, "status", d.Status())
	return srv.Serve(ctx)
}

// handle serves one authorized control request.
func (d *daemon) handle(ctx context.Context, p control.Peer, r control.Request) (string, error) {
	switch r.Command {
	case "status":
		return d.Status(), nil
	case "panic":
		// The reply goes out while the sequence runs; it may never arrive.
		go d.Panic(fmt.Sprintf("cli (uid %d, pid %d)", p.UID, p.PID))
		if !d.armed {
			return "dry run: ramwiped would erase the disk keys and wipe memory now (start it with --armed)", nil
		}
		return "wiping now", nil
	case "test":
		return d.Test(ctx, r.Arg)
	}
	return "", fmt.Errorf("unknown command %q: use status, panic or test TRIGGER", r.Command)
}

// startHotkey watches every keyboard for the chord; a uevent listener adds
// keyboards plugged in later and rescans after lost uevents.
func startHotkey(ctx context.Context, d *daemon, logf func(string, ...any)) error {
	chord, err := hotkey.ParseChord(d.cfg.Hotkey)
	if err != nil {
		return err
	}
	w, err := hotkey.NewWatcher(hotkey.Config{Chord: chord, OnChord: func() { d.Fire("hotkey") }, Logf: logf})
	if err != nil {
		return err
	}
	if err := w.Scan(); err != nil {
		logf("hotkey: %v", err)
	}
	l, err := uevent.Listen(uevent.Config{Logf: logf})
	if err != nil {
		logf("uevents: %v; keyboards plugged in later are not seen", err)
	} else {
		go func() {
			<-ctx.Done()
			l.Close()
		}()
		go func() {
			for {
				ev, err := l.Receive()
				switch {
				case errors.Is(err, uevent.ErrOverrun):
					_ = w.Scan()
				case err != nil:
					return
				default:
					w.HandleUevent(ev)
				}
			}
		}()
	}
	d.addTrigger("hotkey")
	logf("hotkey: %s on %d keyboards", chord, len(w.Devices()))
	return nil
}
