package dispatch

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/ramwipe/ramwipe/trigger/uevent"
)

// fakeUSB fires for the devpaths in fires; Rescan returns rescan.
type fakeUSB struct {
	fires map[string]bool

	mu      sync.Mutex
	matched []string
	rescans int
	rescan  bool
}

func (u *fakeUSB) Match(ev uevent.Event) (bool, string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.matched = append(u.matched, ev.DevPath)
	if u.fires[ev.DevPath] && ev.Action == "add" {
		return true, "USB device " + ev.DevPath + " plugged in, not on the allow-list"
	}
	return false, ""
}

func (u *fakeUSB) Rescan() (bool, string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.rescans++
	if u.rescan {
		return true, "1-9 found after lost uevents"
	}
	return false, ""
}

func (u *fakeUSB) seen() ([]string, int) {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]string(nil), u.matched...), u.rescans
}

const jiggler = "/devices/pci0000:00/0000:00:14.0/usb2/2-9"

var (
	jigglerIn  = uevent.Event{Action: "add", DevPath: jiggler, Subsystem: "usb", DevType: "usb_device"}
	jigglerOut = uevent.Event{Action: "remove", DevPath: jiggler, Subsystem: "usb", DevType: "usb_device"}
)

func TestUSB(t *testing.T) {
	h := start(t, sides{hotkey: true, medium: true, usb: true}, nil)
	h.send(kbdAdd, jigglerIn, jigglerOut)
	h.sync()
	matched, _ := h.usb.seen()
	assert.Equal(t, []string{kbdAdd.DevPath, jiggler, jiggler}, matched, "every event reaches the USB side")
	hk, _ := h.hk.seen()
	assert.Equal(t, []uevent.Event{kbdAdd, jigglerIn, jigglerOut}, hk, "and the hotkey")
	assert.Equal(t, []string{kbdAdd.DevPath, jiggler, jiggler}, h.md.seen(), "and the boot medium")
	assert.Equal(t, []string{
		"fire usb",
		"log usb: USB device " + jiggler + " plugged in, not on the allow-list",
	}, h.rec.all(), "fire first, then log")
}

func TestUSBAlone(t *testing.T) {
	h := start(t, sides{usb: true}, nil)
	h.send(stickOut, jigglerIn)
	h.sync()
	assert.Equal(t, []string{"fire usb", "log usb: USB device " + jiggler + " plugged in, not on the allow-list"}, h.rec.all())
}

func TestUSBOverrun(t *testing.T) {
	h := start(t, sides{usb: true}, nil)
	h.put(overrun)
	h.sync()
	_, rescans := h.usb.seen()
	assert.Equal(t, 1, rescans)
	assert.Empty(t, h.rec.all(), "nothing new: nothing fired")

	h.usb.mu.Lock()
	h.usb.rescan = true
	h.usb.mu.Unlock()
	h.put(overrun)
	h.sync()
	assert.Equal(t, []string{"fire usb", "log usb: 1-9 found after lost uevents"}, h.rec.all())
}
