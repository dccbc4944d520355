package usbinsert

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ramwipe/ramwipe/trigger/uevent"
)

// machine is a fake machine with a root hub, a hub, a stick behind it
// and a serial-less mouse, and a Watcher that allows the stick by serial
// and the mouse by model.
type machine struct {
	t     *testing.T
	fs    *fakeSys
	clock *fakeClock
	w     *Watcher
	log   []string
}

func newMachine(t *testing.T, allow ...string) *machine {
	m := &machine{t: t, fs: newFakeSys(t), clock: newFakeClock()}
	for _, d := range []dev{rootHub, hub, stick, mouse} {
		m.fs.plug(d)
	}
	if allow == nil {
		allow = []string{"0781:5583:4C530001", "046d:c077"}
	}
	var rules []Rule
	for _, a := range allow {
		r, err := ParseRule(a)
		require.NoError(t, err)
		rules = append(rules, r)
	}
	m.w = NewWatcher(Config{Allow: rules, Root: m.fs.root, Clock: m.clock, Logf: func(f string, a ...any) {
		m.log = append(m.log, f)
	}})
	require.NoError(t, m.w.Scan())
	return m
}

// plug plugs d in and returns the Watcher's verdict on its add event.
func (m *machine) plug(d dev) (bool, string) {
	m.fs.plug(d)
	return m.w.Match(addEvent(d))
}

func (m *machine) unplug(port string) {
	m.fs.unplug(port)
	fire, _ := m.w.Match(removeEvent(port))
	require.False(m.t, fire, "a removal never fires")
}

var jiggler = dev{port: "1-3", vendor: 0x1a86, product: 0xe026, serial: "-", name: "Mouse Jiggler"}

func TestNewDeviceFires(t *testing.T) {
	m := newMachine(t)
	fire, why := m.plug(jiggler)
	assert.True(t, fire)
	assert.Contains(t, why, `1-3 (1a86:e026 "Mouse Jiggler")`)
	assert.Contains(t, why, "not on the allow-list")
}

func TestNewDeviceBehindHubFires(t *testing.T) {
	m := newMachine(t)
	behind := jiggler
	behind.port = "1-1.4"
	fire, _ := m.plug(behind)
	assert.True(t, fire)
}

func TestEmptyAllowListFiresForEverything(t *testing.T) {
	m := newMachine(t, []string{}...)
	m.unplug("1-2")
	fire, _ := m.plug(mouse)
	assert.True(t, fire, "the owner's mouse, re-plugged, with nothing allowed")
}

func TestHubsDoNotFire(t *testing.T) {
	m := newMachine(t)
	hub2 := dev{port: "1-4", vendor: 0x2109, product: 0x2817, class: 9, serial: "-", name: "USB3 Hub"}
	fire, _ := m.plug(hub2)
	assert.False(t, fire, "a hub")
	fire, _ = m.w.Match(ifaceEvent("1-4", 9))
	assert.False(t, fire, "a hub's interface")
	// What is behind it is judged.
	behind := jiggler
	behind.port = "1-4.1"
	fire, _ = m.plug(behind)
	assert.True(t, fire, "a jiggler behind the new hub")
}

func TestHubImpostorFires(t *testing.T) {
	m := newMachine(t)
	fake := dev{port: "1-4", vendor: 0x1337, product: 0x0001, class: 9, serial: "-"}
	fire, _ := m.plug(fake)
	assert.False(t, fire, "says it is a hub")
	fire, why := m.w.Match(ifaceEvent("1-4", 3))
	assert.True(t, fire, "then shows a HID interface")
	assert.Contains(t, why, "said it was a hub")
}

func TestAllowedHubWithOtherInterfaceDoesNotFire(t *testing.T) {
	m := newMachine(t, "0781:5583:4C530001", "046d:c077", "1337:0001")
	fake := dev{port: "1-4", vendor: 0x1337, product: 0x0001, class: 9, serial: "-"}
	fire, _ := m.plug(fake)
	assert.False(t, fire)
	fire, _ = m.w.Match(ifaceEvent("1-4", 3))
	assert.False(t, fire)
}

func TestInterfacesDoNotFire(t *testing.T) {
	m := newMachine(t)
	for _, cls := range []uint8{3, 8, 9, 0xff} {
		fire, _ := m.w.Match(ifaceEvent("1-2", cls))
		assert.False(t, fire, "interface class %d of the mouse", cls)
		fire, _ = m.w.Match(ifaceEvent("1-9", cls))
		assert.False(t, fire, "interface class %d of an unknown device", cls)
	}
}

