package hotkey_test

import (
	"fmt"
	"log"

	"github.com/ramwipe/ramwipe/trigger/hotkey"
)

func ExampleParseChord() {
	c, err := hotkey.ParseChord("backspace+rightctrl+leftctrl")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(c)
	c, err = hotkey.ParseChord("KEY_PAUSE*3/2s")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(c.Keys, c.Times, c.Within)
	_, err = hotkey.ParseChord("KEY_LEFTALT+KEY_SYSRQ+KEY_W")
	fmt.Println(err != nil)
	// Output:
	// KEY_LEFTCTRL+KEY_RIGHTCTRL+KEY_BACKSPACE
	// [KEY_PAUSE] 3 2s
	// true
}

func ExampleMatcher() {
	c, _ := hotkey.ParseChord(hotkey.DefaultChord)
	m, err := hotkey.NewMatcher(c, nil)
	if err != nil {
		log.Fatal(err)
	}
	const evKey = 1
	for _, code := range []uint16{29, 30, 97, 14} { // LeftCtrl, A, RightCtrl, Backspace
		out := m.Feed("/dev/input/event0", hotkey.Event{Type: evKey, Code: code, Value: 1})
		fmt.Println(out)
	}
	// Output:
	// no match
	// no match
	// no match
	// matched
}

func ExampleWatcher() {
	c, err := hotkey.ParseChord(hotkey.DefaultChord)
	if err != nil {
		log.Fatal(err)
	}
	w, err := hotkey.NewWatcher(hotkey.Config{
		Chord:   c,
		OnChord: func() { log.Print("panic") },
		Logf:    log.Printf,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer w.Close()
	if err := w.Scan(); err != nil {
		log.Print(err) // some devices could not be opened; the others are watched
	}
	// Then feed it input uevents: w.HandleUevent(ev) for each, and
	// w.Scan() again after uevent.ErrOverrun.
}
