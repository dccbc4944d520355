package dispatch

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ramwipe/ramwipe/trigger/bootmedium"
	"github.com/ramwipe/ramwipe/trigger/uevent"
)

// wait bounds every blocking step of a test; nothing waits this long
// unless the code under test is broken.
const wait = 10 * time.Second

// item is what the fake source delivers: an event, an error, or a barrier.
type item struct {
	ev      uevent.Event
	err     error
	barrier bool
}

// fakeSource delivers items from in, one per Receive. A barrier is taken
// and skipped: once the test has handed it over, the loop has finished
// with every earlier item.
type fakeSource struct {
	in     chan item
	done   chan struct{}
	once   sync.Once
	mu     sync.Mutex
	closes int
}

func newFakeSource() *fakeSource {
	return &fakeSource{in: make(chan item), done: make(chan struct{})}
}

func (s *fakeSource) Receive() (uevent.Event, error) {
	for {
		select {
		case it := <-s.in:
			if it.barrier {
				continue
			}
			return it.ev, it.err
		case <-s.done:
			return uevent.Event{}, fmt.Errorf("fake source: %w", os.ErrClosed)
		}
	}
}

func (s *fakeSource) Close() error {
	s.mu.Lock()
	s.closes++
	s.mu.Unlock()
	s.once.Do(func() { close(s.done) })
	return nil
}

func (s *fakeSource) closeCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closes
}

// fakeHotkey records what reaches it.
type fakeHotkey struct {
	mu      sync.Mutex
	events  []uevent.Event
	scans   int
	scanErr error
}

func (h *fakeHotkey) HandleUevent(ev uevent.Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.events = append(h.events, ev)
}

func (h *fakeHotkey) Scan() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.scans++
	return h.scanErr
}

func (h *fakeHotkey) seen() ([]uevent.Event, int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]uevent.Event(nil), h.events...), h.scans
}

// fakeMedium judges events by devpath: verdicts[DevPath], else Ignore.
type fakeMedium struct {
	verdicts map[string]bootmedium.Verdict

	mu      sync.Mutex
	matched []string
	missing []string
	hold    time.Duration
}

func (m *fakeMedium) Match(ev uevent.Event) (bootmedium.Verdict, string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.matched = append(m.matched, ev.DevPath)
	v := m.verdicts[ev.DevPath]
	if v == bootmedium.Ignore {
		return v, ""
	}
	return v, ev.DevPath + " removed"
}

func (m *fakeMedium) Missing() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.missing...)
}

func (m *fakeMedium) HoldEnds() time.Duration {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.hold
}

func (m *fakeMedium) set(missing []string, hold time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.missing, m.hold = missing, hold
}

func (m *fakeMedium) seen() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.matched...)
}

// timer is one AfterFunc call; the test runs f when it pleases.
type timer struct {
	d time.Duration
	f func()
}

type fakeClock struct{ timers chan timer }

func (c *fakeClock) AfterFunc(d time.Duration, f func()) { c.timers <- timer{d, f} }

// recorder keeps Fire calls and log lines in the order they happened.
type recorder struct {
	mu    sync.Mutex
	lines []string
}

func (r *recorder) add(s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lines = append(r.lines, s)
}

func (r *recorder) fire(trigger string)        { r.add("fire " + trigger) }
func (r *recorder) logf(f string, args ...any) { r.add("log " + fmt.Sprintf(f, args...)) }

func (r *recorder) all() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.lines...)
}

// harness runs Run over fakes.
type harness struct {
	t      *testing.T
	src    *fakeSource
	hk     *fakeHotkey // nil: no hotkey
	md     *fakeMedium // nil: no medium
	usb    *fakeUSB    // nil: no USB trigger
	clk    *fakeClock
	rec    *recorder
	cancel context.CancelFunc
	done   chan error
}

type sides struct {
	hotkey bool
	medium bool
	usb    bool
}

var both = sides{hotkey: true, medium: true}

const (
	stick = "/devices/pci0000:00/0000:00:14.0/usb2/2-1"
	other = "/devices/pci0000:00/0000:00:14.0/usb2/2-3"
	held  = "/devices/pci0000:00/0000:00:14.0/usb2/2-1/held"
)

