package uevent

import (
	"bytes"
	"errors"
	"fmt"
)

// Limits of what [Parse] accepts. The kernel builds a uevent in a
// 2048-byte environment buffer (UEVENT_BUFFER_SIZE) with at most 64
// variables (UEVENT_NUM_ENVP), after an `action@devpath` header whose devpath
// is bounded by sysfs path lengths; the limits leave ample room for that.
const (
	// MaxPayload is the longest message Parse accepts, in bytes.
	MaxPayload = 16 << 10
	// MaxVars is the most KEY=VALUE variables Parse accepts.
	MaxVars = 256
)

var (
	// ErrMalformed is wrapped by every error Parse returns.
	ErrMalformed = errors.New("malformed uevent")
	// ErrUdevFormat means the message is one of udev's ("libudev" magic,
	// netlink group 2), not a kernel uevent: listen on group 1.
	ErrUdevFormat = errors.New("udev monitor message, not a kernel uevent (listen on netlink group 1)")
)

// udevMagic starts every message udev's monitor sends on netlink group 2.
var udevMagic = []byte("libudev\x00")

// Event is one kernel uevent.
type Event struct {
	Action    string // add, remove, change, move, online, offline, bind, unbind, …
	DevPath   string // the device's path below /sys, e.g. /devices/…/block/sda/sda1
	Subsystem string // SUBSYSTEM, e.g. block, input, usb
	DevType   string // DEVTYPE, e.g. disk, partition, usb_device; often empty
	DevName   string // DEVNAME, the node below /dev, e.g. sda1 or input/event3; often empty
	// Env holds every KEY=VALUE variable of the message, including ACTION,
	// DEVPATH, SUBSYSTEM and SEQNUM. When a key repeats, the last value wins.
	Env map[string]string
}

// Get returns the value of the variable key, or "" when the event has none.
func (e Event) Get(key string) string { return e.Env[key] }

// Synthetic reports whether the kernel sent the event because someone wrote
// to the device's sysfs uevent file (`udevadm trigger`), rather than because
// the device changed.
func (e Event) Synthetic() bool {
	_, ok := e.Env["SYNTH_UUID"]
	return ok
}

// Parse parses one NETLINK_KOBJECT_UEVENT payload: a header
// `action@devpath`, then NUL-terminated KEY=VALUE variables. A missing final
// NUL and empty records are tolerated; everything else that the kernel would
// not send is an error wrapping [ErrMalformed] (and [ErrUdevFormat] for
// udev's binary messages).
func Parse(b []byte) (Event, error) {
	switch {
	case len(b) == 0:
		return Event{}, malformed(0, "empty message")
	case len(b) > MaxPayload:
		return Event{}, malformed(0, fmt.Sprintf("%d bytes, more than %d", len(b), MaxPayload))
	case bytes.HasPrefix(b, udevMagic):
		return Event{}, fmt.Errorf("parse uevent: %w: %w", ErrUdevFormat, ErrMalformed)
	}

	header, rest, _ := bytes.Cut(b, []byte{0})
	action, devpath, ok := bytes.Cut(header, []byte{'@'})
	if !ok {
		return Event{}, malformed(0, fmt.Sprintf("header %q has no '@'", trunc(header)))
	}
	if !validAction(action) {
		return Event{}, malformed(0, fmt.Sprintf("action %q is not a lowercase word", trunc(action)))
	}
	if len(devpath) < 2 || devpath[0] != '/' {
		return Event{}, malformed(len(action)+1, fmt.Sprintf("devpath %q does not start with '/'", trunc(devpath)))
	}
	ev := Event{Action: string(action), DevPath: string(devpath), Env: make(map[string]string)}

	off := len(header) + 1
	for len(rest) > 0 {
		var rec []byte
		rec, rest, _ = bytes.Cut(rest, []byte{0})
		start := off
		off += len(rec) + 1
		if len(rec) == 0 {
			continue
		}
		key, val, ok := bytes.Cut(rec, []byte{'='})
		if !ok {
			return Event{}, malformed(start, fmt.Sprintf("variable %q has no '='", trunc(rec)))
		}
		if !validKey(key) {
			return Event{}, malformed(start, fmt.Sprintf("variable name %q is not [A-Za-z0-9_]+", trunc(key)))
		}
		if _, dup := ev.Env[string(key)]; !dup && len(ev.Env) == MaxVars {
			return Event{}, malformed(start, fmt.Sprintf("more than %d variables", MaxVars))
		}
		ev.Env[string(key)] = string(val)
	}

	// The kernel repeats the header as ACTION= and DEVPATH=; a mismatch
	// means the message was not built by kobject_uevent.
	if a, ok := ev.Env["ACTION"]; ok && a != ev.Action {
		return Event{}, malformed(0, fmt.Sprintf("header action %q but ACTION=%q", ev.Action, trunc([]byte(a))))
	}
	if p, ok := ev.Env["DEVPATH"]; ok && p != ev.DevPath {
		return Event{}, malformed(0, fmt.Sprintf("header devpath %q but DEVPATH=%q", trunc(devpath), trunc([]byte(p))))
	}
	ev.Subsystem = ev.Env["SUBSYSTEM"]
	ev.DevType = ev.Env["DEVTYPE"]
	ev.DevName = ev.Env["DEVNAME"]
	return ev, nil
}

func malformed(off int, what string) error {
	return fmt.Errorf("parse uevent: %s (byte %d): %w", what, off, ErrMalformed)
}

// trunc shortens b for an error message.
func trunc(b []byte) []byte {
	const max = 64
	if len(b) > max {
		return b[:max]
	}
	return b
}

func validAction(b []byte) bool {
	if len(b) == 0 || len(b) > 32 {
		return false
	}
	for _, c := range b {
		if c < 'a' || c > 'z' {
			return false
		}
	}
	return true
}

func validKey(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '_':
		default:
			return false
		}
	}
	return true
}