func TestAllowedDeviceFlaps(t *testing.T) {
	m := newMachine(t)
	for range 5 {
		m.unplug("1-1.3")
		fire, why := m.plug(stick)
		assert.False(t, fire, why)
		m.unplug("1-2")
		fire, why = m.plug(mouse)
		assert.False(t, fire, why)
	}
	// In another port too: neither rule has a port.
	m.unplug("1-1.3")
	moved := stick
	moved.port = "1-5"
	fire, _ := m.plug(moved)
	assert.False(t, fire)
}

func TestAllowedByPort(t *testing.T) {
	m := newMachine(t, "046d:c077@1-2")
	m.unplug("1-2")
	fire, _ := m.plug(mouse)
	assert.False(t, fire, "same port")
	m.unplug("1-2")
	moved := mouse
	moved.port = "1-5"
	fire, _ = m.plug(moved)
	assert.True(t, fire, "another port")
}

func TestOtherSerialFires(t *testing.T) {
	m := newMachine(t)
	other := stick
	other.port, other.serial = "1-5", "DEADBEEF"
	fire, _ := m.plug(other)
	assert.True(t, fire, "the same model with another serial")
	noSerial := stick
	noSerial.port, noSerial.serial = "1-6", "-"
	fire, _ = m.plug(noSerial)
	assert.True(t, fire, "the same model without a serial")
}

func TestSerialUnreadable(t *testing.T) {
	m := newMachine(t)
	gone := stick
	gone.port = "1-5"
	gone.serial = "OTHER"
	// Plugged in and out before its serial was read: no sysfs directory.
	fire, why := m.w.Match(addEvent(gone))
	assert.False(t, fire, "an allowed model on any port: not sure it is new: %s", why)

	m2 := newMachine(t, "0781:5583:4C530001@1-1.3")
	fire, _ = m2.w.Match(addEvent(gone))
	assert.True(t, fire, "the allowed model is allowed on 1-1.3 only")
	fire, _ = m2.w.Match(addEvent(jiggler))
	assert.True(t, fire, "a model nobody allowed")
}

func TestUnidentifiableFires(t *testing.T) {
	m := newMachine(t)
	ev := event("add", devpath("1-7"), "usb_device", map[string]string{"PRODUCT": "zzz", "TYPE": "0/0/0"})
	fire, why := m.w.Match(ev)
	assert.True(t, fire)
	assert.Contains(t, why, "not identifiable")
}

func TestSyntheticAndOtherEventsDoNotFire(t *testing.T) {
	m := newMachine(t)
	m.fs.plug(jiggler)
	ev := addEvent(jiggler)
	ev.Env["SYNTH_UUID"] = "0"
	fire, _ := m.w.Match(ev)
	assert.False(t, fire, "synthetic")
	for _, action := range []string{"bind", "change", "unbind", "move"} {
		ev := addEvent(jiggler)
		ev.Action = action
		fire, _ := m.w.Match(ev)
		assert.False(t, fire, action)
	}
	other := addEvent(jiggler)
	other.Subsystem = "input"
	fire, _ = m.w.Match(other)
	assert.False(t, fire, "another subsystem")
}

func TestAnnouncedTwice(t *testing.T) {
	m := newMachine(t, []string{}...)
	fire, _ := m.w.Match(addEvent(mouse))
	assert.False(t, fire, "the mouse is attached already at that devpath")
}

func TestResumeReenumeration(t *testing.T) {
	// Nothing allowed: the mouse, attached before the suspend, comes
	// back after it.
	m := newMachine(t, []string{}...)
	m.clock.sleep(time.Hour)
	m.unplug("1-2")
	m.clock.advance(2 * time.Second)
	fire, why := m.plug(mouse)
	assert.False(t, fire, "re-enumerated after resume: %s", why)

	// A new device during the settle time still fires.
	fire, _ = m.plug(jiggler)
	assert.True(t, fire, "a new device right after the resume")

	// After the settle time a re-plug is a re-plug.
	m.clock.advance(ResumeSettle)
	m.unplug("1-2")
	fire, _ = m.plug(mouse)
	assert.True(t, fire, "re-plugged after the settle time")
}

