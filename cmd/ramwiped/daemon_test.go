package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/ramwipe/ramwipe/trigger/control"
	"github.com/ramwipe/ramwipe/wipe"
	"github.com/ramwipe/ramwipe/wipe/kexec"
)

type fakePlatform struct {
	mu       sync.Mutex
	calls    []string
	loadErr  error
	loaded   bool
	loadedAs kexec.Image
	cmdline  string
	stageErr error
	devs     []string
	// loading, if set, is where LoadKexec waits: a slow kexec_file_load.
	loading chan struct{}
	marks   []string // the panic marks, as /dev/kmsg would get them
}

func (f *fakePlatform) call(s string) {
	f.mu.Lock()
	f.calls = append(f.calls, s)
	f.mu.Unlock()
}

// called returns the calls so far, and forgets them.
func (f *fakePlatform) called() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.calls
	f.calls = nil
	return c
}

func (f *fakePlatform) count(call string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.calls {
		if c == call {
			n++
		}
	}
	return n
}

func (f *fakePlatform) RunningKernel() (string, error) { return "/boot/vmlinuz-test", nil }
func (f *fakePlatform) Consoles() []string             { return []string{"console=ttyS0"} }
func (f *fakePlatform) LoadKexec(img kexec.Image) error {
	f.call("load")
	if f.loading != nil {
		<-f.loading
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.loadedAs = img
	if f.loadErr == nil {
		f.loaded = true
	}
	return f.loadErr
}
func (f *fakePlatform) UnloadKexec() error {
	f.call("unload")
	f.setLoaded(false)
	return nil
}
func (f *fakePlatform) setLoaded(b bool) {
	f.mu.Lock()
	f.loaded = b
	f.mu.Unlock()
}
func (f *fakePlatform) KexecLoaded() (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.loaded, nil
}
func (f *fakePlatform) LockMemory() error { f.call("mlockall"); return nil }
func (f *fakePlatform) LockKexec() error  { f.call("lock-kexec"); return nil }
func (f *fakePlatform) StageShutdown(img kexec.Image) error {
	f.call("stage " + img.Kernel)
	return f.stageErr
}
func (f *fakePlatform) UnstageShutdown() error { f.call("unstage"); return nil }
func (f *fakePlatform) ReadFile(name string) ([]byte, error) {
	if f.cmdline == "" {
		return nil, os.ErrNotExist
	}
	return []byte(f.cmdline + "\n"), nil
}
func (f *fakePlatform) KeyEraser() (wipe.KeyEraser, []string, error) {
	f.call("open-dm")
	return fakeKeys{f}, nil, nil
}
func (f *fakePlatform) KeyringSweeper() (wipe.KeyringSweeper, error) { return nil, nil }
func (f *fakePlatform) Machine() wipe.Machine                        { return machine{f} }
func (f *fakePlatform) Mark() (func(string), error) {
	return func(s string) {
		f.mu.Lock()
		f.marks = append(f.marks, s)
		f.mu.Unlock()
	}, nil
}

// fakeKeys erases nothing but says so, and lists f.devs, as the real
// eraser lists the crypt devices.
type fakeKeys struct{ f *fakePlatform }

func (k fakeKeys) EraseKeys(context.Context) error { k.f.call("erase"); return nil }
func (k fakeKeys) CryptDevices() ([]string, error) {
	k.f.mu.Lock()
	defer k.f.mu.Unlock()
	return k.f.devs, nil
}

func TestStatusListsCryptDevicesAfresh(t *testing.T) {
	p := &fakePlatform{cmdline: "memtest=1"}
	d := newDaemon(p, true, DefaultConfig())
	d.arm()
	assert.Empty(t, status(t, d).CryptDevices, "nothing open yet")
	p.mu.Lock()
	p.devs = []string{"data"} // unlocked after ramwiped armed
	p.mu.Unlock()
	assert.Equal(t, []string{"data"}, status(t, d).CryptDevices)
}

type machine struct{ f *fakePlatform }

func (m machine) Kexec() error    { m.f.call("kexec"); return unix.EINVAL }
func (m machine) PowerOff() error { m.f.call("poweroff"); return unix.EPERM }

func newDaemon(p *fakePlatform, armed bool, cfg Config) *daemon {
	return &daemon{cfg: cfg, plat: p, armed: armed, logf: func(string, ...any) {}}
}

func status(t *testing.T, d *daemon) Status {
	var s Status
	require.NoError(t, json.Unmarshal([]byte(d.Status()), &s))
	return s
}

func TestArmed(t *testing.T) {
	p := &fakePlatform{cmdline: "memtest=1 init_on_free=1", devs: []string{"cryptroot"}}
	cfg := DefaultConfig()
	cfg.CmdlineExtra = "ramwipe.quiet"
	cfg.LockKexec = true
	d := newDaemon(p, true, cfg)
	d.arm()
	s := status(t, d)
	assert.Equal(t, control.StateArmed, s.State)
	assert.Empty(t, s.Why)
	assert.Equal(t, "/boot/vmlinuz-test", p.loadedAs.Kernel)
	assert.Equal(t, cfg.Initramfs, p.loadedAs.Initrd)
	assert.Equal(t, "console=ttyS0 memtest=1 init_on_free=1 ramwipe.action=poweroff ramwipe.quiet", p.loadedAs.Cmdline)
	assert.Equal(t, []string{"cryptroot"}, s.CryptDevices)
	assert.True(t, s.KexecLocked)
	assert.Equal(t, []string{"open-dm", "load", "stage /boot/vmlinuz-test", "mlockall", "lock-kexec"}, p.calls)
	assert.Contains(t, s.ShutdownWipe, "staged")

	p.calls = nil
	err := d.Panic("cli")
	assert.Error(t, err, "the fake machine neither kexecs nor powers off")
	assert.Equal(t, []string{"erase", "kexec", "poweroff"}, p.calls)
	assert.ErrorContains(t, d.Panic("hotkey"), "already running", "a panic runs once")
}

func TestDegradedWhenKexecFails(t *testing.T) {
	p := &fakePlatform{cmdline: "memtest=1", loadErr: errors.New("kexec_file_load(...) = operation not permitted — not root, or kernel.kexec_load_disabled=1")}
	d := newDaemon(p, true, DefaultConfig())
	d.arm()
	s := status(t, d)
	assert.Equal(t, control.StateDegraded, s.State)
	assert.Contains(t, s.Why, "NO WIPE IMAGE LOADED")
	assert.Contains(t, s.Why, "kexec_load_disabled")
	assert.NotEmpty(t, s.LastError)
	assert.Equal(t, "off: no wipe image loaded", s.ShutdownWipe)
	assert.Contains(t, p.calls, "unstage", "no image: nothing left staged from before")

	p.calls = nil
	_ = d.Panic("cli")
	assert.Equal(t, []string{"erase", "poweroff"}, p.calls, "degraded: keys, then power off at once")
}

func TestShutdownWipeStaging(t *testing.T) {
	p := &fakePlatform{cmdline: "memtest=1"}
	cfg := DefaultConfig()
	cfg.ShutdownWipe = false
	d := newDaemon(p, true, cfg)
	d.arm()
	s := status(t, d)
	assert.Equal(t, control.StateArmed, s.State)
	assert.Equal(t, "off: shutdown_wipe = no", s.ShutdownWipe)
	assert.Contains(t, p.calls, "unstage")

	p = &fakePlatform{cmdline: "memtest=1", stageErr: errors.New("no space left on device")}
	d = newDaemon(p, true, DefaultConfig())
	d.arm()
	s = status(t, d)
	assert.Equal(t, control.StateArmed, s.State, "the panic path does not need the shutdown copy")
	assert.Contains(t, s.ShutdownWipe, "no space left on device")
}

func TestDegradedWithoutContract(t *testing.T) {
	p := &fakePlatform{} // no .cmdline beside the image
	d := newDaemon(p, true, DefaultConfig())
	d.arm()
	s := status(t, d)
	assert.Equal(t, control.StateDegraded, s.State)
	assert.Contains(t, s.Why, "reinstall ramwipe")
	assert.NotContains(t, p.calls, "load", "no image is loaded with a partial command line")
}

func TestDryRunTouchesNothing(t *testing.T) {
	p := &fakePlatform{cmdline: "memtest=1", devs: []string{"cryptroot"}}
	d := newDaemon(p, false, DefaultConfig())
	d.arm()
	require.ErrorIs(t, d.Panic("hotkey"), errDryRun)
	assert.Equal(t, []string{"open-dm"}, p.calls, "a dry run only lists the crypt devices: it neither arms nor wipes")
	s := status(t, d)
	assert.Equal(t, control.StateDryRun, s.State)
	assert.Contains(t, s.Why, "--armed")
	assert.Equal(t, []string{"cryptroot"}, s.CryptDevices, "a rehearsing user sees what a panic would erase")
	assert.Equal(t, "console=ttyS0 memtest=1 ramwipe.action=poweroff", s.Cmdline, "and what it would boot")
	got, err := d.Test(context.Background(), "cli")
	require.NoError(t, err)
	assert.Contains(t, got, "nothing was wiped")

	reply, err := d.handle(context.Background(), control.Peer{}, control.Request{Command: control.CommandPanic})
	require.NoError(t, err)
	assert.True(t, control.Reply{OK: true, Text: reply}.DryRun(), "the CLI can tell a dry run: %q", reply)
	assert.Contains(t, reply, "erase the keys of cryptroot")
	assert.Contains(t, reply, "/boot/vmlinuz-test")
	assert.NotContains(t, p.calls, "erase")
}

func TestFlags(t *testing.T) {
	dir := t.TempDir()
	conf := dir + "/ramwipe.conf"
	require.NoError(t, os.WriteFile(conf, []byte("group = wheel\nkernel = /boot/a\n"), 0o644))
	cfg, armed, err := flags([]string{"--config", conf, "--kernel", "/boot/b"}, &discard{}, &discard{})
	require.NoError(t, err)
	assert.False(t, armed)
	assert.Equal(t, "wheel", cfg.Group)
	assert.Equal(t, "/boot/b", cfg.Kernel, "flags override the file")

	_, _, err = flags([]string{"--config", dir + "/missing.conf", "--armed"}, &discard{}, &discard{})
	assert.NoError(t, err, "a missing config file is not an error")

	require.NoError(t, os.WriteFile(conf, []byte("kernel = b\n"), 0o644))
	_, _, err = flags([]string{"--config", conf}, &discard{}, &discard{})
	assert.ErrorContains(t, err, conf+":1:")
}

func TestCommandLine(t *testing.T) {
	dir := t.TempDir()
	good, bad := dir+"/good.conf", dir+"/bad.conf"
	require.NoError(t, os.WriteFile(good, []byte("group = wheel\n"), 0o644))
	require.NoError(t, os.WriteFile(bad, []byte("group = wheel\nhotkey = ctrl+nonsense\nlock_kexec = maybe\n"), 0o644))
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout string
		wantErr    []string
	}{
		{name: "help", args: []string{"-h"}, wantCode: 0, wantStdout: "usage: ramwiped [options]"},
		{name: "version", args: []string{"-version"}, wantCode: 0, wantStdout: "ramwiped devel\n"},
		{name: "check a good file", args: []string{"-check-config", good}, wantCode: 0, wantStdout: good + ": good\n"},
		{name: "check -config", args: []string{"-config", good, "-check-config"}, wantCode: 0, wantStdout: good + ": good\n"},
		{name: "check a bad file", args: []string{"-check-config", bad}, wantCode: 1, wantErr: []string{bad + ":2:", bad + ":3:"}},
		{name: "check a missing file", args: []string{"-check-config", dir + "/none.conf"}, wantCode: 1, wantErr: []string{"no such file"}},
		{name: "unknown flag", args: []string{"-bogus"}, wantCode: 64, wantErr: []string{"flag provided but not defined", "ramwiped -h"}},
		{name: "stray argument", args: []string{"-config", good, "now"}, wantCode: 64, wantErr: []string{`unexpected argument "now"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			_, _, err := flags(tt.args, &stdout, &stderr)
			assert.Equal(t, tt.wantCode, exitCode(err), "exit code of %q (err %v)", tt.args, err)
			assert.Contains(t, stdout.String(), tt.wantStdout)
			for _, w := range tt.wantErr {
				assert.ErrorContains(t, err, w)
			}
		})
	}
}

type discard struct{}

func (*discard) Write(b []byte) (int, error) { return len(b), nil }

// rehearsing waits until d has registered a rehearsal of trigger; each
// Fire before that would wipe.
func rehearsing(d *daemon, trigger string) {
	for {
		d.mu.Lock()
		_, ok := d.rehearse[trigger]
		d.mu.Unlock()
		if ok {
			return
		}
		runtime.Gosched()
	}
}

func TestRehearsal(t *testing.T) {
	p := &fakePlatform{cmdline: "memtest=1"}
	d := newDaemon(p, true, DefaultConfig())
	d.arm()
	d.addTrigger("hotkey")
	_, err := d.Test(context.Background(), "bootmedium")
	assert.ErrorContains(t, err, "not active")

	done := make(chan string)
	go func() {
		got, err := d.Test(context.Background(), "hotkey")
		assert.NoError(t, err)
		done <- got
	}()
	rehearsing(d, "hotkey")
	d.Fire("hotkey")
	assert.Contains(t, <-done, "hotkey trigger seen — would wipe now")
	assert.NotContains(t, p.calls, "erase", "a rehearsal wipes nothing")
}

// TestRehearsalCannotEatAnEmergency: a rehearsal swallows one firing of
// its own trigger while its client waits, and nothing else.
func TestRehearsalCannotEatAnEmergency(t *testing.T) {
	tests := []struct {
		name string
		// end ends the rehearsal, or not; then fire fires.
		end  func(d *daemon, cancel context.CancelFunc)
		fire string
	}{
		{name: "client hung up", end: func(_ *daemon, cancel context.CancelFunc) { cancel() }, fire: "hotkey"},
		{name: "window passed", end: func(*daemon, context.CancelFunc) {}, fire: "hotkey"},
		{name: "another trigger during the rehearsal", fire: "bootmedium"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &fakePlatform{cmdline: "memtest=1"}
			d := newDaemon(p, true, DefaultConfig())
			d.arm()
			d.addTrigger("hotkey")
			d.addTrigger("bootmedium")
			p.called()
			if tt.name == "window passed" {
				d.rehearsal = time.Millisecond
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			ended := make(chan error, 1)
			go func() {
				_, err := d.Test(ctx, "hotkey")
				ended <- err
			}()
			if tt.name != "window passed" { // that one may be over already
				rehearsing(d, "hotkey")
			}
			if tt.end != nil {
				tt.end(d, cancel)
				err := <-ended
				assert.ErrorContains(t, err, "nothing was wiped, and the hotkey trigger wipes again")
			}
			d.Fire(tt.fire)
			assert.Equal(t, []string{"erase", "kexec", "poweroff"}, p.called(), "the %s trigger wiped", tt.fire)
		})
	}
}

func TestRehearsalOneAtATime(t *testing.T) {
	p := &fakePlatform{cmdline: "memtest=1"}
	d := newDaemon(p, true, DefaultConfig())
	d.arm()
	d.addTrigger("hotkey")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go d.Test(ctx, "hotkey")
	rehearsing(d, "hotkey")
	_, err := d.Test(context.Background(), "hotkey")
	assert.ErrorContains(t, err, "being rehearsed already")
}

func TestRearm(t *testing.T) {
	p := &fakePlatform{cmdline: "memtest=1"}
	d := newDaemon(p, true, DefaultConfig())
	d.arm()
	d.addTrigger("hotkey")
	p.called()
	d.rearm()
	assert.Equal(t, []string{"load", "stage /boot/vmlinuz-test"}, p.called(), "device-mapper, keyring and kmsg stay open; mlockall stays")
	assert.Equal(t, []string{"cli", "hotkey"}, d.snapshot().Triggers, "triggers keep running")
	assert.Equal(t, d.cfg.Hotkey, d.snapshot().Hotkey, "the hotkey's chord is shown while it runs")
	assert.Equal(t, control.StateArmed, d.snapshot().State)

	cfg := DefaultConfig()
	cfg.LockKexec = true
	d = newDaemon(p, true, cfg)
	d.arm()
	p.called()
	d.rearm()
	assert.Empty(t, p.calls, "a locked kexec keeps the image loaded at boot")
}

func TestDisarm(t *testing.T) {
	p := &fakePlatform{cmdline: "memtest=1"}
	d := newDaemon(p, true, DefaultConfig())
	d.arm()
	p.calls = nil
	d.disarm()
	assert.Equal(t, []string{"unload"}, p.calls, "armed: the image goes with the daemon")

	p = &fakePlatform{cmdline: "memtest=1"}
	cfg := DefaultConfig()
	cfg.LockKexec = true
	d = newDaemon(p, true, cfg)
	d.arm()
	assert.Equal(t, lockedShutdownWipe, status(t, d).ShutdownWipe)
	p.calls = nil
	d.disarm()
	assert.Empty(t, p.calls, "kexec locked: nothing can unload it, nothing tries")

	p = &fakePlatform{} // no contract: degraded, nothing loaded
	d = newDaemon(p, true, DefaultConfig())
	d.arm()
	p.calls = nil
	d.disarm()
	assert.Empty(t, p.calls, "nothing loaded, nothing to unload")

	p = &fakePlatform{cmdline: "memtest=1"}
	d = newDaemon(p, true, DefaultConfig())
	d.arm()
	d.disarm()
	p.calls = nil
	d.rearm() // one queued by the upgrade watch or the image check
	assert.Empty(t, p.calls, "after disarm nothing loads the image again (systemctl reboot would kexec it)")

	p = &fakePlatform{cmdline: "memtest=1"}
	d = newDaemon(p, true, DefaultConfig())
	d.arm()
	_ = d.Panic("hotkey")
	p.calls = nil
	d.disarm()
	assert.Empty(t, p.calls, "a panic ran: its image is not taken from under it")

	p = &fakePlatform{cmdline: "memtest=1"}
	d = newDaemon(p, false, DefaultConfig())
	d.arm()
	d.disarm()
	assert.NotContains(t, p.calls, "unload", "dry run")
}
