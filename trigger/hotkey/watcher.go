package hotkey

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/ramwipe/ramwipe/trigger/uevent"
)

// errNotKeyboard is returned by an opener for an input device that is
// neither a keyboard nor has the chord's keys; the Watcher skips it quietly.
var errNotKeyboard = errors.New("not a keyboard")

// device is an open input device as the Watcher uses it.
type device interface {
	// Name is the device's name, for logs.
	Name() string
	// KeyState fills s with the keys held down now (EVIOCGKEY).
	KeyState(s KeyState) error
	// Read reads whole input_event records, blocking until there are
	// some; it fails once the device is gone or closed.
	Read(p []byte) (int, error)
	Close() error
}

// opener opens the event device at path for chord c.
type opener func(path string, c Chord, logf func(string, ...any)) (device, error)

// Config configures a [Watcher].
type Config struct {
	// Chord is the panic chord; a chord without keys means
	// [DefaultChord].
	Chord Chord
	// OnChord is called, from a device's goroutine, each time the chord
	// is completed. It must not call [Watcher.Close].
	OnChord func()
	// Logf receives device arrivals and losses (path and device name,
	// never a key); nil discards.
	Logf func(format string, args ...any)
	// Root is prepended to /dev/input; "" means /. Tests point it at a
	// fake tree.
	Root string
	// Clock measures a "*N/T" chord's window; nil means the system clock.
	Clock Clock
}

// Watcher watches every keyboard for the panic chord: the event devices
// present when [Watcher.Scan] runs, and those that [Watcher.HandleUevent]
// hears about later. Each device has a goroutine blocked in read(2); keys
// go from there into one [Matcher] and never further.
type Watcher struct {
	chord   Chord
	onChord func()
	logf    func(string, ...any)
	root    string
	open    opener

	wg     sync.WaitGroup
	mu     sync.Mutex // guards the fields below
	m      *Matcher
	devs   map[string]*watched // by path
	gen    uint64
	closed bool
}

type watched struct {
	id   string // the Matcher's name for it: path#generation
	path string
	d    device
}

// NewWatcher returns a Watcher that has no devices yet; call
// [Watcher.Scan].
func NewWatcher(cfg Config) (*Watcher, error) {
	if cfg.OnChord == nil {
		return nil, errors.New("hotkey: watcher: no OnChord callback")
	}
	c := cfg.Chord
	if len(c.Keys) == 0 {
		var err error
		if c, err = ParseChord(DefaultChord); err != nil {
			return nil, fmt.Errorf("hotkey: default chord: %w", err)
		}
	}
	m, err := NewMatcher(c, cfg.Clock)
	if err != nil {
		return nil, err
	}
	root := cfg.Root
	if root == "" {
		root = "/"
	}
	logf := cfg.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	return &Watcher{
		chord:   m.Chord(),
		onChord: cfg.OnChord,
		logf:    logf,
		root:    root,
		open:    openEvdev,
		m:       m,
		devs:    make(map[string]*watched),
	}, nil
}

// Scan opens every keyboard in /dev/input that is not watched yet. Run it at
// start and again after uevents were lost ([uevent.ErrOverrun]). Devices
// that cannot be opened are skipped and their errors joined; devices that
// are not keyboards are skipped silently.
func (w *Watcher) Scan() error {
	paths, err := filepath.Glob(filepath.Join(w.root, "dev", "input", "event*"))
	if err != nil {
		return fmt.Errorf("hotkey: scan /dev/input: %w", err)
	}
	var errs []error
	for _, p := range paths {
		if _, ok := nodeNumber(filepath.Base(p)); !ok {
			continue
		}
		w.mu.Lock()
		_, open := w.devs[p]
		w.mu.Unlock()
		if !open {
			errs = append(errs, w.add(p))
		}
	}
	return errors.Join(errs...)
}

// HandleUevent adds the event device an input "add" uevent announces and
// drops the one a "remove" uevent takes away; it ignores other uevents.
func (w *Watcher) HandleUevent(ev uevent.Event) {
	if ev.Subsystem != "input" {
		return
	}
	dir, node, _ := strings.Cut(ev.DevName, "/")
	if _, ok := nodeNumber(node); !ok || dir != "input" {
		return
	}
	path := filepath.Join(w.root, "dev", "input", node)
	switch ev.Action {
	case "add":
		if err := w.add(path); err != nil {
			w.logf("%v", err)
		}
	case "remove":
		w.mu.Lock()
		wd := w.devs[path]
		if wd != nil {
			delete(w.devs, path)
			w.m.RemoveDevice(wd.id)
		}
		w.mu.Unlock()
		if wd != nil {
			wd.d.Close()
			w.logf("hotkey: %s (%q) removed", path, wd.d.Name())
		}
	}
}

