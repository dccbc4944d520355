package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ramwipe/ramwipe/initramfs"
	"github.com/ramwipe/ramwipe/trigger/control"
	"github.com/ramwipe/ramwipe/trigger/suspend"
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
	// The daemon opens each once and keeps it for its whole life.
	KeyEraser() (wipe.KeyEraser, []string, error)
	KeyringSweeper() (wipe.KeyringSweeper, error)
	Machine() wipe.Machine
	// Mark opens the sink for panic-step marks (/dev/kmsg).
	Mark() (func(step string), error)
}

// daemon holds ramwiped's state; it is built by run and lives until exit.
//
// The panic path takes no lock that anything slow holds: arming builds
// an [armedState] off to the side (kexec_file_load, file reads) and
// publishes it in cur; a trigger only loads cur. armMu serialises the
// arming side; mu guards a few small fields and is never held across a
// call.
type daemon struct {
	cfg   Config
	plat  Platform
	logf  func(string, ...any)
	armed bool // --armed: really wipe on a trigger

	cur      atomic.Pointer[armedState]
	panicked atomic.Bool // the first Panic sets it; nothing is re-armed or unloaded after
	// rearming is set while a re-arm is queued or running, so that
	// checks that find the image gone start one re-arm, not many.
	rearming atomic.Bool

	armMu   sync.Mutex // held by arm and disarm; never by a trigger
	res     resources  // guarded by armMu
	stopped bool       // guarded by armMu: disarmed, so never arm again

	mu sync.Mutex
	// triggers are the active triggers, for the status and Test.
	triggers []string
	// rehearse holds, per trigger, a rehearsal in progress: the next time
	// that trigger fires it is reported on the channel instead of wiping.
	rehearse map[string]chan struct{}
	// watches describe each trigger for the status, called at status time.
	watches   map[string]func() control.Watch
	panicErr  string        // why the panic sequence returned, if it did
	refused   func() uint64 // the control socket's refusal count; nil before serve
	rehearsal time.Duration // how long Test waits (default control.RehearsalWindow)

	// guard is the on_suspend policy; nil before serve starts it.
	guard *suspend.Guard
}

// armedState is one arming's result: the panic sequence and the status
// it was armed in. It is never changed once published.
type armedState struct {
	seq    wipe.Sequence
	status Status
}

// resources are what the panic path needs open besides the kexec image:
// opened by the first arm that can open them and kept, so that re-arming
// opens (and leaks) nothing and a panic that loaded an older armedState
// never finds its file descriptors closed under it.
type resources struct {
	keys    wipe.KeyEraser
	keyring wipe.KeyringSweeper
	mark    func(string)
	locked  bool // mlockall done
}

// imageCheckInterval is how often a daemon at rest checks that its wipe
// image is still the one loaded (besides every status request).
const imageCheckInterval = time.Minute

// arm prepares everything the panic path needs and publishes it. It never
// fails: what goes wrong is recorded in the status (degraded), and a
// panic then erases the keys and powers off.
func (d *daemon) arm() {
	d.armMu.Lock()
	defer d.armMu.Unlock()
	if d.panicked.Load() || d.stopped {
		return
	}
	a := d.build(d.cur.Load())
	d.cur.Store(a)
	st := a.status
	d.logf("state %v: kernel %s, image %s, %d crypt devices%s", st.State, st.Kernel, st.Initramfs, len(st.CryptDevices), whySuffix(st.Why))
}