// start runs Run with the sides asked for; fire, if not nil, replaces the
// recorder's Fire.
func start(t *testing.T, s sides, fire func(string)) *harness {
	t.Helper()
	h := &harness{
		t:    t,
		src:  newFakeSource(),
		clk:  &fakeClock{timers: make(chan timer, 256)},
		rec:  &recorder{},
		done: make(chan error, 1),
	}
	cfg := Config{Source: h.src, Clock: h.clk, Fire: h.rec.fire, Logf: h.rec.logf}
	if fire != nil {
		cfg.Fire = fire
	}
	if s.hotkey {
		h.hk = &fakeHotkey{}
		cfg.Hotkey = h.hk
	}
	if s.medium {
		h.md = &fakeMedium{verdicts: map[string]bootmedium.Verdict{stick: bootmedium.Gone, held: bootmedium.Deferred}}
		cfg.Medium = h.md
	}
	if s.usb {
		h.usb = &fakeUSB{fires: map[string]bool{jiggler: true}}
		cfg.USB = h.usb
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	go func() { h.done <- Run(ctx, cfg) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-h.done:
		case <-time.After(wait):
			t.Error("Run did not return after cancel")
		}
	})
	return h
}

func (h *harness) put(it item) {
	h.t.Helper()
	select {
	case h.src.in <- it:
	case <-time.After(wait):
		h.t.Fatalf("the loop did not receive %+v", it)
	}
}

func (h *harness) send(evs ...uevent.Event) {
	h.t.Helper()
	for _, ev := range evs {
		h.put(item{ev: ev})
	}
}

// sync returns once the loop has dealt with everything sent before.
func (h *harness) sync() {
	h.t.Helper()
	h.put(item{barrier: true})
}

// timers returns the AfterFunc calls made so far (after a sync: all of
// the loop's).
func (h *harness) timers() []timer {
	var ts []timer
	for {
		select {
		case tm := <-h.clk.timers:
			ts = append(ts, tm)
		default:
			return ts
		}
	}
}

func durations(ts []timer) []time.Duration {
	var ds []time.Duration
	for _, tm := range ts {
		ds = append(ds, tm.d)
	}
	return ds
}

func (h *harness) result() error {
	h.t.Helper()
	select {
	case err := <-h.done:
		h.done <- err // for the cleanup
		return err
	case <-time.After(wait):
		h.t.Fatal("Run did not return")
		return nil
	}
}

var (
	overrun  = item{err: fmt.Errorf("recvfrom: %w", uevent.ErrOverrun)}
	kbdAdd   = uevent.Event{Action: "add", DevPath: "/devices/virtual/input/input7/event5", Subsystem: "input", DevName: "input/event5"}
	kbdGone  = uevent.Event{Action: "remove", DevPath: "/devices/virtual/input/input7/event5", Subsystem: "input", DevName: "input/event5"}
	stickOut = uevent.Event{Action: "remove", DevPath: stick, Subsystem: "usb"}
	otherOut = uevent.Event{Action: "remove", DevPath: other, Subsystem: "usb"}
	heldOut  = uevent.Event{Action: "remove", DevPath: held, Subsystem: "usb"}
)

