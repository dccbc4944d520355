package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ramwipe/ramwipe/initramfs"
	"github.com/ramwipe/ramwipe/trigger/control"
	"github.com/ramwipe/ramwipe/wipe"
	"github.com/ramwipe/ramwipe/wipe/kexec"
)

// Status is what `ramwipe status` shows.
type Status = control.Status

// Platform is the machine-facing side of arming; tests fake it.
type Platform interface {
	// RunningKernel is the image of the running kernel (/boot/vmlinuz-$(uname -r)).
	RunningKernel() (string, error)
	// Consoles are the console= parameters of the running kernel.
	Consoles() []string
	LoadKexec(img kexec.Image) error
	UnloadKexec() error
	KexecLoaded() (bool, error)
	LockMemory() error
	LockKexec() error
	// StageShutdown hands img to the shutdown hook (package
	// wipe/shutdown); UnstageShutdown takes it back.
	StageShutdown(img kexec.Image) error
	UnstageShutdown() error
	ReadFile(name string) ([]byte, error)
	// KeyEraser and KeyringSweeper open what the panic path needs now.
	KeyEraser() (wipe.KeyEraser, []string, error)
	KeyringSweeper() (wipe.KeyringSweeper, error)
	Machine() wipe.Machine
	// Mark opens the sink for panic-step marks (/dev/kmsg).
	Mark() (func(step string), error)
}

// daemon holds ramwiped's state; it is built by run and lives until exit.
type daemon struct {
	cfg   Config
	plat  Platform
	logf  func(string, ...any)
	armed bool // --armed: really wipe on a trigger

	mu     sync.Mutex
	status Status
	seq    wipe.Sequence
	once   sync.Once
	// rehearse holds, per trigger, a rehearsal in progress: the next time
	// that trigger fires it is reported on the channel instead of wiping.
	rehearse map[string]chan struct{}
}

// rehearsalWindow is how long `ramwipe test TRIGGER` waits for the trigger.
const rehearsalWindow = 30 * time.Second

// arm prepares everything the panic path needs. It never fails: what goes
// wrong is recorded in the status (degraded), and a panic then erases the
// keys and powers off.
func (d *daemon) arm() {
	d.mu.Lock()
	defer d.mu.Unlock()
	st := Status{Initramfs: d.cfg.Initramfs, Kernel: d.cfg.Kernel, Triggers: []string{"cli"}, ArmedAt: time.Now()}
	var problems []string
	problem := func(format string, args ...any) {
		p := fmt.Sprintf(format, args...)
		problems = append(problems, p)
		d.logf("arming: %s", p)
	}

	if !d.armed {
		st.State = "dry-run"
		st.Why = "started without --armed: a trigger only logs what it would do; start ramwiped --armed to protect this machine"
		d.status = st
		d.logf("dry run: not loading a wipe image, not touching dm-crypt; triggers are only logged")
		return
	}

	if st.Kernel == "" {
		k, err := d.plat.RunningKernel()
		if err != nil {
			problem("find the running kernel's image: %v (set kernel = in ramwipe.conf)", err)
		}
		st.Kernel = k
	}
	contract, err := d.plat.ReadFile(strings.TrimSuffix(d.cfg.Initramfs, ".cpio") + ".cmdline")
	if err != nil {
		problem("read the wipe image's command line: %v (reinstall ramwipe)", err)
	}
	fields := append(d.plat.Consoles(), strings.Fields(string(contract))...)
	fields = append(fields, initramfs.PowerOff.Param())
	fields = append(fields, strings.Fields(d.cfg.CmdlineExtra)...)
	st.Cmdline = strings.Join(fields, " ")

	loaded := false
	img := kexec.Image{Kernel: st.Kernel, Initrd: d.cfg.Initramfs, Cmdline: st.Cmdline}
	if st.Kernel != "" && len(problems) == 0 {
		if err := d.plat.LoadKexec(img); err != nil {
			problem("%v", err)
		} else if ok, err := d.plat.KexecLoaded(); err != nil || !ok {
			problem("kexec_file_load succeeded but /sys/kernel/kexec_loaded is not 1 (%v)", err)
		} else {
			loaded = true
		}
	}
	st.ShutdownWipe = d.stageShutdown(loaded, img)
	if err := d.plat.LockMemory(); err != nil {
		problem("mlockall: %v (the panic path may page from a suspended disk)", err)
	}
	keys, devs, err := d.plat.KeyEraser()
	if err != nil {
		problem("open device-mapper: %v (dm-crypt keys cannot be erased)", err)
	}
	st.CryptDevices = devs
	keyring, err := d.plat.KeyringSweeper()
	if err != nil {
		problem("keyring: %v", err)
	}
	mark, err := d.plat.Mark()
	if err != nil {
		d.logf("arming: /dev/kmsg: %v (panic steps will not be timed)", err)
	}
	if loaded && d.cfg.LockKexec {
		if err := d.plat.LockKexec(); err != nil {
			problem("kernel.kexec_load_disabled=1: %v", err)
		} else {
			st.KexecLocked = true
			if strings.HasPrefix(st.ShutdownWipe, "staged") {
				st.ShutdownWipe = lockedShutdownWipe
			}
		}
	}
	d.seq = wipe.Sequence{
		Keys: keys, Keyring: keyring, Machine: d.plat.Machine(), Armed: loaded,
		KeyDeadline: time.Duration(d.cfg.KeyDeadlineMS) * time.Millisecond, Mark: mark,
	}
	switch {
	case !loaded:
		st.State = "degraded"
		st.Why = "NO WIPE IMAGE LOADED: a panic erases the dm-crypt keys and powers off, but memory is not overwritten. " + strings.Join(problems, "; ")
	case len(problems) > 0:
		st.State = "degraded"
		st.Why = strings.Join(problems, "; ")
	default:
		st.State = "armed"
	}
	if len(problems) > 0 {
		st.LastError = problems[len(problems)-1]
	}
	d.status = st
	d.logf("state %s: kernel %s, image %s, %d crypt devices%s", st.State, st.Kernel, st.Initramfs, len(st.CryptDevices), whySuffix(st.Why))
}

