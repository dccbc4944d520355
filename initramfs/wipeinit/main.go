// Command wipeinit is the /init of the wipe image: it overwrites all memory
// it can reach, shows progress on the console and then powers off, reboots
// or halts as the kernel command line asks (see package initramfs).
//
// It refuses to run unless it is PID 1, so starting it by mistake on a
// running system does nothing. As PID 1 it never exits: whatever fails, it
// ends in the action (PID 1 exiting would panic the kernel).
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ramwipe/ramwipe/initramfs"
	"github.com/ramwipe/ramwipe/wipe/fill"
)

func main() {
	if os.Getenv(fill.WorkerEnv) != "" {
		fill.WorkerMain() // never returns
	}
	if os.Getpid() != 1 {
		fmt.Fprintln(os.Stderr, "wipeinit: not PID 1; this is the /init of the ramwipe wipe image and only runs there (it powers the machine off)")
		os.Exit(2)
	}
	w := &wiper{console: os.Stdout, kmsg: io.Discard, reboot: unix.Reboot, now: time.Now}
	w.run()
}

// labOnFull, set by the lab build's benchmark (labbench.go), marks in the
// kernel log when the fill learned that memory was full; nil otherwise.
var labOnFull func()

// wiper is the /init's state: where it writes and how it ends.
type wiper struct {
	console io.Writer
	kmsg    io.Writer
	reboot  func(cmd int) error
	now     func() time.Time
}

func (w *wiper) logf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	fmt.Fprintf(w.console, "\r\n%s\r\n", msg)
	fmt.Fprintf(w.kmsg, "<5>%s\n", msg)
}

func (w *wiper) run() {
	params := initramfs.DefaultParams()
	defer func() {
		if r := recover(); r != nil {
			w.logf("ramwipe: internal error: %v; going on to %s", r, params.Action)
		}
		w.finish(params.Action)
	}()

	mountErr := mountEssentials()
	if f, err := os.OpenFile("/dev/kmsg", os.O_WRONLY, 0); err == nil {
		w.kmsg = f
	}
	if mountErr != nil {
		w.logf("ramwipe: %v", mountErr)
	}
	cmdline, err := os.ReadFile("/proc/cmdline")
	if err != nil {
		w.logf("ramwipe: read /proc/cmdline: %v; using defaults", err)
	}
	params, err = initramfs.ParseCmdline(string(cmdline))
	if err != nil {
		w.logf("ramwipe: %v (ignored)", err)
	}

	// The hard stop: whatever hangs below, the action happens.
	time.AfterFunc(params.Deadline+15*time.Second, func() {
		w.logf("ramwipe: deadline %v passed; %s now", params.Deadline, params.Action)
		w.finish(params.Action)
	})

	if params.Skip {
		w.logf("ramwipe: ramwipe.skip set: not wiping; %s", params.Action)
		return
	}
	if img := kernelImage(); img != "" {
		fmt.Fprintf(w.kmsg, "<5>ramwipe: kernel image %s\n", img)
		if !params.Quiet {
			fmt.Fprintf(w.console, "ramwipe: kernel image %s\r\n", img)
		}
	}
	w.wipe(params)
}

func (w *wiper) wipe(p initramfs.Params) {
	tuneKernel()
	workers := p.Workers
	if workers == 0 {
		workers = runtime.NumCPU()
	}
	total := memAvailable()
	start := fill.StartExec(p.Pattern, true)
	start, skip := labHooks(p, start, workers, w.logf)
	if skip {
		w.logf("ramwipe: lab: no fill")
		return
	}
	fmt.Fprintf(w.console, "ramwipe: wiping memory: %d MiB free, %d workers\r\n", total>>20, workers)
	ctx, cancel := context.WithTimeout(context.Background(), p.Deadline)
	defer cancel()
	opts := fill.Options{
		Workers: workers,
		Start:   start,
		Total:   total,
		Logf:    w.logf,
		Now:     w.now,
		Every:   500 * time.Millisecond,
	}
	var held *heldMap
	if p.HeldMap {
		held = newHeldMap(maxPFN())
	}
	opts.OnFull = func() {
		if labOnFull != nil {
			labOnFull() // first: the held-map's snapshot takes a while
		}
		if held != nil {
			held.snapshot()
		}
	}
	if !p.Quiet {
		opts.Progress = func(pr fill.Progress) {
			fmt.Fprintf(w.console, "\r%s", pr.Line(30))
		}
	}
	res, err := fill.Run(ctx, opts)
	if err != nil {
		w.logf("ramwipe: fill: %v", err)
	}
	w.logf("%s", res.Summary(total))
	if held != nil {
		fmt.Fprintf(w.console, "%s\r\n", held)
	}
}

