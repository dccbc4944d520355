package suspend

import (
	"fmt"
	"sync"
	"time"
)

// Clock reads the clocks the [Guard] compares; tests fake it.
type Clock interface {
	// Boottime is CLOCK_BOOTTIME: the time since boot, time spent
	// suspended included.
	Boottime() time.Duration
	// Suspended is CLOCK_BOOTTIME − CLOCK_MONOTONIC: the time spent
	// suspended since boot. It grows only while the machine sleeps.
	Suspended() time.Duration
	// Now is the wall clock (without Go's monotonic reading, which stops
	// while the machine sleeps).
	Now() time.Time
	// AtBoottime calls f once CLOCK_BOOTTIME reaches at — right after the
	// resume if that moment passed while the machine slept — unless stop
	// is called first.
	AtBoottime(at time.Duration, f func()) (stop func(), err error)
}

// Alarm is the RTC wake alarm; tests fake it.
type Alarm interface {
	// Probe says whether the alarm can be set, without setting it.
	Probe() error
	// Set arms the alarm for after from now, replacing any alarm set
	// before, and returns what the alarm reads once set.
	Set(after time.Duration) (string, error)
	// Read returns the alarm pending now, "" if none (it fired, or was
	// never set, or was cleared).
	Read() (string, error)
	// Clear cancels the alarm.
	Clear() error
}

// FireFunc runs the panic sequence for the trigger "suspend", saying why.
// It returns only if a rehearsal took the firing, in a dry run, or if
// the sequence failed; the text is for the sleep hook's caller.
type FireFunc func(why string) (string, error)

// minSleep is the growth of [Clock.Suspended] that counts as a sleep.
const minSleep = time.Second

// Guard applies a [Policy] to sleep hook requests and resumes. Set its
// fields, call [Guard.Start], then use it from any goroutine.
type Guard struct {
	Policy Policy
	Clock  Clock
	Alarm  Alarm
	Fire   FireFunc
	// Logf receives what the guard decides; nil discards. Nothing is
	// logged before Fire is called: the log may go to a disk the panic
	// takes away.
	Logf func(string, ...any)

	mu sync.Mutex
	// base is Clock.Suspended as last seen awake.
	base time.Duration
	// announced is the event of the last pre request, until its post
	// request or the resume.
	announced *Event
	// pending is the wipe-after alarm set at pre, until the resume.
	pending *deadline
	// alarmErr is why the alarm cannot be set, found by Start.
	alarmErr error
	// judged is the judgement of the wake since the last pre request,
	// for the post request that finds the wake judged already.
	judged string
}

// deadline is one wipe-after alarm: when the machine must wake up by, on
// each clock, and what the RTC read once set.
type deadline struct {
	at    time.Duration // CLOCK_BOOTTIME
	wall  time.Time
	boot0 time.Duration // CLOCK_BOOTTIME and the wall clock when it was set
	wall0 time.Time
	alarm string
	stop  func()
}

// Status is what the guard tells ramwipe status.
type Status struct {
	Policy string
	// Deadline is when a pending wipe-after alarm fires; zero if none.
	Deadline time.Time
	// Problem says why the policy cannot work as asked, and what happens
	// instead; empty if nothing is wrong.
	Problem string
}

// Start takes the clocks' state as the starting point and, for
// wipe-after, checks that the RTC alarm can be set.
func (g *Guard) Start() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.base = g.Clock.Suspended()
	if g.Policy.Mode == WipeAfter {
		if err := g.Alarm.Probe(); err != nil {
			g.alarmErr = err
			g.logf("on_suspend = %v: the RTC wake alarm cannot be set (%v): a suspend will wipe at once", g.Policy, err)
		}
	}
}

// Status returns the policy, a pending deadline and any problem.
func (g *Guard) Status() Status {
	g.mu.Lock()
	defer g.mu.Unlock()
	st := Status{Policy: g.Policy.String()}
	if g.pending != nil {
		st.Deadline = g.pending.wall
	}
	if g.alarmErr != nil {
		st.Problem = fmt.Sprintf("the RTC wake alarm cannot be set (%v): a suspend wipes at once instead", g.alarmErr)
	}
	return st
}