// lockedShutdownWipe is the shutdown wipe with the kexec lock: the hook
// cannot load the image again with the verb's action, so it boots the one
// loaded at boot, which powers off, for poweroff and halt only
// (cmd/ramwipe-shutdown); systemd-shutdown boots it for kexec itself.
const lockedShutdownWipe = "staged, kexec locked: poweroff, halt and kexec wipe memory and power off; reboot does not wipe"

// disarm runs as ramwiped stops (systemctl stop, a package removal or
// upgrade, the shutdown): it unloads the wipe image, so that nothing boots
// it later by accident — `systemctl kexec`, and from systemd 255 on every
// `systemctl reboot`, kexecs whatever image is loaded. The shutdown wipe
// does not need it: the hook loads its own copy. A panic after this still
// erases the keys and powers off (the kexec step fails, the sequence goes on).
func (d *daemon) disarm() {
	d.mu.Lock()
	defer d.mu.Unlock()
	switch {
	case !d.seq.Armed:
		return
	case d.status.KexecLocked:
		d.logf("stopping: kernel.kexec_load_disabled=1 keeps the wipe image loaded until reboot")
		return
	}
	if err := d.plat.UnloadKexec(); err != nil {
		d.logf("stopping: %v; the wipe image stays loaded until reboot", err)
		return
	}
	d.logf("stopping: wipe image unloaded")
}

// stageShutdown stages the image that loaded for the shutdown hook, or
// takes back what was staged, and says which for the status.
func (d *daemon) stageShutdown(loaded bool, img kexec.Image) string {
	why := ""
	switch {
	case !d.cfg.ShutdownWipe:
		why = "off: shutdown_wipe = no"
	case !loaded:
		why = "off: no wipe image loaded"
	default:
		if err := d.plat.StageShutdown(img); err != nil {
			why = fmt.Sprintf("off: staging the wipe image for shutdown: %v", err)
			d.logf("arming: %s", why)
		} else {
			return "staged: poweroff, reboot, halt and kexec wipe memory first"
		}
	}
	if err := d.plat.UnstageShutdown(); err != nil {
		d.logf("arming: %v", err)
	}
	return why
}

func whySuffix(why string) string {
	if why == "" {
		return ""
	}
	return ": " + why
}

