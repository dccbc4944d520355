package bootmedium

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ramwipe/ramwipe/trigger/uevent"
)

type fakeClock struct {
	t     time.Time
	slept time.Duration
}

func (c *fakeClock) Now() time.Time           { return c.t }
func (c *fakeClock) Suspended() time.Duration { return c.slept }

func ev(action, devpath string, env ...string) uevent.Event {
	e := uevent.Event{Action: action, DevPath: devpath, Env: map[string]string{"ACTION": action, "DEVPATH": devpath}}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		e.Env[k] = v
	}
	e.Subsystem = e.Env["SUBSYSTEM"]
	return e
}

func matcherFor(t *testing.T, tr *tree, opts Options) (*Matcher, *fakeClock) {
	t.Helper()
	m, err := resolve(tr.root, opts)
	require.NoError(t, err)
	clk := &fakeClock{t: time.Unix(1e9, 0)}
	return NewMatcher(m, MatcherConfig{Root: tr.root, Clock: clk, Logf: t.Logf}), clk
}

func TestMatchDmCryptOnUSB(t *testing.T) {
	tr := dmCryptUSB(t)
	m, _ := matcherFor(t, tr, Options{})
	require.True(t, m.Watching())
	tests := []struct {
		name string
		ev   uevent.Event
		want Verdict
	}{
		{"partition removed", ev("remove", usbRoot, "SUBSYSTEM=block", "DEVTYPE=partition"), Gone},
		{"boot partition removed", ev("remove", usbBoot, "SUBSYSTEM=block"), Gone},
		{"disk removed", ev("remove", usbDisk, "SUBSYSTEM=block", "DEVTYPE=disk"), Gone},
		{"scsi device removed", ev("remove", xhci+"/usb2/2-1/2-1:1.0/host0/target0:0:0/0:0:0:0", "SUBSYSTEM=scsi"), Gone},
		{"usb interface removed", ev("remove", usbStick+"/2-1:1.0", "SUBSYSTEM=usb", "DEVTYPE=usb_interface"), Gone},
		{"usb device removed", ev("remove", usbStick, "SUBSYSTEM=usb", "DEVTYPE=usb_device"), Gone},
		{"root hub removed", ev("remove", xhci+"/usb2", "SUBSYSTEM=usb"), Gone},
		{"controller removed", ev("remove", xhci, "SUBSYSTEM=pci"), Gone},
		{"trailing slash", ev("remove", usbStick+"/", "SUBSYSTEM=usb"), Gone},
		{"sibling port 2-10", ev("remove", xhci+"/usb2/2-10", "SUBSYSTEM=usb"), Ignore},
		{"sibling port 2-1.1 (a hub's port)", ev("remove", xhci+"/usb2/2-1.1", "SUBSYSTEM=usb"), Ignore},
		{"other bus", ev("remove", xhci+"/usb1/1-1", "SUBSYSTEM=usb"), Ignore},
		{"class device under the host", ev("remove", usbStick+"/2-1:1.0/host0/scsi_host/host0", "SUBSYSTEM=scsi_host"), Ignore},
		{"bsg child of the scsi device", ev("remove", xhci+"/usb2/2-1/2-1:1.0/host0/target0:0:0/0:0:0:0/bsg/0:0:0:0", "SUBSYSTEM=bsg"), Ignore},
		{"dm device removed (cryptsetup close at shutdown)", ev("remove", dm0, "SUBSYSTEM=block"), Ignore},
		{"add of the same device", ev("add", usbStick, "SUBSYSTEM=usb"), Ignore},
		{"change without media change", ev("change", usbDisk, "SUBSYSTEM=block"), Ignore},
		{"bind", ev("bind", usbStick+"/2-1:1.0", "SUBSYSTEM=usb"), Ignore},
		{"unbind", ev("unbind", usbStick+"/2-1:1.0", "SUBSYSTEM=usb", "DRIVER=usb-storage"), Ignore},
		{"synthetic remove (udevadm trigger)", ev("remove", usbStick, "SUBSYSTEM=usb", "SYNTH_UUID=0"), Ignore},
		{"not below /devices", ev("remove", "/module/usb_storage"), Ignore},
		{"/devices itself", ev("remove", "/devices"), Ignore},
		{"dot-dot escape", ev("remove", "/devices/../devices/pci0000:00/0000:00:14.0/usb2/2-10"), Ignore},
		{"empty", uevent.Event{}, Ignore},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, why := m.Match(tt.ev)
			assert.Equal(t, tt.want, got, "Match(%s %s)", tt.ev.Action, tt.ev.DevPath)
			if got == Gone {
				assert.Contains(t, why, tt.ev.DevPath)
				assert.Contains(t, why, "Cruzer Blade")
			}
		})
	}
}

