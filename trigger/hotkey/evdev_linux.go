package hotkey

import (
	"bytes"
	"fmt"
	"os"
	"syscall"
)

// evdev is an open /dev/input/eventN: read-only, shared with every other
// reader (never grabbed).
type evdev struct {
	f    *os.File
	rc   syscall.RawConn
	name string
}

// openEvdev opens path and checks that it is a keyboard for c. It then asks
// the kernel (EVIOCSMASK, Linux 4.4+) to deliver only c's key events to
// this file: other keys never reach ramwiped's memory, and typing does not
// wake its goroutine. Without EVIOCSMASK every event arrives and the
// Matcher drops the others.
func openEvdev(path string, c Chord, logf func(string, ...any)) (device, error) {
	// os.OpenFile registers the device with the runtime's poller, so a
	// Read parks the goroutine without a thread and Close wakes it.
	f, err := os.OpenFile(path, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	d := &evdev{f: f, rc: rc}
	types := make([]byte, bitmapLen(evCnt))
	keys := make(KeyState, bitmapLen(keyCnt))
	if err := d.ioctl("EVIOCGBIT(0)", eviocgbit(0, len(types)), types); err != nil {
		f.Close()
		return nil, err
	}
	if err := d.ioctl("EVIOCGBIT(EV_KEY)", eviocgbit(evKey, len(keys)), keys); err != nil {
		f.Close()
		return nil, err
	}
	if !isKeyboard(types, keys, c) {
		f.Close()
		return nil, errNotKeyboard
	}
	name := make([]byte, 256)
	if err := d.ioctl("EVIOCGNAME", eviocgname(len(name)), name); err == nil {
		name, _, _ = bytes.Cut(name, []byte{0})
		d.name = string(name)
	}
	if err := d.restrict(c); err != nil {
		logf("hotkey: %s (%q): %v; the Matcher filters instead", path, d.name, err)
	}
	return d, nil
}

// restrict sets this file's event masks to c's keys (and SYN events, which
// are never masked).
func (d *evdev) restrict(c Chord) error {
	codes := make([]byte, bitmapLen(keyCnt))
	for _, k := range c.Keys {
		setBit(codes, int(k))
	}
	var err error
	cerr := d.rc.Control(func(fd uintptr) {
		if err = ioctlSetMask(fd, evKey, codes); err != nil {
			err = fmt.Errorf("EVIOCSMASK(EV_KEY): %w", err)
			return
		}
		// Type 0 is the mask of event types (drivers/input/evdev.c,
		// evdev_get_mask_cnt: "EV_SYN==0 is EV_CNT").
		types := make([]byte, bitmapLen(evCnt))
		setBit(types, evKey)
		if err = ioctlSetMask(fd, 0, types); err != nil {
			err = fmt.Errorf("EVIOCSMASK(types): %w", err)
		}
	})
	if cerr != nil {
		return fmt.Errorf("%s: %w", d.f.Name(), cerr)
	}
	return err
}

func (d *evdev) ioctl(what string, req uint32, buf []byte) error {
	var err error
	cerr := d.rc.Control(func(fd uintptr) {
		_, err = ioctlRead(fd, req, buf)
	})
	if cerr != nil {
		return fmt.Errorf("%s %s: %w", what, d.f.Name(), cerr)
	}
	if err != nil {
		return fmt.Errorf("%s %s: %w", what, d.f.Name(), err)
	}
	return nil
}

func (d *evdev) Name() string { return d.name }

func (d *evdev) KeyState(s KeyState) error {
	return d.ioctl("EVIOCGKEY", eviocgkey(len(s)), s)
}

// Read reads whole input_event records; the kernel hands out only whole
// records and fails with ENODEV once the device is unplugged.
func (d *evdev) Read(p []byte) (int, error) { return d.f.Read(p) }

func (d *evdev) Close() error { return d.f.Close() }
