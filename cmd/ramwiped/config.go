package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/ramwipe/ramwipe/initramfs"
	"github.com/ramwipe/ramwipe/trigger/hotkey"
	"github.com/ramwipe/ramwipe/trigger/suspend"
	"github.com/ramwipe/ramwipe/trigger/usbinsert"
)

// Config is ramwiped's configuration: the file, then flags on top.
type Config struct {
	// Kernel is the kernel the wipe image boots: the running kernel's
	// image by default (/boot/vmlinuz-$(uname -r)).
	Kernel string
	// Initramfs is the wipe image; its command line is beside it (.cmdline).
	Initramfs string
	// CmdlineExtra is added to the wipe kernel's command line.
	CmdlineExtra string
	// Socket is the control socket's path.
	Socket string
	// Group may use the control socket besides root.
	Group string
	// LockKexec sets kernel.kexec_load_disabled=1 once armed, so nobody can
	// replace the wipe image until reboot (nor re-arm after a kernel upgrade).
	LockKexec bool
	// KeyDeadline bounds the dm-crypt key erase, in milliseconds.
	KeyDeadlineMS int
	// Hotkey is the panic chord (see package trigger/hotkey); "off"
	// disables the hotkey.
	Hotkey string
	// BootMedium is "removable" (watch the boot medium if it can be
	// pulled), "fixed" (watch it even if it cannot) or "off".
	BootMedium string
	// KillCords are more devices whose removal triggers: /dev/disk/by-id/…
	// paths or sysfs devpaths.
	KillCords []string
	// ShutdownWipe stages the wipe image for the systemd-shutdown hook, so
	// that every poweroff, reboot and halt wipes memory (package
	// wipe/shutdown).
	ShutdownWipe bool
	// USBInsert turns on the USB-insertion trigger: a USB device plugged
	// in that USBAllow does not allow wipes (package trigger/usbinsert).
	USBInsert bool
	// USBAllow is the allow-list: every usb_allow line's entries, in order.
	USBAllow []usbinsert.Rule
	// OnSuspend is what a suspend does (package trigger/suspend); the
	// zero value, allow, is today's behaviour.
	OnSuspend suspend.Policy
}

// repeatable are the settings that may be given on more than one line.
var repeatable = map[string]bool{"usb_allow": true}

// DefaultConfig is the configuration with no file and no flags.
func DefaultConfig() Config {
	return Config{
		Initramfs:     "/usr/lib/ramwipe/ramwipe-initramfs.cpio",
		Socket:        "/run/ramwipe/control.sock",
		Group:         "ramwipe",
		KeyDeadlineMS: 2000,
		Hotkey:        hotkey.DefaultChord,
		BootMedium:    "removable",
		ShutdownWipe:  true,
	}
}

// maxUSBAllow bounds the allow-list.
const maxUSBAllow = 1024

// maxConfig bounds the config file: it is read whole, before anything else.
const maxConfig = 64 << 10

