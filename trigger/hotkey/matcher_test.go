package hotkey

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeClock is moved by hand: window tests never sleep.
type fakeClock struct{ t time.Time }

func (c *fakeClock) Now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func key(k Key, v int32) Event { return Event{Type: evKey, Code: uint16(k), Value: v} }
func press(k Key) Event        { return key(k, 1) }
func release(k Key) Event      { return key(k, 0) }
func repeat(k Key) Event       { return key(k, 2) }

var (
	syn     = Event{Type: evSyn, Code: synReport}
	dropped = Event{Type: evSyn, Code: synDropped}
)

const (
	lctrl Key = 29
	rctrl Key = 97
	bksp  Key = 14
	keyA  Key = 30
	pause Key = 119
)

func mustChord(t *testing.T, s string) Chord {
	t.Helper()
	c, err := ParseChord(s)
	require.NoError(t, err)
	return c
}

// step is one event on a device, or a clock advance, with the outcome the
// Matcher must give.
type step struct {
	dev     string
	ev      Event
	advance time.Duration
	resync  KeyState // with ev zero: call Resync instead of Feed
	add     KeyState // with ev zero: call AddDevice
	remove  bool     // with ev zero: call RemoveDevice
	want    Outcome
}

func run(t *testing.T, c Chord, steps []step) {
	t.Helper()
	clk := &fakeClock{t: time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)}
	m, err := NewMatcher(c, clk)
	require.NoError(t, err)
	for i, s := range steps {
		dev := s.dev
		if dev == "" {
			dev = "kbd"
		}
		clk.advance(s.advance)
		var got Outcome
		switch {
		case s.resync != nil:
			got = m.Resync(dev, s.resync)
		case s.add != nil:
			m.AddDevice(dev, s.add)
		case s.remove:
			m.RemoveDevice(dev)
		default:
			got = m.Feed(dev, s.ev)
		}
		assert.Equal(t, s.want, got, "step %d: %+v", i, s)
	}
}

