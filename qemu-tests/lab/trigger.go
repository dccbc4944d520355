package lab

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// USBSticks are the QEMU arguments for the USB scenarios: an xHCI
// controller with two usb-storage sticks, the boot stick (boot, a file
// system image labelled LABBOOT that the guest mounts on /boot) and an
// unrelated one (stick, labelled LABSTICK, on /media/stick).
func USBSticks(boot, stick string) []string {
	return []string{
		"-device", "qemu-xhci,id=xhci",
		"-drive", "if=none,id=bootdisk,format=raw,file=" + boot,
		"-device", "usb-storage,bus=xhci.0,port=1,drive=bootdisk,id=bootstick,removable=on",
		"-drive", "if=none,id=otherdisk,format=raw,file=" + stick,
		"-device", "usb-storage,bus=xhci.0,port=2,drive=otherdisk,id=otherstick,removable=on",
	}
}

// USB is what the USB scenarios showed before the real trigger.
type USB struct {
	// BootMediumWatched: ramwiped said it watches the boot stick.
	BootMediumWatched bool `json:"boot_medium_watched,omitempty"`
	// UnrelatedIgnored: the unrelated stick was unplugged, the guest's
	// kernel removed its disk, and nothing fired; the guest kept running.
	UnrelatedIgnored bool `json:"unrelated_unplug_ignored,omitempty"`
	// KeyboardHotplugged: ramwiped started watching the USB keyboard
	// plugged in after it started.
	KeyboardHotplugged bool `json:"keyboard_hotplugged,omitempty"`
	// ResumeIgnored: the guest was suspended to RAM and woken, and nothing
	// fired; ResumeHeld: ramwiped saw the boot stick go and come back
	// across the resume and held it (see bootmedium.ResumeSettle).
	ResumeIgnored bool `json:"resume_ignored,omitempty"`
	ResumeHeld    bool `json:"resume_removal_held,omitempty"`
	// ResumeNoticed: ramwiped logged the resume before the boot stick was
	// pulled (its hold starts at the resume, not at the next uevent).
	ResumeNoticed bool `json:"resume_noticed,omitempty"`
	// AllowList is what ramwipe usb learn --write added to the guest's
	// ramwipe.conf before ramwiped started (usb_allow lines).
	AllowList []string `json:"allow_list,omitempty"`
	// AllowedReplugIgnored: an allowed stick was unplugged and plugged in
	// again, ramwiped said "allowed", and nothing fired.
	AllowedReplugIgnored bool `json:"allowed_replug_ignored,omitempty"`
	// USBResumeNoticed: the USB-insertion trigger logged the resume (its
	// settle time for re-enumerating devices starts then).
	USBResumeNoticed bool `json:"usb_resume_noticed,omitempty"`
	// InsertSeen is ramwiped's log line for the device that fired.
	InsertSeen string `json:"insert_seen,omitempty"`
}

// Idle is how often ramwiped was scheduled while nothing happened.
type Idle struct {
	Seconds  float64 `json:"seconds"`
	Threads  int     `json:"threads"`
	Switches int     `json:"context_switches"`
	// Control: the same count for a thread of the agent that wakes every
	// 100 ms; it must see those wakeups, or the measurement is blind.
	Control int `json:"control_switches"`
	// CPUTicks is ramwiped's user + system time over the window, in clock
	// ticks (USER_HZ, 100 on Debian); RSSKB and LockedKB its resident and
	// mlocked memory at the end.
	CPUTicks int   `json:"cpu_ticks"`
	RSSKB    int64 `json:"rss_kb"`
	LockedKB int64 `json:"locked_kb"`
	// Locked is what /proc/PID/smaps counts as locked (resident pages in
	// locked mappings), by what holds it; LockedKB (VmLck) counts every
	// locked mapping's whole address space, pages or not.
	Locked *LockedMemory `json:"locked,omitempty"`
	// PerSecond: context switches per second, all threads together.
	PerSecond float64 `json:"per_second"`
}

