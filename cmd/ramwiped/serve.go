package main

import (
	"context"
	"log/slog"
)

// serve runs the triggers until ctx ends.
// TODO(issue 3/4): the control socket (trigger/control) and the hotkey.
func serve(ctx context.Context, d *daemon, log *slog.Logger) error {
	log.Info("ready", "status", d.Status())
	<-ctx.Done()
	return nil
}
