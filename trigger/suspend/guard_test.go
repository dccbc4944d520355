package suspend

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeClock is a machine's clocks: awake moves all but Suspended, sleep
// moves all.
type fakeClock struct {
	mu         sync.Mutex
	boot, susp time.Duration
	wall       time.Time
	timerAt    time.Duration
	timerF     func()
	timerStops int
	timerErr   error
	wallSkew   time.Duration // added to the wall clock by sleep (someone set it)
}

func newClock() *fakeClock {
	return &fakeClock{boot: time.Hour, wall: time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Boottime() time.Duration  { c.mu.Lock(); defer c.mu.Unlock(); return c.boot }
func (c *fakeClock) Suspended() time.Duration { c.mu.Lock(); defer c.mu.Unlock(); return c.susp }
func (c *fakeClock) Now() time.Time           { c.mu.Lock(); defer c.mu.Unlock(); return c.wall }
func (c *fakeClock) AtBoottime(at time.Duration, f func()) (func(), error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.timerErr != nil {
		return nil, c.timerErr
	}
	c.timerAt, c.timerF = at, f
	return func() {
		c.mu.Lock()
		c.timerStops++
		c.timerF = nil
		c.mu.Unlock()
	}, nil
}

func (c *fakeClock) awake(d time.Duration) {
	c.mu.Lock()
	c.boot += d
	c.wall = c.wall.Add(d)
	c.mu.Unlock()
}

// sleep sleeps d; if the timer's time passes, it fires after the resume,
// as a CLOCK_BOOTTIME timerfd does.
func (c *fakeClock) sleep(d time.Duration) {
	c.mu.Lock()
	c.boot += d
	c.susp += d
	c.wall = c.wall.Add(d + c.wallSkew)
	f := c.timerF
	fire := f != nil && c.boot >= c.timerAt
	if fire {
		c.timerF = nil
	}
	c.mu.Unlock()
	if fire {
		f()
	}
}

type fakeAlarm struct {
	mu       sync.Mutex
	probeErr error
	setErr   error
	readErr  error
	value    string
	sets     []time.Duration
	clears   int
}

func (a *fakeAlarm) Probe() error { return a.probeErr }
func (a *fakeAlarm) Set(after time.Duration) (string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.setErr != nil {
		return "", a.setErr
	}
	a.sets = append(a.sets, after)
	a.value = fmt.Sprint(1_800_000_000 + int64(after/time.Second))
	return a.value, nil
}
func (a *fakeAlarm) Read() (string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.value, a.readErr
}
func (a *fakeAlarm) Clear() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.clears++
	a.value = ""
	return nil
}

// fired fires the alarm: the RTC disables it.
func (a *fakeAlarm) fired() { a.mu.Lock(); a.value = ""; a.mu.Unlock() }

type rig struct {
	g     *Guard
	clock *fakeClock
	alarm *fakeAlarm
	mu    sync.Mutex
	fires []string
	logs  []string
}

func newRig(t *testing.T, policy string) *rig {
	t.Helper()
	p, err := ParsePolicy(policy)
	require.NoError(t, err)
	r := &rig{clock: newClock(), alarm: &fakeAlarm{}}
	r.g = &Guard{Policy: p, Clock: r.clock, Alarm: r.alarm,
		Fire: func(why string) (string, error) {
			r.mu.Lock()
			r.fires = append(r.fires, why)
			r.mu.Unlock()
			return "dry run: nothing was wiped", nil
		},
		Logf: func(f string, a ...any) {
			r.mu.Lock()
			r.logs = append(r.logs, fmt.Sprintf(f, a...))
			r.mu.Unlock()
		},
	}
	return r
}

func (r *rig) start() *rig { r.g.Start(); return r }

func (r *rig) fired() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.fires...)
}

var (
	preSuspend    = Event{Phase: Pre, Kind: Suspend}
	postSuspend   = Event{Phase: Post, Kind: Suspend}
	preHibernate  = Event{Phase: Pre, Kind: Hibernate}
	postHibernate = Event{Phase: Post, Kind: Hibernate}
)

func TestAllow(t *testing.T) {
	r := newRig(t, "allow").start()
	text, err := r.g.Pre(preSuspend)
	require.NoError(t, err)
	assert.Contains(t, text, "keys stay in RAM")
	r.clock.sleep(time.Hour)
	r.g.Resumed()
	_, err = r.g.Post(postSuspend)
	require.NoError(t, err)
	r.clock.sleep(time.Hour) // unannounced
	r.g.Resumed()
	assert.Empty(t, r.fired())
	assert.Empty(t, r.alarm.sets)
	assert.Equal(t, Status{Policy: "allow"}, r.g.Status())
}

