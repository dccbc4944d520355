package lab

import (
	"bytes"
	"cmp"
	"compress/zlib"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/ramwipe/ramwipe/qemu-tests/canary"
)

// Expect is what a scenario must show to pass.
type Expect int

// What scenarios expect of the post dump.
const (
	// ExpectWiped: no canary cell and no old-system page may survive.
	ExpectWiped Expect = iota
	// ExpectMeasured: the residue is measured and reported, not judged.
	ExpectMeasured
	// ExpectKept: the negative control; ≥ 90 % of canaries must survive.
	ExpectKept
	// ExpectPowerOff: only that the guest powers off by itself.
	ExpectPowerOff
	// ExpectKeysErased: no wipe (the daemon is degraded), but the key
	// erase must have left no trace of the volume key: not dm-crypt's key
	// schedules, not the copy cryptsetup linked into the kernel keyring.
	ExpectKeysErased
)

// Scenario is one lab run.
type Scenario struct {
	Name    string
	MemMiB  int
	SMP     int
	Kernel  string // lab kernel image
	Initrd  string // the guest's initramfs (agent + wipe image)
	Cmdline string // the wipe image's command line, for the report
	Expect  Expect
	// Timeout bounds the whole run.
	Timeout time.Duration
	// Console, if set, receives the guest's console output.
	Console io.Writer
	// KeepRAM, if set, is where the post dump is kept (else it is deleted).
	KeepRAM string
	// Key, if set, is the volume key of the LUKS2 volume the guest opens
	// (lab.crypt=1): the dumps are searched for it.
	Key []byte
	// Keyring, if set, is what the guest links into its keyring besides
	// (with Key): the dumps are searched for its payloads.
	Keyring *Keyring
	// Daemon makes the guest arm with ramwiped (lab.daemon=1); DaemonState
	// is the state it must report ("armed", "degraded").
	Daemon      bool
	DaemonState string
	// Trigger fires the wipe: "kexec" (the agent kexecs itself), "panic"
	// (ramwipe panic on the guest console), "hotkey" (QMP input-send-event of the
	// default chord), "drill" (the safety drills, then ramwipe panic as a
	// member of the group), "unplug" (QMP device_del of an unrelated USB
	// stick, which must not trigger, then of the boot stick), "resume"
	// (suspend to RAM and wake-up, which must not trigger, then the boot
	// stick is pulled), "usbkbd"
	// (a USB keyboard hot-plugged with device_add, then the chord on it),
	// or "usbinsert" (the guest learns its USB devices into the allow-list
	// before ramwiped starts; an allowed stick is re-plugged and the guest
	// suspended and resumed, neither of which may trigger, then a USB
	// mouse is plugged in).
	Trigger string
	// USB makes the guest mount its USB sticks (lab.usb=1): the QEMU
	// devices come with Extra (see [USBSticks]).
	USB   bool
	Extra []string
	// IdleSeconds, if set, measures ramwiped's wakeups over that long
	// before the pre dump.
	IdleSeconds int
	// Plant is the percentage of RAM planted as anonymous canaries
	// (default 60).
	Plant int
}

// Timings of a run, in seconds.
type Timings struct {
	BootToReady float64 `json:"boot_to_ready_s"`
	PreScan     float64 `json:"pre_scan_s"`
	// KexecToWipeInit: from the "kexec" command to the wipe /init's first line.
	KexecToWipeInit float64 `json:"kexec_to_wipe_init_s"`
	// Fill: the /init's fill as it reported it.
	Fill float64 `json:"fill_s"`
	// KexecToOff: from the "kexec" command until QEMU exited.
	KexecToOff float64 `json:"kexec_to_off_s"`
	PostScan   float64 `json:"post_scan_s"`
	Total      float64 `json:"total_s"`
}

