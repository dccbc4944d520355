package main

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ramwipe/ramwipe/trigger/control"
	"github.com/ramwipe/ramwipe/trigger/suspend"
)

// sleepClock is a machine's clocks, moved by the test.
type sleepClock struct {
	mu         sync.Mutex
	boot, susp time.Duration
	wall       time.Time
}

func (c *sleepClock) Boottime() time.Duration  { c.mu.Lock(); defer c.mu.Unlock(); return c.boot }
func (c *sleepClock) Suspended() time.Duration { c.mu.Lock(); defer c.mu.Unlock(); return c.susp }
func (c *sleepClock) Now() time.Time           { c.mu.Lock(); defer c.mu.Unlock(); return c.wall }
func (c *sleepClock) AtBoottime(time.Duration, func()) (func(), error) {
	return func() {}, nil
}
func (c *sleepClock) sleep(d time.Duration) {
	c.mu.Lock()
	c.boot += d
	c.susp += d
	c.wall = c.wall.Add(d)
	c.mu.Unlock()
}

// rtc is an RTC alarm that is set, read and cleared, and never fires.
type rtc struct {
	mu  sync.Mutex
	val string
}

func (r *rtc) Probe() error { return nil }
func (r *rtc) Set(after time.Duration) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.val = "1800000060"
	return r.val, nil
}
func (r *rtc) Read() (string, error) { r.mu.Lock(); defer r.mu.Unlock(); return r.val, nil }
func (r *rtc) Clear() error          { r.mu.Lock(); defer r.mu.Unlock(); r.val = ""; return nil }

func sleepDaemon(t *testing.T, p *fakePlatform, armed bool, policy string) (*daemon, *sleepClock) {
	t.Helper()
	cfg := DefaultConfig()
	pol, err := suspend.ParsePolicy(policy)
	require.NoError(t, err)
	cfg.OnSuspend = pol
	d := newDaemon(p, armed, cfg)
	d.arm()
	clock := &sleepClock{boot: time.Hour, wall: time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)}
	d.newGuard(clock, &rtc{})
	p.called()
	return d, clock
}

var root = control.Peer{UID: 0, PID: 1}

func sleepRequest(d *daemon, peer control.Peer, arg string) (string, error) {
	return d.handle(context.Background(), peer, control.Request{Command: control.CommandSleep, Arg: arg})
}

// TestSleepHookWipes: under on_suspend = wipe the hook's pre request is
// the suspend trigger: keys erased, kexec, power off, before any reply.
func TestSleepHookWipes(t *testing.T) {
	p := &fakePlatform{cmdline: "memtest=1"}
	d, _ := sleepDaemon(t, p, true, "wipe")
	assert.Contains(t, status(t, d).Triggers, "suspend")
	_, err := sleepRequest(d, root, "pre-suspend")
	require.Error(t, err, "the fake machine neither kexecs nor powers off")
	assert.Equal(t, []string{"erase", "kexec", "poweroff"}, p.called())
}

func TestSleepHookRootOnly(t *testing.T) {
	p := &fakePlatform{cmdline: "memtest=1"}
	d, _ := sleepDaemon(t, p, true, "wipe")
	_, err := sleepRequest(d, control.Peer{UID: 1000, GID: 1000}, "pre-suspend")
	require.ErrorContains(t, err, "only root")
	_, err = sleepRequest(d, root, "pre-sleep")
	require.ErrorContains(t, err, "sleep type")
	assert.Empty(t, p.called())
}

func TestSleepHookDryRun(t *testing.T) {
	p := &fakePlatform{cmdline: "memtest=1"}
	d, _ := sleepDaemon(t, p, false, "wipe")
	text, err := sleepRequest(d, root, "pre-suspend")
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(text, control.DryRunPrefix), text)
	text, err = sleepRequest(d, root, "pre-hibernate")
	require.NoError(t, err)
	assert.Contains(t, text, "hibernate: allowed")
	assert.Empty(t, p.called())
}

// TestRehearseSuspend: ramwipe test suspend takes the next firing.
func TestRehearseSuspend(t *testing.T) {
	p := &fakePlatform{cmdline: "memtest=1"}
	d, _ := sleepDaemon(t, p, true, "wipe")
	done := make(chan string, 1)
	go func() {
		text, err := d.Test(context.Background(), "suspend")
		assert.NoError(t, err)
		done <- text
	}()
	for {
		d.mu.Lock()
		_, ok := d.rehearse["suspend"]
		d.mu.Unlock()
		if ok {
			break
		}
		time.Sleep(time.Millisecond)
	}
	text, err := sleepRequest(d, root, "pre-suspend")
	require.NoError(t, err)
	assert.Contains(t, text, "rehearsal")
	assert.Equal(t, "suspend trigger seen — would wipe now; nothing was wiped", <-done)
	assert.Empty(t, p.called(), "nothing wiped")
}

func TestSuspendStatus(t *testing.T) {
	p := &fakePlatform{cmdline: "memtest=1"}
	d, clock := sleepDaemon(t, p, true, "wipe-after 60s")
	st := status(t, d)
	require.NotNil(t, st.Suspend)
	assert.Equal(t, "wipe-after 1m0s", st.Suspend.Policy)
	assert.Nil(t, st.Suspend.Deadline)

	text, err := sleepRequest(d, root, "pre-suspend")
	require.NoError(t, err)
	assert.Contains(t, text, "RTC wake alarm set for 2026-12-03T12:01:00Z")
	st = status(t, d)
	require.NotNil(t, st.Suspend.Deadline)
	assert.Equal(t, time.Date(2026, 12, 3, 12, 1, 0, 0, time.UTC), st.Suspend.Deadline.UTC())
	w := st.Watching[len(st.Watching)-1]
	assert.Equal(t, "suspend", w.Trigger)
	assert.Contains(t, w.What, "alarm pending: wipes at 2026-12-03T12:01:00Z")

	clock.sleep(20 * time.Second) // the owner wakes it
	text, err = sleepRequest(d, root, "post-suspend")
	require.NoError(t, err)
	assert.Contains(t, text, "the owner's wake")
	assert.Nil(t, status(t, d).Suspend.Deadline)
	assert.Empty(t, p.called())
}

func TestSuspendAllow(t *testing.T) {
	p := &fakePlatform{cmdline: "memtest=1"}
	d, _ := sleepDaemon(t, p, true, "allow")
	st := status(t, d)
	assert.NotContains(t, st.Triggers, "suspend")
	w := st.Watching[len(st.Watching)-1]
	assert.False(t, w.On)
	assert.Contains(t, w.What, "keys stay in RAM")
	_, err := d.Test(context.Background(), "suspend")
	assert.ErrorContains(t, err, "not active")
	text, err := sleepRequest(d, root, "pre-suspend")
	require.NoError(t, err)
	assert.Contains(t, text, "allowed")
	assert.Empty(t, p.called())
}