func TestWipe(t *testing.T) {
	for _, kind := range []string{Suspend, HybridSleep, SuspendThenHibernate} {
		r := newRig(t, "wipe").start()
		text, err := r.g.Pre(Event{Phase: Pre, Kind: kind})
		require.NoError(t, err)
		assert.Equal(t, "dry run: nothing was wiped", text)
		require.Len(t, r.fired(), 1, kind)
		assert.Contains(t, r.fired()[0], kind+" requested, on_suspend = wipe")
		assert.Empty(t, r.logs, "nothing is logged before the panic")
		// A dry run or a rehearsal goes on to sleep: that resume, announced,
		// does not fire again.
		r.clock.sleep(time.Minute)
		r.g.Resumed()
		_, _ = r.g.Post(Event{Phase: Post, Kind: kind})
		assert.Len(t, r.fired(), 1)
	}
}

func TestHibernateIsAllowed(t *testing.T) {
	for _, policy := range []string{"allow", "wipe", "wipe-after 60s"} {
		r := newRig(t, policy).start()
		text, err := r.g.Pre(preHibernate)
		require.NoError(t, err)
		assert.Contains(t, text, "hibernation image")
		r.clock.sleep(10 * time.Hour)
		r.g.Resumed()
		_, err = r.g.Post(postHibernate)
		require.NoError(t, err)
		assert.Empty(t, r.fired(), policy)
		assert.Empty(t, r.alarm.sets, policy)
	}
}

func TestWipeUnannounced(t *testing.T) {
	r := newRig(t, "wipe").start()
	r.clock.awake(time.Minute)
	r.g.Resumed() // a clock change, no sleep
	assert.Empty(t, r.fired())
	r.clock.sleep(5 * time.Second)
	r.g.Resumed()
	require.Len(t, r.fired(), 1)
	assert.Contains(t, r.fired()[0], "slept 5s without the sleep hook")
}

func TestWipeAfterOwnerWakes(t *testing.T) {
	r := newRig(t, "wipe-after 60s").start()
	text, err := r.g.Pre(preSuspend)
	require.NoError(t, err)
	assert.Contains(t, text, "RTC wake alarm set for 2026-12-03T12:01:00Z")
	assert.Equal(t, []time.Duration{time.Minute}, r.alarm.sets)
	assert.Equal(t, time.Hour+time.Minute, r.clock.timerAt)
	assert.Equal(t, time.Date(2026, 12, 3, 12, 1, 0, 0, time.UTC), r.g.Status().Deadline)

	r.clock.sleep(20 * time.Second)
	r.g.Resumed() // the daemon notices first
	text, err = r.g.Post(postSuspend)
	require.NoError(t, err)
	assert.Equal(t, "suspend: judged at the resume: woke after 20s asleep, 40s before the deadline: the owner's wake; the RTC alarm is cancelled", text)
	assert.Empty(t, r.fired())
	assert.Equal(t, 1, r.alarm.clears, "the owner's wake cancels the alarm")
	assert.Equal(t, 1, r.clock.timerStops)
	assert.True(t, r.g.Status().Deadline.IsZero())
	assert.Contains(t, r.logs[len(r.logs)-1], "the owner's wake; the RTC alarm is cancelled (resume)")
	// Long after, nothing fires.
	r.clock.awake(time.Hour)
	r.g.Resumed()
	assert.Empty(t, r.fired())
}

func TestWipeAfterPostFirst(t *testing.T) {
	r := newRig(t, "wipe-after 60s").start()
	_, err := r.g.Pre(preSuspend)
	require.NoError(t, err)
	r.clock.sleep(20 * time.Second)
	text, err := r.g.Post(postSuspend)
	require.NoError(t, err)
	assert.Contains(t, text, "the owner's wake")
	r.g.Resumed()
	assert.Empty(t, r.fired())
}

func TestWipeAfterAlarmWakes(t *testing.T) {
	r := newRig(t, "wipe-after 60s").start()
	_, err := r.g.Pre(preSuspend)
	require.NoError(t, err)
	r.alarm.fired()
	r.clock.sleep(61 * time.Second) // the timer fires after the resume
	require.Len(t, r.fired(), 1)
	assert.Contains(t, r.fired()[0], "woken at the deadline after 1m1s asleep")
	// The resume notification and the post hook come after: no second wipe.
	r.g.Resumed()
	_, _ = r.g.Post(postSuspend)
	assert.Len(t, r.fired(), 1)
}

func TestWipeAfterMissingPost(t *testing.T) {
	// Neither hook nor timer: the resume notification alone decides.
	r := newRig(t, "wipe-after 60s").start()
	r.clock.timerErr = errors.New("no timerfd")
	_, err := r.g.Pre(preSuspend)
	require.NoError(t, err)
	r.alarm.fired()
	r.clock.sleep(59 * time.Second) // within the margin: the RTC counts seconds
	r.g.Resumed()
	require.Len(t, r.fired(), 1)
}

