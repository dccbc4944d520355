package dispatch_test

import (
	"context"
	"log"

	"github.com/ramwipe/ramwipe/trigger/bootmedium"
	"github.com/ramwipe/ramwipe/trigger/dispatch"
	"github.com/ramwipe/ramwipe/trigger/hotkey"
	"github.com/ramwipe/ramwipe/trigger/uevent"
)

// The real sides, wired as ramwiped does (it runs Run in a goroutine).
func ExampleRun() {
	ctx := context.Background()
	fire := func(trigger string) { log.Printf("PANIC: %s", trigger) }

	cfg := dispatch.Config{Fire: fire, Logf: log.Printf}
	w, err := hotkey.NewWatcher(hotkey.Config{OnChord: func() { fire("hotkey") }, Logf: log.Printf})
	if err != nil {
		log.Fatal(err)
	}
	if err := w.Scan(); err != nil {
		log.Print(err) // keyboards that opened are watched
	}
	cfg.Hotkey = w
	if m, err := bootmedium.Resolve(bootmedium.Options{Logf: log.Printf}); err != nil {
		log.Print(err)
	} else if matcher := bootmedium.NewMatcher(m, bootmedium.MatcherConfig{Logf: log.Printf}); matcher.Watching() {
		cfg.Medium = matcher // set only when there is one: no nil pointer in the interface
	}

	l, err := uevent.Listen(uevent.Config{Logf: log.Printf})
	if err != nil {
		log.Fatal(err)
	}
	cfg.Source = l
	if err := dispatch.Run(ctx, cfg); err != nil {
		log.Printf("%v: keyboards plugged in later and boot-medium removal are no longer seen", err)
	}
}
