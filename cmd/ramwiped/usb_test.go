package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ramwipe/ramwipe/trigger/dispatch"
	"github.com/ramwipe/ramwipe/trigger/uevent"
	"github.com/ramwipe/ramwipe/trigger/usbinsert"
)

// usbTree is a fake sysfs with a root hub, a QEMU stick (allowed by the
// tests) and a tablet (not allowed).
func usbTree(t *testing.T) string {
	root := t.TempDir()
	bus := filepath.Join(root, "sys/bus/usb/devices")
	require.NoError(t, os.MkdirAll(bus, 0o755))
	for port, attrs := range map[string]map[string]string{
		"usb1": {"idVendor": "1d6b", "idProduct": "0002", "bDeviceClass": "09"},
		"1-1":  {"idVendor": "46f4", "idProduct": "0001", "bDeviceClass": "00", "serial": "1-0000:00:04.0-1", "product": "QEMU USB HARDDRIVE"},
		"1-2":  {"idVendor": "0627", "idProduct": "0001", "bDeviceClass": "00", "serial": "42", "product": "QEMU USB Tablet"},
	} {
		dir := filepath.Join(root, "sys/devices/pci0000:00/0000:00:04.0/usb1")
		if port != "usb1" {
			dir = filepath.Join(dir, port)
		}
		require.NoError(t, os.MkdirAll(dir, 0o755))
		for k, v := range attrs {
			require.NoError(t, os.WriteFile(filepath.Join(dir, k), []byte(v+"\n"), 0o644))
		}
		rel, err := filepath.Rel(bus, dir)
		require.NoError(t, err)
		require.NoError(t, os.Symlink(rel, filepath.Join(bus, port)))
	}
	return root
}

func TestUSBStatus(t *testing.T) {
	p := &fakePlatform{cmdline: "memtest=1"}
	cfg := DefaultConfig()
	cfg.USBInsert = true
	r, err := usbinsert.ParseRule("46f4:0001")
	require.NoError(t, err)
	cfg.USBAllow = []usbinsert.Rule{r}
	d := newDaemon(p, true, cfg)
	d.arm()
	newUSB(d, usbTree(t), d.logf)
	st := status(t, d)
	assert.Contains(t, st.Triggers, "usb")
	require.NotEmpty(t, st.Watching)
	w := st.Watching[len(st.Watching)-1]
	assert.Equal(t, "usb", w.Trigger)
	assert.True(t, w.On)
	assert.Contains(t, w.What, "not on the allow-list (1 usb_allow entries)")
	assert.Contains(t, w.What, "2 devices attached now, 1 of them not allowed (re-plugging one wipes): 1-2 (0627:0001")

	cfg.USBAllow = nil
	d = newDaemon(p, true, cfg)
	newUSB(d, usbTree(t), d.logf)
	assert.Contains(t, status(t, d).Watching[0].What, "EVERY USB device plugged in")
}

func TestUSBOffStatus(t *testing.T) {
	d := newDaemon(&fakePlatform{}, false, DefaultConfig())
	d.watchOff("usb", "off: usb_insert = off in ramwipe.conf")
	st := status(t, d)
	assert.NotContains(t, st.Triggers, "usb")
	require.Len(t, st.Watching, 1)
	assert.Equal(t, "usb", st.Watching[0].Trigger)
	assert.False(t, st.Watching[0].On)
}

// fakeSource hands the dispatch loop uevents from a channel.
type fakeSource struct {
	in   chan uevent.Event
	done chan struct{}
}

func (s *fakeSource) Receive() (uevent.Event, error) {
	select {
	case ev := <-s.in:
		return ev, nil
	case <-s.done:
		return uevent.Event{}, os.ErrClosed
	}
}

func (s *fakeSource) Close() error {
	select {
	case <-s.done:
	default:
		close(s.done)
	}
	return nil
}

// TestUSBTriggerEndToEnd runs the dispatch loop with the daemon's Fire
// over a fake uevent source: a rehearsal of usb sees the new device
// without wiping; then an allowed stick re-plugged wipes nothing, and two
// new devices run the panic sequence once.
func TestUSBTriggerEndToEnd(t *testing.T) {
	p := &fakePlatform{cmdline: "memtest=1"}
	cfg := DefaultConfig()
	cfg.USBInsert = true
	r, err := usbinsert.ParseRule("46f4:0001")
	require.NoError(t, err)
	cfg.USBAllow = []usbinsert.Rule{r}
	d := newDaemon(p, true, cfg)
	d.arm()
	p.called()
	root := usbTree(t)
	w := newUSB(d, root, d.logf)

	src := &fakeSource{in: make(chan uevent.Event), done: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go dispatch.Run(ctx, dispatch.Config{Source: src, USB: w, Fire: d.Fire})

	add := func(port, product string) uevent.Event {
		dp := "/devices/pci0000:00/0000:00:04.0/usb1/" + port
		return uevent.Event{Action: "add", DevPath: dp, Subsystem: "usb", DevType: "usb_device",
			Env: map[string]string{"PRODUCT": product, "TYPE": "0/0/0"}}
	}
	remove := func(port string) uevent.Event {
		return uevent.Event{Action: "remove", DevPath: "/devices/pci0000:00/0000:00:04.0/usb1/" + port, Subsystem: "usb", DevType: "usb_device"}
	}

	done := make(chan string)
	go func() {
		got, err := d.Test(context.Background(), "usb")
		assert.NoError(t, err)
		done <- got
	}()
	rehearsing(d, "usb")
	src.in <- add("1-3", "1a86/e026/100")
	assert.Contains(t, <-done, "usb trigger seen — would wipe now")
	assert.Empty(t, p.called(), "a rehearsal wipes nothing")

	src.in <- remove("1-1")
	src.in <- add("1-1", "46f4/1/0")
	src.in <- remove("1-3")
	src.in <- remove("1-1") // a barrier: the loop is done with the add before
	assert.Empty(t, p.called(), "the allowed stick re-plugged")

	src.in <- add("1-4", "dead/beef/1")
	src.in <- add("1-5", "dead/beef/1")
	src.in <- remove("1-5")
	assert.Equal(t, []string{"erase", "kexec", "poweroff"}, p.called(), "one panic sequence")
}
