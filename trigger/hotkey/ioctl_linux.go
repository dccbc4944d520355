package hotkey

import (
	"errors"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ioctl request numbers, from include/uapi/asm-generic/ioctl.h (the
// direction and size widths differ on mips and powerpc: see ioc_*.go):
//
//	#define _IOC_NRBITS	8
//	#define _IOC_TYPEBITS	8
//	#define _IOC_SIZEBITS	14
//	#define _IOC_NRSHIFT	0
//	#define _IOC_TYPESHIFT	(_IOC_NRSHIFT+_IOC_NRBITS)
//	#define _IOC_SIZESHIFT	(_IOC_TYPESHIFT+_IOC_TYPEBITS)
//	#define _IOC_DIRSHIFT	(_IOC_SIZESHIFT+_IOC_SIZEBITS)
//	#define _IOC(dir,type,nr,size) \
//		(((dir)  << _IOC_DIRSHIFT) | \
//		 ((type) << _IOC_TYPESHIFT) | \
//		 ((nr)   << _IOC_NRSHIFT) | \
//		 ((size) << _IOC_SIZESHIFT))
//	#define _IOW(type,nr,size)	_IOC(_IOC_WRITE,(type),(nr),(_IOC_TYPECHECK(size)))
const (
	iocNRShift   = 0
	iocTypeShift = iocNRShift + 8
	iocSizeShift = iocTypeShift + 8
	iocDirShift  = iocSizeShift + iocSizeBits
)

func ioc(dir, typ, nr, size uint32) uint32 {
	return dir<<iocDirShift | typ<<iocTypeShift | nr<<iocNRShift | size<<iocSizeShift
}

// evdev requests, from include/uapi/linux/input.h:
//
//	#define EVIOCGNAME(len)		_IOC(_IOC_READ, 'E', 0x06, len)		/* get device name */
//	#define EVIOCGKEY(len)		_IOC(_IOC_READ, 'E', 0x18, len)		/* get global key state */
//	#define EVIOCGBIT(ev,len)	_IOC(_IOC_READ, 'E', 0x20 + (ev), len)	/* get event bits */
//	#define EVIOCSMASK		_IOW('E', 0x93, struct input_mask)	/* Set event-masks */
//
// EVIOCGRAB is deliberately absent: ramwipe never takes a keyboard away
// from the desktop.
func eviocgname(n int) uint32    { return ioc(iocRead, 'E', 0x06, uint32(n)) }
func eviocgkey(n int) uint32     { return ioc(iocRead, 'E', 0x18, uint32(n)) }
func eviocgbit(ev, n int) uint32 { return ioc(iocRead, 'E', 0x20+uint32(ev), uint32(n)) }
func eviocsmask() uint32         { return ioc(iocWrite, 'E', 0x93, uint32(unsafe.Sizeof(inputMask{}))) }

// inputMask is struct input_mask of include/uapi/linux/input.h (Linux 4.4):
//
//	struct input_mask {
//		__u32 type;
//		__u32 codes_size;
//		__u64 codes_ptr;
//	};
//
// 16 bytes, no padding; TestInputMaskLayout pins it.
type inputMask struct {
	Type      uint32
	CodesSize uint32
	CodesPtr  uint64
}

// ioctlRead issues an ioctl whose argument is a buffer the kernel fills,
// and returns the ioctl's result (EVIOCGNAME: the bytes written).
func ioctlRead(fd uintptr, req uint32, buf []byte) (int, error) {
	if len(buf) == 0 {
		return 0, errors.New("ioctl: empty buffer")
	}
	r, _, errno := unix.Syscall(unix.SYS_IOCTL, fd, uintptr(req), uintptr(unsafe.Pointer(&buf[0])))
	if errno != 0 {
		return 0, errno
	}
	return int(r), nil
}

// ioctlSetMask issues EVIOCSMASK for event type typ with the bitmap codes.
func ioctlSetMask(fd uintptr, typ uint32, codes []byte) error {
	if len(codes) == 0 {
		return errors.New("EVIOCSMASK: empty mask")
	}
	// The kernel reads codes through a pointer inside the struct; pin the
	// buffer so that it neither moves nor is freed during the call.
	var pin runtime.Pinner
	pin.Pin(&codes[0])
	defer pin.Unpin()
	m := inputMask{Type: typ, CodesSize: uint32(len(codes)), CodesPtr: uint64(uintptr(unsafe.Pointer(&codes[0])))}
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, fd, uintptr(eviocsmask()), uintptr(unsafe.Pointer(&m)))
	if errno != 0 {
		return errno
	}
	return nil
}