func TestMatchMediaChange(t *testing.T) {
	tr := dmCryptUSB(t)
	m, _ := matcherFor(t, tr, Options{})
	change := ev("change", usbDisk, "SUBSYSTEM=block", "DEVTYPE=disk", "DISK_MEDIA_CHANGE=1")

	got, _ := m.Match(change)
	assert.Equal(t, Ignore, got, "a medium is present (e.g. revalidated after resume)")

	tr.file("/sys"+usbDisk+"/size", "0\n")
	got, why := m.Match(change)
	assert.Equal(t, Gone, got)
	assert.Contains(t, why, "size 0")

	require.NoError(t, os.RemoveAll(tr.path("/sys"+usbDisk)))
	got, why = m.Match(change)
	assert.Equal(t, Gone, got, "the disk vanished")
	assert.Contains(t, why, "disk is gone")

	m.size = func(string) (uint64, error) { return 0, errors.New("EIO") }
	got, _ = m.Match(change)
	assert.Equal(t, Ignore, got, "an unreadable size is not a removal")

	m.size = func(string) (uint64, error) { return 0, nil }
	got, _ = m.Match(ev("change", xhci+"/usb2/2-10/block/sdd", "DISK_MEDIA_CHANGE=1"))
	assert.Equal(t, Ignore, got, "another disk's media change")
	got, _ = m.Match(ev("change", usbDisk, "DISK_MEDIA_CHANGE=1", "SYNTH_UUID=5f3c"))
	assert.Equal(t, Ignore, got, "synthetic")
}

func TestSysfsSize(t *testing.T) {
	tr := dmCryptUSB(t)
	m, _ := matcherFor(t, tr, Options{})
	n, err := m.sysfsSize(usbDisk)
	require.NoError(t, err)
	assert.Equal(t, uint64(30031872), n)
	tr.file("/sys"+usbDisk+"/size", "lots\n")
	_, err = m.sysfsSize(usbDisk)
	assert.ErrorContains(t, err, "invalid syntax")
}

func TestMatchNVMeDisabled(t *testing.T) {
	tr := nvme(t)
	m, _ := matcherFor(t, tr, Options{})
	assert.False(t, m.Watching())
	got, _ := m.Match(ev("remove", nvmeRoot))
	assert.Equal(t, Ignore, got, "a fixed disk is not watched unless configured")
	assert.Empty(t, m.Missing())

	m, _ = matcherFor(t, tr, Options{WatchFixed: true})
	got, _ = m.Match(ev("remove", "/devices/pci0000:00/0000:00:1d.0/0000:3d:00.0"))
	assert.Equal(t, Gone, got)
}

func TestMatchLive(t *testing.T) {
	tr := live(t)
	m, _ := matcherFor(t, tr, Options{})
	got, _ := m.Match(ev("remove", usbStick))
	assert.Equal(t, Gone, got)
	got, _ = m.Match(ev("remove", loop0))
	assert.Equal(t, Ignore, got, "loop devices are virtual; their backing medium is watched")
	got, _ = m.Match(ev("remove", usbRoot))
	assert.Equal(t, Ignore, got, "a partition the live system does not use")
}

