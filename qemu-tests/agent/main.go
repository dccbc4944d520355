// Command agent is the /init of the lab's guest: the system whose memory
// ramwipe must erase. It runs only as PID 1 inside a QEMU guest — or, as
// "agent plant NONCE PERCENT PROCS", on the full-system lab's Debian guest,
// where it plants the same canaries (file canaries in /dev/shm), prints
// the same LAB READY and LAB IOMEM lines and keeps them until shutdown.
//
// It arms like ramwiped does (kexec_file_load of /lab/vmlinuz with
// /lab/wipe.cpio and the command line in /lab/wipe.cmdline), plants canary
// pages (see package canary) in anonymous memory of several processes, a
// tmpfs file, a pipe and a unix socket, prints
//
//	LAB READY anon=N file=N pipe=N sock=N disk=N
//	LAB IOMEM <start>-<end> <name>          (top-level /proc/iomem ranges)
//
// then waits for a line on the console: "kexec" reboots into the wipe image.
//
// Kernel command line: lab.nonce=N (the canary run nonce), lab.plant=P
// (percent of MemTotal planted as anonymous canaries), lab.procs=N,
// lab.crypt=1 (open the LUKS2 volume in /lab/crypt with cryptsetup and write
// canaries through it: see crypt.go), lab.daemon=1 (arm with ramwiped, see
// daemon.go), lab.usb=1 (mount the lab's USB sticks: see usb.go).
//
// Console commands besides "kexec": "panic", "panic-as UID GID [GROUP...]",
// "rehearse", the fault commands of fault.go, "suspend" (to RAM; "LAB RESUMED" after the wake-up), "sleep"
// (the suspend as systemd-sleep does it, with ramwipe's sleep hook before
// and after: "LAB SLEEP PRE …", "LAB RESUMED …", "LAB SLEEP POST …"), "gone NAME" (has block device NAME gone? "LAB GONE NAME
// yes|no"), "idle N" (context switches of ramwiped's threads over N s:
// "LAB IDLE …"), "poweroff".
package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ramwipe/ramwipe/qemu-tests/canary"
	"github.com/ramwipe/ramwipe/wipe/kexec"
)

func main() {
	if os.Getenv("LAB_PLANT") != "" {
		plantChild() // never returns
	}
	if spec := os.Getenv("LAB_FAULT"); spec != "" {
		faultChild(spec) // never returns
	}
	if len(os.Args) == 5 && os.Args[1] == "plant" {
		plantMode(os.Args[2:]) // never returns
	}
	if os.Getpid() != 1 {
		fmt.Fprintln(os.Stderr, "agent: the lab guest's /init runs only as PID 1 inside a QEMU guest (or: agent plant NONCE PERCENT PROCS)")
		os.Exit(2)
	}
	err := run()
	fmt.Printf("LAB ERROR %v\n", err)
	poweroff()
}

func poweroff() {
	_ = unix.Reboot(unix.LINUX_REBOOT_CMD_POWER_OFF)
	for {
		time.Sleep(time.Hour)
	}
}

type config struct {
	nonce  uint32
	plant  int // percent of MemTotal
	procs  int
	crypt  bool // open the LUKS2 volume in /lab/crypt
	daemon bool // arm with /sbin/ramwiped --armed instead of loading kexec here
	usb    bool // mount the lab's USB sticks (/boot and /media/stick)
	// usbLearn: before ramwiped starts, add the USB devices attached now
	// to /lab/ramwipe.conf's allow-list with ramwipe usb learn --write.
	usbLearn bool
	// fileDir is the tmpfs for the file canaries.
	fileDir string
}

