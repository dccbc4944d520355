package lab

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// The fault matrix: daemon scenarios whose trigger comes while ramwiped is
// under a fault (a dead rehearsal, a re-arm loop, a socket flood, a hung
// dm-crypt device, its files deleted, triggers at once, no free memory, no
// free CPU). Each must still end in one panic sequence and a verified
// wipe. The guest side is qemu-tests/agent/fault.go.

// Faults are the fault triggers, by [Scenario.Trigger].
var Faults = map[string]bool{
	"fault-rehearsal-killed":  true,
	"fault-rehearsal-expired": true,
	"fault-rearm-loop":        true,
	"fault-flood-panic":       true,
	"fault-flood-hotkey":      true,
	"fault-hung-crypt":        true,
	"fault-files-deleted":     true,
	"fault-triple-trigger":    true,
	"fault-memory-pressure":   true,
	"fault-cpu-saturation":    true,
}

// Fault is what a fault scenario did before its trigger, and what the
// guest's clock says of the panic.
type Fault struct {
	// Setup holds the guest's reports of the fault (its LAB lines, and
	// ramwiped's where they matter), in order.
	Setup []string `json:"setup,omitempty"`
	// Sequences and KeysWiped count ramwiped's "trigger" and "keys-wiped"
	// marks: exactly one panic sequence must run.
	Sequences int `json:"sequences"`
	KeysWiped int `json:"keys_wiped_marks"`
	// SentToKeysMS and SentToKexecMS run from the agent's "ramwipe-lab:
	// panic sent" mark, written to /dev/kmsg just before it ran `ramwipe
	// panic`, to ramwiped's keys-wiped and kexec marks: the guest's clock,
	// the CLI's start-up included. SentToTriggerMS: to the trigger mark.
	SentToTriggerMS float64 `json:"sent_to_trigger_ms,omitempty"`
	SentToKeysMS    float64 `json:"sent_to_keys_wiped_ms,omitempty"`
	SentToKexecMS   float64 `json:"sent_to_kexec_ms,omitempty"`
	// RequestSentToKeysMS: from the moment `ramwipe panic` began to send
	// its request, after its start-up (the request's send time, read on
	// CLOCK_MONOTONIC by the CLI), to the keys erased, as ramwiped says
	// in its "request sent N us before keys-wiped" mark.
	RequestSentToKeysMS float64 `json:"request_sent_to_keys_wiped_ms,omitempty"`
	// MarkToTriggerMS: from each of the agent's other marks ("rehearsal
	// client killed", "rehearsal client gave up") to the trigger mark.
	MarkToTriggerMS map[string]float64 `json:"mark_to_trigger_ms,omitempty"`
	// TriggerSpreadMS: the host's time from the first trigger fired to the
	// last (the triple trigger).
	TriggerSpreadMS float64 `json:"trigger_spread_ms,omitempty"`
	// Swallowed: ramwiped took the real trigger for a rehearsal.
	Swallowed bool `json:"swallowed,omitempty"`
	// CLIStartMS: how long `ramwipe -h` took just before the panic was
	// sent (the agent's cli-probe): the CLI's start-up under the fault.
	CLIStartMS float64 `json:"cli_startup_ms,omitempty"`
	// KeysWithinMS, if set, bounds trigger → keys-wiped; SentWithinMS
	// bounds panic sent → keys-wiped less the CLI's start-up.
	KeysWithinMS float64 `json:"keys_within_ms,omitempty"`
	SentWithinMS float64 `json:"sent_within_ms,omitempty"`
	// RequestWithinMS, if set, bounds RequestSentToKeysMS, which must
	// then have been measured.
	RequestWithinMS float64 `json:"request_within_ms,omitempty"`
}

var (
	labMarkRE     = regexp.MustCompile(`\[\s*(\d+\.\d+)\] ramwipe-lab: (.+)$`)
	requestSentRE = regexp.MustCompile(`ramwipe: panic request sent (\d+) us before keys-wiped`)
)