func TestWipeAfterDoubt(t *testing.T) {
	tests := []struct {
		name  string
		setup func(r *rig)
		want  string
	}{
		{"clocks disagree", func(r *rig) { r.clock.wallSkew = -30 * time.Second }, "the clocks disagree"},
		{"wall clock past the deadline", func(r *rig) { r.clock.wallSkew = time.Hour }, "the wall clock is past the deadline"},
		{"rtc unreadable", func(r *rig) { r.alarm.readErr = errors.New("EIO") }, "cannot be read (EIO)"},
		{"rtc alarm gone", func(r *rig) { r.alarm.fired() }, "the RTC alarm is gone"},
		{"rtc alarm changed", func(r *rig) { r.alarm.value = "1" }, `reads "1"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, "wipe-after 60s").start()
			_, err := r.g.Pre(preSuspend)
			require.NoError(t, err)
			tt.setup(r)
			r.clock.sleep(20 * time.Second)
			_, err = r.g.Post(postSuspend)
			require.NoError(t, err)
			require.Len(t, r.fired(), 1)
			assert.Contains(t, r.fired()[0], tt.want)
		})
	}
}

func TestWipeAfterAlarmNotSet(t *testing.T) {
	r := newRig(t, "wipe-after 60s")
	r.alarm.probeErr = os.ErrNotExist
	r.alarm.setErr = errors.New("write +60: EINVAL")
	r.start()
	assert.Contains(t, r.g.Status().Problem, "a suspend wipes at once")
	_, err := r.g.Pre(preSuspend)
	require.NoError(t, err)
	require.Len(t, r.fired(), 1)
	assert.Contains(t, r.fired()[0], "the RTC wake alarm could not be set: write +60: EINVAL")
}

func TestWipeAfterSuspendFailed(t *testing.T) {
	r := newRig(t, "wipe-after 60s").start()
	_, err := r.g.Pre(preSuspend)
	require.NoError(t, err)
	r.clock.awake(2 * time.Second)
	text, err := r.g.Post(postSuspend)
	require.NoError(t, err)
	assert.Contains(t, text, "did not sleep")
	assert.Equal(t, 1, r.alarm.clears)
	assert.Empty(t, r.fired())
}

func TestWipeAfterNeverSlept(t *testing.T) {
	// pre, then no suspend and no post: at the deadline, the machine was
	// awake all along; the owner is there.
	r := newRig(t, "wipe-after 60s").start()
	_, err := r.g.Pre(preSuspend)
	require.NoError(t, err)
	r.clock.awake(time.Minute)
	r.clock.mu.Lock()
	f := r.clock.timerF
	r.clock.mu.Unlock()
	f()
	assert.Empty(t, r.fired())
	assert.Equal(t, 1, r.alarm.clears)
}

func TestWipeAfterUnannounced(t *testing.T) {
	r := newRig(t, "wipe-after 60s").start()
	r.clock.sleep(30 * time.Second)
	r.g.Resumed()
	assert.Empty(t, r.fired())
	r.clock.sleep(2 * time.Minute)
	r.g.Resumed()
	require.Len(t, r.fired(), 1)
	assert.Contains(t, r.fired()[0], "no alarm was set")
}

func TestWipeAfterPreAgain(t *testing.T) {
	// Two pre requests without a post: the second alarm replaces the first.
	r := newRig(t, "wipe-after 60s").start()
	_, err := r.g.Pre(preSuspend)
	require.NoError(t, err)
	r.clock.awake(30 * time.Second)
	_, err = r.g.Pre(preSuspend)
	require.NoError(t, err)
	assert.Len(t, r.alarm.sets, 2)
	assert.Equal(t, 1, r.clock.timerStops)
	assert.Equal(t, time.Hour+90*time.Second, r.clock.timerAt)
}

// TestConcurrent: the hook's requests, the resume notification, the
// deadline timer and the status at once (go test -race).
func TestConcurrent(t *testing.T) {
	r := newRig(t, "wipe-after 60s").start()
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Go(func() { _, _ = r.g.Pre(preSuspend) })
		wg.Go(func() { r.clock.sleep(time.Second) })
		wg.Go(r.g.Resumed)
		wg.Go(func() { _, _ = r.g.Post(postSuspend) })
		wg.Go(func() { _ = r.g.Status() })
	}
	wg.Wait()
}

func TestSysfsAlarm(t *testing.T) {
	path := filepath.Join(t.TempDir(), "wakealarm")
	a := SysfsAlarm{Path: path}
	assert.Error(t, a.Probe(), "no file: cannot be set")
	_, err := a.Set(time.Minute)
	assert.Error(t, err)
	require.NoError(t, os.WriteFile(path, nil, 0o644))
	require.NoError(t, a.Probe())
	v, err := a.Set(59500 * time.Millisecond)
	require.NoError(t, err)
	assert.Equal(t, "+60", v, "whole seconds, rounded up")
	require.NoError(t, a.Clear())
	v, err = a.Read()
	require.NoError(t, err)
	assert.Equal(t, "0", v)
}
