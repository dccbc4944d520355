package dmcrypt

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ioctler issues one device-mapper ioctl; the real one is /dev/mapper/control.
type ioctler interface {
	ioctl(cmd uintptr, buf []byte) error
}

type control struct{ f *os.File }

func (c control) ioctl(cmd uintptr, buf []byte) error {
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, c.f.Fd(), cmd, uintptr(unsafe.Pointer(&buf[0])))
	if errno != 0 {
		return errno
	}
	return nil
}

// Device is a device-mapper device with crypt targets.
type Device struct {
	Name   string
	UUID   string // CRYPT-LUKS2-…, CRYPT-PLAIN-…
	Starts []uint64
}

// Eraser erases dm-crypt keys. Open it when arming.
type Eraser struct {
	dm   ioctler
	Logf func(string, ...any)
}

// ErrInTest is returned by [Eraser.EraseKeys] on the real device-mapper in
// a test binary: no go test may suspend this machine's disks.
var ErrInTest = errors.New("refused in a test binary")

// Open opens /dev/mapper/control.
func Open() (*Eraser, error) {
	f, err := os.OpenFile("/dev/mapper/control", os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("dmcrypt: %w (is dm-mod loaded?)", err)
	}
	return &Eraser{dm: control{f}}, nil
}

func (e *Eraser) call(cmd uintptr, name string, flags uint32, payload []byte, size int) ([]byte, error) {
	buf, err := request(size, name, flags, payload)
	if err != nil {
		return nil, err
	}
	return buf, e.dm.ioctl(cmd, buf)
}

// Devices lists the devices that have crypt targets. It never asks for a
// table (which would hold the keys), only for target types.
func (e *Eraser) Devices() ([]Device, error) {
	var names []string
	for size := 16 << 10; ; size *= 4 {
		buf, err := e.call(unix.DM_LIST_DEVICES, "", 0, nil, size)
		if err != nil {
			return nil, fmt.Errorf("DM_LIST_DEVICES: %w", err)
		}
		if header(buf).Flags&unix.DM_BUFFER_FULL_FLAG != 0 && size < 16<<20 {
			continue
		}
		d, err := data(buf)
		if err != nil {
			return nil, fmt.Errorf("DM_LIST_DEVICES: %w", err)
		}
		if names, err = ParseNameList(d); err != nil {
			return nil, fmt.Errorf("DM_LIST_DEVICES: %w", err)
		}
		break
	}
	var devs []Device
	var errs []error
	for _, n := range names {
		d, err := e.device(n)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if len(d.Starts) > 0 {
			devs = append(devs, d)
		}
	}
	return devs, errors.Join(errs...)
}

func (e *Eraser) device(name string) (Device, error) {
	for size := 16 << 10; ; size *= 4 {
		// DM_TABLE_STATUS without DM_STATUS_TABLE_FLAG: status, not the table.
		buf, err := e.call(unix.DM_TABLE_STATUS, name, 0, nil, size)
		if err != nil {
			return Device{}, fmt.Errorf("DM_TABLE_STATUS %q: %w", name, err)
		}
		h := header(buf)
		if h.Flags&unix.DM_BUFFER_FULL_FLAG != 0 && size < 16<<20 {
			continue
		}
		d, err := data(buf)
		if err != nil {
			return Device{}, fmt.Errorf("DM_TABLE_STATUS %q: %w", name, err)
		}
		ts, err := ParseTargets(d, int(h.Target_count))
		if err != nil {
			return Device{}, fmt.Errorf("DM_TABLE_STATUS %q: %w", name, err)
		}
		dev := Device{Name: name, UUID: unix.ByteSliceToString(h.Uuid[:])}
		for _, t := range ts {
			if t.Type == "crypt" {
				dev.Starts = append(dev.Starts, t.Start)
			}
		}
		return dev, nil
	}
}

// Names returns the names of devs.
func Names(devs []Device) []string {
	var out []string
	for _, d := range devs {
		out = append(out, d.Name)
	}
	return out
}

// EraseKeys suspends every device with crypt targets and wipes each
// target's key, all devices in parallel. It waits until every device is
// done or ctx ends; every failure is returned, none stops the others.
func (e *Eraser) EraseKeys(ctx context.Context) error {
	if _, real := e.dm.(control); real && testing.Testing() {
		return fmt.Errorf("dmcrypt: erase keys: %w", ErrInTest)
	}
	devs, err := e.Devices()
	errs := []error{err}
	results := make(chan error, len(devs))
	var wg sync.WaitGroup
	for _, d := range devs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results <- e.erase(d)
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		errs = append(errs, fmt.Errorf("gave up waiting for device-mapper: %w", ctx.Err()))
	}
	for len(results) > 0 {
		errs = append(errs, <-results)
	}
	return errors.Join(errs...)
}

// erase suspends one device without flush or filesystem freeze, then sends
// "key wipe" to each of its crypt targets.
func (e *Eraser) erase(d Device) error {
	t := time.Now()
	var errs []error
	if _, err := e.call(unix.DM_DEV_SUSPEND, d.Name, unix.DM_SUSPEND_FLAG|unix.DM_NOFLUSH_FLAG|unix.DM_SKIP_LOCKFS_FLAG, nil, 0); err != nil {
		// Go on: dm-crypt refuses "key wipe" on a live device, but try.
		errs = append(errs, fmt.Errorf("DM_DEV_SUSPEND %q: %w", d.Name, err))
	}
	for _, s := range d.Starts {
		buf, err := e.call(unix.DM_TARGET_MSG, d.Name, unix.DM_SECURE_DATA_FLAG, targetMsg(s, "key wipe"), 0)
		clear(buf)
		if err != nil {
			errs = append(errs, fmt.Errorf("DM_TARGET_MSG %q sector %d \"key wipe\": %w", d.Name, s, err))
		}
	}
	if e.Logf != nil && len(errs) == 0 {
		e.Logf("dmcrypt: %s: key wiped in %v", d.Name, time.Since(t))
	}
	return errors.Join(errs...)
}