func TestMatcher(t *testing.T) {
	def := mustChord(t, DefaultChord)
	tests := []struct {
		name  string
		chord Chord
		steps []step
	}{
		{name: "chord fires once, on the last press", chord: def, steps: []step{
			{ev: press(lctrl)}, {ev: syn},
			{ev: press(rctrl)}, {ev: syn},
			{ev: press(bksp), want: Matched}, {ev: syn},
			{ev: repeat(bksp)}, {ev: repeat(bksp)}, {ev: repeat(lctrl)},
			{ev: press(bksp)}, // a second press without a release changes nothing
		}},
		{name: "any order", chord: def, steps: []step{
			{ev: press(bksp)}, {ev: press(rctrl)}, {ev: press(lctrl), want: Matched},
		}},
		{name: "release and press again fires again", chord: def, steps: []step{
			{ev: press(lctrl)}, {ev: press(rctrl)}, {ev: press(bksp), want: Matched},
			{ev: release(bksp)}, {ev: press(bksp), want: Matched},
			{ev: release(lctrl)}, {ev: press(lctrl), want: Matched},
		}},
		{name: "other keys are ignored", chord: def, steps: []step{
			{ev: press(lctrl)}, {ev: press(keyA)}, {ev: press(rctrl)}, {ev: release(keyA)},
			{ev: Event{Type: 4, Code: 4, Value: 0x1d}}, // EV_MSC MSC_SCAN
			{ev: press(bksp), want: Matched},
		}},
		{name: "released key breaks the chord", chord: def, steps: []step{
			{ev: press(lctrl)}, {ev: press(rctrl)}, {ev: release(lctrl)}, {ev: press(bksp)},
		}},
		{name: "odd values are ignored", chord: def, steps: []step{
			{ev: press(lctrl)}, {ev: press(rctrl)}, {ev: key(bksp, 7)}, {ev: key(bksp, -1)}, {ev: press(bksp), want: Matched},
		}},
		{name: "keys across devices", chord: def, steps: []step{
			{dev: "laptop", ev: press(lctrl)},
			{dev: "usb", ev: press(rctrl)},
			{dev: "laptop", ev: press(bksp), want: Matched},
		}},
		{name: "same key on two devices: one release keeps it held", chord: def, steps: []step{
			{dev: "a", ev: press(lctrl)}, {dev: "b", ev: press(lctrl)}, {dev: "a", ev: press(rctrl)},
			{dev: "a", ev: press(bksp), want: Matched},
			{dev: "b", ev: release(lctrl)},
			{dev: "b", ev: press(rctrl)}, // still held throughout: no new completion
		}},
		{name: "device loss forgets its keys", chord: def, steps: []step{
			{dev: "usb", ev: press(lctrl)}, {dev: "usb", ev: press(rctrl)},
			{dev: "usb", remove: true},
			{dev: "laptop", ev: press(bksp)},
			{dev: "laptop", ev: press(lctrl)},
			{dev: "laptop", ev: press(rctrl), want: Matched},
		}},
		{name: "keys held when a device is added do not fire", chord: def, steps: []step{
			{dev: "new", add: NewKeyState(lctrl, rctrl, bksp)},
			{dev: "new", ev: repeat(bksp)},
			{dev: "new", ev: release(bksp)},
			{dev: "new", ev: press(bksp), want: Matched},
		}},
		{name: "SYN_DROPPED: discard to SYN_REPORT, then resync", chord: def, steps: []step{
			{ev: press(lctrl)}, {ev: syn},
			{ev: dropped},
			{ev: press(rctrl)}, {ev: press(bksp)}, // part of a broken frame
			{ev: syn, want: NeedResync},
			{resync: NewKeyState(lctrl, keyA), want: NoMatch},
			{ev: press(rctrl)}, {ev: press(bksp), want: Matched},
		}},
		{name: "resync that completes the chord fires", chord: def, steps: []step{
			{ev: press(lctrl)}, {ev: dropped}, {ev: syn, want: NeedResync},
			{resync: NewKeyState(lctrl, rctrl, bksp), want: Matched},
			{ev: press(bksp)},
		}},
		{name: "unreadable state after SYN_DROPPED releases the device's keys", chord: def, steps: []step{
			{ev: press(lctrl)}, {ev: press(rctrl)}, {ev: dropped}, {ev: syn, want: NeedResync},
			{resync: KeyState{}, want: NoMatch},
			{ev: press(bksp)},
		}},
		{name: "SYN_DROPPED on one device does not stop another", chord: def, steps: []step{
			{dev: "a", ev: dropped},
			{dev: "b", ev: press(lctrl)}, {dev: "b", ev: press(rctrl)}, {dev: "b", ev: press(bksp), want: Matched},
			{dev: "a", ev: syn, want: NeedResync},
		}},
		{name: "N times within T", chord: mustChord(t, "KEY_PAUSE*3/2s"), steps: []step{
			{ev: press(pause)}, {ev: release(pause), advance: 100 * time.Millisecond},
			{ev: press(pause), advance: 500 * time.Millisecond}, {ev: repeat(pause)}, {ev: repeat(pause)},
			{ev: release(pause)},
			{ev: press(pause), advance: 500 * time.Millisecond, want: Matched},
			{ev: release(pause)},
			{ev: press(pause), advance: 100 * time.Millisecond}, // counting starts over
			{ev: release(pause)},
			{ev: press(pause), advance: 100 * time.Millisecond},
		}},
		{name: "autorepeat is not a press", chord: mustChord(t, "KEY_PAUSE*3/2s"), steps: []step{
			{ev: press(pause)}, {ev: repeat(pause)}, {ev: repeat(pause)}, {ev: repeat(pause)}, {ev: repeat(pause)},
		}},
		{name: "presses outside the window do not count", chord: mustChord(t, "KEY_PAUSE*3/2s"), steps: []step{
			{ev: press(pause)}, {ev: release(pause)},
			{ev: press(pause), advance: 1500 * time.Millisecond}, {ev: release(pause)},
			{ev: press(pause), advance: 1 * time.Second}, // 2.5 s after the first
			{ev: release(pause)},
			{ev: press(pause), advance: 900 * time.Millisecond, want: Matched}, // 3 within 1.9 s
		}},
		{name: "window is inclusive", chord: mustChord(t, "KEY_PAUSE*2/1s"), steps: []step{
			{ev: press(pause)}, {ev: release(pause)},
			{ev: press(pause), advance: time.Second, want: Matched},
		}},
		{name: "N times of a multi-key chord", chord: mustChord(t, "leftctrl+rightctrl*2/1s"), steps: []step{
			{ev: press(lctrl)}, {ev: press(rctrl)},
			{ev: release(rctrl)}, {ev: press(rctrl), advance: 300 * time.Millisecond, want: Matched},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { run(t, tt.chord, tt.steps) })
	}
}

func TestMatcherKeepsOnlyChordKeys(t *testing.T) {
	m, err := NewMatcher(mustChord(t, DefaultChord), nil)
	require.NoError(t, err)
	m.AddDevice("kbd", NewKeyState(keyA, 31, 32, lctrl)) // "asd" held, and Ctrl
	for k := Key(1); k < 128; k++ {
		m.Feed("kbd", press(k))
	}
	// The only trace of a key is its bit among the chord's keys.
	assert.Equal(t, uint8(0b111), m.devs["kbd"].down)
	assert.Empty(t, m.hits)
}

func TestMatcherChordIsACopy(t *testing.T) {
	c := mustChord(t, DefaultChord)
	m, err := NewMatcher(c, nil)
	require.NoError(t, err)
	c.Keys[0] = keyA
	got := m.Chord()
	assert.Equal(t, DefaultChord, got.String())
	got.Keys[0] = keyA
	assert.Equal(t, DefaultChord, m.Chord().String())
}

func TestOutcomeString(t *testing.T) {
	assert.Equal(t, "no match", NoMatch.String())
	assert.Equal(t, "matched", Matched.String())
	assert.Equal(t, "need resync", NeedResync.String())
	assert.Equal(t, "Outcome(9)", Outcome(9).String())
}
