package uevent

import (
	"errors"
	"fmt"
)

// ErrOverrun is returned by [Listener.Receive] when the kernel dropped
// uevents because the socket's receive buffer was full (ENOBUFS). The
// listener stays usable; the caller must resynchronise from sysfs.
var ErrOverrun = errors.New("uevents lost: receive buffer overrun, resync from sysfs")

// Config configures [Listen].
type Config struct {
	// ReceiveBuffer is the socket receive buffer in bytes; 0 means
	// [DefaultReceiveBuffer]. Beyond net.core.rmem_max it needs
	// CAP_NET_ADMIN (SO_RCVBUFFORCE); without it the kernel caps it.
	ReceiveBuffer int
	// Logf receives one line per dropped message; nil discards.
	Logf func(format string, args ...any)
}

// DefaultReceiveBuffer is the receive buffer a zero [Config] asks for: a
// hotplugged USB hub with a dozen devices sends a few hundred uevents at once.
const DefaultReceiveBuffer = 4 << 20

// recvFunc receives one message into buf and returns its full length (which
// may exceed len(buf) if it was truncated) and the sender's netlink port ID.
type recvFunc func(buf []byte) (n int, pid uint32, err error)

// next returns the next well-formed kernel uevent that recv delivers,
// dropping (and logging) messages from other senders, truncated messages and
// malformed ones. It is the part of [Listener.Receive] that tests drive.
func next(buf []byte, recv recvFunc, logf func(string, ...any)) (Event, error) {
	for {
		n, pid, err := recv(buf)
		if err != nil {
			return Event{}, err
		}
		switch {
		case pid != 0:
			logf("uevent: dropped a message from netlink port %d: only the kernel (port 0) sends uevents", pid)
		case n > len(buf):
			logf("uevent: dropped a %d-byte message: longer than the %d-byte buffer", n, len(buf))
		default:
			ev, err := Parse(buf[:n])
			if err == nil {
				return ev, nil
			}
			logf("uevent: dropped a message: %v", err)
		}
	}
}

func nopLogf(string, ...any) {}

func logfOrNop(f func(string, ...any)) func(string, ...any) {
	if f == nil {
		return nopLogf
	}
	return f
}

func errOverrun(err error) error {
	return fmt.Errorf("recvfrom NETLINK_KOBJECT_UEVENT: %w (%w)", ErrOverrun, err)
}
