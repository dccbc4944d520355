package hotkey

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// DefaultChord is the panic chord when none is configured: both Ctrl keys
// and Backspace, held together. The package documentation says why.
const DefaultChord = "KEY_LEFTCTRL+KEY_RIGHTCTRL+KEY_BACKSPACE"

// Limits of a [Chord].
const (
	// MaxChordKeys is the most keys a chord may have: cheap USB keyboards
	// report at most six keys besides the modifiers at a time.
	MaxChordKeys = 6
	// MaxTimes is the largest N of a "*N/T" chord.
	MaxTimes = 10
	// MinWithin and MaxWithin bound the T of a "*N/T" chord.
	MinWithin = 100 * time.Millisecond
	MaxWithin = 10 * time.Second

	maxChordText = 256
)

// Chord is a key combination that triggers the panic.
type Chord struct {
	// Keys are held down together; sorted, no key twice.
	Keys []Key
	// Times is how often the keys must come down together, within
	// Within; 1 (or 0) means once.
	Times  int
	Within time.Duration
}

// ParseChord parses a chord: key names joined by '+' (see [KeyByName]),
// optionally followed by "*N/T" — the whole chord must be completed N times
// within the duration T (a Go duration such as 2s or 1500ms):
//
//	KEY_LEFTCTRL+KEY_RIGHTCTRL+KEY_BACKSPACE
//	leftctrl+rightctrl*3/2s
//	KEY_PAUSE*3/2s
//
// A chord is completed when its last missing key goes down while the others
// are held; holding keys until they autorepeat completes nothing.
//
// ParseChord refuses chords that fire on one accidental key press (a single
// key without "*N/T") and chords the system acts on before ramwipe can:
// Alt+SysRq (the kernel's magic SysRq: immediate reboot or power off, with
// memory intact) and Ctrl+Alt+Del (reboot).
func ParseChord(s string) (Chord, error) {
	if len(s) > maxChordText {
		return Chord{}, fmt.Errorf("parse chord: %d bytes, longer than %d", len(s), maxChordText)
	}
	c := Chord{Times: 1}
	keys, rep, hasRep := strings.Cut(s, "*")
	if hasRep {
		n, t, ok := strings.Cut(rep, "/")
		if !ok {
			return Chord{}, fmt.Errorf("parse chord %q: %q: want *N/T, such as *3/2s", s, "*"+rep)
		}
		times, err := strconv.Atoi(strings.TrimSpace(n))
		if err != nil {
			return Chord{}, fmt.Errorf("parse chord %q: count %q: %w", s, n, err)
		}
		within, err := time.ParseDuration(strings.TrimSpace(t))
		if err != nil {
			return Chord{}, fmt.Errorf("parse chord %q: %w", s, err)
		}
		c.Times, c.Within = times, within
		if times < 2 {
			return Chord{}, fmt.Errorf("parse chord %q: count %d: want 2 to %d, or no *N/T", s, times, MaxTimes)
		}
	}
	for name := range strings.SplitSeq(keys, "+") {
		name = strings.TrimSpace(name)
		if name == "" {
			return Chord{}, fmt.Errorf("parse chord %q: empty key name", s)
		}
		k, ok := KeyByName(name)
		if !ok {
			return Chord{}, fmt.Errorf("parse chord %q: unknown key %q: want a name of linux/input-event-codes.h such as KEY_LEFTCTRL", s, name)
		}
		c.Keys = append(c.Keys, k)
		if len(c.Keys) > MaxChordKeys {
			return Chord{}, fmt.Errorf("parse chord %q: more than %d keys", s, MaxChordKeys)
		}
	}
	// Insertion sort: at most MaxChordKeys keys.
	for i := 1; i < len(c.Keys); i++ {
		for j := i; j > 0 && c.Keys[j] < c.Keys[j-1]; j-- {
			c.Keys[j], c.Keys[j-1] = c.Keys[j-1], c.Keys[j]
		}
	}
	if err := c.check(); err != nil {
		return Chord{}, fmt.Errorf("parse chord %q: %w", s, err)
	}
	return c, nil
}

// String returns the chord in the form ParseChord reads, modifiers first.
func (c Chord) String() string {
	var b strings.Builder
	for _, mods := range []bool{true, false} {
		for _, k := range c.Keys {
			if isModifier(k) != mods {
				continue
			}
			if b.Len() > 0 {
				b.WriteByte('+')
			}
			b.WriteString(k.String())
		}
	}
	if c.Times > 1 {
		fmt.Fprintf(&b, "*%d/%s", c.Times, c.Within)
	}
	return b.String()
}

// check reports why c cannot be a panic chord.
func (c Chord) check() error {
	if len(c.Keys) == 0 {
		return errors.New("no keys")
	}
	if len(c.Keys) > MaxChordKeys {
		return fmt.Errorf("%d keys, more than %d", len(c.Keys), MaxChordKeys)
	}
	for i, k := range c.Keys {
		if !known(k) {
			return fmt.Errorf("key %v is not one a chord may use", k)
		}
		if i > 0 && k <= c.Keys[i-1] {
			if k == c.Keys[i-1] {
				return fmt.Errorf("key %v twice", k)
			}
			return errors.New("keys not sorted")
		}
	}
	switch {
	case c.Times < 0 || c.Times > MaxTimes:
		return fmt.Errorf("count %d: want 2 to %d, or none", c.Times, MaxTimes)
	case c.Times > 1 && (c.Within < MinWithin || c.Within > MaxWithin):
		return fmt.Errorf("window %v: want %v to %v", c.Within, MinWithin, MaxWithin)
	case c.Times <= 1 && c.Within != 0:
		return fmt.Errorf("window %v without a count", c.Within)
	case len(c.Keys) == 1 && c.Times <= 1:
		return fmt.Errorf("%v alone fires on one accidental press: add keys, or *N/T", c.Keys[0])
	}
	has := func(keys ...Key) bool {
		for _, k := range keys {
			if c.has(k) {
				return true
			}
		}
		return false
	}
	alt, ctrl := has(keyLeftAlt, keyRightAlt), has(keyLeftCtrl, keyRightCtrl)
	if alt && has(keySysRq) {
		return errors.New("the kernel takes Alt+SysRq combinations as magic SysRq: it could reboot or power off with memory intact before ramwipe wipes it")
	}
	if alt && ctrl && has(keyDelete, keyKPDot) {
		return errors.New("the system reboots on Ctrl+Alt+Del (console keymap, systemd's ctrl-alt-del.target) without wiping memory")
	}
	return nil
}

// isModifier reports whether k is a Ctrl, Shift, Alt or Meta key.
func isModifier(k Key) bool {
	switch k {
	case keyLeftCtrl, keyRightCtrl, keyLeftShift, keyRightShift, keyLeftAlt, keyRightAlt, keyLeftMeta, keyRightMeta:
		return true
	}
	return false
}

// has reports whether k is one of the chord's keys.
func (c Chord) has(k Key) bool { return c.index(k) >= 0 }

// index returns k's position in c.Keys, or -1.
func (c Chord) index(k Key) int {
	for i, ck := range c.Keys {
		if ck == k {
			return i
		}
	}
	return -1
}
