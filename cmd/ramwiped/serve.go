package main

import (
	"context"
	"fmt"
	"log/slog"
	"os/user"
	"strconv"

	"github.com/ramwipe/ramwipe/trigger/control"
)

// serve runs the triggers until ctx ends: the control socket (ramwipe
// panic|status|test).
func serve(ctx context.Context, d *daemon, log *slog.Logger) error {
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
func (d *daemon) handle(_ context.Context, p control.Peer, r control.Request) (string, error) {
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
		return d.Test(r.Arg), nil
	}
	return "", fmt.Errorf("unknown command %q: use status, panic or test TRIGGER", r.Command)
}
