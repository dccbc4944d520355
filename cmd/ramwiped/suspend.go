package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ramwipe/ramwipe/trigger/bootmedium"
	"github.com/ramwipe/ramwipe/trigger/control"
	"github.com/ramwipe/ramwipe/trigger/suspend"
)

// suspendTrigger is the on_suspend policy's trigger name, for the status,
// the panic and `ramwipe test suspend`.
const suspendTrigger = "suspend"

// startSuspend starts the on_suspend policy with the machine's clocks and
// its first RTC: the guard that serves the sleep hook's requests, and for
// wipe and wipe-after, the resume notifications that judge a wake even
// when no post hook comes.
func startSuspend(ctx context.Context, d *daemon, logf func(string, ...any)) {
	g := d.newGuard(suspend.SystemClock{}, suspend.SysfsAlarm{Path: suspend.DefaultAlarm, Logf: logf})
	if d.cfg.OnSuspend.Mode == suspend.Allow {
		return
	}
	if err := bootmedium.WatchResume(ctx, g.Resumed); err != nil {
		logf("on_suspend: resume notifications: %v; a wake is judged by the sleep hook's post request and the deadline timer only", err)
	}
}

// newGuard builds the guard for d's policy, records it for the control
// socket and the status, and starts it.
func (d *daemon) newGuard(clock suspend.Clock, alarm suspend.Alarm) *suspend.Guard {
	g := &suspend.Guard{Policy: d.cfg.OnSuspend, Clock: clock, Alarm: alarm, Fire: d.fireSuspend, Logf: d.logf}
	g.Start()
	d.mu.Lock()
	d.guard = g
	d.mu.Unlock()
	if g.Policy.Mode != suspend.Allow {
		d.addTrigger(suspendTrigger)
	}
	d.setWatch(suspendTrigger, func() control.Watch { return suspendWatch(g.Status()) })
	return g
}

// suspendWatch describes the policy for the status's trigger list.
func suspendWatch(st suspend.Status) control.Watch {
	w := control.Watch{Trigger: suspendTrigger, On: st.Policy != "allow"}
	switch {
	case !w.On:
		w.What = "off: on_suspend = allow: the disk keys stay in RAM while the machine is suspended (on_suspend = wipe or wipe-after in ramwipe.conf)"
	case st.Policy == "wipe":
		w.What = "on_suspend = wipe: a suspend request wipes memory and powers off instead (hibernation is allowed)"
	default:
		w.What = fmt.Sprintf("on_suspend = %s: suspend with an RTC wake alarm; if it wakes the machine, wipe (hibernation is allowed)", st.Policy)
	}
	if !st.Deadline.IsZero() {
		w.What += fmt.Sprintf("; alarm pending: wipes at %s unless woken before", st.Deadline.Format(time.RFC3339))
	}
	if st.Problem != "" {
		w.What += "; " + st.Problem
	}
	return w
}

// suspendStatus is the policy's part of the status; nil before the guard
// runs.
func (d *daemon) suspendStatus() *control.SuspendStatus {
	d.mu.Lock()
	g := d.guard
	d.mu.Unlock()
	if g == nil {
		return nil
	}
	st := g.Status()
	s := &control.SuspendStatus{Policy: st.Policy, Problem: st.Problem}
	if !st.Deadline.IsZero() {
		s.Deadline = &st.Deadline
	}
	return s
}

// handleSleep serves the sleep hook's request (root only): "pre-suspend"
// before a sleep, "post-suspend" after it.
func (d *daemon) handleSleep(p control.Peer, arg string) (string, error) {
	if p.UID != 0 {
		return "", errors.New("sleep: only root may send this (systemd-sleep runs the hook as root)")
	}
	e, err := suspend.ParseEvent(arg)
	if err != nil {
		return "", err
	}
	d.mu.Lock()
	g := d.guard
	d.mu.Unlock()
	if g == nil {
		return "", errors.New("sleep: the on_suspend policy is not running yet")
	}
	if e.Phase == suspend.Pre {
		return g.Pre(e)
	}
	return g.Post(e)
}

// fireSuspend is the guard's FireFunc: the suspend trigger fires, as any
// trigger does (a rehearsal takes it; a dry run only logs). Nothing is
// logged before the panic sequence runs.
func (d *daemon) fireSuspend(why string) (string, error) {
	rehearsed, err := d.fire(suspendTrigger, suspendTrigger+" ("+why+")")
	switch {
	case rehearsed:
		d.logf("test: %s — the rehearsal took it; nothing wiped", why)
		return "rehearsal: suspend trigger seen — would wipe now; nothing was wiped", nil
	case errors.Is(err, errDryRun):
		return d.dryRunPanic(), nil
	case err != nil:
		return "", fmt.Errorf("the panic sequence did not finish: %v", err)
	}
	return "wiped", nil
}
