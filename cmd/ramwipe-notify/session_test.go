package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ramwipe/ramwipe/trigger/control"
)

// TestDesktopSession runs ramwipe-notify in a real desktop session: an
// X server (Xvfb), a session D-Bus and Debian's dunst as the notification
// server, against a fake ramwiped (degraded; refuses a panic as not
// authorized). It checks the Notify calls on the bus and dunst's count of
// notifications shown, and saves a screenshot to $RAMWIPE_DESKTOP_SHOT if
// set. Run by `make desktop-test` (RAMWIPE_DESKTOP_TEST=1), which installs
// xvfb, dbus, dunst and imagemagick.
func TestDesktopSession(t *testing.T) {
	if os.Getenv("RAMWIPE_DESKTOP_TEST") != "1" {
		t.Skip("set RAMWIPE_DESKTOP_TEST=1 (make desktop-test) to run a desktop session")
	}
	for _, cmd := range []string{"Xvfb", "dbus-daemon", "dunst", "dunstctl", "import"} {
		if _, err := exec.LookPath(cmd); err != nil {
			t.Fatalf("%s: %v (make desktop-test installs it)", cmd, err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	dir := t.TempDir()

	display := startXvfb(ctx, t)
	busAddr := startBus(ctx, t, dir)
	env := append(os.Environ(), "DISPLAY="+display, "DBUS_SESSION_BUS_ADDRESS="+busAddr, "XDG_RUNTIME_DIR="+dir)
	msgs := monitorNotify(t, busAddr)
	startDunst(ctx, t, dir, env, busAddr)

	// The fake ramwiped: degraded, and the user may not panic.
	const why = "the wipe image is not loaded (kexec_file_load: operation not permitted): a panic erases the disk keys and powers off, but memory is not overwritten"
	const refusal = "not authorized: uid 1000 is not root and not in group ramwipe, which may use ramwipe: an admin adds you with `sudo adduser YOUR-USER ramwipe`, then log out and in again"
	sock := filepath.Join(dir, "control.sock")
	srv := &control.Server{
		Path: sock,
		GID:  os.Getgid(),
		Handler: func(ctx context.Context, p control.Peer, r control.Request) (string, error) {
			switch r.Command {
			case control.CommandStatus:
				return `{"state":"degraded","why":"` + why + `","triggers":["cli","hotkey"]}`, nil
			case control.CommandPanic:
				return "", errors.New(refusal)
			}
			return "", fmt.Errorf("%s: not in this test", r.Command)
		},
		Logf: t.Logf,
	}
	require.NoError(t, srv.Listen())
	sctx, stopServer := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(sctx) }()
	defer func() { stopServer(); <-served }()

	t.Setenv("DBUS_SESSION_BUS_ADDRESS", busAddr)
	t.Setenv("USER", "alice")

	// The agent: one notification, critical, for the degraded state.
	actx, stopAgent := context.WithCancel(ctx)
	var agentErr bytes.Buffer
	agentDone := make(chan int, 1)
	go func() { agentDone <- run(actx, []string{"-socket", sock}, &bytes.Buffer{}, &agentErr) }()
	n := msgs.wait(ctx, t, "ramwipe: protection is DEGRADED")
	assert.Equal(t, why, n.body)
	assert.EqualValues(t, 2, n.urgency, "critical")

	// The launcher: the refusal, as a critical notification.
	var stderr bytes.Buffer
	code := run(ctx, []string{"-socket", sock, "--panic"}, &bytes.Buffer{}, &stderr)
	assert.Equal(t, exitFailed, code, "ramwipe-notify --panic, refused; stderr:\n%s", &stderr)
	assert.Contains(t, stderr.String(), "panic: not authorized")
	n = msgs.wait(ctx, t, "ramwipe: the panic did NOT run — nothing was wiped")
	assert.Contains(t, n.body, "sudo adduser alice ramwipe\nthen log out and in again.")
	assert.EqualValues(t, 2, n.urgency, "critical")

	// dunst shows both.
	require.Eventually(t, func() bool {
		out, err := exec.CommandContext(ctx, "dunstctl", "count", "displayed").Output()
		return err == nil && strings.TrimSpace(string(out)) == "2"
	}, 10*time.Second, 100*time.Millisecond, "dunstctl count displayed: want 2")

	if shot := os.Getenv("RAMWIPE_DESKTOP_SHOT"); shot != "" {
		time.Sleep(500 * time.Millisecond) // the frame after the second notification
		out, err := exec.CommandContext(ctx, "import", "-display", display, "-window", "root", "-strip", shot).CombinedOutput()
		require.NoError(t, err, "import (screenshot): %s", out)
		t.Logf("screenshot: %s", shot)
	}

	stopAgent()
	assert.Equal(t, exitOK, <-agentDone, "the agent ends with its session; stderr:\n%s", &agentErr)
	assert.Equal(t, 2, msgs.count(), "one notification per change: no repeats")
}

// startXvfb starts an X server and returns its display.
func startXvfb(ctx context.Context, t *testing.T) string {
	r, w, err := os.Pipe()
	require.NoError(t, err)
	defer r.Close()
	cmd := exec.CommandContext(ctx, "Xvfb", "-displayfd", "3", "-screen", "0", "800x360x24", "-nolisten", "tcp", "-noreset")
	cmd.ExtraFiles = []*os.File{w}
	cmd.Stderr = logWriter(t, "Xvfb")
	require.NoError(t, cmd.Start())
	w.Close()
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(r).ReadString('\n')
	require.NoError(t, err, "Xvfb: no display number")
	n, err := strconv.Atoi(strings.TrimSpace(line))
	require.NoError(t, err, "Xvfb display %q", line)
	return ":" + strconv.Itoa(n)
}

// startBus starts a session D-Bus and returns its address.
func startBus(ctx context.Context, t *testing.T, dir string) string {
	cmd := exec.CommandContext(ctx, "dbus-daemon", "--session", "--nofork", "--nopidfile", "--print-address=1",
		"--address=unix:path="+filepath.Join(dir, "bus"))
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = logWriter(t, "dbus-daemon")
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	require.NoError(t, err, "dbus-daemon: no address")
	return strings.TrimSpace(line)
}

// startDunst starts dunst and waits until it owns the notification name.
func startDunst(ctx context.Context, t *testing.T, dir string, env []string, busAddr string) {
	icons, err := filepath.Abs("../../debian")
	require.NoError(t, err)
	conf := filepath.Join(dir, "dunstrc")
	require.NoError(t, os.WriteFile(conf, []byte(`[global]
    width = 560
    height = 200
    origin = top-right
    offset = 12x12
    font = DejaVu Sans 11
    markup = full
    format = "<b>%s</b>\n%b"
    frame_width = 2
    padding = 10
    horizontal_padding = 10
    gap_size = 8
    icon_position = left
    min_icon_size = 48
    max_icon_size = 48
    icon_path = `+icons+`
    show_age_threshold = -1
[urgency_normal]
    background = "#2b2b2b"
    foreground = "#ffffff"
    frame_color = "#888888"
    timeout = 0
[urgency_critical]
    background = "#7a1410"
    foreground = "#ffffff"
    frame_color = "#ff5040"
    timeout = 0
`), 0o644))
	cmd := exec.CommandContext(ctx, "dunst", "-conf", conf)
	cmd.Env = env
	cmd.Stderr = logWriter(t, "dunst")
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })

	conn, err := dbus.Connect(busAddr)
	require.NoError(t, err)
	defer conn.Close()
	require.Eventually(t, func() bool {
		var has bool
		err := conn.BusObject().Call("org.freedesktop.DBus.NameHasOwner", 0, "org.freedesktop.Notifications").Store(&has)
		return err == nil && has
	}, 10*time.Second, 50*time.Millisecond, "dunst never took org.freedesktop.Notifications")
}

