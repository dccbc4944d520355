package dmcrypt

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// controlPath is device-mapper's control node (DM_DIR "/" DM_CONTROL_NODE).
const controlPath = "/dev/" + unix.DM_DIR + "/" + unix.DM_CONTROL_NODE

// ErrNoDeviceMapper is returned by [Open] when the kernel has no
// device-mapper: then no dm-crypt device can exist either.
var ErrNoDeviceMapper = errors.New("no device-mapper (is dm-mod loaded?)")

// ErrInTest is returned by [Open], and by the real suspend and message
// ioctls, in a test binary: no go test may suspend this machine's disks.
var ErrInTest = errors.New("refused in a test binary")

// Open opens /dev/mapper/control and checks, with DM_VERSION, that it
// speaks device-mapper ioctl version 4 to this process. Call it when
// arming: nothing after it opens a file.
func Open() (*Eraser, error) {
	if testing.Testing() {
		return nil, fmt.Errorf("open %s: %w", controlPath, ErrInTest)
	}
	c, err := openControl(controlPath)
	if err != nil {
		return nil, err
	}
	return newEraser(c, initialBufSize), nil
}

// openControl opens path as device-mapper's control node.
func openControl(path string) (*control, error) {
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_CLOEXEC, 0)
	switch {
	case errors.Is(err, unix.ENOENT), errors.Is(err, unix.ENODEV), errors.Is(err, unix.ENXIO):
		return nil, fmt.Errorf("open %s: %w: %w", path, ErrNoDeviceMapper, err)
	case err != nil:
		return nil, fmt.Errorf("open %s: %w%s", path, err, hint(err))
	}
	// A blocking fd that the runtime does not poll: os.NewFile only counts
	// references, so Close cannot pull it from under a running ioctl.
	f := os.NewFile(uintptr(fd), path)
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	c := &control{f: f, rc: rc}
	buf := make([]byte, hdrSize)
	if err = encodeRequest(buf, "", 0, nil); err == nil {
		err = c.ioctl(unix.DM_VERSION, buf)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("DM_VERSION on %s: %w%s", path, err, hint(err))
	}
	return c, nil
}

// control is the real [ioctler]: an open /dev/mapper/control.
type control struct {
	f  *os.File
	rc syscall.RawConn
}

func (c *control) close() error { return c.f.Close() }

// ioctl issues cmd with buf, after checking what the kernel will trust:
// that data_size does not exceed buf (the kernel reads and writes that
// many bytes) and that no table is asked for. Only the commands this
// package uses pass; suspend and message do not in a test binary.
func (c *control) ioctl(cmd uint, buf []byte) error {
	switch {
	case len(buf) < hdrSize:
		return fmt.Errorf("ioctl buffer of %d bytes is shorter than struct dm_ioctl", len(buf))
	case uint64(ne.Uint32(buf[hdrDataSize:])) > uint64(len(buf)):
		return fmt.Errorf("ioctl buffer of %d bytes: data_size %d overruns it", len(buf), ne.Uint32(buf[hdrDataSize:]))
	case ne.Uint32(buf[hdrFlags:])&unix.DM_STATUS_TABLE_FLAG != 0:
		return errTableFlag
	}
	switch cmd {
	case unix.DM_VERSION, unix.DM_LIST_DEVICES, unix.DM_TABLE_STATUS:
	case unix.DM_DEV_SUSPEND, unix.DM_TARGET_MSG:
		if testing.Testing() {
			return ErrInTest
		}
	default:
		return fmt.Errorf("ioctl %#x: not a command this package issues", cmd)
	}
	var errno syscall.Errno
	err := c.rc.Control(func(fd uintptr) {
		_, _, errno = unix.Syscall(unix.SYS_IOCTL, fd, uintptr(cmd), uintptr(unsafe.Pointer(&buf[0])))
	})
	if err != nil {
		return err
	}
	if errno != 0 {
		return errno
	}
	return nil
}
