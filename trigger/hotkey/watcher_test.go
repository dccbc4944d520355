package hotkey

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ramwipe/ramwipe/trigger/uevent"
)

// fakeDev is an in-memory event device. Read takes one chunk from in per
// call; sending nil is a barrier: once it is taken, every earlier chunk has
// been processed. Closing in makes Read fail as an unplugged device does.
type fakeDev struct {
	name string
	in   chan []byte
	done chan struct{}
	once sync.Once

	mu       sync.Mutex
	state    KeyState
	stateErr error
}

var errGone = errors.New("no such device")

func newFakeDev(name string, held ...Key) *fakeDev {
	return &fakeDev{name: name, in: make(chan []byte), done: make(chan struct{}), state: NewKeyState(held...)}
}

func (f *fakeDev) Name() string { return f.name }

func (f *fakeDev) KeyState(s KeyState) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stateErr != nil {
		return f.stateErr
	}
	copy(s, f.state)
	return nil
}

func (f *fakeDev) setState(err error, held ...Key) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.state, f.stateErr = NewKeyState(held...), err
}

func (f *fakeDev) Read(p []byte) (int, error) {
	select {
	case b, ok := <-f.in:
		if !ok {
			return 0, errGone
		}
		return copy(p, b), nil
	case <-f.done:
		return 0, os.ErrClosed
	}
}

func (f *fakeDev) Close() error {
	f.once.Do(func() { close(f.done) })
	return nil
}

func (f *fakeDev) closed() bool {
	select {
	case <-f.done:
		return true
	default:
		return false
	}
}

// send writes events and waits until the watcher has processed them.
func (f *fakeDev) send(t *testing.T, evs ...Event) {
	t.Helper()
	f.sendRaw(t, records(evs...))
}

func (f *fakeDev) sendRaw(t *testing.T, b []byte) {
	t.Helper()
	for _, c := range [][]byte{b, nil} {
		select {
		case f.in <- c:
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: nobody reads", f.name)
		}
	}
}

// fakeInput is a /dev/input tree whose nodes open as fake devices.
type fakeInput struct {
	root   string
	mu     sync.Mutex
	devs   map[string]device // by node name; nil: not a keyboard
	opened []string
}

func newFakeInput(t *testing.T) *fakeInput {
	root := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(root, "dev", "input", "by-path"), 0o755))
	return &fakeInput{root: root, devs: map[string]device{}}
}

// plug creates the node; d nil makes it a non-keyboard.
func (fi *fakeInput) plug(t *testing.T, node string, d device) {
	require.NoError(t, os.WriteFile(filepath.Join(fi.root, "dev", "input", node), nil, 0o600))
	fi.mu.Lock()
	defer fi.mu.Unlock()
	fi.devs[node] = d
}

func (fi *fakeInput) open(path string, _ Chord, _ func(string, ...any)) (device, error) {
	fi.mu.Lock()
	defer fi.mu.Unlock()
	node := filepath.Base(path)
	fi.opened = append(fi.opened, node)
	d, ok := fi.devs[node]
	switch {
	case !ok:
		return nil, &os.PathError{Op: "open", Path: path, Err: os.ErrNotExist}
	case d == nil:
		return nil, errNotKeyboard
	}
	if _, ok := d.(denied); ok {
		return nil, &os.PathError{Op: "open", Path: path, Err: os.ErrPermission}
	}
	return d, nil
}

type harness struct {
	w       *Watcher
	in      *fakeInput
	matches atomic.Int32
	logs    *logBuf
}

type logBuf struct {
	mu    sync.Mutex
	lines []string
}

func (l *logBuf) logf(f string, a ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprintf(f, a...))
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

