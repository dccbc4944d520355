package main

import (
	"net"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ramwipe/ramwipe/trigger/control"
)

func TestNotify(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	assert.NoError(t, notify("READY=1"), "not under systemd: nothing to do")

	path := filepath.Join(t.TempDir(), "notify")
	l, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	require.NoError(t, err)
	defer l.Close()
	t.Setenv("NOTIFY_SOCKET", path)
	require.NoError(t, notify("READY=1\n"+statusLine(Status{State: control.StateArmed, Kernel: "/boot/vmlinuz-6.1"})))
	buf := make([]byte, 256)
	n, err := l.Read(buf)
	require.NoError(t, err)
	assert.Equal(t, "READY=1\nSTATUS=armed: /boot/vmlinuz-6.1", string(buf[:n]))

	assert.Equal(t, "STATUS=degraded: why", statusLine(Status{State: control.StateDegraded, Why: "why"}))
	t.Setenv("NOTIFY_SOCKET", filepath.Join(t.TempDir(), "none"))
	assert.Error(t, notify("READY=1"))
}
