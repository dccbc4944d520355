package usbinsert

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The devices of a small machine: a root hub, a hub on port 1, a stick
// behind it, a serial-less mouse on port 2.
var (
	rootHub = dev{port: "usb1", vendor: 0x1d6b, product: 0x0002, class: 9, serial: "0000:00:14.0", name: "xHCI Host Controller"}
	hub     = dev{port: "1-1", vendor: 0x05e3, product: 0x0610, class: 9, serial: "-", name: "USB2.0 Hub"}
	stick   = dev{port: "1-1.3", vendor: 0x0781, product: 0x5583, serial: "4C530001", name: "Ultra Fit"}
	mouse   = dev{port: "1-2", vendor: 0x046d, product: 0xc077, serial: "-", name: "USB Optical Mouse"}
)

func TestList(t *testing.T) {
	fs := newFakeSys(t)
	for _, d := range []dev{mouse, stick, rootHub, hub} {
		fs.plug(d)
	}
	// An interface link is not a device.
	require.NoError(t, symlinkInterface(fs, "1-2"))
	devs, err := List(fs.root)
	require.NoError(t, err)
	require.Len(t, devs, 4)
	var ports []string
	for _, d := range devs {
		ports = append(ports, d.Port)
	}
	assert.Equal(t, []string{"usb1", "1-1", "1-1.3", "1-2"}, ports)
	assert.Equal(t, Device{DevPath: devpath("1-1.3"), Port: "1-1.3", Vendor: 0x0781, Product: 0x5583, Serial: "4C530001", SerialKnown: true, Name: "Ultra Fit"}, devs[2])
	assert.True(t, devs[0].Hub())
	assert.True(t, devs[1].Hub())
	assert.Equal(t, Device{DevPath: devpath("1-2"), Port: "1-2", Vendor: 0x046d, Product: 0xc077, SerialKnown: true, Name: "USB Optical Mouse"}, devs[3])
	assert.Equal(t, `1-2 (046d:c077 "USB Optical Mouse")`, devs[3].String())
	assert.Equal(t, `1-1.3 (0781:5583 "Ultra Fit", serial "4C530001")`, devs[2].String())
}

func symlinkInterface(fs *fakeSys, port string) error {
	return osSymlink(fs.path("/sys"+devpath(port)), fs.path("/sys/bus/usb/devices/"+port+":1.0"))
}

func TestListBadDevice(t *testing.T) {
	fs := newFakeSys(t)
	fs.plug(mouse)
	fs.plug(stick)
	require.NoError(t, osWrite(fs.path("/sys"+devpath("1-1.3")+"/idVendor"), "zzzz\n"))
	devs, err := List(fs.root)
	require.ErrorContains(t, err, "1-1.3: idVendor")
	require.Len(t, devs, 1)
	assert.Equal(t, "1-2", devs[0].Port)

	_, err = List(t.TempDir())
	assert.Error(t, err, "no /sys/bus/usb")
}

func TestParseProduct(t *testing.T) {
	v, p, err := ParseProduct("46f4/1/0")
	require.NoError(t, err)
	assert.Equal(t, [2]uint16{0x46f4, 1}, [2]uint16{v, p})
	for _, bad := range []string{"", "46f4/1", "46f4/1/0/0", "46f45/1/0", "x/1/0", "1//0", "-1/1/0", "1/1/10000"} {
		_, _, err := ParseProduct(bad)
		assert.Error(t, err, bad)
	}
}

func TestParseClass(t *testing.T) {
	c, err := ParseClass("9/0/3")
	require.NoError(t, err)
	assert.Equal(t, uint8(9), c)
	for _, bad := range []string{"", "9/0", "256/0/0", "9/0/0/0", "a/0/0", "+9/0/0", "9//0"} {
		_, err := ParseClass(bad)
		assert.Error(t, err, bad)
	}
}

func TestCleanString(t *testing.T) {
	assert.Equal(t, "a?b?c", CleanString("a\nb\x1bc", 80))
	assert.Equal(t, "?", CleanString("\xff", 80))
	assert.Equal(t, "abc…", CleanString("abcdef", 3))
}

func FuzzParseProduct(f *testing.F) {
	for _, s := range []string{"46f4/1/0", "1d6b/2/606", "ffff/ffff/ffff", "1/2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, p, err := ParseProduct(s)
		if err != nil {
			return
		}
		f := strings.Split(s, "/")
		if len(f) != 3 {
			t.Fatalf("%q: accepted %d fields", s, len(f))
		}
		r := Rule{Vendor: v, Product: p}
		if back, err := ParseRule(r.String()); err != nil || back != r {
			t.Fatalf("%q: %v does not round-trip as a rule (%v)", s, r, err)
		}
	})
}

func FuzzParseClass(f *testing.F) {
	for _, s := range []string{"9/0/1", "0/0/0", "255/255/255", "3/1/2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if _, err := ParseClass(s); err == nil && strings.Count(s, "/") != 2 {
			t.Fatalf("%q accepted", s)
		}
	})
}

// FuzzCleanString feeds device strings (serials, product names: whatever
// a device says) to CleanString, which must give one printable line.
func FuzzCleanString(f *testing.F) {
	for _, s := range []string{"Logitech USB Receiver", "a\nb", "\xff\xfe", "€€€€"} {
		f.Add(s, 8)
	}
	f.Fuzz(func(t *testing.T, s string, max int) {
		max = max%200 + 1
		if max < 1 {
			max = -max + 1
		}
		c := CleanString(s, max)
		if !utf8.ValidString(c) || strings.ContainsAny(c, "\n\r\x00\x1b") {
			t.Fatalf("CleanString(%q) = %q", s, c)
		}
		if len(c) > max+len("…") {
			t.Fatalf("CleanString(%q, %d) = %q: too long", s, max, c)
		}
	})
}
