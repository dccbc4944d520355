package uevent_test

import (
	"errors"
	"fmt"
	"log"
	"os"

	"github.com/ramwipe/ramwipe/trigger/uevent"
)

func ExampleParse() {
	payload := []byte("remove@/devices/pci0000:00/0000:00:14.0/usb2/2-1\x00" +
		"ACTION=remove\x00DEVPATH=/devices/pci0000:00/0000:00:14.0/usb2/2-1\x00" +
		"SUBSYSTEM=usb\x00DEVTYPE=usb_device\x00SEQNUM=4801\x00")
	ev, err := uevent.Parse(payload)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(ev.Action, ev.Subsystem, ev.DevType, ev.DevPath, ev.Get("SEQNUM"))
	// Output: remove usb usb_device /devices/pci0000:00/0000:00:14.0/usb2/2-1 4801
}

// A receive loop: one listener feeds every consumer; after an overrun the
// consumers rebuild their state from sysfs.
func ExampleListener_Receive() {
	l, err := uevent.Listen(uevent.Config{Logf: log.Printf})
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()
	for {
		ev, err := l.Receive()
		switch {
		case errors.Is(err, uevent.ErrOverrun):
			log.Print(err) // resync: hotkey.Watcher.Scan, bootmedium.Matcher.Missing
			continue
		case errors.Is(err, os.ErrClosed):
			return
		case err != nil:
			log.Fatal(err)
		}
		fmt.Println(ev.Action, ev.DevPath)
	}
}
