package usbinsert

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ramwipe/ramwipe/trigger/uevent"
)

// fakeSys is a fake sysfs tree of USB devices below a temporary root.
type fakeSys struct {
	t    *testing.T
	root string
}

func newFakeSys(t *testing.T) *fakeSys {
	fs := &fakeSys{t: t, root: t.TempDir()}
	require.NoError(t, os.MkdirAll(fs.path("/sys/bus/usb/devices"), 0o755))
	return fs
}

func (fs *fakeSys) path(p string) string { return filepath.Join(fs.root, filepath.FromSlash(p)) }

// controller is the devpath of the fake xHCI controller.
const controller = "/devices/pci0000:00/0000:00:14.0"

// devpath returns the devpath of the device at port (usb1, 1-4, 1-4.2).
func devpath(port string) string {
	if path.Base(port) != port {
		panic(port)
	}
	p := controller
	if len(port) > 3 && port[:3] == "usb" {
		return p + "/" + port
	}
	// 1-4.2 is below 1-4, below usb1.
	bus, rest := port[:1], port[2:]
	p += "/usb" + bus
	acc := bus + "-"
	for i, c := range rest {
		if c == '.' {
			p += "/" + acc + rest[:i]
		}
	}
	return p + "/" + acc + rest
}

// dev is a fake device's attributes.
type dev struct {
	port            string
	vendor, product uint16
	class           uint8
	serial          string // "-" for none
	name            string
}

// plug creates the device's sysfs directory and its /sys/bus/usb/devices link.
func (fs *fakeSys) plug(d dev) {
	dir := fs.path("/sys" + devpath(d.port))
	require.NoError(fs.t, os.MkdirAll(dir, 0o755))
	attrs := map[string]string{
		"idVendor":     fmt.Sprintf("%04x", d.vendor),
		"idProduct":    fmt.Sprintf("%04x", d.product),
		"bDeviceClass": fmt.Sprintf("%02x", d.class),
		"product":      d.name,
	}
	if d.serial != "-" {
		attrs["serial"] = d.serial
	}
	for k, v := range attrs {
		require.NoError(fs.t, os.WriteFile(filepath.Join(dir, k), []byte(v+"\n"), 0o444))
	}
	link := fs.path("/sys/bus/usb/devices/" + d.port)
	rel, err := filepath.Rel(filepath.Dir(link), dir)
	require.NoError(fs.t, err)
	_ = os.Remove(link)
	require.NoError(fs.t, os.Symlink(rel, link))
}

// unplug removes the device's directory and link.
func (fs *fakeSys) unplug(port string) {
	require.NoError(fs.t, os.RemoveAll(fs.path("/sys"+devpath(port))))
	require.NoError(fs.t, os.Remove(fs.path("/sys/bus/usb/devices/"+port)))
}

// addEvent is the kernel's add uevent for d.
func addEvent(d dev) uevent.Event {
	return event("add", devpath(d.port), "usb_device", map[string]string{
		"PRODUCT": fmt.Sprintf("%x/%x/100", d.vendor, d.product),
		"TYPE":    fmt.Sprintf("%d/0/0", d.class),
	})
}

func removeEvent(port string) uevent.Event {
	return event("remove", devpath(port), "usb_device", nil)
}

func ifaceEvent(port string, class uint8) uevent.Event {
	return event("add", devpath(port)+"/"+port+":1.0", "usb_interface", map[string]string{
		"INTERFACE": fmt.Sprintf("%d/0/0", class),
	})
}

func event(action, devpath, devtype string, vars map[string]string) uevent.Event {
	env := map[string]string{"ACTION": action, "DEVPATH": devpath, "SUBSYSTEM": "usb", "DEVTYPE": devtype}
	for k, v := range vars {
		env[k] = v
	}
	return uevent.Event{Action: action, DevPath: devpath, Subsystem: "usb", DevType: devtype, Env: env}
}

// fakeClock is a Clock whose time and suspend time the test moves.
type fakeClock struct {
	mu    sync.Mutex
	now   time.Time
	slept time.Duration
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Unix(1_800_000_000, 0)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Suspended() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.slept
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// sleep is a suspend of d: the suspend clock and the wall clock move.
func (c *fakeClock) sleep(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.slept += d
	c.mu.Unlock()
}

func osSymlink(target, link string) error {
	rel, err := filepath.Rel(filepath.Dir(link), target)
	if err != nil {
		return err
	}
	return os.Symlink(rel, link)
}

func osWrite(p, s string) error { return os.WriteFile(p, []byte(s), 0o644) }
