package suspend

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
)

// Mode is what a suspend does.
type Mode int

// The modes of on_suspend.
const (
	// Allow suspends as usual.
	Allow Mode = iota
	// Wipe runs the panic sequence instead of sleeping.
	Wipe
	// WipeAfter sleeps with an RTC wake alarm, and wipes if the alarm
	// wakes the machine.
	WipeAfter
)

// Bounds of the wipe-after delay. The upper one is what most RTCs can
// wake at: many keep alarms only within the next 24 hours.
const (
	MinDelay = 10 * time.Second
	MaxDelay = 24 * time.Hour
)

// Policy is ramwipe.conf's on_suspend setting.
type Policy struct {
	Mode Mode
	// After is the delay of WipeAfter, a whole number of seconds.
	After time.Duration
}

// String returns the policy as ramwipe.conf writes it: "allow", "wipe",
// "wipe-after 30m0s".
func (p Policy) String() string {
	switch p.Mode {
	case Allow:
		return "allow"
	case Wipe:
		return "wipe"
	case WipeAfter:
		return "wipe-after " + p.After.String()
	}
	return fmt.Sprintf("Mode(%d)", int(p.Mode))
}

// maxPolicyLen bounds what ParsePolicy reads.
const maxPolicyLen = 64

// ParsePolicy reads an on_suspend value: "allow", "wipe" or "wipe-after
// DURATION", the words separated by blanks; DURATION as Go writes
// durations (90s, 30m, 1h30m), a whole number of seconds from [MinDelay] to
// [MaxDelay]. Its errors say what to write instead.
func ParsePolicy(s string) (Policy, error) {
	if len(s) > maxPolicyLen {
		return Policy{}, fmt.Errorf("longer than %d bytes: want allow, wipe or wipe-after DURATION", maxPolicyLen)
	}
	f := strings.Fields(s)
	switch {
	case len(f) == 1 && f[0] == "allow":
		return Policy{Mode: Allow}, nil
	case len(f) == 1 && f[0] == "wipe":
		return Policy{Mode: Wipe}, nil
	case len(f) == 1 && f[0] == "wipe-after":
		return Policy{}, errors.New("wipe-after needs a delay, e.g. wipe-after 30m")
	case len(f) == 2 && f[0] == "wipe-after":
		d, err := time.ParseDuration(f[1])
		if err != nil {
			return Policy{}, fmt.Errorf("wipe-after %q: want a duration such as 90s, 30m or 2h", trunc(f[1]))
		}
		if d < MinDelay || d > MaxDelay {
			return Policy{}, fmt.Errorf("wipe-after %v: want from %v to %v (most RTCs cannot wake the machine later than a day ahead)", d, MinDelay, MaxDelay)
		}
		if d%time.Second != 0 {
			return Policy{}, fmt.Errorf("wipe-after %v: want whole seconds (the RTC counts seconds)", d)
		}
		return Policy{Mode: WipeAfter, After: d}, nil
	}
	return Policy{}, fmt.Errorf("%q: want allow, wipe or wipe-after DURATION (e.g. wipe-after 30m)", trunc(s))
}

// Phase is when systemd-sleep runs the hook.
type Phase string

// The phases.
const (
	Pre  Phase = "pre"
	Post Phase = "post"
)

// The sleep types systemd-sleep passes to its hooks (systemd-sleep(8)).
const (
	Suspend              = "suspend"
	Hibernate            = "hibernate"
	HybridSleep          = "hybrid-sleep"
	SuspendThenHibernate = "suspend-then-hibernate"
)

// Event is one run of the sleep hook: a phase and a sleep type.
type Event struct {
	Phase Phase
	Kind  string
}

// Arg returns e as the control request's argument: "pre-suspend".
func (e Event) Arg() string { return string(e.Phase) + "-" + e.Kind }

// KeepsRAM reports whether the sleep keeps memory powered (all but
// hibernate).
func (e Event) KeepsRAM() bool { return e.Kind != Hibernate }

// HookEvent reads the hook's arguments as systemd-sleep passes them:
// "pre suspend", "post hybrid-sleep".
func HookEvent(args []string) (Event, error) {
	if len(args) != 2 {
		return Event{}, fmt.Errorf("want two arguments, pre|post and %s, as systemd-sleep passes them; got %d", strings.Join(kinds, "|"), len(args))
	}
	return event(args[0], args[1])
}

// ParseEvent reads a control request's argument, "pre-suspend" (see
// [Event.Arg]). It is strict: it succeeds only on what Arg returns.
func ParseEvent(arg string) (Event, error) {
	phase, kind, ok := strings.Cut(arg, "-")
	if !ok {
		return Event{}, fmt.Errorf("sleep %q: want pre-TYPE or post-TYPE, TYPE one of %s", trunc(arg), strings.Join(kinds, ", "))
	}
	return event(phase, kind)
}

var kinds = []string{Suspend, Hibernate, HybridSleep, SuspendThenHibernate}

func event(phase, kind string) (Event, error) {
	if phase != string(Pre) && phase != string(Post) {
		return Event{}, fmt.Errorf("sleep phase %q: want pre or post", trunc(phase))
	}
	for _, k := range kinds {
		if kind == k {
			return Event{Phase: Phase(phase), Kind: kind}, nil
		}
	}
	return Event{}, fmt.Errorf("sleep type %q: want %s", trunc(kind), strings.Join(kinds, ", "))
}

// trunc cuts s for an error message.
func trunc(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// margin is how far before the deadline a wake still counts as the
// alarm's, and how far the clocks may disagree: 3 s (the RTC counts whole
// seconds, a resume takes time) and 0.1 % of the delay (clock drift).
func margin(after time.Duration) time.Duration {
	return 3*time.Second + time.Duration(math.Ceil(float64(after)/1000))
}