// Record is the outcome of a scenario.
type Record struct {
	Result
	MemMiB     int    `json:"mem_mib"`
	SMP        int    `json:"smp"`
	Cmdline    string `json:"wipe_cmdline"`
	Expect     string `json:"expect"`
	Nonce      uint32 `json:"nonce"`
	PoweredOff bool   `json:"powered_off"`
	// PowerOffIgnored says why the power-off was not required (see
	// Record.waitAfterResume).
	PowerOffIgnored string         `json:"power_off_ignored,omitempty"`
	Shutdown        string         `json:"shutdown_reason,omitempty"`
	FillMiB         uint64         `json:"fill_mib"`
	Timings         Timings        `json:"timings"`
	Daemon          string         `json:"daemon_state,omitempty"`
	Drill           *Drill         `json:"drill,omitempty"`
	USB             *USB           `json:"usb,omitempty"`
	Suspend         *SuspendRun    `json:"suspend,omitempty"`
	Idle            *Idle          `json:"idle,omitempty"`
	Panic           *Panic         `json:"panic,omitempty"`
	Fault           *Fault         `json:"fault,omitempty"`
	Keyring         *KeyringResult `json:"keyring,omitempty"`

	expectDaemon string
	extra        []string // the scenario's QEMU arguments (the sticks' images)
}

var (
	readyRE   = regexp.MustCompile(`^LAB READY anon=(\d+) file=(\d+) pipe=(\d+) sock=(\d+) disk=(\d+)`)
	iomemRE   = regexp.MustCompile(`^LAB IOMEM ([0-9a-f]+)-([0-9a-f]+) (.*)$`)
	kimageRE  = regexp.MustCompile(`ramwipe: kernel image 0x([0-9a-f]+)-0x([0-9a-f]+)`)
	daemonRE  = regexp.MustCompile(`^LAB DAEMON (\S+)`)
	markRE    = regexp.MustCompile(`\[\s*(\d+\.\d+)\] ramwipe: panic step (\S+)`) // not anchored: console lines interleave
	summaryRE = regexp.MustCompile(`ramwipe: overwrote (\d+) MiB of \d+ MiB free in ([0-9.a-zµ]+) `)
)