func parseCmdline(s string) config {
	c := config{plant: 60, procs: 4, fileDir: "/tmp"}
	for _, f := range strings.Fields(s) {
		k, v, _ := strings.Cut(f, "=")
		n, _ := strconv.ParseUint(v, 0, 32)
		switch k {
		case "lab.nonce":
			c.nonce = uint32(n)
		case "lab.plant":
			c.plant = int(n)
		case "lab.procs":
			c.procs = max(int(n), 1)
		case "lab.crypt":
			c.crypt = n == 1
		case "lab.daemon":
			c.daemon = n == 1
		case "lab.usb":
			c.usb = n == 1
		case "lab.usblearn":
			c.usbLearn = n == 1
		}
	}
	return c
}

func run() error {
	for _, m := range []struct{ src, dst, fs string }{
		{"proc", "/proc", "proc"}, {"sysfs", "/sys", "sysfs"},
		{"devtmpfs", "/dev", "devtmpfs"}, {"tmpfs", "/tmp", "tmpfs"},
	} {
		_ = os.MkdirAll(m.dst, 0o755)
		if err := unix.Mount(m.src, m.dst, m.fs, 0, ""); err != nil {
			return fmt.Errorf("mount %s: %w", m.dst, err)
		}
	}
	cmdline, err := os.ReadFile("/proc/cmdline")
	if err != nil {
		return err
	}
	cfg := parseCmdline(string(cmdline))
	fmt.Printf("LAB AGENT up nonce=%#x\n", cfg.nonce)
	if err := loadModules(); err != nil {
		return err
	}
	if cfg.usb {
		if err := setupUSB(); err != nil {
			return err
		}
	}

	// Arm first, as ramwiped does at boot, before any secret exists.
	if !cfg.daemon {
		wipeCmdline, err := os.ReadFile("/lab/wipe.cmdline")
		if err != nil {
			return err
		}
		img := kexec.Image{Kernel: "/lab/vmlinuz", Initrd: "/lab/wipe.cpio", Cmdline: "console=ttyS0 " + strings.TrimSpace(string(wipeCmdline))}
		if err := kexec.Load(img); err != nil {
			return err
		}
		fmt.Printf("LAB ARMED %s\n", img.Cmdline)
	}

	counts, err := plant(cfg)
	if err != nil {
		return err
	}
	if cfg.crypt {
		n, err := setupCrypt(cfg.nonce)
		if err != nil {
			return err
		}
		counts[canary.Disk] = n
		if err := linkKeys(); err != nil {
			return err
		}
	}
	if cfg.daemon {
		if cfg.usbLearn {
			if err := usbLearn(); err != nil {
				return err
			}
		}
		// After the crypt volume is open, as on a real host where
		// ramwiped starts after cryptsetup.
		if err := startDaemon(); err != nil {
			return err
		}
	}
	ready(counts)
	fmt.Println("LAB WAITING")

	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		cmd, arg, _ := strings.Cut(strings.TrimSpace(in.Text()), " ")
		switch cmd {
		case "gone":
			fmt.Printf("LAB GONE %s %s\n", arg, map[bool]string{true: "yes", false: "no"}[blockGone(arg)])
			continue
		case "suspend":
			// Blocks until the host wakes the guest (QMP system_wakeup).
			err := os.WriteFile("/sys/power/state", []byte("mem"), 0)
			fmt.Printf("LAB RESUMED %v\n", err)
			continue
		case "sleep":
			// As systemd-sleep does: the sleep hook's pre request, the
			// suspend (blocks until the guest wakes), the post request.
			// Under on_suspend = wipe the pre request never returns.
			hook := func(phase string) {
				out, err := exec.Command("/sbin/ramwipe", "sleep-hook", phase, "suspend").CombinedOutput()
				fmt.Printf("LAB SLEEP %s %v: %s\n", strings.ToUpper(phase), err, strings.ReplaceAll(strings.TrimSpace(string(out)), "\n", " / "))
			}
			hook("pre")
			err := os.WriteFile("/sys/power/state", []byte("mem"), 0)
			fmt.Printf("LAB RESUMED %v\n", err)
			hook("post")
			continue
		case "idle":
			n, _ := strconv.Atoi(arg)
			fmt.Println(idle(daemonPID, time.Duration(max(n, 1))*time.Second))
			continue
		}
		if faultCommand(cmd, arg) {
			continue
		}
		switch strings.TrimSpace(in.Text()) {
		case "kexec":
			fmt.Println("LAB KEXEC")
			return kexec.Exec()
		case "panic":
			fmt.Println("LAB PANIC")
			out, err := exec.Command("/sbin/ramwipe", "panic").CombinedOutput()
			fmt.Printf("LAB PANIC RETURNED %v: %s\n", err, out)
		case "rehearse":
			// In the background: it waits for the chord.
			go func() {
				out, err := exec.Command("/sbin/ramwipe", "test", "hotkey").CombinedOutput()
				// One console line: ramwipe says first how long it waits.
				fmt.Printf("LAB REHEARSAL %v: %s\n", err, strings.ReplaceAll(strings.TrimSpace(string(out)), "\n", " / "))
			}()
		case "poweroff":
			poweroff()
		case "sdmem":
			runSdmem()
		default:
			if uid, gid, groups, ok := parsePanicAs(in.Text()); ok {
				cmd := exec.Command("/sbin/ramwipe", "panic")
				cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: gid, Groups: groups}}
				out, _ := cmd.CombinedOutput() // the exit code is the result
				fmt.Printf("LAB PANIC-AS uid=%d exit=%d: %s\n", uid, cmd.ProcessState.ExitCode(), strings.TrimSpace(string(out)))
			}
		}
	}
	return fmt.Errorf("console closed: %v", in.Err())
}