// LockedMemory is ramwiped's locked memory at rest, in kB, from smaps: the
// agent sums each mapping's Locked (see qemu-tests/agent/smaps.go for how
// it sorts them).
type LockedMemory struct {
	// RSSKB: resident, all mappings (smaps' Rss).
	RSSKB   int64 `json:"rss_kb"`
	TotalKB int64 `json:"total_kb"`
	// BinaryKB: the executable's text, rodata, data and bss.
	BinaryKB int64 `json:"binary_kb"`
	// HeapKB: the Go heap arenas, goroutine and thread stacks included
	// (the Go runtime allocates them there).
	HeapKB int64 `json:"heap_kb"`
	// StacksKB: the main thread's [stack].
	StacksKB int64 `json:"stacks_kb"`
	// OtherKB: every other anonymous mapping, the runtime's metadata.
	OtherKB int64 `json:"other_kb"`
}

// lockedFromIdle reads the LAB IDLE line's smaps fields, or nil without them.
func lockedFromIdle(line string) *LockedMemory {
	kv := map[string]int64{}
	for _, f := range strings.Fields(line) {
		if k, v, ok := strings.Cut(f, "="); ok {
			if n, err := strconv.ParseInt(v, 10, 64); err == nil {
				kv[k] = n
			}
		}
	}
	total, ok := kv["smaps_locked_kb"]
	if !ok {
		return nil
	}
	return &LockedMemory{RSSKB: kv["smaps_rss_kb"], TotalKB: total, BinaryKB: kv["locked_binary_kb"], HeapKB: kv["locked_heap_kb"],
		StacksKB: kv["locked_stacks_kb"], OtherKB: kv["locked_other_kb"]}
}

// maxIdleWakeups is the most context switches per second ramwiped may take
// at rest: a daemon that polls shows at least its poll rate; one blocked in
// reads and epoll shows the Go runtime's rare housekeeping (sysmon backs
// off to one wakeup per 10 ms only while goroutines run; idle it sleeps).
// Most runs see 2–3 switches a minute. Some (3 of 8 on 2026-12-03, with
// binaries that saw 3 in other runs) see 52–67 a minute, about one a
// second, from a source not found yet — not ramwiped's own timers, which
// are the minute's image check and nothing else; the Go runtime's
// housekeeping under mlockall is the suspect. The bound sits above that
// and below any poll a daemon would use (≥ 2/s), until it is found.
const maxIdleWakeups = 2.0

var idleRE = regexp.MustCompile(`^LAB IDLE pid=\d+ seconds=(\S+) threads=(\d+) switches=(\d+) control=(\d+) cpu_ticks=(-?\d+) rss_kb=(-?\d+) locked_kb=(-?\d+)`)

// idle measures ramwiped at rest through the agent.
func (rec *Record) idle(ctx context.Context, vm *VM, seconds int, fail func(string, ...any)) bool {
	if err := vm.Send(fmt.Sprintf("idle %d", seconds)); err != nil {
		fail("%v", err)
		return false
	}
	l, err := vm.WaitLine(ctx, "LAB IDLE")
	if err != nil {
		fail("idle: %v", err)
		return false
	}
	m := idleRE.FindStringSubmatch(l.Text)
	if m == nil {
		fail("idle: %q", l.Text)
		return false
	}
	var id Idle
	id.Seconds, _ = strconv.ParseFloat(m[1], 64)
	id.Threads, _ = strconv.Atoi(m[2])
	id.Switches, _ = strconv.Atoi(m[3])
	id.Control, _ = strconv.Atoi(m[4])
	id.CPUTicks, _ = strconv.Atoi(m[5])
	id.RSSKB, _ = strconv.ParseInt(m[6], 10, 64)
	id.LockedKB, _ = strconv.ParseInt(m[7], 10, 64)
	id.Locked = lockedFromIdle(l.Text)
	id.PerSecond = float64(id.Switches) / id.Seconds
	rec.Idle = &id
	if want := int(id.Seconds * 5); id.Control < want {
		fail("idle control: a thread waking every 100 ms was seen switching %d times in %gs (want ≥ %d): the wakeup count is blind", id.Control, id.Seconds, want)
	}
	if id.PerSecond > maxIdleWakeups {
		fail("ramwiped at rest was scheduled %d times in %gs (%.2f/s, want ≤ %g/s): something polls", id.Switches, id.Seconds, id.PerSecond, maxIdleWakeups)
	}
	return true
}