func TestEvents(t *testing.T) {
	tests := []struct {
		name        string
		sides       sides
		events      []uevent.Event
		wantHotkey  []uevent.Event // events the hotkey saw
		wantMatched []string       // devpaths the medium judged
		wantLines   []string
		wantTimers  []time.Duration
	}{
		{
			name:        "keyboard plugged in reaches the watcher",
			sides:       both,
			events:      []uevent.Event{kbdAdd},
			wantHotkey:  []uevent.Event{kbdAdd},
			wantMatched: []string{kbdAdd.DevPath},
		},
		{
			name:        "keyboard unplugged reaches the watcher",
			sides:       both,
			events:      []uevent.Event{kbdAdd, kbdGone},
			wantHotkey:  []uevent.Event{kbdAdd, kbdGone},
			wantMatched: []string{kbdAdd.DevPath, kbdGone.DevPath},
		},
		{
			name:        "boot medium gone: fire, then log",
			sides:       both,
			events:      []uevent.Event{stickOut},
			wantHotkey:  []uevent.Event{stickOut},
			wantMatched: []string{stick},
			wantLines:   []string{"fire bootmedium", "log boot medium: " + stick + " removed"},
		},
		{
			name:        "every removal fires",
			sides:       both,
			events:      []uevent.Event{stickOut, stickOut},
			wantHotkey:  []uevent.Event{stickOut, stickOut},
			wantMatched: []string{stick, stick},
			wantLines: []string{
				"fire bootmedium", "log boot medium: " + stick + " removed",
				"fire bootmedium", "log boot medium: " + stick + " removed",
			},
		},
		{
			name:        "another device removed: nothing",
			sides:       both,
			events:      []uevent.Event{otherOut},
			wantHotkey:  []uevent.Event{otherOut},
			wantMatched: []string{other},
		},
		{
			name:        "deferred removals schedule one re-check",
			sides:       both,
			events:      []uevent.Event{heldOut, heldOut, heldOut, heldOut, heldOut},
			wantHotkey:  []uevent.Event{heldOut, heldOut, heldOut, heldOut, heldOut},
			wantMatched: []string{held, held, held, held, held},
			wantLines: []string{
				"log boot medium: " + held + " removed; just resumed: checking again in 5s",
				"log boot medium: " + held + " removed; just resumed: checking again in 5s",
				"log boot medium: " + held + " removed; just resumed: checking again in 5s",
				"log boot medium: " + held + " removed; just resumed: checking again in 5s",
				"log boot medium: " + held + " removed; just resumed: checking again in 5s",
			},
			wantTimers: []time.Duration{5 * time.Second},
		},
		{
			name:       "hotkey only: keyboards come and go, removals fire nothing",
			sides:      sides{hotkey: true},
			events:     []uevent.Event{kbdAdd, stickOut, heldOut, kbdGone},
			wantHotkey: []uevent.Event{kbdAdd, stickOut, heldOut, kbdGone},
		},
		{
			name:        "medium only: keyboards are ignored, the removal fires",
			sides:       sides{medium: true},
			events:      []uevent.Event{kbdAdd, stickOut},
			wantMatched: []string{kbdAdd.DevPath, stick},
			wantLines:   []string{"fire bootmedium", "log boot medium: " + stick + " removed"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := start(t, tt.sides, nil)
			if h.md != nil {
				h.md.set(nil, 5*time.Second)
			}
			h.send(tt.events...)
			h.sync()

			if h.hk != nil {
				got, scans := h.hk.seen()
				assert.Equal(t, tt.wantHotkey, got, "events the hotkey saw")
				assert.Zero(t, scans, "hotkey rescans")
			}
			if h.md != nil {
				assert.Equal(t, tt.wantMatched, h.md.seen(), "events the medium judged")
			}
			assert.Equal(t, tt.wantLines, h.rec.all())
			assert.Equal(t, tt.wantTimers, durations(h.timers()), "re-checks scheduled")
		})
	}
}

func TestOverrun(t *testing.T) {
	scanErr := errors.New("hotkey: /dev/input/event3: permission denied")
	tests := []struct {
		name       string
		sides      sides
		scanErr    error
		missing    []string
		hold       time.Duration
		wantScans  int
		wantLines  []string
		wantTimers []time.Duration
	}{
		{
			name:      "both, nothing missing: rescan only",
			sides:     both,
			wantScans: 1,
		},
		{
			name:      "both, medium missing: rescan and fire, then log",
			sides:     both,
			missing:   []string{stick},
			wantScans: 1,
			wantLines: []string{"fire bootmedium", "log boot medium: [" + stick + "] gone (found after lost uevents)"},
		},
		{
			name:      "hotkey only: rescan",
			sides:     sides{hotkey: true},
			wantScans: 1,
		},
		{
			name:      "hotkey rescan fails: logged, the loop goes on",
			sides:     sides{hotkey: true},
			scanErr:   scanErr,
			wantScans: 1,
			wantLines: []string{"log hotkey: rescan after lost uevents: " + scanErr.Error()},
		},
		{
			name:    "medium only, nothing missing: nothing",
			sides:   sides{medium: true},
			missing: nil,
		},
		{
			name:      "medium only, missing: fire",
			sides:     sides{medium: true},
			missing:   []string{stick, held},
			wantLines: []string{"fire bootmedium", "log boot medium: [" + stick + " " + held + "] gone (found after lost uevents)"},
		},
		{
			name:       "during a hold: no fire now, a check when it ends",
			sides:      both,
			missing:    []string{stick},
			hold:       3 * time.Second,
			wantScans:  1,
			wantLines:  []string{"log boot medium: uevents lost during a hold: checking in 3s"},
			wantTimers: []time.Duration{3 * time.Second},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := start(t, tt.sides, nil)
			if h.hk != nil {
				h.hk.scanErr = tt.scanErr // before the loop can scan
			}
			if h.md != nil {
				h.md.set(tt.missing, tt.hold)
			}
			h.put(overrun)
			h.sync()

			if h.hk != nil {
				_, scans := h.hk.seen()
				assert.Equal(t, tt.wantScans, scans, "hotkey rescans")
			}
			assert.Equal(t, tt.wantLines, h.rec.all())
			assert.Equal(t, tt.wantTimers, durations(h.timers()), "re-checks scheduled")

			// The source stays usable: the next event is handled.
			h.send(kbdAdd)
			h.sync()
			if h.hk != nil {
				got, _ := h.hk.seen()
				assert.Equal(t, []uevent.Event{kbdAdd}, got, "events the hotkey saw after the overrun")
			}
			if h.md != nil {
				assert.Equal(t, []string{kbdAdd.DevPath}, h.md.seen(), "events the medium judged after the overrun")
			}
		})
	}
}