// nodeNumber parses an event device node name, eventN.
func nodeNumber(name string) (int, bool) {
	digits, ok := strings.CutPrefix(name, "event")
	if !ok || digits == "" || len(digits) > 6 {
		return 0, false
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	n, err := strconv.Atoi(digits)
	return n, err == nil
}

// Devices returns the paths of the devices being watched, sorted.
func (w *Watcher) Devices() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	paths := make([]string, 0, len(w.devs))
	for p := range w.devs {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	return paths
}

// Keyboards describes the devices watched now, "name (path)", sorted by
// path: what `ramwipe status` shows.
func (w *Watcher) Keyboards() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	paths := make([]string, 0, len(w.devs))
	for p := range w.devs {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for i, p := range paths {
		paths[i] = fmt.Sprintf("%s (%s)", w.devs[p].d.Name(), p)
	}
	return paths
}

// Close stops watching: it closes every device and waits for their
// goroutines to end.
func (w *Watcher) Close() error {
	w.mu.Lock()
	w.closed = true
	devs := w.devs
	w.devs = make(map[string]*watched)
	w.mu.Unlock()
	var errs []error
	for _, wd := range devs {
		if err := wd.d.Close(); err != nil {
			errs = append(errs, fmt.Errorf("hotkey: close %s: %w", wd.path, err))
		}
	}
	w.wg.Wait()
	return errors.Join(errs...)
}

// add opens path and starts its goroutine, replacing a device watched at the
// same path (whose removal went unnoticed).
func (w *Watcher) add(path string) error {
	d, err := w.open(path, w.chord, w.logf)
	if errors.Is(err, errNotKeyboard) {
		return nil
	}
	if errors.Is(err, fs.ErrPermission) {
		return fmt.Errorf("hotkey: %w — reading keyboards needs root or the input group", err)
	}
	if err != nil {
		return fmt.Errorf("hotkey: %w", err)
	}
	state := make(KeyState, bitmapLen(keyCnt))
	defer clear(state)
	if err := d.KeyState(state); err != nil {
		d.Close()
		return fmt.Errorf("hotkey: %s: %w", path, err)
	}

	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		d.Close()
		return nil
	}
	old := w.devs[path]
	if old != nil {
		w.m.RemoveDevice(old.id)
	}
	w.gen++
	wd := &watched{id: path + "#" + strconv.FormatUint(w.gen, 10), path: path, d: d}
	w.devs[path] = wd
	w.m.AddDevice(wd.id, state)
	w.wg.Add(1)
	w.mu.Unlock()

	if old != nil {
		old.d.Close()
	}
	w.logf("hotkey: watching %s (%q)", path, d.Name())
	go w.run(wd)
	return nil
}

// readEvents is how many input events one read(2) takes at most.
const readEvents = 64

// run reads wd until it fails, feeding the Matcher. The read buffer holds
// key events of the chord keys (all keys where the kernel cannot filter):
// it is cleared after each batch.
func (w *Watcher) run(wd *watched) {
	defer w.wg.Done()
	buf := make([]byte, readEvents*eventSize)
	var evs [readEvents]Event
	var resync KeyState
	have := 0
	defer clear(buf)
	defer clear(evs[:])
	for {
		n, err := wd.d.Read(buf[have:])
		have += max(n, 0)
		k, used := decodeEvents(buf[:have], evs[:])
		matches := 0
		w.mu.Lock()
		current := w.devs[wd.path] == wd
		for _, ev := range evs[:k] {
			if !current {
				break
			}
			switch w.m.Feed(wd.id, ev) {
			case Matched:
				matches++
			case NeedResync:
				if resync == nil {
					resync = make(KeyState, bitmapLen(keyCnt))
				}
				state := resync
				if err := wd.d.KeyState(state); err != nil {
					state = nil
				}
				if w.m.Resync(wd.id, state) == Matched {
					matches++
				}
				clear(resync)
			}
		}
		w.mu.Unlock()
		clear(evs[:k])
		have = copy(buf, buf[used:have])
		clear(buf[have:])

		for range matches {
			// The panic first: a log line may go to a journal on a disk.
			w.onChord()
			w.logf("hotkey: panic chord %v on %s", w.chord, wd.path)
		}
		if err != nil || !current {
			w.drop(wd, err)
			return
		}
	}
}

// drop forgets wd after its read failed or it was closed.
func (w *Watcher) drop(wd *watched, err error) {
	w.mu.Lock()
	mine := w.devs[wd.path] == wd
	if mine {
		delete(w.devs, wd.path)
	}
	w.m.RemoveDevice(wd.id)
	w.mu.Unlock()
	wd.d.Close()
	if mine {
		w.logf("hotkey: %s (%q) lost: %v", wd.path, wd.d.Name(), err)
	}
}

// isKeyboard reports whether a device with event types types (EVIOCGBIT(0))
// and keys keys (EVIOCGBIT(EV_KEY)) is one to watch: it reports keys, and
// has either every letter key (a keyboard) or every key of the chord (a
// dedicated panic button, say).
func isKeyboard(types []byte, keys KeyState, c Chord) bool {
	if !testBit(types, evKey) {
		return false
	}
	letters := true
	for _, e := range keyTable() {
		name := strings.TrimPrefix(e.name, "KEY_")
		if len(name) == 1 && name[0] >= 'A' && name[0] <= 'Z' && !keys.Has(e.code) {
			letters = false
			break
		}
	}
	if letters {
		return true
	}
	for _, k := range c.Keys {
		if !keys.Has(k) {
			return false
		}
	}
	return len(c.Keys) > 0
}