func newHarness(t *testing.T, chord string) *harness {
	h := &harness{in: newFakeInput(t), logs: &logBuf{}}
	cfg := Config{OnChord: func() { h.matches.Add(1) }, Logf: h.logs.logf, Root: h.in.root}
	if chord != "" {
		cfg.Chord = mustChord(t, chord)
	}
	w, err := NewWatcher(cfg)
	require.NoError(t, err)
	w.open = h.in.open
	h.w = w
	t.Cleanup(func() { assert.NoError(t, w.Close()) })
	return h
}

func inputEvent(action, node string) uevent.Event {
	return uevent.Event{Action: action, DevPath: "/devices/virtual/input/input9/" + node, Subsystem: "input", DevName: "input/" + node}
}

func TestWatcherChord(t *testing.T) {
	h := newHarness(t, "")
	kbd := newFakeDev("AT Translated Set 2 keyboard")
	h.in.plug(t, "event0", kbd)
	h.in.plug(t, "event1", nil) // power button
	h.in.plug(t, "mice", newFakeDev("not an event node"))
	require.NoError(t, h.w.Scan())
	assert.Equal(t, []string{filepath.Join(h.in.root, "dev/input/event0")}, h.w.Devices())
	assert.Equal(t, []string{"AT Translated Set 2 keyboard (" + filepath.Join(h.in.root, "dev/input/event0") + ")"}, h.w.Keyboards())
	assert.ElementsMatch(t, []string{"event0", "event1"}, h.in.opened, "only event nodes are opened")

	kbd.send(t, press(lctrl), syn, press(keyA), syn, release(keyA), syn, press(rctrl), syn)
	assert.Zero(t, h.matches.Load())
	kbd.send(t, press(bksp), syn, repeat(bksp), syn, repeat(bksp), syn)
	assert.Equal(t, int32(1), h.matches.Load())
	kbd.send(t, release(bksp), syn, press(bksp), syn)
	assert.Equal(t, int32(2), h.matches.Load())

	logs := h.logs.String()
	assert.Contains(t, logs, `watching `+filepath.Join(h.in.root, "dev/input/event0")+` ("AT Translated Set 2 keyboard")`)
	assert.Contains(t, logs, "panic chord KEY_LEFTCTRL+KEY_RIGHTCTRL+KEY_BACKSPACE")
	assert.NotContains(t, logs, "KEY_A", "no other key is ever logged")

	// Scanning again opens nothing twice.
	require.NoError(t, h.w.Scan())
	assert.Len(t, h.w.Devices(), 1)
}

func TestWatcherSplitRecords(t *testing.T) {
	h := newHarness(t, "")
	kbd := newFakeDev("kbd")
	h.in.plug(t, "event3", kbd)
	require.NoError(t, h.w.Scan())
	b := records(press(lctrl), press(rctrl), press(bksp), syn)
	kbd.sendRaw(t, b[:eventSize+7])
	kbd.sendRaw(t, b[eventSize+7:2*eventSize+eventSize/2])
	assert.Zero(t, h.matches.Load())
	kbd.sendRaw(t, b[2*eventSize+eventSize/2:])
	assert.Equal(t, int32(1), h.matches.Load())
}

func TestWatcherSynDropped(t *testing.T) {
	h := newHarness(t, "")
	kbd := newFakeDev("kbd")
	h.in.plug(t, "event0", kbd)
	require.NoError(t, h.w.Scan())

	// Events are lost while the chord is pressed; the state read after
	// the next SYN_REPORT shows it held.
	kbd.send(t, press(lctrl), syn)
	kbd.setState(nil, lctrl, rctrl, bksp)
	kbd.send(t, dropped, press(rctrl), syn)
	assert.Equal(t, int32(1), h.matches.Load())

	// An unreadable state releases the device's keys.
	kbd.send(t, release(bksp), syn)
	kbd.setState(errors.New("EVIOCGKEY: no such device"))
	kbd.send(t, dropped, syn)
	kbd.send(t, press(bksp), syn)
	assert.Equal(t, int32(1), h.matches.Load())
}