// Run runs the scenario and judges it. Errors of the lab itself (QEMU would
// not start, the guest never got ready) are failures of the record too.
func (sc Scenario) Run(ctx context.Context, dir string) (rec Record) {
	rec = Record{expectDaemon: sc.DaemonState, Result: Result{Name: sc.Name}, MemMiB: sc.MemMiB, SMP: sc.SMP, Cmdline: sc.Cmdline, Expect: sc.Expect.String(), Nonce: rand.Uint32() | 1}
	start := time.Now()
	defer func() { rec.Timings.Total = time.Since(start).Seconds() }()
	fail := func(format string, args ...any) {
		rec.Failures = append(rec.Failures, fmt.Sprintf(format, args...))
	}
	ctx, cancel := context.WithTimeout(ctx, sc.Timeout)
	defer cancel()

	vm, err := StartVM(ctx, VMConfig{
		Kernel: sc.Kernel, Initrd: sc.Initrd, MemMiB: sc.MemMiB, SMP: sc.SMP, Dir: dir, Console: sc.Console, Extra: sc.Extra,
		// loglevel=5: ramwiped's panic-step marks (KERN_WARNING) reach the console.
		Append: fmt.Sprintf("console=ttyS0 loglevel=5 panic=-1 nokaslr lab.nonce=%d lab.plant=%d lab.procs=4 lab.crypt=%d lab.daemon=%d lab.usb=%d%s%s", rec.Nonce, cmp.Or(sc.Plant, 60), b2i(sc.Key != nil), b2i(sc.Daemon), b2i(sc.USB), map[bool]string{true: " i8042.nokbd"}[sc.Trigger == "usbkbd"], map[bool]string{true: " lab.usblearn=1"}[sc.Trigger == "usbinsert"]),
	})
	if err != nil {
		fail("start guest: %v", err)
		return rec
	}
	defer vm.Close(sc.KeepRAM)

	ready, err := vm.WaitLine(ctx, "LAB READY")
	if err != nil {
		fail("guest never planted its canaries: %v; last console lines:\n%s", err, tail(vm.Lines(), 15))
		return rec
	}
	rec.Timings.BootToReady = ready.At.Sub(vm.Started).Seconds()
	planted, err := ParseReady(ready.Text)
	if err != nil {
		fail("%v", err)
		return rec
	}
	if _, err := vm.WaitLine(ctx, "LAB WAITING"); err != nil {
		fail("%v", err)
		return rec
	}
	layout := GuestLayout(vm.Lines(), sc.MemMiB)
	scanner := NewScanner(rec.Nonce, planted, layout)
	if sc.IdleSeconds > 0 {
		if !rec.idle(ctx, vm, sc.IdleSeconds, fail) {
			return rec
		}
	}

	// The pre-trigger dump: the positive control.
	t := time.Now()
	if sc.Keyring != nil {
		rec.Keyring = &KeyringResult{}
	}
	pre, keyPre, err := vm.DumpScan(ctx, sc.withKeyring(scanner.Pre, rec.Keyring, true), sc.Key)
	if err != nil {
		fail("pre dump: %v", err)
		return rec
	}
	rec.Pre, rec.KeyPre = &pre, keyPre
	rec.Timings.PreScan = time.Since(t).Seconds()

	// The trigger.
	trigger := sc.Trigger
	if trigger == "" {
		trigger = "kexec"
	}
	if trigger == "drill" {
		if !rec.drill(ctx, vm, fail) {
			return rec
		}
		trigger = "panic-as 1001 1001 990" // a member of the ramwipe group
	}
	rec.extra = sc.Extra
	kexecAt, ok := rec.fire(ctx, vm, trigger, fail)
	if !ok {
		return rec
	}
	if rec.Fault != nil {
		// A lost trigger ends the run at once, with the dump of what it left.
		rec.waitSequence(ctx, vm, kexecAt, time.Minute, fail)
	}
	shutdown := make(chan string, 1)
	go func() {
		for ev := range vm.QMP.Events {
			if ev.Name == "SHUTDOWN" {
				var d struct {
					Reason string `json:"reason"`
				}
				_ = json.Unmarshal(ev.Data, &d)
				shutdown <- d.Reason
				return
			}
		}
	}()
	if trigger == "resume" || trigger == "usbinsert" || trigger == "sleep-alarm" || trigger == "sleep-allow" || trigger == "sleep-owner" {
		err = rec.waitAfterResume(ctx, vm)
	} else {
		err = vm.Wait(ctx)
	}
	if err != nil {
		fail("guest did not power off by itself: %v; last console lines:\n%s", err, tail(vm.Lines(), 15))
	} else if rec.PowerOffIgnored == "" {
		rec.PoweredOff = true
	}
	rec.Timings.KexecToOff = vm.ExitAt.Sub(kexecAt).Seconds()
	select {
	case rec.Shutdown = <-shutdown:
	case <-time.After(time.Second):
	}
	if rec.PoweredOff && rec.Shutdown != "guest-shutdown" {
		fail("guest stopped with %q, not a power-off", rec.Shutdown)
		rec.PoweredOff = false
	}
	rec.checkSleep(vm, trigger, fail)
	rec.Panic = parsePanic(vm.Lines())
	if rec.Fault != nil {
		rec.Fault.analyse(vm.Lines())
	}
	if rec.Panic != nil {
		for _, l := range vm.Lines() {
			if m := markRE.FindStringSubmatch(l.Text); m != nil && m[2] == "keys-wiped" && l.At.After(kexecAt) {
				rec.Panic.HostTriggerToKeysMS = float64(l.At.Sub(kexecAt).Microseconds()) / 1000
				break
			}
		}
	}
	for _, l := range vm.Lines() {
		if rec.USB != nil && trigger == "usbinsert" && rec.USB.InsertSeen == "" && l.At.After(kexecAt) &&
			strings.Contains(l.Text, "usb: USB device") && strings.Contains(l.Text, "not on the allow-list") {
			rec.USB.InsertSeen = strings.TrimSpace(l.Text) // logged after the trigger fired: may be missing
		}
		if m := daemonRE.FindStringSubmatch(l.Text); m != nil {
			rec.Daemon = m[1]
		}
		if l.At.Before(kexecAt) {
			continue
		}
		if rec.Timings.KexecToWipeInit == 0 && strings.HasPrefix(l.Text, "ramwipe:") {
			rec.Timings.KexecToWipeInit = l.At.Sub(kexecAt).Seconds()
		}
		if err := layout.FromWipeLine(l.Text); err != nil {
			fail("%v", err)
		}
		if m := summaryRE.FindStringSubmatch(l.Text); m != nil {
			rec.Summary = strings.TrimSpace(l.Text[strings.Index(l.Text, "ramwipe:"):])
			rec.FillMiB, _ = strconv.ParseUint(m[1], 10, 64)
			if d, err := time.ParseDuration(m[2]); err == nil {
				rec.Timings.Fill = d.Seconds()
			}
		}
	}
	scanner.Layout = layout

	// The post dump.
	t = time.Now()
	post, keyPost, err := vm.DumpScan(ctx, sc.withKeyring(scanner.Post, rec.Keyring, false), sc.Key)
	if err != nil {
		fail("post dump: %v", err)
		return rec
	}
	rec.Post, rec.KeyPost = &post, keyPost
	rec.Timings.PostScan = time.Since(t).Seconds()
	rec.judge(fail)
	return rec
}

