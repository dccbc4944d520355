package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ramwipe/ramwipe/trigger/control"
	"github.com/ramwipe/ramwipe/wipe"
)

// TestPanicDuringSlowKexecLoad: a re-arm whose kexec_file_load takes long
// (a big kernel, a slow disk) does not hold a trigger. The fake load
// blocks until the test ends; the panic must erase the keys meanwhile.
func TestPanicDuringSlowKexecLoad(t *testing.T) {
	p := &fakePlatform{cmdline: "memtest=1"}
	d := newDaemon(p, true, DefaultConfig())
	d.arm()
	p.called()

	p.loading = make(chan struct{})
	defer close(p.loading)
	go d.rearm()
	for p.count("load") == 0 {
		time.Sleep(time.Millisecond) // the re-arm is inside kexec_file_load
	}
	begin := time.Now()
	panicked := make(chan error, 1)
	d.addTrigger("hotkey")
	go func() {
		_ = d.Status() // a status request during the re-arm answers, too
		d.Fire("hotkey")
		panicked <- nil
	}()
	select {
	case <-panicked:
		t.Logf("trigger → keys erased, kexec, power off: %v, while kexec_file_load was still running", time.Since(begin))
	case <-time.After(5 * time.Second):
		t.Fatal("the panic waited for the re-arm's kexec_file_load")
	}
	assert.Equal(t, []string{"load", "erase", "kexec", "poweroff"}, p.called(), "keys erased and kexec tried with the image armed before")
}

// TestPanicRearmStatusTogether runs triggers, re-arms and status requests
// at once (go test -race): exactly one panic sequence runs, and every
// status parses.
func TestPanicRearmStatusTogether(t *testing.T) {
	p := &fakePlatform{cmdline: "memtest=1", devs: []string{"cryptroot"}}
	d := newDaemon(p, true, DefaultConfig())
	d.arm()
	d.addTrigger("hotkey")
	p.called()

	var wg sync.WaitGroup
	start := make(chan struct{})
	for range 4 {
		wg.Go(func() {
			<-start
			for range 20 {
				d.rearm()
			}
		})
		wg.Go(func() {
			<-start
			for range 50 {
				st := status(t, d)
				assert.Contains(t, []control.State{control.StateArmed, control.StateDegraded}, st.State)
			}
		})
	}
	for i := range 50 {
		wg.Go(func() {
			<-start
			if i%2 == 0 {
				d.Fire("hotkey")
			} else {
				_ = d.Panic("cli")
			}
		})
	}
	close(start)
	wg.Wait()
	assert.Equal(t, 1, p.count("erase"), "one sequence, however many triggers")
	assert.Equal(t, 1, p.count("kexec"))
	assert.Contains(t, d.snapshot().LastError, "kexec", "the panic's error is in the status")
}

// TestStatusSeesImageGone: another program unloads the wipe image; status
// says so at once, and ramwiped loads it again by itself.
func TestStatusSeesImageGone(t *testing.T) {
	p := &fakePlatform{cmdline: "memtest=1"}
	d := newDaemon(p, true, DefaultConfig())
	d.arm()
	p.called()
	p.setLoaded(false) // kexec -u
	st := status(t, d)
	assert.Equal(t, control.StateDegraded, st.State)
	assert.Contains(t, st.Why, "WIPE IMAGE NO LONGER LOADED")
	require.Eventually(t, func() bool { return status(t, d).State == control.StateArmed }, 10*time.Second, time.Millisecond,
		"ramwiped arms again by itself")
	assert.GreaterOrEqual(t, p.count("load"), 1)

	// Without a status request, the watch finds it.
	p.setLoaded(false)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go d.watchImage(ctx, time.Millisecond)
	require.Eventually(t, func() bool { ok, _ := p.KexecLoaded(); return ok }, 10*time.Second, time.Millisecond)
}

// fdPlatform opens the real resources of the panic path (device-mapper if
// present, /proc/keys, /dev/kmsg if writable) and fakes the rest.
type fdPlatform struct {
	fakePlatform
	real linux
}

func (f *fdPlatform) KeyEraser() (wipe.KeyEraser, []string, error) { return f.real.KeyEraser() }
func (f *fdPlatform) KeyringSweeper() (wipe.KeyringSweeper, error) { return f.real.KeyringSweeper() }
func (f *fdPlatform) Mark() (func(string), error)                  { return f.real.Mark() }

func openFDs(t *testing.T) int {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	require.NoError(t, err)
	return len(fds)
}