func TestWatcherHotplug(t *testing.T) {
	h := newHarness(t, "")
	require.NoError(t, h.w.Scan())
	assert.Empty(t, h.w.Devices())

	usb := newFakeDev("USB keyboard")
	h.in.plug(t, "event7", usb)
	h.w.HandleUevent(uevent.Event{Action: "add", DevPath: "/devices/virtual/input/input9", Subsystem: "input"}) // the input device, no node
	h.w.HandleUevent(uevent.Event{Action: "add", Subsystem: "block", DevName: "input/event7"})
	h.w.HandleUevent(uevent.Event{Action: "add", Subsystem: "input", DevName: "input/mouse2"})
	h.w.HandleUevent(uevent.Event{Action: "add", Subsystem: "input", DevName: "input/event7/../../sda"})
	h.w.HandleUevent(uevent.Event{Action: "add", Subsystem: "input", DevName: "event7"})
	assert.Empty(t, h.w.Devices(), "only input add uevents with DEVNAME=input/eventN open a device")

	h.w.HandleUevent(inputEvent("add", "event7"))
	require.Len(t, h.w.Devices(), 1)
	usb.send(t, press(lctrl), press(rctrl))

	// Removal: the keys held on the device no longer count.
	h.w.HandleUevent(inputEvent("remove", "event7"))
	assert.Empty(t, h.w.Devices())
	assert.Eventually(t, usb.closed, 5*time.Second, time.Millisecond)

	laptop := newFakeDev("laptop")
	h.in.plug(t, "event0", laptop)
	h.w.HandleUevent(inputEvent("add", "event0"))
	laptop.send(t, press(bksp), syn)
	assert.Zero(t, h.matches.Load())
	h.w.HandleUevent(inputEvent("remove", "event5")) // not watched: nothing happens
	assert.Len(t, h.w.Devices(), 1)
	assert.Contains(t, h.logs.String(), `event7 ("USB keyboard") removed`)
}

func TestWatcherReadErrorDropsDevice(t *testing.T) {
	h := newHarness(t, "")
	usb, laptop := newFakeDev("usb"), newFakeDev("laptop")
	h.in.plug(t, "event1", usb)
	h.in.plug(t, "event0", laptop)
	require.NoError(t, h.w.Scan())
	require.Len(t, h.w.Devices(), 2)

	usb.send(t, press(lctrl), press(rctrl), syn)
	close(usb.in) // unplugged: read fails before any uevent arrives
	assert.Eventually(t, func() bool { return len(h.w.Devices()) == 1 }, 5*time.Second, time.Millisecond)
	assert.Eventually(t, func() bool { return strings.Contains(h.logs.String(), `("usb") lost: no such device`) }, 5*time.Second, time.Millisecond)

	laptop.send(t, press(bksp), syn)
	assert.Zero(t, h.matches.Load(), "the lost device's keys were forgotten")

	// The remove uevent that follows is harmless.
	h.w.HandleUevent(inputEvent("remove", "event1"))
	assert.Len(t, h.w.Devices(), 1)
}

func TestWatcherReplacesStaleDevice(t *testing.T) {
	h := newHarness(t, "")
	old := newFakeDev("old")
	h.in.plug(t, "event4", old)
	require.NoError(t, h.w.Scan())
	old.send(t, press(lctrl), press(rctrl))

	// The remove uevent was lost; the node number is reused.
	fresh := newFakeDev("new")
	h.in.plug(t, "event4", fresh)
	h.w.HandleUevent(inputEvent("add", "event4"))
	assert.Eventually(t, old.closed, 5*time.Second, time.Millisecond)
	require.Len(t, h.w.Devices(), 1)
	fresh.send(t, press(bksp))
	assert.Zero(t, h.matches.Load(), "the old device's keys were forgotten")
	fresh.send(t, press(lctrl), press(rctrl))
	assert.Equal(t, int32(1), h.matches.Load())
}

