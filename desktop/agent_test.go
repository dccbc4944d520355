package desktop

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ramwipe/ramwipe/trigger/control"
)

// result is one answer of a fakeClient.
type result struct {
	rep control.Reply
	err error
}

// fakeClient answers requests from a script; past its end it repeats the
// last answer.
type fakeClient struct {
	mu      sync.Mutex
	answers []result
	reqs    []control.Request
}

func (f *fakeClient) Do(ctx context.Context, r control.Request) (control.Reply, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reqs = append(f.reqs, r)
	a := f.answers[min(len(f.reqs), len(f.answers))-1]
	return a.rep, a.err
}

// fakeNotifier records notifications; it fails while fail is above zero.
type fakeNotifier struct {
	mu   sync.Mutex
	got  []Notification
	fail int
}

func (f *fakeNotifier) Notify(ctx context.Context, n Notification) (uint32, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail > 0 {
		f.fail--
		return 0, errors.New("org.freedesktop.DBus.Error.ServiceUnknown")
	}
	f.got = append(f.got, n)
	return uint32(100 + len(f.got)), nil
}

func (f *fakeNotifier) summaries() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var s []string
	for _, n := range f.got {
		s = append(s, n.Summary)
	}
	return s
}

func status(t *testing.T, st control.Status) result {
	b, err := json.Marshal(st)
	require.NoError(t, err)
	return result{rep: control.Reply{OK: true, Text: string(b)}}
}

const (
	sumArmed     = "ramwipe: this machine is armed"
	sumDegraded  = "ramwipe: protection is DEGRADED"
	sumDryRun    = "ramwipe: dry run — this machine is NOT protected"
	sumStopped   = "ramwiped is not running: this machine is NOT protected"
	sumNotAuth   = "ramwipe: you may not use the panic button"
	sumUnknown   = "ramwipe: cannot tell whether this machine is protected"
	refusalText  = "not authorized: uid 1000 is not root and not in group ramwipe, which may use ramwipe: an admin adds you with `sudo adduser YOUR-USER ramwipe`, then log out and in again"
	testInterval = 30 * time.Second
)

