package dmcrypt_test

import (
	"context"
	"log"
	"time"

	"github.com/ramwipe/ramwipe/wipe"
	"github.com/ramwipe/ramwipe/wipe/dmcrypt"
)

var _ wipe.KeyEraser = (*dmcrypt.Eraser)(nil)

// Arm, then erase on a trigger. (Not run: it would suspend this machine's
// encrypted disks.)
func ExampleEraser_Erase() {
	// When arming: open device-mapper and see what there is to erase.
	e, err := dmcrypt.Open()
	if err != nil {
		log.Fatal(err)
	}
	defer e.Close()
	e.Logf = log.Printf
	devs, err := e.Devices()
	if err != nil {
		log.Print(err)
	}
	log.Printf("dm-crypt devices: %q", dmcrypt.Names(devs))

	// On a trigger: no file I/O from here on.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	rep := e.Erase(ctx)
	for _, d := range rep.Devices {
		log.Printf("%s: %d of %d keys wiped in %v, timed out %v: %v", d.Name, d.KeysWiped, len(d.Crypt), d.Duration, d.TimedOut, d.Err)
	}
}