func TestResumeNoticedFirst(t *testing.T) {
	// The resume is noticed (WatchResume) before any event; the devices
	// go and come back later, within the settle time.
	m := newMachine(t, []string{}...)
	m.clock.sleep(time.Minute)
	assert.True(t, m.w.Resumed())
	assert.False(t, m.w.Resumed(), "once per resume")
	m.clock.advance(time.Second)
	m.unplug("1-1")
	m.fs.unplug("1-1.3")
	m.w.Match(removeEvent("1-1.3"))
	fire, _ := m.plug(hub)
	assert.False(t, fire)
	fire, why := m.plug(stick)
	assert.False(t, fire, why)
}

func TestResumeOtherPortFires(t *testing.T) {
	m := newMachine(t, []string{}...)
	m.clock.sleep(time.Minute)
	m.unplug("1-2")
	moved := mouse
	moved.port = "1-5"
	fire, _ := m.plug(moved)
	assert.True(t, fire, "came back elsewhere: it was moved while the machine slept")
}

func TestClockSetIsNotResume(t *testing.T) {
	m := newMachine(t, []string{}...)
	m.clock.advance(time.Hour) // the wall clock only
	assert.False(t, m.w.Resumed())
	m.unplug("1-2")
	fire, _ := m.plug(mouse)
	assert.True(t, fire)
}

func TestRescan(t *testing.T) {
	m := newMachine(t)
	// Lost events: the mouse went, a jiggler came, the stick was re-plugged.
	m.fs.unplug("1-2")
	m.fs.plug(jiggler)
	fire, why := m.w.Rescan()
	assert.True(t, fire)
	assert.Contains(t, why, "1-3")
	assert.Contains(t, why, "lost uevents")
	assert.NotContains(t, why, "1-1.3")
	ports := func() []string {
		var p []string
		for _, d := range m.w.Attached() {
			p = append(p, d.Port)
		}
		return p
	}
	assert.Equal(t, []string{"usb1", "1-1", "1-1.3", "1-3"}, ports())

	fire, _ = m.w.Rescan()
	assert.False(t, fire, "nothing new since")
}

func TestUnlisted(t *testing.T) {
	m := newMachine(t, "046d:c077")
	un := m.w.Unlisted()
	require.Len(t, un, 1)
	assert.Equal(t, "1-1.3", un[0].Port)
	assert.Equal(t, 1, m.w.Rules())
}

// TestConcurrent runs the uevent loop's calls against resume notices and
// status requests; run with -race.
func TestConcurrent(t *testing.T) {
	m := newMachine(t)
	m.w.logf = func(string, ...any) {}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(2)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
				m.clock.sleep(2 * time.Second)
				m.w.Resumed()
			}
		}
	}()
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
				_ = m.w.Attached()
				_ = m.w.Unlisted()
			}
		}
	}()
	for range 200 {
		m.w.Match(removeEvent("1-2"))
		m.w.Match(addEvent(mouse))
		m.w.Match(ifaceEvent("1-2", 3))
		m.w.Rescan()
	}
	close(stop)
	wg.Wait()
}

// FuzzMatch feeds arbitrary add events for a USB device to a Watcher:
// it must never panic, and an event it cannot identify fires.
func FuzzMatch(f *testing.F) {
	f.Add("add", "/devices/pci0000:00/0000:00:14.0/usb1/1-3", "usb_device", "1a86/e026/100", "0/0/0", "")
	f.Add("add", "/devices/pci0000:00/0000:00:14.0/usb1/1-3/1-3:1.0", "usb_interface", "", "", "3/1/2")
	f.Add("remove", "/devices/x/../../1-2", "usb_device", "46f4/1/0", "9/0/0", "")
	f.Fuzz(func(t *testing.T, action, devpath, devtype, product, typ, iface string) {
		fs := newFakeSys(t)
		fs.plug(hub)
		w := NewWatcher(Config{Root: fs.root, Clock: newFakeClock(), Allow: []Rule{{Vendor: 0x46f4, Product: 1}}})
		require.NoError(t, w.Scan())
		ev := uevent.Event{Action: action, DevPath: devpath, Subsystem: "usb", DevType: devtype,
			Env: map[string]string{"PRODUCT": product, "TYPE": typ, "INTERFACE": iface}}
		fire, why := w.Match(ev)
		if fire && why == "" {
			t.Fatal("fired without saying why")
		}
		if action == "add" && devtype == "usb_device" && product != "" && typ != "" {
			if _, _, err := ParseProduct(product); err != nil && !fire {
				t.Fatalf("unidentifiable %q did not fire", product)
			}
		}
	})
}