// fault sets up the scenario's fault and fires its trigger; it returns
// when the lab fired it (host clock).
func (rec *Record) fault(ctx context.Context, vm *VM, name string, fail func(string, ...any)) (time.Time, bool) {
	f := &Fault{}
	rec.Fault = f
	from := len(vm.Lines())
	// wait waits for a console line (after the last one waited for) that
	// contains all of subs, and records it.
	wait := func(d time.Duration, subs ...string) (Line, bool) {
		wctx, cancel := context.WithTimeout(ctx, d)
		defer cancel()
		for {
			lines := vm.Lines()
			for i := from; i < len(lines); i++ {
				ok := true
				for _, s := range subs {
					ok = ok && strings.Contains(lines[i].Text, s)
				}
				if ok {
					from = i + 1
					f.Setup = append(f.Setup, strings.TrimSpace(lines[i].Text))
					return lines[i], true
				}
			}
			from = max(from, len(lines))
			select {
			case <-wctx.Done():
				fail("%s: no console line with %q within %v; last lines:\n%s", name, subs, d, tail(vm.Lines(), 20))
				return Line{}, false
			case <-vm.Exited():
				fail("%s: the guest went down waiting for %q:\n%s", name, subs, tail(vm.Lines(), 20))
				return Line{}, false
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	send := func(cmd string) bool {
		if err := vm.Send(cmd); err != nil {
			fail("send %s: %v", cmd, err)
			return false
		}
		return true
	}
	chord := func() (time.Time, bool) {
		at := time.Now()
		if err := PressChord(ctx, vm); err != nil {
			fail("input-send-event: %v", err)
			return at, false
		}
		return at, true
	}
	panicMark := func() (time.Time, bool) {
		at := time.Now()
		return at, send("panic-mark")
	}
	switch name {
	case "fault-rehearsal-killed":
		// A rehearsal whose client is killed: the chord 2 s later is real.
		if !send("rehearse-bg") {
			return time.Time{}, false
		}
		if _, ok := wait(time.Minute, "rehearsing the hotkey trigger"); !ok {
			return time.Time{}, false
		}
		time.Sleep(2 * time.Second)
		if !send("rehearse-kill") {
			return time.Time{}, false
		}
		if _, ok := wait(30*time.Second, "LAB REHEARSAL-KILLED"); !ok {
			return time.Time{}, false
		}
		time.Sleep(2 * time.Second)
		return chord()
	case "fault-rehearsal-expired":
		// A client that gives up by itself after 3 s: the chord 1 s later is real.
		if !send("rehearse-expire 3") {
			return time.Time{}, false
		}
		if _, ok := wait(time.Minute, "rehearsing the hotkey trigger"); !ok {
			return time.Time{}, false
		}
		if _, ok := wait(30*time.Second, "LAB REHEARSAL-EXPIRED"); !ok {
			return time.Time{}, false
		}
		time.Sleep(time.Second)
		return chord()
	case "fault-rearm-loop":
		// The agent replaces the kernel 4 times and sends the panic during
		// the 4th re-arm's load.
		if !send("rearm-loop 4") {
			return time.Time{}, false
		}
		l, ok := wait(5*time.Minute, "LAB REARM 4:")
		return l.At, ok
	case "fault-flood-panic", "fault-flood-hotkey":
		if !send("flood 500") {
			return time.Time{}, false
		}
		start := from
		if _, ok := wait(3*time.Minute, "LAB FLOOD holding"); !ok {
			return time.Time{}, false
		}
		from = start // the two processes report in either order
		if _, ok := wait(time.Minute, "LAB FLOOD garbage"); !ok {
			return time.Time{}, false
		}
		time.Sleep(3 * time.Second)
		if name == "fault-flood-hotkey" {
			return chord()
		}
		// The issue saw 3.5–3.8 s here; the goal is 100 ms, which TCG
		// with another job on the machine does not keep even without a
		// flood: the CLI's start-up alone took 0.1–2 s here, varying with
		// the load. So the lab times that start-up just before (cli-probe)
		// and fails when what is left exceeds a second.
		f.SentWithinMS = 1000
		// Request sent (after the CLI's start-up) → keys erased, on the
		// guest's clock. The goal is 100 ms; under TCG with the flood on
		// one emulated CPU three runs gave 23.8, 39.6 and 105.2 ms, so
		// the lab fails at 250 ms (the accept-queue bug cost seconds)
		// and the report gives the figure.
		f.RequestWithinMS = 250
		if os.Getenv("LAB_PANIC_DIRECT") != "" { // diagnosis: no CLI start-up
			at := time.Now()
			return at, send("panic-direct")
		}
		if !send("cli-probe") {
			return time.Time{}, false
		}
		return panicMark()
	case "fault-hung-crypt":
		if !send("hang-crypt") {
			return time.Time{}, false
		}
		l, ok := wait(2*time.Minute, "LAB HUNG")
		if !ok {
			return time.Time{}, false
		}
		if !strings.Contains(l.Text, "in flight") || strings.HasSuffix(l.Text, " 0") {
			fail("hung crypt: no write in flight on the hung device: %q", l.Text)
			return time.Time{}, false
		}
		// ramwipe's default key_deadline, with a margin for TCG.
		f.KeysWithinMS = 2000 + 1000
		return panicMark()
	case "fault-files-deleted":
		if !send("rm-armed") {
			return time.Time{}, false
		}
		if l, ok := wait(30*time.Second, "LAB RM-ARMED"); !ok || !strings.HasSuffix(l.Text, "[]") {
			if ok {
				fail("files-deleted: %q", l.Text)
			}
			return time.Time{}, false
		}
		// ramwiped re-arms after its settle time, cannot load the files,
		// and keeps the image the kernel holds (degraded).
		if _, ok := wait(time.Minute, "ramwiped| ", "state "); !ok {
			return time.Time{}, false
		}
		return panicMark()
	case "fault-triple-trigger":
		// Hotkey, `ramwipe panic`, hotkey, fired within a few ms.
		at := time.Now()
		if _, err := vm.QMP.Execute(ctx, "input-send-event", chordEvents(true)); err != nil {
			fail("input-send-event: %v", err)
			return at, false
		}
		if !send("panic-mark") {
			return at, false
		}
		_, err1 := vm.QMP.Execute(ctx, "input-send-event", chordEvents(false))
		_, err2 := vm.QMP.Execute(ctx, "input-send-event", chordEvents(true))
		f.TriggerSpreadMS = float64(time.Since(at).Microseconds()) / 1000
		if err1 != nil || err2 != nil {
			fail("input-send-event: %v %v", err1, err2)
			return at, false
		}
		time.Sleep(200 * time.Millisecond)
		_, _ = vm.QMP.Execute(ctx, "input-send-event", chordEvents(false))
		if f.TriggerSpreadMS > 50 {
			fail("triple trigger: the three triggers took %.1f ms to fire (want ≤ 50 ms)", f.TriggerSpreadMS)
		}
		return at, true
	case "fault-memory-pressure":
		if !send("hog-mem") {
			return time.Time{}, false
		}
		if _, ok := wait(3*time.Minute, "LAB HOG"); !ok {
			return time.Time{}, false
		}
		return panicMark()
	case "fault-cpu-saturation":
		if !send("hog-cpu") {
			return time.Time{}, false
		}
		if _, ok := wait(time.Minute, "LAB SPIN"); !ok {
			return time.Time{}, false
		}
		time.Sleep(2 * time.Second)
		return panicMark()
	}
	fail("unknown fault %q", name)
	return time.Time{}, false
}

// waitSequence waits until ramwiped's panic sequence has started after a
// fault's trigger, or d passed; a trigger taken for a rehearsal ends it at
// once. It kills the guest when no sequence started: the post dump then
// shows what a lost trigger leaves.
func (rec *Record) waitSequence(ctx context.Context, vm *VM, since time.Time, d time.Duration, fail func(string, ...any)) {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		for _, l := range vm.Lines() {
			if l.At.Before(since) {
				continue
			}
			if m := markRE.FindStringSubmatch(l.Text); m != nil && m[2] == "trigger" {
				return
			}
			if strings.Contains(l.Text, "trigger seen — would wipe now") {
				rec.Fault.Swallowed = true
				fail("the trigger was taken for a rehearsal, nothing wiped: %q", strings.TrimSpace(l.Text))
				vm.Kill()
				return
			}
		}
		select {
		case <-vm.Exited():
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
	fail("no panic sequence started within %v of the trigger; last lines:\n%s", d, tail(vm.Lines(), 15))
	vm.Kill()
}

// analyse counts the panic sequences and reads the lab's marks.
func (f *Fault) analyse(lines []Line) {
	at := map[string]float64{}
	for _, l := range lines {
		if m := markRE.FindStringSubmatch(l.Text); m != nil {
			t, _ := strconv.ParseFloat(m[1], 64)
			switch m[2] {
			case "trigger":
				f.Sequences++
			case "keys-wiped":
				f.KeysWiped++
			}
			if _, seen := at[m[2]]; !seen {
				at[m[2]] = t
			}
		}
		if m := requestSentRE.FindStringSubmatch(l.Text); m != nil {
			us, _ := strconv.ParseFloat(m[1], 64)
			f.RequestSentToKeysMS = us / 1000
		}
		if m := labMarkRE.FindStringSubmatch(l.Text); m != nil {
			t, _ := strconv.ParseFloat(m[1], 64)
			at["lab: "+strings.TrimSpace(m[2])] = t
		}
	}
	if t0, ok := at["trigger"]; ok {
		for k, t := range at {
			if what, ok := strings.CutPrefix(k, "lab: "); ok && what != "panic sent" && !strings.HasPrefix(what, "cli probe") {
				if f.MarkToTriggerMS == nil {
					f.MarkToTriggerMS = map[string]float64{}
				}
				f.MarkToTriggerMS[what] = 1000 * (t0 - t)
			}
		}
	}
	if a, ok := at["lab: cli probe start"]; ok {
		if b, ok := at["lab: cli probe done"]; ok {
			f.CLIStartMS = 1000 * (b - a)
		}
	}
	sent, ok := at["lab: panic sent"]
	if !ok {
		return
	}
	ms := func(step string) float64 {
		if t, ok := at[step]; ok {
			return 1000 * (t - sent)
		}
		return 0
	}
	f.SentToTriggerMS, f.SentToKeysMS, f.SentToKexecMS = ms("trigger"), ms("keys-wiped"), ms("kexec")
}

// judge adds the fault's own failures.
func (f *Fault) judge(p *Panic, fail func(string, ...any)) {
	if f.Sequences != 1 || f.KeysWiped != 1 {
		fail("want exactly one panic sequence, saw %d trigger and %d keys-wiped marks", f.Sequences, f.KeysWiped)
	}
	if f.KeysWithinMS > 0 && p != nil && p.TriggerToKeysMS > f.KeysWithinMS {
		fail("trigger → keys wiped took %.1f ms (want ≤ %.0f ms: the key deadline did not hold)", p.TriggerToKeysMS, f.KeysWithinMS)
	}
	if f.SentWithinMS > 0 && !(f.SentToKeysMS > 0 && f.SentToKeysMS-f.CLIStartMS <= f.SentWithinMS) {
		fail("panic sent → keys wiped took %.1f ms, %.1f ms more than the CLI's start-up just before (want ≤ %.0f ms more)", f.SentToKeysMS, f.SentToKeysMS-f.CLIStartMS, f.SentWithinMS)
	}
	if f.RequestWithinMS > 0 && !(f.RequestSentToKeysMS > 0 && f.RequestSentToKeysMS <= f.RequestWithinMS) {
		fail("request sent → keys wiped: %.1f ms (want ≤ %.0f ms; 0: ramwiped said nothing of the request's send time)", f.RequestSentToKeysMS, f.RequestWithinMS)
	}
	if p == nil || !containsStep(p.Steps, "kexec") {
		fail("ramwiped never reached its kexec step")
	}
}

func containsStep(steps []string, s string) bool {
	for _, x := range steps {
		if x == s {
			return true
		}
	}
	return false
}

// String is a one-line summary for the table.
func (f *Fault) String() string {
	s := fmt.Sprintf("%d sequence(s)", f.Sequences)
	if f.SentToKeysMS > 0 {
		s += fmt.Sprintf(", panic sent → keys %.1f ms / → kexec %.1f ms", f.SentToKeysMS, f.SentToKexecMS)
	}
	if f.CLIStartMS > 0 {
		s += fmt.Sprintf(" (the CLI's start-up just before: %.1f ms)", f.CLIStartMS)
	}
	if f.RequestSentToKeysMS > 0 {
		s += fmt.Sprintf(", request sent → keys %.1f ms", f.RequestSentToKeysMS)
	}
	for k, v := range f.MarkToTriggerMS {
		s += fmt.Sprintf(", %s → trigger %.0f ms", k, v)
	}
	return s
}