// withKeyring adds the keyring scan to a dump's scan.
func (sc Scenario) withKeyring(scan func([]byte) Scan, r *KeyringResult, pre bool) func([]byte) Scan {
	if sc.Keyring == nil {
		return scan
	}
	return func(ram []byte) Scan {
		if pre {
			r.Pre = sc.Keyring.scan(ram)
		} else {
			r.Post = sc.Keyring.scan(ram)
		}
		return scan(ram)
	}
}

// judge checks the controls and the scenario's expectation.
func (rec *Record) judge(fail func(string, ...any)) {
	if rec.Keyring != nil {
		rec.Keyring.judge(rec.Expect, fail)
	}
	rec.JudgeControl(rec.KeyPre != nil)
	switch rec.Expect {
	case ExpectWiped.String():
		rec.JudgeWiped()
	case ExpectKept.String():
		if rec.Post.FoundFraction < 0.9 {
			fail("negative control: only %.1f %% of canaries survived a run without wipe (want ≥ 90 %%): the lab cannot see a failed wipe", 100*rec.Post.FoundFraction)
		}
		if k := rec.KeyPost; k != nil && k.Schedules == 0 {
			fail("negative control: aeskeyfind found no key schedule after a run without wipe: the lab cannot see a surviving key")
		}
	case ExpectKeysErased.String():
		if k := rec.KeyPost; k == nil || k.Total() > 0 {
			fail("keys only: traces of the volume key survived the key erase (%+v)", k)
		}
	}
	if rec.expectDaemon != "" && rec.Daemon != rec.expectDaemon {
		fail("ramwiped reported state %q before the trigger, want %q", rec.Daemon, rec.expectDaemon)
	}
	if !rec.PoweredOff && rec.PowerOffIgnored == "" {
		fail("the guest did not power off by itself")
	}
	if rec.Fault != nil {
		rec.Fault.judge(rec.Panic, fail)
	}
	rec.Judge()
}

// Panic is the guest-clock timeline of a panic, from ramwiped's kmsg marks.
type Panic struct {
	// TriggerToKeysMS: from the trigger received to every dm-crypt key erased.
	TriggerToKeysMS float64 `json:"trigger_to_keys_wiped_ms"`
	// TriggerToKexecMS: from the trigger received to reboot(KEXEC) issued
	// (or to the power-off, in a degraded run).
	TriggerToKexecMS float64 `json:"trigger_to_kexec_ms"`
	// HostTriggerToKeysMS: on the host's clock, from the lab firing the
	// trigger (the QMP command returned, or the console command was
	// written) to the console line saying every key is erased; it includes
	// the emulated devices, the guest's drivers and the serial console.
	HostTriggerToKeysMS float64  `json:"host_trigger_to_keys_wiped_ms"`
	Steps               []string `json:"steps"`
}