func TestRecheck(t *testing.T) {
	stillGone := "log boot medium: [" + stick + "] still gone after the resume"
	tests := []struct {
		name       string
		missing    []string      // when the check runs
		hold       time.Duration // left when the check runs
		cancel     bool          // ctx ends before the check runs
		wantLines  []string      // after the deferral's own line
		wantTimers []time.Duration
	}{
		{
			name:      "still missing: fire, then log",
			missing:   []string{stick},
			wantLines: []string{"fire bootmedium", stillGone},
		},
		{
			name: "back: nothing",
		},
		{
			name:       "hold extended: the check moves to the new end",
			missing:    []string{stick},
			hold:       4 * time.Second,
			wantTimers: []time.Duration{4 * time.Second},
		},
		{
			name:    "ctx ended: nothing",
			missing: []string{stick},
			cancel:  true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := start(t, both, nil)
			h.md.set(nil, 5*time.Second)
			h.send(heldOut)
			h.sync()
			ts := h.timers()
			require.Len(t, ts, 1, "re-checks scheduled by a deferred removal")
			require.Equal(t, 5*time.Second, ts[0].d)

			h.md.set(tt.missing, tt.hold)
			if tt.cancel {
				h.cancel()
				require.NoError(t, h.result())
			}
			ts[0].f()

			lines := h.rec.all()
			require.NotEmpty(t, lines)
			assert.Equal(t, tt.wantLines, append([]string(nil), lines[1:]...))
			assert.Equal(t, tt.wantTimers, durations(h.timers()), "re-checks scheduled by the check")
		})
	}
}

// TestRecheckRearms follows one medium through two holds: a check is
// pending at most once per hold, and a hold after a check schedules anew.
func TestRecheckRearms(t *testing.T) {
	h := start(t, both, nil)
	h.md.set(nil, 5*time.Second)

	h.send(heldOut, heldOut)
	h.sync()
	first := h.timers()
	require.Len(t, first, 1, "re-checks after the first hold's removals")

	h.md.set(nil, 0) // the hold ended and the devices came back
	first[0].f()
	assert.NotContains(t, h.rec.all(), "fire bootmedium")
	assert.Empty(t, h.timers(), "re-checks after the check")

	h.md.set(nil, 2*time.Second)
	h.send(heldOut, heldOut, heldOut)
	h.sync()
	second := h.timers()
	require.Len(t, second, 1, "re-checks after the second hold's removals")
	assert.Equal(t, 2*time.Second, second[0].d)

	// An extended hold keeps one check pending: removals while it waits
	// schedule nothing more.
	h.md.set(nil, time.Second)
	second[0].f()
	moved := h.timers()
	require.Len(t, moved, 1, "the check moved to the new end")
	h.send(heldOut)
	h.sync()
	assert.Empty(t, h.timers(), "re-checks while one is pending")

	h.md.set([]string{stick}, 0)
	moved[0].f()
	lines := h.rec.all()
	assert.Equal(t, []string{"fire bootmedium", "log boot medium: [" + stick + "] still gone after the resume"}, lines[len(lines)-2:])
	assert.Equal(t, 1, count(lines, "fire bootmedium"))
}

func count(lines []string, s string) int {
	n := 0
	for _, l := range lines {
		if l == s {
			n++
		}
	}
	return n
}

