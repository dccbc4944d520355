package readiness

import (
	"errors"
	"fmt"
	"io/fs"
	"math/bits"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/ramwipe/ramwipe/trigger/hotkey"
)

// keyMax is KEY_MAX (include/uapi/linux/input-event-codes.h):
//
//	#define KEY_MAX			0x2ff
const keyMax = 0x2ff

// evKey is EV_KEY, the event type of keys.
const evKey = 0x01

// maxBitmapWords bounds the words parseBitmap reads: KEY_CNT bits in
// 32-bit words, with room to spare.
const maxBitmapWords = 64

// parseBitmap parses a sysfs capability bitmap
// (drivers/input/input.c, input_print_bitmap): unsigned longs in hex,
// most significant first, separated by spaces, leading zero words left
// out — "120013" or "3803078f800d001 feffffdfffefffff fffffffffffffffe".
// wordBits is the kernel's bits per long. It returns the set bits up to
// limit.
func parseBitmap(s string, wordBits, limit int) ([]int, error) {
	words := strings.Fields(s)
	if len(words) > maxBitmapWords {
		return nil, fmt.Errorf("bitmap of %d words, more than %d", len(words), maxBitmapWords)
	}
	var set []int
	for i := range words {
		w, err := strconv.ParseUint(words[len(words)-1-i], 16, wordBits)
		if err != nil {
			return nil, fmt.Errorf("bitmap word %q: want at most %d bits in hex", trunc(words[len(words)-1-i]), wordBits)
		}
		for w != 0 {
			b := bits.TrailingZeros64(w)
			w &^= 1 << b
			if n := i*wordBits + b; n <= limit {
				set = append(set, n)
			}
		}
	}
	sort.Ints(set)
	return set, nil
}

// chordSetting returns ramwipe.conf's hotkey setting and the line it is
// on; the default chord (line 0) if the file or the setting is not there.
// Only the hotkey line is read here, ramwiped -check-config checks the
// rest.
func chordSetting(conf []byte) (val string, line int) {
	if val, line = confSetting(conf, "hotkey"); line > 0 {
		return val, line
	}
	return hotkey.DefaultChord, 0
}

// inputDevice is an input device as sysfs shows it.
type inputDevice struct {
	Node string // event3
	Name string
	Keys hotkey.KeyState
}

// keyboards lists the event devices that report keys and have every
// letter key (a keyboard) or every key of the chord (a panic button), as
// package hotkey picks the devices it watches.
func (a *auditor) keyboards(c hotkey.Chord) ([]inputDevice, error) {
	nodes, err := filepath.Glob(a.path("/sys/class/input/event*"))
	if err != nil {
		return nil, err
	}
	var letters []hotkey.Key
	for r := 'A'; r <= 'Z'; r++ {
		k, _ := hotkey.KeyByName("KEY_" + string(r))
		letters = append(letters, k)
	}
	var devs []inputDevice
	var errs []error
	for _, n := range nodes {
		capDir := filepath.Join(n, "device", "capabilities")
		ev, err := os.ReadFile(filepath.Join(capDir, "ev"))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		types, err := parseBitmap(string(ev), bits.UintSize, 0x1f)
		if err != nil || !contains(types, evKey) {
			continue
		}
		kb, err := os.ReadFile(filepath.Join(capDir, "key"))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		set, err := parseBitmap(string(kb), bits.UintSize, keyMax)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", filepath.Base(n), err))
			continue
		}
		keys := make([]hotkey.Key, len(set))
		for i, b := range set {
			keys[i] = hotkey.Key(b)
		}
		d := inputDevice{Node: filepath.Base(n), Keys: hotkey.NewKeyState(keys...)}
		if name, err := os.ReadFile(filepath.Join(n, "device", "name")); err == nil {
			d.Name = strings.TrimSpace(string(name))
		}
		if hasAll(d.Keys, letters) || hasAll(d.Keys, c.Keys) {
			devs = append(devs, d)
		}
	}
	return devs, errors.Join(errs...)
}

func contains(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func hasAll(s hotkey.KeyState, keys []hotkey.Key) bool {
	for _, k := range keys {
		if !s.Has(k) {
			return false
		}
	}
	return len(keys) > 0
}

func (d inputDevice) String() string {
	if d.Name == "" {
		return d.Node
	}
	return fmt.Sprintf("%s (%s)", d.Node, d.Name)
}

// hotkey: the chord must be one the keyboards at hand can type.
func (a *auditor) hotkey() {
	conf := a.opts.Config
	b, err := a.read(conf)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		a.unreadable(CheckHotkey, conf, err)
	}
	val, line := chordSetting(b)
	where := "the default chord"
	if line > 0 {
		where = fmt.Sprintf("%s:%d", conf, line)
	}
	if val == "off" {
		a.add(CheckHotkey, Info, "to have one, set hotkey = "+hotkey.DefaultChord+" (or another chord) in "+conf,
			"the panic hotkey is off (%s)", where)
		return
	}
	c, err := hotkey.ParseChord(val)
	if err != nil {
		a.add(CheckHotkey, Warn, "fix the hotkey line (ramwiped -check-config checks the file); ramwiped does not start with it",
			"%s: hotkey = %q: %v", where, val, err)
		return
	}
	devs, err := a.keyboards(c)
	if err != nil {
		a.add(CheckHotkey, Info, "", "some input devices could not be read: %v", unwrapPath(err))
	}
	change := fmt.Sprintf("choose a chord that every keyboard you use has (hotkey = in %s; %s), then systemctl restart ramwiped and ramwipe test hotkey", conf, "e.g. KEY_LEFTCTRL+KEY_RIGHTSHIFT+KEY_BACKSPACE*2/1s where there is no right Ctrl")
	if len(devs) == 0 {
		a.add(CheckHotkey, Warn, "attach the keyboard you would use; until then trigger with ramwipe panic or the boot medium",
			"no keyboard is attached (no input device with letter keys in /sys/class/input): the chord %s cannot be typed", c)
		return
	}
	var with, without []string
	for _, d := range devs {
		var missing []string
		for _, k := range c.Keys {
			if !d.Keys.Has(k) {
				missing = append(missing, k.String())
			}
		}
		if len(missing) == 0 {
			with = append(with, d.String())
		} else {
			without = append(without, fmt.Sprintf("%s lacks %s", d, strings.Join(missing, ", ")))
		}
	}
	if len(with) == 0 {
		a.add(CheckHotkey, Warn, change,
			"no attached keyboard has every key of the chord %s (%s): %s", c, where, strings.Join(without, "; "))
		return
	}
	what := fmt.Sprintf("the chord %s (%s) can be typed on %s", c, where, strings.Join(with, ", "))
	if len(without) > 0 {
		what += " — but " + strings.Join(without, "; ")
		a.add(CheckHotkey, Info, change, "%s", what)
		return
	}
	a.add(CheckHotkey, OK, "", "%s", what)
}