// rearm arms again after an upgrade, keeping the triggers running. With
// the kexec lock set the loaded image cannot be replaced: it stays.
func (d *daemon) rearm() {
	d.mu.Lock()
	locked, triggers, old := d.status.KexecLocked, d.status.Triggers, d.seq.Keys
	d.mu.Unlock()
	if locked {
		d.logf("re-arm: kernel.kexec_load_disabled=1 keeps the wipe image loaded at boot; reboot to load the new one")
		return
	}
	d.arm()
	if c, ok := old.(interface{ Close() error }); ok {
		c.Close() // the new sequence has its own
	}
	d.mu.Lock()
	d.status.Triggers = triggers
	d.mu.Unlock()
	_ = notify(statusLine(d.snapshot())) // systemctl status shows the new state
}

// snapshot returns a copy of the status.
func (d *daemon) snapshot() Status {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.status
}

// cryptLister is a KeyEraser that can list the dm-crypt devices now.
type cryptLister interface {
	CryptDevices() ([]string, error)
}

// Status returns the current status as JSON. The crypt devices are listed
// afresh: a volume unlocked after ramwiped armed (a USB disk, a crypttab
// entry with nofail) is erased too, since the panic path lists the devices
// again, and the status says so.
func (d *daemon) Status() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	if l, ok := d.seq.Keys.(cryptLister); ok {
		if devs, err := l.CryptDevices(); err == nil {
			d.status.CryptDevices = devs
		}
	}
	b, _ := json.Marshal(d.status)
	return string(b)
}

// Panic runs the panic sequence once; a second trigger while it runs
// changes nothing. It returns only if even powering off failed, or at once
// in a dry run.
func (d *daemon) Panic(source string) error {
	if !d.armed {
		d.logf("dry run: %s trigger — would erase the dm-crypt keys and wipe memory now", source)
		return nil
	}
	err := errors.New("a panic is already running")
	d.once.Do(func() {
		// No logging before the keys are gone: journald may write to disk.
		err = d.seq.Run(context.Background())
	})
	d.mu.Lock()
	d.status.LastError = fmt.Sprint(err)
	d.mu.Unlock()
	return err
}

// Fire is called by a trigger (hotkey, boot medium). During a rehearsal of
// that trigger it reports instead of wiping.
func (d *daemon) Fire(trigger string) {
	d.mu.Lock()
	ch, rehearsing := d.rehearse[trigger]
	if rehearsing {
		delete(d.rehearse, trigger)
	}
	d.mu.Unlock()
	if rehearsing {
		close(ch)
		return
	}
	_ = d.Panic(trigger)
}

// Test rehearses a trigger: for "cli" it answers at once; for the others it
// waits until the trigger fires (or ctx ends, or the rehearsal window
// passes) and reports it. Nothing is wiped either way.
func (d *daemon) Test(ctx context.Context, trigger string) (string, error) {
	if trigger == "cli" {
		d.logf("test: cli trigger seen — would wipe now (nothing wiped)")
		return "cli trigger seen — would wipe now; nothing was wiped", nil
	}
	d.mu.Lock()
	if !slices.Contains(d.status.Triggers, trigger) {
		d.mu.Unlock()
		return "", fmt.Errorf("trigger %q is not active (active: %s)", trigger, strings.Join(d.status.Triggers, ", "))
	}
	if d.rehearse == nil {
		d.rehearse = map[string]chan struct{}{}
	}
	ch := make(chan struct{})
	d.rehearse[trigger] = ch
	d.mu.Unlock()
	d.logf("test: rehearsing the %s trigger for %v; it will not wipe", trigger, rehearsalWindow)
	t := time.NewTimer(rehearsalWindow)
	defer t.Stop()
	select {
	case <-ch:
		d.logf("test: %s trigger seen — would wipe now (nothing wiped)", trigger)
		return trigger + " trigger seen — would wipe now; nothing was wiped", nil
	case <-t.C:
	case <-ctx.Done():
	}
	d.mu.Lock()
	if d.rehearse[trigger] == ch {
		delete(d.rehearse, trigger)
	}
	d.mu.Unlock()
	return "", fmt.Errorf("no %s trigger within %v; nothing was wiped", trigger, rehearsalWindow)
}

// dropTrigger records that a trigger is not active after all.
func (d *daemon) dropTrigger(name string) {
	d.mu.Lock()
	d.status.Triggers = slices.DeleteFunc(d.status.Triggers, func(t string) bool { return t == name })
	d.mu.Unlock()
}

// addTrigger records an active trigger for the status.
func (d *daemon) addTrigger(name string) {
	d.mu.Lock()
	d.status.Triggers = append(d.status.Triggers, name)
	d.mu.Unlock()
}