// fire fires the trigger and returns when the lab fired it, on the host's
// clock. It runs the USB scenarios' preliminaries first.
func (rec *Record) fire(ctx context.Context, vm *VM, trigger string, fail func(string, ...any)) (time.Time, bool) {
	if Faults[trigger] {
		return rec.fault(ctx, vm, trigger, fail)
	}
	switch trigger {
	case "hotkey":
		// The default chord, held together on the emulated PS/2 keyboard.
		at := time.Now()
		if err := PressChord(ctx, vm); err != nil {
			fail("input-send-event: %v", err)
			return at, false
		}
		return at, true
	case "unplug", "resume":
		rec.USB = &USB{BootMediumWatched: strings.Contains(lastLines(vm, math.MaxInt), "boot medium: watching")}
		if !rec.USB.BootMediumWatched {
			fail("ramwiped does not watch the boot stick:\n%s", tail(vm.Lines(), 20))
			return time.Time{}, false
		}
		if trigger == "resume" && !rec.suspendResume(ctx, vm, fail) {
			return time.Time{}, false
		}
		if trigger == "unplug" && !rec.unplugUnrelated(ctx, vm, fail) {
			return time.Time{}, false
		}
		at := time.Now()
		if _, err := vm.QMP.Execute(ctx, "device_del", map[string]string{"id": "bootstick"}); err != nil {
			fail("device_del bootstick: %v", err)
			return at, false
		}
		return at, true
	case "sleep-wipe", "sleep-allow", "sleep-alarm", "sleep-owner":
		return rec.sleep(ctx, vm, trigger, fail)
	case "usbkbd":
		rec.USB = &USB{}
		if _, err := vm.QMP.Execute(ctx, "device_add", map[string]string{"driver": "usb-kbd", "id": "kbd2", "bus": "xhci.0"}); err != nil {
			fail("device_add usb-kbd: %v", err)
			return time.Time{}, false
		}
		wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		defer cancel()
		if _, err := waitFor(wctx, vm, func(s string) bool {
			return strings.Contains(s, "hotkey: watching") && strings.Contains(s, "USB Keyboard")
		}); err != nil {
			fail("ramwiped never watched the hot-plugged USB keyboard: %v\n%s", err, tail(vm.Lines(), 20))
			return time.Time{}, false
		}
		rec.USB.KeyboardHotplugged = true
		// The guest has no PS/2 keyboard driver (i8042.nokbd) and QEMU
		// sends keys to the keyboard activated last: only the USB keyboard
		// can deliver this chord.
		at := time.Now()
		if err := PressChord(ctx, vm); err != nil {
			fail("input-send-event: %v", err)
			return at, false
		}
		return at, true
	case "usbinsert":
		return rec.usbInsert(ctx, vm, fail)
	default:
		at := time.Now()
		if err := vm.Send(trigger); err != nil {
			fail("send %s: %v", trigger, err)
			return at, false
		}
		return at, true
	}
}

