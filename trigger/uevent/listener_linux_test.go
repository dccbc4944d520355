package uevent

import (
	"errors"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// TestIntegrationListenClose opens the real socket (no privilege needed,
// but a sandbox may forbid netlink) and checks that Close wakes a Receive
// blocked on it.
func TestIntegrationListenClose(t *testing.T) {
	l, err := Listen(Config{Logf: t.Logf})
	if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) || errors.Is(err, unix.EAFNOSUPPORT) || errors.Is(err, unix.EPROTONOSUPPORT) {
		t.Skipf("no uevent socket here: %v", err)
	}
	require.NoError(t, err)

	done := make(chan error, 1)
	go func() {
		for {
			_, err := l.Receive()
			if err == nil || errors.Is(err, ErrOverrun) {
				continue // a real device event on this machine
			}
			done <- err
			return
		}
	}()
	time.Sleep(50 * time.Millisecond) // let Receive park; not needed for correctness
	require.NoError(t, l.Close())
	select {
	case err := <-done:
		assert.ErrorIs(t, err, os.ErrClosed)
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not wake Receive")
	}
}

// TestIntegrationDropsForgedSender sends a uevent-shaped message from a user
// space socket straight to the listener (this needs CAP_NET_ADMIN; skipped
// otherwise) and checks that Receive drops it because its sender is not the
// kernel.
func TestIntegrationDropsForgedSender(t *testing.T) {
	logs := make(chan string, 16)
	l, err := Listen(Config{Logf: func(f string, a ...any) { logs <- f }})
	if err != nil {
		t.Skipf("no uevent socket here: %v", err)
	}
	defer l.Close()

	var portID uint32
	require.NoError(t, l.rc.Control(func(fd uintptr) {
		sa, err := unix.Getsockname(int(fd))
		require.NoError(t, err)
		portID = sa.(*unix.SockaddrNetlink).Pid
	}))
	s, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_KOBJECT_UEVENT)
	require.NoError(t, err)
	defer unix.Close(s)
	require.NoError(t, unix.Bind(s, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}))
	forged := msg("remove@/devices/forged", "ACTION=remove", "SUBSYSTEM=block")
	if err := unix.Sendto(s, forged, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Pid: portID}); err != nil {
		t.Skipf("cannot send to a uevent socket from user space here: %v", err)
	}

	got := make(chan error, 1)
	go func() {
		for {
			ev, err := l.Receive()
			if err == nil && ev.DevPath == "/devices/forged" {
				got <- errors.New("forged uevent was accepted")
				return
			}
			if err != nil && !errors.Is(err, ErrOverrun) {
				got <- nil
				return
			}
		}
	}()
	select {
	case f := <-logs:
		assert.Contains(t, f, "only the kernel (port 0) sends uevents")
	case err := <-got:
		t.Fatalf("Receive ended before dropping the message: %v", err)
	case <-time.After(5 * time.Second):
		t.Fatal("the forged message was neither dropped nor returned")
	}
	require.NoError(t, l.Close())
	require.NoError(t, <-got)
}