func (g *Guard) logf(format string, args ...any) {
	if g.Logf != nil {
		g.Logf(format, args...)
	}
}

// Pre serves the sleep hook's pre request: it returns once the machine
// may sleep, with a text for the hook. Under wipe it runs the panic
// sequence, and returns only if that does not take the machine away.
func (g *Guard) Pre(e Event) (string, error) {
	g.mu.Lock()
	if why, _ := g.judge("pre"); why != "" {
		// A sleep before this one was not judged yet, and wipes.
		g.mu.Unlock()
		return g.Fire(why)
	}
	ev := e
	g.announced = &ev
	g.judged = ""
	if g.pending != nil {
		g.pending.stop()
		g.pending = nil
	}
	switch {
	case !e.KeepsRAM():
		g.mu.Unlock()
		g.logf("sleep: %s allowed (on_suspend = %v): memory is written to the hibernation image, then powered off", e.Kind, g.Policy)
		return fmt.Sprintf("%s: allowed under on_suspend = %v; the keys go into the hibernation image (keep swap encrypted)", e.Kind, g.Policy), nil
	case g.Policy.Mode == Allow:
		g.mu.Unlock()
		g.logf("sleep: %s allowed (on_suspend = allow): the keys stay in RAM while the machine sleeps", e.Kind)
		return fmt.Sprintf("%s: allowed (on_suspend = allow); the keys stay in RAM while the machine sleeps", e.Kind), nil
	case g.Policy.Mode == Wipe:
		g.mu.Unlock()
		return g.Fire(fmt.Sprintf("%s requested, on_suspend = wipe", e.Kind))
	}
	// wipe-after: the deadline is taken before the alarm is set, so that
	// it is never later than the alarm.
	boot0, wall0 := g.Clock.Boottime(), g.Clock.Now().Round(0)
	token, err := g.Alarm.Set(g.Policy.After)
	if err != nil {
		g.mu.Unlock()
		return g.Fire(fmt.Sprintf("%s requested, on_suspend = %v, but the RTC wake alarm could not be set: %v", e.Kind, g.Policy, err))
	}
	p := &deadline{at: boot0 + g.Policy.After, wall: wall0.Add(g.Policy.After), boot0: boot0, wall0: wall0, alarm: token, stop: func() {}}
	stop, err := g.Clock.AtBoottime(p.at, func() { g.check("deadline") })
	if err != nil {
		g.logf("sleep: deadline timer: %v; the resume is still noticed by the clocks and the post hook", err)
	} else {
		p.stop = stop
	}
	g.pending = p
	g.base = g.Clock.Suspended()
	g.mu.Unlock()
	g.logf("sleep: %s with an RTC wake alarm at %s (on_suspend = %v): a wake before then cancels it, the alarm's wipes", e.Kind, p.wall.Format(time.RFC3339), g.Policy)
	return fmt.Sprintf("%s: RTC wake alarm set for %s (on_suspend = %v): wake the machine before then, or it wipes", e.Kind, p.wall.Format(time.RFC3339), g.Policy), nil
}

// Post serves the sleep hook's post request: it judges the wake.
func (g *Guard) Post(e Event) (string, error) {
	text, err := g.check("post")
	if text == "" {
		g.mu.Lock()
		text, g.judged = g.judged, ""
		g.mu.Unlock()
	}
	if text == "" {
		text = "nothing to do"
	}
	return fmt.Sprintf("%s: %s", e.Kind, text), err
}

// Resumed is called when the machine may have resumed (the wall clock was
// set, or jumped): it judges the wake if there was a sleep.
func (g *Guard) Resumed() { g.check("resume") }

// check judges the time since the last look and fires if that says so.
func (g *Guard) check(source string) (string, error) {
	g.mu.Lock()
	why, note := g.judge(source)
	if note != "" && source != "post" {
		g.judged = fmt.Sprintf("judged at the %s: %s", source, note)
	}
	g.mu.Unlock()
	if why != "" {
		text, err := g.Fire(why)
		g.logf("sleep: %s (%s); %s", why, source, text)
		return text, err
	}
	if note != "" {
		g.logf("sleep: %s (%s)", note, source)
	}
	return note, nil
}