func TestWatcherHeldAtStartDoesNotFire(t *testing.T) {
	h := newHarness(t, "")
	kbd := newFakeDev("kbd", lctrl, rctrl, bksp)
	h.in.plug(t, "event0", kbd)
	require.NoError(t, h.w.Scan())
	kbd.send(t, repeat(bksp), syn)
	assert.Zero(t, h.matches.Load())
	kbd.send(t, release(bksp), press(bksp), syn)
	assert.Equal(t, int32(1), h.matches.Load())
}

func TestWatcherTimesChordUsesClock(t *testing.T) {
	h := &harness{in: newFakeInput(t), logs: &logBuf{}}
	clk := &fakeClock{t: time.Unix(1e9, 0)}
	w, err := NewWatcher(Config{Chord: mustChord(t, "KEY_PAUSE*3/2s"), OnChord: func() { h.matches.Add(1) }, Root: h.in.root, Clock: clk})
	require.NoError(t, err)
	w.open = h.in.open
	defer w.Close()
	kbd := newFakeDev("kbd")
	h.in.plug(t, "event0", kbd)
	require.NoError(t, w.Scan())
	kbd.send(t, press(pause), release(pause), press(pause), release(pause))
	clk.advance(3 * time.Second)
	kbd.send(t, press(pause), release(pause), press(pause), release(pause))
	assert.Zero(t, h.matches.Load())
	kbd.send(t, press(pause), syn)
	assert.Equal(t, int32(1), h.matches.Load())
}

func TestWatcherScanErrors(t *testing.T) {
	h := newHarness(t, "")
	h.in.plug(t, "event0", newFakeDev("kbd"))
	require.NoError(t, os.WriteFile(filepath.Join(h.in.root, "dev/input/event9"), nil, 0o600)) // open fails
	bad := newFakeDev("bad state")
	bad.setState(errors.New("EVIOCGKEY: boom"))
	h.in.plug(t, "event2", bad)
	h.in.plug(t, "eventX", newFakeDev("not a node name"))
	err := h.w.Scan()
	require.Error(t, err)
	assert.ErrorIs(t, err, os.ErrNotExist)
	assert.ErrorContains(t, err, "boom")
	assert.Len(t, h.w.Devices(), 1, "the good keyboard is watched anyway")
	assert.True(t, bad.closed())
	assert.NotContains(t, h.in.opened, "eventX")

	// Not allowed to read a device.
	h.in.plug(t, "event5", nil)
	h.in.mu.Lock()
	h.in.devs["event5"] = denied{}
	h.in.mu.Unlock()
	err = h.w.Scan()
	assert.ErrorIs(t, err, os.ErrPermission)
	assert.ErrorContains(t, err, "needs root or the input group")

	// No /dev/input at all.
	w, err := NewWatcher(Config{OnChord: func() {}, Root: t.TempDir()})
	require.NoError(t, err)
	require.NoError(t, w.Scan())
	assert.Empty(t, w.Devices())
}

func TestWatcherClose(t *testing.T) {
	h := newHarness(t, "")
	a, b := newFakeDev("a"), newFakeDev("b")
	h.in.plug(t, "event0", a)
	h.in.plug(t, "event1", b)
	require.NoError(t, h.w.Scan())
	require.NoError(t, h.w.Close())
	assert.True(t, a.closed())
	assert.True(t, b.closed())
	assert.Empty(t, h.w.Devices())
	assert.NotContains(t, h.logs.String(), "lost", "closing is not a loss")

	// After Close nothing is added.
	c := newFakeDev("c")
	h.in.plug(t, "event2", c)
	h.w.HandleUevent(inputEvent("add", "event2"))
	assert.Empty(t, h.w.Devices())
	assert.True(t, c.closed())
}

// denied marks a node the fake opener refuses with EACCES.
type denied struct{ device }