// usbInsert checks that the allow-list was learned and ramwiped watches
// USB insertions, re-plugs the unrelated (allowed) stick at the same port
// and suspends and resumes the guest, checking after each that nothing
// fires, then plugs in a USB mouse: the trigger.
func (rec *Record) usbInsert(ctx context.Context, vm *VM, fail func(string, ...any)) (time.Time, bool) {
	rec.USB = &USB{}
	for _, l := range vm.Lines() {
		if rest, ok := strings.CutPrefix(l.Text, "LAB CONF| "); ok && strings.HasPrefix(rest, "usb_allow") {
			rec.USB.AllowList = append(rec.USB.AllowList, rest)
		}
	}
	log := lastLines(vm, math.MaxInt)
	if len(rec.USB.AllowList) == 0 || !strings.Contains(log, "usb: a USB device plugged in that is not on the allow-list") {
		fail("ramwiped does not watch USB insertions with a learned allow-list:\n%s", tail(vm.Lines(), 30))
		return time.Time{}, false
	}
	if strings.Contains(log, "not allowed (re-plugging one wipes)") {
		fail("the learned allow-list leaves attached devices out:\n%s", tail(vm.Lines(), 30))
		return time.Time{}, false
	}
	img := ""
	for _, a := range rec.extra {
		if strings.Contains(a, "id=otherdisk,") {
			_, img, _ = strings.Cut(a, "file=")
		}
	}
	if img == "" {
		fail("no image of the unrelated stick among the QEMU arguments %q", rec.extra)
		return time.Time{}, false
	}
	if !rec.unplugUnrelated(ctx, vm, fail) {
		return time.Time{}, false
	}
	// The stick again at its port, on its drive if QEMU kept it; QEMU
	// deletes a -drive's block backend with its device, and then the
	// image is added again as a new node.
	stick := map[string]any{"driver": "usb-storage", "bus": "xhci.0", "port": "2", "drive": "otherdisk", "id": "otherstick2", "removable": true}
	if _, err := vm.QMP.Execute(ctx, "device_add", stick); err != nil {
		if _, err := vm.QMP.Execute(ctx, "blockdev-add", map[string]any{
			"driver": "raw", "node-name": "otherdisk2", "file": map[string]any{"driver": "file", "filename": img},
		}); err != nil {
			fail("blockdev-add of the unrelated stick's image: %v", err)
			return time.Time{}, false
		}
		stick["drive"] = "otherdisk2"
		if _, err := vm.QMP.Execute(ctx, "device_add", stick); err != nil {
			fail("device_add of the unrelated stick again: %v", err)
			return time.Time{}, false
		}
	}
	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	l, err := waitFor(wctx, vm, func(s string) bool { return strings.Contains(s, "usb: ") && strings.Contains(s, "plugged in: allowed") })
	if err != nil {
		fail("ramwiped never judged the re-plugged stick: %v\n%s", err, tail(vm.Lines(), 20))
		return time.Time{}, false
	}
	if !rec.quiet(vm, "re-plugging an allowed USB stick ("+strings.TrimSpace(l.Text)+")", 3*time.Second, fail) {
		return time.Time{}, false
	}
	rec.USB.AllowedReplugIgnored = true
	// A suspend and resume: the sticks may re-enumerate; nothing fires.
	if !rec.suspendResume(ctx, vm, fail) {
		return time.Time{}, false
	}
	rec.USB.USBResumeNoticed = strings.Contains(lastLines(vm, math.MaxInt), "usb: the machine resumed")

	at := time.Now()
	if _, err := vm.QMP.Execute(ctx, "device_add", map[string]string{"driver": "usb-mouse", "id": "mouse", "bus": "xhci.0"}); err != nil {
		fail("device_add usb-mouse: %v", err)
		return at, false
	}
	return at, true
}