// TestRearmKeepsFileDescriptors: re-arming many times opens nothing new.
func TestRearmKeepsFileDescriptors(t *testing.T) {
	p := &fdPlatform{fakePlatform: fakePlatform{cmdline: "memtest=1"}}
	d := &daemon{cfg: DefaultConfig(), plat: p, armed: true, logf: t.Logf}
	d.arm()
	before := openFDs(t)
	for range 50 {
		d.rearm()
	}
	assert.Equal(t, before, openFDs(t), "file descriptors after 50 re-arms")
}

func TestStatusSaysWhatIsWatched(t *testing.T) {
	p := &fakePlatform{cmdline: "memtest=1"}
	d := newDaemon(p, true, DefaultConfig())
	d.arm()
	d.watchOff("bootmedium", "off: nothing removable to watch")
	d.setWatch("hotkey", func() control.Watch {
		return control.Watch{Trigger: "hotkey", On: true, What: "the chord on 2 keyboards"}
	})
	st := status(t, d)
	assert.Equal(t, []control.Watch{
		{Trigger: "hotkey", On: true, What: "the chord on 2 keyboards"},
		{Trigger: "bootmedium", What: "off: nothing removable to watch"},
	}, st.Watching, "in a fixed order, each with what it watches or why it is off")
}

// TestFailedRearmKeepsTheLoadedImage: the kernel and wipe image files are
// deleted after arming (the lab's fault-files-deleted); the re-arm that
// follows cannot load them, but the kernel still holds the image loaded
// before, so a panic must still kexec into it.
func TestFailedRearmKeepsTheLoadedImage(t *testing.T) {
	p := &fakePlatform{cmdline: "memtest=1"}
	d := newDaemon(p, true, DefaultConfig())
	d.arm()
	p.cmdline = "" // the files are gone
	p.called()
	d.rearm()
	assert.NotContains(t, p.called(), "unstage", "the shutdown hook's staged copy stays")
	st := status(t, d)
	assert.Equal(t, control.StateDegraded, st.State, "loud: the next boot cannot arm")
	assert.Contains(t, st.Why, "re-arming failed: read the wipe image's command line")
	assert.Contains(t, st.Why, "is still loaded, and a panic wipes memory with it")
	_ = d.Panic("cli")
	assert.Equal(t, []string{"erase", "kexec", "poweroff"}, p.called(), "the panic kexecs into the image still loaded")

	// Nothing loaded any more: the failed re-arm says so, and a panic
	// powers off after the keys.
	p = &fakePlatform{cmdline: "memtest=1"}
	d = newDaemon(p, true, DefaultConfig())
	d.arm()
	p.cmdline = ""
	p.setLoaded(false)
	d.rearm()
	assert.Contains(t, status(t, d).Why, "NO WIPE IMAGE LOADED")
	p.called()
	_ = d.Panic("cli")
	assert.Equal(t, []string{"erase", "poweroff"}, p.called())
}

// TestPanicRequestSentMark: a panic request stamped with its send time is
// followed, once the keys are erased and not before, by a mark of how long
// before that it was sent; an unstamped one (an older client) by none.
func TestPanicRequestSentMark(t *testing.T) {
	for _, stamped := range []bool{true, false} {
		p := &fakePlatform{cmdline: "memtest=1", devs: []string{"cryptroot"}}
		d := newDaemon(p, true, DefaultConfig())
		d.arm()
		p.called()
		r := control.Request{Command: control.CommandPanic}
		if stamped {
			r.Sent = control.MonotonicNow() - 5*time.Millisecond
		}
		_, err := d.handle(context.Background(), control.Peer{UID: 0, PID: 42}, r)
		require.NoError(t, err)
		for p.count("poweroff") == 0 {
			time.Sleep(time.Millisecond)
		}
		p.mu.Lock()
		marks := p.marks
		p.mu.Unlock()
		if !stamped {
			assert.NotContains(t, strings.Join(marks, "\n"), "request sent", "unstamped request")
			continue
		}
		require.GreaterOrEqual(t, len(marks), 3, "marks: %q", marks)
		assert.Equal(t, []string{wipe.StepTrigger, wipe.StepKeysDone}, marks[:2])
		var us int64
		_, err = fmt.Sscanf(marks[2], "request sent %d us before keys-wiped", &us)
		require.NoError(t, err, "mark %q", marks[2])
		assert.GreaterOrEqual(t, us, int64(5000), "the request was sent 5 ms before the panic began")
		assert.Less(t, us, int64(time.Minute/time.Microsecond))
	}
}
