package hotkey

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// TestIoc checks the _IOC translation against request numbers x/sys/unix
// generated from the C headers for this architecture.
func TestIoc(t *testing.T) {
	sizeT := uint32(unsafe.Sizeof(uintptr(0)))
	assert.Equal(t, uint32(unix.BLKRASET), ioc(iocNone, 0x12, 98, 0), "_IO(0x12,98)")
	assert.Equal(t, uint32(unix.BLKGETSIZE64), ioc(iocRead, 0x12, 114, sizeT), "_IOR(0x12,114,size_t)")
	assert.Equal(t, uint32(unix.BLKBSZSET), ioc(iocWrite, 0x12, 113, sizeT), "_IOW(0x12,113,size_t)")
}

func TestEvdevRequests(t *testing.T) {
	if runtime.GOARCH != "amd64" && runtime.GOARCH != "arm64" {
		t.Skip("the literal numbers below are for amd64 and arm64")
	}
	assert.Equal(t, uint32(0x81004506), eviocgname(256), "EVIOCGNAME(256)")
	assert.Equal(t, uint32(0x80604518), eviocgkey(96), "EVIOCGKEY(96)")
	assert.Equal(t, uint32(0x80604521), eviocgbit(evKey, 96), "EVIOCGBIT(EV_KEY, 96)")
	assert.Equal(t, uint32(0x80084520), eviocgbit(0, 8), "EVIOCGBIT(0, 8)")
	assert.Equal(t, uint32(0x40104593), eviocsmask(), "EVIOCSMASK")
}

func TestInputMaskLayout(t *testing.T) {
	var m inputMask
	assert.Equal(t, uintptr(16), unsafe.Sizeof(m))
	assert.Equal(t, uintptr(0), unsafe.Offsetof(m.Type))
	assert.Equal(t, uintptr(4), unsafe.Offsetof(m.CodesSize))
	assert.Equal(t, uintptr(8), unsafe.Offsetof(m.CodesPtr))
}

func TestIoctlEmptyBuffer(t *testing.T) {
	_, err := ioctlRead(0, eviocgname(0), nil)
	assert.Error(t, err)
	assert.Error(t, ioctlSetMask(0, evKey, nil))
}

// TestOpenEvdevNotAnInputDevice opens files that are not evdev nodes:
// the first ioctl fails with ENOTTY and the error names it.
func TestOpenEvdevNotAnInputDevice(t *testing.T) {
	c := mustChord(t, DefaultChord)
	for _, path := range []string{"/dev/null", filepath.Join(t.TempDir(), "event0")} {
		if path != "/dev/null" {
			require.NoError(t, os.WriteFile(path, nil, 0o600))
		} else if _, err := os.Stat(path); err != nil {
			continue
		}
		_, err := openEvdev(path, c, t.Logf)
		require.Error(t, err, path)
		assert.ErrorIs(t, err, unix.ENOTTY, path)
		assert.Contains(t, err.Error(), "EVIOCGBIT(0) "+path)
	}
	_, err := openEvdev(filepath.Join(t.TempDir(), "missing"), c, t.Logf)
	assert.True(t, errors.Is(err, os.ErrNotExist), "%v", err)
}