func TestMatchKillCord(t *testing.T) {
	tr := nvme(t)
	tr.file("/sys"+cordDongl+"/idVendor", "1050")
	m, _ := matcherFor(t, tr, Options{KillCords: []string{cordDongl}})
	got, why := m.Match(ev("remove", cordDongl, "SUBSYSTEM=usb"))
	assert.Equal(t, Gone, got)
	assert.Contains(t, why, "1-4 ("+cordDongl+"): USB")
	got, _ = m.Match(ev("remove", cordDongl+"/1-4:1.0", "SUBSYSTEM=usb"))
	assert.Equal(t, Ignore, got, "an interface below the watched device")
}

func TestHoldAndMissing(t *testing.T) {
	tr := dmCryptUSB(t)
	m, clk := matcherFor(t, tr, Options{})
	m.Hold(5 * time.Second)
	got, why := m.Match(ev("remove", usbStick))
	assert.Equal(t, Deferred, got)
	assert.NotEmpty(t, why)
	assert.Empty(t, m.Missing(), "re-enumerated: still there")

	clk.t = clk.t.Add(5 * time.Second)
	got, _ = m.Match(ev("remove", usbStick))
	assert.Equal(t, Gone, got, "the hold is over")

	m.Hold(time.Minute)
	m.Hold(0)
	got, _ = m.Match(ev("remove", usbStick))
	assert.Equal(t, Gone, got, "Hold(0) ends a hold")

	require.NoError(t, os.RemoveAll(tr.path("/sys"+usbStick)))
	assert.Equal(t, []string{usbBoot, usbRoot}, m.Missing())
}

func TestResumeHolds(t *testing.T) {
	tr := dmCryptUSB(t)
	m, clk := matcherFor(t, tr, Options{})
	assert.Zero(t, m.HoldEnds())
	got, _ := m.Match(ev("add", "/devices/virtual/misc/tun"))
	assert.Equal(t, Ignore, got)
	assert.Zero(t, m.HoldEnds(), "no resume: no hold")

	// The machine slept 10 minutes; on resume its USB bus re-enumerates.
	clk.slept += 10 * time.Minute
	clk.t = clk.t.Add(time.Second)
	got, why := m.Match(ev("remove", usbStick))
	assert.Equal(t, Deferred, got, "the first removal after a resume waits")
	assert.NotEmpty(t, why)
	assert.Equal(t, ResumeSettle, m.HoldEnds())
	assert.Empty(t, m.Missing(), "back at the same path: no panic")

	clk.t = clk.t.Add(ResumeSettle)
	got, _ = m.Match(ev("remove", usbStick))
	assert.Equal(t, Gone, got, "after the settle time a removal fires at once")

	// A stick pulled while the machine slept: the hold, then Missing.
	clk.slept += time.Hour
	got, _ = m.Match(ev("remove", usbStick))
	assert.Equal(t, Deferred, got)
	require.NoError(t, os.RemoveAll(tr.path("/sys"+usbStick)))
	assert.NotEmpty(t, m.Missing(), "gone for good: the caller fires when the hold ends")

	// Sub-second differences between the clocks are no resume.
	m.Hold(0)
	clk.slept += 500 * time.Millisecond
	got, _ = m.Match(ev("remove", usbStick))
	assert.Equal(t, Gone, got)
}

func TestResumedStartsTheHold(t *testing.T) {
	tr := dmCryptUSB(t)
	m, clk := matcherFor(t, tr, Options{})
	assert.False(t, m.Resumed(), "no sleep yet")
	clk.slept += time.Minute
	assert.True(t, m.Resumed(), "told of the resume")
	assert.False(t, m.Resumed(), "once per resume")
	clk.t = clk.t.Add(ResumeSettle)
	got, _ := m.Match(ev("remove", usbStick))
	assert.Equal(t, Gone, got, "a removal long after the resume fires at once")
}

func TestWatchResumeStops(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	require.NoError(t, WatchResume(ctx, func() {}))
	cancel()
}

