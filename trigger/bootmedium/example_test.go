package bootmedium_test

import (
	"fmt"
	"log"

	"github.com/ramwipe/ramwipe/trigger/bootmedium"
	"github.com/ramwipe/ramwipe/trigger/uevent"
)

func ExampleMatcher_Match() {
	// A medium as Resolve reports a root partition on a USB stick.
	stick := "/devices/pci0000:00/0000:00:14.0/usb2/2-1"
	m := bootmedium.NewMatcher(&bootmedium.Medium{Devices: []bootmedium.Device{{
		DevPath: stick + "/2-1:1.0/host0/target0:0:0/0:0:0:0/block/sdb/sdb2",
		USB:     stick, Removable: true, Watched: true, Desc: `sdb2 (/): USB "SanDisk Cruzer Blade"`,
	}}}, bootmedium.MatcherConfig{})

	for _, devpath := range []string{
		"/devices/pci0000:00/0000:00:14.0/usb2/2-10", // another port
		stick, // the stick itself
	} {
		v, why := m.Match(uevent.Event{Action: "remove", DevPath: devpath})
		if v == bootmedium.Ignore {
			fmt.Println(v)
			continue
		}
		fmt.Println(v, why)
	}
	// Output:
	// ignore
	// gone /devices/pci0000:00/0000:00:14.0/usb2/2-1 removed: sdb2 (/): USB "SanDisk Cruzer Blade"
}

func ExampleResolve() {
	m, err := bootmedium.Resolve(bootmedium.Options{
		KillCords: []string{"/dev/disk/by-id/usb-Kingston_DataTraveler_3.0-0:0"},
		Logf:      log.Printf,
	})
	if err != nil {
		log.Print(err) // what resolved is still watched
	}
	if m == nil || len(m.Watched()) == 0 {
		log.Print("boot-medium trigger off: nothing removable to watch")
		return
	}
	log.Printf("watching %s", m)
}
