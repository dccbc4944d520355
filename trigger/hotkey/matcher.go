package hotkey

import (
	"fmt"
	"time"
)

// Clock tells the time; the N-times window of a chord is measured with it.
type Clock interface {
	Now() time.Time
}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

// Outcome is what [Matcher.Feed] and [Matcher.Resync] tell the caller to do.
type Outcome uint8

const (
	// NoMatch: nothing to do.
	NoMatch Outcome = iota
	// Matched: the chord was completed (the Times-th time within Within).
	Matched
	// NeedResync: the device dropped events (SYN_DROPPED); read its key
	// state (EVIOCGKEY) and pass it to [Matcher.Resync].
	NeedResync
)

func (o Outcome) String() string {
	switch o {
	case NoMatch:
		return "no match"
	case Matched:
		return "matched"
	case NeedResync:
		return "need resync"
	}
	return fmt.Sprintf("Outcome(%d)", uint8(o))
}

// Matcher recognises a [Chord] in the input events of several devices. It is
// a pure state machine: it reads no device and never sleeps. It is not safe
// for concurrent use.
//
// A chord is held when each of its keys is down on some device: the
// keys may come from different devices, since some keyboards report their
// modifiers and their other keys on separate event nodes. It is completed
// when a key press (or a resync) makes it held; the Matcher reports
// [Matched] once per completion (the Times-th completion within Within),
// never again while the keys stay down, and autorepeat never completes it.
//
// Of all the input it sees the Matcher keeps only which chord keys are down
// on each device and, for a "*N/T" chord, when the last completions
// happened. Other keys are ignored as they arrive; nothing is logged.
type Matcher struct {
	chord Chord
	clock Clock
	full  uint8 // a bit for each chord key
	devs  map[string]*devState
	held  bool        // the chord was held after the last event
	hits  []time.Time // completion times, Times > 1 only
}

// devState is one device's share of the chord.
type devState struct {
	down     uint8 // bit i: chord.Keys[i] is down
	dropping bool  // after SYN_DROPPED, until the next SYN_REPORT
}

// NewMatcher returns a Matcher for c, reading the time from clk (nil for the
// system clock).
func NewMatcher(c Chord, clk Clock) (*Matcher, error) {
	if err := c.check(); err != nil {
		return nil, fmt.Errorf("hotkey: chord %v: %w", c, err)
	}
	if clk == nil {
		clk = systemClock{}
	}
	c.Keys = append([]Key(nil), c.Keys...)
	return &Matcher{
		chord: c,
		clock: clk,
		full:  uint8(1)<<len(c.Keys) - 1,
		devs:  make(map[string]*devState),
	}, nil
}

// Chord returns the chord m matches.
func (m *Matcher) Chord() Chord {
	c := m.chord
	c.Keys = append([]Key(nil), c.Keys...)
	return c
}

// AddDevice starts tracking device dev with the keys held down on it now
// (EVIOCGKEY; nil for none). A chord that becomes held this way is not a
// completion: it must be released and pressed again. Adding a device that is
// tracked already replaces its state.
func (m *Matcher) AddDevice(dev string, keys KeyState) {
	m.devs[dev] = &devState{down: m.bits(keys)}
	m.held = m.union() == m.full
}

// RemoveDevice forgets device dev: its keys count as released.
func (m *Matcher) RemoveDevice(dev string) {
	delete(m.devs, dev)
	m.held = m.union() == m.full
}

// Feed passes one event of device dev to the matcher. A device that was
// not added is added with no keys down.
func (m *Matcher) Feed(dev string, ev Event) Outcome {
	d := m.dev(dev)
	if d.dropping {
		// After SYN_DROPPED the events up to the next SYN_REPORT are an
		// incomplete frame: discard them, then resync from the state.
		if ev.Type == evSyn && ev.Code == synReport {
			d.dropping = false
			return NeedResync
		}
		return NoMatch
	}
	switch ev.Type {
	case evSyn:
		if ev.Code == synDropped {
			d.dropping = true
		}
	case evKey:
		i := m.chord.index(Key(ev.Code))
		if i < 0 {
			return NoMatch
		}
		bit := uint8(1) << i
		switch ev.Value {
		case 0: // release
			d.down &^= bit
			m.held = m.union() == m.full
		case 1: // press; 2 (autorepeat) and other values change nothing
			if d.down&bit == 0 {
				d.down |= bit
				return m.update()
			}
		}
	}
	return NoMatch
}

// Resync replaces device dev's state with the keys held down on it now
// (EVIOCGKEY; nil if that could not be read: then its keys count as
// released). It returns [Matched] if the new state completes the chord:
// the presses were among the dropped events.
func (m *Matcher) Resync(dev string, keys KeyState) Outcome {
	d := m.dev(dev)
	d.dropping = false
	d.down = m.bits(keys)
	return m.update()
}

func (m *Matcher) dev(dev string) *devState {
	d, ok := m.devs[dev]
	if !ok {
		d = &devState{}
		m.devs[dev] = d
	}
	return d
}

// bits extracts the chord keys from a key bitmap.
func (m *Matcher) bits(keys KeyState) uint8 {
	var b uint8
	for i, k := range m.chord.Keys {
		if keys.Has(k) {
			b |= 1 << i
		}
	}
	return b
}

func (m *Matcher) union() uint8 {
	var u uint8
	for _, d := range m.devs {
		u |= d.down
	}
	return u
}

// update recomputes whether the chord is held and reports a completion.
func (m *Matcher) update() Outcome {
	was := m.held
	m.held = m.union() == m.full
	if was || !m.held {
		return NoMatch
	}
	if m.chord.Times <= 1 {
		return Matched
	}
	now := m.clock.Now()
	kept := m.hits[:0]
	for _, t := range m.hits {
		if now.Sub(t) <= m.chord.Within {
			kept = append(kept, t)
		}
	}
	m.hits = append(kept, now)
	if len(m.hits) < m.chord.Times {
		return NoMatch
	}
	m.hits = m.hits[:0]
	return Matched
}
