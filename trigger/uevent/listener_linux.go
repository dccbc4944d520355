package uevent

import (
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"
)

// groupKernel is the netlink multicast group of kernel uevents; udev
// rebroadcasts its processed events, in its own binary format, on group 2.
const groupKernel = 1

// Listener receives kernel uevents. Receive must not be called from more
// than one goroutine at a time; Close may be called from any goroutine.
type Listener struct {
	f    *os.File
	rc   syscall.RawConn
	buf  []byte
	logf func(string, ...any)

	closed atomic.Bool
}

// Listen opens a NETLINK_KOBJECT_UEVENT socket bound to the kernel's group.
func Listen(cfg Config) (*Listener, error) {
	// SOCK_NONBLOCK lets the Go runtime's poller park Receive until a
	// message arrives, and lets Close wake it; a blocking recvfrom(2)
	// on a netlink socket cannot be interrupted by close(2).
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, unix.NETLINK_KOBJECT_UEVENT)
	if err != nil {
		return nil, fmt.Errorf("socket(AF_NETLINK, NETLINK_KOBJECT_UEVENT): %w", err)
	}
	logf := logfOrNop(cfg.Logf)
	size := cfg.ReceiveBuffer
	if size <= 0 {
		size = DefaultReceiveBuffer
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, size); err != nil {
		// Without CAP_NET_ADMIN: ask for it, capped at net.core.rmem_max.
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, size); err != nil {
			logf("uevent: setsockopt(SO_RCVBUF, %d): %v", size, err)
		}
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: groupKernel}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("bind(NETLINK_KOBJECT_UEVENT, group %d): %w", groupKernel, err)
	}
	f := os.NewFile(uintptr(fd), "uevent")
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("uevent socket: %w", err)
	}
	return &Listener{f: f, rc: rc, buf: make([]byte, MaxPayload), logf: logf}, nil
}

// Receive blocks until the kernel sends a uevent and returns it. Messages
// that are not well-formed kernel uevents are dropped and logged. It returns
// an error wrapping [ErrOverrun] when events were lost (the listener stays
// usable), and one satisfying errors.Is(err, os.ErrClosed) after Close.
func (l *Listener) Receive() (Event, error) {
	return next(l.buf, l.recv, l.logf)
}

func (l *Listener) recv(buf []byte) (int, uint32, error) {
	var (
		n    int
		from unix.Sockaddr
		rerr error
	)
	err := l.rc.Read(func(fd uintptr) bool {
		// MSG_TRUNC: netlink returns the message's full length, so a
		// truncated message is recognised rather than half-parsed.
		n, from, rerr = unix.Recvfrom(int(fd), buf, unix.MSG_TRUNC)
		return rerr != unix.EAGAIN
	})
	switch {
	case err != nil && l.closed.Load():
		return 0, 0, fmt.Errorf("uevent socket: %w", os.ErrClosed)
	case err != nil:
		return 0, 0, fmt.Errorf("uevent socket: %w", err)
	case errors.Is(rerr, unix.ENOBUFS):
		return 0, 0, errOverrun(rerr)
	case rerr != nil:
		return 0, 0, fmt.Errorf("recvfrom NETLINK_KOBJECT_UEVENT: %w", rerr)
	}
	sa, ok := from.(*unix.SockaddrNetlink)
	if !ok {
		// Not a netlink peer at all: treat as a non-kernel sender.
		return n, ^uint32(0), nil
	}
	return n, sa.Pid, nil
}

// Close closes the socket; a Receive blocked in another goroutine returns.
func (l *Listener) Close() error {
	l.closed.Store(true)
	if err := l.f.Close(); err != nil {
		return fmt.Errorf("uevent socket: close: %w", err)
	}
	return nil
}