func parsePanic(lines []Line) *Panic {
	at := map[string]float64{}
	var p Panic
	for _, l := range lines {
		if m := markRE.FindStringSubmatch(l.Text); m != nil {
			t, _ := strconv.ParseFloat(m[1], 64)
			at[m[2]] = t
			p.Steps = append(p.Steps, m[2])
		}
	}
	t0, ok := at["trigger"]
	if !ok {
		return nil
	}
	if t, ok := at["keys-wiped"]; ok {
		p.TriggerToKeysMS = 1000 * (t - t0)
	}
	if t, ok := at["kexec"]; ok {
		p.TriggerToKexecMS = 1000 * (t - t0)
	} else if t, ok := at["poweroff"]; ok {
		p.TriggerToKexecMS = 1000 * (t - t0)
	}
	return &p
}

func (e Expect) String() string {
	switch e {
	case ExpectWiped:
		return "wiped"
	case ExpectMeasured:
		return "measured"
	case ExpectKept:
		return "kept (negative control)"
	case ExpectPowerOff:
		return "powers off"
	case ExpectKeysErased:
		return "keys erased, no wipe"
	}
	return "?"
}

// ParseReady reads the agent's "LAB READY anon=N file=N …" line.
func ParseReady(s string) (map[canary.Kind]uint64, error) {
	m := readyRE.FindStringSubmatch(s)
	if m == nil {
		return nil, fmt.Errorf("bad READY line %q", s)
	}
	out := map[canary.Kind]uint64{}
	for i, k := range canary.Kinds {
		out[k], _ = strconv.ParseUint(m[i+1], 10, 64)
	}
	return out, nil
}

// GuestLayout is the physical layout of a q35 guest of memMiB whose agent
// printed its System RAM ranges (LAB IOMEM lines).
func GuestLayout(lines []Line, memMiB int) Layout {
	return Layout{LowMem: Q35LowMem(uint64(memMiB) << 20), RAM: parseIomem(lines)}
}

// parseIomem collects the System RAM ranges the agent printed.
func parseIomem(lines []Line) []Range {
	var out []Range
	for _, l := range lines {
		m := iomemRE.FindStringSubmatch(l.Text)
		if m == nil || m[3] != "System RAM" {
			continue
		}
		lo, _ := strconv.ParseUint(m[1], 16, 64)
		hi, _ := strconv.ParseUint(m[2], 16, 64)
		out = append(out, Range{lo, hi + 1})
	}
	return out
}

func tail(lines []Line, n int) string {
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	var b strings.Builder
	for _, l := range lines {
		b.WriteString("    | " + l.Text + "\n")
	}
	return b.String()
}

// FromWipeLine takes what the wipe /init tells of memory from one of its
// console lines: its kernel's image ("ramwipe: kernel image …") and its
// held-map ("ramwipe: held-map …", with ramwipe.heldmap). Other lines are
// left alone.
func (l *Layout) FromWipeLine(text string) error {
	if m := kimageRE.FindStringSubmatch(text); m != nil {
		lo, _ := strconv.ParseUint(m[1], 16, 64)
		hi, _ := strconv.ParseUint(m[2], 16, 64)
		l.Kernel = Range{lo &^ (pageSize - 1), (hi + pageSize) &^ (pageSize - 1)}
	}
	if rest, ok := strings.CutPrefix(text, "ramwipe: held-map "); ok {
		held, err := parseHeldMap(rest)
		if err != nil {
			return err
		}
		l.Held = held
	}
	return nil
}