func TestReceiveErrorEndsTheLoop(t *testing.T) {
	boom := errors.New("recvfrom NETLINK_KOBJECT_UEVENT: bad file descriptor")
	for _, s := range []sides{both, {hotkey: true}, {medium: true}} {
		t.Run(fmt.Sprintf("hotkey=%v,medium=%v", s.hotkey, s.medium), func(t *testing.T) {
			h := start(t, s, nil)
			h.send(kbdAdd)
			h.put(item{err: boom})
			err := h.result()
			require.ErrorIs(t, err, boom)
			assert.Equal(t, 1, h.src.closeCount(), "closes of the source")
			if h.hk != nil {
				got, _ := h.hk.seen()
				assert.Equal(t, []uevent.Event{kbdAdd}, got)
			}
		})
	}
}

func TestCancelClosesTheSource(t *testing.T) {
	h := start(t, both, nil)
	h.send(kbdAdd)
	h.sync()
	h.cancel()
	require.NoError(t, h.result(), "Run after ctx ended")
	assert.Equal(t, 1, h.src.closeCount(), "closes of the source")
}

func TestConfig(t *testing.T) {
	tests := []struct {
		name    string
		cfg     func(src Source) Config
		wantErr string
	}{
		{
			name:    "no source",
			cfg:     func(Source) Config { return Config{Hotkey: &fakeHotkey{}} },
			wantErr: "no uevent source",
		},
		{
			name:    "neither side",
			cfg:     func(src Source) Config { return Config{Source: src, Fire: func(string) {}} },
			wantErr: "no hotkey, boot medium or USB trigger",
		},
		{
			name:    "a USB trigger without Fire",
			cfg:     func(src Source) Config { return Config{Source: src, USB: &fakeUSB{}} },
			wantErr: "a USB trigger needs Fire",
		},
		{
			name:    "a medium without Fire",
			cfg:     func(src Source) Config { return Config{Source: src, Medium: &fakeMedium{}} },
			wantErr: "needs Fire",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := newFakeSource()
			cfg := tt.cfg(src)
			err := Run(context.Background(), cfg)
			require.ErrorContains(t, err, tt.wantErr)
			if cfg.Source != nil {
				assert.Equal(t, 1, src.closeCount(), "closes of the source")
			}
		})
	}
}

// TestFireIsNotSerialised: a Fire that blocks (the panic sequence is
// running) on the loop does not keep the re-check from reaching Fire.
func TestFireIsNotSerialised(t *testing.T) {
	var inside sync.WaitGroup
	inside.Add(2)
	fire := func(string) {
		inside.Done()
		inside.Wait() // returns only when both calls are in Fire together
	}
	h := start(t, both, fire)
	h.md.set([]string{stick}, 5*time.Second)
	h.send(heldOut)
	h.sync()
	ts := h.timers()
	require.Len(t, ts, 1)
	h.md.set([]string{stick}, 0)

	h.send(stickOut) // the loop now waits in Fire
	checked := make(chan struct{})
	go func() {
		ts[0].f()
		close(checked)
	}()
	select {
	case <-checked:
	case <-time.After(wait):
		t.Fatal("the re-check's Fire waited for the loop's")
	}
	h.sync()
}

// TestManyTriggers: fires from the loop and from re-checks, arriving at
// the same time, all reach Fire.
func TestManyTriggers(t *testing.T) {
	const n = 100
	var mu sync.Mutex
	fired := map[string]int{}
	fire := func(trigger string) {
		mu.Lock()
		fired[trigger]++
		mu.Unlock()
	}
	h := start(t, both, fire)
	h.md.set([]string{stick}, 0)

	var wg sync.WaitGroup
	wg.Add(2)
	go func() { // removals
		defer wg.Done()
		for range n {
			h.src.in <- item{ev: stickOut}
		}
	}()
	go func() { // holds that end with the medium still gone
		defer wg.Done()
		for range n {
			h.src.in <- item{ev: heldOut}
			tm := <-h.clk.timers
			tm.f() // here, while the loop fires the removals
		}
	}()
	wg.Wait()
	h.sync()
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return fired[TriggerBootMedium] == 2*n
	}, wait, time.Millisecond, "fires: %v", fired)
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, map[string]int{TriggerBootMedium: 2 * n}, fired)
}
