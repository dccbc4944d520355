package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ramwipe/ramwipe/trigger/suspend"
	"github.com/ramwipe/ramwipe/trigger/usbinsert"
)

func TestParseConfig(t *testing.T) {
	good := `# ramwipe.conf
kernel = /boot/vmlinuz-6.1.0-56-amd64
  initramfs=/usr/lib/ramwipe/ramwipe-initramfs.cpio
cmdline_extra = ramwipe.quiet

group = wheel
lock_kexec = true
key_deadline_ms = 500
boot_medium = fixed
kill_cord = /dev/disk/by-id/usb-Kingston_1 /devices/pci0000:00/0000:00:14.0/usb1/1-4
usb_insert = on
# the receiver
usb_allow = 046d:c52b
usb_allow = 0781:5583:4C530001@1-4 46f4:0001:1-0000:00:04.0-1
on_suspend = wipe-after 30m
`
	c, err := ParseConfig("ramwipe.conf", []byte(good), DefaultConfig())
	require.NoError(t, err)
	want := DefaultConfig()
	want.Kernel = "/boot/vmlinuz-6.1.0-56-amd64"
	want.CmdlineExtra = "ramwipe.quiet"
	want.Group = "wheel"
	want.LockKexec = true
	want.KeyDeadlineMS = 500
	want.BootMedium = "fixed"
	want.KillCords = []string{"/dev/disk/by-id/usb-Kingston_1", "/devices/pci0000:00/0000:00:14.0/usb1/1-4"}
	want.USBInsert = true
	want.USBAllow = []usbinsert.Rule{
		{Vendor: 0x046d, Product: 0xc52b},
		{Vendor: 0x0781, Product: 0x5583, Serial: "4C530001", Port: "1-4"},
		{Vendor: 0x46f4, Product: 0x0001, Serial: "1-0000:00:04.0-1"},
	}
	want.OnSuspend = suspend.Policy{Mode: suspend.WipeAfter, After: 30 * time.Minute}
	assert.Equal(t, want, c)
}

func TestParseConfigErrors(t *testing.T) {
	tests := []struct {
		in   string
		want string
	}{
		{"kernel = vmlinuz", "f:1: kernel = \"vmlinuz\": want an absolute path"},
		{"\n\nbogus", "f:3: \"bogus\" is not a setting"},
		{"colour = red", "f:1: unknown setting \"colour\""},
		{"group = a b", "f:1: group = \"a b\""},
		{"lock_kexec = maybe", "f:1: lock_kexec = \"maybe\": want yes or no"},
		{"\nshutdown_wipe = never", "f:2: shutdown_wipe = \"never\": want yes or no"},
		{"shutdown_wipe =", "f:1: shutdown_wipe = \"\": want yes or no"},
		{"key_deadline_ms = 0", "f:1: key_deadline_ms"},
		{"cmdline_extra = ramwipe.action=reboot", "f:1: cmdline_extra: ramwipe.action is set by ramwiped"},
		{"group = a\ngroup = b", "f:2: group is set again (first on line 1)"},
		{"= x", "f:1: \"= x\" is not a setting"},
		{"boot_medium = sometimes", "f:1: boot_medium = \"sometimes\""},
		{"kill_cord = sdb", "f:1: kill_cord = \"sdb\""},
		{"hotkey = KEY_A", "f:1: hotkey = \"KEY_A\""},
		{"usb_insert = sometimes", "f:1: usb_insert = \"sometimes\": want yes or no"},
		{"usb_insert = on\nusb_insert = off", "f:2: usb_insert is set again (first on line 1)"},
		{"usb_allow = 046d:c52b\n\nusb_allow = 046d", "f:3: usb_allow: \"046d\": no ':'"},
		{"usb_allow =", "f:1: usb_allow: no entry"},
		{"#on_suspend = allow\n\x00\x00\x00\x00", "f:2: NUL bytes where the file should end: it was damaged, probably by a crash"},
		{"usb_allow = 1:2 1:2:x@usb1", "f:1: usb_allow: \"1:2:x@usb1\": port"},
		{"usb_allow = 1:2:a%zz", "f:1: usb_allow: \"1:2:a%zz\": serial"},
		{strings.Repeat("usb_allow = 1:2\n", maxUSBAllow+1), fmt.Sprintf("f:%d: usb_allow: more than %d entries", maxUSBAllow+1, maxUSBAllow)},
		{"\non_suspend = hibernate", "f:2: on_suspend = \"hibernate\": \"hibernate\": want allow, wipe or wipe-after DURATION"},
		{"on_suspend = wipe-after 5s", "f:1: on_suspend = \"wipe-after 5s\": wipe-after 5s: want from 10s to 24h0m0s"},
		{strings.Repeat("#", maxConfig+1), "at most"},
	}
	for _, tt := range tests {
		_, err := ParseConfig("f", []byte(tt.in), DefaultConfig())
		assert.ErrorContains(t, err, tt.want, "ParseConfig(%q)", tt.in)
	}
}

func TestParseConfigSwitches(t *testing.T) {
	for _, tt := range []struct {
		val  string
		want bool
	}{
		{"no", false}, {"No", false}, {"false", false}, {"off", false}, {"0", false},
		{"yes", true}, {"YES", true}, {"true", true}, {"on", true}, {"1", true},
	} {
		c, err := ParseConfig("f", []byte("shutdown_wipe = "+tt.val+"\nlock_kexec = "+tt.val), DefaultConfig())
		require.NoError(t, err, "ParseConfig(%q)", tt.val)
		assert.Equal(t, tt.want, c.ShutdownWipe, "shutdown_wipe = %s", tt.val)
		assert.Equal(t, tt.want, c.LockKexec, "lock_kexec = %s", tt.val)
	}
}

func TestParseConfigReportsEveryError(t *testing.T) {
	_, err := ParseConfig("f", []byte("a = 1\nkernel = x\n"), DefaultConfig())
	assert.ErrorContains(t, err, "f:1:")
	assert.ErrorContains(t, err, "f:2:")
}

func FuzzParseConfig(f *testing.F) {
	f.Add("kernel = /boot/vmlinuz\ngroup = ramwipe\n")
	f.Add("# c\n\nlock_kexec=1\nkey_deadline_ms=10")
	f.Add("cmdline_extra = ramwipe.quiet quiet\nsocket=/run/x.sock")
	f.Add("usb_insert = on\nusb_allow = 046d:c52b 0781:5583:4C53%2001@1-4\nusb_allow=1:2")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseConfig("f", []byte(s), DefaultConfig())
		if err != nil {
			if !strings.HasPrefix(err.Error(), "f:") {
				t.Fatalf("error without file:line: %v", err)
			}
			return
		}
		for _, p := range []string{c.Initramfs, c.Socket} {
			if !strings.HasPrefix(p, "/") {
				t.Fatalf("accepted a relative path %q from %q", p, s)
			}
		}
		if c.KeyDeadlineMS < 10 || strings.Contains(c.CmdlineExtra, "ramwipe.action=") || len(c.USBAllow) > maxUSBAllow {
			t.Fatalf("accepted %+v from %q", c, s)
		}
		for _, r := range c.USBAllow {
			if back, err := usbinsert.ParseRule(r.String()); err != nil || back != r {
				t.Fatalf("usb_allow entry %+v from %q does not round-trip: %v", r, s, err)
			}
		}
	})
}