func TestAgentTransitions(t *testing.T) {
	armed := status(t, control.Status{State: control.StateArmed, Hotkey: "KEY_LEFTCTRL+KEY_RIGHTCTRL+KEY_BACKSPACE"})
	degradedA := status(t, control.Status{State: control.StateDegraded, Why: "kexec_file_load: EPERM"})
	degradedB := status(t, control.Status{State: control.StateDegraded, Why: "WIPE IMAGE NO LONGER LOADED"})
	dryRun := status(t, control.Status{State: control.StateDryRun, Why: "started without --armed"})
	down := result{err: fmt.Errorf("connect to ramwiped at /run/ramwipe/control.sock: no such file or directory (is ramwiped running?)")}
	notAuth := result{rep: control.Reply{Text: refusalText}}
	busy := result{rep: control.Reply{Text: "busy: ramwiped is already serving 16 connections; try again"}}
	const s = time.Second
	tests := []struct {
		name      string
		answers   []result
		want      []string // summaries shown, in order
		wantWaits []time.Duration
		wantDone  bool // the last poll ends polling
	}{
		{name: "armed at login, once", answers: []result{armed, armed, armed},
			want: []string{sumArmed}, wantWaits: []time.Duration{30 * s, 30 * s, 30 * s}},
		{name: "a restart is not an outage", answers: []result{armed, down, down, armed},
			want: []string{sumArmed}, wantWaits: []time.Duration{30 * s, 1 * s, 2 * s, 30 * s}},
		{name: "stopped on the third failure, back to armed", answers: []result{armed, down, down, down, down, armed},
			want: []string{sumArmed, sumStopped, sumArmed}, wantWaits: []time.Duration{30 * s, 1 * s, 2 * s, 4 * s, 8 * s, 30 * s}},
		{name: "not running at login", answers: []result{down, down, down, down, down, down, down},
			want: []string{sumStopped}, wantWaits: []time.Duration{1 * s, 2 * s, 4 * s, 8 * s, 16 * s, 30 * s, 30 * s}},
		{name: "degraded, once per why", answers: []result{degradedA, degradedA, degradedB, degradedB, armed},
			want: []string{sumDegraded, sumDegraded, sumArmed}, wantWaits: []time.Duration{30 * s, 30 * s, 30 * s, 30 * s, 30 * s}},
		{name: "armed, then degraded", answers: []result{armed, degradedB},
			want: []string{sumArmed, sumDegraded}, wantWaits: []time.Duration{30 * s, 30 * s}},
		{name: "dry run", answers: []result{dryRun, dryRun},
			want: []string{sumDryRun}, wantWaits: []time.Duration{30 * s, 30 * s}},
		{name: "not authorized ends polling", answers: []result{notAuth},
			want: []string{sumNotAuth}, wantWaits: []time.Duration{30 * s}, wantDone: true},
		{name: "busy is no news", answers: []result{busy, armed, busy},
			want: []string{sumArmed}, wantWaits: []time.Duration{30 * s, 30 * s, 30 * s}},
		{name: "an ERR answer", answers: []result{{rep: control.Reply{Text: "status: internal error"}}},
			want: []string{sumUnknown}, wantWaits: []time.Duration{30 * s}},
		{name: "status that does not parse", answers: []result{{rep: control.Reply{OK: true, Text: "armed"}}},
			want: []string{sumUnknown}, wantWaits: []time.Duration{30 * s}},
		{name: "a state this agent does not know", answers: []result{{rep: control.Reply{OK: true, Text: `{"state":"unknown"}`}}},
			want: []string{sumUnknown}, wantWaits: []time.Duration{30 * s}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := &fakeNotifier{}
			a := &Agent{Client: &fakeClient{answers: tt.answers}, Notifier: n, Interval: testInterval, Logf: t.Logf}
			var waits []time.Duration
			done := false
			for range tt.answers {
				var w time.Duration
				w, done = a.step(context.Background())
				waits = append(waits, w)
			}
			assert.Equal(t, tt.want, n.summaries(), "notifications after %d polls", len(tt.answers))
			assert.Equal(t, tt.wantWaits, waits, "waits between polls")
			assert.Equal(t, tt.wantDone, done, "done after the last poll")
			for i, got := range n.got {
				assert.EqualValues(t, map[bool]uint32{true: 0, false: uint32(100 + i)}[i == 0], got.Replaces, "notification %d replaces the one before", i)
			}
		})
	}
}

func TestAgentUrgency(t *testing.T) {
	for _, tt := range []struct {
		o    observation
		want Urgency
	}{
		{observation{cond: condArmed}, UrgencyNormal},
		{observation{cond: condNotAuthorized}, UrgencyNormal},
		{observation{cond: condDegraded}, UrgencyCritical},
		{observation{cond: condDryRun}, UrgencyCritical},
		{observation{cond: condStopped}, UrgencyCritical},
		{observation{cond: condUnreadable}, UrgencyCritical},
	} {
		assert.Equal(t, tt.want, message(tt.o, "", "").Urgency, "message(%v).Urgency", tt.o.cond)
	}
}

func TestAgentNotifyFailsThenRetries(t *testing.T) {
	armed := status(t, control.Status{State: control.StateArmed})
	n := &fakeNotifier{fail: 1}
	var logged []string
	a := &Agent{Client: &fakeClient{answers: []result{armed}}, Notifier: n,
		Logf: func(f string, args ...any) { logged = append(logged, fmt.Sprintf(f, args...)) }}
	a.step(context.Background())
	assert.Empty(t, n.summaries(), "no server yet")
	require.Len(t, logged, 1)
	assert.Contains(t, logged[0], "ServiceUnknown")
	a.step(context.Background())
	a.step(context.Background())
	assert.Equal(t, []string{sumArmed}, n.summaries(), "shown at the next poll, once")
}

