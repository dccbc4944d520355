package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/ramwipe/ramwipe/trigger/control"
	"github.com/ramwipe/ramwipe/trigger/suspend"
)

// sleepHookCommand is the systemd sleep hook's mode:
// /usr/lib/systemd/system-sleep/ramwipe runs `ramwipe sleep-hook pre
// suspend` before a sleep and `… post suspend` after it. It is left out
// of the usage: people do not run it.
const sleepHookCommand = "sleep-hook"

// sleepHookTimeout bounds the wait for ramwiped's answer. Under
// on_suspend = wipe the answer to pre never comes (the machine is wiped
// and off within seconds); systemd-sleep waits for its hooks longer.
const sleepHookTimeout = 60 * time.Second

// sleepHook asks ramwiped what to do about a sleep and waits for the
// answer, which goes to systemd-sleep's log. systemd-sleep sleeps whatever
// a hook returns; the exit code only says whether ramwiped answered.
func sleepHook(ctx context.Context, socket string, args []string, stdout, stderr io.Writer) int {
	e, err := suspend.HookEvent(args)
	if err != nil {
		fmt.Fprintf(stderr, "ramwipe: %s: %v\n", sleepHookCommand, err)
		return exitUsageCode
	}
	req := control.Request{Command: control.CommandSleep, Arg: e.Arg()}
	ctx, cancel := context.WithTimeout(ctx, sleepHookTimeout)
	defer cancel()
	do := func(ctx context.Context, r control.Request) (control.Reply, error) { return control.Do(ctx, socket, r) }
	reply, err := control.WhileBusy(ctx, do, req)
	switch {
	case err != nil && e.Phase == suspend.Pre && errors.Is(err, io.EOF):
		// The machine went down before ramwiped could answer.
		return exitOK
	case err != nil:
		fmt.Fprintf(stderr, "ramwipe: %s %s %s: %v: on_suspend is not applied to this sleep\n", sleepHookCommand, e.Phase, e.Kind, err)
		return exitFailed
	case !reply.OK:
		fmt.Fprintf(stderr, "ramwipe: %s %s %s: %s\n", sleepHookCommand, e.Phase, e.Kind, reply.Text)
		return exitFailed
	}
	fmt.Fprintf(stdout, "ramwipe: %s\n", reply.Text)
	return exitOK
}

// printSuspend prints the on_suspend line of the status.
func printSuspend(w io.Writer, s *control.SuspendStatus) {
	if s == nil {
		return
	}
	line := s.Policy
	switch {
	case s.Policy == "allow":
		line += " (the disk keys stay in RAM while suspended)"
	case s.Deadline != nil:
		line += fmt.Sprintf(", alarm pending: wipes at %s unless woken before", s.Deadline.Local().Format(time.RFC3339))
	}
	if s.Problem != "" {
		line += "; " + s.Problem
	}
	fmt.Fprintf(w, "on suspend:     %s\n", line)
}