// finish carries out the action and never returns.
func (w *wiper) finish(a initramfs.Action) {
	cmd := map[initramfs.Action]int{
		initramfs.PowerOff: unix.LINUX_REBOOT_CMD_POWER_OFF,
		initramfs.Reboot:   unix.LINUX_REBOOT_CMD_RESTART,
		initramfs.Halt:     unix.LINUX_REBOOT_CMD_HALT,
	}[a]
	if cmd == 0 {
		cmd = unix.LINUX_REBOOT_CMD_POWER_OFF
	}
	fmt.Fprintf(w.kmsg, "<5>ramwipe: %s\n", a)
	drainConsole(w.console)
	err := w.reboot(cmd)
	w.logf("ramwipe: %s failed: %v; halting", a, err)
	_ = w.reboot(unix.LINUX_REBOOT_CMD_HALT)
	for { // PID 1 must not exit
		time.Sleep(time.Hour)
	}
}

func drainConsole(out io.Writer) {
	if f, ok := out.(*os.File); ok {
		_ = unix.IoctlSetInt(int(f.Fd()), unix.TCSBRK, 1) // tcdrain
	}
}

func mountEssentials() error {
	var errs []string
	for _, m := range []struct{ src, dst, fs string }{
		{"proc", "/proc", "proc"},
		{"sysfs", "/sys", "sysfs"},
		{"devtmpfs", "/dev", "devtmpfs"}, // CONFIG_DEVTMPFS_MOUNT is off in Debian
	} {
		_ = os.MkdirAll(m.dst, 0o755)
		if err := unix.Mount(m.src, m.dst, m.fs, unix.MS_NOSUID|unix.MS_NOEXEC, ""); err != nil && err != unix.EBUSY {
			errs = append(errs, fmt.Sprintf("mount %s: %v", m.dst, err))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
}

// tuneKernel lets user space take as much memory as the kernel can give:
// no overcommit refusals, a small free-page reserve, huge pages always.
// Each write is best effort.
func tuneKernel() {
	for path, val := range map[string]string{
		"/proc/sys/vm/overcommit_memory":                    "1",
		"/proc/sys/vm/min_free_kbytes":                      "1024",
		"/proc/sys/vm/watermark_scale_factor":               "1",
		"/proc/sys/vm/oom_kill_allocating_task":             "1",
		"/sys/kernel/mm/transparent_hugepage/enabled":       "always",
		"/sys/kernel/mm/transparent_hugepage/defrag":        "never",
		"/proc/sys/kernel/printk":                           "4",
		"/proc/sys/vm/oom_dump_tasks":                       "0",
		"/sys/kernel/mm/transparent_hugepage/use_zero_page": "0",
	} {
		_ = os.WriteFile(path, []byte(val), 0)
	}
	// Keep the progress bar readable: only KERN_CRIT and worse on the
	// console (the OOM killer reports each worker it ends at KERN_ERR).
	// syslog(SYSLOG_ACTION_CONSOLE_LEVEL, NULL, 2)
	_, _, _ = unix.Syscall(unix.SYS_SYSLOG, 8, 0, 2)
}

// memAvailable reads MemAvailable from /proc/meminfo, in bytes.
func memAvailable() uint64 {
	b, _ := os.ReadFile("/proc/meminfo")
	return parseMeminfo(string(b), "MemAvailable")
}

func parseMeminfo(s, key string) uint64 {
	for _, line := range strings.Split(s, "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok || k != key {
			continue
		}
		var kb uint64
		if _, err := fmt.Sscanf(strings.TrimSpace(v), "%d kB", &kb); err == nil {
			return kb << 10
		}
	}
	return 0
}

// kernelImage returns the physical range of the running kernel's image
// ("Kernel code" to "Kernel bss" in /proc/iomem), or "".
func kernelImage() string {
	b, _ := os.ReadFile("/proc/iomem")
	return parseKernelImage(string(b))
}

func parseKernelImage(iomem string) string {
	var start, end string
	for _, line := range strings.Split(iomem, "\n") {
		rng, name, ok := strings.Cut(strings.TrimSpace(line), " : ")
		if !ok {
			continue
		}
		lo, hi, _ := strings.Cut(rng, "-")
		switch name {
		case "Kernel code":
			start = lo
		case "Kernel bss":
			end = hi
		}
	}
	if start == "" || end == "" {
		return ""
	}
	return "0x" + start + "-0x" + end
}