func TestAgentRun(t *testing.T) {
	armed := status(t, control.Status{State: control.StateArmed})
	notAuth := result{rep: control.Reply{Text: refusalText}}

	t.Run("ends when not authorized is shown", func(t *testing.T) {
		var waits []time.Duration
		n := &fakeNotifier{}
		a := &Agent{Client: &fakeClient{answers: []result{armed, notAuth}}, Notifier: n,
			after: func(d time.Duration) <-chan time.Time {
				waits = append(waits, d)
				c := make(chan time.Time, 1)
				c <- time.Time{}
				return c
			}}
		require.NoError(t, a.Run(context.Background()))
		assert.Equal(t, []string{sumArmed, sumNotAuth}, n.summaries())
		assert.Equal(t, []time.Duration{DefaultInterval}, waits, "Interval zero means DefaultInterval")
	})
	t.Run("ends with its context", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		polled := make(chan struct{})
		a := &Agent{Client: &fakeClient{answers: []result{armed}}, Notifier: &fakeNotifier{},
			after: func(time.Duration) <-chan time.Time {
				close(polled)
				return nil // never
			}}
		done := make(chan error)
		go func() { done <- a.Run(ctx) }()
		<-polled
		cancel()
		assert.NoError(t, <-done)
	})
}

func TestMessageBodies(t *testing.T) {
	tests := []struct {
		name string
		o    observation
		want []string
	}{
		{"armed, default chord", observation{cond: condArmed, hotkey: "KEY_LEFTCTRL+KEY_RIGHTCTRL+KEY_BACKSPACE"},
			[]string{"Panic hotkey: Left Ctrl + Right Ctrl + Backspace, held together.", "“Wipe memory now”"}},
		{"armed, no hotkey", observation{cond: condArmed}, []string{"No panic hotkey is set", "“Wipe memory now”"}},
		{"degraded", observation{cond: condDegraded, why: "kexec_file_load: EPERM — do this"}, []string{"kexec_file_load: EPERM — do this"}},
		{"degraded, no why", observation{cond: condDegraded}, []string{"ramwipe status"}},
		{"stopped", observation{cond: condStopped, detail: "connection refused"}, []string{"/run/ramwipe/control.sock (connection refused)", "systemctl status ramwiped"}},
		{"not authorized", observation{cond: condNotAuthorized, detail: refusalText}, []string{"sudo adduser alice ramwipe\n", "log out and in again"}},
		{"unreadable", observation{cond: condUnreadable, detail: "state unknown"}, []string{"state unknown", "ramwipe status"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := message(tt.o, "/run/ramwipe/control.sock", "alice").Body
			for _, w := range tt.want {
				assert.Contains(t, got, w, "message(%+v).Body", tt.o)
			}
		})
	}
}

func TestNotAuthorizedBody(t *testing.T) {
	tests := []struct {
		name, refusal, user, want string
	}{
		{"group named", "not authorized: uid 1000 is not root and not in group wheel2, which may use ramwipe: …", "bob",
			"Your account is not in the group wheel2. An admin adds you:\n  sudo adduser bob wheel2\nthen log out and in again."},
		{"group by number", "not authorized: uid 1000 is not root and not in group 4242, which may use ramwipe: …", "bob",
			"Your account is not in the group 4242. An admin adds you:\n  sudo adduser bob 4242\nthen log out and in again."},
		{"text not understood", "not authorized: go away", "",
			"Your account is not in the group ramwipe. An admin adds you:\n  sudo adduser $USER ramwipe\nthen log out and in again."},
		{"only root", "not authorized: uid 1000 is not root, and ramwiped lets only root use it", "bob",
			"ramwiped lets only root use it: no group is set in /etc/ramwipe/ramwipe.conf."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, notAuthorizedBody(tt.refusal, tt.user), "notAuthorizedBody(%q, %q)", tt.refusal, tt.user)
		})
	}
}

func TestChordText(t *testing.T) {
	tests := []struct{ in, want string }{
		{"KEY_LEFTCTRL+KEY_RIGHTCTRL+KEY_BACKSPACE", "Left Ctrl + Right Ctrl + Backspace"},
		{" rightctrl + KEY_f12+leftalt ", "Right Ctrl + F12 + Left Alt"},
		{"KEY_PAUSE*3/2s", "Pause, 3 times within 2s"},
		{"leftmeta+KEY_LEFT", "Left Super + Left"},
		{"KEY_LEFTBRACE+KEY_SYSRQ", "Leftbrace + SysRq"},
		{"", ""},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, ChordText(tt.in), "ChordText(%q)", tt.in)
	}
}
