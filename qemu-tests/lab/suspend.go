package lab

import (
	"context"
	"math"
	"strings"
	"time"
)

// SuspendRun is what an on_suspend scenario saw (the triggers
// "sleep-wipe", "sleep-allow", "sleep-alarm" and "sleep-owner"): the guest's
// agent runs ramwipe's sleep hook as systemd-sleep would, around a suspend
// to RAM.
type SuspendRun struct {
	// PreReply and PostReply are the hook's output (the "LAB SLEEP …"
	// lines); PreReply is empty when the pre request never returned (the
	// wipe ran instead).
	PreReply  string `json:"pre_reply,omitempty"`
	PostReply string `json:"post_reply,omitempty"`
	// Slept: QEMU reported the guest suspended.
	Slept bool `json:"slept"`
	// WokenBy is "rtc" (QEMU woke the guest by itself: its RTC alarm) or
	// "owner" (the lab's QMP system_wakeup); AsleepS is SUSPEND → WAKEUP on
	// the host's clock.
	WokenBy string  `json:"woken_by,omitempty"`
	AsleepS float64 `json:"asleep_s,omitempty"`
	// Judged is ramwiped's judgement of the wake, from its log.
	Judged string `json:"judged,omitempty"`
	// QuietPastDeadlineS: after the owner's wake, the guest ran this long
	// after the suspend (past the deadline) and nothing fired.
	QuietPastDeadlineS float64 `json:"quiet_past_deadline_s,omitempty"`
}

// wipeAfterDelay is the delay of the lab's wipe-after scenarios
// (on_suspend = wipe-after 60s), and ownerWakeAfter when the "owner" wakes
// the guest in sleep-owner.
const (
	wipeAfterDelay = 60 * time.Second
	ownerWakeAfter = 20 * time.Second
)

// sleep runs one of the on_suspend triggers and returns when the lab fired
// the trigger, on the host's clock: when it asked the guest to sleep
// (sleep-wipe), when QEMU's RTC woke it (sleep-alarm), or when it kexecs
// into the do-nothing image after a harmless sleep (sleep-allow,
// sleep-owner).
func (rec *Record) sleep(ctx context.Context, vm *VM, trigger string, fail func(string, ...any)) (time.Time, bool) {
	rec.Suspend = &SuspendRun{}
	at := time.Now()
	if err := vm.Send("sleep"); err != nil {
		fail("send sleep: %v", err)
		return at, false
	}
	if trigger == "sleep-wipe" {
		return at, true
	}
	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := waitEvent(wctx, vm, "SUSPEND", ""); err != nil {
		fail("suspend: %v\n%s", err, tail(vm.Lines(), 10))
		return at, false
	}
	slept := time.Now()
	rec.Suspend.Slept = true
	rec.Suspend.PreReply = sleepLine(vm, "LAB SLEEP PRE")
	switch trigger {
	case "sleep-alarm":
		// Nobody wakes it: QEMU's RTC must.
		actx, cancel := context.WithTimeout(ctx, 3*wipeAfterDelay)
		defer cancel()
		if err := waitEvent(actx, vm, "WAKEUP", ""); err != nil {
			fail("the RTC alarm did not wake the guest: %v\n%s", err, tail(vm.Lines(), 10))
			return at, false
		}
		woke := time.Now()
		rec.Suspend.WokenBy, rec.Suspend.AsleepS = "rtc", woke.Sub(slept).Seconds()
		return woke, true
	case "sleep-allow":
		time.Sleep(3 * time.Second)
	case "sleep-owner":
		time.Sleep(ownerWakeAfter)
	}
	if _, err := vm.QMP.Execute(ctx, "system_wakeup", nil); err != nil {
		fail("system_wakeup: %v", err)
		return at, false
	}
	rec.Suspend.WokenBy, rec.Suspend.AsleepS = "owner", time.Since(slept).Seconds()
	if _, err := vm.WaitLine(wctx, "LAB SLEEP POST"); err != nil {
		fail("no post hook after the wake: %v\n%s", err, tail(vm.Lines(), 10))
		return at, false
	}
	rec.Suspend.PostReply = sleepLine(vm, "LAB SLEEP POST")
	quiet := 5 * time.Second
	if trigger == "sleep-owner" {
		// Past the deadline, with the margin and more.
		quiet = max(time.Until(slept.Add(wipeAfterDelay+15*time.Second)), quiet)
	}
	if !rec.quiet(vm, "the owner's wake", quiet, fail) {
		return at, false
	}
	if trigger == "sleep-owner" {
		rec.Suspend.QuietPastDeadlineS = time.Since(slept).Seconds()
	}
	rec.Suspend.Judged = judged(vm)
	at = time.Now()
	if err := vm.Send("kexec"); err != nil {
		fail("send kexec: %v", err)
		return at, false
	}
	return at, true
}

// sleepLine returns the last console line that starts with prefix.
func sleepLine(vm *VM, prefix string) string {
	text := ""
	for _, l := range vm.Lines() {
		if strings.HasPrefix(l.Text, prefix) {
			text = l.Text
		}
	}
	return text
}

// judged returns ramwiped's last "sleep: …" log line after the pre
// request's.
func judged(vm *VM) string {
	text := ""
	for _, l := range tailLines(vm.Lines(), math.MaxInt) {
		if i := strings.Index(l.Text, `msg="sleep: `); i >= 0 && !strings.Contains(l.Text, "with an RTC wake alarm at") {
			text = strings.TrimSuffix(l.Text[i+len(`msg="`):], `"`)
		}
	}
	return text
}

// checkSleep checks what the on_suspend scenario saw, after the guest
// went down.
func (rec *Record) checkSleep(vm *VM, trigger string, fail func(string, ...any)) {
	s := rec.Suspend
	if s == nil {
		return
	}
	if s.Judged == "" {
		s.Judged = judged(vm)
	}
	pre := sleepLine(vm, "LAB SLEEP PRE")
	switch trigger {
	case "sleep-wipe":
		if pre != "" {
			fail("under on_suspend = wipe the pre request returned: %q", pre)
		}
	case "sleep-alarm":
		// ramwiped logs nothing before a panic: the panic's first mark
		// after the pre request is the judgement (it may reach the
		// console before the agent's "LAB RESUMED": both are thawed
		// together).
		asleep, marked := false, false
		for _, l := range vm.Lines() {
			asleep = asleep || strings.HasPrefix(l.Text, "LAB SLEEP PRE")
			if m := markRE.FindStringSubmatch(l.Text); m != nil && m[2] == "trigger" && asleep {
				marked = true
			}
		}
		if !marked {
			fail("no panic after the sleep: %q", s.Judged)
		}
		if strings.Contains(s.Judged, "the owner's wake") {
			fail("ramwiped took the RTC's wake for the owner's: %q", s.Judged)
		}
		if s.AsleepS < wipeAfterDelay.Seconds()-5 {
			fail("the guest woke after %.1fs, before the %v deadline", s.AsleepS, wipeAfterDelay)
		}
	case "sleep-owner":
		if !strings.Contains(s.Judged, "the owner's wake") || !strings.Contains(s.PostReply, "the owner's wake") {
			fail("ramwiped did not judge the wake the owner's: %q; the post hook said %q", s.Judged, s.PostReply)
		}
	case "sleep-allow":
		if !strings.Contains(pre, "allowed (on_suspend = allow)") {
			fail("the pre hook did not allow the suspend: %q", pre)
		}
	}
}