// notifyCall is one Notify call seen on the bus.
type notifyCall struct {
	summary, body string
	urgency       byte
}

// notifyMonitor collects the Notify calls on a bus.
type notifyMonitor struct {
	mu    sync.Mutex
	calls []notifyCall
	added chan struct{}
}

// monitorNotify becomes a monitor of the bus (org.freedesktop.DBus.Monitoring)
// for Notify calls; when it returns, every later call is seen.
func monitorNotify(t *testing.T, busAddr string) *notifyMonitor {
	conn, err := dbus.Connect(busAddr)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	m := &notifyMonitor{added: make(chan struct{}, 16)}
	ch := make(chan *dbus.Message, 16)
	rule := "type='method_call',interface='org.freedesktop.Notifications',member='Notify'"
	require.NoError(t, conn.BusObject().Call("org.freedesktop.DBus.Monitoring.BecomeMonitor", 0, []string{rule}, uint32(0)).Err)
	// After the reply, which Eavesdrop would take: no Notify call is made
	// before the notification server starts, after this returns.
	conn.Eavesdrop(ch)
	go func() {
		for msg := range ch {
			if len(msg.Body) != 8 {
				continue
			}
			c := notifyCall{}
			c.summary, _ = msg.Body[3].(string)
			c.body, _ = msg.Body[4].(string)
			if hints, ok := msg.Body[6].(map[string]dbus.Variant); ok {
				c.urgency, _ = hints["urgency"].Value().(byte)
			}
			m.mu.Lock()
			m.calls = append(m.calls, c)
			m.mu.Unlock()
			m.added <- struct{}{}
		}
	}()
	return m
}

// wait returns the first Notify call with this summary.
func (m *notifyMonitor) wait(ctx context.Context, t *testing.T, summary string) notifyCall {
	t.Helper()
	for {
		m.mu.Lock()
		for _, c := range m.calls {
			if c.summary == summary {
				m.mu.Unlock()
				return c
			}
		}
		m.mu.Unlock()
		select {
		case <-m.added:
		case <-ctx.Done():
			t.Fatalf("no Notify call with summary %q on the bus; saw %+v", summary, m.calls)
		}
	}
}

func (m *notifyMonitor) count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.calls)
}

// logWriter writes a helper's output to the test log, line by line.
func logWriter(t *testing.T, name string) *os.File {
	r, w, err := os.Pipe()
	require.NoError(t, err)
	done := make(chan struct{})
	go func() {
		defer close(done)
		s := bufio.NewScanner(r)
		for s.Scan() {
			t.Logf("%s: %s", name, s.Text())
		}
		r.Close()
	}()
	// Registered before the helper's own cleanup, so run after it: the
	// helper is gone, and this end is the last writer.
	t.Cleanup(func() { w.Close(); <-done })
	return w
}