// build does arm's work; armMu is held. prev is what the last arming
// published, nil the first time.
func (d *daemon) build(prev *armedState) *armedState {
	st := Status{Initramfs: d.cfg.Initramfs, Kernel: d.cfg.Kernel, ArmedAt: time.Now()}
	var problems []string
	problem := func(format string, args ...any) {
		p := fmt.Sprintf(format, args...)
		problems = append(problems, p)
		d.logf("arming: %s", p)
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

	// The crypt devices are listed in a dry run too (read-only: no table
	// is asked for), so that a rehearsal shows what a panic would erase.
	if d.res.keys == nil {
		keys, _, err := d.plat.KeyEraser()
		if err != nil {
			problem("open device-mapper: %v (dm-crypt keys cannot be erased)", err)
		}
		d.res.keys = keys
	}
	if l, ok := d.res.keys.(cryptLister); ok {
		if devs, err := l.CryptDevices(); err == nil {
			st.CryptDevices = devs
		} else {
			problem("list dm-crypt devices: %v", err)
		}
	}

	if !d.armed {
		st.State = control.StateDryRun
		st.Why = "started without --armed: a trigger only logs what it would do; start ramwiped --armed to protect this machine"
		d.logf("dry run: not loading a wipe image, not touching dm-crypt; triggers are only logged")
		return &armedState{seq: wipe.Sequence{Keys: d.res.keys}, status: st}
	}

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
	if !loaded && prev != nil && prev.seq.Armed {
		if kept := d.keepLoaded(prev, problems); kept != nil {
			return kept
		}
	}
	st.ShutdownWipe = d.stageShutdown(loaded, img)
	if !d.res.locked {
		if err := d.plat.LockMemory(); err != nil {
			problem("mlockall: %v (the panic path may page from a suspended disk)", err)
		} else {
			d.res.locked = true
		}
	}
	if d.res.keyring == nil {
		keyring, err := d.plat.KeyringSweeper()
		if err != nil {
			problem("keyring: %v", err)
		}
		d.res.keyring = keyring
	}
	if d.res.mark == nil {
		mark, err := d.plat.Mark()
		if err != nil {
			d.logf("arming: /dev/kmsg: %v (panic steps will not be timed)", err)
		}
		d.res.mark = mark
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
	seq := wipe.Sequence{
		Keys: d.res.keys, Keyring: d.res.keyring, Machine: d.plat.Machine(), Armed: loaded,
		KeyDeadline: time.Duration(d.cfg.KeyDeadlineMS) * time.Millisecond, Mark: d.res.mark,
	}
	switch {
	case !loaded:
		st.State = control.StateDegraded
		st.Why = "NO WIPE IMAGE LOADED: a panic erases the dm-crypt keys and powers off, but memory is not overwritten. " + strings.Join(problems, "; ")
	case len(problems) > 0:
		st.State = control.StateDegraded
		st.Why = strings.Join(problems, "; ")
	default:
		st.State = control.StateArmed
	}
	if len(problems) > 0 {
		st.LastError = problems[len(problems)-1]
	}
	return &armedState{seq: seq, status: st}
}

// keepLoaded is what a re-arm that could not load a new image publishes
// when the previous arming had loaded one and the kernel still has an
// image loaded: kexec_file_load leaves the loaded image in place when it
// fails (or is not tried, the files being gone), and the kernel holds its
// own copy, so a panic still wipes with it. The previous sequence stays,
// and so does the shutdown hook's staged copy in /run; the status is
// degraded, and says why, because the next boot will not arm. It returns
// nil if the kernel has no image loaded any more.
func (d *daemon) keepLoaded(prev *armedState, problems []string) *armedState {
	if ok, err := d.plat.KexecLoaded(); err != nil || !ok {
		return nil
	}
	st := prev.status
	st.State = control.StateDegraded
	st.Why = fmt.Sprintf("re-arming failed: %s. The wipe image loaded at %s is still loaded, and a panic wipes memory with it; fix this before the next boot, which cannot arm (reinstall ramwipe, or the kernel package)",
		strings.Join(problems, "; "), prev.status.ArmedAt.Format(time.RFC3339))
	if len(problems) > 0 {
		st.LastError = problems[len(problems)-1]
	}
	return &armedState{seq: prev.seq, status: st}
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
	d.armMu.Lock()
	defer d.armMu.Unlock()
	d.stopped = true // a re-arm still queued must not load the image again
	a := d.cur.Load()
	switch {
	case a == nil, !a.seq.Armed, d.panicked.Load():
		return
	case a.status.KexecLocked:
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

// rearm arms again after an upgrade or after the wipe image was found
// unloaded, keeping the triggers running. Triggers meanwhile use the
// sequence armed before, until the new one is published. With the kexec
// lock set the loaded image cannot be replaced: it stays.
func (d *daemon) rearm() {
	if a := d.cur.Load(); a != nil && a.status.KexecLocked {
		d.logf("re-arm: kernel.kexec_load_disabled=1 keeps the wipe image loaded at boot; reboot to load the new one")
		return
	}
	d.arm()
	_ = notify(statusLine(d.snapshot())) // systemctl status shows the new state
}

// rearmSoon starts one re-arm in the background unless one is queued or
// running already.
func (d *daemon) rearmSoon(why string) {
	if d.panicked.Load() || d.rearming.Swap(true) {
		return
	}
	d.logf("%s; arming again", why)
	go func() {
		defer d.rearming.Store(false)
		d.rearm()
	}()
}

// errImageGone is the Why of a daemon whose wipe image is no longer loaded.
const errImageGone = "WIPE IMAGE NO LONGER LOADED: another program unloaded it (kexec -u, kexec -l, systemctl kexec, a kdump tool?); ramwiped is loading it again — until then a panic erases the dm-crypt keys and powers off, but memory is not overwritten"

// snapshot returns the status as armed, with what has changed since: the
// active triggers (and the hotkey's chord while it runs), the panic's
// error, the refusal count. It checks no
// kernel state; see Status.
func (d *daemon) snapshot() Status {
	var st Status
	if a := d.cur.Load(); a != nil {
		st = a.status
	}
	d.mu.Lock()
	st.Triggers = append([]string{"cli"}, d.triggers...)
	if slices.Contains(d.triggers, "hotkey") {
		st.Hotkey = d.cfg.Hotkey
	}
	if d.panicErr != "" {
		st.LastError = d.panicErr
	}
	refused := d.refused
	var watches []func() control.Watch
	for _, t := range watchOrder {
		if f, ok := d.watches[t]; ok {
			watches = append(watches, f)
		}
	}
	d.mu.Unlock()
	if refused != nil {
		st.Refused = refused()
	}
	for _, f := range watches {
		st.Watching = append(st.Watching, f())
	}
	st.Suspend = d.suspendStatus()
	return st
}

// watchOrder is the order of the triggers in the status.
var watchOrder = []string{"cli", "hotkey", "bootmedium", "usb", suspendTrigger}

// setWatch records how the status describes a trigger: what returns
// what it watches now (it is called on every status request, outside
// any lock of the daemon).
func (d *daemon) setWatch(trigger string, what func() control.Watch) {
	d.mu.Lock()
	if d.watches == nil {
		d.watches = map[string]func() control.Watch{}
	}
	d.watches[trigger] = what
	d.mu.Unlock()
}

// watchOff records that a trigger is off, and why.
func (d *daemon) watchOff(trigger, why string) {
	d.setWatch(trigger, func() control.Watch { return control.Watch{Trigger: trigger, What: why} })
}

// cryptLister is a KeyEraser that can list the dm-crypt devices now.
type cryptLister interface {
	CryptDevices() ([]string, error)
}

// Status returns the current status as JSON, checked against the kernel:
// the crypt devices are listed afresh (a volume unlocked after ramwiped
// armed is erased too, since the panic path lists the devices again), and
// an armed daemon whose wipe image the kernel no longer has loaded says
// so (degraded) and starts arming again. The kernel cannot tell whose image
// is loaded: one that another program loaded in place of ramwiped's passes
// for it (lock_kexec = yes rules that out).
func (d *daemon) Status() string {
	st := d.snapshot()
	if a := d.cur.Load(); a != nil {
		if l, ok := a.seq.Keys.(cryptLister); ok {
			if devs, err := l.CryptDevices(); err == nil {
				st.CryptDevices = devs
			}
		}
		d.checkImage(a, &st)
	}
	b, _ := json.Marshal(st)
	return string(b)
}

// checkImage degrades st if a's wipe image is no longer loaded, and
// starts a re-arm then.
func (d *daemon) checkImage(a *armedState, st *Status) {
	if !a.seq.Armed || d.panicked.Load() {
		return
	}
	ok, err := d.plat.KexecLoaded()
	if err == nil && ok {
		return
	}
	if d.cur.Load() != a {
		return // re-armed meanwhile: the new state speaks for itself
	}
	st.State = control.StateDegraded
	st.Why = errImageGone
	if err != nil {
		st.LastError = err.Error()
	}
	d.rearmSoon("the wipe image is no longer loaded")
}

// watchImage checks every interval that the wipe image is still loaded
// (see checkImage) until ctx ends.
func (d *daemon) watchImage(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if a := d.cur.Load(); a != nil {
				var st Status
				d.checkImage(a, &st)
			}
		}
	}
}

// errDryRun is what Panic returns in a dry run.
var errDryRun = errors.New("dry run: nothing was wiped")

// Panic runs the panic sequence once; a second trigger while it runs
// changes nothing. It takes no lock: it runs the sequence last published
// by arm, even while a re-arm is building the next one. It returns only if
// even powering off failed, or at once in a dry run (errDryRun).
func (d *daemon) Panic(source string) error { return d.panicSent(source, 0) }

// panicSent is Panic for a request stamped with its send time on
// CLOCK_MONOTONIC ([control.Request.Sent]; 0: none): once the keys are
// erased, a mark says how long before that the request was sent — the
// time a flood or a loaded machine cost it on the way.
func (d *daemon) panicSent(source string, sent time.Duration) error {
	if !d.armed {
		d.logf("dry run: %s trigger — would erase the dm-crypt keys and wipe memory now", source)
		return errDryRun
	}
	if d.panicked.Swap(true) {
		return errors.New("a panic is already running")
	}
	// No logging before the keys are gone: journald may write to disk.
	seq := wipe.Sequence{Machine: d.plat.Machine()} // not armed yet: power off
	if a := d.cur.Load(); a != nil {
		seq = a.seq
	}
	if mark := seq.Mark; sent > 0 && mark != nil {
		seq.Mark = func(step string) {
			mark(step)
			if step == wipe.StepKeysDone {
				mark(requestSentMark(control.MonotonicNow() - sent))
			}
		}
	}
	err := seq.Run(context.Background())
	d.mu.Lock()
	d.panicErr = fmt.Sprint(err)
	d.mu.Unlock()
	return err
}

// requestSentMark is the mark that follows keys-wiped on a stamped
// panic request: "request sent N us before keys-wiped".
func requestSentMark(age time.Duration) string {
	return fmt.Sprintf("request sent %d us before %s", age.Microseconds(), wipe.StepKeysDone)
}

// Fire is called by a trigger (hotkey, boot medium, usb). During a rehearsal of
// that trigger it reports instead of wiping.
func (d *daemon) Fire(trigger string) { _, _ = d.fire(trigger, trigger) }

// fire is Fire, with the panic's source named apart from the trigger, and
// says whether a rehearsal took the firing, or else what Panic returned.
func (d *daemon) fire(trigger, source string) (rehearsed bool, err error) {
	d.mu.Lock()
	ch, rehearsing := d.rehearse[trigger]
	if rehearsing {
		delete(d.rehearse, trigger)
	}
	d.mu.Unlock()
	if rehearsing {
		close(ch)
		return true, nil
	}
	return false, d.Panic(source)
}

// Test rehearses a trigger: for "cli" it answers at once; for the others it
// waits until the trigger fires, ctx ends (the client hung up: the
// control server cancels the request's context then) or the rehearsal
// window passes, whichever comes first. Only the rehearsed trigger's next
// firing within that time is swallowed; any other trigger still wipes.
// Nothing is wiped either way.
func (d *daemon) Test(ctx context.Context, trigger string) (string, error) {
	if trigger == "cli" {
		d.logf("test: cli trigger seen — would wipe now (nothing wiped)")
		return "cli trigger seen — would wipe now; nothing was wiped", nil
	}
	window := d.rehearsal
	if window <= 0 {
		window = control.RehearsalWindow
	}
	d.mu.Lock()
	if !slices.Contains(d.triggers, trigger) {
		active := append([]string{"cli"}, d.triggers...)
		d.mu.Unlock()
		return "", fmt.Errorf("trigger %q is not active (active: %s)", trigger, strings.Join(active, ", "))
	}
	if _, busy := d.rehearse[trigger]; busy {
		d.mu.Unlock()
		return "", fmt.Errorf("the %s trigger is being rehearsed already; try again when that rehearsal ends", trigger)
	}
	if d.rehearse == nil {
		d.rehearse = map[string]chan struct{}{}
	}
	ch := make(chan struct{})
	d.rehearse[trigger] = ch
	d.mu.Unlock()
	d.logf("test: rehearsing the %s trigger for up to %v while the client waits; it will not wipe", trigger, window)
	t := time.NewTimer(window)
	defer t.Stop()
	var why string
	select {
	case <-ch:
		d.logf("test: %s trigger seen — would wipe now (nothing wiped)", trigger)
		return trigger + " trigger seen — would wipe now; nothing was wiped", nil
	case <-t.C:
		why = fmt.Sprintf("no %s trigger within %v", trigger, window)
	case <-ctx.Done():
		why = "the client went away"
	}
	d.mu.Lock()
	if d.rehearse[trigger] == ch {
		delete(d.rehearse, trigger)
	}
	d.mu.Unlock()
	d.logf("test: %s rehearsal ended: %s; the trigger wipes again", trigger, why)
	return "", fmt.Errorf("%s; nothing was wiped, and the %s trigger wipes again", why, trigger)
}

// dropTrigger records that a trigger is not active after all.
func (d *daemon) dropTrigger(name string) {
	d.mu.Lock()
	d.triggers = slices.DeleteFunc(d.triggers, func(t string) bool { return t == name })
	d.mu.Unlock()
}

// addTrigger records an active trigger for the status.
func (d *daemon) addTrigger(name string) {
	d.mu.Lock()
	if !slices.Contains(d.triggers, name) {
		d.triggers = append(d.triggers, name)
	}
	d.mu.Unlock()
}
