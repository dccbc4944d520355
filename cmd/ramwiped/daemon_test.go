package main

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/ramwipe/ramwipe/wipe"
	"github.com/ramwipe/ramwipe/wipe/kexec"
)

type fakePlatform struct {
	calls    []string
	loadErr  error
	loaded   bool
	loadedAs kexec.Image
	cmdline  string
	stageErr error
}

func (f *fakePlatform) call(s string) { f.calls = append(f.calls, s) }

func (f *fakePlatform) RunningKernel() (string, error) { return "/boot/vmlinuz-test", nil }
func (f *fakePlatform) Consoles() []string             { return []string{"console=ttyS0"} }
func (f *fakePlatform) LoadKexec(img kexec.Image) error {
	f.call("load")
	f.loadedAs = img
	if f.loadErr == nil {
		f.loaded = true
	}
	return f.loadErr
}
func (f *fakePlatform) UnloadKexec() error         { f.call("unload"); f.loaded = false; return nil }
func (f *fakePlatform) KexecLoaded() (bool, error) { return f.loaded, nil }
func (f *fakePlatform) LockMemory() error          { f.call("mlockall"); return nil }
func (f *fakePlatform) LockKexec() error           { f.call("lock-kexec"); return nil }
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
	return keysFunc(func(context.Context) error { f.call("erase"); return nil }), []string{"cryptroot"}, nil
}
func (f *fakePlatform) KeyringSweeper() (wipe.KeyringSweeper, error) { return nil, nil }
func (f *fakePlatform) Machine() wipe.Machine                        { return machine{f} }
func (f *fakePlatform) Mark() (func(string), error)                  { return func(s string) {}, nil }

type keysFunc func(context.Context) error

func (k keysFunc) EraseKeys(ctx context.Context) error { return k(ctx) }

// listingKeys also lists the crypt devices, as the real eraser does.
type listingKeys struct {
	keysFunc
	devs []string
}

func (k *listingKeys) CryptDevices() ([]string, error) { return k.devs, nil }

func TestStatusListsCryptDevicesAfresh(t *testing.T) {
	p := &fakePlatform{cmdline: "memtest=1"}
	d := newDaemon(p, true, DefaultConfig())
	d.arm()
	keys := &listingKeys{keysFunc: func(context.Context) error { return nil }}
	d.seq.Keys = keys
	assert.Empty(t, status(t, d).CryptDevices, "nothing open yet")
	keys.devs = []string{"data"} // unlocked after ramwiped armed
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
	p := &fakePlatform{cmdline: "memtest=1 init_on_free=1"}
	cfg := DefaultConfig()
	cfg.CmdlineExtra = "ramwipe.quiet"
	cfg.LockKexec = true
	d := newDaemon(p, true, cfg)
	d.arm()
	s := status(t, d)
	assert.Equal(t, "armed", s.State)
	assert.Empty(t, s.Why)
	assert.Equal(t, "/boot/vmlinuz-test", p.loadedAs.Kernel)
	assert.Equal(t, cfg.Initramfs, p.loadedAs.Initrd)
	assert.Equal(t, "console=ttyS0 memtest=1 init_on_free=1 ramwipe.action=poweroff ramwipe.quiet", p.loadedAs.Cmdline)
	assert.Equal(t, []string{"cryptroot"}, s.CryptDevices)
	assert.True(t, s.KexecLocked)
	assert.Equal(t, []string{"load", "stage /boot/vmlinuz-test", "mlockall", "open-dm", "lock-kexec"}, p.calls)
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
	assert.Equal(t, "degraded", s.State)
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
	assert.Equal(t, "armed", s.State)
	assert.Equal(t, "off: shutdown_wipe = no", s.ShutdownWipe)
	assert.Contains(t, p.calls, "unstage")

	p = &fakePlatform{cmdline: "memtest=1", stageErr: errors.New("no space left on device")}
	d = newDaemon(p, true, DefaultConfig())
	d.arm()
	s = status(t, d)
	assert.Equal(t, "armed", s.State, "the panic path does not need the shutdown copy")
	assert.Contains(t, s.ShutdownWipe, "no space left on device")
}

func TestDegradedWithoutContract(t *testing.T) {
	p := &fakePlatform{} // no .cmdline beside the image
	d := newDaemon(p, true, DefaultConfig())
	d.arm()
	s := status(t, d)
	assert.Equal(t, "degraded", s.State)
	assert.Contains(t, s.Why, "reinstall ramwipe")
	assert.NotContains(t, p.calls, "load", "no image is loaded with a partial command line")
}

func TestDryRunTouchesNothing(t *testing.T) {
	p := &fakePlatform{cmdline: "memtest=1"}
	d := newDaemon(p, false, DefaultConfig())
	d.arm()
	require.NoError(t, d.Panic("hotkey"))
	assert.Empty(t, p.calls, "a dry run neither arms nor wipes")
	s := status(t, d)
	assert.Equal(t, "dry-run", s.State)
	assert.Contains(t, s.Why, "--armed")
	got, err := d.Test(context.Background(), "cli")
	require.NoError(t, err)
	assert.Contains(t, got, "nothing was wiped")
}

func TestFlags(t *testing.T) {
	dir := t.TempDir()
	conf := dir + "/ramwipe.conf"
	require.NoError(t, os.WriteFile(conf, []byte("group = wheel\nkernel = /boot/a\n"), 0o644))
	cfg, armed, err := flags([]string{"--config", conf, "--kernel", "/boot/b"}, &discard{})
	require.NoError(t, err)
	assert.False(t, armed)
	assert.Equal(t, "wheel", cfg.Group)
	assert.Equal(t, "/boot/b", cfg.Kernel, "flags override the file")

	_, _, err = flags([]string{"--config", dir + "/missing.conf", "--armed"}, &discard{})
	assert.NoError(t, err, "a missing config file is not an error")

	require.NoError(t, os.WriteFile(conf, []byte("kernel = b\n"), 0o644))
	_, _, err = flags([]string{"--config", conf}, &discard{})
	assert.ErrorContains(t, err, conf+":1:")
}

type discard struct{}

func (*discard) Write(b []byte) (int, error) { return len(b), nil }

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
	// Fire until the rehearsal has registered; each Fire before that would
	// wipe, so wait for the registration instead.
	for {
		d.mu.Lock()
		_, ok := d.rehearse["hotkey"]
		d.mu.Unlock()
		if ok {
			break
		}
		runtime.Gosched()
	}
	d.Fire("hotkey")
	assert.Contains(t, <-done, "hotkey trigger seen — would wipe now")
	assert.NotContains(t, p.calls, "erase", "a rehearsal wipes nothing")

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = d.Test(ctx, "hotkey")
	assert.ErrorContains(t, err, "nothing was wiped")
}

func TestRearm(t *testing.T) {
	p := &fakePlatform{cmdline: "memtest=1"}
	d := newDaemon(p, true, DefaultConfig())
	d.arm()
	d.addTrigger("hotkey")
	p.calls = nil
	d.rearm()
	assert.Equal(t, []string{"load", "stage /boot/vmlinuz-test", "mlockall", "open-dm"}, p.calls)
	assert.Equal(t, []string{"cli", "hotkey"}, d.snapshot().Triggers, "triggers keep running")
	assert.Equal(t, "armed", d.snapshot().State)

	cfg := DefaultConfig()
	cfg.LockKexec = true
	d = newDaemon(p, true, cfg)
	d.arm()
	p.calls = nil
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
	d = newDaemon(p, false, DefaultConfig())
	d.arm()
	d.disarm()
	assert.NotContains(t, p.calls, "unload", "dry run")
}