// judge looks at the clocks: if the machine slept since the last look it
// returns why to wipe, or a note saying why not. g.mu is held.
func (g *Guard) judge(source string) (why, note string) {
	s := g.Clock.Suspended()
	slept := s - g.base
	if slept < minSleep {
		if source == "post" {
			g.announced = nil
		}
		if g.pending != nil && (source == "post" || source == "deadline") {
			// The suspend failed, or never came: nothing slept.
			g.cancel()
			return "", "the machine did not sleep since the pre hook: RTC alarm cancelled"
		}
		return "", ""
	}
	g.base = s
	ann, p := g.announced, g.pending
	g.announced, g.pending = nil, nil
	switch {
	case p != nil:
		p.stop()
		if why := g.alarmWake(p, slept); why != "" {
			return why, ""
		}
		if err := g.Alarm.Clear(); err != nil {
			g.logf("sleep: cancel the RTC alarm: %v", err)
		}
		return "", fmt.Sprintf("woke after %v asleep, %v before the deadline: the owner's wake; the RTC alarm is cancelled", round(slept), round(p.at-g.Clock.Boottime()))
	case ann != nil:
		return "", fmt.Sprintf("resumed after %v asleep (%s, on_suspend = %v)", round(slept), ann.Kind, g.Policy)
	}
	// A sleep nobody announced: no pre hook ran.
	switch g.Policy.Mode {
	case Wipe:
		return fmt.Sprintf("the machine slept %v without the sleep hook asking first; on_suspend = wipe", round(slept)), ""
	case WipeAfter:
		if slept >= g.Policy.After-margin(g.Policy.After) {
			return fmt.Sprintf("the machine slept %v without the sleep hook asking first (no alarm was set); on_suspend = %v", round(slept), g.Policy), ""
		}
		return "", fmt.Sprintf("the machine slept %v without the sleep hook asking first; shorter than on_suspend = %v", round(slept), g.Policy)
	}
	return "", fmt.Sprintf("resumed after %v asleep (no sleep hook ran; on_suspend = allow)", round(slept))
}

// alarmWake says why a wake after a wipe-after sleep is the alarm's, or
// may be; "" if it is surely the owner's.
func (g *Guard) alarmWake(p *deadline, slept time.Duration) string {
	boot, wall := g.Clock.Boottime(), g.Clock.Now().Round(0)
	m := margin(g.Policy.After)
	if boot >= p.at-m {
		return fmt.Sprintf("woken at the deadline after %v asleep (CLOCK_BOOTTIME %v past the pre hook, on_suspend = %v)", round(slept), round(boot-p.boot0), g.Policy)
	}
	if !wall.Before(p.wall.Add(-m)) {
		return fmt.Sprintf("woken after %v asleep: the wall clock is past the deadline %s (on_suspend = %v)", round(slept), p.wall.Format(time.RFC3339), g.Policy)
	}
	byBoot, byWall := boot-p.boot0, wall.Sub(p.wall0)
	if d := byBoot - byWall; d > m || d < -m {
		return fmt.Sprintf("woken after %v asleep, but the clocks disagree: %v by CLOCK_BOOTTIME, %v by the wall clock since the pre hook; wiping to be safe", round(slept), round(byBoot), round(byWall))
	}
	cur, err := g.Alarm.Read()
	switch {
	case err != nil:
		return fmt.Sprintf("woken after %v asleep, but the RTC alarm cannot be read (%v); wiping to be safe", round(slept), err)
	case cur == "":
		return fmt.Sprintf("woken after %v asleep, before the deadline, but the RTC alarm is gone (it fired, or someone cleared it); wiping to be safe", round(slept))
	case cur != p.alarm:
		return fmt.Sprintf("woken after %v asleep, but the RTC alarm reads %q, not %q as set; wiping to be safe", round(slept), cur, p.alarm)
	}
	return ""
}

// cancel forgets the pending alarm and clears it. g.mu is held.
func (g *Guard) cancel() {
	if g.pending == nil {
		return
	}
	g.pending.stop()
	g.pending = nil
	if err := g.Alarm.Clear(); err != nil {
		g.logf("sleep: cancel the RTC alarm: %v", err)
	}
}

func round(d time.Duration) time.Duration { return d.Round(100 * time.Millisecond) }