// ready prints what was planted and where RAM is, for the lab's scanner.
func ready(counts map[canary.Kind]uint64) {
	fmt.Printf("LAB READY anon=%d file=%d pipe=%d sock=%d disk=%d\n", counts[canary.Anon], counts[canary.File], counts[canary.Pipe], counts[canary.Sock], counts[canary.Disk])
	if iomem, err := os.ReadFile("/proc/iomem"); err == nil {
		for _, line := range strings.Split(string(iomem), "\n") {
			if line != "" && line[0] != ' ' {
				rng, name, _ := strings.Cut(line, " : ")
				fmt.Printf("LAB IOMEM %s %s\n", rng, name)
			}
		}
	}
}

// plantMode plants canaries on a running system (the full-system lab runs
// "agent plant NONCE PERCENT PROCS" as root from its shell), says LAB READY
// and keeps them, until the system goes down.
func plantMode(args []string) {
	var n [3]uint64
	for i, a := range args {
		v, err := strconv.ParseUint(a, 0, 32)
		if err != nil {
			fmt.Fprintf(os.Stderr, "agent plant: %q: %v\n", a, err)
			os.Exit(2)
		}
		n[i] = v
	}
	cfg := config{nonce: uint32(n[0]), plant: int(n[1]), procs: max(int(n[2]), 1), fileDir: "/dev/shm"}
	counts, err := plant(cfg)
	if err != nil {
		fmt.Printf("LAB ERROR %v\n", err)
		os.Exit(1)
	}
	ready(counts)
	for {
		time.Sleep(time.Hour)
	}
}

func memTotal() uint64 { return meminfo("MemTotal") }

// meminfo returns a /proc/meminfo field in bytes (0 if it is missing).
func meminfo(field string) uint64 {
	b, _ := os.ReadFile("/proc/meminfo")
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// parsePanicAs reads "panic-as UID GID [GROUP...]".
func parsePanicAs(line string) (uid, gid uint32, groups []uint32, ok bool) {
	f := strings.Fields(line)
	if len(f) < 3 || f[0] != "panic-as" {
		return 0, 0, nil, false
	}
	var n []uint32
	for _, x := range f[1:] {
		v, err := strconv.ParseUint(x, 10, 32)
		if err != nil {
			return 0, 0, nil, false
		}
		n = append(n, uint32(v))
	}
	return n[0], n[1], n[2:], true
}