// pipeDev is a device backed by a pipe: a real pollable file descriptor.
type pipeDev struct{ r *os.File }

func (p pipeDev) Name() string               { return "pipe" }
func (p pipeDev) KeyState(KeyState) error    { return nil }
func (p pipeDev) Read(b []byte) (int, error) { return p.r.Read(b) }
func (p pipeDev) Close() error               { return p.r.Close() }

// TestWatcherPipe runs the watcher on a pipe, whose reads block in the
// runtime's poller as an evdev node's do: a chord is seen, and Close wakes a
// goroutine blocked in read.
func TestWatcherPipe(t *testing.T) {
	r, wr, err := os.Pipe()
	require.NoError(t, err)
	defer wr.Close()
	fired := make(chan struct{}, 4)
	w, err := NewWatcher(Config{OnChord: func() { fired <- struct{}{} }, Logf: t.Logf})
	require.NoError(t, err)
	w.open = func(string, Chord, func(string, ...any)) (device, error) { return pipeDev{r}, nil }
	require.NoError(t, w.add("/dev/input/event0"))

	_, err = wr.Write(records(press(lctrl), syn, press(rctrl), syn, press(bksp), syn))
	require.NoError(t, err)
	select {
	case <-fired:
	case <-time.After(5 * time.Second):
		t.Fatal("chord on the pipe not seen")
	}

	done := make(chan error)
	go func() { done <- w.Close() }()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not wake the blocked read")
	}
}

func TestNewWatcherErrors(t *testing.T) {
	_, err := NewWatcher(Config{})
	assert.ErrorContains(t, err, "no OnChord")
	_, err = NewWatcher(Config{OnChord: func() {}, Chord: Chord{Keys: []Key{keyA}}})
	assert.ErrorContains(t, err, "alone fires")
	w, err := NewWatcher(Config{OnChord: func() {}})
	require.NoError(t, err)
	assert.Equal(t, DefaultChord, w.chord.String())
}

func TestIsKeyboard(t *testing.T) {
	def := mustChord(t, DefaultChord)
	types := make([]byte, bitmapLen(evCnt))
	setBit(types, evSyn)
	setBit(types, evKey)
	var letters []Key
	for _, e := range keyTable() {
		if n := strings.TrimPrefix(e.name, "KEY_"); len(n) == 1 && n[0] >= 'A' && n[0] <= 'Z' {
			letters = append(letters, e.code)
		}
	}
	require.Len(t, letters, 26)
	noKeys := make([]byte, bitmapLen(evCnt))
	setBit(noKeys, evSyn)

	tests := []struct {
		name  string
		types []byte
		keys  KeyState
		chord Chord
		want  bool
	}{
		{"keyboard", types, NewKeyState(append(letters, lctrl)...), def, true},
		{"keyboard without the chord keys", types, NewKeyState(letters...), def, true},
		{"power button", types, NewKeyState(116), def, false},
		{"mouse", types, NewKeyState(0x110, 0x111), def, false},
		{"panic pedal with exactly the chord keys", types, NewKeyState(lctrl, rctrl, bksp), def, true},
		{"missing a letter and a chord key", types, NewKeyState(append(letters[1:], lctrl, rctrl)...), def, false},
		{"no EV_KEY", noKeys, NewKeyState(letters...), def, false},
		{"empty chord", types, NewKeyState(lctrl), Chord{}, false},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, isKeyboard(tt.types, tt.keys, tt.chord), tt.name)
	}
}

func TestNodeNumber(t *testing.T) {
	for in, want := range map[string]int{"event0": 0, "event12": 12, "event999999": 999999} {
		n, ok := nodeNumber(in)
		assert.True(t, ok, in)
		assert.Equal(t, want, n, in)
	}
	for _, in := range []string{"event", "event-1", "event1a", "mouse0", "event1234567", "Event1", ""} {
		_, ok := nodeNumber(in)
		assert.False(t, ok, in)
	}
}