// ParseConfig reads a config file: one "key = value" per line, '#' starts
// a comment line, blank lines are ignored. Every error names the file and
// line and says what would be right; ParseConfig reports all of them.
func ParseConfig(name string, data []byte, c Config) (Config, error) {
	if len(data) > maxConfig {
		return c, fmt.Errorf("%s: %d bytes; a config file is at most %d", name, len(data), maxConfig)
	}
	var errs []error
	seen := map[string]int{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 4096), maxConfig)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		bad := func(format string, args ...any) {
			errs = append(errs, fmt.Errorf("%s:%d: %s", name, n, fmt.Sprintf(format, args...)))
		}
		if strings.Trim(line, "\x00") == "" {
			// What ext4 leaves of an append that a power loss cut short.
			bad("NUL bytes where the file should end: it was damaged, probably by a crash or power loss while it was being written; delete them (or restore the file) and run ramwiped -check-config again")
			break
		}
		key, val, ok := strings.Cut(line, "=")
		key, val = strings.TrimSpace(key), strings.TrimSpace(val)
		if !ok || key == "" {
			bad("%q is not a setting: write key = value", line)
			continue
		}
		if first, dup := seen[key]; dup && !repeatable[key] {
			bad("%s is set again (first on line %d): keep one", key, first)
			continue
		}
		seen[key] = n
		if strings.IndexFunc(val, func(r rune) bool { return r < ' ' || r == unicode.ReplacementChar }) >= 0 {
			bad("%s: the value has control characters", key)
			continue
		}
		switch key {
		case "kernel", "initramfs", "socket":
			if !strings.HasPrefix(val, "/") {
				bad("%s = %q: want an absolute path", key, val)
				continue
			}
			switch key {
			case "kernel":
				c.Kernel = val
			case "initramfs":
				c.Initramfs = val
			case "socket":
				c.Socket = val
			}
		case "cmdline_extra":
			if strings.Contains(val, initramfs.ActionParam) {
				bad("cmdline_extra: ramwipe.action is set by ramwiped for each wipe; leave it out")
				continue
			}
			c.CmdlineExtra = val
		case "group":
			if val == "" || strings.ContainsAny(val, " :/") {
				bad("group = %q: want a group name such as ramwipe", val)
				continue
			}
			c.Group = val
		case "lock_kexec", "shutdown_wipe", "usb_insert":
			b, ok := parseSwitch(val)
			if !ok {
				bad("%s = %q: want yes or no (true/false, on/off, 1/0)", key, val)
				continue
			}
			switch key {
			case "lock_kexec":
				c.LockKexec = b
			case "shutdown_wipe":
				c.ShutdownWipe = b
			default:
				c.USBInsert = b
			}
		case "usb_allow":
			rules, err := usbinsert.ParseRules(val)
			if err != nil {
				bad("usb_allow: %v", err)
				continue
			}
			if len(c.USBAllow)+len(rules) > maxUSBAllow {
				bad("usb_allow: more than %d entries", maxUSBAllow)
				continue
			}
			c.USBAllow = append(c.USBAllow, rules...)
		case "key_deadline_ms":
			v, err := strconv.Atoi(val)
			if err != nil || v < 10 || v > 60000 {
				bad("key_deadline_ms = %q: want a number of milliseconds from 10 to 60000", val)
				continue
			}
			c.KeyDeadlineMS = v
		case "hotkey":
			if val != "off" {
				if _, err := hotkey.ParseChord(val); err != nil {
					bad("hotkey = %q: %v", val, err)
					continue
				}
			}
			c.Hotkey = val
		case "boot_medium":
			if val != "removable" && val != "fixed" && val != "off" {
				bad("boot_medium = %q: want removable, fixed or off", val)
				continue
			}
			c.BootMedium = val
		case "kill_cord":
			cords := strings.Fields(val)
			if len(cords) == 0 || slices.ContainsFunc(cords, func(p string) bool { return !strings.HasPrefix(p, "/") }) {
				bad("kill_cord = %q: want device paths such as /dev/disk/by-id/usb-… separated by spaces", val)
				continue
			}
			c.KillCords = cords
		case "on_suspend":
			p, err := suspend.ParsePolicy(val)
			if err != nil {
				bad("on_suspend = %q: %v", val, err)
				continue
			}
			c.OnSuspend = p
		default:
			bad("unknown setting %q (known: kernel, initramfs, cmdline_extra, socket, group, lock_kexec, key_deadline_ms, hotkey, boot_medium, kill_cord, shutdown_wipe, usb_insert, usb_allow, on_suspend)", key)
		}
	}
	if err := sc.Err(); err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", name, err))
	}
	return c, errors.Join(errs...)
}

// parseSwitch reads an on/off setting: yes, true, on or 1; no, false, off
// or 0, in any case.
func parseSwitch(val string) (on, ok bool) {
	switch strings.ToLower(val) {
	case "yes", "true", "on", "1":
		return true, true
	case "no", "false", "off", "0":
		return false, true
	}
	return false, false
}