// unplugUnrelated pulls the unrelated stick and checks that nothing fires.
func (rec *Record) unplugUnrelated(ctx context.Context, vm *VM, fail func(string, ...any)) bool {
	disk := usbDisk(vm, "stick")
	if disk == "" {
		fail("the guest did not say which disk the unrelated stick is")
		return false
	}
	if _, err := vm.QMP.Execute(ctx, "device_del", map[string]string{"id": "otherstick"}); err != nil {
		fail("device_del otherstick: %v", err)
		return false
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := waitEvent(wctx, vm, "DEVICE_DELETED", "otherstick"); err != nil {
		fail("unplug of the unrelated stick: %v", err)
		return false
	}
	// Until the guest's kernel has removed the disk, ramwiped may not have
	// had the uevents yet.
	for {
		if err := vm.Send("gone " + disk); err != nil {
			fail("%v", err)
			return false
		}
		l, err := vm.WaitLine(wctx, "LAB GONE")
		if err != nil {
			fail("unplug of the unrelated stick: the guest kept /dev/%s: %v", disk, err)
			return false
		}
		if strings.HasSuffix(l.Text, " yes") {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if !rec.quiet(vm, "unplugging an unrelated USB stick", 3*time.Second, fail) {
		return false
	}
	rec.USB.UnrelatedIgnored = true
	return true
}

// suspendResume suspends the guest to RAM, wakes it after a few seconds
// and checks that nothing fires.
func (rec *Record) suspendResume(ctx context.Context, vm *VM, fail func(string, ...any)) bool {
	if err := vm.Send("suspend"); err != nil {
		fail("%v", err)
		return false
	}
	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := waitEvent(wctx, vm, "SUSPEND", ""); err != nil {
		fail("suspend: %v\n%s", err, tail(vm.Lines(), 10))
		return false
	}
	time.Sleep(3 * time.Second)
	if _, err := vm.QMP.Execute(ctx, "system_wakeup", nil); err != nil {
		fail("system_wakeup: %v", err)
		return false
	}
	l, err := vm.WaitLine(wctx, "LAB RESUMED")
	if err != nil || l.Text != "LAB RESUMED <nil>" {
		fail("resume: %v %q", err, l.Text)
		return false
	}
	// Past ramwiped's settle time after a resume, with a margin.
	if !rec.quiet(vm, "a suspend and resume", 10*time.Second, fail) {
		return false
	}
	rec.USB.ResumeIgnored = true
	rec.USB.ResumeHeld = strings.Contains(lastLines(vm, math.MaxInt), "just resumed: checking again")
	rec.USB.ResumeNoticed = strings.Contains(lastLines(vm, math.MaxInt), "boot medium: the machine resumed")
	return true
}

// powerDownRE is the wipe kernel's last line before it powers off.
var powerDownRE = regexp.MustCompile(`\] reboot: Power down$`)

// waitAfterResume waits for the guest to power off after a wipe that
// followed an S3 suspend and resume. In this lab QEMU 7.2 (q35, SeaBIOS)
// does not act on the kexec'd wipe kernel's ACPI power-off once the guest
// has been through S3: the kernel prints "reboot: Power down" and QEMU
// keeps running. The wipe is over by then (the line comes after the fill
// and the held-map), so the lab stops QEMU itself 10 s after that line and
// judges the dump; the record says so. Without that line it is a failure.
func (rec *Record) waitAfterResume(ctx context.Context, vm *VM) error {
	for {
		for _, l := range tailLines(vm.Lines(), 5) {
			if powerDownRE.MatchString(l.Text) && time.Since(l.At) > 10*time.Second {
				rec.PowerOffIgnored = "after S3 resume QEMU ignored the wipe kernel's ACPI power-off; the lab stopped it 10 s after \"reboot: Power down\""
				vm.Kill()
				<-vm.Exited()
				return nil
			}
		}
		select {
		case <-vm.Exited():
			return vm.exitErr
		case <-ctx.Done():
			vm.Kill()
			<-vm.Exited()
			return fmt.Errorf("guest still running: %w", ctx.Err())
		case <-time.After(time.Second):
		}
	}
}

// quiet waits d and checks that the guest is up and no panic started.
func (rec *Record) quiet(vm *VM, after string, d time.Duration, fail func(string, ...any)) bool {
	select {
	case <-vm.Exited():
		fail("the guest went down after %s:\n%s", after, tail(vm.Lines(), 20))
		return false
	case <-time.After(d):
	}
	for _, l := range vm.Lines() {
		if markRE.MatchString(l.Text) {
			fail("%s started a panic: %q", after, l.Text)
			return false
		}
	}
	return true
}

// usbDisk is the guest's disk name for one of the sticks ("boot",
// "stick"), from the agent's "LAB USB boot=sdX stick=sdY" line.
func usbDisk(vm *VM, which string) string {
	for _, l := range vm.Lines() {
		if rest, ok := strings.CutPrefix(l.Text, "LAB USB "); ok {
			for _, f := range strings.Fields(rest) {
				if v, ok := strings.CutPrefix(f, which+"="); ok {
					return v
				}
			}
		}
	}
	return ""
}

// waitEvent waits for a QMP event about the device with the given id (any
// device if "").
func waitEvent(ctx context.Context, vm *VM, name, device string) error {
	for {
		select {
		case ev := <-vm.QMP.Events:
			var d struct {
				Device string `json:"device"`
			}
			_ = json.Unmarshal(ev.Data, &d)
			if ev.Name == name && (device == "" || d.Device == device) {
				return nil
			}
		case <-vm.Exited():
			return fmt.Errorf("waiting for %s of %s: %w", name, device, ErrExited)
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s of %s: %w", name, device, ctx.Err())
		}
	}
}

// waitFor waits for a console line for which match is true.
func waitFor(ctx context.Context, vm *VM, match func(string) bool) (Line, error) {
	for {
		l, err := vm.WaitLine(ctx, "")
		if err != nil || match(l.Text) {
			return l, err
		}
	}
}