// parseHeldMap decodes "pages=N BASE64" as the wipe /init prints it.
func parseHeldMap(s string) ([]byte, error) {
	_, b64, ok := strings.Cut(s, " ")
	if !ok {
		return nil, fmt.Errorf("held-map %q: no bitmap", s)
	}
	z, err := base64.StdEncoding.DecodeString(strings.TrimSpace(b64))
	if err != nil {
		return nil, fmt.Errorf("held-map: %w", err)
	}
	r, err := zlib.NewReader(bytes.NewReader(z))
	if err != nil {
		return nil, fmt.Errorf("held-map: %w", err)
	}
	return io.ReadAll(io.LimitReader(r, 64<<20))
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// PressChord presses the default panic chord on the guest's keyboard (the
// one QEMU activated last): all three keys down in one QMP command, so that
// the lab's host-clock latency starts when the chord is complete (send-key
// would wait its hold time after every key), and up again 200 ms later.
func PressChord(ctx context.Context, vm *VM) error {
	if _, err := vm.QMP.Execute(ctx, "input-send-event", chordEvents(true)); err != nil {
		return err
	}
	time.Sleep(200 * time.Millisecond)
	_, err := vm.QMP.Execute(ctx, "input-send-event", chordEvents(false))
	if err != nil {
		// A panic that powers off at once (no wipe image loaded) may end
		// QEMU before the keys are released: the press got through.
		select {
		case <-vm.Exited():
			return nil
		case <-time.After(5 * time.Second):
		}
	}
	return err
}

// chordEvents are the arguments of input-send-event that press (down) or
// release the default chord's three keys.
func chordEvents(down bool) map[string]any {
	var evs []map[string]any
	for _, k := range []string{"ctrl", "ctrl_r", "backspace"} {
		evs = append(evs, map[string]any{"type": "key", "data": map[string]any{"down": down, "key": map[string]string{"type": "qcode", "data": k}}})
	}
	return map[string]any{"events": evs}
}

// Drill is what the safety drills before a real trigger showed.
type Drill struct {
	// RehearsalSeen: `ramwipe test hotkey` and the chord reported "would
	// wipe now"; the guest kept running.
	RehearsalSeen bool `json:"rehearsal_seen"`
	// StrangerRefused: `ramwipe panic` as uid 1000, not in the group, was
	// refused; ramwiped logged it; the guest kept running.
	StrangerRefused bool `json:"stranger_refused"`
	RefusalLogged   bool `json:"refusal_logged"`
}

// drill runs the safety drills; the guest must be alive after each.
func (rec *Record) drill(ctx context.Context, vm *VM, fail func(string, ...any)) bool {
	rec.Drill = &Drill{}
	alive := func(what string) bool {
		select {
		case <-vm.Exited():
			fail("the guest went down after %s", what)
			return false
		case <-time.After(2 * time.Second):
			return true
		}
	}
	if err := vm.Send("rehearse"); err != nil {
		fail("%v", err)
		return false
	}
	if _, err := vm.WaitLine(ctx, "ramwiped| "); err != nil {
		fail("%v", err)
		return false
	}
	wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	for !strings.Contains(lastLines(vm, 40), "rehearsing the hotkey trigger") {
		select {
		case <-wctx.Done():
			fail("ramwiped never started the rehearsal")
			return false
		case <-time.After(100 * time.Millisecond):
		}
	}
	if err := PressChord(ctx, vm); err != nil {
		fail("input-send-event: %v", err)
		return false
	}
	l, err := vm.WaitLine(wctx, "LAB REHEARSAL")
	if err != nil {
		fail("rehearsal: %v", err)
		return false
	}
	rec.Drill.RehearsalSeen = strings.Contains(l.Text, "would wipe now; nothing was wiped")
	if !rec.Drill.RehearsalSeen {
		fail("rehearsal: %q", l.Text)
	}
	if !alive("the rehearsal") {
		return false
	}
	if err := vm.Send("panic-as 1000 1000"); err != nil {
		fail("%v", err)
		return false
	}
	l, err = vm.WaitLine(wctx, "LAB PANIC-AS")
	if err != nil {
		fail("stranger: %v", err)
		return false
	}
	rec.Drill.StrangerRefused = strings.Contains(l.Text, "exit=2") && strings.Contains(l.Text, "not authorized")
	if !rec.Drill.StrangerRefused {
		fail("uid 1000 was not refused: %q", l.Text)
	}
	if !alive("a refused panic") {
		return false
	}
	rec.Drill.RefusalLogged = strings.Contains(lastLines(vm, 40), "uid=1000")
	if !rec.Drill.RefusalLogged {
		fail("ramwiped did not log the refused uid 1000")
	}
	return true
}

func lastLines(vm *VM, n int) string {
	var b strings.Builder
	for _, l := range tailLines(vm.Lines(), n) {
		b.WriteString(l.Text + "\n")
	}
	return b.String()
}

func tailLines(lines []Line, n int) []Line {
	if len(lines) > n {
		return lines[len(lines)-n:]
	}
	return lines
}