func TestSystemClockSuspended(t *testing.T) {
	assert.GreaterOrEqual(t, systemClock{}.Suspended(), time.Duration(0))
}

func TestVerdictString(t *testing.T) {
	for v, want := range map[Verdict]string{Ignore: "ignore", Gone: "gone", Deferred: "deferred", 7: "Verdict(7)"} {
		assert.Equal(t, want, v.String())
	}
}

func TestNewMatcherDefaults(t *testing.T) {
	m := NewMatcher(&Medium{}, MatcherConfig{})
	assert.False(t, m.Watching())
	got, _ := m.Match(ev("remove", usbStick))
	assert.Equal(t, Ignore, got)
	m.Hold(time.Second) // the system clock
}

func TestCovers(t *testing.T) {
	const s = "/devices/pci0000:00/0000:00:14.0/usb1/1-1/1-1:1.0/host0/target0:0:0/0:0:0:0/block/sda"
	tests := []struct {
		a, b string
		want bool
	}{
		{"/devices/pci0000:00/0000:00:14.0/usb1/1-1", s, true},
		{"/devices/pci0000:00/0000:00:14.0/usb1/1-10", s, false},
		{"/devices/pci0000:00/0000:00:14.0/usb1/1-1", "/devices/pci0000:00/0000:00:14.0/usb1/1-10/1-10:1.0", false},
		{"/devices/pci0000:00/0000:00:14.0/usb1/1-1.2", s, false},
		{s, s, true},
		{s + "/sda1", s, false},
		{"/devices/pci0000:00", s, true},
		{"/devices", s, false},
		{"/", s, false},
		{"", s, false},
		{s, "", false},
		{"/devices/pci0000:00/0000:00:14.0/usb1/1-1/", s, true},
		{"/devices//pci0000:00/0000:00:14.0/usb1/1-1", s, true},
		{"/sys/devices/pci0000:00", "/sys/devices/pci0000:00/x", false},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, covers(tt.a, tt.b), "covers(%q, %q)", tt.a, tt.b)
	}
}

// coversRef is covers done component by component.
func coversRef(a, b string) bool {
	split := func(p string) []string {
		var c []string
		for _, s := range strings.Split(p, "/") {
			switch s {
			case "", ".":
			case "..":
				if len(c) > 0 {
					c = c[:len(c)-1]
				}
			default:
				c = append(c, s)
			}
		}
		return c
	}
	if !strings.HasPrefix(a, "/") || !strings.HasPrefix(b, "/") {
		return false
	}
	ca, cb := split(a), split(b)
	if len(ca) < 2 || len(cb) < 2 || ca[0] != "devices" || cb[0] != "devices" || len(ca) > len(cb) {
		return false
	}
	for i := range ca {
		if ca[i] != cb[i] {
			return false
		}
	}
	return true
}

func FuzzCovers(f *testing.F) {
	const s = "/devices/pci0000:00/0000:00:14.0/usb1/1-1/1-1:1.0/host0"
	f.Add("/devices/pci0000:00/0000:00:14.0/usb1/1-1", s)
	f.Add("/devices/pci0000:00/0000:00:14.0/usb1/1-10", s)
	f.Add(s, s)
	f.Add("/devices/../devices/x", "/devices/x/y")
	f.Add("/devices", "/devices/x")
	f.Fuzz(func(t *testing.T, a, b string) {
		if got, want := covers(a, b), coversRef(a, b); got != want {
			t.Fatalf("covers(%q, %q) = %v, want %v", a, b, got, want)
		}
	})
}

func TestDescribeRemovable(t *testing.T) {
	d := &Device{DevPath: "/devices/x/block/sdz", For: "/", Removable: true, Watched: true}
	assert.Equal(t, "sdz (/): removable", describe(d))
	d.Watched = false
	assert.Equal(t, "sdz (/): removable, not watched", describe(d))
	assert.Equal(t, "no boot devices found", (&Medium{}).String())
}
